"""Benchmark: wall time of a full 1973-2016 run, plant-years per second and peak memory, by scale.

    python benchmarks/bench_run.py            # the calibrated baseline, then 25k (default scale), 100k,
                                              # 250k, 1M initial plants on the default parameters
    python benchmarks/bench_run.py --quick    # the calibrated baseline and 25k only

The first row is what `make run` simulates: scenarios/baseline.toml, whose calibrated parameters grow
the plant population to about 70,000 by 2016 (the defaults: about 30,000).

Each scale runs in a fresh subprocess so that peak memory (max RSS) is its own. Times exclude
interpreter start-up and imports; "run" is AMModel construction + 43 yearly steps, "collect" builds
the tidy tables. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import sim
from sim.model import AMModel
from sim.runner import collect
n, reps, baseline = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "baseline"
sc = sim.load_scenario("scenarios/baseline.toml") if baseline else None
AMModel(rng=0, n_plants_start=1000).run_model()  # warm caches (data tables)
runs, collects, plant_years = [], [], []
for i in range(reps):
    t0 = time.perf_counter()
    m = AMModel(rng=i, scenario=sc) if baseline else AMModel(rng=i, n_plants_start=n)
    m.run_model()
    t1 = time.perf_counter()
    collect(m, i)
    t2 = time.perf_counter()
    runs.append(t1 - t0); collects.append(t2 - t1)
    plant_years.append(float(m.datacollector.get_model_vars_dataframe()["plants"].sum()))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": n, "runs": runs, "collects": collects, "plant_years": plant_years, "rss_mb": rss}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    scales = [(0, 7), (25_000, 7)] if a.quick else [(0, 7), (25_000, 7), (100_000, 3), (250_000, 2), (1_000_000, 1)]
    print(f"{'initial plants':>14} {'median run s':>12} {'collect s':>9} {'plant-years':>12} "
          f"{'plant-years/s':>14} {'s per 25k':>9} {'peak RSS MB':>11}")
    for n, reps in scales:
        mode = "baseline" if n == 0 else "defaults"
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(reps), mode], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1])
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            raise SystemExit(out.returncode)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if n == 0:
            n = 25_000
            print("calibrated baseline (scenarios/baseline.toml, 25,000 initial plants):")
        med = statistics.median(r["runs"])
        py = statistics.median(r["plant_years"])
        print(f"{n:>14,} {med:>12.3f} {statistics.median(r['collects']):>9.3f} {py:>12,.0f} "
              f"{py / med:>14,.0f} {med / (n / 25_000):>9.3f} {r['rss_mb']:>11.0f}")
        if mode == "baseline":
            print("default parameters:")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
