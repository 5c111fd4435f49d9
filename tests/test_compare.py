"""`sim compare`: common random numbers, effects by lever, posterior draws, and the command line."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.compare import EFFECT_COLUMNS, OUTCOMES, CompareError, compare, posterior_draws, prepare
from sim.scenario import ScenarioError, scenario_from_dict

TINY = {"n_plants_start": 1500}
SMALL = {"n_plants_start": 2000}
END = 2000  # lever tests: 1973-2000, policy from 1980, only the last year recorded (fast)


def _sc(name, interventions=(), end=END, report_from=END, params=SMALL):
    return scenario_from_dict({"scenario": {"name": name, "end_year": end, "report_from": report_from},
                               "params": dict(params), "interventions": list(interventions)})


def _iv(lever, regions, intensity=3.0, start=1980, end=END, budget=100.0, **kw):
    return dict(lever=lever, regions=list(regions), start_year=start, end_year=end, intensity=intensity,
                budget_gbp_m=budget, **kw)


# Each lever, where it acts, the outcome it targets and the documented direction (sim/policy.py,
# docs/scenarios.md). The anchor OEM starts late so that the anchor itself is still open when measured.
LEVER_CASES = {
    "innovation_district": (_iv("innovation_district", ["UKE3"]), "output_target_gbp_m", +1),
    "dui_programme": (_iv("dui_programme", ["UKG3"]), "output_target_gbp_m", +1),
    "fdi_attraction": (_iv("fdi_attraction", ["UKG3"]), "plants_foreign_owned_target", +1),
    "anchor_oem": (_iv("anchor_oem", ["UKE3"], start=1996, sectors=["aerospace"]), "output_target_gbp_m", +1),
    "foreign_investment_shock": (_iv("foreign_investment_shock", ["ALL"], intensity=0.6, budget=0.0),
                                 "plants_foreign_owned", -1),
    "transport": (_iv("transport", ["UKE3"]), "output_target_gbp_m", +1),
    "rd_subsidy": (_iv("rd_subsidy", ["UKJ1"]), "output_target_gbp_m", +1),
}


@pytest.fixture(scope="module")
def lever_comparison():
    """All seven levers against one baseline on the same 12 seeds (about 15 s)."""
    scenarios = [_sc(k, [iv]) for k, (iv, _, _) in LEVER_CASES.items()]
    return compare(_sc("base"), scenarios, seeds=range(100, 112))


@pytest.mark.slow  # the shared lever ensemble: 8 scenarios x 12 seeds, about 15 s
@pytest.mark.parametrize("lever", list(LEVER_CASES))
def test_each_lever_moves_its_target_outcome_in_the_documented_direction(lever_comparison, lever):
    _, outcome, sign = LEVER_CASES[lever]
    e = lever_comparison.effects.set_index(["scenario", "outcome"]).loc[(lever, outcome)]
    ps = lever_comparison.per_seed
    d = ps[(ps["scenario"] == lever) & (ps["outcome"] == outcome)]["effect"].to_numpy() * sign
    # a small region over 20 years at 2,000 plants is noisy: the median effect is on the documented
    # side and a one-sided paired t-test across the 12 seeds rejects "no effect" (t > 2.72: P < 0.01
    # at 11 degrees of freedom)
    assert e["effect_median"] * sign > 0, e
    t = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
    assert t > 2.72, (t, d)


@pytest.mark.slow  # shares the ~15 s lever ensemble
def test_effects_table_has_the_documented_columns_and_outcomes(lever_comparison):
    eff = lever_comparison.effects
    assert list(eff.columns) == EFFECT_COLUMNS
    assert set(eff["outcome"]) <= set(OUTCOMES)
    assert not eff.duplicated(["scenario", "outcome"]).any()
    district = set(eff.loc[eff["scenario"] == "innovation_district", "outcome"])
    need = {"output_target_gbp_m", "employment_target_jobs", "output_outside_target_gbp_m",
            "displacement_output_pct", "output_tir_gbp_m", "employment_tir_jobs", "tir_output_share",
            "plants_gb_owned", "plants_foreign_owned", "theil_pharmaceuticals", "spending_gbp_m",
            "cost_per_job_gbp_k"}
    assert need <= district
    # a shock on all regions has no "outside", and no spending, so no cost per job
    shock = set(eff.loc[eff["scenario"] == "foreign_investment_shock", "outcome"])
    assert "output_outside_target_gbp_m" not in shock and "cost_per_job_gbp_k" not in shock
    assert (eff["effect_lo"] <= eff["effect_median"]).all() and (eff["effect_median"] <= eff["effect_hi"]).all()


@pytest.mark.slow  # shares the ~15 s lever ensemble
def test_common_random_numbers_every_scenario_sees_the_same_baseline_runs(lever_comparison):
    ps = lever_comparison.per_seed
    nat = ps[ps["outcome"] == "plants_foreign_owned"].pivot(index="seed", columns="scenario", values="baseline")
    assert (nat.nunique(axis=1) == 1).all()
    assert sorted(ps["seed"].unique()) == list(range(100, 112))


@pytest.mark.slow  # shares the ~15 s lever ensemble
def test_displacement_and_cost_per_job_follow_from_the_per_seed_effects(lever_comparison):
    ps = lever_comparison.per_seed
    d = ps[ps["scenario"] == "transport"].pivot(index="seed", columns="outcome", values="effect")
    expect = -100 * d["output_outside_target_gbp_m"] / d["output_target_gbp_m"]
    np.testing.assert_allclose(d["displacement_output_pct"], expect)
    np.testing.assert_allclose(d["spending_gbp_m"], 100.0)  # the whole budget is spent, in every seed
    e = lever_comparison.effects.set_index(["scenario", "outcome"])
    jobs = e.loc[("transport", "employment_target_jobs")]
    cpj = e.loc[("transport", "cost_per_job_gbp_k")]
    assert cpj["effect_median"] == pytest.approx(100.0 * 1000 / jobs["effect_median"])
    assert cpj["effect_lo"] == pytest.approx(100.0 * 1000 / jobs["effect_hi"])


def test_a_scenario_identical_to_the_baseline_has_exactly_zero_effect():
    base = _sc("base", end=1990, report_from=1985, params=TINY)
    same = _sc("same", end=1990, report_from=1985, params=TINY)
    zero = _sc("zero", [_iv("innovation_district", ["UKE3"], intensity=0.0, end=1990, budget=0.0,
                            training_centre=True, sme_networking=True)], end=1990, report_from=1985, params=TINY)
    c = compare(base, [same, zero], seeds=[1, 2, 3])
    eff = c.effects.dropna(subset=["effect_median"])
    assert (c.per_seed["effect"].dropna() == 0).all()
    assert (eff[["effect_median", "effect_lo", "effect_hi"]] == 0).all().all()
    assert {"output_target_gbp_m", "employment_target_jobs"} <= set(eff.loc[eff["scenario"] == "zero", "outcome"])
    traj = c.trajectories[c.trajectories["scenario"] == "zero"].pivot_table(
        index=["seed", "year"], columns="run", values="output_gbp_m")
    assert (traj["baseline"] == traj["scenario"]).all() and len(traj) == 3 * 6


def test_workers_do_not_change_the_results():
    base = _sc("base", end=1985, report_from=1980, params=TINY)
    s = _sc("s", [_iv("transport", ["UKE3"], end=1985)], end=1985, report_from=1980, params=TINY)
    one = compare(base, [s], seeds=[5, 6], workers=1)
    two = compare(base, [s], seeds=[5, 6], workers=2)
    pd.testing.assert_frame_equal(one.effects, two.effects)
    pd.testing.assert_frame_equal(one.per_seed, two.per_seed)


def test_scenarios_must_end_in_a_year_the_baseline_records():
    base = _sc("base", end=2000, report_from=2000)
    with pytest.raises(CompareError, match="end_year"):
        prepare(base, [_sc("later", end=2010, report_from=2000)])
    with pytest.raises(CompareError, match="scenario.name"):
        prepare(base, [_sc("base")])
    with pytest.raises(CompareError):
        prepare(base, [])


# ------------------------------------------------------------------------------------------ posterior


def _posterior(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_posterior_draws_by_weight_with_a_fixed_seed(tmp_path):
    f = _posterior(tmp_path / "post.csv", [
        {"beta_agglomeration": 0.3, "exit_rate": 0.05, "weight": 0.0, "distance": 9.0, "generation": 4},
        {"beta_agglomeration": 0.7, "exit_rate": 0.06, "weight": 1.0, "distance": 3.0, "generation": 4},
        {"beta_agglomeration": 1.1, "exit_rate": 0.07, "weight": 3.0, "distance": 2.0, "generation": 4},
    ])
    a, b = posterior_draws(200, f), posterior_draws(200, f)
    assert a == b  # fixed RNG seed
    rows = np.array([d["_row"] for d in a])
    assert 0 not in rows and 0.6 < (rows == 2).mean() < 0.9
    assert {"beta_agglomeration", "exit_rate"} <= set(a[0]) and "weight" not in a[0]


@pytest.mark.parametrize("rows, msg", [
    ([{"beta_agglomeration": 0.3, "distance": 1.0}], "weight"),
    ([{"warp_speed": 0.3, "weight": 1.0}], "warp_speed"),
    ([{"exit_rate": 5.0, "weight": 1.0}], "exit_rate"),
    ([{"exit_rate": 0.05, "weight": -1.0}], "weight"),
])
def test_a_bad_posterior_file_is_refused(tmp_path, rows, msg):
    with pytest.raises(CompareError, match=msg):
        posterior_draws(3, _posterior(tmp_path / "post.csv", rows))


def test_a_missing_posterior_is_refused_with_a_clear_message(tmp_path):
    with pytest.raises(CompareError, match="no posterior file"):
        posterior_draws(3, tmp_path / "absent.csv")


def test_a_posterior_sampled_around_an_earlier_point_is_refused(tmp_path):
    post = _posterior(tmp_path / "posterior.csv", [{"exit_rate": 0.05, "weight": 1.0}])
    point = tmp_path / "calibrated.toml"
    # the point beside it came from a later stage-1 step: no [provenance.posterior] table
    point.write_text('[provenance]\nmethod = "a hand-set change"\n[params]\nexit_rate = 0.06\n')
    with pytest.raises(CompareError, match=r"sampled around an earlier point.*a hand-set change.*sim calibrate"):
        posterior_draws(3, post)
    # the ABC run that wrote the posterior is recorded with the point: the draws go ahead
    point.write_text('[provenance]\nmethod = "ABC-SMC"\n[provenance.posterior]\nmethod = "ABC-SMC"\n'
                     '[params]\nexit_rate = 0.06\n')
    assert len(posterior_draws(3, post)) == 3


def test_posterior_draws_are_shared_by_baseline_and_scenarios_and_override_params_file(tmp_path):
    # the scale comes from the posterior here, so that params_file (which sets a huge scale) must be ignored
    (tmp_path / "cal.toml").write_text('[params]\nn_plants_start = 500000\n')
    post = _posterior(tmp_path / "post.csv", [
        {"n_plants_start": 1500, "beta_agglomeration": b, "weight": 1.0, "distance": 1.0, "generation": 0}
        for b in (0.2, 0.5, 0.8, 1.1)])
    body = '[scenario]\nname = "{n}"\nend_year = 1985\nreport_from = 1984\nparams_file = "cal.toml"\n'
    (tmp_path / "b.toml").write_text(body.format(n="b"))
    (tmp_path / "s.toml").write_text(body.format(n="s") + '[[interventions]]\nlever = "transport"\nregions = '
                                     '["UKE3"]\nstart_year = 1980\nend_year = 1985\nintensity = 2.0\n')
    c = compare(tmp_path / "b.toml", [tmp_path / "s.toml"], seeds=[0, 1, 2], posterior=post)
    assert c.manifest["posterior"]["rows"] == [d["_row"] for d in posterior_draws(3, post)]
    assert c.manifest["baseline"]["scenario"]["scenario"]["params_file"] == ""
    ps = c.per_seed[c.per_seed["outcome"] == "output_target_gbp_m"]
    assert len(ps) == 3 and ps["effect"].notna().all()


# ------------------------------------------------------------------------------------------ command line

BASE_TOML = '[scenario]\nname = "b"\nend_year = 1990\nreport_from = 1984\n[params]\nn_plants_start = 1500\n'
SCEN_TOML = ('[scenario]\nname = "s"\nend_year = 1990\nreport_from = 1984\n[params]\nn_plants_start = 1500\n'
             '[[interventions]]\nlever = "innovation_district"\nregions = ["UKE3"]\nstart_year = 1980\n'
             'end_year = 1990\nintensity = 2.0\nbudget_gbp_m = 80.0\ntraining_centre = true\n')


def _files(d):
    d = Path(d)
    (d / "b.toml").write_text(BASE_TOML)
    (d / "s.toml").write_text(SCEN_TOML)
    return d / "b.toml", d / "s.toml"


def test_cli_compare_end_to_end(tmp_path, capsys):
    b, s = _files(tmp_path)
    out = tmp_path / "cmp"
    assert main(["compare", str(b), str(s), "--seeds", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "output_target_gbp_m" in printed and "wrote" in printed
    files = {p.name for p in out.iterdir()}
    assert {"effects.csv", "effects.md", "effects_by_seed.csv", "trajectories.csv", "manifest.json",
            "effects.png", "fan_s.png"} <= files
    eff = pd.read_csv(out / "effects.csv")
    assert list(eff.columns) == EFFECT_COLUMNS and set(eff["scenario"]) == {"s"}
    assert "cost_per_job_gbp_k" in set(eff["outcome"])
    md = (out / "effects.md").read_text()
    assert "| scenario | outcome | baseline_median | effect_median | effect_lo | effect_hi |" in md
    assert "measured in 1990" in md
    man = json.loads((out / "manifest.json").read_text())
    assert man["seeds"] == [0, 1, 2] and man["scenarios"][0]["target_regions"] == ["UKE3"]
    traj = pd.read_csv(out / "trajectories.csv")
    assert set(traj["year"]) == set(range(1984, 1991)) and set(traj["run"]) == {"baseline", "scenario"}
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    # the same folder again: refused without --overwrite, replaced with it
    assert main(["compare", str(b), str(s), "--seeds", "2", "--out", str(out)]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["compare", str(b), str(s), "--seeds", "2", "--out", str(out), "--overwrite", "--no-figures"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seeds"] == [0, 1]


@pytest.mark.parametrize("args, field", [
    (["b.toml", "missing.toml"], "missing.toml"),
    (["b.toml", "bad.toml"], "malformed TOML"),
    (["b.toml", "late.toml"], "end_year"),
    (["b.toml", "s.toml", "--posterior", "nope.csv"], "posterior"),
])
def test_cli_compare_refuses_bad_input_before_running(tmp_path, capsys, monkeypatch, args, field):
    monkeypatch.chdir(tmp_path)
    _files(tmp_path)
    (tmp_path / "bad.toml").write_text("[scenario\nname = 1")
    late = SCEN_TOML.replace("end_year = 1990\nreport_from", "end_year = 1995\nreport_from")
    (tmp_path / "late.toml").write_text(late)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["compare", *args, "--seeds", "2", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and field in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


BAD_MUTATIONS = st.one_of(
    st.tuples(st.just("lever"), st.text(min_size=1, max_size=12).filter(lambda s: s not in (
        "innovation_district", "dui_programme", "fdi_attraction", "anchor_oem", "foreign_investment_shock",
        "transport", "rd_subsidy")), st.just("lever")),
    st.tuples(st.just("regions"), st.lists(st.from_regex(r"UK[N-Z][0-9]", fullmatch=True), min_size=1, max_size=3),
              st.just("regions")),
    st.tuples(st.just("end_year"), st.integers(1974, 1979), st.just("end_year")),
    st.tuples(st.just("budget_gbp_m"), st.floats(max_value=-1e-3, min_value=-1e9), st.just("budget_gbp_m")),
    st.tuples(st.just("intensity"), st.sampled_from(["high", "low", "", [1.0]]), st.just("intensity")),
    st.tuples(st.just("start_year"), st.sampled_from(["soon", "next year", 1980.5]), st.just("start_year")),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BAD_MUTATIONS)
def test_cli_compare_refuses_fuzzed_bad_scenarios_and_writes_nothing(mutation):
    key, value, field = mutation
    iv = {"lever": "transport", "regions": ["UKE3"], "start_year": 1980, "end_year": 1990, "intensity": 1.0,
          "budget_gbp_m": 10.0}
    iv[key] = value
    doc = {"scenario": {"name": "bad", "end_year": 1990, "report_from": 1984}, "params": TINY, "interventions": [iv]}
    with tempfile.TemporaryDirectory() as d:
        b, _ = _files(d)
        bad = Path(d) / "fuzz.toml"
        bad.write_text(tomli_w.dumps(doc))
        with pytest.raises(ScenarioError) as e:
            prepare(b, [bad])
        assert field in str(e.value)
        out = Path(d) / "out"
        assert main(["compare", str(b), str(bad), "--seeds", "2", "--out", str(out)]) == 2
        assert sorted(p.name for p in Path(d).iterdir()) == ["b.toml", "fuzz.toml", "s.toml"]
