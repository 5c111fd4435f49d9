"""`sim calibrate`: run or resume ABC-SMC, then write the shipped result.

Outputs (in ``calibration/`` unless ``out_dir`` is given):

- ``calibrated.toml``: the point estimate as a ``[params]`` table: the ``refine_top`` accepted
  particles with the smallest distances (over all generations) are re-run on fresh seeds and the one
  with the smallest distance there is kept, so that a lucky draw of three seeds does not decide; with the posterior's provenance (budget, generations,
  accepted particles, final epsilon, date). ``scenarios/baseline.toml`` reads it.
- ``posterior.csv``: the last generation's particles and weights, for drawing parameter sets.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.abc import CONFIG_FILE, HERE, CalibrationConfig, posterior_sample, run_abc
from calibration.criteria import DoneCriteria
from calibration.optimise import CONFIRM_SEED0, SCREEN_SEED0, confirm, write_calibrated
from calibration.targets import TARGETS_FILE, load_targets
from sim.files import atomic_write


def calibrate(*, budget: int, resume: bool = False, scheduler: str | None = None, workers: int = 2,
              db: str | Path = "runs/calibration/abc.db", config: str | Path = CONFIG_FILE,
              targets: str | Path = TARGETS_FILE, out_dir: str | Path = HERE,
              population_size: int | None = None, generations: int | None = None, log=print) -> Path:
    cfg = CalibrationConfig.load(config)
    if population_size:
        cfg.population_size = population_size
    if generations:
        cfg.generations = generations
    tg = load_targets(targets)
    log(f"ABC-SMC: {len(cfg.free)} free parameters, {len(tg)} targets, {cfg.population_size} particles per "
        f"generation, {len(cfg.seeds)} seeds per point, budget {budget} points, history {db}")
    history = run_abc(db, budget=budget, config=cfg, targets=tg, workers=workers, scheduler=scheduler,
                      resume=resume, log=log)
    return write_result(history, cfg, budget, out_dir, db, targets=tg, workers=workers)


def refine_point(history, cfg: CalibrationConfig, targets, top: int = 12,
                 seeds=tuple(range(100, 106)), workers: int = 2) -> tuple[list[dict], list[DoneCriteria], pd.DataFrame]:
    """Re-run the ``top`` best accepted particles (all generations) on fresh seeds (screening); return
    their parameter sets, their criteria there (:func:`calibration.criteria.done_criteria`) and the table
    of candidates (with the screening columns of :func:`calibration.optimise.choose`)."""
    from calibration.optimise import choose, rescore

    cands = []
    for t in range(history.max_t + 1):
        df, _ = history.get_distribution(t=t)
        d = history.get_weighted_distances(t=t)["distance"].to_numpy()
        df = df.reset_index(drop=True).assign(distance=d, generation=t)
        cands.append(df)
    cand = pd.concat(cands, ignore_index=True).sort_values("distance").head(top).reset_index(drop=True)
    sets = [{**cfg.fixed, **{k: float(r[k]) for k in cfg.free}} for _, r in cand.iterrows()]
    crit = rescore(sets, list(seeds), targets, workers)
    choose(cand, crit)
    return sets, crit, cand


def _criteria_record(c: DoneCriteria) -> dict:
    """A candidate's fresh-seed criteria as a provenance table."""
    r = c.as_row()
    return {k: (int(v) if isinstance(v, (int, np.integer)) else float(v)) for k, v in r.items()}


def write_result(history, cfg: CalibrationConfig, budget: int, out_dir: str | Path, db, targets=None,
                 workers: int = 2) -> Path:
    refine_top = cfg.refine_top
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = history.max_t
    post = posterior_sample(history, t)
    dist = history.get_weighted_distances(t=t)["distance"].to_numpy()
    pops = history.get_all_populations()
    targets = targets or load_targets()
    sets, screened, cand = refine_point(history, cfg, targets, top=refine_top, workers=workers,
                                        seeds=tuple(range(SCREEN_SEED0, SCREEN_SEED0 + cfg.refine_seeds)))
    path = out_dir / "calibrated.toml"
    old = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    incumbent = old["params"] if old and set(cfg.free) <= set(old.get("params", {})) else None
    # the best screened particles and the existing point estimate, on the same confirmation seeds
    i, best, old_c = confirm(cand, sets, screened, targets, top=cfg.confirm_top, seeds=cfg.confirm_seeds,
                             workers=workers, incumbent=incumbent)
    keep = old_c is not None and math.isfinite(old_c.distance) and old_c.rank_key() >= best.rank_key()
    params = sets[i]
    refined = best.distance
    cand.to_csv(out_dir / "posterior_candidates.csv", index=False)
    w = post["weight"].to_numpy()
    ess = float(1.0 / np.sum(w ** 2))
    posterior = {
        "method": "ABC-SMC (pyabc), uniform priors (below; from calibration/calibration.toml [calibration], "
                  "a neighbourhood of the point estimate with prior_around_point); the other parameters held at "
                  "the point estimate",
        "free_parameters": list(cfg.free),
        "priors": {k: [float(lo), float(hi)] for k, (lo, hi) in cfg.bounds.items()},
        "effective_sample_size": ess,
        "date": dt.date.today().isoformat(),
        "budget_points": int(budget),
        "simulated_points": int(history.total_nr_simulations),
        "seeds_per_point": list(cfg.seeds),
        "generations": int(t + 1),
        "accepted_particles": int(len(post)),
        "final_epsilon": float(pops["epsilon"].iloc[-1]),
        "best_distance_last_generation": float(dist.min()),
        "best_particle_distance_confirm_seeds": refined,
        "confirm_seeds": list(range(CONFIRM_SEED0, CONFIRM_SEED0 + cfg.confirm_seeds)),
        "history": str(db),
    }
    posterior["best_particle_confirm_seeds"] = _criteria_record(best)
    old_d = old_c.distance if old_c is not None else None
    if keep:
        # the existing point estimate (e.g. from `sim calibrate --optimise`) ranks at least as high on
        # the same confirmation seeds by the criteria: keep it, and record the posterior beside it
        posterior["point_estimate_confirm_seeds"] = _criteria_record(old_c)
        doc = {"provenance": {**old["provenance"], "posterior": posterior}, "params": old["params"]}
    else:
        doc = {
            "provenance": {
                "method": "ABC-SMC (pyabc): the best accepted particle (details under posterior)",
                "point_estimate": f"the {refine_top} accepted particles with the smallest distances re-run "
                                  f"on {cfg.refine_seeds} fresh seeds, the best {cfg.confirm_top} of them and the "
                                  f"previous point on {cfg.confirm_seeds} more; best by the issue's criteria, then "
                                  "the distance (calibration/criteria.py; posterior_candidates.csv)",
                "point_distance_fresh_seeds": refined,
                "fresh_seeds": list(range(CONFIRM_SEED0, CONFIRM_SEED0 + cfg.confirm_seeds)),
                "date": dt.date.today().isoformat(),
                "posterior": posterior,
            },
            "params": {**cfg.fixed, **params},
        }
        if old:  # the point this particle replaced, and how it scored on the same seeds
            doc["provenance"]["replaced_point"] = {**{k: v for k, v in old.get("provenance", {}).items()
                                                      if not isinstance(v, dict)},
                                                   "distance_fresh_seeds_rechecked": old_d,
                                                   **({"confirm_seeds": _criteria_record(old_c)} if old_c else {})}
    path = write_calibrated(doc, out_dir)
    cols = [*cfg.free, "weight"]
    post_out = post[cols].assign(distance=dist, generation=t)
    atomic_write(out_dir / "posterior.csv", lambda p: post_out.to_csv(p, index=False))
    return path


def load_posterior(path: str | Path = HERE / "posterior.csv") -> pd.DataFrame:
    return pd.read_csv(path)


def calibrate_point(*, budget: int, resume: bool = False, workers: int = 2,
                    folder: str | Path = "runs/calibration/optimise", config: str | Path = CONFIG_FILE,
                    targets: str | Path = TARGETS_FILE, out_dir: str | Path = HERE, log=print) -> Path:
    """Stage 1 (``sim calibrate --optimise``): the point estimate by CMA-ES
    (:mod:`calibration.optimise`), written to ``out_dir/calibrated.toml``. The optimiser's state and
    every evaluation stay in ``folder`` (``--resume`` continues from them). The existing point estimate
    in ``out_dir`` is re-run on the confirmation seeds beside the search's best candidates and is
    replaced only if one of them ranks higher (:mod:`calibration.criteria`)."""
    from calibration.optimise import OptimiseConfig, optimise, refine, search_mean, write_point

    cfg = OptimiseConfig.load(config)
    tg = load_targets(targets)
    point = Path(out_dir) / "calibrated.toml"
    base = tomllib.loads(point.read_text(encoding="utf-8"))["params"] if point.is_file() else {}
    log(f"CMA-ES: {len(cfg.free)} free parameters, {len(tg)} targets, {len(cfg.seeds)} seeds per point, "
        f"budget {budget} points, state in {folder}")
    evals = optimise(folder, budget=budget, config=cfg, targets=tg, base=base, workers=workers, resume=resume,
                     log=log)
    mean = search_mean(folder, cfg)
    params, crit, cand, inc = refine(evals, cfg, tg, base, workers=workers, extra=[mean] if mean else None,
                                     incumbent=base or None)
    refined = crit.distance
    cand.to_csv(Path(folder) / "candidates.csv", index=False)
    keep = inc is not None and math.isfinite(inc.distance) and inc.rank_key() >= crit.rank_key()
    if not keep:
        cand.to_csv(Path(out_dir) / "candidates.csv", index=False)
    prov = {
        "method": "CMA-ES (cma) on the target distance of the median statistics over the seeds "
                  "(calibration/optimise.py); intervals in calibration/calibration.toml [optimise]",
        "point_estimate": f"the {cfg.refine_top} lowest-distance points and the search's final mean re-run on "
                          f"{cfg.refine_seeds} fresh seeds, the best {cfg.confirm_top} of them on {cfg.confirm_seeds} "
                          "more; best by the issue's criteria, then the distance (calibration/criteria.py; "
                          "candidates.csv)",
        "point_confirm_seeds": _criteria_record(crit),
        "point_distance_fresh_seeds": refined,
        "fresh_seeds": list(range(CONFIRM_SEED0, CONFIRM_SEED0 + cfg.confirm_seeds)),
        "free_parameters": cfg.free,
        "seeds_per_point": list(cfg.seeds),
        "budget_points": int(budget),
        "evaluated_points": int(len(evals)),
        "generations": int(evals["generation"].max()) if len(evals) else 0,
        "best_distance": float(evals["distance"].min()) if len(evals) else math.nan,
        "evaluations": str(Path(folder) / "evaluations.csv"),
    }
    if inc is not None:
        prov["previous_point_confirm_seeds"] = _criteria_record(inc)
    if keep:
        # the existing point ranks at least as high on the same confirmation seeds: keep it, and record
        # the search beside it
        old = tomllib.loads(point.read_text(encoding="utf-8"))
        prov["outcome"] = "previous point kept: it ranks at least as high on the confirmation seeds"
        prov["candidates"] = str(Path(folder) / "candidates.csv")
        prov["date"] = dt.date.today().isoformat()
        log("the previous point estimate ranks at least as high as the search's best candidate: kept")
        return write_calibrated({"provenance": {**old.get("provenance", {}), "last_search": prov},
                                 "params": old["params"]}, out_dir)
    return write_point(params, prov, out_dir)
