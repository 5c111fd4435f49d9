"""The calibration issue's definition of done, as numbers, and the order in which candidates are ranked.

The distance (:func:`calibration.targets.distance`) weighs every target by its tolerance, so a point can
have the smaller distance yet miss a T1 cell that another point meets. The issue ranks the targets: the
output-change decomposition (T1) is the central one, then five criteria (T1 cells, T2 Theil groups, T2
decline-then-rise, T3 LQ directions, T5 correlations). The point estimate is chosen among re-run
candidates by :meth:`DoneCriteria.rank_key`: (after any candidate whose runs failed) T1 cells met first, then criteria met, then
T1 cells met with a margin (:data:`T1_FIRM_MARGIN`), then criterion units met, then targets passed, and only then the distance.

Why the margin: a candidate is judged on a few dozen seeds, and the median of a T1 cell over them is itself
uncertain. At the 2026-12-03 point the foreign openings-and-closures cell of the TIRs had a per-seed s.d.
of about 3.5 pp, so its median over 32 seeds moves by about 0.8 pp from one seed set to another (28.6 on
seeds 200-231, 30.0 on seeds 1000-1049, 28.8 on seeds 600-791, against an edge of 29.6). A cell that sits
within a fraction of a point of its edge is met on one set of seeds and missed on the next; of two
candidates equal on the criteria, the one whose T1 cells all hold with a margin is the better bet on
fresh seeds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from calibration.summary import GROUP_KEY, LQ_RULES

T1_CELLS = 8  # the decomposition's cells (ownership x TIR x plant type), the total aside
T1_FIRM_MARGIN = 1.0  # pp inside the tolerance for a T1 cell to count as met firmly (about 1.5 s.e. of a 50-seed median)
T2_GROUPS_NEEDED = 5  # of the 6 ONS groups, Theil within tolerance in 1998 and 2016
U_SHAPE_NEEDED = 5  # "most" of the 8 industries decline then rise
LQ_NEEDED = 6  # industries with the right LQ direction (7 have a fact in the source)
T5_MIN_CORR = 0.8  # regional correlation in 1998 and 2016, every ONS group


@dataclass(frozen=True)
class DoneCriteria:
    """How far one set of median statistics goes towards the issue's definition of done."""

    t1_cells: int
    t2_groups: int
    u_shape: float
    lq_directions: int
    t5_groups: int
    passes: int
    distance: float
    t1_firm: int = 0  # T1 cells met with the right sign and at least T1_FIRM_MARGIN inside the tolerance

    def met_each(self) -> dict[str, bool]:
        """Each of the 5 criteria: met or not (keys ``t1``, ``t2``, ``u_shape``, ``lq``, ``t5``)."""
        return {"t1": self.t1_cells >= T1_CELLS, "t2": self.t2_groups >= T2_GROUPS_NEEDED,
                "u_shape": math.isfinite(self.u_shape) and self.u_shape >= U_SHAPE_NEEDED,
                "lq": self.lq_directions >= LQ_NEEDED, "t5": self.t5_groups >= len(GROUP_KEY)}

    @property
    def met(self) -> int:
        """Criteria met, of 5."""
        return sum(self.met_each().values())

    @property
    def units(self) -> int:
        """Criterion units met: T2 groups + LQ directions + T5 groups."""
        return self.t2_groups + self.lq_directions + self.t5_groups

    def rank_key(self) -> tuple:
        """Larger is better: (a finite distance, T1 cells, criteria met, T1 cells met firmly, units,
        targets passed, -distance); a candidate whose runs failed (infinite distance) comes last."""
        ok = math.isfinite(self.distance)
        return (ok, self.t1_cells, self.met, self.t1_firm, self.units, self.passes,
                -self.distance if ok else -math.inf)

    def as_row(self) -> dict:
        return {**asdict(self), "criteria_met": self.met, "criterion_units": self.units}


def done_criteria(stats: dict[str, float], targets) -> DoneCriteria:
    """The criteria of the issue from median statistics (statistic name -> value) and the targets."""
    by_stat = {t.statistic: t for t in targets}

    def ok(stat: str) -> bool:
        t = by_stat.get(stat)
        return t is not None and t.passes(stats.get(stat, math.nan))

    t1_stats = [s for s in by_stat if s.startswith("t1_") and s != "t1_total_change_gbp_m"]
    t1 = sum(ok(s) for s in t1_stats)

    def firm(stat: str) -> bool:
        t = by_stat[stat]
        v = stats.get(stat, math.nan)
        inner = t.model_copy(update={"tolerance": t.tolerance - T1_FIRM_MARGIN})
        return t.kind == "value" and t.tolerance > T1_FIRM_MARGIN and inner.passes(v)

    t1_firm = sum(firm(s) for s in t1_stats)
    # TARGETS.md T2: the observed value in 1998 and 2016 and "the trend between them of the same sign"
    t2 = sum(ok(f"t2_theil_{k}_1998") and ok(f"t2_theil_{k}_2016") and ok(f"t2_theil_change_{k}")
             for k in GROUP_KEY.values())
    lq = sum(ok(f"t3_lq_margin_{sec}") for sec in LQ_RULES)

    def corr_ok(k: str) -> bool:
        a, b = stats.get(f"t5_corr_{k}_1998", math.nan), stats.get(f"t5_corr_{k}_2016", math.nan)
        return math.isfinite(a) and math.isfinite(b) and min(a, b) >= T5_MIN_CORR

    t5 = sum(corr_ok(k) for k in GROUP_KEY.values())
    u = float(stats.get("t2_u_shape_count", math.nan))
    passes = sum(t.passes(stats.get(t.statistic, math.nan)) for t in targets)
    from calibration.targets import distance

    return DoneCriteria(t1_cells=t1, t2_groups=t2, u_shape=u, lq_directions=lq, t5_groups=t5, passes=passes,
                        distance=distance(stats, targets), t1_firm=t1_firm)


def best_index(criteria: list[DoneCriteria]) -> int:
    """Index of the best candidate by :meth:`DoneCriteria.rank_key` (the first among equals)."""
    if not criteria:
        raise ValueError("no candidates to choose from")
    return max(range(len(criteria)), key=lambda i: criteria[i].rank_key())
