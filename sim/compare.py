"""Scenario comparison: ensembles with common random numbers, effects against a baseline.

``compare(baseline, scenarios, seeds)`` runs the baseline and every scenario on the *same* seeds (common
random numbers, through :func:`sim.runner.simulate`, the one seam), computes each scenario's effect per
seed (scenario minus baseline, same seed) and summarises it across seeds as the median and the 90%
interval (5th and 95th percentiles). Outcomes are measured in the scenario's last year (its
``end_year``); the baseline must record that year.

Outcomes (``OUTCOMES`` has the full legend): AM output and employment in the *target regions* (the
union of the scenario's intervention regions), outside them, in the TIRs and in Great Britain; the
TIR share of AM output; plants by ownership (GB, in the target regions); the Theil index of each sector
(reference: total GVA); displacement (how much of the target regions' gain is offset by changes
elsewhere); spending and cost per job where the scenario has a budget.

With ``posterior`` one parameter set per seed is drawn from the calibration posterior
(``calibration/posterior.csv``, by weight, fixed RNG seed) and used for the baseline and every scenario
alike, so the intervals carry parameter as well as seed uncertainty.

``Comparison.save(out)`` writes ``effects.csv``, ``effects.md``, ``effects_by_seed.csv``,
``trajectories.csv``, ``manifest.json`` and figures (``effects.png``, ``fan_<scenario>.png``) to a
temporary sibling folder renamed into place when complete.
"""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from sim.files import out_folder_problem
from sim.datasets import SECTOR_CODES, load_regions
from sim.params import ParameterError, Params, make_params
from sim.scenario import Scenario, ScenarioError, load_scenario

#: Quantiles of the 90% interval.
LO, HI = 0.05, 0.95
#: Seed of the generator that draws parameter sets from the posterior (fixed: same draws every time).
POSTERIOR_RNG_SEED = 20_240_601
POSTERIOR_FILE = Path(__file__).resolve().parents[1] / "calibration" / "posterior.csv"
POSTERIOR_META = ("weight", "distance", "generation")

EFFECT_COLUMNS = ["scenario", "outcome", "baseline_median", "effect_median", "effect_lo", "effect_hi"]

#: Every outcome: (unit, meaning). Levels are measured in the scenario's last year.
OUTCOMES: dict[str, tuple[str, str]] = {
    "output_target_gbp_m": ("GBP m", "AM output in the target regions"),
    "employment_target_jobs": ("jobs", "AM employment in the target regions"),
    "output_outside_target_gbp_m": ("GBP m", "AM output in all other regions"),
    "employment_outside_target_jobs": ("jobs", "AM employment in all other regions"),
    "displacement_output_pct": ("%", "-(output effect outside the target regions) / (output effect in them) x 100: "
                                "100 = every pound gained is lost elsewhere, 0 = no displacement"),
    "displacement_employment_pct": ("%", "the same for employment"),
    "output_tir_gbp_m": ("GBP m", "AM output in the 12 TIRs"),
    "employment_tir_jobs": ("jobs", "AM employment in the 12 TIRs"),
    "tir_output_share": ("share", "TIR share of GB AM output"),
    "output_total_gbp_m": ("GBP m", "AM output, Great Britain"),
    "employment_total_jobs": ("jobs", "AM employment, Great Britain"),
    "plants_gb_owned": ("plants", "GB-owned AM plants, Great Britain"),
    "plants_foreign_owned": ("plants", "foreign-owned AM plants, Great Britain"),
    "plants_gb_owned_target": ("plants", "GB-owned AM plants in the target regions"),
    "plants_foreign_owned_target": ("plants", "foreign-owned AM plants in the target regions"),
    **{f"theil_{s}": ("index", f"Theil index of regional concentration of {s} output (reference: total GVA)")
       for s in SECTOR_CODES},
    "spending_gbp_m": ("GBP m", "total policy spending over the scenario (Results.spending)"),
    "cost_per_job_gbp_k": ("GBP k per job", "spending / employment effect in the target regions; inf where "
                           "the employment effect is not positive"),
}
#: Outcomes shown in the effect-bar figure.
FIGURE_OUTCOMES = ("output_target_gbp_m", "employment_target_jobs", "output_outside_target_gbp_m",
                   "output_tir_gbp_m", "employment_tir_jobs", "tir_output_share", "plants_foreign_owned",
                   "plants_gb_owned")


class CompareError(ValueError):
    """Bad input to a comparison (refused before anything runs)."""


@dataclass(frozen=True)
class Arm:
    """One scenario of a comparison: its label, validated scenario and source file (if any)."""

    label: str
    scenario: Scenario
    source: str = ""

    @property
    def year(self) -> int:
        return self.scenario.end_year

    @property
    def target(self) -> list[str]:
        return self.scenario.target_regions()


# --------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------


def _arm(s: Scenario | str | Path, ignore_params_file: bool) -> Arm:
    if isinstance(s, Scenario):
        return Arm(s.name, s)
    sc = load_scenario(s, ignore_params_file=ignore_params_file)
    return Arm(sc.name, sc, str(s))


def prepare(baseline: Scenario | str | Path, scenarios: Sequence[Scenario | str | Path], *,
            posterior: bool = False) -> tuple[Arm, list[Arm]]:
    """Load and check the baseline and scenarios. Raises ScenarioError (a bad file) or CompareError
    (files that cannot be compared), naming the field. With ``posterior`` the files' ``params_file`` is
    ignored (the posterior draw is the base parameter set; the files' own ``[params]`` still apply)."""
    if not scenarios:
        raise CompareError("give at least one scenario to compare with the baseline")
    base = _arm(baseline, posterior)
    arms = [_arm(s, posterior) for s in scenarios]
    seen: dict[str, str] = {base.label: base.source or "the baseline"}
    for a in arms:
        if a.label in seen:
            raise CompareError(f"{a.source or a.label}: scenario.name {a.label!r} is also used by {seen[a.label]}; "
                               "names must be unique within a comparison")
        seen[a.label] = a.source or a.label
        b = base.scenario
        if not b.report_from <= a.year <= b.end_year:
            raise CompareError(f"{a.source or a.label}: scenario.end_year ({a.year}): the baseline records "
                               f"{b.report_from}-{b.end_year} only; outcomes are measured in the scenario's last "
                               "year, which the baseline must record (compare forward scenarios with a forward "
                               "baseline, e.g. scenarios/baseline_forward.toml)")
        if a.scenario.start_year != b.start_year:
            raise CompareError(f"{a.source or a.label}: scenario.start_year differs from the baseline's")
        if _tir_set(a.scenario) != _tir_set(b):
            raise CompareError(f"{a.source or a.label}: scenario.tir_regions differs from the baseline's; the TIR "
                               "outcomes of a comparison need one TIR set")
    return base, arms


def _tir_set(sc: Scenario) -> frozenset[str] | None:
    return None if sc.tir_regions is None else frozenset(sc.tir_regions)


def posterior_draws(n: int, path: str | Path = POSTERIOR_FILE, rng_seed: int = POSTERIOR_RNG_SEED) -> list[dict]:
    """``n`` parameter sets drawn by weight (with replacement) from a posterior CSV (columns: parameter
    names plus ``weight``, ``distance``, ``generation``), each merged with the calibration's fixed
    parameters and validated. Raises CompareError if the file is missing or malformed."""
    p = Path(path)
    if not p.is_file():
        raise CompareError(f"--posterior: no posterior file at {p}; run `sim calibrate` first (it writes "
                           "calibration/posterior.csv), or drop --posterior")
    try:
        from calibration.abc import stale_posterior
    except ImportError:
        stale_posterior = None
    why = stale_posterior(p.parent) if stale_posterior is not None else None
    if why:  # a calibrated.toml beside the file whose point the posterior was not drawn around
        raise CompareError(f"--posterior: {why}; or drop --posterior")
    try:
        post = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CompareError(f"--posterior {p}: not a readable CSV: {e}") from None
    if "weight" not in post.columns:
        raise CompareError(f"--posterior {p}: column 'weight' is missing (columns: {list(post.columns)})")
    w = pd.to_numeric(post["weight"], errors="coerce").to_numpy(float)
    if len(post) == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise CompareError(f"--posterior {p}: column 'weight' must hold non-negative numbers with a positive sum")
    free = [c for c in post.columns if c not in POSTERIOR_META]
    unknown = [c for c in free if c not in Params.model_fields]
    if unknown:
        raise CompareError(f"--posterior {p}: unknown parameter column(s) {unknown}")
    fixed: dict[str, Any] = {}
    try:
        from calibration.abc import CalibrationConfig

        fixed = dict(CalibrationConfig.load().fixed)
    except (ImportError, OSError, ValueError):
        pass
    idx = np.random.default_rng(rng_seed).choice(len(post), size=n, replace=True, p=w / w.sum())
    draws = []
    for i in idx:
        d = {**fixed, **{k: _scalar(post[k].iloc[int(i)]) for k in free}}
        d = {k: (int(round(v)) if Params.model_fields[k].annotation is int and isinstance(v, float) else v)
             for k, v in d.items()}
        try:
            make_params(d)
        except ParameterError as e:
            raise CompareError(f"--posterior {p}, row {int(i)}: {e}") from None
        draws.append(d | {"_row": int(i)})
    return draws


# --------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------


def _run_job(args: tuple) -> tuple[int, int, pd.DataFrame, pd.DataFrame, float]:
    """One (arm, seed) run through the seam, reduced to what the comparison needs: output and
    employment by year x region, cells by region x sector x ownership in the measured years, spending."""
    from sim.runner import simulate

    arm, scenario, params, seed, years = args
    res = simulate(scenario, params, seed)
    panel = res.panel
    regional = (panel.groupby(["year", "region"], observed=True, sort=False)[["output", "employment"]]
                .sum().reset_index())
    cells = (panel[panel["year"].isin(years)]
             .groupby(["year", "region", "sector", "ownership"], observed=True, sort=False)
             [["output", "employment", "plants"]].sum().reset_index())
    spent = float(res.spending["spending_gbp_m"].sum())
    del res
    gc.collect()  # the finished model sits in reference cycles: free it now, not at some later full GC
    return arm, seed, regional, cells, spent


def run_ensembles(arms: list[Arm], seeds: list[int], *, workers: int = 1,
                  draws: list[dict] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run every arm on every seed (the i-th seed with the i-th parameter draw, if any). Returns the
    stacked regional, cell and spending tables, each with ``arm`` (index into ``arms``) and ``seed``."""
    years = sorted({a.year for a in arms})
    jobs = []
    for i, seed in enumerate(seeds):
        params = None
        if draws is not None:
            params = {k: v for k, v in draws[i].items() if not k.startswith("_")}
        for k, a in enumerate(arms):
            jobs.append((k, a.scenario, params, int(seed), years))
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("forkserver")) as ex:
            out = list(ex.map(_run_job, jobs))
    else:
        out = [_run_job(j) for j in jobs]
    regional = pd.concat([r.assign(arm=k, seed=s) for k, s, r, _, _ in out], ignore_index=True)
    cells = pd.concat([c.assign(arm=k, seed=s) for k, s, _, c, _ in out], ignore_index=True)
    spending = pd.DataFrame([(k, s, sp) for k, s, _, _, sp in out], columns=["arm", "seed", "spending_gbp_m"])
    for df in (regional, cells):
        df["region"] = df["region"].astype(str)
    return regional, cells, spending


# --------------------------------------------------------------------------------------------------
# Outcomes and effects (vectorised over seeds)
# --------------------------------------------------------------------------------------------------


def tir_codes() -> list[str]:
    """The current TIR set (:func:`sim.metrics.tir_regions`: the default, or the set of a
    :func:`sim.metrics.tir_set` block) in region-table order."""
    from sim.metrics import tir_regions

    tir = tir_regions()
    return [c for c in load_regions()["code"] if c in tir]


def outcomes(cells: pd.DataFrame, spending: pd.DataFrame, target: Sequence[str], year: int) -> pd.DataFrame:
    """Outcome levels per arm and seed in ``year``: a wide frame indexed by (arm, seed), one column per
    outcome. ``target`` empty: no target-region outcomes; all regions: no outside outcomes."""
    from sim.metrics import theil

    c = cells[cells["year"] == year]
    in_t = c["region"].isin(list(target)).to_numpy()
    tir = c["region"].isin(tir_codes()).to_numpy()
    foreign = (c["ownership"].astype(str) == "foreign").to_numpy()
    out, emp, pl = (c[k].to_numpy(float) for k in ("output", "employment", "plants"))
    cols = {
        "output_total_gbp_m": out, "employment_total_jobs": emp,
        "output_tir_gbp_m": out * tir, "employment_tir_jobs": emp * tir,
        "plants_gb_owned": pl * ~foreign, "plants_foreign_owned": pl * foreign,
    }
    n_regions = len(load_regions())
    if len(target):
        cols |= {"output_target_gbp_m": out * in_t, "employment_target_jobs": emp * in_t,
                 "plants_gb_owned_target": pl * (in_t & ~foreign), "plants_foreign_owned_target": pl * (in_t & foreign)}
        if len(set(target)) < n_regions:
            cols |= {"output_outside_target_gbp_m": out * ~in_t, "employment_outside_target_jobs": emp * ~in_t}
    w = pd.DataFrame(cols, index=pd.MultiIndex.from_frame(c[["arm", "seed"]])).groupby(level=["arm", "seed"]).sum()
    w.insert(w.columns.get_loc("plants_gb_owned"), "tir_output_share", w["output_tir_gbp_m"] / w["output_total_gbp_m"])
    th = theil(c.assign(sector=c["sector"].astype(str)), "gva", value="output", by=("arm", "seed", "year", "sector"))
    th = th.pivot_table(index=["arm", "seed"], columns="sector", values="value", dropna=False)
    th.columns = [f"theil_{s}" for s in th.columns]
    w = w.join(th[[f"theil_{s}" for s in SECTOR_CODES if f"theil_{s}" in th.columns]])
    w["spending_gbp_m"] = spending.set_index(["arm", "seed"])["spending_gbp_m"].reindex(w.index).to_numpy()
    return w


def effects_by_seed(levels: pd.DataFrame, arm: int, label: str) -> pd.DataFrame:
    """Per-seed effects of arm ``arm`` against arm 0 (the baseline), long: scenario, seed, outcome,
    baseline, scenario_value, effect. Adds displacement, derived from the per-seed effects; differences
    within floating-point noise of the level (below 1e-9 of it) count as zero."""
    b = levels.xs(0, level="arm")
    s = levels.xs(arm, level="arm").reindex(b.index)
    eff = s - b
    # differences within floating-point summation noise of the level are zero
    eff = eff.mask(eff.abs() <= 1e-9 * b.abs(), 0.0)
    if "output_outside_target_gbp_m" in eff and "output_target_gbp_m" in eff:
        with np.errstate(divide="ignore", invalid="ignore"):
            for k, t, o in (("output", "output_target_gbp_m", "output_outside_target_gbp_m"),
                            ("employment", "employment_target_jobs", "employment_outside_target_jobs")):
                d = -100.0 * eff[o] / eff[t]
                eff[f"displacement_{k}_pct"] = d.where(eff[t] != 0)
    cols = list(eff.columns)
    long = pd.DataFrame({
        "scenario": label,
        "seed": np.repeat(eff.index.to_numpy(), len(cols)),
        "outcome": np.tile(cols, len(eff)),
        "baseline": b.reindex(columns=cols).to_numpy().ravel(),
        "scenario_value": s.reindex(columns=cols).to_numpy().ravel(),
        "effect": eff[cols].to_numpy().ravel(),
    })
    return long


def summarise(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Median and 90% interval across seeds per scenario x outcome (pandas groupby; NaN skipped), plus
    cost per job from the employment effect in the target regions: spending / effect, whose median
    and interval are those of the employment effect transformed (the map is decreasing; a
    non-positive employment effect gives inf)."""
    g = per_seed.groupby(["scenario", "outcome"], sort=False)
    q = g["effect"].quantile([LO, 0.5, HI]).unstack()
    q.columns = ["effect_lo", "effect_median", "effect_hi"]
    q["baseline_median"] = g["baseline"].median()
    q = q.reset_index()
    rows = []
    for sc, sub in q.groupby("scenario", sort=False):
        spend = sub.loc[sub["outcome"] == "spending_gbp_m", "effect_median"]
        jobs = sub[sub["outcome"] == "employment_target_jobs"]
        if len(spend) and len(jobs) and float(spend.iloc[0]) > 0:
            sp = float(spend.iloc[0])
            j = jobs.iloc[0]

            def per_job(x):
                return sp * 1000.0 / x if x > 0 else np.inf

            rows.append({"scenario": sc, "outcome": "cost_per_job_gbp_k", "baseline_median": np.nan,
                         "effect_median": per_job(j["effect_median"]), "effect_lo": per_job(j["effect_hi"]),
                         "effect_hi": per_job(j["effect_lo"])})
    if rows:
        q = pd.concat([q, pd.DataFrame(rows)], ignore_index=True)
    order = {k: i for i, k in enumerate(OUTCOMES)}
    scen = {k: i for i, k in enumerate(dict.fromkeys(per_seed["scenario"]))}
    q = q.sort_values(by=["scenario", "outcome"], key=lambda s: s.map(scen if s.name == "scenario" else order),
                      kind="stable")
    return q[EFFECT_COLUMNS].reset_index(drop=True)


def trajectories(regional: pd.DataFrame, arm: int, label: str, regions: Sequence[str], last_year: int) -> pd.DataFrame:
    """AM output in ``regions`` per year, baseline (arm 0) and scenario, per seed, over the years both
    record up to ``last_year``."""
    r = regional[regional["arm"].isin([0, arm]) & regional["region"].isin(list(regions))
                 & (regional["year"] <= last_year)]
    t = r.groupby(["arm", "seed", "year"])["output"].sum().reset_index()
    common = set(t.loc[t["arm"] == 0, "year"]) & set(t.loc[t["arm"] == arm, "year"])
    t = t[t["year"].isin(common)]
    return pd.DataFrame({"scenario": label, "run": np.where(t["arm"] == 0, "baseline", "scenario"),
                         "seed": t["seed"].to_numpy(), "year": t["year"].to_numpy(),
                         "output_gbp_m": t["output"].to_numpy()})


# --------------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """Effects of scenarios against a baseline, with the per-seed values and trajectories behind them."""

    effects: pd.DataFrame
    per_seed: pd.DataFrame
    trajectories: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    def to_markdown(self) -> str:
        return effects_markdown(self.effects, self.manifest)

    def save(self, out: str | Path, overwrite: bool = False, figures: bool = True) -> Path:
        """Write the comparison folder atomically (temporary sibling, renamed into place)."""
        out = Path(out)
        problem = out_folder_problem(out, overwrite)
        if problem:
            raise FileExistsError(problem)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        try:
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
            self.effects.to_csv(tmp / "effects.csv", index=False)
            (tmp / "effects.md").write_text(self.to_markdown(), encoding="utf-8")
            self.per_seed.to_csv(tmp / "effects_by_seed.csv", index=False)
            self.trajectories.to_csv(tmp / "trajectories.csv", index=False)
            if figures:
                from sim.compare_figures import effect_bars, fan_chart

                self.manifest["figures"] = [effect_bars(self.effects, tmp / "effects.png").name]
                for sc in self.manifest.get("scenarios", []):
                    label = sc["label"]
                    f = fan_chart(self.trajectories[self.trajectories["scenario"] == label], label,
                                  sc["fan_regions_label"], tmp / f"fan_{_slug(label)}.png",
                                  periods=sc.get("intervention_years", []))
                    self.manifest["figures"].append(f.name)
            (tmp / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=_json_default))
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out


def compare(baseline: Scenario | str | Path, scenarios: Sequence[Scenario | str | Path], *,
            seeds: Iterable[int] = range(50), workers: int = 1, posterior: bool | str | Path = False) -> Comparison:
    """Run the baseline and each scenario on the same seeds and summarise the effects.

    Args:
        baseline: a Scenario or a scenario file.
        scenarios: Scenarios or files; each must end in a year the baseline records.
        seeds: the common random numbers (every arm runs every seed).
        workers: processes (a forkserver pool when > 1); results do not depend on it.
        posterior: False, True (``calibration/posterior.csv``) or a posterior CSV path: one parameter
            draw per seed, shared by all arms.
    """
    t0 = time.perf_counter()
    post_path = None if posterior is False else (POSTERIOR_FILE if posterior is True else Path(posterior))
    base, arms = prepare(baseline, scenarios, posterior=post_path is not None)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise CompareError("--seeds: need at least one seed")
    draws = posterior_draws(len(seeds), post_path) if post_path is not None else None
    all_arms = [base, *arms]
    regional, cells, spending = run_ensembles(all_arms, seeds, workers=workers, draws=draws)
    t1 = time.perf_counter()
    from sim.metrics import tir_set

    with tir_set(base.scenario.tir_regions):  # one TIR set for every arm (prepare checks it)
        per_seed, traj, info = [], [], []
        tirs = tir_codes()
        for k, a in enumerate(arms, start=1):
            target = a.target
            lev = outcomes(cells[cells["arm"].isin([0, k])], spending[spending["arm"].isin([0, k])], target, a.year)
            per_seed.append(effects_by_seed(lev, k, a.label))
            fan_regions = target or tirs
            traj.append(trajectories(regional, k, a.label, fan_regions, a.year))
            if not target:
                fan_label = "the TIRs (no target regions)"
            elif len(target) < 8:
                fan_label = "target regions " + ", ".join(target)
            else:
                fan_label = f"the target regions ({len(target)})"
            info.append({"label": a.label, "file": a.source, "measured_year": a.year, "target_regions": target,
                         "fan_regions_label": fan_label,
                         "intervention_years": sorted({(iv.start_year, iv.end_year) for iv in a.scenario.interventions}),
                         "budget_gbp_m": a.scenario.total_budget_gbp_m(), "scenario": a.scenario.to_toml_dict()})
    ps = pd.concat(per_seed, ignore_index=True)
    eff = summarise(ps)
    from sim.runner import code_version

    manifest = {
        "baseline": {"label": base.label, "file": base.source, "scenario": base.scenario.to_toml_dict()},
        "scenarios": info,
        "seeds": seeds,
        "posterior": None if draws is None else {"file": str(post_path), "rng_seed": POSTERIOR_RNG_SEED,
                                                 "rows": [d["_row"] for d in draws]},
        "quantiles": [LO, 0.5, HI],
        "code_version": code_version(),
        "timings_s": {"runs": round(t1 - t0, 3), "effects": round(time.perf_counter() - t1, 3),
                      "workers": workers, "n_runs": len(all_arms) * len(seeds)},
    }
    return Comparison(effects=eff, per_seed=ps, trajectories=pd.concat(traj, ignore_index=True), manifest=manifest)


# --------------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------------


def fmt(v: float) -> str:
    """Compact number: thousands separators for large values, 3-4 significant digits otherwise."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01:
        return f"{v:.3f}"
    return f"{v:.2e}"


def effects_markdown(effects: pd.DataFrame, manifest: dict[str, Any] | None = None,
                     outcomes_shown: Sequence[str] | None = None) -> str:
    """The effects table in Markdown, with a header saying what was compared and when it was measured."""
    m = manifest or {}
    lines = []
    if m:
        n = len(m.get("seeds", []))
        lines += [f"# Effects against the baseline `{m['baseline']['label']}`", "",
                  f"{n} seeds with common random numbers (every scenario and the baseline run the same seeds"
                  + ("; one parameter set per seed drawn from the calibration posterior" if m.get("posterior") else "")
                  + "). Effect = scenario minus baseline in the same seed; median and 90% interval (5th-95th "
                  "percentile) across seeds. Levels are measured in each scenario's last year.", ""]
        for s in m.get("scenarios", []):
            tr = ", ".join(s["target_regions"]) if s["target_regions"] else "none"
            if len(s["target_regions"]) >= 40:
                tr = "all regions"
            lines.append(f"- `{s['label']}`: measured in {s['measured_year']}; target regions: {tr}; "
                         f"budget GBP {fmt(s['budget_gbp_m']) or '0'} m")
        lines.append("")
    e = effects if outcomes_shown is None else effects[effects["outcome"].isin(list(outcomes_shown))]
    lines += ["| scenario | outcome | baseline_median | effect_median | effect_lo | effect_hi |",
              "|---|---|---:|---:|---:|---:|"]
    for r in e.itertuples(index=False):
        lines.append(f"| {r.scenario} | {r.outcome} | {fmt(r.baseline_median)} | {fmt(r.effect_median)} | "
                     f"{fmt(r.effect_lo)} | {fmt(r.effect_hi)} |")
    if m:
        used = list(dict.fromkeys(e["outcome"]))
        lines += ["", "Outcomes:", ""]
        lines += [f"- `{o}` ({OUTCOMES[o][0]}): {OUTCOMES[o][1]}" for o in used if o in OUTCOMES]
    return "\n".join(lines) + "\n"


def _scalar(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _slug(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in s)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, (Path, tuple)):
        return str(o) if isinstance(o, Path) else list(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


__all__ = ["Arm", "CompareError", "Comparison", "EFFECT_COLUMNS", "OUTCOMES", "ScenarioError", "compare",
           "effects_by_seed", "effects_markdown", "outcomes", "posterior_draws", "prepare", "run_ensembles",
           "summarise", "trajectories"]
