"""``sim sweep``: global sensitivity analysis (SALib Sobol or Morris) of the model, resumable.

    sim sweep PROBLEM.toml --method sobol|morris -N N [--seeds K] [--workers W | --scheduler tcp://HOST:PORT]
              [--resume] --out DIR [--batch-size B] [--no-progress] [--no-figures]

The problem file format is in ``docs/sweeps.md``; the machinery in :mod:`sim.sweep`. Bad input (a
malformed problem file, an unknown parameter, bounds outside the documented range, an existing
output folder, a ``--resume`` that does not match the stored sweep) is refused with a message naming
the field, exit code 2, before anything is run or written. A run-time failure exits with 1; Ctrl-C
with 130 (completed batches are kept: continue with ``--resume``).

Wiring (``sim/cli.py``): ``sweep_cli.add_parser(sub)`` in ``build_parser`` and ``"sweep": sweep_cli.run``
in the handler table of ``main``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
SCHEDULER_PREFIXES = ("tcp://", "tls://", "inproc://", "ucx://")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to an ``add_subparsers()`` object; returns its parser."""
    s = subparsers.add_parser(
        "sweep", help="global sensitivity analysis (SALib Sobol or Morris), resumable, local or on Dask",
        description="Sample the parameters of PROBLEM.toml with SALib, run every sample point for K seeds "
                    "(common random numbers) and write Sobol or Morris indices of the seed-averaged outputs. "
                    "Completed runs are saved as they finish; --resume continues a killed sweep.")
    s.add_argument("problem", type=Path, help="problem file (TOML; format in docs/sweeps.md)")
    s.add_argument("--method", required=True, metavar="sobol|morris", help="sampling and analysis method")
    s.add_argument("-N", dest="N", required=True, metavar="N",
                   help="Sobol: base samples (a power of 2; N(D+2) points); Morris: trajectories (N(D+1) points)")
    s.add_argument("--seeds", default="1", metavar="K", help="seeds run at every sample point (default 1)")
    s.add_argument("--workers", default=None, metavar="W", help="local worker processes (default 2)")
    s.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="dask.distributed scheduler address (tcp://HOST:PORT) instead of local workers")
    s.add_argument("--resume", action="store_true", help="continue the sweep in --out (runs only what is missing)")
    s.add_argument("--out", type=Path, required=True, metavar="DIR", help="sweep folder")
    s.add_argument("--batch-size", default=None, metavar="B",
                   help="runs per batch, one part file each (default: from the runs and workers, at most 8)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    return s


def _fail(msg: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def _int(field: str, text, minimum: int) -> int:
    try:
        v = int(str(text))
    except ValueError:
        raise ValueError(f"{field}: expected a whole number, got {text!r}") from None
    if v < minimum:
        raise ValueError(f"{field}: must be at least {minimum}, got {v}")
    return v


def run(args: argparse.Namespace) -> int:
    """Run ``sim sweep``; returns the exit code."""
    from sim.sweep import METHODS, SweepError, SweepRunError, load_problem, run_sweep

    if args.method not in METHODS:
        return _fail(f"--method: {args.method!r} is not a method; allowed: {', '.join(METHODS)}")
    try:
        N = _int("-N", args.N, 2)
        seeds = _int("--seeds", args.seeds, 1)
        workers = _int("--workers", args.workers, 1) if args.workers is not None else 2
        batch = _int("--batch-size", args.batch_size, 1) if args.batch_size is not None else None
    except ValueError as e:
        return _fail(str(e))
    if args.scheduler is not None:
        if args.workers is not None:
            return _fail("--workers and --scheduler: give one (local workers or a Dask scheduler), not both")
        if not args.scheduler.startswith(SCHEDULER_PREFIXES):
            return _fail(f"--scheduler: {args.scheduler!r}: expected an address such as tcp://HOST:PORT")
    try:
        problem = load_problem(args.problem)
    except SweepError as e:
        return _fail(str(e))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        res = run_sweep(problem, args.out, method=args.method, N=N, seeds=seeds, workers=workers,
                        scheduler=args.scheduler, resume=args.resume, batch_size=batch,
                        progress=not args.no_progress, figures=not args.no_figures, source_file=args.problem,
                        log=log)
    except SweepRunError as e:
        return _fail(str(e), EXIT_FAILED)
    except SweepError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return _fail(f"interrupted; completed batches are kept in {args.out}/parts: continue with --resume",
                     EXIT_INTERRUPTED)
    if not res.complete:
        print(f"{args.out}: {res.n_done} of {res.n_runs} runs done; continue with --resume")
        return 0
    print(f"wrote {args.out} ({args.method}, {res.n_runs} runs, {res.n_failed} failed)")
    print(summary_lines(res))
    return 0


def summary_lines(res) -> str:
    """The three most influential factors of each output and its seed-noise share, as text."""
    key = "ST" if res.method == "sobol" else "mu_star"
    noise = res.seed_noise.set_index("output")
    lines = []
    for out, d in res.indices[res.indices["index"] == key].groupby("output", sort=False):
        top = d.sort_values("value", ascending=False, na_position="last").head(3)
        parts = ", ".join(f"{p} {v:.3g}" for p, v in zip(top["parameter"], top["value"]))
        ns = noise.loc[out, "noise_share"]
        tail = f"; seed noise {ns:.0%} of run variance" if ns == ns else ""
        lines.append(f"  {out}: top {key} {parts}{tail}")
    if res.targets is not None:  # the filtering of pattern-oriented modelling (sim.sweep.target_passes)
        t = res.targets
        counts = ", ".join(f"{o} {n}" for o, n in zip(t["output"], t["n_pass"]) if o != "all")
        lines.append(f"  of the {t['n_points'].iloc[-1]} points, passing their calibration target: {counts}; "
                     f"all together {t['n_pass'].iloc[-1]} (targets.csv, targets_joint.csv)")
    return "\n".join(lines)
