"""Continue a shipped ABC-SMC posterior in a new history (``sim calibrate --continue-from``).

An ABC-SMC generation needs only the previous generation: its particles, their importance weights and
their distances (Del Moral, Doucet and Jasra 2012; Toni et al. 2009). ``posterior.csv`` keeps exactly
that for the last generation, and ``calibrated.toml`` beside it keeps the run's settings
(``[provenance.posterior]``). So a posterior whose SQLite history is gone (``runs/`` is not shipped) can
still be continued: a new history starts with the shipped generation as its last population, and pyabc
samples the next generations from it as if the run had never stopped.

Before anything is written, the continuation checks that it continues the same calibration: the free
parameters, priors and seeds must equal the stored ones, and every particle is re-run on the
posterior's seeds, which must reproduce its stored distance. A changed model, target or fixed parameter
shows there and is refused, naming the particles. The re-runs also give the particles' summary
statistics, which pyabc stores with a population.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.abc import CalibrationConfig, SimulationModel, TargetDistance, stale_posterior

# relative and absolute tolerance of a re-run particle's distance against the stored one (the model is
# deterministic given its seed, so a difference means a different model, target or parameter set)
DISTANCE_TOLERANCE = 1e-9


@dataclass
class ShippedGeneration:
    """The last generation of a shipped posterior, re-run and ready to seed a history."""

    params: pd.DataFrame          # one row per particle, the free parameters
    weights: np.ndarray           # importance weights, summing to 1
    distances: np.ndarray         # as stored, and as re-run
    statistics: list[dict]        # each particle's summary statistics (median over the seeds)
    t: int                        # its generation index in the run it came from
    epsilon: float                # the threshold it was accepted under
    simulated_points: int         # points the run had simulated up to and including it
    sampling_seconds: float       # wall-clock seconds the run had spent sampling
    origin: dict                  # provenance of the continuation (file, run date, history, re-run cost)


def read_shipped(posterior_csv: str | Path, cfg: CalibrationConfig) -> tuple[pd.DataFrame, dict]:
    """``posterior.csv`` and the ``[provenance.posterior]`` of the ``calibrated.toml`` beside it, checked
    against the settings ``cfg`` of the run that would continue it. Refuses (ValueError naming what
    differs) a file that is missing columns, a posterior sampled around an earlier point, or one
    sampled with other free parameters, priors or seeds."""
    path = Path(posterior_csv)
    if not path.is_file():
        raise FileNotFoundError(f"--continue-from: no posterior at {path}")
    point = path.with_name("calibrated.toml")
    if not point.is_file():
        raise FileNotFoundError(f"--continue-from: no calibrated.toml beside {path} (its settings are kept there)")
    if why := stale_posterior(path.parent):
        raise ValueError(f"--continue-from: {why}")
    prov = tomllib.loads(point.read_text(encoding="utf-8"))["provenance"]["posterior"]
    post = pd.read_csv(path)
    need = [*cfg.free, "weight", "distance", "generation"]
    missing = [c for c in need if c not in post.columns]
    if missing:
        raise ValueError(f"--continue-from {path}: columns {missing} missing (needed: {', '.join(need)})")
    stored = {"free parameters": list(prov.get("free_parameters", [])),
              "priors": {k: [float(v) for v in b] for k, b in prov.get("priors", {}).items()},
              "seeds": list(prov.get("seeds_per_point", []))}
    now = {"free parameters": list(cfg.free),
           "priors": {k: [float(lo), float(hi)] for k, (lo, hi) in cfg.bounds.items()},
           "seeds": list(cfg.seeds)}
    changed = [f"{k} (stored {stored[k]!r:.300}, now {now[k]!r:.300})" for k in now
               if not _same(stored[k], now[k])]
    if changed:
        raise ValueError(f"--continue-from {path}: the posterior was sampled with other settings, and continuing "
                         f"it would mix two calibrations: {'; '.join(changed)}. Start a new posterior (`sim "
                         "calibrate` without --continue-from) or restore the settings")
    gens = sorted(set(post["generation"]))
    if gens != [int(prov["generations"]) - 1]:
        raise ValueError(f"--continue-from {path}: generation column {gens} is not the last generation "
                         f"({int(prov['generations']) - 1}) of the run in {point}")
    if not np.isclose(post["weight"].sum(), 1.0) or (post["weight"] < 0).any():
        raise ValueError(f"--continue-from {path}: weights must be non-negative and sum to 1 "
                         f"(they sum to {post['weight'].sum():g})")
    return post, prov


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def rerun_particles(post: pd.DataFrame, cfg: CalibrationConfig, targets, workers: int = 2) -> tuple[list[dict], np.ndarray]:
    """Each particle's summary statistics and distance, re-run on ``cfg.seeds`` with the other
    parameters at ``cfg.fixed`` (the ABC model itself, :class:`calibration.abc.SimulationModel`)."""
    model = SimulationModel(cfg.seeds, cfg.fixed)
    rows = [{k: float(r[k]) for k in cfg.free} for _, r in post.iterrows()]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) as pool:
            stats = list(pool.map(model, rows))
    else:
        stats = [model(r) for r in rows]
    dist = TargetDistance(targets)
    return stats, np.array([dist(s) for s in stats], dtype=float)


def shipped_generation(posterior_csv: str | Path, cfg: CalibrationConfig, targets, workers: int = 2,
                       log=print) -> ShippedGeneration:
    """The last generation of the posterior in ``posterior_csv``, checked (:func:`read_shipped`) and
    re-run (:func:`rerun_particles`); refused, naming the particles, if a re-run distance differs from
    the stored one."""
    post, prov = read_shipped(posterior_csv, cfg)
    log(f"re-running the {len(post)} particles of {posterior_csv} on seeds {cfg.seeds} to check their distances")
    t0 = time.perf_counter()
    stats, dist = rerun_particles(post, cfg, targets, workers)
    stored = post["distance"].to_numpy(dtype=float)
    bad = [i for i in range(len(post))
           if not math.isclose(dist[i], stored[i], rel_tol=DISTANCE_TOLERANCE, abs_tol=DISTANCE_TOLERANCE)]
    if bad:
        shown = "; ".join(f"particle {i}: stored {stored[i]:.6g}, re-run {dist[i]:.6g}" for i in bad[:3])
        raise ValueError(f"--continue-from {posterior_csv}: {len(bad)} of {len(post)} particles do not reproduce "
                         f"their stored distance ({shown}): the model, the targets or the parameters held fixed "
                         "have changed since the posterior was sampled, so it cannot be continued; start a new "
                         "posterior (`sim calibrate` without --continue-from)")
    seconds = time.perf_counter() - t0
    log(f"all {len(post)} distances reproduced ({len(post) * len(cfg.seeds)} runs, {seconds / 60:.1f} min)")
    t = int(prov["generations"]) - 1
    origin = {"posterior": str(posterior_csv), "generation": t, "run_date": str(prov.get("date", "")),
              "history": str(prov.get("history", "")), "simulated_points": int(prov["simulated_points"]),
              "check_runs": len(post) * len(cfg.seeds), "check_minutes": round(seconds / 60, 1)}
    return ShippedGeneration(params=post[list(cfg.free)].reset_index(drop=True),
                             weights=post["weight"].to_numpy(dtype=float) / post["weight"].sum(),
                             distances=dist, statistics=stats, t=t, epsilon=float(prov["final_epsilon"]),
                             simulated_points=int(prov["simulated_points"]),
                             sampling_seconds=60.0 * float(prov.get("sampling_minutes", 0.0)), origin=origin)


def seed_history(abc, url: str, gen: ShippedGeneration, observed: dict) -> None:
    """Start a new pyabc history at ``url`` whose only population is ``gen``, stored under its own
    generation index and with the run's simulation count, so that generation numbers and the budget
    continue where the shipped run stopped."""
    import pyabc
    from pyabc.population import Particle, Population

    abc.new(url, observed)
    particles = [Particle(m=0, parameter=pyabc.Parameter({k: float(v) for k, v in row.items()}),
                          weight=float(w), sum_stat=stats, distance=float(d), accepted=True)
                 for (_, row), w, stats, d in zip(gen.params.iterrows(), gen.weights, gen.statistics, gen.distances)]
    abc.history.append_population(gen.t, gen.epsilon, Population(particles), gen.simulated_points,
                                  [m.name for m in abc.models])


def continued_from(db: str | Path) -> dict | None:
    """The provenance of the shipped posterior that the history ``db`` continues, or None."""
    from calibration.abc import settings_file

    f = settings_file(db)
    return json.loads(f.read_text()).get("continued_from") if f.is_file() else None
