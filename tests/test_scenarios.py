"""The shipped scenario files, and refusal of bad scenarios (fuzzed) with the field named."""

import tomllib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.compare import prepare, tir_codes
from sim.scenario import LEVERS, ScenarioError, load_scenario, scenario_from_dict

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
# scenario files (other TOML files in scenarios/, such as sweep problems, have no [scenario] table)
SHIPPED = sorted(p for p in SCENARIOS.glob("*.toml") if "scenario" in tomllib.loads(p.read_text()))
FORWARD = ["sheffield_district", "sheffield_district_full", "dui_programme_tirs", "fdi_attraction_tirs",
           "brexit_fdi_shock", "transport_south_yorkshire"]
TIRS = ["UKC1", "UKD3", "UKD4", "UKE3", "UKE4", "UKF1", "UKF2", "UKG2", "UKG3", "UKL1", "UKM8", "UKM9"]


def _load(name):
    return load_scenario(SCENARIOS / f"{name}.toml")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_validates_and_says_what_question_it_answers(path):
    sc = load_scenario(path)
    text = path.read_text()
    assert text.startswith("#")
    head = text.split("[scenario]")[0]
    assert "Question it answers" in head
    assert sc.name == path.stem
    for iv in sc.interventions:
        assert sc.start_year < iv.start_year <= iv.end_year <= sc.end_year


def test_the_expected_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"baseline", "baseline_forward", "counterfactual_district_1990", *FORWARD} <= names


def test_forward_scenarios_continue_the_history_and_compare_with_the_forward_baseline():
    base = _load("baseline_forward")
    assert (base.start_year, base.end_year, base.report_from, base.interventions) == (1973, 2040, 2016, [])
    for name in FORWARD:
        sc = _load(name)
        assert (sc.start_year, sc.end_year, sc.report_from) == (1973, 2040, 2016), name
        assert sc.interventions, name
        if name != "brexit_fdi_shock":
            assert sc.total_budget_gbp_m() > 0, name  # so that cost per job can be reported
    prepare(SCENARIOS / "baseline_forward.toml", [SCENARIOS / f"{n}.toml" for n in FORWARD])


def test_the_counterfactual_history_compares_with_the_baseline_history():
    sc = _load("counterfactual_district_1990")
    assert (sc.start_year, sc.end_year, sc.report_from) == (1973, 2016, 1973)
    assert [(iv.lever, iv.regions, iv.start_year) for iv in sc.interventions] == [
        ("innovation_district", ["UKE3"], 1990)]
    prepare(SCENARIOS / "baseline.toml", [SCENARIOS / "counterfactual_district_1990.toml"])


def test_the_sheffield_scenarios_follow_the_case():
    sti = _load("sheffield_district")
    assert [(iv.lever, iv.regions, iv.training_centre, iv.sme_networking) for iv in sti.interventions] == [
        ("innovation_district", ["UKE3"], False, False)]
    assert sti.interventions[0].start_year == 2018
    full = _load("sheffield_district_full")
    levers = {iv.lever: iv for iv in full.interventions}
    assert set(levers) == {"innovation_district", "anchor_oem"}
    assert levers["innovation_district"].training_centre and levers["innovation_district"].sme_networking
    assert full.target_regions() == ["UKE3"]
    assert _load("transport_south_yorkshire").target_regions() == ["UKE3"]


def test_tir_programmes_cover_the_twelve_tirs_and_the_shock_covers_everything():
    assert sorted(tir_codes()) == TIRS
    for name in ("dui_programme_tirs", "fdi_attraction_tirs"):
        assert sorted(_load(name).target_regions()) == TIRS
    shock = _load("brexit_fdi_shock")
    assert len(shock.target_regions()) == 40 and shock.interventions[0].start_year == 2017


def test_params_file_can_be_ignored_for_another_base_parameter_set(tmp_path):
    (tmp_path / "cal.toml").write_text("[params]\nexit_rate = 0.08\nbeta_cost = 1.5\n")
    f = tmp_path / "s.toml"
    f.write_text('[scenario]\nparams_file = "cal.toml"\n[params]\nbeta_cost = 0.7\n')
    assert load_scenario(f).params == {"exit_rate": 0.08, "beta_cost": 0.7}
    own = load_scenario(f, ignore_params_file=True)
    assert own.params == {"beta_cost": 0.7} and own.params_file == ""


# ------------------------------------------------------------------------------------------ fuzzing

VALID_IV = {"lever": "innovation_district", "regions": ["UKE3"], "start_year": 2018, "end_year": 2030,
            "intensity": 0.5, "budget_gbp_m": 100.0}
NOT_A_LEVER = st.text(min_size=0, max_size=20).filter(lambda s: s not in LEVERS)
NOT_A_REGION = st.text(alphabet="ABCKLMNUXZ0123456789", min_size=1, max_size=5).filter(
    lambda s: s not in tir_codes() and not (len(s) == 4 and s.startswith("UK")))
NOT_A_NUMBER = st.one_of(st.text(alphabet="abcxyz ", min_size=1, max_size=6), st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))


@st.composite
def bad_intervention(draw):
    """A valid intervention with one field broken: (intervention, field the message must name)."""
    iv = dict(VALID_IV)
    kind = draw(st.sampled_from(["lever", "region", "order", "budget", "type_intensity", "type_year",
                                 "type_regions", "type_flag", "extra", "late", "early"]))
    if kind == "lever":
        iv["lever"] = draw(NOT_A_LEVER)
        return iv, "lever"
    if kind == "region":
        iv["regions"] = ["UKE3", draw(NOT_A_REGION)]
        return iv, "regions"
    if kind == "order":
        iv["start_year"] = draw(st.integers(1975, 2040))
        iv["end_year"] = draw(st.integers(1974, iv["start_year"] - 1))
        return iv, "end_year"
    if kind == "budget":
        iv["budget_gbp_m"] = draw(st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=True))
        return iv, "budget_gbp_m"
    if kind == "type_intensity":
        iv["intensity"] = draw(NOT_A_NUMBER)
        return iv, "intensity"
    if kind == "type_year":
        iv["start_year"] = draw(st.one_of(NOT_A_NUMBER, st.floats(2000.1, 2000.9)))
        return iv, "start_year"
    if kind == "type_regions":
        iv["regions"] = draw(st.one_of(st.just("UKE3"), st.just([]), st.lists(st.integers(), min_size=1, max_size=2)))
        return iv, "regions"
    if kind == "type_flag":
        iv["training_centre"] = draw(st.sampled_from(["perhaps", "2", [True], 0.5]))
        return iv, "training_centre"
    if kind == "extra":
        key = draw(st.sampled_from(["intensty", "region", "budget", "year"]))
        iv[key] = 1
        return iv, f"interventions.0.{key}: unknown field; allowed: lever, regions, sectors, start_year"
    if kind == "late":  # after the scenario's end
        iv["end_year"] = draw(st.integers(2041, 2060))
        return iv, "end_year"
    iv["start_year"] = 1973  # not after the scenario's start
    return iv, "start_year"


@settings(max_examples=150, deadline=None)
@given(bad_intervention())
def test_fuzzed_bad_interventions_are_refused_naming_the_field(case):
    iv, field = case
    doc = {"scenario": {"name": "fuzz", "end_year": 2040, "report_from": 2016}, "interventions": [iv]}
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(doc, source="fuzz.toml")
    assert field in str(e.value)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["name", "end_year", "report_from", "start_year", "params_file"]), NOT_A_NUMBER)
def test_fuzzed_bad_scenario_headers_are_refused_naming_the_field(field, value):
    if field == "name" and isinstance(value, str):
        value = [value]  # any string is a valid name
    doc = {"scenario": {field: value}}
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(doc, source="fuzz.toml")
    assert field in str(e.value)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["scenario", "params", "interventions"]),
       st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), min_size=1, max_size=2)))
def test_fuzzed_sections_of_the_wrong_type_are_refused_naming_them(section, value):
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict({section: value}, source="fuzz.toml")
    assert section in str(e.value)


@pytest.mark.parametrize("key", ["nme", "seed", "params"])
def test_unknown_scenario_header_fields_are_refused_listing_the_allowed_ones(key):
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict({"scenario": {"name": "x", key: 1}}, source="x.toml")
    msg = str(e.value)
    assert f"unknown field(s) ['{key}']" in msg
    assert "allowed: name, description, start_year, end_year, report_from, params_file" in msg


def test_with_params_changes_a_parameter_the_scenario_sets_and_refuses_bad_ones(tmp_path):
    base = load_scenario(SCENARIOS / "baseline.toml")
    changed = base.with_params(beta_agglomeration=0.1)
    assert changed.params["beta_agglomeration"] == 0.1
    assert changed.make_params().beta_agglomeration == 0.1
    assert base.params["beta_agglomeration"] != 0.1  # the original is unchanged
    assert {k: v for k, v in changed.params.items() if k != "beta_agglomeration"} == \
        {k: v for k, v in base.params.items() if k != "beta_agglomeration"}
    with pytest.raises(ScenarioError, match=r"beta_agglomeration.*allowed range 0 to 5"):
        base.with_params(beta_agglomeration=99)
    with pytest.raises(ScenarioError, match=r"unknown parameter\(s\) \['no_such'\]; allowed: demand_on"):
        base.with_params(no_such=1)



ELEVEN = ["UKC1", "UKD3", "UKD4", "UKE3", "UKE4", "UKF1", "UKF2", "UKG2", "UKG3", "UKL1", "UKM8"]


def test_a_scenario_tir_set_changes_the_tir_measures_not_the_history():
    from sim.runner import simulate

    head = {"name": "t", "end_year": 1985}
    default = scenario_from_dict({"scenario": head, "params": {"n_plants_start": 1500}})
    eleven = scenario_from_dict({"scenario": {**head, "tir_regions": ELEVEN}, "params": {"n_plants_start": 1500}})
    a, b = simulate(default, seed=3), simulate(eleven, seed=3)
    pd.testing.assert_frame_equal(a.panel, b.panel)  # same plants, same history
    last = b.panel[b.panel["year"] == 1985]
    share = last.loc[last["region"].isin(ELEVEN), "output"].sum() / last["output"].sum()
    mv_a, mv_b = (r.model_vars.set_index("year")["tir_output_share"] for r in (a, b))
    assert mv_b[1985] == pytest.approx(share)
    assert mv_a[1985] != pytest.approx(mv_b[1985])
    assert b.manifest["scenario"]["scenario"]["tir_regions"] == ELEVEN
    assert "tir_regions" not in a.manifest["scenario"]["scenario"]


def test_bad_tir_regions_in_a_scenario_are_refused_naming_the_field():
    with pytest.raises(ScenarioError, match=r"tir_regions: .*unknown region code\(s\) \['UKX1'\]; allowed: UKC1"):
        scenario_from_dict({"scenario": {"tir_regions": ["UKC1", "UKX1"]}}, source="x.toml")


def test_a_comparison_needs_one_tir_set():
    from sim.compare import CompareError

    base = scenario_from_dict({"scenario": {"name": "base"}})
    other = scenario_from_dict({"scenario": {"name": "other", "tir_regions": ELEVEN}})
    with pytest.raises(CompareError, match="tir_regions differs from the baseline's"):
        prepare(base, [other])
