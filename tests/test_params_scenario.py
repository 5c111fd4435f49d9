import pytest

from sim.params import ParameterError, Params, make_params, ranges
from sim.scenario import ScenarioError, load_scenario, scenario_from_dict


def test_every_parameter_has_a_default_and_numeric_ones_a_range():
    p = Params()
    r = ranges()
    for name, f in Params.model_fields.items():
        assert f.description, name
        v = getattr(p, name)
        if name in r:
            lo, hi = r[name]
            assert lo <= v <= hi, name


def test_out_of_range_parameter_is_refused_with_field_and_range():
    with pytest.raises(ParameterError) as e:
        make_params({"exit_rate": 0.9})
    assert "exit_rate" in str(e.value) and "0 to 0.4" in str(e.value)


def test_unknown_parameter_is_refused_naming_it():
    with pytest.raises(ParameterError, match="agglomeration_strength"):
        make_params({"agglomeration_strength": 1.0})


def test_baseline_scenario_file_is_valid():
    sc = load_scenario("scenarios/baseline.toml")
    assert (sc.start_year, sc.end_year) == (1973, 2016)


@pytest.mark.parametrize("bad, field", [
    ({"interventions": [{"lever": "innovation_district", "regions": ["UKX9"], "start_year": 2000,
                         "end_year": 2005, "intensity": 0.5}]}, "regions"),
    ({"interventions": [{"lever": "teleporter", "regions": ["UKE3"], "start_year": 2000,
                         "end_year": 2005, "intensity": 0.5}]}, "lever"),
    ({"interventions": [{"lever": "transport", "regions": ["UKE3"], "start_year": 2005,
                         "end_year": 2000, "intensity": 0.5}]}, "end_year"),
    ({"interventions": [{"lever": "transport", "regions": ["UKE3"], "start_year": 2000,
                         "end_year": 2005, "intensity": 0.5, "budget_gbp_m": -1}]}, "budget_gbp_m"),
    ({"interventions": [{"lever": "rd_subsidy", "regions": ["UKE3"], "sectors": ["textiles"],
                         "start_year": 2000, "end_year": 2005, "intensity": 0.5}]}, "sectors"),
    ({"scenario": {"end_year": "soon"}}, "end_year"),
    ({"params": {"exit_rate": -1}}, "exit_rate"),
    ({"policy": {}}, "policy"),
])
def test_bad_scenarios_are_refused_naming_the_field(bad, field):
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(bad, source="test.toml")
    assert field in str(e.value)


def test_unknown_region_message_lists_allowed_codes():
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict({"interventions": [{"lever": "transport", "regions": ["UKZ1"], "start_year": 2000,
                                               "end_year": 2001, "intensity": 1}]})
    assert "UKE3" in str(e.value) and "UKZ1" in str(e.value)


def test_malformed_toml_is_refused(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[scenario\nname = 1")
    with pytest.raises(ScenarioError, match="malformed TOML"):
        load_scenario(f)


def test_duplicate_region_codes_are_refused():
    with pytest.raises(ScenarioError, match="more than once"):
        scenario_from_dict({"interventions": [{"lever": "transport", "regions": ["UKE3", "UKE3"], "start_year": 2000,
                                               "end_year": 2001, "intensity": 1}]})
