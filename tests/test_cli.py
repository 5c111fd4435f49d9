"""The command line: run folders, per-plant view, and refusal of bad input before anything is written."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from sim.cli import main

FAST = '\n[params]\nn_plants_start = 1500\n'


def _scenario(tmp_path, body, name="s.toml"):
    f = tmp_path / name
    f.write_text(body)
    return f


def test_run_writes_a_complete_run_folder(tmp_path, capsys):
    sc = _scenario(tmp_path, '[scenario]\nname = "t"\nend_year = 1990\n' + FAST)
    out = tmp_path / "run"
    assert main(["run", str(sc), "--seed", "4", "--out", str(out)]) == 0
    files = {p.name for p in out.iterdir()}
    assert {"manifest.json", "panel.parquet", "events.parquet", "plants.parquet"} <= files
    man = json.loads((out / "manifest.json").read_text())
    assert man["seeds"] == [4] and man["params"]["n_plants_start"] == 1500
    assert {"scenario", "params", "code_version", "timings_s"} <= set(man)
    plants = pd.read_parquet(out / "plants.parquet")
    need = {"plant_id", "sector", "region", "ownership_entry", "ownership_last", "size_class", "entry_year",
            "exit_year", "output_start", "output_end", "relocated_from"}
    assert need <= set(plants.columns)
    assert set(plants["ownership_last"]) <= {"GB", "foreign"}
    assert plants["region"].str.match(r"^UK[C-M]\d$").all()
    panel = pd.read_parquet(out / "panel.parquet")
    assert len(panel) == (1990 - 1973 + 1) * 40 * 8 * 2 * 2
    ev = pd.read_parquet(out / "events.parquet")
    assert {"year", "plant_id", "kind", "region", "sector", "ownership"} <= set(ev.columns)
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    # the per-plant view
    pid = int(plants["plant_id"].iloc[0])
    assert main(["plant", str(out), str(pid)]) == 0
    assert f"plant_id: {pid}" in capsys.readouterr().out


def test_ensemble_run_stacks_seeds(tmp_path):
    sc = _scenario(tmp_path, '[scenario]\nend_year = 1980\n' + FAST)
    out = tmp_path / "ens"
    assert main(["run", str(sc), "--seed", "1", "--seeds", "3", "--workers", "2", "--out", str(out)]) == 0
    panel = pd.read_parquet(out / "panel.parquet")
    assert sorted(panel["seed"].unique()) == [1, 2, 3]


@pytest.mark.parametrize("body, field", [
    ('[[interventions]]\nlever = "transport"\nregions = ["UKQ7"]\nstart_year = 2000\nend_year = 2001\n'
     'intensity = 1.0\n', "UKQ7"),
    ('[params]\nexit_rate = 2.0\n', "exit_rate"),
    ('[params]\nwarp_speed = 2.0\n', "warp_speed"),
    ('[scenario]\nend_year = 1960\n', "end_year"),
    ('[scenario\nname=', "malformed TOML"),
    ('[[interventions]]\nlever = "innovation_district"\nregions = ["UKE3"]\nstart_year = 2000\n'
     'end_year = 2001\nintensity = "high"\n', "intensity"),
])
def test_bad_input_is_refused_with_the_field_named_and_nothing_written(tmp_path, capsys, body, field):
    sc = _scenario(tmp_path, body)
    out = tmp_path / "never"
    assert main(["run", str(sc), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert field in err and err.startswith("error:")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]


def test_an_existing_output_folder_is_not_overwritten(tmp_path, capsys):
    sc = _scenario(tmp_path, '[scenario]\nend_year = 1975\n' + FAST)
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["run", str(sc), "--out", str(out)]) == 2
    assert "--out" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("command", ["run", "compare"])
def test_an_output_path_that_is_a_file_is_refused_before_running_even_with_overwrite(tmp_path, capsys, command):
    sc = _scenario(tmp_path, '[scenario]\nend_year = 1975\n' + FAST)
    out = tmp_path / "afile"
    out.write_text("mine")
    other = _scenario(tmp_path, '[scenario]\nname = "other"\nend_year = 1975\n' + FAST, "o.toml")
    args = [str(sc)] if command == "run" else [str(sc), str(other)]
    assert main([command, *args, "--out", str(out), "--overwrite"]) == 2
    assert f"--out {out} is a file, not a folder" in capsys.readouterr().err
    assert out.read_text() == "mine"


def test_console_script_exits_non_zero_on_bad_input(tmp_path):
    sc = _scenario(tmp_path, '[params]\nexit_rate = -3\n')
    r = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(sc), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "exit_rate" in r.stderr


def test_validate_and_params_commands(capsys):
    assert main(["validate", "scenarios/baseline.toml"]) == 0
    assert main(["params"]) == 0
    assert "beta_agglomeration" in capsys.readouterr().out


def test_calibrate_optimise_refuses_to_resume_nothing_or_overwrite_a_search(tmp_path, capsys):
    d = tmp_path / "opt"
    assert main(["calibrate", "--optimise", "--resume", "--dir", str(d)]) == 2
    assert "no optimiser state" in capsys.readouterr().err
    d.mkdir()
    (d / "state.pkl").write_bytes(b"")
    assert main(["calibrate", "--optimise", "--dir", str(d)]) == 2
    assert "use --resume" in capsys.readouterr().err
    assert sorted(p.name for p in d.iterdir()) == ["state.pkl"]  # nothing written


def test_calibrate_refuses_an_out_path_that_cannot_hold_the_result_before_running(tmp_path, capsys):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    for mode in (["--screen", "--budget", "4"], ["--optimise", "--budget", "4"], ["--try", "exit_rate=0.05"]):
        assert main(["calibrate", *mode, "--out", str(not_a_folder), "--dir", str(tmp_path / "scr")]
                    if "--try" not in mode else ["calibrate", *mode, "--out", str(not_a_folder)]) == 2
        assert "is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "scr").exists() and not_a_folder.read_text() == "x"  # nothing written


def test_calibrate_try_refuses_bad_changes_before_running(tmp_path, capsys):
    point = tmp_path / "calibrated.toml"
    point.write_text('[params]\nn_plants_start = 600\n')
    for args, msg in [(["motor_cluster_growth=0.5"], "params.motor_cluster_growth"),
                      (["motor_cluster_growth"], "expected NAME=VALUE"),
                      (["motor_cluster_growth=abc"], "must be a number"),
                      (["not_a_parameter=1"], "unknown parameter"),
                      (["exit_rate=0.06", "exit_rate=0.07"], "exit_rate given twice"),
                      (["exit_rate=0.06", "--report"], "--report and --try are different commands")]:
        assert main(["calibrate", "--try", *args, "--out", str(tmp_path)]) == 2
        assert msg in capsys.readouterr().err
    assert point.read_text() == '[params]\nn_plants_start = 600\n'  # nothing written
    assert main(["calibrate", "--report", "--why", "because", "--out", str(tmp_path)]) == 2
    assert "--why: not read by --report" in capsys.readouterr().err


def test_calibrate_recovery_refuses_to_resume_nothing_or_an_unknown_truth(tmp_path, capsys):
    assert main(["calibrate", "--recovery", "--resume", "--out", str(tmp_path / "rec")]) == 2
    assert "no recovery check to continue" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["calibrate", "--recovery", "--truth", "anywhere", "--out", str(tmp_path / "rec")])
    err = capsys.readouterr().err
    assert "--truth" in err and "anywhere" in err and "point" in err and "middle" in err
    assert not (tmp_path / "rec").exists()


def test_the_report_and_metrics_use_the_run_scenarios_tir_set_or_the_one_given(tmp_path, capsys):
    eleven = '["UKC1", "UKD3", "UKD4", "UKE3", "UKE4", "UKF1", "UKF2", "UKG2", "UKG3", "UKL1", "UKM8"]'
    sc = _scenario(tmp_path, f'[scenario]\nend_year = 1976\ntir_regions = {eleven}\n' + FAST)
    run = tmp_path / "run"
    assert main(["run", str(sc), "--out", str(run)]) == 0
    assert main(["report", str(run)]) == 0
    assert "TIR set: **11 regions chosen for this run** (UKC1, UKD3" in (run / "report" / "report.md").read_text()
    assert main(["report", str(run), "--tir", "UKI3", "--out", str(tmp_path / "rep")]) == 0
    assert "TIR set: **1 region chosen for this run** (UKI3)" in (tmp_path / "rep" / "report.md").read_text()
    assert main(["metrics", str(run), "--out", str(tmp_path / "m11.csv")]) == 0
    assert main(["metrics", str(run), "--tir", "UKI3", "--out", str(tmp_path / "m1.csv")]) == 0
    share = {}
    for name in ("m11", "m1"):
        m = pd.read_csv(tmp_path / f"{name}.csv")
        share[name] = m[(m["level"] == "all") & (m["metric"] == "share_tir") & (m["year"] == 1976)]["value"].item()
    panel = pd.read_parquet(run / "panel.parquet")
    last = panel[panel["year"] == 1976]
    assert share["m1"] == pytest.approx(last.loc[last["region"] == "UKI3", "output"].sum() / last["output"].sum())
    assert share["m11"] != pytest.approx(share["m1"])
    with pytest.raises(SystemExit):
        main(["report", str(run), "--tir", "UKC1,UKXX"])
    assert "unknown region code(s) ['UKXX']" in capsys.readouterr().err
