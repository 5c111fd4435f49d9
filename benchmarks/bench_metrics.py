"""Time the metrics on a 100-run ensemble (synthetic, of realistic size) and print seconds.

    python benchmarks/bench_metrics.py [--seeds 100] [--plants 30000]

Panel: seeds x 44 years (1973-2016) x 40 regions x 8 sectors x 2 ownership x 2 size classes
(5.6 million rows for 100 seeds); plants table: seeds x ``--plants`` records. Target: all metrics of
:func:`sim.report.run_metrics` (Theil x 3 references, locational Gini, Herfindahl, TIR / urban / top-5%
shares, LQ means, 5-year averages, at sector, ONS-group and all-AM level; R&D-growth correlation; EG
gamma and the T1 decomposition from the plants table) in under 1 s for the panel. Reported for string
columns (as a model hands them over) and categorical columns (as :func:`sim.report.load_run` reads a
run folder). Not a test: nothing is asserted.
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


if __name__ == "__main__":
    main()
