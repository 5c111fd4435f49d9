"""ABC-SMC calibration with pyabc.

- Priors: uniform over each free parameter's documented range (``sim.params.ranges()``), the free
  parameters listed in ``calibration/calibration.toml``.
- Model: parameters -> ``sim.simulate_many`` over ``seeds`` -> median summary statistics.
- Distance: ``calibration.targets.distance`` (weighted, tolerance-scaled, every target).
- History: a SQLite database, so a killed calibration resumes where it stopped (``resume=True``).
- Execution: local processes by default, a dask.distributed scheduler when an address is given.
- Progress: pyabc's per-generation log (epsilon, acceptance rate) plus a line per generation here.

Reference: Toni et al. (2009) ABC-SMC; Schälte et al. (2022) pyABC.
"""

from __future__ import annotations

import json
import logging
import math
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.seeds import CONFIRM_SEED0, LOCAL_SEED0, SCREEN_SEED0, VERIFY_END, VERIFY_SEED0, block_size, search_seeds
from sim.params import ranges

HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / "calibration.toml"


@dataclass
class CalibrationConfig:
    free: list[str]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    population_size: int = 60
    generations: int = 8
    transition_scaling: float = 2.0
    refine_top: int = 12
    refine_seeds: int = 6
    confirm_top: int = 3
    confirm_seeds: int = 32
    verify_seeds: int = 64
    fixed: dict[str, Any] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    centre: dict[str, Any] | None = None  # the point estimate's parameters the run is centred on, if any

    @classmethod
    def load(cls, path: str | Path = CONFIG_FILE, point: str | Path | None = None,
             centre: dict[str, Any] | None = None) -> "CalibrationConfig":
        """The ``[calibration]`` table (and ``[fixed]``) of ``path``. With ``fixed_from_point``, the
        parameters that are not free are held at the point estimate (``centre``, its parameters, else the
        ``[params]`` of the file ``point``, default the ``calibrated.toml`` beside ``path``), and
        ``prior_around_point`` centres the priors on it. Any unknown key, unknown parameter or malformed
        value is refused, naming it and what is allowed."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: {e}") from None
        unknown = sorted(set(data) - {"calibration", "optimise", "fixed"})
        if unknown:
            raise ValueError(f"{path}: unknown table(s) {unknown}; allowed: calibration, optimise, fixed")
        c = data.get("calibration", {})
        allowed = {f for f in cls.__dataclass_fields__ if f not in ("fixed", "bounds")} | {
            "prior", "fixed_from_point", "prior_around_point"}
        unknown = sorted(set(c) - allowed)
        if unknown:
            raise ValueError(f"{path}: calibration: unknown key(s) {unknown}; allowed: {', '.join(sorted(allowed))}")
        rng = ranges()
        free = c.get("free", [])
        if not isinstance(free, list) or not all(isinstance(p, str) for p in free):
            raise ValueError(f"{path}: calibration.free: {free!r} must be a list of parameter names")
        free = list(free)
        bad = [p for p in free if p not in rng]
        if bad:
            raise ValueError(f"{path}: calibration.free: unknown or non-numeric parameter(s) {bad}; "
                             f"allowed: {', '.join(rng)}")
        if len(set(free)) != len(free):
            raise ValueError(f"{path}: calibration.free: {sorted({p for p in free if free.count(p) > 1})} listed twice")
        bounds = {p: rng[p] for p in free}
        prior_table = c.get("prior", {})
        if not isinstance(prior_table, dict):
            raise ValueError(f"{path}: calibration.prior: must be a table of NAME = [low, high]")
        for p, b in prior_table.items():
            if p not in bounds:
                raise ValueError(f"{path}: calibration.prior.{p}: not a free parameter; the free ones: {', '.join(free)}")
            if not (isinstance(b, list) and len(b) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)):
                raise ValueError(f"{path}: calibration.prior.{p}: {b!r} must be [low, high], two numbers")
            lo, hi = float(b[0]), float(b[1])
            dlo, dhi = rng[p]
            if not (dlo <= lo < hi <= dhi):
                raise ValueError(f"{path}: calibration.prior.{p}: [{lo:g}, {hi:g}] must lie inside the documented "
                                 f"range [{dlo:g}, {dhi:g}] with low < high")
            bounds[p] = (lo, hi)
        fixed = {}
        if not isinstance(c.get("fixed_from_point", False), bool):
            raise ValueError(f"{path}: calibration.fixed_from_point: {c['fixed_from_point']!r} must be true or false")
        around = c.get("prior_around_point")
        if around is not None:
            if isinstance(around, bool) or not isinstance(around, (int, float)) or not 0 < around <= 0.5:
                raise ValueError(f"{path}: calibration.prior_around_point: {around!r} must be a number in (0, 0.5]")
        if c.get("fixed_from_point", False):
            # hold every parameter that is not free at the current point estimate, so that the
            # posterior is the posterior around that point
            point = Path(point) if point is not None else Path(path).with_name("calibrated.toml")
            if centre is None and point.is_file():
                centre = tomllib.loads(point.read_text(encoding="utf-8")).get("params", {})
            if centre is not None:
                pt = dict(centre)
                fixed = {k: v for k, v in pt.items() if k not in free}
                if around is not None:
                    # a local prior: each free parameter's interval shrunk to +- around x its width,
                    # centred on the point estimate (and kept inside the interval)
                    a = float(around)
                    for p_ in free:
                        lo, hi = bounds[p_]
                        x = min(max(float(pt.get(p_, (lo + hi) / 2)), lo), hi)
                        half = a * (hi - lo)
                        nlo, nhi = max(lo, x - half), min(hi, x + half)
                        bounds[p_] = (nlo, nhi) if nhi > nlo else (lo, hi)
        extra = data.get("fixed", {})
        if not isinstance(extra, dict):
            raise ValueError(f"{path}: fixed: must be a table of NAME = value")
        from sim.params import ParameterError, make_params

        try:
            make_params(extra)
        except ParameterError as e:
            raise ValueError(f"{path}: fixed: {e}") from None
        clash = sorted(set(extra) & set(free))
        if clash:
            raise ValueError(f"{path}: fixed: {clash} are free in [calibration]; a parameter is free or fixed, not both")
        fixed.update(dict(data.get("fixed", {})))
        seeds = search_seeds(path, "calibration.seeds", c.get("seeds", [0, 1, 2]))
        return cls(free=free, seeds=seeds, centre=centre if c.get("fixed_from_point", False) else None,
                   population_size=at_least(path, "calibration.population_size", c.get("population_size", 60), 2),
                   generations=at_least(path, "calibration.generations", c.get("generations", 8), 1),
                   transition_scaling=positive(path, "calibration.transition_scaling",
                                               c.get("transition_scaling", 2.0)),
                   refine_top=at_least(path, "calibration.refine_top", c.get("refine_top", 12), 1),
                   refine_seeds=block_size(path, "calibration.refine_seeds", c.get("refine_seeds", 6), SCREEN_SEED0,
                                           CONFIRM_SEED0),
                   confirm_top=at_least(path, "calibration.confirm_top", c.get("confirm_top", 3), 1),
                   confirm_seeds=block_size(path, "calibration.confirm_seeds", c.get("confirm_seeds", 32),
                                            CONFIRM_SEED0, LOCAL_SEED0),
                   verify_seeds=block_size(path, "calibration.verify_seeds", c.get("verify_seeds", 64), VERIFY_SEED0,
                                           VERIFY_END),
                   fixed=fixed, bounds=bounds)


def stale_posterior(calib_dir: str | Path = HERE) -> str | None:
    """Why ``calib_dir/posterior.csv`` no longer belongs to the point estimate beside it, or None.

    ABC-SMC records its run as ``[provenance.posterior]`` in ``calibrated.toml``, with priors centred on
    the point it started from; a later stage-1 step that replaces the point (``--optimise``,
    ``--screen``, ``--try``) writes a provenance without that table and leaves ``posterior.csv`` as it
    was, sampled around the previous point. Drawing from it then mixes the new point's fixed parameters
    with the old neighbourhood's free ones. None when there is no ``calibrated.toml`` to compare with."""
    point = Path(calib_dir) / "calibrated.toml"
    if not point.is_file():
        return None
    try:
        prov = tomllib.loads(point.read_text(encoding="utf-8")).get("provenance", {})
    except tomllib.TOMLDecodeError:
        return None
    if "posterior" in prov:
        return None
    return (f"{Path(calib_dir) / 'posterior.csv'} was sampled around an earlier point estimate: {point} has "
            f"no [provenance.posterior] table (its point comes from: {prov.get('method', '?')}); run "
            "`sim calibrate` to sample a posterior around it")


def at_least(path, name: str, value, minimum: int) -> int:
    """A whole-number setting of a calibration file, refused (naming it) below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{path}: {name}: {value!r} must be a whole number of at least {minimum}")
    return value


def positive(path, name: str, value) -> float:
    """A positive real setting of a calibration file, refused (naming it) otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{path}: {name}: {value!r} must be a number above 0")
    return float(value)


class SimulationModel:
    """Picklable pyabc model: parameters -> summary statistics (medians over seeds)."""

    def __init__(self, seeds, fixed: dict[str, Any] | None = None, integer_params=()):
        self.seeds = list(seeds)
        self.fixed = dict(fixed or {})
        self.integer_params = set(integer_params)

    def __call__(self, pars) -> dict[str, float]:
        from calibration.summary import summary_statistics
        from sim.runner import simulate_many

        p = {k: (int(round(v)) if k in self.integer_params else float(v)) for k, v in dict(pars).items()}
        p = {**self.fixed, **p}
        try:
            res = simulate_many(params=p, seeds=self.seeds, workers=1)
            return summary_statistics(res)
        except Exception as e:  # a failing point is a point far from the data, not a crash
            logging.getLogger("calibration").warning("simulation failed at %s: %s", p, e)
            return {"failed": 1.0}


class TargetDistance:
    """Picklable pyabc distance: the weighted target distance (the observed dict is not used)."""

    def __init__(self, targets):
        self.targets = targets

    def __call__(self, x: dict, x0: dict | None = None) -> float:
        from calibration.targets import distance

        if "failed" in x:
            return math.inf
        return distance(x, self.targets)


def prior(bounds: dict[str, tuple[float, float]]):
    """Independent uniform priors over the given bounds."""
    import pyabc

    return pyabc.Distribution(**{p: pyabc.RV("uniform", lo, hi - lo) for p, (lo, hi) in bounds.items()})


def ridge_transition(bounds: dict[str, tuple[float, float]], scaling: float, ridge: float = 0.02):
    """pyabc's multivariate-normal perturbation kernel with a ridge on the diagonal.

    With skewed particle weights the weighted sample covariance becomes (nearly) singular in many
    dimensions; pyabc then evaluates transition densities as exactly zero off that subspace and the
    importance weights become infinite. Adding ``(ridge x prior width)^2`` to each variance keeps
    the kernel non-degenerate."""
    import pyabc
    import scipy.stats as st

    class RidgeTransition(pyabc.MultivariateNormalTransition):
        def fit(self, X, w):
            super().fit(X, w)
            width = np.array([bounds[c][1] - bounds[c][0] for c in X.columns], dtype=float)
            self.cov = self.cov + np.diag((ridge * width) ** 2)
            self.normal = st.multivariate_normal(cov=self.cov, allow_singular=True)

    return RidgeTransition(scaling=scaling)


def make_sampler(workers: int, scheduler: str | None):
    import pyabc

    if scheduler:
        from distributed import Client

        return pyabc.sampler.DaskDistributedSampler(dask_client=Client(scheduler))
    if workers <= 1:
        return pyabc.sampler.SingleCoreSampler()
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers)


def observed_placeholder(targets) -> dict[str, float]:
    return {t.statistic: t.observed for t in targets}


def target_settings(targets) -> list[list]:
    """The targets as stored beside a search (statistic, kind, observed value, tolerance, weight), so
    that a resume under other targets is refused."""
    return [[t.statistic, t.kind, float(t.observed), float(t.tolerance), float(t.weight)] for t in targets]


def run_settings(config: CalibrationConfig, targets) -> dict:
    """What an ABC history depends on besides the budget: the free parameters and their priors, the
    seeds, the parameters held fixed, and the targets (name, statistic, observed value, tolerance,
    weight). Stored beside the history, so that a resume with other settings is refused."""
    return {"free": list(config.free), "bounds": {p: list(map(float, config.bounds[p])) for p in config.free},
            "seeds": list(config.seeds), "fixed": {k: config.fixed[k] for k in sorted(config.fixed)},
            "population_size": int(config.population_size), "transition_scaling": float(config.transition_scaling),
            "targets": target_settings(targets), "centre": config.centre}


def settings_file(db: str | Path) -> Path:
    """Where the settings of the ABC history ``db`` are kept (:func:`run_settings`)."""
    return Path(db).with_name(Path(db).name + ".settings.json")


def cost_file(db: str | Path) -> Path:
    """Where the wall-clock time spent sampling the history ``db`` is kept (summed over resumes)."""
    return Path(db).with_name(Path(db).name + ".cost.json")


def sampling_seconds(db: str | Path) -> float:
    """Seconds spent sampling the history ``db`` so far (0 when not recorded)."""
    f = cost_file(db)
    return float(json.loads(f.read_text()).get("seconds", 0.0)) if f.is_file() else 0.0


def stored_centre(db: str | Path) -> dict[str, Any] | None:
    """The point estimate's parameters that the history ``db`` was centred on when it started, or None
    (no settings file, or one from before they were stored): a resume centres on them again, whatever
    the point estimate is now (the run itself may have replaced it)."""
    f = settings_file(db)
    if not f.is_file():
        return None
    return json.loads(f.read_text()).get("centre")


def settings_changes(saved: dict, now: dict) -> list[str]:
    """The settings (by name) that differ between a stored history and this run."""
    now = json.loads(json.dumps(now))  # the stored form (tuples become lists)
    return [f"{k} (stored {saved.get(k)!r:.200}, now {now.get(k)!r:.200})" for k in now if saved.get(k) != now.get(k)]


def run_abc(db: str | Path, *, budget: int, config: CalibrationConfig, targets, workers: int = 2,
            scheduler: str | None = None, resume: bool = False, model=None, start=None, log=print):
    """Run (or resume) an ABC-SMC calibration; returns the pyabc History.

    ``budget`` caps the total number of simulated parameter points (each runs ``len(config.seeds)``
    seeds). With ``resume``, the last run stored in ``db`` continues with the remaining budget. With
    ``start`` (a :class:`calibration.continuation.ShippedGeneration`), a new history in ``db`` begins at
    that generation of an earlier run and continues it; its points count towards ``budget``.
    """
    import pyabc

    logging.getLogger("ABC").setLevel(logging.WARNING)
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{db}"
    model = model or SimulationModel(config.seeds, config.fixed,
                                     integer_params=[p for p in config.free if p == "n_plants_start"])
    # a widened kernel: in many dimensions the default (Silverman) bandwidth makes transition densities
    # underflow to zero, which breaks the importance weights
    transition = ridge_transition(config.bounds, config.transition_scaling)
    sampler = make_sampler(workers, scheduler)
    abc = pyabc.ABCSMC(model, prior(config.bounds), TargetDistance(targets), population_size=config.population_size,
                       sampler=sampler, transitions=transition)
    try:
        if start is not None:
            _seed(abc, db, url, start, run_settings(config, targets), targets, log)
            resume = True
        return _sample(abc, db, url, budget=budget, config=config, targets=targets, resume=resume, log=log)
    finally:
        if scheduler:  # the Dask client this run opened (the cluster itself is not ours to close)
            sampler.shutdown()


def _seed(abc, db: Path, url: str, start, settings: dict, targets, log) -> None:
    """Start the new history ``db`` at the shipped generation ``start``, with its settings (and where it
    came from) and the sampling time of the run it continues."""
    from calibration.continuation import seed_history

    if db.exists():
        raise FileExistsError(f"{db} exists; a continued posterior starts a new history: choose another --db")
    seed_history(abc, url, start, observed_placeholder(targets))
    settings_file(db).write_text(json.dumps({**settings, "continued_from": start.origin}, indent=1))
    cost_file(db).write_text(json.dumps({"seconds": start.sampling_seconds}))
    log(f"new history {db} starts at generation {start.t} of {start.origin['posterior']} "
        f"({start.simulated_points} points simulated in that run, epsilon {start.epsilon:.1f})")


def _sample(abc, db: Path, url: str, *, budget: int, config: CalibrationConfig, targets, resume: bool, log):
    """The body of :func:`run_abc`: start or resume the history ``db`` and sample until the budget or the
    generations run out."""
    import pyabc

    settings = run_settings(config, targets)
    kept = settings_file(db)
    if resume:
        if not db.is_file():
            raise FileNotFoundError(f"--resume: no calibration history at {db}")
        if kept.is_file():  # histories from before stop 27 have no settings file: nothing to check
            saved = json.loads(kept.read_text())
            # settings files from stop 27 have no centre; the other settings are still compared
            changed = settings_changes(saved, {k: v for k, v in settings.items() if k in saved})
            if changed:
                raise ValueError(f"--resume: {db} was started with other settings, and continuing it would mix "
                                 f"two calibrations: {'; '.join(changed)}. Start a new history (another --db) "
                                 "or restore the settings")
        h = pyabc.History(url)
        run_id = h.id
        abc.load(url, run_id)
        done = int(abc.history.total_nr_simulations)
        log(f"resuming run {run_id} in {db}: {abc.history.max_t + 1} generation(s), {done} simulations done")
    else:
        if db.is_file():
            raise FileExistsError(f"{db} exists; use --resume to continue it, or choose another --db")
        abc.new(url, observed_placeholder(targets))
        kept.write_text(json.dumps(settings, indent=1))
        done = 0
    remaining = max(0, budget - done)
    spent = sampling_seconds(db) if resume else 0.0
    t0 = time.perf_counter()
    while remaining > 0:
        t_before = abc.history.max_t
        if t_before + 1 >= config.generations:
            break
        # pyabc caches the population it calibrates epsilon from; clear it so that each generation's
        # epsilon comes from the previous generation (not the prior sample of the first call)
        abc._initial_population = None
        h = abc.run(max_nr_populations=1, max_total_nr_simulations=done + remaining)
        cost_file(db).write_text(json.dumps({"seconds": spent + time.perf_counter() - t0}))
        done = int(h.total_nr_simulations)
        remaining = budget - done
        if h.max_t == t_before:  # budget exhausted before a generation completed
            break
        pops = h.get_all_populations()
        eps = float(pops["epsilon"].iloc[-1])
        df, w = h.get_distribution(t=h.max_t)
        dist = h.get_weighted_distances(t=h.max_t)["distance"]
        log(f"generation {h.max_t}: epsilon {eps:.1f}, best distance {dist.min():.1f}, "
            f"{done} simulations ({remaining if remaining > 0 else 0} left), {time.perf_counter() - t0:.0f} s")
    return abc.history


def posterior_sample(history, t: int | None = None, n: int | None = None, seed: int = 0):
    """Posterior particles of generation ``t`` (default last) with weights, as a DataFrame."""
    df, w = history.get_distribution(t=history.max_t if t is None else t)
    df = df.reset_index(drop=True)
    df["weight"] = np.asarray(w) / np.sum(w)
    if n is not None:
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(df), size=n, replace=True, p=df["weight"].to_numpy())
        df = df.iloc[idx].reset_index(drop=True)
    return df
