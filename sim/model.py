"""The simulator: a Mesa model whose step is one year of Britain's advanced-manufacturing geography.

Plants live in a columnar table (:mod:`sim.plants`); every mechanism is a vectorised function of
:mod:`sim.mechanisms` applied to all plants at once, in the order of DESIGN.md section 3:
demand -> innovation -> exit -> acquisition -> relocation -> entry -> regions -> observe.

    >>> from sim.model import AMModel
    >>> m = AMModel(rng=1, n_plants_start=2000)
    >>> m.run_model()               # 1973 .. 2016
    >>> m.datacollector.get_model_vars_dataframe().tail(1)   # doctest: +SKIP
"""

from __future__ import annotations

import functools
from typing import Any

import mesa
import numpy as np

from sim import datasets as ds
from sim.initial import initial_plants
from sim.mechanisms import acquisition, demand, entry, exit as exit_m, innovation, location, regions, relocation
from sim.params import Params, make_params
from sim.plants import PlantTable
from sim.policy import PolicySchedule
from sim.scenario import Scenario

SME_THRESHOLD = 250.0  # employees
_MOTOR = ds.SECTOR_CODES.index("motor_vehicles")  # the sector of localisation growth (ODD 7.1)
EVENT_KINDS = ("open", "close", "acquire")
EVENT_CAUSES = ("startup", "spinoff", "foreign_entry", "relocation", "anchor_oem", "exit", "acquisition")
_KIND = {k: i for i, k in enumerate(EVENT_KINDS)}
_CAUSE = {k: i for i, k in enumerate(EVENT_CAUSES)}


@functools.lru_cache(maxsize=8)
def _population_table(region_codes: tuple[str, ...], start_year: int, end_year: int, uniform: bool) -> np.ndarray:
    """See :meth:`AMModel._population_table` (static data: computed once per period and start state)."""
    pop = ds.load_population()
    tab = pop[pop["reliable"]].pivot(index="year", columns="code", values="population")
    tab = tab.reindex(columns=list(region_codes)).bfill().ffill()
    yrs = np.clip(np.arange(start_year, end_year + 1), tab.index.min(), tab.index.max())
    out = tab.loc[yrs].to_numpy(dtype=float, copy=True)
    if uniform:
        out[:] = out.mean(axis=1, keepdims=True)
    out.flags.writeable = False
    return out


class AMModel(mesa.Model):
    """Agent-based model of advanced-manufacturing plants across Great Britain's 40 NUTS-2 regions.

    Args:
        params: a :class:`~sim.params.Params` (defaults if omitted).
        scenario: a :class:`~sim.scenario.Scenario` (the 1973-2016 history if omitted); its parameter
            overrides apply on top of ``params``.
        rng: seed or numpy Generator (Mesa convention); the only source of randomness.
        track_plants: keep every plant's yearly state for the per-plant view (costs memory).
        **overrides: any parameter by name (so ``mesa.batch_run`` can vary them).
    """

    def __init__(self, params: Params | None = None, scenario: Scenario | None = None, *, rng=None,
                 track_plants: bool = False, **overrides: Any):
        super().__init__(rng=rng)
        self.spec = scenario or Scenario()
        base = self.spec.make_params(params)
        self.p = make_params(overrides, base=base) if overrides else base
        p = self.p
        self.start_year, self.end_year = self.spec.start_year, self.spec.end_year
        self.report_from = self.spec.report_from
        self.year = self.start_year

        # ---- regions (static facts)
        reg = ds.load_regions()
        self.region_codes = tuple(reg["code"])
        self.R, self.S = len(reg), len(ds.SECTOR_CODES)
        uniform = p.initial_state == "uniform"
        self.area = reg["area_km2"].to_numpy(float)
        if uniform:  # identical regions: same area, same distance to every other region
            self.area = np.full(self.R, self.area.mean())
        # the TIR set of the TIR output share (the scenario's, else the region table's flag; the 1973 state
        # in sim.initial keeps the historical flag)
        self.tir = (reg["code"].isin(self.spec.tir_regions) if self.spec.tir_regions else reg["tir"]).to_numpy(bool)
        self.sti_w = p.sti_weights()
        self._log_gain = innovation.log_gain_table(p.sti_gain, p.dui_gain, p.combination_gain)
        sec = ds.load_sectors()
        self.output_per_worker = sec["output_per_worker_1973_k"].to_numpy(float)  # GBP k per worker
        self.scale_intensive = sec["scale_intensive"].to_numpy(bool)
        self.years = np.arange(self.start_year, self.end_year + 1)
        self.population = self._population_table(uniform=p.initial_state == "uniform")
        gerd = reg["gerd_pc_gdp"].to_numpy(float)
        self.gerd_rel = gerd / gerd.mean() if p.initial_state == "legacy" else np.ones(self.R)
        self.dist = ds.distance_km()
        if uniform:
            self.dist = np.where(np.eye(self.R, dtype=bool), 0.0, self.dist[self.dist > 0].mean())

        # ---- demand paths
        base_output = p.output_start_bn * 1000.0 * sec["output_share_1973"].to_numpy(float)
        self.demand = demand.demand_table(ds.load_demand_paths(), ds.load_recessions(), self.years,
                                          base_output, p.recession_severity)
        self.recession_depth = self._recession_depth()
        self.policy = PolicySchedule(self.spec.interventions, self.R, self.S)
        assisted = set(ds.load_assisted_areas()["region"])
        self.assisted = np.array([c in assisted for c in self.region_codes]) & (p.initial_state == "legacy")

        # ---- plants open in the start year
        self.plants = PlantTable()
        init = initial_plants(p, self.demand[0], self.rng, self.R)
        n0 = init["region"].size
        self.plants.add(n0, entry_year=self.start_year, open_at_start=self.report_from == self.start_year,
                        **init)
        self._allocate()
        n_start = np.maximum(np.bincount(self.plants.sector, minlength=self.S), 1)
        self.n_start = n_start
        self.min_output = p.min_output_share * self.demand[0] / n_start  # GBP m, per sector

        # ---- regions (dynamic capabilities), consistent with the initial plants
        pop = self.population[0]
        out_rs, emp_rs, cnt_rs = self._region_sector_totals()
        self.science = regions.science_target(self.gerd_rel, out_rs, self.sti_w, pop, p.science_legacy)
        self.skills = regions.skills_target(emp_rs, self.sti_w, pop)
        # market access depends only on each year's population: computed once for every simulated year
        self._access_by_year = np.stack([
            location.standardise(regions.market_access(self.population[i], self.dist, self.area,
                                                       p.access_distance_km)) for i in range(len(self.years))])
        self.access_z = self._access_by_year[0]
        self.cost = regions.regional_cost(pop / self.area, emp_rs.sum(axis=1), self.area, p.congestion, p.crowding)
        self.spending: list[tuple[int, int, int, float]] = []  # (year, intervention, region, GBP m)

        # ---- observation buffers
        self._cells: list[np.ndarray] = []
        self._cell_years: list[int] = []
        self._events: list[tuple[np.ndarray, ...]] = []
        self.track_plants = track_plants
        self._history: list[dict[str, np.ndarray]] = []
        self._now = None  # this year's observation cells (3 x R x S x ownership x size), set by _observe
        self.datacollector = mesa.DataCollector(model_reporters={
            "year": "year",
            "plants": lambda m: len(m.plants),
            "output": lambda m: float(m._now[0].sum()),
            "employment": lambda m: float(m._now[1].sum()),
            "foreign_output_share": lambda m: m._cell_share(m._now[0][:, :, 1, :]),
            "tir_output_share": lambda m: m._cell_share(m._now[0][m.tir]),
            "sme_plant_share": lambda m: m._cell_share(m._now[2][:, :, :, 0], what=2),
        })
        if self.report_from == self.start_year:
            self.plants.set("output_start", self.plants.output)
        self._observe()
        self.running = self.year < self.end_year

    # ------------------------------------------------------------------ helpers
    def _population_table(self, uniform: bool) -> np.ndarray:
        """Population by simulated year (rows) and region: before the first reliable year a region uses
        its earliest reliable figure (1981; 1998 for UKM6/8/9), after 2016 the 2016 figure (read-only)."""
        return _population_table(self.region_codes, self.start_year, self.end_year, uniform)

    def _recession_depth(self) -> np.ndarray:
        rec = ds.load_recessions()
        rec = rec[rec["sector"] == "all"]
        d = np.zeros(len(self.years))
        for row in rec.itertuples():
            d[self.years == row.year] += row.depth
        return d * self.p.recession_severity

    @property
    def t(self) -> int:
        return self.year - self.start_year

    def _cell_share(self, part: np.ndarray, what: int = 0) -> float:
        """Share of this year's output (``what=0``) or plant count (``what=2``) in ``part`` of the cells."""
        tot = self._now[what].sum()
        return float(part.sum() / tot) if tot > 0 else 0.0

    def _allocate(self) -> np.ndarray:
        """Output and employment of every live plant from demand, weights and productivity; returns
        the sector totals of the weights."""
        pl = self.plants
        d = self.demand[self.t] if self.p.demand_on else self.demand[0]
        wsum = np.bincount(pl.sector, weights=pl.weight, minlength=self.S)
        out = demand.allocate_output(pl.weight, pl.sector, d, wsum)
        pl.set("output", out)
        pl.set("employment", out * (1000.0 / self.output_per_worker)[pl.sector] / pl.prod)
        return wsum

    def _fine_cells(self) -> np.ndarray:
        """Output, employment and plant count (3 x cells) by region x sector x ownership x size class:
        the observation grid, from which the region x sector totals are summed."""
        pl = self.plants
        large = pl.employment >= SME_THRESHOLD
        k = ((pl.region * self.S + pl.sector) * 2 + pl.foreign) * 2 + large
        m = self.R * self.S * 4
        return np.stack([np.bincount(k, weights=pl.output, minlength=m),
                         np.bincount(k, weights=pl.employment, minlength=m),
                         np.bincount(k, minlength=m).astype(float)])

    def _region_sector_totals(self, cells: np.ndarray | None = None):
        """Output, employment and plant count, each R x S (from ``cells`` of :meth:`_fine_cells` if given)."""
        c = (self._fine_cells() if cells is None else cells).reshape(3, self.R, self.S, 4).sum(axis=3)
        return c[0], c[1], c[2].astype(np.int64)

    def _log(self, kind: str, cause: str, ids, region, sector, foreign, linked) -> None:
        n = len(ids)
        if n == 0:
            return
        self._events.append((np.full(n, self.year), np.asarray(ids), np.full(n, _KIND[kind]),
                             np.full(n, _CAUSE[cause]), np.asarray(region), np.asarray(sector),
                             np.asarray(foreign, bool), np.asarray(linked)))

    def _utility(self, yp, counts: np.ndarray, foreign_entrant: bool) -> np.ndarray:
        """Location utility (R x S); incentives only for foreign entrants."""
        p = self.p
        incentive = yp.incentive + p.assisted_area_aid * self.assisted if foreign_entrant else np.zeros(self.R)
        u = location.utility(
            self.sti_w, self.science, self.skills, counts, self.access_z + yp.access,
            self.cost, incentive,
            self.population[self.t],
            b_science=p.beta_science, b_skills=p.beta_skills, b_agglomeration=p.beta_agglomeration,
            b_access=p.beta_access, b_cost=p.beta_cost, b_policy=p.beta_policy)
        return u

    # ------------------------------------------------------------------ the yearly step
    def step(self) -> None:
        """Advance one year: demand, innovation, exit, acquisition, relocation, entry, regions, observe."""
        if self.year >= self.end_year:
            self.running = False
            return
        self.year += 1
        p = self.p
        yp = self.policy.year(self.year)
        for k, r, amount in yp.spending:
            self.spending.append((self.year, k, r, amount))
        t = self.t
        growth = self.demand[t] / self.demand[t - 1] - 1.0 if p.demand_on else np.zeros(self.S)

        # log productivity is carried through the step (saves a logarithm in every mechanism)
        lp = np.log(self.plants.prod)
        wsum = self._compete(lp)                        # 1. demand
        sme = self.plants.employment < SME_THRESHOLD
        if p.innovation_on and len(self.plants):
            lp = self._innovate(yp, lp, sme, wsum)      # 2. innovation
        log_rel = demand.log_relative_productivity(lp, self.plants.weight, self.plants.sector, self.S, wsum)
        if p.exit_on and len(self.plants):
            lp, log_rel = self._exit(yp, lp, log_rel, sme)   # 3. exit
        inflow = float(entry.fdi_level(self.year, p.fdi_early_level))
        if p.acquisition_on and len(self.plants):
            lp = self._acquire(yp, lp, log_rel, inflow)  # 4. acquisition
        self.plants.set("prod", np.exp(lp))

        pl = self.plants
        counts = np.bincount(pl.region * self.S + pl.sector, minlength=self.R * self.S).reshape(self.R, self.S)
        u_dom = self._utility(yp, counts, foreign_entrant=False)
        prob_dom = location.choice_probabilities(u_dom, self.population[self.t])
        if p.relocation_on and len(pl):
            self._relocation(u_dom, prob_dom)           # 5. relocation
        if p.entry_on:
            self._entry(yp, growth, inflow, counts, prob_dom, lp)   # 6. entry
        for r, s, size in yp.anchors:
            self._add_anchor(r, s, size)

        self._allocate()
        cells = self._fine_cells()
        if p.regions_on:
            self._update_regions(yp, cells)             # 7. regions

        if self.year == self.report_from:               # 8. observe
            self.plants.set("output_start", self.plants.output)
            self.plants.set("open_at_start", np.ones(len(self.plants), bool))
        self._observe(cells)
        self.running = self.year < self.end_year

    # ------------------------------------------------------------------ mechanism wrappers
    def _compete(self, lp: np.ndarray) -> np.ndarray:
        """Replicator competition on productivity, growth shocks and mean reversion of plant size,
        localisation growth of motor-vehicle plants (from ``motor_cluster_start``), then the sector's
        demand shared by weight; returns the sector totals of the new weights."""
        pl, p = self.plants, self.p
        if p.demand_on:
            w = demand.replicator(pl.weight, None, pl.sector, self.S, p.replicator_strength, lp=lp)
            u = self.rng.random(len(pl)) if p.size_shock_sd else None
            above = demand.consolidating_reversion(p.size_reversion, self.scale_intensive, self.year,
                                                   p.scale_consolidation, p.consolidation_start, pl.sector,
                                                   pl.birth_year, p.consolidation_vintage)
            w = demand.size_dynamics(w, pl.sector, self.S, p.size_reversion, p.size_shock_sd, u,
                                     age=self.year - pl.birth_year, age_effect=p.age_growth,
                                     site_cost=self.cost[pl.region] if p.site_constraint else None,
                                     site_constraint=p.site_constraint, reversion_above=above)
            if self.year >= p.motor_cluster_start:
                w = demand.localisation_growth(w, pl.region, pl.sector, self.R, _MOTOR, p.motor_cluster_growth)
            pl.set("weight", w)
        return self._allocate()

    def _innovate(self, yp, lp: np.ndarray, sme: np.ndarray, wsum: np.ndarray) -> np.ndarray:
        """STI and DUI successes raise log productivity; then technology transfer to foreign plants,
        diffusion to laggards and the capability update. Intensities are computed per cell (foreign x
        SME x region x sector) and gathered per plant."""
        p, pl, R, S = self.p, self.plants, self.R, self.S
        sti = innovation.sti_intensity_by_plant(
            self.sti_w, self.science, pl.foreign, sme, pl.region, pl.sector, p.sti_rate,
            p.sme_sti_absorption + yp.sme_absorption, p.foreign_network_share, yp.rd_mult)
        dens = innovation.local_density(pl.region, pl.sector, R, S, p.related_sector_weight)
        dui_cells = innovation.dui_intensity(self.sti_w[None, :], self.skills[:, None], dens, p.dui_rate,
                                             p.interaction_effect).ravel()
        u = self.rng.random((2, len(pl)))
        ok_sti = innovation.draw_successes(sti, pl.sti_cap, u[0])
        ok_dui = innovation.draw_successes(dui_cells[pl.region * S + pl.sector], pl.dui_cap, u[1])
        lp = lp + self._log_gain[ok_sti.view(np.int8) + 2 * ok_dui.view(np.int8)]
        lp = innovation.foreign_technology_transfer(lp, pl.foreign, p.foreign_productivity_growth)
        rate = p.diffusion * (p.diffusion_late if self.year >= p.diffusion_slowdown_year else 1.0)
        lp = innovation.diffusion_log(lp, pl.weight, pl.sector, S, rate, wsum, pl.foreign,
                                      p.diffusion_foreign_reference)
        pl.set("sti_cap", innovation.update_capability(pl.sti_cap, ok_sti, p.capability_learning))
        pl.set("dui_cap", innovation.update_capability(pl.dui_cap, ok_dui, p.capability_learning))
        return lp

    def _exit(self, yp, lp: np.ndarray, log_rel: np.ndarray, sme: np.ndarray):
        """Closures by the exit hazard or below the viable scale; returns the survivors' ``lp`` and
        ``log_rel``."""
        p, pl = self.p, self.plants
        h = exit_m.exit_hazard(
            log_rel, self.year - pl.birth_year, ~sme, pl.foreign, pl.region, self.cost, pl.sector, self.S,
            rate=p.exit_rate, productivity=p.exit_productivity, age_elasticity=p.exit_age,
            foreign_exit_mult=yp.foreign_exit_mult, large_factor=p.exit_large_factor, cost_effect=p.exit_cost,
            foreign_factor=p.foreign_exit_factor, retrenchment=p.retrenchment,
            recession_depth=float(self.recession_depth[self.t]))
        gone = exit_m.draw_exits(h, pl.output, self.min_output[pl.sector], self.rng.random(len(pl)))
        if gone.any():
            self._log("close", "exit", pl.id[gone], pl.region[gone], pl.sector[gone], pl.foreign[gone],
                      np.full(int(gone.sum()), -1))
            removal = pl.remove(gone, self.year)
            lp, log_rel = removal.apply(lp), removal.apply(log_rel)
        return lp, log_rel

    def _acquire(self, yp, lp: np.ndarray, log_rel: np.ndarray, inflow: float) -> np.ndarray:
        """Foreign groups buy productive GB plants; acquired plants gain productivity."""
        p, pl = self.p, self.plants
        pa = acquisition.acquisition_probability(log_rel, pl.foreign, rate=p.acquisition_rate,
                                                 productivity=p.acquisition_productivity,
                                                 inflow_level=(inflow * yp.foreign_entry_mult)[pl.region])
        if p.acquisition_location:
            # site quality: the domestic utility (no incentives) with zero counts (no agglomeration term)
            quality = self._utility(yp, np.zeros((self.R, self.S)), foreign_entrant=False)
            pa = np.minimum(pa * acquisition.location_tilt(quality, pl.region, pl.sector, ~pl.foreign,
                                                           p.acquisition_location, self.S), 0.5)
        bought = self.rng.random(len(pl)) < pa
        if bought.any():
            n = int(bought.sum())
            self._log("acquire", "acquisition", pl.id[bought], pl.region[bought], pl.sector[bought],
                      np.ones(n, bool), np.full(n, -1))
            pl.set("foreign", pl.foreign | bought)
            lp = acquisition.acquisition_gain(lp, bought, p.acquisition_boost)
        return lp

    def _relocation(self, u_dom: np.ndarray, prob_dom: np.ndarray) -> None:
        """A random share of plants (each with probability ``relocation_rate``: a binomial number of
        plants drawn without replacement) considers a candidate region from the location logit and
        moves when the gain beats the moving cost: a closure at the origin and a linked opening."""
        p, pl, rng = self.p, self.plants, self.rng
        n = len(pl)
        idx = np.sort(rng.choice(n, size=rng.binomial(n, p.relocation_rate), replace=False))
        if idx.size == 0:
            return
        sec, reg = pl.sector[idx], pl.region[idx]
        cand = location.sample_regions(prob_dom, sec, rng.random(idx.size))
        moves = relocation.choose_moves(reg, sec, u_dom, cand, np.ones(idx.size, bool), p.moving_cost)
        if moves.any():
            self._relocate(idx[moves], cand[moves])

    def _relocate(self, rows: np.ndarray, dest: np.ndarray) -> None:
        pl = self.plants
        origin = pl.region[rows].copy()
        old_ids, new_ids = pl.relocate(rows, dest, self.year)
        sector, foreign = pl.sector[rows], pl.foreign[rows]
        # closure at the origin linked to the opening at the destination, and back
        self._log("close", "relocation", old_ids, origin, sector, foreign, new_ids)
        self._log("open", "relocation", new_ids, dest, sector, foreign, old_ids)

    def _sector_means(self, lp: np.ndarray | None = None):
        pl = self.plants
        n = np.bincount(pl.sector, minlength=self.S)
        wsum = np.bincount(pl.sector, weights=pl.weight, minlength=self.S)
        mean_w = np.where(n > 0, wsum / np.maximum(n, 1), 1.0)
        # entrants are benchmarked on the typical (unweighted) plant of the sector
        lp = np.bincount(pl.sector, weights=np.log(pl.prod) if lp is None else lp, minlength=self.S)
        mean_lp = np.where(n > 0, lp / np.maximum(n, 1), 0.0)
        return n, mean_w, mean_lp, wsum

    def _entry(self, yp, growth: np.ndarray, inflow: float, counts: np.ndarray, prob_dom: np.ndarray,
               lp: np.ndarray) -> None:
        """Spinoffs, start-ups and foreign entries; ``lp`` is the live plants' log productivity."""
        p, pl, rng = self.p, self.plants, self.rng
        n_s, mean_w, mean_lp, wsum = self._sector_means(lp)
        gf = entry.demand_growth_factor(growth, p.entry_demand_elasticity)
        sig = p.productivity_sigma

        # (a1) spinoffs: parents chosen by productivity, born mostly in the parent's region
        rel = np.exp(demand.log_relative_productivity(lp, pl.weight, pl.sector, self.S, wsum))
        parents = entry.spinoff_parents(p.spinoff_rate, rel, gf[pl.sector], rng)
        if parents.size:
            s = pl.sector[parents]
            local = rng.random(parents.size) < p.spinoff_local
            reg = np.where(local, pl.region[parents],
                           location.sample_regions(prob_dom, s, rng.random(parents.size)))
            z = rng.standard_normal((2, parents.size))
            lp_new = mean_lp[s] + entry.inherit(lp[parents] - mean_lp[s], p.entrant_productivity,
                                                p.spinoff_heritage) + 0.5 * sig * z[0]
            ids = pl.add(parents.size, sector=s, region=reg, foreign=False,
                         weight=p.entrant_size * mean_w[s] * np.exp(0.5 * z[1]),
                         prod=np.exp(lp_new), birth_year=self.year, entry_year=self.year,
                         sti_cap=entry.inherit(pl.sti_cap[parents], 0.1, p.spinoff_heritage),
                         dui_cap=entry.inherit(pl.dui_cap[parents], 0.1, p.spinoff_heritage),
                         parent=pl.id[parents])
            self._log("open", "spinoff", ids, reg, s, np.zeros(ids.size, bool), pl.id[parents])

        # (a2) domestic start-ups located by the logit
        d = self.demand[self.t] if p.demand_on else self.demand[0]
        c = entry.startup_counts(p.startup_rate, self.n_start * d / self.demand[0], gf, prob_dom, rng)
        reg, s = entry.cells_to_rows(c)
        if reg.size:
            z = rng.standard_normal((2, reg.size))
            ids = pl.add(reg.size, sector=s, region=reg, foreign=False,
                         weight=p.entrant_size * mean_w[s] * np.exp(0.5 * z[0]),
                         prod=np.exp(mean_lp[s] + p.entrant_productivity + sig * z[1]),
                         birth_year=self.year, entry_year=self.year, sti_cap=0.1, dui_cap=0.1)
            self._log("open", "startup", ids, reg, s, np.zeros(ids.size, bool), np.full(ids.size, -1))

        # (b) foreign entries: national inflow path, conditional-logit location with incentives
        u_for = self._utility(yp, counts, foreign_entrant=True)
        scale = p.n_plants_start / 25_000.0
        c = entry.foreign_counts(p.fdi_inflow * scale * inflow, d,
                                 location.choice_probabilities(u_for, self.population[self.t]),
                                 yp.foreign_entry_mult, rng)
        reg, s = entry.cells_to_rows(c)
        if reg.size:
            z = rng.standard_normal((2, reg.size))
            ids = pl.add(reg.size, sector=s, region=reg, foreign=True,
                         weight=p.fdi_entrant_size * mean_w[s] * np.exp(0.8 * z[0]),
                         prod=np.exp(mean_lp[s] + p.fdi_productivity + sig * z[1]),
                         birth_year=self.year, entry_year=self.year, sti_cap=0.5, dui_cap=0.3)
            self._log("open", "foreign_entry", ids, reg, s, np.ones(ids.size, bool), np.full(ids.size, -1))

    def _add_anchor(self, r: int, s: int, size: float) -> None:
        """Policy: one large foreign plant (an anchor OEM) placed in region r, sector s."""
        n_s, mean_w, mean_lp, _ = self._sector_means()
        ids = self.plants.add(1, sector=s, region=r, foreign=True, weight=size * mean_w[s],
                              prod=np.exp(mean_lp[s] + 0.3), birth_year=self.year, entry_year=self.year,
                              sti_cap=0.6, dui_cap=0.6)
        self._log("open", "anchor_oem", ids, [r], [s], [True], [-1])

    def _update_regions(self, yp, cells: np.ndarray) -> None:
        p = self.p
        pop = self.population[self.t]
        out_rs, emp_rs, _ = self._region_sector_totals(cells)
        sci_t = regions.science_target(self.gerd_rel, out_rs, self.sti_w, pop, p.science_legacy)
        self.science = regions.follow(self.science, sci_t + yp.science_target, p.science_adjust)
        skl_t = regions.skills_target(emp_rs, self.sti_w, pop)
        self.skills = regions.follow(self.skills, skl_t + yp.skills_target, p.skills_adjust)
        self.cost = regions.regional_cost(pop / self.area, emp_rs.sum(axis=1), self.area, p.congestion,
                                          p.crowding) + yp.cost
        self.access_z = self._access_by_year[self.t]

    def _observe(self, cells: np.ndarray | None = None) -> None:
        pl = self.plants
        if self.year >= self.report_from:
            cells = self._fine_cells() if cells is None else cells
            self._cells.append(cells)
            self._now = cells.reshape(3, self.R, self.S, 2, 2)
            self._cell_years.append(self.year)
            if self.track_plants:
                self._history.append({"year": np.full(len(pl), self.year), "plant_id": pl.id.copy(),
                                      "region": pl.region.copy(), "foreign": pl.foreign.copy(),
                                      "output": pl.output.copy(), "employment": pl.employment.copy(),
                                      "productivity": pl.prod.copy(), "sti_cap": pl.sti_cap.copy(),
                                      "dui_cap": pl.dui_cap.copy()})
            self.datacollector.collect(self)

    def run_model(self) -> None:
        """Run to the scenario's end year."""
        while self.running:
            self.step()
