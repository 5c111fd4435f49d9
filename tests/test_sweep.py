"""Sensitivity sweeps: the SALib machinery on the Ishigami function (against SALib itself), crash safety
and resume, executors (local pool, Dask), a tiny real-model sweep end to end, and bad problem files."""

import argparse
import functools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from SALib.test_functions import Ishigami

from sim import sweep as S
from sim import sweep_cli

REPO = Path(__file__).resolve().parents[1]
PARAMS3 = [{"name": "beta_science", "bounds": [0.0, 10.0]}, {"name": "beta_skills", "bounds": [1.0, 9.0]},
           {"name": "beta_access", "bounds": [0.0, 4.0]}]
OUTS = [{"name": "y1", "metric": "theil_gva"}, {"name": "y2", "metric": "hhi"}]
NOISE = 0.5
ISH = functools.partial(S.ishigami_point, noise=NOISE)
TOL = 1e-12


def ishigami_problem(**kw):
    return S.make_problem(parameters=kw.pop("parameters", PARAMS3), outputs=OUTS, **kw)


def direct_runs(problem, X, seeds):
    """points x seeds x outputs, computed with SALib's own Ishigami function (independently of the sweep)."""
    lo = np.array([p.bounds[0] for p in problem.parameters])
    hi = np.array([p.bounds[1] for p in problem.parameters])
    x = -np.pi + 2 * np.pi * (X - lo) / (hi - lo)
    Y = np.empty((len(X), len(seeds), len(problem.outputs)))
    for j in range(len(problem.outputs)):
        base = Ishigami.evaluate(x, A=7.0 + j, B=0.1)
        for k, s in enumerate(seeds):
            eps = np.array([np.random.default_rng([s, p, j]).standard_normal() for p in range(len(X))])
            Y[:, k, j] = base + NOISE * eps
    return Y


def pick(ind, output, index):
    d = ind[(ind["output"] == output) & (ind["index"] == index)]
    return d["value"].to_numpy(), d["conf"].to_numpy()


def parts(out):
    return sorted((Path(out) / "parts").glob("part-*.parquet"))


# --------------------------------------------------------------------------------------------------
# The machinery reproduces SALib on the Ishigami function
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("second_order", [False, True])
def test_sobol_on_ishigami_equals_salib_directly(tmp_path, second_order):
    pb = ishigami_problem(second_order=second_order)
    res = S.run_sweep(pb, tmp_path / "s", method="sobol", N=64, seeds=3, evaluate=ISH, batch_size=500,
                      figures=False)
    assert res.complete and res.n_runs == 64 * (8 if second_order else 5) * 3 and res.n_failed == 0
    spec = pb.problem_dict()
    X = sobol_sample.sample(spec, 64, calc_second_order=second_order, seed=pb.sample_seed)
    stored = pd.read_parquet(tmp_path / "s" / "samples.parquet")
    assert np.array_equal(stored[pb.parameter_names].to_numpy(), X)
    Y = direct_runs(pb, X, [0, 1, 2])
    for j, o in enumerate(pb.output_names):
        Si = sobol_analyze.analyze(spec, Y[:, :, j].mean(axis=1), calc_second_order=second_order,
                                   num_resamples=pb.num_resamples, conf_level=pb.conf_level, seed=pb.sample_seed)
        for idx in ("S1", "ST"):
            v, c = pick(res.indices, o, idx)
            np.testing.assert_allclose(v, Si[idx], rtol=0, atol=TOL)
            np.testing.assert_allclose(c, Si[f"{idx}_conf"], rtol=0, atol=TOL)
        if second_order:
            v, c = pick(res.indices, o, "S2")
            iu = np.triu_indices(3, 1)
            np.testing.assert_allclose(v, Si["S2"][iu], rtol=0, atol=TOL)
            np.testing.assert_allclose(c, Si["S2_conf"][iu], rtol=0, atol=TOL)
    # and the Ishigami indices are where theory puts them (S1 = .31, .44, 0; ST = .56, .44, .24)
    s1, _ = pick(res.indices, "y1", "S1")
    assert s1[1] > s1[0] > s1[2] and abs(s1[2]) < 0.15
    # the written table is the returned one
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "s" / "indices.csv"), res.indices, check_exact=False,
                                  rtol=0, atol=TOL)


def test_morris_on_ishigami_equals_salib_directly(tmp_path):
    pb = ishigami_problem(num_levels=6)
    res = S.run_sweep(pb, tmp_path / "m", method="morris", N=30, seeds=2, evaluate=ISH, batch_size=500,
                      figures=True)
    spec = pb.problem_dict()
    X = morris_sample.sample(spec, 30, num_levels=6, seed=pb.sample_seed)
    assert np.array_equal(pd.read_parquet(tmp_path / "m" / "samples.parquet")[pb.parameter_names].to_numpy(), X)
    Y = direct_runs(pb, X, [0, 1])
    for j, o in enumerate(pb.output_names):
        Si = morris_analyze.analyze(spec, X, Y[:, :, j].mean(axis=1), num_resamples=pb.num_resamples,
                                    conf_level=pb.conf_level, num_levels=6, seed=pb.sample_seed)
        v, c = pick(res.indices, o, "mu_star")
        np.testing.assert_allclose(v, Si["mu_star"], rtol=0, atol=TOL)
        np.testing.assert_allclose(c, Si["mu_star_conf"], rtol=0, atol=TOL)
        np.testing.assert_allclose(pick(res.indices, o, "sigma")[0], Si["sigma"], rtol=0, atol=TOL)
    figs = {p.name for p in (tmp_path / "m" / "figures").iterdir()}
    assert figs == {"indices_y1.png", "indices_y2.png", "morris_y1.png", "morris_y2.png"}


def test_groups_and_seed_noise(tmp_path):
    params = [dict(PARAMS3[0], group="g13"), PARAMS3[1], dict(PARAMS3[2], group="g13")]
    pb = ishigami_problem(parameters=params)
    assert pb.factor_names == ["g13", "beta_skills"] and pb.n_points("sobol", 32) == 32 * 4
    res = S.run_sweep(pb, tmp_path / "g", method="sobol", N=32, seeds=4, evaluate=ISH, batch_size=500,
                      figures=False)
    X = sobol_sample.sample(pb.problem_dict(), 32, calc_second_order=False, seed=pb.sample_seed)
    Y = direct_runs(pb, X, range(4))
    Si = sobol_analyze.analyze(pb.problem_dict(), Y[:, :, 0].mean(axis=1), calc_second_order=False,
                               num_resamples=pb.num_resamples, seed=pb.sample_seed)
    d = res.indices[(res.indices["output"] == "y1") & (res.indices["index"] == "ST")]
    assert list(d["parameter"]) == ["g13", "beta_skills"]
    np.testing.assert_allclose(d["value"], Si["ST"], rtol=0, atol=TOL)
    # seed noise: variance components of runs (seeds nested in sample points)
    y = Y[:, :, 0]
    n = res.seed_noise.set_index("output").loc["y1"]
    within, between = y.var(axis=1, ddof=1).mean(), y.mean(axis=1).var(ddof=1)
    np.testing.assert_allclose([n["within_var"], n["between_var"]], [within, between], rtol=1e-12)
    np.testing.assert_allclose(n["total_var"], within + (between - within / 4), rtol=1e-12)
    np.testing.assert_allclose(n["noise_share"], within / n["total_var"], rtol=1e-12)
    np.testing.assert_allclose(n["sample_var"], y.ravel().var(ddof=1), rtol=1e-12)
    assert 0.15 < n["within_var"] < 0.35  # the noise variance is NOISE**2 = 0.25
    assert 0 < n["noise_share_of_mean"] < n["noise_share"] < 0.05
    assert n["n_seeds"] == 4 and n["n_failed"] == 0


# --------------------------------------------------------------------------------------------------
# Crash safety and resume
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps") / "full"
    return S.run_sweep(ishigami_problem(), out, method="sobol", N=32, seeds=2, evaluate=ISH, figures=False)


def test_stop_after_batches_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    pb, out = ishigami_problem(), tmp_path / "r"
    part = S.run_sweep(pb, out, method="sobol", N=32, seeds=2, evaluate=ISH, batch_size=25, max_batches=3,
                       figures=False)
    assert not part.complete and part.n_done == 75 and len(parts(out)) == 3
    assert not (out / "indices.csv").exists()
    for f in ("samples.parquet", "problem.toml", "scenario.toml", "sweep.json"):
        assert (out / f).is_file()
    # a sweep folder is self-contained: its problem.toml reloads to the same problem
    assert S.load_problem(out / "problem.toml").signature() == pb.signature()
    done = S.run_sweep(pb, out, method="sobol", N=32, seeds=2, evaluate=ISH, resume=True, figures=False)
    assert done.complete
    rows = sum(len(pd.read_parquet(p)) for p in parts(out))
    assert rows == done.n_runs == 320  # only the missing pairs were run
    pd.testing.assert_frame_equal(done.indices, uninterrupted.indices, check_exact=True)
    pd.testing.assert_frame_equal(done.seed_noise, uninterrupted.seed_noise, check_exact=True)
    # resuming a complete sweep runs nothing and analyses again
    n_parts = len(parts(out))
    again = S.run_sweep(pb, out, method="sobol", N=32, seeds=2, evaluate=ISH, resume=True, figures=False)
    assert len(parts(out)) == n_parts and again.indices.equals(done.indices)


def test_resume_must_match_and_fresh_must_be_empty(tmp_path, uninterrupted):
    pb = ishigami_problem()
    out = uninterrupted.out
    with pytest.raises(S.SweepError, match="exists and is not empty"):
        S.run_sweep(pb, out, method="sobol", N=32, seeds=2, evaluate=ISH)
    with pytest.raises(S.SweepError, match="-N"):
        S.run_sweep(pb, out, method="sobol", N=64, seeds=2, evaluate=ISH, resume=True)
    with pytest.raises(S.SweepError, match="--seeds"):
        S.run_sweep(pb, out, method="sobol", N=32, seeds=3, evaluate=ISH, resume=True)
    with pytest.raises(S.SweepError, match="--method"):
        S.run_sweep(pb, out, method="morris", N=32, seeds=2, evaluate=ISH, resume=True)
    with pytest.raises(S.SweepError, match="problem parameters"):
        S.run_sweep(ishigami_problem(parameters=[dict(PARAMS3[0], bounds=[0.0, 9.0]), *PARAMS3[1:]]), out,
                    method="sobol", N=32, seeds=2, evaluate=ISH, resume=True)
    with pytest.raises(S.SweepError, match="evaluation function"):
        S.run_sweep(pb, out, method="sobol", N=32, seeds=2, resume=True)
    with pytest.raises(S.SweepError, match="no sweep"):
        S.run_sweep(pb, tmp_path / "none", method="sobol", N=32, seeds=2, evaluate=ISH, resume=True)


KILL_SCRIPT = """
import functools, sys
from sim import sweep as S
pb = S.make_problem(parameters={params!r}, outputs={outs!r})
S.run_sweep(pb, sys.argv[1], method="sobol", N=32, seeds=2, workers=2, batch_size=20,
            evaluate=functools.partial(S.ishigami_point, noise={noise!r}, delay=0.03), figures=False)
"""


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    out = tmp_path / "k"
    script = KILL_SCRIPT.format(params=PARAMS3, outs=OUTS, noise=NOISE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", script, str(out)], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        t0 = time.monotonic()
        while len(parts(out)) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() - t0 < 60, "no part files after 60 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep, its forkserver and its workers
        proc.wait()
    n_parts = len(parts(out))
    assert 2 <= n_parts < 16 and not (out / "indices.csv").exists()
    done = S.run_sweep(ishigami_problem(), out, method="sobol", N=32, seeds=2, evaluate=ISH, resume=True,
                       figures=False)
    assert done.complete and sum(len(pd.read_parquet(p)) for p in parts(out)) == 320
    assert not list((out / "parts").glob(".*.tmp"))
    pd.testing.assert_frame_equal(done.indices, uninterrupted.indices, check_exact=True)


# --------------------------------------------------------------------------------------------------
# Executors: a local pool and a real Dask cluster give the serial result
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_local_pool_and_dask_cluster_equal_serial(tmp_path, uninterrupted):
    from distributed import LocalCluster

    pb = ishigami_problem()
    pool = S.run_sweep(pb, tmp_path / "pool", method="sobol", N=32, seeds=2, workers=2, batch_size=16,
                       evaluate=ISH, figures=False)
    pd.testing.assert_frame_equal(pool.indices, uninterrupted.indices, check_exact=True)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        dask = S.run_sweep(pb, tmp_path / "dask", method="sobol", N=32, seeds=2, scheduler=cluster.scheduler_address,
                           batch_size=16, evaluate=ISH, figures=False)
    pd.testing.assert_frame_equal(dask.indices, uninterrupted.indices, check_exact=True)
    pd.testing.assert_frame_equal(dask.seed_noise, uninterrupted.seed_noise, check_exact=True)


# --------------------------------------------------------------------------------------------------
# The real model, end to end through the command line
# --------------------------------------------------------------------------------------------------


def _cli(argv):
    ap = argparse.ArgumentParser(prog="sim")
    sweep_cli.add_parser(ap.add_subparsers(dest="command", required=True))
    return sweep_cli.run(ap.parse_args(["sweep", *argv]))


TINY_SCENARIO = '[scenario]\nname = "tiny"\nend_year = 1980\n\n[params]\nn_plants_start = 500\n'
TINY_PROBLEM = """
[sweep]
name = "tiny"
scenario = "tiny_scenario.toml"
num_resamples = 20

[[parameters]]
name = "beta_agglomeration"
bounds = [0.0, 1.5]

[[parameters]]
name = "exit_rate"
bounds = [0.02, 0.12]

[[outputs]]
statistic = "t3_tir_share_2016"

[[outputs]]
name = "theil_motor"
metric = "theil_gva"
level = "sector"
industry = "motor_vehicles"
year = [1976, 1980]

[[outputs]]
metric = "decomp_total_change"
"""


@pytest.mark.slow
def test_tiny_real_model_morris_sweep_end_to_end(tmp_path, capsys):
    (tmp_path / "tiny_scenario.toml").write_text(TINY_SCENARIO)
    prob = tmp_path / "tiny_problem.toml"
    prob.write_text(TINY_PROBLEM)
    out = tmp_path / "sweep"
    code = _cli([str(prob), "--method", "morris", "-N", "3", "--seeds", "1", "--workers", "1", "--out", str(out),
                 "--no-progress"])
    assert code == 0, capsys.readouterr().err
    out_text = capsys.readouterr().out
    assert "wrote" in out_text
    runs = pd.read_parquet(out / "results.parquet")
    assert len(runs) == 9 and (runs["error"] == "").all()
    names = ["t3_tir_share_2016", "theil_motor", "decomp_total_change_all_AM_1980"]
    assert runs[names].notna().all().all()
    ind = pd.read_csv(out / "indices.csv")
    assert set(ind["output"]) == set(names) and set(ind["parameter"]) == {"beta_agglomeration", "exit_rate"}
    assert set(ind["index"]) == {"mu_star", "sigma", "mu"}
    assert (out / "seed_noise.csv").is_file() and (out / "figures" / "morris_theil_motor.png").is_file()
    assert (out / "problem.source.toml").read_text() == TINY_PROBLEM
    # the one targeted output is filtered against its calibration target (targets.toml)
    tg = pd.read_csv(out / "targets.csv")
    assert list(tg["output"]) == ["t3_tir_share_2016", "all"]
    means = runs.groupby("point")["t3_tir_share_2016"].mean()
    assert tg["n_pass"].iloc[0] == ((means - 0.338).abs() <= 0.05).sum() == tg["n_pass"].iloc[1]
    assert "passing their calibration target: t3_tir_share_2016" in out_text
    # evaluate_point is a pure function of (problem, values, seed): the same numbers in this process,
    # and the range output is the mean of run_metrics over 1976-1980
    import sim
    from sim.report import run_metrics

    pb = S.load_problem(prob)
    row = runs.iloc[4]
    values = row[pb.parameter_names].to_numpy(dtype=float)
    again = S.evaluate_point(pb, int(row["point"]), values, int(row["seed"]))
    assert again == {n: row[n] for n in names}
    res = sim.simulate(pb.point_scenario(dict(zip(pb.parameter_names, values))), seed=0)
    m = run_metrics(res.panel)
    sel = m[(m["metric"] == "theil_gva") & (m["level"] == "sector") & (m["industry"] == "motor_vehicles")
            & m["year"].between(1976, 1980)]
    assert len(sel) == 5 and again["theil_motor"] == pytest.approx(sel["value"].mean(), rel=1e-12)


def test_statistic_names_are_those_of_per_seed_statistics():
    import sim
    from calibration.summary import per_seed_statistics

    res = sim.simulate(params={"n_plants_start": 500}, seed=3)
    assert set(S.statistic_names()) == set(per_seed_statistics(res).columns)



@pytest.mark.parametrize("name", ["sensitivity_problem.toml", "sensitivity_calibrated.toml"])
def test_shipped_problem_files_load_and_compute_their_outputs(name):
    pb = S.load_problem(REPO / "calibration" / name)
    assert len(pb.parameters) >= 2 and pb.outputs
    stats = set(S.statistic_names())
    assert all(o.statistic in stats for o in pb.outputs if o.statistic)


def test_target_passes_counts_points_whose_seed_mean_meets_each_target_alone_and_together():
    """Hand-worked: 4 points x 2 seeds; a value target (0.3 +- 0.05) and a min target (at least 0.5)."""
    from calibration.targets import Target

    targets = [Target(name="share", group="T3", statistic="t3_tir_share_2016", kind="value", observed=0.3,
                      tolerance=0.05, weight=1, source="test"),
               Target(name="fdi", group="T3", statistic="t3_fdi_outside_tir", kind="min", observed=0.5,
                      tolerance=0.05, weight=1, source="test")]
    pb = S.make_problem(parameters=PARAMS3, outputs=[
        {"name": "y2", "metric": "hhi"}, {"statistic": "t3_tir_share_2016"},
        {"name": "fdi", "statistic": "t3_fdi_outside_tir"}])
    share = [[0.30, 0.34], [0.40, 0.36], [0.26, 0.26], [0.30, np.nan]]  # means .32 .38 .26 NaN
    fdi = [[0.6, 0.5], [0.45, 0.6], [0.49, 0.49], [0.7, 0.7]]  # means .55 .525 .49 .7
    Y = np.stack([np.zeros((4, 2)), np.array(share), np.array(fdi)], axis=2)
    table, joint = S.target_passes(pb, Y, targets)
    t = table.set_index("output")
    assert list(t.index) == ["t3_tir_share_2016", "fdi", "all"]  # the untargeted metric is left out
    assert t.loc["t3_tir_share_2016", "n_pass"] == 2 and t.loc["fdi", "n_pass"] == 3
    assert t.loc["all", "n_pass"] == 1 and t.loc["all", "share_pass"] == 0.25  # point 0 only
    assert t.loc["t3_tir_share_2016", ["min", "median", "max"]].tolist() == pytest.approx([0.26, 0.32, 0.38])
    assert t.loc["fdi", "target"] == "fdi" and t.loc["fdi", "kind"] == "min"
    assert joint.to_dict("records") == [{"output_a": "t3_tir_share_2016", "output_b": "fdi",
                                         "n_pass_both": 1, "share_pass_both": 0.25}]
    # a problem without targeted outputs has nothing to filter
    table, joint = S.target_passes(ishigami_problem(), np.zeros((4, 2, 2)), targets)
    assert table.empty and joint.empty


def test_calibrated_problem_samples_around_the_calibrated_point():
    """Every parameter the calibrated problem does not vary is at the calibrated point, and every
    varied interval contains the calibrated value (so a re-calibration that leaves it fails here)."""
    import tomllib

    from sim.params import Params

    point = tomllib.loads((REPO / "calibration" / "calibrated.toml").read_text())["params"]
    pb = S.load_problem(REPO / "calibration" / "sensitivity_calibrated.toml")
    values = pb.point_scenario({}).make_params(None)
    varied = set(pb.parameter_names)
    for k, v in point.items():
        if k not in varied and k not in pb.fixed:
            assert getattr(values, k) == pytest.approx(v), k
    default = Params()
    for q in pb.parameters:
        v = point.get(q.name, getattr(default, q.name))
        assert q.bounds[0] <= v <= q.bounds[1], (q.name, v, q.bounds)

# --------------------------------------------------------------------------------------------------
# Bad input is refused, naming the field, before anything is written
# --------------------------------------------------------------------------------------------------

GOOD_PARAMS = '[[parameters]]\nname = "beta_science"\nbounds = [0.0, 2.0]\n\n' \
              '[[parameters]]\nname = "beta_skills"\nbounds = [0.0, 2.0]\n'
GOOD_OUTPUT = '[[outputs]]\nmetric = "theil_gva"\n'


@pytest.mark.parametrize("body, field", [
    ('[[parameters]]\nname = "warp_speed"\nbounds = [0, 1]\n' + GOOD_PARAMS + GOOD_OUTPUT, "parameters.0.name"),
    ('[[parameters]]\nname = "beta_agglomeration"\nbounds = [0.0, 9.0]\n' + GOOD_PARAMS + GOOD_OUTPUT,
     "parameters.0.bounds"),
    ('[[parameters]]\nname = "exit_rate"\nbounds = [0.1, 0.05]\n' + GOOD_PARAMS + GOOD_OUTPUT, "parameters.0.bounds"),
    ('[[parameters]]\nname = "beta_science"\nbounds = [0.0, 2.0]\n' + GOOD_OUTPUT, "parameters: at least 2"),
    (GOOD_PARAMS + '[[outputs]]\nstatistic = "t9_nonsense"\n', "outputs.0.statistic"),
    (GOOD_PARAMS + '[[outputs]]\nmetric = "theil_nonsense"\n', "outputs.0.metric"),
    (GOOD_PARAMS + '[[outputs]]\nmetric = "theil_gva"\nlevel = "nation"\n', "outputs.0.level"),
    (GOOD_PARAMS + '[[outputs]]\nmetric = "theil_gva"\nlevel = "sector"\nindustry = "bananas"\n',
     "outputs.0.industry"),
    (GOOD_PARAMS + '[[outputs]]\nmetric = "theil_gva"\nyear = 2030\n', "outputs.0.year"),
    (GOOD_PARAMS + '[[outputs]]\nmetric = "theil_gva"\nstatistic = "t3_tir_share_2016"\n', "outputs.0"),
    (GOOD_PARAMS, "outputs"),
    ('[fixed]\nexit_rate = 2.0\n' + GOOD_PARAMS + GOOD_OUTPUT, "fixed.exit_rate"),
    ('[fixed]\nbeta_science = 1.0\n' + GOOD_PARAMS + GOOD_OUTPUT, "fixed"),
    ('[sweep]\nnum_levels = 3\n' + GOOD_PARAMS + GOOD_OUTPUT, "sweep.num_levels"),
    ('[sweep]\nsample_seed = 0\n' + GOOD_PARAMS + GOOD_OUTPUT, "sweep.sample_seed"),
    ('[sweep]\ncolour = "red"\n' + GOOD_PARAMS + GOOD_OUTPUT, "sweep.colour"),
    ('[sweep]\nscenario = "missing.toml"\n' + GOOD_PARAMS + GOOD_OUTPUT, "sweep.scenario"),
    ('[extras]\n' + GOOD_PARAMS + GOOD_OUTPUT, "unknown section"),
    ('[[parameters]\nname = ', "malformed TOML"),
])
def test_bad_problem_files_are_refused(tmp_path, capsys, body, field):
    f = tmp_path / "p.toml"
    f.write_text(body)
    out = tmp_path / "out"
    assert _cli([str(f), "--method", "sobol", "-N", "8", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and field in err
    assert not out.exists()


@pytest.mark.parametrize("args, field", [
    (["--method", "fast"], "--method"),
    (["-N", "1"], "-N"),
    (["-N", "eight"], "-N"),
    (["--seeds", "0"], "--seeds"),
    (["--workers", "0"], "--workers"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler"),
    (["--scheduler", "localhost:8786"], "--scheduler"),
])
def test_bad_arguments_are_refused(tmp_path, capsys, args, field):
    f = tmp_path / "p.toml"
    f.write_text(GOOD_PARAMS + GOOD_OUTPUT)
    base = {"--method": "sobol", "-N": "8"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    argv = [str(f), *[x for kv in base.items() for x in kv], "--out", str(tmp_path / "out")]
    assert _cli(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and field in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_existing_folder_and_mismatched_resume(tmp_path, capsys, uninterrupted):
    f = tmp_path / "p.toml"
    f.write_text(textwrap.dedent(GOOD_PARAMS + GOOD_OUTPUT))
    out = uninterrupted.out
    assert _cli([str(f), "--method", "sobol", "-N", "8", "--out", str(out)]) == 2
    assert "--out" in capsys.readouterr().err
    assert _cli([str(f), "--method", "sobol", "-N", "32", "--seeds", "2", "--resume", "--out", str(out)]) == 2
    assert "differs" in capsys.readouterr().err


@pytest.mark.slow
def test_batched_outputs_equal_one_run_at_a_time(tmp_path):
    """The sweep computes a batch's outputs in one vectorised call: each run gets exactly its own values."""
    (tmp_path / "tiny_scenario.toml").write_text(TINY_SCENARIO)
    prob = tmp_path / "tiny_problem.toml"
    prob.write_text(TINY_PROBLEM)
    pb = S.load_problem(prob)
    X = S.generate_samples(pb, "morris", 2)[:4]
    tasks = [(i, seed, tuple(X[i])) for i, seed in ((0, 0), (1, 0), (2, 3), (3, 3))]
    rows = S.run_batch(pb, S.evaluate_point, tasks)
    for (point, seed, values), row in zip(tasks, rows):
        assert row[:2] == (point, seed) and row[3] == ""
        alone = S.evaluate_point(pb, point, values, seed)
        assert row[2] == [alone[n] for n in pb.output_names]
    assert len({tuple(r[2]) for r in rows}) == 4  # different points and seeds give different outputs
