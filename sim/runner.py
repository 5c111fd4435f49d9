"""The one seam between the model and everything that runs it many times.

``simulate(scenario, params, seed)`` -> :class:`~sim.results.Results`. Calibration, sweeps, ensembles
and the app all call it (directly or through :func:`simulate_many`). Randomness comes only from the
model's generator seeded with ``seed``, so a seed gives identical tables in any process.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from sim import __version__
from sim.datasets import SECTOR_CODES
from sim.model import EVENT_CAUSES, EVENT_KINDS, AMModel
from sim.params import Params, make_params
from sim.results import Results
from sim.scenario import Scenario, load_scenario


def _as_scenario(scenario: Scenario | str | Path | None) -> Scenario:
    if scenario is None:
        return Scenario()
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario(scenario)


def _as_params(params: Params | dict[str, Any] | None) -> Params | None:
    if params is None or isinstance(params, Params):
        return params
    return make_params(params)


def simulate(scenario: Scenario | str | Path | None = None, params: Params | dict[str, Any] | None = None,
             seed: int = 0, *, track_plants: bool = False) -> Results:
    """Run one simulation and return its tidy results.

    Args:
        scenario: a Scenario, a path to a scenario TOML file, or None for the 1973-2016 history.
        params: a Params or a dict of overrides: the base parameter set, on top of which the scenario's
            own ``[params]`` are applied (the scenario wins where both set a parameter: a scenario file
            with ``params_file``, such as the calibrated baseline, sets every calibrated parameter, so
            change those with ``load_scenario(path).with_params(name=value)``).
        seed: the random seed.
        track_plants: also keep each plant's yearly state (``Results.history``).
    """
    sc = _as_scenario(scenario)
    base = _as_params(params)
    t0 = time.perf_counter()
    model = AMModel(params=base, scenario=sc, rng=int(seed), track_plants=track_plants)
    t1 = time.perf_counter()
    model.run_model()
    t2 = time.perf_counter()
    res = collect(model, seed)
    t3 = time.perf_counter()
    res.manifest = {
        "scenario": sc.to_toml_dict(),
        "params": model.p.model_dump(),
        "seeds": [int(seed)],
        "start_year": sc.start_year,
        "end_year": sc.end_year,
        "report_from": sc.report_from,
        "code_version": code_version(),
        "timings_s": {"init": round(t1 - t0, 4), "run": round(t2 - t1, 4), "collect": round(t3 - t2, 4)},
    }
    _release(model)
    return res


def _release(model: AMModel) -> None:
    """Free a finished model's state now. A ``mesa.Model`` sits in reference cycles (its scenario, event
    generator and bound step method), so without this it is freed only by Python's cyclic garbage
    collector, which runs rarely in numpy-heavy code: a process running model after model (a sweep or
    ABC worker) held dead plant tables by the gigabyte (10 GB per ABC worker after a long generation)."""
    model.__dict__.clear()


def _simulate_job(args: tuple) -> Results:
    scenario, params, seed, track = args
    return simulate(scenario, params, seed, track_plants=track)


def simulate_many(scenario: Scenario | str | Path | None = None, params: Params | dict | None = None,
                  seeds: Iterable[int] = range(10), *, workers: int = 1, track_plants: bool = False) -> Results:
    """Run several seeds (in a process pool when ``workers > 1``) and stack their tables. The result
    does not depend on the number of workers."""
    sc = _as_scenario(scenario)
    pr = _as_params(params)
    seeds = [int(s) for s in seeds]
    t0 = time.perf_counter()
    jobs = [(sc, pr, s, track_plants) for s in seeds]
    if workers > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("forkserver")) as ex:
            runs = list(ex.map(_simulate_job, jobs))
    else:
        runs = [_simulate_job(j) for j in jobs]
    manifest = dict(runs[0].manifest)
    manifest["seeds"] = seeds
    manifest["timings_s"] = {"total": round(time.perf_counter() - t0, 4), "workers": workers,
                             "per_seed_run": [r.manifest["timings_s"]["run"] for r in runs]}
    return Results.combine(runs, manifest)


OWNERSHIP = ("GB", "foreign")
SIZE_CLASSES = ("SME", "large")


def collect(model: AMModel, seed: int) -> Results:
    """Tidy tables from a finished model."""
    R, S = model.R, model.S
    rc = np.asarray(model.region_codes, dtype=object)
    region, sector = _category(tuple(model.region_codes)), _category(tuple(SECTOR_CODES))
    own, size = _category(OWNERSHIP), _category(SIZE_CLASSES)

    # panel: full grid year x region x sector x ownership x size class
    cells = model._cells  # one per year: 3 x (R*S*4), output, employment and plants by cell
    Y = len(cells)
    k = np.arange(R * S * 4)
    panel = pd.DataFrame({
        "seed": np.full(Y * k.size, seed, dtype=np.int64),
        "year": np.repeat(np.asarray(model._cell_years, dtype=np.int64), k.size),
        "region": _cat(np.tile(k // (S * 4), Y), region),
        "sector": _cat(np.tile((k // 4) % S, Y), sector),
        "ownership": _cat(np.tile((k // 2) % 2, Y), own),
        "size_class": _cat(np.tile(k % 2, Y), size),
        "output": np.concatenate([c[0] for c in cells]),
        "employment": np.concatenate([c[1] for c in cells]),
        "plants": np.concatenate([c[2] for c in cells]).astype(np.int64),
    })

    # events
    if model._events:
        cols = [np.concatenate([e[i] for e in model._events]) for i in range(8)]
    else:
        cols = [np.empty(0, dtype=np.int64)] * 6 + [np.empty(0, bool), np.empty(0, np.int64)]
    keep = cols[0] > model.report_from  # the start snapshot is taken at the end of report_from
    if not keep.all():
        cols = [c[keep] for c in cols]
    year, pid, kind, cause, ev_region, ev_sector, foreign, linked = cols  # new arrays, not the model's
    linked = linked.astype(np.int64, copy=False)
    events = pd.DataFrame({
        "seed": np.full(len(year), seed, dtype=np.int64),
        "year": year.astype(np.int64, copy=False),
        "plant_id": pid.astype(np.int64, copy=False),
        "kind": _cat(kind, _category(EVENT_KINDS)),
        "cause": _cat(cause, _category(EVENT_CAUSES)),
        "region": _cat(ev_region, region),
        "sector": _cat(ev_sector, sector),
        "ownership": _cat(foreign, own),
        "linked_plant": pd.arrays.IntegerArray(linked, mask=linked < 0),  # -1: no linked plant
    })

    plants = model.plants.to_frame(model.region_codes, SECTOR_CODES)
    ex = plants["exit_year"]
    keep = (ex.isna() | (ex > model.report_from)).to_numpy()
    if not keep.all():
        plants = plants[keep].reset_index(drop=True)
    plants.insert(0, "seed", np.int64(seed))

    mv = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    mv.insert(0, "seed", np.int64(seed))
    mv["year"] = mv["year"].astype(np.int64)

    if model.spending:
        sp = np.asarray(model.spending, dtype=float)
        spending = pd.DataFrame({"seed": np.int64(seed), "year": sp[:, 0].astype(np.int64),
                                 "intervention": sp[:, 1].astype(np.int64), "region": rc[sp[:, 2].astype(int)],
                                 "spending_gbp_m": sp[:, 3]})
    else:
        spending = pd.DataFrame({"seed": pd.Series(dtype=np.int64), "year": pd.Series(dtype=np.int64),
                                 "intervention": pd.Series(dtype=np.int64), "region": pd.Series(dtype=object),
                                 "spending_gbp_m": pd.Series(dtype=float)})

    history = None
    if model.track_plants and model._history:
        h = {k: np.concatenate([d[k] for d in model._history]) for k in model._history[0]}
        history = pd.DataFrame({"seed": np.int64(seed), **h})
        history["region"] = rc[history["region"].to_numpy(int)]
        history["ownership"] = np.asarray(OWNERSHIP, dtype=object)[history.pop("foreign").to_numpy(int)]
    return Results(panel=panel, events=events, plants=plants, model_vars=mv, spending=spending, history=history)


@functools.lru_cache(maxsize=16)
def _category(labels: tuple[str, ...]) -> pd.CategoricalDtype:
    """The categorical dtype of a label set (immutable, so built once per label set)."""
    return pd.CategoricalDtype(list(labels))


def _cat(codes: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """Labelled column from integer (or bool) codes (categorical: fast to build, compact in Parquet)."""
    codes = np.asarray(codes)
    return pd.Categorical.from_codes(codes.view(np.int8) if codes.dtype == bool else codes, dtype=dtype)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit of the working tree, when available (looked up once per
    process: it costs two git calls)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    return f"{__version__}+{sha}{'.dirty' if dirty else ''}" if sha else __version__
