"""Time the metrics on a 100-run ensemble (synthetic, of realistic size) and print seconds.

    python benchmarks/bench_metrics.py [--seeds 100] [--plants 30000]

Panel: seeds x 44 years (1973-2016) x 40 regions x 8 sectors x 2 ownership x 2 size classes
(5.6 million rows for 100 seeds); plants table: seeds x ``--plants`` records. Target: all metrics of
:func:`sim.report.run_metrics` (Theil x 3 references, locational Gini, Herfindahl, TIR / urban / top-5%
shares, LQ means, 5-year averages, at sector, ONS-group and all-AM level; R&D-growth correlation; EG
gamma and the T1 decomposition from the plants table) in under 1 s for the panel. Reported for string
columns (as a model hands them over) and categorical columns (as :func:`sim.report.load_run` reads a
run folder). Then the work of a sensitivity sweep or a calibration on the same tables (categorical, as
:func:`sim.runner.collect` makes them): every summary statistic
(:func:`calibration.summary.per_seed_statistics`) and the sweep outputs of ``benchmarks/bench_sweep.py``
(:func:`sim.sweep.model_outputs_table`), for all seeds at once and for one seed alone, per seed. Not a
test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import datasets  # noqa: E402
from sim import metrics as M  # noqa: E402
from sim.report import run_metrics  # noqa: E402


def synthetic_panel(seeds: int, rng: np.random.Generator) -> pd.DataFrame:
    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    sectors = np.asarray(datasets.SECTOR_CODES, dtype=object)
    years = np.arange(1973, 2017)
    shape = (seeds, len(years), len(regions), len(sectors), 2, 2)
    n = int(np.prod(shape))
    idx = np.indices(shape).reshape(len(shape), -1)
    return pd.DataFrame({
        "seed": idx[0].astype(np.int64),
        "year": years[idx[1]],
        "region": pd.array(regions[idx[2]], dtype="str"),
        "sector": pd.array(sectors[idx[3]], dtype="str"),
        "ownership": pd.array(np.array(["GB", "foreign"], dtype=object)[idx[4]], dtype="str"),
        "size_class": pd.array(np.array(["SME", "large"], dtype=object)[idx[5]], dtype="str"),
        "output": rng.gamma(0.6, 30.0, n),
        "employment": rng.gamma(0.6, 300.0, n),
        "plants": rng.integers(0, 30, n),
    })


def synthetic_plants(seeds: int, per_seed: int, rng: np.random.Generator) -> pd.DataFrame:
    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    sectors = np.asarray(datasets.SECTOR_CODES, dtype=object)
    n = seeds * per_seed
    start = rng.random(n) < 0.6
    exit_ = np.where(rng.random(n) < 0.5, rng.integers(1974, 2017, n), -1)
    return pd.DataFrame({
        "seed": np.repeat(np.arange(seeds), per_seed),
        "plant_id": np.tile(np.arange(per_seed), seeds),
        "sector": pd.array(rng.choice(sectors, n), dtype="str"),
        "region": pd.array(rng.choice(regions, n), dtype="str"),
        "ownership_last": pd.array(rng.choice(np.array(["GB", "foreign"], dtype=object), n), dtype="str"),
        "exit_year": pd.arrays.IntegerArray(exit_.astype(np.int64), mask=exit_ < 0),
        "output_start": np.where(start, rng.gamma(1.0, 5.0, n), 0.0),
        "output_end": np.where(exit_ < 0, rng.gamma(1.0, 6.0, n), 0.0),
        "open_at_start": start,
    })


def synthetic_events(plants: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """An opening for every plant not open at the start and a closure for every exit (as the model logs them)."""
    opened = plants[~plants["open_at_start"]]
    closed = plants[plants["exit_year"].notna()]
    n_open = len(opened)
    causes = np.array(["startup", "spinoff", "foreign_entry", "relocation"], dtype=object)
    return pd.DataFrame({
        "seed": np.concatenate([opened["seed"].to_numpy(), closed["seed"].to_numpy()]),
        "year": np.concatenate([rng.integers(1974, 2017, n_open), closed["exit_year"].to_numpy(dtype=np.int64)]),
        "plant_id": np.concatenate([opened["plant_id"].to_numpy(), closed["plant_id"].to_numpy()]),
        "kind": np.repeat(np.array(["open", "close"], dtype=object), [n_open, len(closed)]),
        "cause": np.concatenate([rng.choice(causes, n_open), np.full(len(closed), "exit", dtype=object)]),
        "region": np.concatenate([opened["region"].to_numpy(object), closed["region"].to_numpy(object)]),
        "sector": np.concatenate([opened["sector"].to_numpy(object), closed["sector"].to_numpy(object)]),
        "ownership": np.concatenate([opened["ownership_last"].to_numpy(object),
                                     closed["ownership_last"].to_numpy(object)]),
    })


def timed(label: str, fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    rows = f"{len(out):>10,d} rows" if isinstance(out, pd.DataFrame) else ""
    print(f"  {label:<58s} {best:7.3f} s {rows}")
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--plants", type=int, default=30_000, help="plant records per seed")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    panel = synthetic_panel(args.seeds, rng)
    plants = synthetic_plants(args.seeds, args.plants, rng)
    print(f"synthetic ensemble: panel {len(panel):,d} rows, plants {len(plants):,d} rows "
          f"(built in {time.perf_counter() - t:.1f} s)")
    cat_cols = ["region", "sector", "ownership", "size_class"]
    panel_cat = panel.astype({c: "category" for c in cat_cols})
    plants_cat = plants.astype({c: "category" for c in ("sector", "region", "ownership_last")})
    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    M.reference_weights("gva", [2000])  # warm the data caches

    for name, p, pl in (("categorical columns (as load_run reads)", panel_cat, plants_cat),
                        ("string columns", panel, plants)):
        print(f"\n{name}:")
        timed("cube build (sum to seed x year x sector x region)",
              lambda: M.RegionCube.from_frame(p, value="output", by=("seed", "year", "sector"), regions=regions).values)
        cube = M.RegionCube.from_frame(p, value="output", by=("seed", "year", "sector"), regions=regions)
        fresh = lambda: M.RegionCube(cube.values, cube.dims, cube.labels, cube.regions, cube.present)  # noqa: E731
        timed("kernels only: Theil x3, Gini, HHI, shares, LQ means (sector)",
              lambda: [(c := fresh()).theil_array("gva"), c.theil_array("area"), c.theil_array("population"),
                       c.gini_array("gva"), c.hhi_array(), c.group_share_arrays(M.tir_groups()),
                       c.group_share_arrays(M.urban_groups()), c.top_share_array(),
                       c.lq_mean_arrays("sector", None, c.total("sector"))])
        tp = timed("ALL panel metrics, tidy (run_metrics without plants)", lambda: run_metrics(p))
        td = timed("T1 decomposition (plants table)", lambda: M.decomposition(pl))
        ta = timed("ALL metrics incl. plants (EG gamma, decomposition)", lambda: run_metrics(p, pl), repeat=2)
        print(f"  => panel metrics {tp:.2f} s (target < 1 s: {'met' if tp < 1 else 'NOT met'}); "
              f"with plants {ta:.2f} s; decomposition alone {td:.2f} s")

    from bench_sweep import problem  # noqa: E402 - the sweep benchmark's problem: a statistic and a metric
    from calibration.summary import per_seed_statistics  # noqa: E402
    from sim.results import Results  # noqa: E402
    from sim.sweep import model_outputs_table  # noqa: E402

    events = synthetic_events(plants, rng).astype({c: "category" for c in ("kind", "cause", "region", "sector",
                                                                           "ownership")})
    empty = pd.DataFrame()
    ens = Results(panel=panel_cat, events=events, plants=plants_cat, model_vars=empty, spending=empty)
    one = Results(panel=panel_cat[panel_cat["seed"] == 0], events=events[events["seed"] == 0],
                  plants=plants_cat[plants_cat["seed"] == 0], model_vars=empty, spending=empty)
    pb = problem(25_000)
    S = args.seeds
    print("\nsummary statistics and sweep outputs (categorical columns):")
    for label, res, k in ((f"all {S} seeds at once", ens, S), ("one seed alone", one, 1)):
        ts = timed(f"per_seed_statistics, {label}", lambda: per_seed_statistics(res)) / k
        to = timed(f"model_outputs_table (bench_sweep problem), {label}", lambda: model_outputs_table(pb, res)) / k
        print(f"  => per seed: statistics {1000 * ts:.1f} ms, sweep outputs {1000 * to:.1f} ms")


if __name__ == "__main__":
    main()
