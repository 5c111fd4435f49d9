"""Point-estimate calibration with CMA-ES (``sim calibrate --optimise``).

ABC-SMC (:mod:`calibration.abc`) gives a posterior, but with 20-30 free parameters and a budget of a
few thousand parameter points its importance weights collapse before it gets near the data. The
point estimate is therefore found first by an optimiser that copes with noisy, non-smooth objectives:
the covariance matrix adaptation evolution strategy (Hansen 2016, "The CMA evolution strategy: a
tutorial"; the ``cma`` package), minimising the same target distance as ABC
(:func:`calibration.targets.distance`) of the median statistics over the same seeds.

- Search space: the free parameters of the ``[optimise]`` table of ``calibration/calibration.toml``,
  each mapped linearly from its prior interval to [0, 1] (CMA-ES bounds handling keeps it inside).
- Start: the current point estimate (``calibrated.toml``) where it gives a value, else the parameter's
  default.
- Objective: median over ``seeds`` of every statistic, then the distance. Every candidate is run on
  the same seeds (common random numbers), which smooths the comparison between candidates.
- Execution: the (candidate, seed) runs of a generation in a local process pool.
- Crash safety: after each generation the optimiser state and every evaluation are written
  (``state.pkl``, ``evaluations.csv``) by atomic replacement; ``resume=True`` continues from them.
- Result: the best ``refine_top`` candidates are re-run on ``refine_seeds`` fresh seeds (screening),
  the ``confirm_top`` best of those on ``confirm_seeds`` further seeds, and the best there becomes the
  point estimate, so that a lucky draw of seeds does not decide, provided it also ranks above the
  current point on ``verify_seeds`` seeds on which it was not chosen (:func:`calibration.run._verified`; the seed blocks
  are in :mod:`calibration.seeds`). "Best" follows the issue's ranking of the targets
  (:mod:`calibration.criteria`: T1 cells first, the distance last).

The distance that CMA-ES minimises weighs every target; near a good point it can trade a criterion of
the issue (a T2 group on its tolerance edge) for many small gains elsewhere. :func:`random_screen`
(``sim calibrate --screen``) is the complement: random perturbations of the current point (a step of
``screen_step`` of each interval), each judged
on ``screen_seeds`` seeds by the issue's criteria directly (a (1, lambda) evolution-strategy step
without the distance; Beyer and Schwefel 2002), the best confirmed on the confirmation seeds against
the current point, which stays unless one ranks higher there and on the verification seeds.
"""

from __future__ import annotations

import datetime as dt
import math
import pickle
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calibration.abc import at_least, settings_changes, target_settings
from calibration.seeds import (CONFIRM_SEED0, LOCAL_SEED0, PROBE_SEED0, SCREEN_SEED0, TRY_SEED0, VERIFY_END,
                              VERIFY_SEED0, block_size, search_seeds)
from sim.files import atomic_write
from sim.params import ranges

HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / "calibration.toml"


@dataclass
class OptimiseConfig:
    """The ``[optimise]`` table: free parameters with their search intervals, seeds and CMA-ES settings."""

    bounds: dict[str, tuple[float, float]]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    sigma0: float = 0.2
    population_size: int | None = None
    refine_top: int = 8
    refine_seeds: int = 8
    confirm_top: int = 3
    confirm_seeds: int = 32
    cma_seed: int = 1
    screen_seeds: int = 16
    screen_step: float = 0.02
    try_seeds: int = 96
    verify_seeds: int = 64

    @property
    def free(self) -> list[str]:
        return list(self.bounds)

    @classmethod
    def load(cls, path: str | Path = CONFIG_FILE) -> "OptimiseConfig":
        path = Path(path)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        o = data.get("optimise")
        if not o:
            raise ValueError(f"{path}: no [optimise] table")
        allowed = {"free", "seeds", "sigma0", "population_size", "refine_top", "refine_seeds", "confirm_top",
                   "confirm_seeds", "cma_seed", "screen_seeds", "screen_step", "try_seeds", "verify_seeds"}
        unknown = sorted(set(o) - allowed)
        if unknown:
            raise ValueError(f"{path}: optimise: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
        rng = ranges()
        bounds = {}
        for p, b in dict(o.get("free", {})).items():
            if p not in rng:
                raise ValueError(f"{path}: optimise.free.{p}: unknown or non-numeric parameter; allowed: "
                                 f"{', '.join(rng)}")
            if not (isinstance(b, list) and len(b) == 2):
                raise ValueError(f"{path}: optimise.free.{p}: must be [low, high]")
            lo, hi = float(b[0]), float(b[1])
            dlo, dhi = rng[p]
            if not (dlo <= lo < hi <= dhi):
                raise ValueError(f"{path}: optimise.free.{p}: [{lo:g}, {hi:g}] must lie inside the documented "
                                 f"range [{dlo:g}, {dhi:g}]")
            bounds[p] = (lo, hi)
        if len(bounds) < 2:
            raise ValueError(f"{path}: optimise.free: at least 2 free parameters are needed")
        sigma0 = float(o.get("sigma0", 0.2))
        if not 0 < sigma0 <= 0.5:
            raise ValueError(f"{path}: optimise.sigma0: {sigma0} must be in (0, 0.5] (units of the search intervals)")
        screen_step = float(o.get("screen_step", 0.02))
        if not 0 < screen_step <= 0.5:
            raise ValueError(f"{path}: optimise.screen_step: {screen_step} must be in (0, 0.5] (units of the search "
                             "intervals)")
        seeds = search_seeds(path, "optimise.seeds", o.get("seeds", [0, 1, 2]))
        pop = o.get("population_size")
        try_seeds = block_size(path, "optimise.try_seeds", o.get("try_seeds", 96), TRY_SEED0, PROBE_SEED0)
        verify_seeds = block_size(path, "optimise.verify_seeds", o.get("verify_seeds", 64), VERIFY_SEED0, VERIFY_END)
        return cls(bounds=bounds, seeds=seeds, sigma0=sigma0,
                   population_size=None if pop is None else at_least(path, "optimise.population_size", pop, 2),
                   refine_top=at_least(path, "optimise.refine_top", o.get("refine_top", 8), 1),
                   refine_seeds=block_size(path, "optimise.refine_seeds", o.get("refine_seeds", 8), SCREEN_SEED0,
                                           CONFIRM_SEED0),
                   confirm_top=at_least(path, "optimise.confirm_top", o.get("confirm_top", 3), 1),
                   confirm_seeds=block_size(path, "optimise.confirm_seeds", o.get("confirm_seeds", 32), CONFIRM_SEED0,
                                            LOCAL_SEED0),
                   cma_seed=int(o.get("cma_seed", 1)),
                   screen_seeds=block_size(path, "optimise.screen_seeds", o.get("screen_seeds", 16), LOCAL_SEED0,
                                           TRY_SEED0),
                   screen_step=screen_step, try_seeds=try_seeds, verify_seeds=verify_seeds)

    def to_params(self, x: np.ndarray) -> dict[str, float]:
        """Parameter values of a point of the unit cube."""
        x = np.clip(np.asarray(x, float), 0.0, 1.0)
        return {p: lo + float(x[i]) * (hi - lo) for i, (p, (lo, hi)) in enumerate(self.bounds.items())}

    def to_unit(self, params: dict[str, float]) -> np.ndarray:
        """Point of the unit cube of parameter values (clipped to the intervals). A parameter missing
        from ``params`` starts at its documented default, the value the model runs with when nothing
        sets it (so freeing a new parameter starts the search where the previous point was)."""
        from sim.params import Params

        defaults = Params()
        out = []
        for p, (lo, hi) in self.bounds.items():
            v = params[p] if p in params else getattr(defaults, p)
            out.append((min(max(float(v), lo), hi) - lo) / (hi - lo))
        return np.asarray(out)


def _stats_job(args) -> pd.DataFrame | None:
    params, seed = args
    from calibration.summary import per_seed_statistics
    from sim.runner import simulate

    try:
        return per_seed_statistics(simulate(params=params, seed=seed))
    except Exception:  # noqa: BLE001 - a failing point is far from the data, not a crash
        return None


def evaluate(param_sets: list[dict], seeds: list[int], targets, pool=None) -> list[tuple[float, dict]]:
    """(distance, median statistics) of every parameter set over ``seeds`` (a failed set: inf, {})."""
    from calibration.targets import distance

    jobs = [(p, s) for p in param_sets for s in seeds]
    res = list(pool.map(_stats_job, jobs)) if pool is not None else [_stats_job(j) for j in jobs]
    out = []
    k = len(seeds)
    for i in range(len(param_sets)):
        parts = [r for r in res[i * k:(i + 1) * k] if r is not None]
        if len(parts) < k:
            out.append((math.inf, {}))
            continue
        med = pd.concat(parts).median().to_dict()
        out.append((distance(med, targets), med))
    return out


def rescore(param_sets: list[dict], seeds: list[int], targets, workers: int = 2) -> list:
    """The :class:`calibration.criteria.DoneCriteria` (distance, targets passed, the issue's criteria) of
    every parameter set over ``seeds`` (:func:`evaluate`), in a local pool of ``workers`` processes (in
    this process if 1): how candidates are re-run on fresh seeds."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from calibration.criteria import done_criteria

    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) if workers > 1 else None
    try:
        res = evaluate(param_sets, list(seeds), targets, pool)
    finally:
        if pool is not None:
            pool.shutdown()
    # a parameter set whose runs failed is at infinite distance (it ranks last), not at the finite
    # penalty that missing statistics would give
    return [done_criteria(med, targets) if math.isfinite(d) else replace(done_criteria({}, targets), distance=math.inf)
            for d, med in res]


def choose(cand: pd.DataFrame, criteria: list) -> int:
    """Record each candidate's fresh-seed criteria in ``cand`` (columns ``refined_distance``,
    ``refined_passes``, ``t1_cells``, ``criteria_met``...) and return the row of the best one by
    :meth:`calibration.criteria.DoneCriteria.rank_key`: T1 cells first, the distance last."""
    from calibration.criteria import best_index

    rows = pd.DataFrame([c.as_row() for c in criteria], index=cand.index)
    cand["refined_distance"] = rows.pop("distance")
    cand["refined_passes"] = rows.pop("passes")
    for col in rows.columns:
        cand[col] = rows[col]
    return int(cand.index[best_index(criteria)])


def same_point(a: dict, b: dict) -> bool:
    """Whether two parameter sets run the model identically: equal once each is completed with the
    defaults of the parameters it leaves out (a screen's first set is the point with its missing free
    parameters written out at their defaults)."""
    from sim.params import ParameterError, make_params

    try:
        return make_params(a) == make_params(b)
    except ParameterError:
        return a == b


def confirm(cand: pd.DataFrame, sets: list[dict], screened: list, targets, *, top: int, seeds: int,
            workers: int = 2, incumbent: dict | None = None) -> tuple[int, Any, Any]:
    """The second, larger re-run: the ``top`` best screened candidates (by their criteria on the
    screening seeds) are re-run on ``seeds`` further fresh seeds (200...), where the best is chosen
    (the criteria of a candidate near a tolerance edge flip from one small seed set to another).
    Records ``confirm_*`` columns in ``cand`` (empty for candidates not confirmed). ``incumbent``, a
    full parameter set (the current point estimate), is re-run on the same seeds. Returns (row of the
    best candidate, its criteria there, the incumbent's criteria there or None): the caller keeps the
    incumbent when ``incumbent_criteria.rank_key() >= criteria.rank_key()``."""
    from calibration.criteria import best_index

    order = sorted(range(len(screened)), key=lambda i: screened[i].rank_key(), reverse=True)
    if incumbent is not None:  # the incumbent runs on these seeds anyway: not a second time as a candidate
        order = [i for i in order if not same_point(sets[i], incumbent)] or order
    order = order[:top]
    runs = [sets[i] for i in order] + ([incumbent] if incumbent is not None else [])
    crit = rescore(runs, list(range(CONFIRM_SEED0, CONFIRM_SEED0 + seeds)), targets, workers)
    cols = ("distance", "passes", "t1_cells", "criteria_met", "criterion_units")
    for col in cols:
        cand[f"confirm_{col}"] = np.nan
    for i, c in zip(order, crit):
        r = c.as_row()
        for col in cols:
            cand.loc[cand.index[i], f"confirm_{col}"] = r[col]
    k = best_index(crit[:len(order)])
    return order[k], crit[k], (crit[-1] if incumbent is not None else None)


def search_settings(config: OptimiseConfig, base: dict[str, Any], targets) -> dict:
    """What a CMA-ES search depends on besides the budget: the free parameters and their intervals, the
    seeds, the values of the parameters that are not free (``base``), the CMA-ES settings and the targets.
    Stored with the optimiser state, so that a resume with other settings is refused."""
    import json

    return json.loads(json.dumps({
        "free": list(config.free), "bounds": {p: list(map(float, config.bounds[p])) for p in config.free},
        "seeds": list(config.seeds), "base": {k: base[k] for k in sorted(base) if k not in config.bounds},
        "sigma0": float(config.sigma0), "population_size": config.population_size, "cma_seed": int(config.cma_seed),
        "targets": target_settings(targets)}))


def optimise(out: str | Path, *, budget: int, config: OptimiseConfig, targets, base: dict[str, Any],
             workers: int = 2, resume: bool = False, log=print) -> pd.DataFrame:
    """Run (or resume) CMA-ES until ``budget`` parameter points have been evaluated or it converges.

    ``base`` holds the values of the parameters that are not free. Returns every evaluation (one row
    per parameter point: the free parameters, ``distance``, ``generation``); they are also in
    ``out/evaluations.csv``, the optimiser state in ``out/state.pkl``.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    import cma

    out = Path(out)
    state_path, evals_path = out / "state.pkl", out / "evaluations.csv"
    settings = search_settings(config, base, targets)
    if resume:
        if not state_path.is_file():
            raise FileNotFoundError(f"--resume: no optimiser state at {state_path}")
        with open(state_path, "rb") as f:
            saved = pickle.load(f)
        # states from before stop 28 keep only the free names and the seeds
        stored = saved.get("settings") or {"free": saved["free"], "seeds": saved["seeds"]}
        changed = settings_changes(stored, {k: v for k, v in settings.items() if k in stored})
        if changed:
            raise ValueError(f"--resume: {state_path} was started with other settings, and continuing it would mix "
                             f"two searches: {'; '.join(changed)}. Start a new optimisation (another --dir) or "
                             "restore the settings")
        es, rows = saved["es"], saved["rows"]
        spent = float(saved.get("seconds", 0.0))
        log(f"resuming CMA-ES in {out}: {len(rows)} points evaluated, generation {es.countiter}")
    else:
        if state_path.exists():
            raise FileExistsError(f"{state_path} exists; use --resume to continue it, or choose another folder")
        out.mkdir(parents=True, exist_ok=True)
        opts = {"bounds": [0.0, 1.0], "seed": config.cma_seed, "verbose": -9}
        if config.population_size:
            opts["popsize"] = config.population_size
        es = cma.CMAEvolutionStrategy(config.to_unit(base), config.sigma0, opts)
        rows = []
        spent = 0.0
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) if workers > 1 else None
    t0 = time.perf_counter()
    try:
        while not es.stop() and len(rows) < budget:
            X = es.ask()
            sets = [{**base, **config.to_params(x)} for x in X]
            res = evaluate(sets, config.seeds, targets, pool)
            f = [d if math.isfinite(d) else 1e9 for d, _ in res]
            es.tell(X, f)
            for x, (d, _) in zip(X, res):
                rows.append({**config.to_params(x), "distance": d, "generation": es.countiter})

            def _state(p: Path) -> None:
                with open(p, "wb") as fh:
                    pickle.dump({"es": es, "rows": rows, "free": config.free, "seeds": config.seeds,
                                 "settings": settings, "seconds": spent + time.perf_counter() - t0}, fh)

            atomic_write(state_path, _state)
            atomic_write(evals_path, lambda p: pd.DataFrame(rows).to_csv(p, index=False))
            best = min(r["distance"] for r in rows)
            log(f"generation {es.countiter}: best distance {best:.1f}, this generation {min(f):.1f} "
                f"(median {np.median(f):.1f}), step size {es.sigma:.3f}, {len(rows)}/{budget} points, "
                f"{time.perf_counter() - t0:.0f} s")
    finally:
        if pool is not None:
            pool.shutdown()
    return pd.DataFrame(rows)


def search_seconds(folder: str | Path) -> float:
    """Wall-clock seconds the search in ``folder`` has spent evaluating points (summed over resumes; 0
    when not recorded)."""
    path = Path(folder) / "state.pkl"
    if not path.is_file():
        return 0.0
    with open(path, "rb") as f:
        return float(pickle.load(f).get("seconds", 0.0))


def search_mean(folder: str | Path, config: OptimiseConfig) -> dict[str, float] | None:
    """The optimiser's current mean (its best estimate under noise) as parameter values, if saved."""
    path = Path(folder) / "state.pkl"
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        es = pickle.load(f)["es"]
    return config.to_params(es.result.xfavorite)  # the mean mapped into the bounds (phenotype)


def refine(evals: pd.DataFrame, config: OptimiseConfig, targets, base: dict[str, Any], workers: int = 2,
           seeds: tuple[int, ...] | None = None, extra: list[dict] | None = None,
           incumbent: dict | None = None) -> tuple[dict, Any, pd.DataFrame, Any]:
    """Re-run the ``refine_top`` best points (plus ``extra`` candidates, e.g. the optimiser's mean) on
    fresh seeds (screening, :func:`choose`), then the ``confirm_top`` best of them on ``confirm_seeds``
    further seeds (:func:`confirm`): the best there by the issue's criteria is the point estimate.
    Returns (full parameter set, its :class:`~calibration.criteria.DoneCriteria` on the confirmation
    seeds, the candidates table, the criteria of ``incumbent`` on the same seeds or None)."""
    seeds = list(seeds or range(SCREEN_SEED0, SCREEN_SEED0 + config.refine_seeds))
    cand = evals.sort_values("distance").head(config.refine_top).assign(source="evaluated")
    if extra:
        cand = pd.concat([cand, pd.DataFrame(extra).assign(source="search mean")], ignore_index=True)
    cand = cand.reset_index(drop=True)
    sets = [{**base, **{p: float(r[p]) for p in config.free}} for _, r in cand.iterrows()]
    crit = rescore(sets, seeds, targets, workers)
    choose(cand, crit)
    i, best, inc = confirm(cand, sets, crit, targets, top=config.confirm_top, seeds=config.confirm_seeds,
                           workers=workers, incumbent=incumbent)
    return sets[i], best, cand, inc


def random_screen(config: OptimiseConfig, base: dict[str, Any], points: int, rng_seed: int = 1) -> list[dict]:
    """``points`` parameter sets around ``base``: the first is ``base`` itself, each other moves every
    free parameter by a normal step of s.d. ``config.screen_step`` in units of its interval, clipped to
    the interval; the parameters that are not free keep their ``base`` values. The step is smaller than
    CMA-ES's first one (``sigma0``) because every parameter moves at once: with 49 free parameters a
    step of 0.08 each moved all 23 screened sets of a check (2026-12-03) to 4-6 T1 cells from 8."""
    if points < 1:
        raise ValueError(f"points: {points}; at least 1")
    from sim.params import Params

    rng = np.random.default_rng(rng_seed)
    x0 = config.to_unit(base)
    defaults = Params()
    # base itself, a free parameter it lacks written out at its default (exactly, not through the unit cube)
    sets = [{**{p: getattr(defaults, p) for p in config.free if p not in base}, **base}]
    for _ in range(points - 1):
        sets.append({**base, **config.to_params(x0 + config.screen_step * rng.standard_normal(len(x0)))})
    return sets


def screen(config: OptimiseConfig, targets, base: dict[str, Any], points: int, workers: int = 2,
           rng_seed: int = 1) -> tuple[list[dict], list, pd.DataFrame]:
    """Run the :func:`random_screen` sets on ``config.screen_seeds`` seeds (300...) and judge each by the
    issue's criteria. Returns (the sets, their :class:`~calibration.criteria.DoneCriteria`, a table of
    the free parameters with the criteria, ``source`` "point" for the first row, "screen" else)."""
    sets = random_screen(config, base, points, rng_seed)
    crit = rescore(sets, list(range(LOCAL_SEED0, LOCAL_SEED0 + config.screen_seeds)), targets, workers)
    cand = pd.DataFrame([{p: s[p] for p in config.free} for s in sets])
    cand["source"] = ["point"] + ["screen"] * (len(sets) - 1)
    return sets, crit, pd.concat([cand, pd.DataFrame([c.as_row() for c in crit])], axis=1)


def write_point(params: dict, provenance: dict, out_dir: str | Path = HERE) -> Path:
    """Write ``calibrated.toml`` (the point estimate and its provenance) by atomic replacement."""
    doc = {"provenance": {**provenance, "date": dt.date.today().isoformat()},
           "params": {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in params.items()}}
    return write_calibrated(doc, out_dir)


def write_calibrated(doc: dict, out_dir: str | Path = HERE) -> Path:
    """Write ``doc`` (``provenance`` and ``params`` tables) as ``out_dir/calibrated.toml``, atomically."""
    import tomli_w

    path = Path(out_dir) / "calibrated.toml"
    atomic_write(path, lambda p: p.write_text("# Calibrated parameters (written by `sim calibrate`; do not edit "
                                               "by hand).\n" + tomli_w.dumps(doc), encoding="utf-8"))
    return path
