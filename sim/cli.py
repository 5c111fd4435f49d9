"""The ``sim`` command line.

    sim run SCENARIO.toml [--seed N | --seeds K] [--workers W] [--out DIR] [--overwrite]
    sim compare BASELINE.toml SCENARIO.toml... [--seeds 50] [--workers W] [--out DIR] [--posterior [CSV]]
    sim plant RUN_DIR PLANT_ID [--seed S]
    sim metrics (--observed | RUN_DIR) --out FILE.csv
    sim report RUN_DIR [--out DIR]
    sim params            (every parameter with its default and range)
    sim validate SCENARIO.toml
    sim calibrate [--budget N] [--resume | --continue-from POSTERIOR] [--scheduler ADDR] [--population P]
                  [--generations G] [--db DB]
                  | --optimise [--budget N] [--resume] [--dir DIR] | --screen [--budget N] [--screen-seed S]
                  | --try NAME=VALUE... [--why TEXT] | --reselect | --report [--seeds K] [--from DIR]
                  | --recovery [--budget N] [--truth point|middle] [--resume] [--population P] [--generations G]
                    [--scheduler ADDR]
                  (an option the chosen mode does not read is refused, as are two modes at once)
    sim sweep PROBLEM.toml --method sobol|morris -N N [--seeds K] [--workers W | --scheduler tcp://HOST:PORT]
              [--resume] --out DIR
    sim app [--port 8765]  (the teaching app in the browser; needs the 'app' extra)

Bad input (a malformed scenario, an unknown region or sector code, a parameter out of range, an
existing output folder) is refused with a message naming the field, exit code 2, before anything is
run or written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from sim.files import out_folder_problem
from sim.params import ParameterError, Params, ranges
from sim import sweep_cli
from sim.scenario import ScenarioError, load_scenario

EXIT_BAD_INPUT = 2


def _whole_number(text: str, minimum: int) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {v}")
    return v


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def _region_list(text: str) -> list[str]:
    """``UKC1,UKD3,...``: a TIR set, checked against the region table (the error names the allowed codes)."""
    from sim.metrics import check_tir_regions

    codes = [c.strip() for c in text.split(",") if c.strip()]
    try:
        check_tir_regions(codes, field="--tir")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--tir: ")) from None
    return codes


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= v < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63 - 1, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sim", description="Agent-based simulator of Britain's "
                                 "advanced-manufacturing geography, 1973-2016 and beyond.")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario and write a run folder")
    r.add_argument("scenario", type=Path, help="scenario TOML file (e.g. scenarios/baseline.toml)")
    r.add_argument("--seed", type=_seed, default=0, help="random seed (first seed of an ensemble); default 0")
    r.add_argument("--seeds", type=_positive_int, default=1, help="number of seeds (an ensemble); default 1")
    r.add_argument("--workers", type=_positive_int, default=1, help="worker processes for an ensemble")
    r.add_argument("--out", type=Path, default=None, help="output folder (default runs/NAME-TIMESTAMP)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    r.add_argument("--track-plants", action="store_true", help="keep each plant's yearly history")

    cp = sub.add_parser("compare", help="effects of scenarios against a baseline: ensembles with common random "
                        "numbers, median and 90%% interval across seeds")
    cp.add_argument("baseline", type=Path, help="baseline scenario file (e.g. scenarios/baseline_forward.toml)")
    cp.add_argument("scenarios", type=Path, nargs="+", help="scenario files to compare with the baseline")
    cp.add_argument("--seeds", type=_positive_int, default=50, help="seeds per scenario (default 50)")
    cp.add_argument("--seed", type=_seed, default=0, help="first seed (default 0)")
    cp.add_argument("--workers", type=_positive_int, default=1, help="worker processes (default 1)")
    cp.add_argument("--out", type=Path, default=None, help="output folder (default runs/compare-TIMESTAMP)")
    cp.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    cp.add_argument("--posterior", type=Path, nargs="?", const=True, default=None, metavar="CSV",
                    help="draw one parameter set per seed from the calibration posterior (default "
                    "calibration/posterior.csv), shared by the baseline and every scenario")
    cp.add_argument("--no-figures", action="store_true", help="skip the figures")

    pv = sub.add_parser("plant", help="show one plant's record, events and history from a run folder")
    pv.add_argument("run_dir", type=Path)
    pv.add_argument("plant_id", type=int)
    pv.add_argument("--seed", type=int, default=None)

    m = sub.add_parser("metrics", help="concentration metrics of a run or of the observed ONS data")
    m.add_argument("run_dir", type=Path, nargs="?", default=None)
    m.add_argument("--observed", action="store_true", help="metrics of the observed ONS GVA data")
    m.add_argument("--out", type=Path, required=True, help="CSV file to write")
    m.add_argument("--tir", type=_region_list, default=None, metavar="CODES",
                   help="comma-separated NUTS-2016 codes of the TIR set for the TIR metrics (default: the run "
                   "scenario's tir_regions, else the 12 default TIRs)")

    rep = sub.add_parser("report", help="figures and a Markdown report of a run against the targets")
    rep.add_argument("run_dir", type=Path)
    rep.add_argument("--out", type=Path, default=None, help="report folder (default RUN_DIR/report)")
    rep.add_argument("--tir", type=_region_list, default=None, metavar="CODES",
                     help="comma-separated NUTS-2016 codes of the TIR set (default: the run scenario's tir_regions, "
                     "else the 12 default TIRs)")

    c = sub.add_parser("calibrate", help="calibration to the 1973-2016 targets: the point estimate by CMA-ES "
                       "(--optimise), the posterior by ABC-SMC (pyabc)")
    c.add_argument("--budget", type=_positive_int, default=2000, help="total parameter points to simulate")
    c.add_argument("--resume", action="store_true", help="continue the calibration stored in --db")
    c.add_argument("--scheduler", default=None, help="dask.distributed scheduler address (tcp://HOST:PORT)")
    c.add_argument("--workers", type=_positive_int, default=2, help="local worker processes (default 2)")
    c.add_argument("--db", type=Path, default=Path("runs/calibration/abc.db"), help="SQLite history")
    c.add_argument("--continue-from", dest="continue_from", type=Path, default=None, metavar="POSTERIOR",
                   help="start a new history (--db) at the last generation of a shipped posterior (a posterior.csv with "
                   "its calibrated.toml beside it, e.g. calibration/posterior.csv) and continue it; every particle is "
                   "first re-run and must reproduce its stored distance. --budget counts that run's points too")
    c.add_argument("--population", type=_positive_int, default=None, help="particles per generation")
    c.add_argument("--generations", type=_positive_int, default=None, help="maximum generations")
    c.add_argument("--out", type=Path, default=None, help="where calibrated.toml and posterior.csv are "
                   "read and written (default calibration/; the posterior centres its priors on the point there, or "
                   "on the shipped one if there is none yet); with --report or --recovery, the folder of the report (default "
                   "runs/calibration/report or runs/calibration/recovery; calibration/report and "
                   "calibration/recovery hold the shipped ones)")
    c.add_argument("--optimise", action="store_true", help="stage 1: the point estimate by CMA-ES (state and "
                   "evaluations in --dir; --resume continues them)")
    c.add_argument("--dir", type=Path, default=Path("runs/calibration/optimise"),
                   help="folder of the CMA-ES state and evaluations (default runs/calibration/optimise)")
    c.add_argument("--screen", action="store_true", help="the point estimate and --budget - 1 random perturbations "
                   "of it, judged by the issue's criteria; the best replaces the point only if it ranks higher on "
                   "the confirmation and then the verification seeds (table in --dir)")
    c.add_argument("--screen-seed", type=_non_negative_int, default=None, metavar="N",
                   help="with --screen: seed of the random perturbations (default: cma_seed of [optimise]); the same "
                   "seed around the same point draws the same sets, so give another to screen other ones")
    c.add_argument("--try", dest="try_", nargs="+", default=None, metavar="NAME=VALUE",
                   help="a hand-set change of the point estimate (e.g. a new mechanism's parameter), judged "
                   "against the point on try_seeds seeds (400...) that did not choose it; it replaces the point only "
                   "if it ranks higher")
    c.add_argument("--why", default="", help="with --try: the reason for the change, kept in the provenance")
    c.add_argument("--reselect", action="store_true", help="re-apply the choice of the point estimate to the "
                   "posterior candidates in --out (posterior_candidates.csv), without the ABC history")
    c.add_argument("--report", action="store_true", help="write the posterior-predictive report instead")
    c.add_argument("--recovery", action="store_true", help="parameter-recovery check on simulated pseudo-data "
                   "(--resume continues the check stored in --out)")
    c.add_argument("--truth", choices=("point", "middle"), default="point", help="with --recovery: the known "
                   "parameters, the shipped point estimate (default) or the middle of each prior range")
    c.add_argument("--seeds", type=_positive_int, default=50, help="seeds for --report (default 50)")
    c.add_argument("--from", dest="from_", type=Path, default=None, metavar="DIR",
                   help="with --report: the folder of the calibrated.toml (and posterior.csv) to report on, e.g. the "
                   "--out of an earlier step (default calibration/)")

    sub.add_parser("params", help="list every parameter with its default, range and meaning")
    v = sub.add_parser("validate", help="check a scenario file without running it")
    v.add_argument("scenario", type=Path)
    sweep_cli.add_parser(sub)
    ap_app = sub.add_parser("app", help="the teaching app (explorer and lock-in lab) in the browser, on localhost")
    ap_app.add_argument("--port", type=_port, default=8765, help="port (default 8765; 0: any free port)")
    return ap


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {v}")
    return v


def cmd_app(a: argparse.Namespace) -> int:
    from sim.app.server import serve

    return serve(port=a.port)


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_run(a: argparse.Namespace) -> int:
    try:
        sc = load_scenario(a.scenario)
    except (ScenarioError, ParameterError) as e:
        return _fail(str(e))
    out = a.out or Path("runs") / f"{sc.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    problem = out_folder_problem(out, a.overwrite)
    if problem:
        return _fail(problem)
    from sim.runner import simulate, simulate_many

    t0 = time.perf_counter()
    if a.seeds == 1:
        res = simulate(sc, seed=a.seed, track_plants=a.track_plants)
    else:
        res = simulate_many(sc, seeds=range(a.seed, a.seed + a.seeds), workers=a.workers,
                            track_plants=a.track_plants)
    res.manifest["scenario_file"] = str(a.scenario)
    res.manifest["command"] = " ".join(["sim", *sys.argv[1:]]) if sys.argv else "sim run"
    res.save(out, overwrite=a.overwrite)
    mv = res.model_vars
    last = mv[mv["year"] == mv["year"].max()]
    print(f"wrote {out} ({len(res.seeds)} seed(s), {sc.start_year}-{sc.end_year}, "
          f"{time.perf_counter() - t0:.1f} s)")
    print(f"  {mv['year'].max()}: plants {last['plants'].median():,.0f}, output GBP {last['output'].median() / 1000:,.1f} bn, "
          f"foreign share {last['foreign_output_share'].median():.2f}, TIR share {last['tir_output_share'].median():.2f}")
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    from sim.compare import CompareError, compare, effects_markdown, posterior_draws, prepare

    posterior = False if a.posterior is None else a.posterior
    out = a.out or Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    try:  # refuse bad input before anything runs
        prepare(a.baseline, a.scenarios, posterior=posterior is not False)
        if posterior is not False:
            posterior_draws(a.seeds, *([] if posterior is True else [posterior]))
    except (ScenarioError, ParameterError, CompareError) as e:
        return _fail(str(e))
    problem = out_folder_problem(out, a.overwrite)
    if problem:
        return _fail(problem)
    t0 = time.perf_counter()
    cmp = compare(a.baseline, a.scenarios, seeds=range(a.seed, a.seed + a.seeds), workers=a.workers,
                  posterior=posterior)
    cmp.manifest["command"] = " ".join(["sim", *sys.argv[1:]]) if sys.argv else "sim compare"
    cmp.save(out, overwrite=a.overwrite, figures=not a.no_figures)
    key = ("output_target_gbp_m", "employment_target_jobs", "output_tir_gbp_m", "tir_output_share",
           "displacement_employment_pct", "cost_per_job_gbp_k")
    print(effects_markdown(cmp.effects, outcomes_shown=key), end="")
    print(f"wrote {out} ({len(a.scenarios)} scenario(s) x {a.seeds} seed(s) + baseline, "
          f"{time.perf_counter() - t0:.1f} s; outcomes in each scenario's last year)")
    return 0


def cmd_plant(a: argparse.Namespace) -> int:
    from sim.results import Results

    try:
        res = Results.load(a.run_dir)
        view = res.plant(a.plant_id, a.seed)
    except (FileNotFoundError, KeyError) as e:
        return _fail(str(e).strip("'\""))
    print("record:")
    for k, v in view["record"].items():
        print(f"  {k}: {v}")
    print("events:")
    print(view["events"].to_string(index=False) if len(view["events"]) else "  (none)")
    if "history" in view:
        print("history:")
        print(view["history"].to_string(index=False))
    return 0


def cmd_metrics(a: argparse.Namespace) -> int:
    if a.observed == (a.run_dir is not None):
        return _fail("give either --observed or a RUN_DIR")
    from sim import report

    from sim import metrics as M

    if a.observed:
        with M.tir_set(a.tir):
            df = report.observed_metrics()
    else:
        if not (a.run_dir / "manifest.json").is_file():
            return _fail(f"{a.run_dir} is not a complete run folder (no manifest.json)")
        df = report.metrics_for_run(a.run_dir, tir=a.tir)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_name(a.out.name + ".partial")
    df.to_csv(tmp, index=False)
    os.replace(tmp, a.out)
    print(f"wrote {a.out} ({len(df)} rows)")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    if not (a.run_dir / "manifest.json").is_file():
        return _fail(f"{a.run_dir} is not a complete run folder (no manifest.json)")
    from sim import report

    path = report.write_report(a.run_dir, a.out, tir=a.tir)
    print(f"wrote {path}")
    return 0


def _log(*args) -> None:
    """Progress lines, flushed at once (they may go to a file or a pipe)."""
    print(*args, flush=True)


def cmd_calibrate(a: argparse.Namespace) -> int:
    try:
        return _calibrate(a)
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError) as e:
        return _fail(str(e))


def _assignments(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings as a dict; a value is read as a TOML value (number, boolean, quoted text)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"--try {item!r}: expected NAME=VALUE, e.g. motor_cluster_growth=0.02")
        if name.strip() in out:
            raise ValueError(f"--try: {name.strip()} given twice")
        try:
            out[name.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            raise ValueError(f"--try {item!r}: the value must be a number, true/false or quoted text") from None
    return out


# the options of `sim calibrate` that each mode reads (--workers and --out: all of them)
_CALIBRATE_MODES = ("recovery", "reselect", "report", "try_", "screen", "optimise")
_CALIBRATE_OPTIONS = {
    "abc": {"budget", "resume", "scheduler", "db", "population", "generations", "continue_from"},
    "optimise": {"budget", "resume", "dir"},
    "screen": {"budget", "dir", "screen_seed"},
    "try_": {"why"},
    "reselect": set(),
    "report": {"seeds", "from_"},
    "recovery": {"budget", "resume", "scheduler", "population", "generations", "truth"},
}


def _flag(dest: str) -> str:
    return "--" + dest.rstrip("_").replace("_", "-")


def _calibrate_mode_problem(a: argparse.Namespace) -> str | None:
    """Why the options given do not make one `sim calibrate` command (two modes, or an option the mode
    does not read, which would otherwise be ignored without a word), or None."""
    modes = [m for m in _CALIBRATE_MODES if getattr(a, m)]
    if len(modes) > 1:
        return f"{' and '.join(_flag(m) for m in modes)} are different commands; give one of them"
    mode = modes[0] if modes else "abc"
    defaults = build_parser().parse_args(["calibrate"])
    stray = [d for d in sorted(set().union(*_CALIBRATE_OPTIONS.values()) - _CALIBRATE_OPTIONS[mode])
             if getattr(a, d) != getattr(defaults, d)]
    if stray:
        name = "the ABC-SMC posterior (no mode flag)" if mode == "abc" else _flag(mode)
        allowed = sorted(_flag(d) for d in _CALIBRATE_OPTIONS[mode] | {"workers", "out"})
        return (f"{', '.join(_flag(d) for d in stray)}: not read by {name}, which takes {', '.join(allowed)}")
    return None


def _calibrate(a: argparse.Namespace) -> int:
    if a.scheduler and not a.scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        return _fail(f"--scheduler {a.scheduler!r}: expected an address such as tcp://HOST:PORT")
    if problem := _calibrate_mode_problem(a):
        return _fail(problem)
    kw = {"out_dir": a.out} if a.out else {}  # where calibrated.toml is read and written (default calibration/)
    if a.recovery:
        from calibration.recovery import recovery

        out = a.out or Path("runs/calibration/recovery")
        try:
            path = recovery(out, budget=a.budget, truth=a.truth, workers=a.workers, population_size=a.population,
                            generations=a.generations, resume=a.resume, scheduler=a.scheduler, log=_log)
        except (FileExistsError, FileNotFoundError, ValueError) as e:
            return _fail(str(e))
        print(f"wrote {path}")
        return 0
    if a.reselect:
        from calibration.run import reselect

        print(f"wrote {reselect(workers=a.workers, log=_log, **kw)}")
        return 0
    if a.report:
        from calibration.report import write_calibration_report

        out = a.out or Path("runs/calibration/report")
        where = {"calib_dir": a.from_} if a.from_ else {}
        print(f"wrote {write_calibration_report(out, seeds=a.seeds, workers=a.workers, **where)}")
        return 0
    if a.try_:
        from calibration.run import try_change

        print(f"wrote {try_change(_assignments(a.try_), why=a.why, workers=a.workers, log=_log, **kw)}")
        return 0
    if a.screen:
        from calibration.run import screen_point

        print(f"wrote {screen_point(budget=a.budget, workers=a.workers, folder=a.dir, rng_seed=a.screen_seed, log=_log, **kw)}")
        return 0
    if a.optimise:
        from calibration.run import calibrate_point

        state = a.dir / "state.pkl"
        if a.resume and not state.is_file():
            return _fail(f"--resume: no optimiser state at {state}")
        if not a.resume and state.exists():
            return _fail(f"--dir {a.dir} holds an optimisation; use --resume to continue it, or choose another --dir")
        print(f"wrote {calibrate_point(budget=a.budget, resume=a.resume, workers=a.workers, folder=a.dir, log=_log, **kw)}")
        return 0
    from calibration.run import calibrate

    if a.resume and not a.db.is_file():
        return _fail(f"--resume: no calibration history at {a.db}")
    if not a.resume and a.db.exists():
        return _fail(f"--db {a.db} exists; use --resume to continue it, or choose another --db")
    path = calibrate(budget=a.budget, resume=a.resume, scheduler=a.scheduler, workers=a.workers, db=a.db,
                     population_size=a.population, generations=a.generations, continue_from=a.continue_from,
                     log=_log, **kw)
    print(f"wrote {path}")
    return 0


def cmd_params(a: argparse.Namespace) -> int:
    rng = ranges()
    for name, f in Params.model_fields.items():
        lo_hi = f"[{rng[name][0]:g}, {rng[name][1]:g}]" if name in rng else ""
        print(f"{name:42s} {str(f.default):>10s} {lo_hi:>18s}  {f.description}")
    return 0


def cmd_validate(a: argparse.Namespace) -> int:
    try:
        sc = load_scenario(a.scenario)
    except (ScenarioError, ParameterError) as e:
        return _fail(str(e))
    print(f"{a.scenario}: ok ({sc.name}, {sc.start_year}-{sc.end_year}, {len(sc.interventions)} intervention(s))")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"sweep": sweep_cli.run, "run": cmd_run, "compare": cmd_compare, "plant": cmd_plant, "metrics": cmd_metrics,
               "report": cmd_report, "params": cmd_params, "validate": cmd_validate, "calibrate": cmd_calibrate,
               "app": cmd_app}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
