"""`sim calibrate`: run or resume ABC-SMC, then write the shipped result.

Outputs (in ``calibration/`` unless ``out_dir`` is given):

- ``calibrated.toml``: the point estimate as a ``[params]`` table, chosen in two steps among the
  ``refine_top`` accepted particles with the smallest distances (over all generations) and the current
  point (:func:`adopt_best`), so that a lucky draw of three seeds does not decide, and a particle that
  ranks above the point is verified against it on seeds on which it was not chosen; with the posterior's
  provenance (budget, generations, accepted particles, final epsilon, date). ``scenarios/baseline.toml``
  reads it.
- ``posterior_candidates.csv``: those particles with their re-run scores; ``sim calibrate --reselect``
  re-applies the choice to them.
- ``posterior.csv``: the last generation's particles and weights, for drawing parameter sets.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calibration.abc import (CONFIG_FILE, HERE, CalibrationConfig, posterior_sample, run_abc, sampling_seconds,
                             stored_centre)
from calibration.continuation import continued_from
from calibration.criteria import DoneCriteria
from calibration.optimise import confirm, write_calibrated
from calibration.seeds import CONFIRM_SEED0, LOCAL_SEED0, SCREEN_SEED0, TRY_SEED0, VERIFY_SEED0
from calibration.seeds import seeds as _seeds
from calibration.targets import TARGETS_FILE, load_targets
from sim.files import atomic_write


def calibrate(*, budget: int, resume: bool = False, scheduler: str | None = None, workers: int = 2,
              db: str | Path = "runs/calibration/abc.db", config: str | Path = CONFIG_FILE,
              targets: str | Path = TARGETS_FILE, out_dir: str | Path = HERE,
              population_size: int | None = None, generations: int | None = None,
              continue_from: str | Path | None = None, log=print) -> Path:
    """ABC-SMC around the point estimate, then the shipped result (:func:`write_result`). With
    ``continue_from`` (a ``posterior.csv`` with its ``calibrated.toml`` beside it), a new history ``db``
    starts at that posterior's generation and continues it (:mod:`calibration.continuation`)."""
    if continue_from is not None and resume:
        raise ValueError("--continue-from starts a new history from a shipped posterior; --resume continues a "
                         "stored one: give one of them")
    cfg = stage2_config(config, out_dir, log, centre=stored_centre(db) if resume else None)
    if population_size:
        cfg.population_size = population_size
    if generations:
        cfg.generations = generations
    tg = load_targets(targets)
    start = None
    if continue_from is not None:
        from calibration.continuation import shipped_generation

        if Path(db).exists():
            raise FileExistsError(f"{db} exists; a continued posterior starts a new history: choose another --db")
        start = shipped_generation(continue_from, cfg, tg, workers=workers, log=log)
    log(f"ABC-SMC: {len(cfg.free)} free parameters, {len(tg)} targets, {cfg.population_size} particles per "
        f"generation, {len(cfg.seeds)} seeds per point, budget {budget} points, history {db}")
    history = run_abc(db, budget=budget, config=cfg, targets=tg, workers=workers, scheduler=scheduler,
                      resume=resume, start=start, log=log)
    return write_result(history, cfg, budget, out_dir, db, targets=tg, workers=workers, log=log)


def stage2_config(config: str | Path, out_dir: str | Path, log=print,
                  centre: dict[str, Any] | None = None) -> CalibrationConfig:
    """The ``[calibration]`` settings for a posterior written to ``out_dir``: the parameters that are
    not free are held at (and the local priors centred on) the point estimate in
    ``out_dir/calibrated.toml``, the point the result is compared with and written beside; when
    ``out_dir`` has none yet, the one beside ``config`` (the shipped point), which the log names. A
    resumed history passes ``centre``, the point it started from (:func:`calibration.abc.stored_centre`),
    which the finished first part may since have replaced."""
    point = _start_point(out_dir, config) or Path(config).with_name("calibrated.toml")
    cfg = CalibrationConfig.load(config, point=point, centre=centre)
    if centre is not None:
        log("priors centred on, and other parameters held at, the point estimate the history started from")
    elif cfg.centre is not None:
        log(f"priors centred on, and other parameters held at, the point estimate in {point}")
    return cfg


def history_candidates(history, top: int) -> pd.DataFrame:
    """The ``top`` accepted particles (all generations) with the smallest distances: one row each, the
    free parameters, ``distance`` and ``generation``."""
    cands = []
    # every stored generation (a history continued from a shipped posterior begins at a later one)
    for t in sorted(int(t) for t in history.get_all_populations()["t"] if t >= 0):
        df, _ = history.get_distribution(t=t)
        d = history.get_weighted_distances(t=t)["distance"].to_numpy()
        df = df.reset_index(drop=True).assign(distance=d, generation=t)
        cands.append(df)
    return pd.concat(cands, ignore_index=True).sort_values("distance").head(top).reset_index(drop=True)


def screen_candidates(cand: pd.DataFrame, cfg: CalibrationConfig, targets, seeds,
                      workers: int = 2) -> tuple[list[dict], list[DoneCriteria]]:
    """Re-run the candidates (rows of free parameters, the rest at ``cfg.fixed``) on the screening
    seeds; return their parameter sets and their criteria there (:func:`calibration.criteria.done_criteria`),
    and add the screening columns of :func:`calibration.optimise.choose` to ``cand``."""
    from calibration.optimise import choose, rescore

    sets = [{**cfg.fixed, **{k: float(r[k]) for k in cfg.free}} for _, r in cand.iterrows()]
    crit = rescore(sets, list(seeds), targets, workers)
    choose(cand, crit)
    return sets, crit


def _rerun_cost(cand: pd.DataFrame, screen_seeds: int, confirm_seeds: int, verified: bool, verify_seeds: int,
                since: float, incumbent: bool = True) -> dict:
    """The cost of choosing among candidates (the rows of ``cand``, each screened on ``screen_seeds`` seeds;
    those with a ``confirm_distance`` and the incumbent on ``confirm_seeds``; a challenger and the point
    on ``verify_seeds`` when ``verified``): model runs and minutes since ``since`` (``time.perf_counter``)."""
    confirmed = int(cand["confirm_distance"].notna().sum()) + int(incumbent)
    runs = len(cand) * screen_seeds + confirmed * confirm_seeds + (2 * verify_seeds if verified else 0)
    return {"rerun_runs": int(runs), "rerun_minutes": round((time.perf_counter() - since) / 60, 1)}


def _criteria_record(c: DoneCriteria) -> dict:
    """A candidate's fresh-seed criteria as a provenance table."""
    r = c.as_row()
    return {k: (int(v) if isinstance(v, (int, np.integer)) else float(v)) for k, v in r.items()}


def _stale_posterior_note(point: Path, log) -> Path:
    """After a stage-1 step replaced the point in ``point``: say so if the posterior beside it is now
    stale (:func:`calibration.abc.stale_posterior`). Returns ``point``."""
    from calibration.abc import stale_posterior

    if (point.parent / "posterior.csv").is_file() and (why := stale_posterior(point.parent)):
        log(f"note: {why}")
    return point


def _replaced_point(old: dict, scored: dict) -> dict:
    """Provenance of the point a new one replaces: the top-level entries of the old ``calibrated.toml``'s
    provenance (nested tables left out) and ``scored``, how it did on the same confirmation seeds."""
    return {**{k: v for k, v in old.get("provenance", {}).items() if not isinstance(v, dict)}, **scored}


def _verified(challenger: dict, incumbent: dict, n: int, targets, workers: int, log) -> tuple[bool, dict]:
    """The winner's-curse check: a challenger that ranked above the point on the confirmation seeds was
    chosen there as the best of several, so both are re-run on ``n`` verification seeds from
    ``VERIFY_SEED0`` (:mod:`calibration.seeds`), on which the challenger was not chosen. Returns (whether
    it still ranks higher there, the provenance table ``verification``)."""
    from calibration.optimise import rescore

    seeds = _seeds(VERIFY_SEED0, n)
    ch, inc = rescore([challenger, incumbent], seeds, targets, workers)
    ok = inc.rank_key() < ch.rank_key()
    log(f"verification on seeds {seeds[0]}-{seeds[-1]}: the challenger {'still ranks' if ok else 'does not rank'} "
        f"above the point (distance {ch.distance:.1f} against {inc.distance:.1f})")
    return ok, {"seeds": seeds, "challenger": _criteria_record(ch), "previous_point": _criteria_record(inc),
                "outcome": "challenger adopted" if ok else "previous point kept"}


def adopt_best(cand: pd.DataFrame, cfg: CalibrationConfig, targets, out_dir: str | Path, posterior: dict,
               workers: int = 2, rule_applied: str | None = None, log=print) -> Path:
    """The two-step choice of the point estimate among posterior candidates (``cand``: free parameters,
    ``distance``, ``generation``): screen them on ``refine_seeds`` fresh seeds, re-run the best
    ``confirm_top`` and the current point (``out_dir/calibrated.toml``) on ``confirm_seeds`` more, and
    write ``calibrated.toml`` with the best of them by the issue's criteria (:mod:`calibration.criteria`);
    the current point stays when it ranks at least as high there, or when a particle that ranks higher
    there does not also rank higher on ``verify_seeds`` seeds on which it was not chosen (:func:`_verified`).
    ``posterior`` is the posterior's provenance table, to which the best candidate's confirmation
    criteria (and its verification) are added. ``posterior_candidates.csv`` (the candidates with their
    screening and confirmation columns) is written beside it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sets, screened = screen_candidates(cand, cfg, targets, _seeds(SCREEN_SEED0, cfg.refine_seeds), workers)
    path = out_dir / "calibrated.toml"
    old = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    # the current point, as the model runs it (a parameter it does not set, e.g. one freed since, at its default)
    incumbent = old["params"] if old and old.get("params") else None
    # the best screened particles and the existing point estimate, on the same confirmation seeds
    i, best, old_c = confirm(cand, sets, screened, targets, top=cfg.confirm_top, seeds=cfg.confirm_seeds,
                             workers=workers, incumbent=incumbent)
    keep = old_c is not None and math.isfinite(old_c.distance) and old_c.rank_key() >= best.rank_key()
    check = None
    if not keep and incumbent is not None:  # it ranked higher on the seeds it was chosen on: verify it
        ok, check = _verified(sets[i], incumbent, cfg.verify_seeds, targets, workers, log)
        keep = not ok
    atomic_write(out_dir / "posterior_candidates.csv", lambda p: cand.to_csv(p, index=False))
    confirm_seeds = _seeds(CONFIRM_SEED0, cfg.confirm_seeds)
    # the previous choice's records (best_particle_*, point_estimate_*) give way to this one's
    posterior = {**{k: v for k, v in posterior.items() if not k.startswith(("best_particle_", "point_estimate_"))},
                 "best_particle_distance_confirm_seeds": best.distance, "confirm_seeds": confirm_seeds,
                 "best_particle_confirm_seeds": _criteria_record(best),
                 **_rerun_cost(cand, cfg.refine_seeds, cfg.confirm_seeds, check is not None, cfg.verify_seeds, t0,
                               incumbent is not None)}
    if check:
        posterior["best_particle_verification"] = check
    today = dt.date.today().isoformat()
    if keep:
        # the existing point estimate (e.g. from `sim calibrate --optimise`) ranks at least as high on
        # the same confirmation seeds by the criteria: keep it, and record the posterior beside it
        posterior["point_estimate_confirm_seeds"] = _criteria_record(old_c)
        prov = {**old.get("provenance", {}), "posterior": posterior}
        if rule_applied:
            prov["rule_applied"] = f"on {today} {rule_applied}, keeping the point"
        return write_calibrated({"provenance": prov, "params": old["params"]}, out_dir)
    prov = {
        "method": "ABC-SMC (pyabc): an accepted particle (details under posterior)",
        "point_estimate": f"the {len(cand)} accepted particles with the smallest distances re-run on "
                          f"{cfg.refine_seeds} fresh seeds ({SCREEN_SEED0}-{SCREEN_SEED0 + cfg.refine_seeds - 1}), "
                          f"the best {cfg.confirm_top} of them and the previous point on {cfg.confirm_seeds} more; "
                          "best by the issue's criteria, then the distance (calibration/criteria.py; "
                          "posterior_candidates.csv)" + (
                              f"; it also ranked above the previous point on {cfg.verify_seeds} verification seeds "
                              f"({VERIFY_SEED0}-{VERIFY_SEED0 + cfg.verify_seeds - 1}), on which it was not chosen"
                              if check else ""),
        "point_distance_fresh_seeds": best.distance,
        "point_confirm_seeds": _criteria_record(best),
        "fresh_seeds": confirm_seeds,
        "date": today,
    }
    if rule_applied:
        prov["rule_applied"] = f"on {today} {rule_applied}"
    prov["posterior"] = posterior
    if old:  # the point this particle replaced, and how it scored on the same seeds
        prov["replaced_point"] = _replaced_point(old, {"distance_fresh_seeds_rechecked": old_c.distance,
                                                       "confirm_seeds": _criteria_record(old_c)} if old_c else {})
    return write_calibrated({"provenance": prov, "params": {**cfg.fixed, **sets[i]}}, out_dir)


def write_result(history, cfg: CalibrationConfig, budget: int, out_dir: str | Path, db, targets=None,
                 workers: int = 2, log=print) -> Path:
    """Write the posterior (``posterior.csv``) and the point estimate chosen among its best particles
    (:func:`adopt_best`) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = history.max_t
    post = posterior_sample(history, t)
    dist = history.get_weighted_distances(t=t)["distance"].to_numpy()
    pops = history.get_all_populations()
    targets = targets or load_targets()
    w = post["weight"].to_numpy()
    posterior = {
        "method": "ABC-SMC (pyabc), uniform priors (below; from calibration/calibration.toml [calibration], "
                  "a neighbourhood of the point estimate with prior_around_point); the other parameters held at "
                  "the point estimate",
        "free_parameters": list(cfg.free),
        "priors": {k: [float(lo), float(hi)] for k, (lo, hi) in cfg.bounds.items()},
        "effective_sample_size": float(1.0 / np.sum(w ** 2)),
        "date": dt.date.today().isoformat(),
        "budget_points": int(budget),
        "simulated_points": int(history.total_nr_simulations),
        "simulation_runs": int(history.total_nr_simulations) * len(cfg.seeds),
        "sampling_minutes": round(sampling_seconds(db) / 60, 1),
        "seeds_per_point": list(cfg.seeds),
        "generations": int(t + 1),
        "accepted_particles": int(len(post)),
        "final_epsilon": float(pops["epsilon"].iloc[-1]),
        "best_distance_last_generation": float(dist.min()),
        "history": str(db),
    }
    if origin := continued_from(db):  # the history began at a shipped generation of an earlier run
        posterior["continued_from"] = origin
    path = adopt_best(history_candidates(history, cfg.refine_top), cfg, targets, out_dir, posterior,
                      workers=workers, log=log)
    cols = [*cfg.free, "weight"]
    post_out = post[cols].assign(distance=dist, generation=t)
    atomic_write(out_dir / "posterior.csv", lambda p: post_out.to_csv(p, index=False))
    return path


def reselect(*, out_dir: str | Path = HERE, config: str | Path = CONFIG_FILE, targets: str | Path = TARGETS_FILE,
             workers: int = 2, log=print) -> Path:
    """``sim calibrate --reselect``: re-apply the choice of the point estimate (:func:`adopt_best`) to
    the posterior candidates already in ``out_dir/posterior_candidates.csv``, without the ABC history
    (which is not shipped): after a change to the rule or to the model, or to check the shipped choice.
    The posterior (``posterior.csv``) is not touched."""
    out_dir = Path(out_dir)
    cand_path, point = out_dir / "posterior_candidates.csv", out_dir / "calibrated.toml"
    for f in (cand_path, point):
        if not f.is_file():
            raise FileNotFoundError(f"--reselect: no {f.name} in {out_dir}")
    cfg = CalibrationConfig.load(config, point=point)
    cand = pd.read_csv(cand_path)
    missing = [k for k in (*cfg.free, "distance", "generation") if k not in cand.columns]
    if missing:
        raise ValueError(f"{cand_path}: columns {missing} missing (needed: the [calibration] free parameters "
                         f"{cfg.free}, distance, generation)")
    cand = cand[[*cfg.free, "distance", "generation"]].copy()
    posterior = tomllib.loads(point.read_text(encoding="utf-8"))["provenance"].get("posterior")
    if posterior is None:
        raise ValueError(f"{point}: no [provenance.posterior] table; run `sim calibrate` to make a posterior first")
    log(f"re-applying the point choice to {len(cand)} candidates in {cand_path}: {cfg.refine_seeds} screening "
        f"seeds, the best {cfg.confirm_top} and the current point on {cfg.confirm_seeds} more")
    return adopt_best(cand, cfg, load_targets(targets), out_dir, posterior, workers=workers, log=log,
                      rule_applied=f"to the candidates in {cand_path.name} (sim calibrate --reselect)")


def load_posterior(path: str | Path = HERE / "posterior.csv") -> pd.DataFrame:
    return pd.read_csv(path)


def _keep_point(old: dict, search: dict, out_dir: str | Path, log,
                where: str = "the confirmation seeds") -> Path:
    """The existing point (``old``, the parsed ``calibrated.toml``) ranks at least as high on the same
    seeds (``where``) as the search's best: keep it, with the search's provenance as ``last_search``."""
    search = {**search, "outcome": f"previous point kept: it ranks at least as high on {where}",
              "date": dt.date.today().isoformat()}
    log(f"the previous point estimate ranks at least as high as the search's best candidate on {where}: kept")
    return write_calibrated({"provenance": {**old.get("provenance", {}), "last_search": search},
                             "params": old["params"]}, out_dir)


def _start_point(out_dir: str | Path, config: str | Path) -> Path | None:
    """The point estimate a stage-1 search or a screen starts from and is compared with: the one in
    ``out_dir``, else the one beside ``config`` (the shipped point, as for stage 2: :func:`stage2_config`),
    else None (the parameter defaults)."""
    for point in (Path(out_dir) / "calibrated.toml", Path(config).with_name("calibrated.toml")):
        if point.is_file():
            return point
    return None


def _writable_folder(out_dir: str | Path) -> None:
    """Create ``out_dir`` now, before a long run, so that a path that cannot hold the result (a file, a
    folder without write permission) is refused at once rather than after the search."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out}: is a file, not a folder for calibrated.toml")
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):
        raise PermissionError(f"--out {out}: folder is not writable")


def _read_point(out_dir: str | Path, config: str | Path, purpose: str, log) -> tuple[Path, dict]:
    """The point estimate to start from (:func:`_start_point`) and its parsed content; no point at all is
    refused, naming ``purpose``."""
    point = _start_point(out_dir, config)
    if point is None:
        raise FileNotFoundError(f"{Path(out_dir) / 'calibrated.toml'}: no point estimate {purpose} (nor beside "
                                f"{config}); run `sim calibrate --optimise` first")
    log(f"the point estimate in {point}")
    return point, tomllib.loads(point.read_text(encoding="utf-8"))


def screen_point(*, budget: int, workers: int = 2, folder: str | Path = "runs/calibration/screen",
                 config: str | Path = CONFIG_FILE, targets: str | Path = TARGETS_FILE, out_dir: str | Path = HERE,
                 rng_seed: int | None = None, log=print) -> Path:
    """``sim calibrate --screen``: the point estimate (``out_dir/calibrated.toml``) and ``budget - 1``
    random perturbations of it (drawn with ``rng_seed``, default the ``[optimise]`` ``cma_seed``: the same
    seed around the same point draws the same sets), judged on the screen seeds by the issue's criteria
    (:func:`calibration.optimise.screen`); the ``confirm_top`` best and the point itself re-run on the
    confirmation seeds, where the point is replaced only if one ranks higher there and then on the
    verification seeds (:func:`_verified`). The table of every screened set is ``folder/screen.csv``."""
    from calibration.optimise import OptimiseConfig, screen, write_point

    if budget < 2:
        raise ValueError(f"--budget {budget}: a screen needs at least 2 parameter sets (the point and one "
                         "perturbation of it)")
    cfg = OptimiseConfig.load(config)
    tg = load_targets(targets)
    point, old = _read_point(out_dir, config, "to screen around", log)
    _writable_folder(out_dir)
    t0 = time.perf_counter()
    base = old["params"]
    rng_seed = cfg.cma_seed if rng_seed is None else int(rng_seed)
    log(f"screen: the point and {budget - 1} perturbations of it ({len(cfg.free)} free parameters, step "
        f"{cfg.screen_step:g} of their intervals, drawn with seed {rng_seed}), {cfg.screen_seeds} seeds each")
    sets, crit, cand = screen(cfg, tg, base, budget, workers=workers, rng_seed=rng_seed)
    i, best, inc = confirm(cand, sets, crit, tg, top=cfg.confirm_top, seeds=cfg.confirm_seeds, workers=workers,
                           incumbent=base)
    Path(folder).mkdir(parents=True, exist_ok=True)
    cand.to_csv(Path(folder) / "screen.csv", index=False)
    prov = {
        "method": "random screen around the previous point ranked by the issue's criteria (calibration/optimise.py "
                  "random_screen; intervals and step in calibration/calibration.toml [optimise])",
        "point_estimate": f"{budget} parameter sets (the previous point and {budget - 1} perturbations) on "
                          f"{cfg.screen_seeds} seeds ({LOCAL_SEED0}-{LOCAL_SEED0 + cfg.screen_seeds - 1}), the best "
                          f"{cfg.confirm_top} and the previous point on {cfg.confirm_seeds} more; best by the issue's "
                          "criteria, then the distance (calibration/criteria.py)",
        "point_confirm_seeds": _criteria_record(best),
        "point_distance_fresh_seeds": best.distance,
        "fresh_seeds": list(range(CONFIRM_SEED0, CONFIRM_SEED0 + cfg.confirm_seeds)),
        "previous_point_confirm_seeds": _criteria_record(inc),
        "free_parameters": cfg.free,
        "budget_points": int(budget),
        "screen_step": cfg.screen_step,
        "screen_rng_seed": rng_seed,
        "screen": str(Path(folder) / "screen.csv"),
    }
    if inc.rank_key() >= best.rank_key():
        return _keep_point(old, {**prov, **_rerun_cost(cand, cfg.screen_seeds, cfg.confirm_seeds, False,
                                                       cfg.verify_seeds, t0)}, out_dir, log)
    ok, prov["verification"] = _verified(sets[i], base, cfg.verify_seeds, tg, workers, log)
    prov.update(_rerun_cost(cand, cfg.screen_seeds, cfg.confirm_seeds, True, cfg.verify_seeds, t0))
    if not ok:
        return _keep_point(old, prov, out_dir, log, where="the verification seeds")
    prov["replaced_point"] = _replaced_point(old, {"confirm_seeds": _criteria_record(inc)})
    log(f"screen: set {i} ranks higher than the point on the confirmation and the verification seeds: it becomes "
        "the point")
    return _stale_posterior_note(write_point(sets[i], prov, out_dir), log)


def try_change(changes: dict[str, Any], *, why: str = "", workers: int = 2, config: str | Path = CONFIG_FILE,
               targets: str | Path = TARGETS_FILE, out_dir: str | Path = HERE, log=print) -> Path:
    """``sim calibrate --try NAME=VALUE ...``: a hand-set change of the point estimate
    (``out_dir/calibrated.toml``), such as the value of a new mechanism's parameter found by probes,
    judged against the point itself on the same seeds by the issue's criteria; it becomes the point only
    if it ranks higher. Both run on ``try_seeds`` seeds from ``TRY_SEED0`` (400...), not on the
    confirmation seeds: the point was chosen as the best of several candidates on those, so there it
    looks better than on any other seeds. The changes are validated (names and ranges,
    :func:`sim.params.make_params`) before anything runs; ``why`` goes into the provenance."""
    from calibration.optimise import OptimiseConfig, rescore, write_point
    from sim.params import make_params

    if not changes:
        raise ValueError("--try: give at least one NAME=VALUE")
    cfg = OptimiseConfig.load(config)
    tg = load_targets(targets)
    point, old = _read_point(out_dir, config, "to change", log)
    base = old["params"]
    current = make_params(base)
    changed_p = make_params({**base, **changes})  # refuses an unknown name or a value out of range, naming it
    for k, v in changes.items():
        want = type(getattr(current, k))
        ok = isinstance(v, bool) if want is bool else (
            isinstance(v, (int, float)) and not isinstance(v, bool) and (want is float or float(v).is_integer()))
        if not ok:
            raise ValueError(f"--try {k}={v!r}: expected {'true or false' if want is bool else 'a number'} "
                             f"({want.__name__})")
    same = sorted(k for k in changes if getattr(current, k) == getattr(changed_p, k))
    if same:
        raise ValueError(f"--try: {', '.join(same)} already at that value in {point} (or by default); "
                         "give only changes")
    changes = {k: getattr(changed_p, k) for k in changes}  # the validated values, in the field's type
    new = {**base, **changes}
    _writable_folder(out_dir)  # after the changes are validated: a refused --try creates nothing
    seeds = _seeds(TRY_SEED0, cfg.try_seeds)
    log(f"try: {', '.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in changes.items())} "
        f"against the point on {len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), not those that chose it")
    t0 = time.perf_counter()
    changed, inc = rescore([new, base], seeds, tg, workers)
    prov = {
        "method": "a hand-set change of the previous point (`sim calibrate --try`), judged against it on "
                  "try_seeds seeds that did not choose it, by the issue's criteria, then the distance "
                  "(calibration/criteria.py)",
        "changes": changes,
        "changed_from": {k: getattr(current, k) for k in changes},
        "changed_from_default": sorted(k for k in changes if k not in base),
        "why": why or "(not given)",
        "point_confirm_seeds": _criteria_record(changed),
        "point_distance_fresh_seeds": changed.distance,
        "fresh_seeds": seeds,
        "previous_point_confirm_seeds": _criteria_record(inc),
        "rerun_runs": 2 * len(seeds),
        "rerun_minutes": round((time.perf_counter() - t0) / 60, 1),
    }
    if inc.rank_key() >= changed.rank_key():
        return _keep_point(old, prov, out_dir, log, where=f"the try seeds ({seeds[0]}-{seeds[-1]})")
    prov["replaced_point"] = _replaced_point(old, {"confirm_seeds": _criteria_record(inc)})
    log(f"try: the changed point ranks higher on seeds {seeds[0]}-{seeds[-1]}: it becomes the point")
    return _stale_posterior_note(write_point(new, prov, out_dir), log)


def calibrate_point(*, budget: int, resume: bool = False, workers: int = 2,
                    folder: str | Path = "runs/calibration/optimise", config: str | Path = CONFIG_FILE,
                    targets: str | Path = TARGETS_FILE, out_dir: str | Path = HERE, log=print) -> Path:
    """Stage 1 (``sim calibrate --optimise``): the point estimate by CMA-ES
    (:mod:`calibration.optimise`), written to ``out_dir/calibrated.toml``. The optimiser's state and
    every evaluation stay in ``folder`` (``--resume`` continues from them). The existing point estimate
    in ``out_dir`` is re-run on the confirmation seeds beside the search's best candidates and is
    replaced only if one of them ranks higher (:mod:`calibration.criteria`) there and then on the
    verification seeds (:func:`_verified`)."""
    from calibration.optimise import OptimiseConfig, optimise, refine, search_mean, search_seconds, write_point

    cfg = OptimiseConfig.load(config)
    tg = load_targets(targets)
    point = _start_point(out_dir, config)
    base = tomllib.loads(point.read_text(encoding="utf-8"))["params"] if point else {}
    log(f"starting from the point estimate in {point}" if point else
        f"no point estimate in {Path(out_dir) / 'calibrated.toml'} nor beside {config}: starting from the "
        "parameter defaults (`sim params`)")
    _writable_folder(out_dir)
    log(f"CMA-ES: {len(cfg.free)} free parameters, {len(tg)} targets, {len(cfg.seeds)} seeds per point, "
        f"budget {budget} points, state in {folder}")
    evals = optimise(folder, budget=budget, config=cfg, targets=tg, base=base, workers=workers, resume=resume,
                     log=log)
    mean = search_mean(folder, cfg)
    t0 = time.perf_counter()
    params, crit, cand, inc = refine(evals, cfg, tg, base, workers=workers, extra=[mean] if mean else None,
                                     incumbent=base or None)
    refined = crit.distance
    cand.to_csv(Path(folder) / "candidates.csv", index=False)
    keep = inc is not None and math.isfinite(inc.distance) and inc.rank_key() >= crit.rank_key()
    check = None
    if not keep and inc is not None:  # it ranked higher on the seeds it was chosen on: verify it
        ok, check = _verified(params, base, cfg.verify_seeds, tg, workers, log)
        keep = not ok
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
        "simulation_runs": int(len(evals)) * len(cfg.seeds),
        "search_minutes": round(search_seconds(folder) / 60, 1),
    }
    if inc is not None:
        prov["previous_point_confirm_seeds"] = _criteria_record(inc)
    if check:
        prov["verification"] = check
    prov.update(_rerun_cost(cand, cfg.refine_seeds, cfg.confirm_seeds, check is not None, cfg.verify_seeds, t0,
                            inc is not None))
    if keep:
        prov["candidates"] = str(Path(folder) / "candidates.csv")
        return _keep_point(tomllib.loads(point.read_text(encoding="utf-8")), prov, out_dir, log,
                           where="the verification seeds" if check else "the confirmation seeds")
    return _stale_posterior_note(write_point(params, prov, out_dir), log)
