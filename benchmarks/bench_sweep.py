"""Benchmark: sensitivity-sweep throughput (model runs per second) with two local workers and with one.

    python benchmarks/bench_sweep.py            # default scale (25,000 plants, 1973-2016), Sobol, 320 runs
    python benchmarks/bench_sweep.py --quick    # 5,000 plants, 10 runs (checks that it works)

The sweep is a Sobol sweep of three parameters (N(D+2) = 5N points, one seed each) with two outputs,
a summary statistic (``t3_tir_share_2016``, which computes every calibration statistic) and a run
metric (``theil_gva`` of motor vehicles in 2016), so a run costs what it costs in a real sweep. Runs
are batched as ``sim sweep`` batches them (the outputs of a batch are computed in one vectorised
call; ``--batch 1`` turns that off). Each
configuration writes a fresh temporary sweep folder; wall time is the whole sweep: starting the worker
processes, the runs, one part file per batch and the (negligible) analysis. "steady runs/s" leaves out
the start-up: the runs completed after the first part file divided by the time from the first part
file to the last (what a long sweep of thousands of runs sees). "run s" is the median time of one run
inside a worker (model + its share of the batch's outputs). Prints figures; asserts nothing. Run it on
an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # calibration/ (the summary statistics) is imported from the repository
    sys.path.insert(0, str(ROOT))


def problem(n_plants: int):
    from sim import sweep as S

    return S.make_problem(
        name="bench", fixed={"n_plants_start": n_plants},
        parameters=[{"name": "beta_agglomeration", "bounds": [0.0, 1.5]},
                    {"name": "fdi_inflow", "bounds": [20.0, 400.0]},
                    {"name": "exit_rate", "bounds": [0.02, 0.12]}],
        outputs=[{"statistic": "t3_tir_share_2016"},
                 {"name": "theil_motor_vehicles_2016", "metric": "theil_gva", "level": "sector",
                  "industry": "motor_vehicles", "year": 2016}])


def bench(pb, N: int, workers: int, batch: int | None) -> dict:
    import pandas as pd

    from sim import sweep as S

    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        t0 = time.perf_counter()
        res = S.run_sweep(pb, tmp / "s", method="sobol", N=N, seeds=1, workers=workers, batch_size=batch,
                          figures=False)
        wall = time.perf_counter() - t0
        runs = S.read_runs(tmp / "s", pb)
        parts = sorted((tmp / "s" / "parts").glob("part-*.parquet"), key=lambda q: q.stat().st_mtime)
        steady = float("nan")
        if len(parts) > 1:
            n_after = sum(len(pd.read_parquet(q, columns=["point"])) for q in parts[1:])
            span = parts[-1].stat().st_mtime - parts[0].stat().st_mtime
            steady = n_after / span if span > 0 else float("nan")
        return {"workers": workers, "runs": res.n_done, "wall": wall, "failed": res.n_failed, "steady": steady,
                "run_s": float(pd.Series(runs["elapsed_s"]).median())}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="5,000 plants and 10 runs instead of 25,000 and 320")
    ap.add_argument("--batch", type=int, default=None,
                    help="runs per batch (default: the sweep's own choice, as `sim sweep` uses; 1 = no batching "
                         "of the output computation)")
    a = ap.parse_args()
    n_plants, N = (5_000, 2) if a.quick else (25_000, 64)
    pb = problem(n_plants)
    print(f"Sobol sweep, 3 parameters, N={N}: {pb.n_points('sobol', N)} runs of the 1973-2016 history at "
          f"{n_plants:,} initial plants, 1 seed, batch size {a.batch or 'default'}")
    print(f"{'workers':>7} {'runs':>5} {'wall s':>8} {'runs/s':>7} {'steady runs/s':>13} {'run s':>7}")
    rates = {}
    for w in (2, 1):
        r = bench(pb, N, w, a.batch)
        rates[w] = r["runs"] / r["wall"]
        print(f"{w:>7} {r['runs']:>5} {r['wall']:>8.2f} {rates[w]:>7.2f} {r['steady']:>13.2f} {r['run_s']:>7.2f}"
              + (f"  ({r['failed']} failed)" if r["failed"] else ""))
        sys.stdout.flush()
    print(f"speed-up of 2 workers over 1: {rates[2] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
