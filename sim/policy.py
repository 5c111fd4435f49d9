"""Policy levers turned into yearly region (x sector) effect arrays.

Each lever is region-targeted, active from its start to its end year inclusive, with an intensity
and optionally a budget spread evenly over its active years. What each lever does (DESIGN.md s.4):

- ``innovation_district`` (STI-led; e.g. the AMRC in Sheffield-Rotherham): raises the region's
  science-base target by ``intensity``; with ``training_centre`` also its skills target by
  ``intensity / 2``; with ``sme_networking`` SMEs' STI absorptive capacity by ``intensity / 2``.
- ``dui_programme``: skills target + ``intensity``; SME absorptive capacity + ``intensity / 2``.
- ``fdi_attraction``: regional aid, + ``intensity`` in the location-choice utility of foreign entrants.
- ``anchor_oem``: one large foreign plant (``intensity`` x the sector's mean capacity x 10) placed in
  the first target region and sector (default motor vehicles) in the start year; its supplier
  spillovers raise that region's skills target by ``intensity / 5`` while the lever is active (even if
  the plant itself closes: the spillover stands for the supplier programme around it). The budget is
  spent in the first region.
- ``foreign_investment_shock``: foreign entry into the target regions and foreign acquisitions of
  plants there x (1 - min(intensity, 1)); foreign exit hazard there x (1 + intensity).
- ``transport``: market access + ``intensity`` (standardised units); regional cost - ``intensity / 2``.
- ``rd_subsidy``: STI innovation hazard x (1 + intensity) in target regions (and sectors, if given).

The science and skills bases move towards their targets at the speeds ``science_adjust`` and
``skills_adjust``, so a lever builds up while active and fades after it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.datasets import SECTOR_CODES, region_index, sector_index
from sim.scenario import Intervention


@dataclass
class YearPolicy:
    """Effects active in one year (arrays over regions R, sectors S)."""

    science_target: np.ndarray
    skills_target: np.ndarray
    sme_absorption: np.ndarray
    incentive: np.ndarray
    access: np.ndarray
    cost: np.ndarray
    rd_mult: np.ndarray  # R x S
    foreign_entry_mult: np.ndarray
    foreign_exit_mult: np.ndarray
    anchors: list[tuple[int, int, float]] = field(default_factory=list)  # (region, sector, size)
    spending: list[tuple[int, int, float]] = field(default_factory=list)  # (intervention index, region, GBP m)


class PolicySchedule:
    """All interventions of a scenario, queried year by year."""

    def __init__(self, interventions: list[Intervention], n_regions: int, n_sectors: int = len(SECTOR_CODES)):
        self.interventions = list(interventions)
        self.R, self.S = n_regions, n_sectors
        self._ridx = region_index()
        self._sidx = sector_index()
        self._neutral: YearPolicy | None = None

    def __bool__(self) -> bool:
        return bool(self.interventions)

    def _empty(self) -> YearPolicy:
        R, S = self.R, self.S
        return YearPolicy(
            science_target=np.zeros(R), skills_target=np.zeros(R), sme_absorption=np.zeros(R),
            incentive=np.zeros(R), access=np.zeros(R), cost=np.zeros(R), rd_mult=np.ones((R, S)),
            foreign_entry_mult=np.ones(R), foreign_exit_mult=np.ones(R),
        )

    def year(self, year: int) -> YearPolicy:
        """The effects active in ``year``. Without interventions every year gets the same neutral
        effects (one shared object: callers must not modify its arrays)."""
        if not self.interventions:
            if self._neutral is None:
                self._neutral = self._empty()
            return self._neutral
        yp = self._empty()
        S = self.S
        for k, iv in enumerate(self.interventions):
            if not (iv.start_year <= year <= iv.end_year):
                continue
            r = np.array([self._ridx[c] for c in iv.regions])
            x = iv.intensity
            if iv.lever == "innovation_district":
                yp.science_target[r] += x
                if iv.training_centre:
                    yp.skills_target[r] += x / 2
                if iv.sme_networking:
                    yp.sme_absorption[r] += x / 2
            elif iv.lever == "dui_programme":
                yp.skills_target[r] += x
                yp.sme_absorption[r] += x / 2
            elif iv.lever == "fdi_attraction":
                yp.incentive[r] += x
            elif iv.lever == "anchor_oem":
                yp.skills_target[r[0]] += x / 5
                if year == iv.start_year:
                    s = self._sidx[iv.sectors[0]] if iv.sectors else self._sidx["motor_vehicles"]
                    yp.anchors.append((int(r[0]), s, 10.0 * x))
            elif iv.lever == "foreign_investment_shock":
                yp.foreign_entry_mult[r] *= max(0.0, 1.0 - x)
                yp.foreign_exit_mult[r] *= 1.0 + x
            elif iv.lever == "transport":
                yp.access[r] += x
                yp.cost[r] -= x / 2
            elif iv.lever == "rd_subsidy":
                cols = [self._sidx[s] for s in iv.sectors] if iv.sectors else list(range(S))
                yp.rd_mult[np.ix_(r, cols)] *= 1.0 + x
            if iv.budget_gbp_m > 0:
                years = iv.end_year - iv.start_year + 1
                spent_in = r[:1] if iv.lever == "anchor_oem" else r  # the anchor goes to the first region only
                per = iv.budget_gbp_m / years / len(spent_in)
                yp.spending.extend((k, int(ri), per) for ri in spent_in)
        return yp
