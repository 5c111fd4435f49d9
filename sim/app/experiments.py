"""The lock-in lab's experiments: many seeds of the same start, run in the server process.

- :func:`cluster_endpoints`: where each sector's largest cluster ends up, seed by seed (a
  distribution over regions). Lock-in with seed-dependent winners (Arthur 1989) shows as many
  different winning regions, each taking a large share.
- :func:`policy_experiment`: the same lever in two variants (e.g. early and late, or in two regions)
  against no policy, on the same seeds (common random numbers, as ``sim compare``), measured as the
  target region's share of GB AM output.

Both call the model exactly as ``sim run`` does for the same scenario file and seed, so the command
line reproduces the lab's numbers. A ``progress(done, total)`` callback lets the app show progress and
stop early (it returns False to stop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sim import datasets
from sim.model import AMModel
from sim.scenario import HISTORY_END, Intervention, Scenario

from sim.app import world as W

Progress = Callable[[int, int], bool | None]


class Cancelled(RuntimeError):
    """The progress callback asked to stop."""


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None and progress(done, total) is False:
        raise Cancelled(f"stopped after {done} of {total} runs")


def _run_shares(sc: Scenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Run ``sc`` with ``seed``; return the years and (years, regions): each region's % of GB AM output."""
    m = AMModel(scenario=sc, rng=int(seed))
    years, rows = [], []
    while True:
        out, _, _ = m._region_sector_totals()
        by_region = out.sum(axis=1)
        tot = by_region.sum()
        years.append(m.year)
        rows.append(100 * by_region / tot if tot > 0 else np.zeros_like(by_region))
        if not m.running:
            break
        m.step()
    return np.asarray(years), np.asarray(rows)


def world_scenario(world: str, *, beta_agglomeration: float | None = None, end_year: int = HISTORY_END,
                   interventions: Sequence[Intervention | None] = (), name: str = "lab") -> Scenario:
    """The scenario of a world, with an optional agglomeration strength and interventions."""
    params = W.world_params(W.world_key(world))
    if beta_agglomeration is not None:
        params["beta_agglomeration"] = float(beta_agglomeration)
    return W.make_scenario(params, [iv for iv in interventions if iv is not None], name=name, end_year=end_year,
                           description=f"lock-in lab: {W.WORLDS[W.world_key(world)]}")


# ---------------------------------------------------------------------------------------------- clusters
@dataclass
class ClusterResult:
    """Where each sector's largest cluster is, seed by seed, at the start and in the last year."""

    world: str
    scenario: Scenario
    seeds: list[int]
    year: int
    region_codes: tuple[str, ...]
    winners: np.ndarray          # (seeds, sectors): region index with the sector's largest output, last year
    winner_share: np.ndarray     # (seeds, sectors): that region's share of the sector's GB output
    start_winners: np.ndarray    # (seeds, sectors): the same in the start year

    def counts(self) -> np.ndarray:
        """(sectors, regions): in how many seeds each region has each sector's largest output."""
        S, R = len(datasets.SECTOR_CODES), len(self.region_codes)
        out = np.zeros((S, R), dtype=int)
        for j in range(S):
            out[j] = np.bincount(self.winners[:, j], minlength=R)
        return out

    def table(self) -> list[dict]:
        """One row per sector: distinct winning regions, the most frequent winner, median share of the
        winner, and how often the winner is the region that led in the start year."""
        rows = []
        counts = self.counts()
        for j, code in enumerate(datasets.SECTOR_CODES):
            top = int(counts[j].argmax())
            rows.append({
                "sector": code,
                "distinct_winners": int(np.count_nonzero(counts[j])),
                "most_frequent_winner": self.region_codes[top],
                "most_frequent_seeds": int(counts[j, top]),
                "median_winner_share": float(np.median(self.winner_share[:, j])),
                "same_as_start_leader": float(np.mean(self.winners[:, j] == self.start_winners[:, j])),
            })
        return rows


def cluster_endpoints(world: str, seeds: Sequence[int], *, beta_agglomeration: float | None = None,
                      end_year: int = HISTORY_END, progress: Progress | None = None) -> ClusterResult:
    """Run ``world`` once per seed and record, per sector, the region with the largest output at the
    start and in ``end_year``. In a uniform world every region starts alike, so the start leader is
    only a tie broken by chance."""
    world = W.world_key(world)
    sc = world_scenario(world, beta_agglomeration=beta_agglomeration, end_year=end_year, name=f"lab_{world}")
    seeds = [int(s) for s in seeds]
    winners, shares, start = [], [], []
    for k, s in enumerate(seeds):
        _tick(progress, k, len(seeds))
        m = AMModel(scenario=sc, rng=s)
        out0, _, _ = m._region_sector_totals()
        m.run_model()
        out, _, _ = m._region_sector_totals()
        tot = out.sum(axis=0)
        winners.append(out.argmax(axis=0))
        shares.append(np.where(tot > 0, out.max(axis=0) / np.where(tot > 0, tot, 1), np.nan))
        start.append(out0.argmax(axis=0))
    _tick(progress, len(seeds), len(seeds))
    return ClusterResult(world=world, scenario=sc, seeds=seeds, year=end_year,
                         region_codes=tuple(datasets.region_codes()), winners=np.array(winners),
                         winner_share=np.array(shares), start_winners=np.array(start))


# ---------------------------------------------------------------------------------------------- policy
@dataclass
class Variant:
    """One arm of a policy experiment: a lever in a region for some years."""

    region: str
    start_year: int
    years: int

    def label(self, name: str) -> str:
        end = min(self.start_year + self.years - 1, HISTORY_END)
        return f"{name}: {W.region_code(self.region)} {self.start_year}-{end}"


@dataclass
class PolicyResult:
    """Target-region shares of GB AM output (%), per seed and year, for no policy and each variant."""

    world: str
    lever: str
    intensity: float
    seeds: list[int]
    years: np.ndarray
    labels: list[str]                          # one per variant
    targets: list[str]                         # region code per variant
    windows: list[tuple[int, int]]             # policy years per variant
    scenarios: list[Scenario]                  # baseline first, then one per variant
    baseline_share: np.ndarray                 # (seeds, years, regions): every region's share, no policy
    variant_share: list[np.ndarray] = field(default_factory=list)  # per variant: (seeds, years), own target

    def baseline_for(self, k: int) -> np.ndarray:
        """(seeds, years): variant ``k``'s target region's share without the policy."""
        return self.baseline_share[:, :, list(self.region_codes).index(self.targets[k])]

    @property
    def region_codes(self) -> tuple[str, ...]:
        return tuple(datasets.region_codes())

    def effects(self) -> dict[str, np.ndarray]:
        """Per variant: each seed's effect on its target's share in the last year (percentage points)."""
        return {lab: self.variant_share[k][:, -1] - self.baseline_for(k)[:, -1] for k, lab in enumerate(self.labels)}

    def summary(self) -> list[dict]:
        """Per variant: median share without and with the policy, median effect and its 5-95% range,
        and the share of seeds in which the effect is positive."""
        rows = []
        for k, (lab, eff) in enumerate(self.effects().items()):
            rows.append({"variant": lab, "target": self.targets[k],
                         "share_no_policy_pct": float(np.median(self.baseline_for(k)[:, -1])),
                         "share_with_policy_pct": float(np.median(self.variant_share[k][:, -1])),
                         "effect_median_pp": float(np.median(eff)),
                         "effect_lo_pp": float(np.quantile(eff, 0.05)), "effect_hi_pp": float(np.quantile(eff, 0.95)),
                         "seeds_positive": float(np.mean(eff > 0))})
        return rows


def policy_experiment(world: str, lever: str, intensity: float, variants: Sequence[Variant], seeds: Sequence[int],
                      *, beta_agglomeration: float | None = None, progress: Progress | None = None) -> PolicyResult:
    """Run no policy and each variant on the same seeds; record the regions' shares of GB AM output."""
    lever = W.lever_key(lever)
    if lever == "none":
        raise ValueError("choose a policy lever for a policy experiment")
    seeds = [int(s) for s in seeds]
    w = W.world_key(world)
    base = world_scenario(w, beta_agglomeration=beta_agglomeration, name=f"lab_{w}_no_policy")
    ivs = [W.intervention(lever, v.region, v.start_year, v.years, intensity) for v in variants]
    names = [chr(ord("A") + k) for k in range(len(variants))]
    arms = [world_scenario(w, beta_agglomeration=beta_agglomeration, interventions=[iv],
                           name=f"lab_{w}_{lever}_{n}") for n, iv in zip(names, ivs, strict=True)]
    total = len(seeds) * (1 + len(arms))
    done = 0
    base_share, arm_share = [], [[] for _ in arms]
    years = None
    for s in seeds:
        _tick(progress, done, total)
        years, shares = _run_shares(base, s)
        base_share.append(shares)
        done += 1
        for k, (sc, iv) in enumerate(zip(arms, ivs, strict=True)):
            _tick(progress, done, total)
            r = datasets.region_codes().index(iv.regions[0])
            arm_share[k].append(_run_shares(sc, s)[1][:, r])
            done += 1
    _tick(progress, total, total)
    return PolicyResult(world=w, lever=lever, intensity=float(intensity), seeds=seeds, years=years,
                        labels=[v.label(n) for v, n in zip(variants, names, strict=True)],
                        targets=[iv.regions[0] for iv in ivs], windows=[(iv.start_year, iv.end_year) for iv in ivs],
                        scenarios=[base, *arms], baseline_share=np.array(base_share),
                        variant_share=[np.array(a) for a in arm_share])
