"""The model the explorer page steps: :class:`~sim.model.AMModel` with flat, slider-friendly arguments.

Mesa's ``SolaraViz`` rebuilds the model on *Reset* by calling its class with the sidebar's values as
keyword arguments, so :class:`TeachingModel` takes every control as a plain keyword (numbers and
the labels the selects show) and turns them into a validated :class:`~sim.scenario.Scenario`. It also
keeps, year by year, what the app draws: AM output by region and sector, the Theil index of each
sector, the TIR share of output, and plants by ownership.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim import datasets, metrics
from sim.model import AMModel

from sim.app import world as W


def theil_by_sector(output_rs: np.ndarray, year: int, reference: str) -> np.ndarray:
    """Theil index of each sector's output across the 40 regions in ``year`` (NaN for a sector with no
    output), with :func:`sim.metrics.theil` against ``reference`` (``"gva"``: relative to the regions'
    total GVA, as in the source study; ``"uniform"``: absolute, every region weighted alike)."""
    codes = np.asarray(datasets.region_codes(), dtype=object)
    R, S = output_rs.shape
    df = pd.DataFrame({"year": year, "industry": np.tile(np.asarray(datasets.SECTOR_CODES, dtype=object), R),
                       "region": np.repeat(codes, S), "value": output_rs.ravel()})
    t = metrics.theil(df, reference=reference, by=("year", "industry"))
    return t.set_index("industry")["value"].reindex(list(datasets.SECTOR_CODES)).to_numpy(float)


class TeachingModel(AMModel):
    """The calibrated model at classroom scale, built from the explorer's controls.

    Args (each one control of the explorer's sidebar):
        seed: random seed.
        n_plants_start: plants open in 1973.
        initial_state: ``"legacy"`` (the 1973 industrial legacy) or ``"uniform"`` (identical regions),
            or their labels in :data:`sim.app.world.STATES`.
        beta_agglomeration, spinoff_heritage, fdi_inflow: model parameters (``sim params``).
        sti_weight_shift: added to every sector's STI weight (clipped to [0, 1]); DUI weight = 1 - STI.
        policy_lever: ``"none"`` or a lever (key or label of :data:`sim.app.world.LEVERS`).
        policy_region: region code or label (``"UKE3 South Yorkshire"``).
        policy_start, policy_years, policy_intensity: when the lever starts, how many years it lasts,
            and its intensity (``docs/scenarios.md``).
        end_year: last simulated year.
    """

    def __init__(self, seed: int = 0, n_plants_start: int = W.APP_PLANTS, initial_state: str = "legacy",
                 beta_agglomeration: float | None = None, spinoff_heritage: float | None = None,
                 sti_weight_shift: float = 0.0, fdi_inflow: float | None = None, policy_lever: str = "none",
                 policy_region: str = "UKE3", policy_start: int = 1990, policy_years: int = 10,
                 policy_intensity: float = 1.0, end_year: int = 2016):
        base = W.world_params("calibrated")
        chosen = {"n_plants_start": int(n_plants_start), "initial_state": W.state_key(initial_state)}
        for name, value in (("beta_agglomeration", beta_agglomeration), ("spinoff_heritage", spinoff_heritage),
                            ("fdi_inflow", fdi_inflow)):
            if value is not None:
                chosen[name] = float(value)
        params = {**base, **chosen, **W.sti_weights(float(sti_weight_shift), base)}
        iv = W.intervention(policy_lever, policy_region, policy_start, policy_years, policy_intensity, end_year)
        sc = W.make_scenario(params, [iv], name="app", end_year=int(end_year),
                             description="teaching app explorer")
        self.seed = int(seed)
        self.theil_reference = "uniform" if chosen["initial_state"] == "uniform" else "gva"
        self.years_seen: list[int] = []
        self.output_history: list[np.ndarray] = []   # (region, sector) output, GBP m, per year
        self.theil_history: list[np.ndarray] = []    # (sector,) Theil index per year
        self.plants_gb: list[int] = []
        self.plants_foreign: list[int] = []
        super().__init__(scenario=sc, rng=self.seed)
        self.intervention = iv
        self._record()

    # ------------------------------------------------------------------ stepping and recording
    def step(self) -> None:
        """One year of the model, then record what the app draws."""
        before = self.year
        super().step()
        if self.year != before:
            self._record()

    def _record(self) -> None:
        out, _, _ = self._region_sector_totals()
        self.years_seen.append(int(self.year))
        self.output_history.append(out)
        self.theil_history.append(theil_by_sector(out, self.year, self.theil_reference))
        foreign = int(np.count_nonzero(self.plants.foreign))
        self.plants_foreign.append(foreign)
        self.plants_gb.append(len(self.plants) - foreign)

    # ------------------------------------------------------------------ views for the app
    @property
    def output_rs(self) -> np.ndarray:
        """This year's AM output by region x sector, GBP m (2000 prices)."""
        return self.output_history[-1]

    def region_output(self, sector: str | None = None) -> np.ndarray:
        """This year's output by region (GBP m), of one sector (code) or of all AM (None)."""
        out = self.output_rs
        return out.sum(axis=1) if sector is None else out[:, datasets.SECTOR_CODES.index(sector)]

    def tir_share_history(self) -> np.ndarray:
        """TIR share of GB AM output, per recorded year."""
        return np.array([o[self.tir].sum() / o.sum() if o.sum() > 0 else np.nan for o in self.output_history])

    def target_history(self) -> tuple[str, np.ndarray, tuple[int, int]] | None:
        """(policy region, its share of GB AM output per recorded year, policy years); None without policy."""
        if self.intervention is None:
            return None
        code = self.intervention.regions[0]
        r = self.region_codes.index(code)
        share = np.array([o[r].sum() / o.sum() if o.sum() > 0 else np.nan for o in self.output_history])
        return code, share, (self.intervention.start_year, self.intervention.end_year)

    def foreign_share_history(self) -> np.ndarray:
        """Foreign-owned share of GB AM output, per recorded year (the model's own series)."""
        mv = self.datacollector.get_model_vars_dataframe()
        return mv["foreign_output_share"].to_numpy(float)

    def summary(self) -> str:
        """One line of this year's state, in words."""
        out = self.output_rs
        total = out.sum()
        share = self.tir_share_history()[-1]
        return (f"Year {self.year}: {len(self.plants):,} plants ({self.plants_foreign[-1]:,} foreign-owned), "
                f"AM output GBP {total / 1000:,.1f} bn, TIR share {100 * share:.1f}%")

    def setup_text(self) -> str:
        """The run's set-up, in words."""
        p = self.p
        pol = self.intervention.label if self.intervention is not None else "no policy"
        return (f"Seed {self.seed}; {p.n_plants_start:,} plants in 1973; start: {W.STATES[p.initial_state]}; "
                f"agglomeration {p.beta_agglomeration:.2f}; spinoff heritage {p.spinoff_heritage:.2f}; "
                f"foreign inflow {p.fdi_inflow:.0f} entries/yr at 25,000 plants; policy: {pol}.")
