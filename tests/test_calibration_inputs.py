"""Bad calibration input is refused before anything runs, naming the field and what is allowed: the
targets file, the [calibration] table, `sim calibrate` options that the chosen mode would ignore, and
a resumed search whose settings have changed since it started."""

import pickle
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.abc import CalibrationConfig
from calibration.seeds import CONFIRM_SEED0
from calibration.targets import TARGETS_FILE, TargetsError, load_targets
from sim.cli import main
from tests.test_calibration import TINY_CONFIG, TINY_OPTIMISE

SHIPPED_TARGETS = TARGETS_FILE.read_text(encoding="utf-8")
EXTRA_TARGET = """
[[target]]
name = "another FDI target"
group = "T3"
statistic = "t3_fdi_outside_tir"
kind = "min"
observed = 0.5
tolerance = 0.1
weight = 1
source = "test"
"""


@pytest.mark.parametrize("text, message", [
    ("", r"no targets; give at least one \[\[target\]\] table"),
    ("target = []\n", r"no targets"),
    (SHIPPED_TARGETS.replace('"t3_fdi_outside_tir"', '"t3_fdi_outsde_tir"', 1),
     r"target 'T3 FDI mainly outside TIRs' \(number \d+\): statistic: unknown statistic 't3_fdi_outsde_tir'; "
     r"allowed: .*t3_fdi_outside_tir"),
    (SHIPPED_TARGETS.replace("observed = ", "observed = nan #", 1), r"\(number 1\): observed: .*finite"),
    (SHIPPED_TARGETS.replace("tolerance = ", "tolerance = inf #", 1), r"\(number 1\): tolerance: .*finite"),
    (SHIPPED_TARGETS.replace("tolerance = ", "tolerance = 0 #", 1), r"\(number 1\): tolerance: .*greater than 0"),
    (SHIPPED_TARGETS + EXTRA_TARGET, r"statistic 't3_fdi_outside_tir' is targeted twice \(targets "
                                     r"'T3 FDI mainly outside TIRs' and 'another FDI target'\)"),
    (SHIPPED_TARGETS + EXTRA_TARGET.replace("t3_fdi_outside_tir", "t2_theil_chemicals_2016"), None),
    (SHIPPED_TARGETS + EXTRA_TARGET.replace("t3_fdi_outside_tir", "t2_theil_chemicals_2016").replace(
        "another FDI target", "T3 FDI mainly outside TIRs"), r"name 'T3 FDI mainly outside TIRs' is targeted twice"),
    ("[weights]\nt1 = 2\n" + SHIPPED_TARGETS, r"unknown table\(s\) or key\(s\) \['weights'\]"),
    (SHIPPED_TARGETS.replace('\nkind = "value"', '\nkind = "exact"', 1), r"\(number 1\): kind: .*'value', 'min' or 'max'"),
])
def test_a_malformed_targets_file_is_refused_naming_the_target_and_field(tmp_path, text, message):
    f = tmp_path / "targets.toml"
    f.write_text(text)
    if message is None:  # a second target of another statistic is fine
        assert len(load_targets(f)) == len(load_targets()) + 1
        return
    with pytest.raises(TargetsError, match=message):
        load_targets(f)


def test_the_shipped_targets_name_known_statistics_once_each():
    ts = load_targets()
    assert len({t.statistic for t in ts}) == len(ts) == len({t.name for t in ts}) == 67


@pytest.mark.parametrize("change, message", [
    (("population_size = 4", "populaton_size = 4"), r"calibration: unknown key\(s\) \['populaton_size'\]; "
                                                   r"allowed: .*population_size"),
    (("n_plants_start = 800", "n_plants_strat = 800"), r"fixed: unknown parameter\(s\) \['n_plants_strat'\]"),
    (("n_plants_start = 800", "exit_rate = 0.9"), r"fixed: .*exit_rate"),
    (("n_plants_start = 800", "beta_agglomeration = 0.5"), r"fixed: \['beta_agglomeration'\] are free"),
    (("exit_rate = [0.03, 0.08]", "exit_rate = 0.05"), r"calibration.prior.exit_rate: 0.05 must be \[low, high\]"),
    (("exit_rate = [0.03, 0.08]", "exit_rate = [0.03, 0.05, 0.08]"), r"calibration.prior.exit_rate: .* \[low, high\]"),
    (("exit_rate = [0.03, 0.08]", 'exit_rate = ["low", "high"]'), r"calibration.prior.exit_rate: .* two numbers"),
    (("exit_rate = [0.03, 0.08]", "exit_rate = [0.08, 0.03]"), r"calibration.prior.exit_rate: .*low < high"),
    (("exit_rate = [0.03, 0.08]", "beta_cost = [0, 1]"), r"calibration.prior.beta_cost: not a free parameter; the "
                                                         r"free ones: exit_rate, beta_agglomeration"),
    (('free = ["exit_rate", "beta_agglomeration"]', 'free = "exit_rate"'), r"calibration.free: .* list of parameter"),
    (('free = ["exit_rate", "beta_agglomeration"]', 'free = ["exit_rate", "exit_rate"]'),
     r"calibration.free: \['exit_rate'\] listed twice"),
    (("[fixed]", "[fixd]"), r"unknown table\(s\) \['fixd'\]; allowed: calibration, optimise, fixed"),
    (("seeds = [0]", "seeds = [0]\nfixed_from_point = 1"), r"calibration.fixed_from_point: 1 must be true or false"),
    (("seeds = [0]", "seeds = [0]\nprior_around_point = 0.9"), r"calibration.prior_around_point: 0.9 must be"),
])
def test_a_malformed_calibration_table_is_refused_naming_the_field(tmp_path, change, message):
    old, new = change
    assert old in TINY_CONFIG
    f = tmp_path / "calibration.toml"
    f.write_text(TINY_CONFIG.replace(old, new, 1))
    with pytest.raises(ValueError, match=message):
        CalibrationConfig.load(f)


def test_the_shipped_calibration_file_loads():
    cfg = CalibrationConfig.load()
    assert len(cfg.free) == 18 and not set(cfg.free) & set(cfg.fixed)
    # the shipped posterior was estimated with the shipped configuration's free parameters
    shipped = tomllib.loads((Path(__file__).parents[1] / "calibration" / "calibrated.toml").read_text())
    assert shipped["provenance"]["posterior"]["free_parameters"] == list(cfg.free)


def _centred_config(tmp_path):
    """A configuration with a local prior, a point beside it, and another point in the folder `other`."""
    cfg = tmp_path / "calibration.toml"
    cfg.write_text(TINY_CONFIG.replace("seeds = [0]", "seeds = [0]\nfixed_from_point = true\nprior_around_point = 0.1"))
    (tmp_path / "calibrated.toml").write_text("[params]\nexit_rate = 0.035\nbeta_cost = 0.7\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "calibrated.toml").write_text("[params]\nexit_rate = 0.075\nbeta_cost = 1.9\n")
    return cfg, other


def test_the_posterior_written_to_another_folder_is_centred_on_that_folders_point(tmp_path):
    """`sim calibrate --out X` holds the other parameters at, and centres the priors on, X's point estimate
    (the one it is compared with and written beside); X without one falls back to the point beside the
    configuration."""
    from calibration.run import stage2_config

    cfg, other = _centred_config(tmp_path)
    lines = []
    here = stage2_config(cfg, other, log=lines.append)
    assert here.fixed["beta_cost"] == 1.9 and here.bounds["exit_rate"] == pytest.approx((0.07, 0.08))
    assert str(other / "calibrated.toml") in lines[0]
    beside = stage2_config(cfg, tmp_path / "empty", log=lines.append)
    assert beside.fixed["beta_cost"] == 0.7 and beside.bounds["exit_rate"] == pytest.approx((0.03, 0.04))


class _Stop(Exception):
    pass


def test_sim_calibrate_out_runs_the_posterior_around_that_folders_point_and_a_resume_around_where_it_started(
        tmp_path, monkeypatch):
    import json

    import calibration.run as run
    from calibration.abc import run_settings, settings_file

    cfg, other = _centred_config(tmp_path)
    used = []

    def fake_run_abc(db, *, config, targets, **kw):
        used.append(config)
        raise _Stop

    monkeypatch.setattr(run, "run_abc", fake_run_abc)
    with pytest.raises(_Stop):
        run.calibrate(budget=10, db=tmp_path / "abc.db", config=cfg, out_dir=other, log=lambda *a: None)
    assert used[-1].fixed["beta_cost"] == 1.9 and used[-1].centre["exit_rate"] == 0.075
    # the first part finished and replaced the folder's point; a resume stays centred where the history began
    db = tmp_path / "abc.db"
    settings_file(db).write_text(json.dumps(run_settings(used[-1], load_targets())))
    (other / "calibrated.toml").write_text("[params]\nexit_rate = 0.05\nbeta_cost = 1.9\n")
    with pytest.raises(_Stop):
        run.calibrate(budget=10, db=db, config=cfg, out_dir=other, resume=True, log=lambda *a: None)
    assert used[-1].centre["exit_rate"] == 0.075 and used[-1].bounds == used[0].bounds


def test_reselect_holds_the_other_parameters_at_the_out_folders_point(tmp_path, monkeypatch):
    import calibration.run as run

    cfg, other = _centred_config(tmp_path)
    (other / "calibrated.toml").write_text("[provenance.posterior]\nmethod = 'x'\n[params]\nexit_rate = 0.075\n"
                                          "beta_cost = 1.9\n")
    pd.DataFrame({"exit_rate": [0.07], "beta_agglomeration": [0.4], "distance": [3.0], "generation": [1]}).to_csv(
        other / "posterior_candidates.csv", index=False)
    used = []
    monkeypatch.setattr(run, "adopt_best", lambda cand, cfg_, *a, **kw: used.append(cfg_) or Path("x"))
    run.reselect(out_dir=other, config=cfg, log=lambda *a: None)
    assert used[0].fixed["beta_cost"] == 1.9


@pytest.mark.parametrize("args, message", [
    (["--optimise", "--population", "40"], r"--population: not read by --optimise, which takes .*--budget"),
    (["--optimise", "--generations", "3"], r"--generations: not read by --optimise"),
    (["--optimise", "--scheduler", "tcp://h:1"], r"--scheduler: not read by --optimise"),
    (["--screen", "--resume"], r"--resume: not read by --screen"),
    (["--screen", "--population", "40"], r"--population: not read by --screen"),
    (["--report", "--resume"], r"--resume: not read by --report, which takes --from, --out, --seeds, --workers"),
    (["--optimise", "--from", "somewhere"], r"--from: not read by --optimise"),
    (["--reselect", "--resume"], r"--resume: not read by --reselect"),
    (["--seeds", "10"], r"--seeds: not read by the ABC-SMC posterior \(no mode flag\)"),
    (["--truth", "middle"], r"--truth: not read by the ABC-SMC posterior"),
    (["--optimise", "--screen-seed", "3"], r"--screen-seed: not read by --optimise"),
    (["--report", "--budget", "10"], r"--budget: not read by --report"),
    (["--optimise", "--screen"], r"--screen and --optimise are different commands"),
    (["--report", "--recovery"], r"--recovery and --report are different commands"),
    (["--try", "exit_rate=0.05", "--resume"], r"--resume: not read by --try"),
    (["--report", "--continue-from", "calibration/posterior.csv"], r"--continue-from: not read by --report"),
    (["--recovery", "--continue-from", "calibration/posterior.csv"], r"--continue-from: not read by --recovery"),
])
def test_calibrate_refuses_options_its_mode_would_ignore(tmp_path, capsys, args, message):
    import re

    out = tmp_path / "out"
    assert main(["calibrate", *args, "--out", str(out), "--dir", str(tmp_path / "dir"),
                 "--db", str(tmp_path / "abc.db")] if "--optimise" in args or "--screen" in args else
                ["calibrate", *args, "--out", str(out)]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists() and not (tmp_path / "dir").exists()


def _searched(folder: Path, cfg, base, targets, budget: int, **kw):
    from calibration.optimise import optimise

    return optimise(folder, budget=budget, config=cfg, targets=targets, base=base, workers=1, log=lambda *a: None,
                    **kw)


def test_a_cma_es_resume_with_other_settings_is_refused_naming_them(tmp_path):
    """A resumed CMA-ES search would mix evaluations made under two settings (other intervals, other values
    of the parameters that are not free, other targets) in one state; it is refused, and the state is kept."""
    from calibration.optimise import OptimiseConfig

    f = tmp_path / "cal.toml"
    f.write_text(TINY_OPTIMISE)
    cfg, tg = OptimiseConfig.load(f), load_targets()
    base = {"n_plants_start": 600, "exit_rate": 0.05}
    folder = tmp_path / "opt"
    assert len(_searched(folder, cfg, base, tg, 4)) == 4
    state = (folder / "state.pkl").read_bytes()
    f.write_text(TINY_OPTIMISE.replace("exit_rate = [0.03, 0.08]", "exit_rate = [0.03, 0.06]"))
    with pytest.raises(ValueError, match=r"other settings.*bounds \(stored"):
        _searched(folder, OptimiseConfig.load(f), base, tg, 8, resume=True)
    with pytest.raises(ValueError, match=r"other settings.*base \(stored.*n_plants_start': 600.*now.*700"):
        _searched(folder, cfg, {**base, "n_plants_start": 700}, tg, 8, resume=True)
    with pytest.raises(ValueError, match=r"other settings.*targets \(stored"):
        _searched(folder, cfg, base, [t.model_copy(update={"observed": t.observed + 1}) for t in tg], 8, resume=True)
    assert (folder / "state.pkl").read_bytes() == state  # nothing written
    # the free parameters' own values in the base do not matter (the search sets them)
    assert len(_searched(folder, cfg, {**base, "exit_rate": 0.07}, tg, 8, resume=True)) == 8


def test_a_cma_es_state_from_before_the_settings_were_stored_still_resumes(tmp_path):
    from calibration.optimise import OptimiseConfig

    f = tmp_path / "cal.toml"
    f.write_text(TINY_OPTIMISE)
    cfg, tg = OptimiseConfig.load(f), load_targets()
    base = {"n_plants_start": 600}
    folder = tmp_path / "opt"
    _searched(folder, cfg, base, tg, 4)
    saved = pickle.loads((folder / "state.pkl").read_bytes())
    del saved["settings"]
    (folder / "state.pkl").write_bytes(pickle.dumps(saved))
    assert len(_searched(folder, cfg, base, tg, 8, resume=True)) == 8
    saved["seeds"] = [5]
    (folder / "state.pkl").write_bytes(pickle.dumps(saved))
    with pytest.raises(ValueError, match=r"seeds \(stored \[5\], now \[0\]\)"):
        _searched(folder, cfg, base, tg, 12, resume=True)


def test_another_screen_seed_draws_other_perturbations_and_the_same_seed_the_same(tmp_path):
    from calibration.optimise import OptimiseConfig, random_screen

    f = tmp_path / "cal.toml"
    f.write_text(TINY_OPTIMISE)
    cfg = OptimiseConfig.load(f)
    base = {"n_plants_start": 600, "exit_rate": 0.05, "beta_agglomeration": 0.5}
    one, again, other = (random_screen(cfg, base, 5, rng_seed=s) for s in (1, 1, 2))
    assert one == again
    assert one[0] == other[0] == base  # the point itself comes first either way
    assert all(a != b for a, b in zip(one[1:], other[1:]))
    assert all(s["n_plants_start"] == 600 for s in other)
    moved = np.array([[s["exit_rate"] for s in other[1:]]])
    assert ((moved >= 0.03) & (moved <= 0.08)).all()


def test_a_screen_of_the_point_alone_is_refused(tmp_path):
    from calibration.run import screen_point

    f = tmp_path / "cal.toml"
    f.write_text(TINY_OPTIMISE)
    (tmp_path / "calibrated.toml").write_text("[params]\nn_plants_start = 600\n")
    with pytest.raises(ValueError, match=r"--budget 1: a screen needs at least 2"):
        screen_point(budget=1, workers=1, folder=tmp_path / "scr", config=f, out_dir=tmp_path, log=lambda *a: None)
    assert not (tmp_path / "scr").exists()


def test_a_screen_does_not_confirm_the_point_against_itself_when_it_leaves_free_parameters_at_defaults(
        tmp_path, monkeypatch):
    """The screen's first set is the point with its missing free parameters written out at their defaults:
    the same model, so it must not take a confirmation slot from a perturbation (stop 28: it did)."""
    import calibration.optimise as opt
    from calibration.criteria import DoneCriteria
    from calibration.run import screen_point

    f = tmp_path / "cal.toml"
    f.write_text(TINY_OPTIMISE)  # confirm_top = 2
    (tmp_path / "calibrated.toml").write_text("[params]\nn_plants_start = 600\nexit_rate = 0.05\n")  # no beta_agglomeration
    confirmed = []

    def fake_rescore(sets, seeds, targets, workers=2):
        if seeds[0] == CONFIRM_SEED0:
            confirmed.append(sets)
        # on the screen seeds the point (first) ranks best, then the later perturbations
        return [DoneCriteria(t1_cells=8, t2_groups=4, u_shape=7, lq_directions=2, t5_groups=2, passes=50,
                             distance=40.0 - i if i else 1.0) for i, _ in enumerate(sets)]

    monkeypatch.setattr(opt, "rescore", fake_rescore)
    screen_point(budget=5, workers=1, folder=tmp_path / "scr", config=f, out_dir=tmp_path, log=lambda *a: None)
    first = confirmed[0]
    assert len(first) == 3  # the two best perturbations and the point, which is not among the candidates again
    # the point: exit_rate 0.05, beta_agglomeration absent or at its default 0.5
    assert [s.get("beta_agglomeration", 0.5) == 0.5 and s["exit_rate"] == 0.05 for s in first] == [False, False, True]


# a value other than the default for every option that some mode reads
_OPTION_VALUES = {"budget": ["--budget", "10"], "resume": ["--resume"], "scheduler": ["--scheduler", "tcp://h:1"],
                  "db": ["--db", "NEWDB"], "population": ["--population", "3"], "generations": ["--generations", "2"],
                  "dir": ["--dir", "NEWDIR"], "screen_seed": ["--screen-seed", "7"], "why": ["--why", "because"],
                  "seeds": ["--seeds", "3"], "truth": ["--truth", "middle"], "from_": ["--from", "FROM"],
                  "continue_from": ["--continue-from", "POSTERIOR"]}
_MODE_FLAG = {"abc": [], "optimise": ["--optimise"], "screen": ["--screen"], "try_": ["--try", "exit_rate=0.05"],
              "reselect": ["--reselect"], "report": ["--report"], "recovery": ["--recovery"]}


def _fake_runners(monkeypatch, calls):
    import calibration.recovery as recovery
    import calibration.report as report
    import calibration.run as run

    for mod, name in ((run, "calibrate"), (run, "calibrate_point"), (run, "screen_point"), (run, "try_change"),
                      (run, "reselect"), (report, "write_calibration_report"), (recovery, "recovery")):
        monkeypatch.setattr(mod, name, lambda *a, _n=name, **kw: calls.append((_n, a, kw)) or Path("done"))


# which options each mode reads (besides --workers and --out), as the runners' signatures take them
_READS = {
    "abc": {"budget", "resume", "scheduler", "db", "population", "generations", "continue_from"},
    "optimise": {"budget", "resume", "dir"},
    "screen": {"budget", "dir", "screen_seed"},
    "try_": {"why"},
    "reselect": set(),
    "report": {"seeds", "from_"},
    "recovery": {"budget", "resume", "scheduler", "population", "generations", "truth"},
}


def test_calibrate_accepts_every_option_its_mode_reads_and_passes_it_on(tmp_path, monkeypatch):
    calls = []
    _fake_runners(monkeypatch, calls)
    monkeypatch.chdir(tmp_path)
    Path("DB").write_text("")            # --resume needs something to resume
    (tmp_path / "DIR").mkdir()
    (tmp_path / "DIR" / "state.pkl").write_text("")
    for mode, options in _READS.items():
        for opt in sorted(options):
            args = ["calibrate", *_MODE_FLAG[mode], *_OPTION_VALUES[opt]]
            if mode == "abc" and opt == "resume":
                args += ["--db", "DB"]
            if mode == "optimise" and opt == "resume":
                args += ["--dir", "DIR"]
            assert main(args) == 0, args
            kw = calls[-1][2]
            given = _OPTION_VALUES[opt][-1]
            passed = {"budget": kw.get("budget"), "resume": kw.get("resume"), "scheduler": kw.get("scheduler"),
                      "db": kw.get("db"), "population": kw.get("population_size"),
                      "generations": kw.get("generations"), "dir": kw.get("folder"), "screen_seed": kw.get("rng_seed"),
                      "why": kw.get("why"), "seeds": kw.get("seeds"), "truth": kw.get("truth"),
                      "from_": kw.get("calib_dir"), "continue_from": kw.get("continue_from")}[opt]
            assert str(passed) in (given, "True"), (mode, opt, passed)


def test_a_screen_draws_its_perturbations_with_the_screen_seed_and_records_it(tmp_path, monkeypatch):
    import calibration.optimise as opt
    from calibration.criteria import DoneCriteria
    from calibration.optimise import OptimiseConfig, random_screen
    from calibration.run import screen_point

    f = tmp_path / "cal.toml"
    f.write_text(TINY_OPTIMISE)
    (tmp_path / "calibrated.toml").write_text("[params]\nn_plants_start = 600\nexit_rate = 0.05\n"
                                              "beta_agglomeration = 0.5\n")
    monkeypatch.setattr(opt, "rescore", lambda sets, seeds, targets, workers=2: [
        DoneCriteria(t1_cells=8, t2_groups=4, u_shape=7, lq_directions=2, t5_groups=2, passes=50, distance=40.0)
        for _ in sets])
    doc = screen_point(budget=4, workers=1, folder=tmp_path / "scr", config=f, out_dir=tmp_path, rng_seed=7,
                       log=lambda *a: None)
    import tomllib

    assert tomllib.loads(doc.read_text())["provenance"]["last_search"]["screen_rng_seed"] == 7
    drawn = pd.read_csv(tmp_path / "scr" / "screen.csv")["exit_rate"].tolist()
    base = {"n_plants_start": 600, "exit_rate": 0.05, "beta_agglomeration": 0.5}
    assert drawn == pytest.approx([s["exit_rate"] for s in random_screen(OptimiseConfig.load(f), base, 4, rng_seed=7)])
    assert drawn != pytest.approx([s["exit_rate"] for s in random_screen(OptimiseConfig.load(f), base, 4, rng_seed=1)])


def test_a_report_on_a_folder_without_a_point_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["calibrate", "--report", "--from", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "no point estimate to report on" in capsys.readouterr().err
    assert not out.exists()
