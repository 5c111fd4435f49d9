"""`sim calibrate`: run or resume ABC-SMC, then write the shipped result.

Outputs (in ``calibration/`` unless ``out_dir`` is given):

- ``calibrated.toml``: the point estimate (the accepted particle of the last generation with the
  smallest distance) as a ``[params]`` table, with the posterior's provenance (budget, generations,
  accepted particles, final epsilon, date). ``scenarios/baseline.toml`` reads it.
- ``posterior.csv``: the last generation's particles and weights, for drawing parameter sets.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import tomli_w

from calibration.abc import CONFIG_FILE, HERE, CalibrationConfig, posterior_sample, run_abc
from calibration.targets import TARGETS_FILE, load_targets


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
    return write_result(history, cfg, budget, out_dir, db)


def write_result(history, cfg: CalibrationConfig, budget: int, out_dir: str | Path, db) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = history.max_t
    post = posterior_sample(history, t)
    dist = history.get_weighted_distances(t=t)["distance"].to_numpy()
    best = post.iloc[int(dist.argmin())]
    pops = history.get_all_populations()
    params = {k: float(best[k]) for k in cfg.free}
    params.update(cfg.fixed)
    doc = {
        "provenance": {
            "method": "ABC-SMC (pyabc), uniform priors over the documented ranges (calibration/calibration.toml)",
            "point_estimate": "accepted particle of the last generation with the smallest distance",
            "date": dt.date.today().isoformat(),
            "budget_points": int(budget),
            "simulated_points": int(history.total_nr_simulations),
            "seeds_per_point": list(cfg.seeds),
            "generations": int(t + 1),
            "accepted_particles": int(len(post)),
            "final_epsilon": float(pops["epsilon"].iloc[-1]),
            "best_distance": float(dist.min()),
            "history": str(db),
        },
        "params": params,
    }
    path = out_dir / "calibrated.toml"
    tmp = path.with_suffix(".toml.partial")
    tmp.write_text("# Calibrated parameters (written by `sim calibrate`; do not edit by hand).\n"
                   + tomli_w.dumps(doc))
    tmp.replace(path)
    cols = [*cfg.free, "weight"]
    post_out = post[cols].assign(distance=dist, generation=t)
    ptmp = out_dir / "posterior.csv.partial"
    post_out.to_csv(ptmp, index=False)
    ptmp.replace(out_dir / "posterior.csv")
    return path


def load_posterior(path: str | Path = HERE / "posterior.csv") -> pd.DataFrame:
    return pd.read_csv(path)
