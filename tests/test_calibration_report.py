"""`sim calibrate --report`: target table, the definition-of-done summary and how firm its verdicts are."""

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration import report as R
from calibration.optimise import write_calibrated
from calibration.targets import load_targets


def _passing_seeds(targets, n: int) -> pd.DataFrame:
    """Per-seed statistics that pass every target in every seed (a little inside each bound)."""
    row = {}
    for t in targets:
        if t.kind == "value":
            row[t.statistic] = t.observed
        elif t.kind == "min":
            row[t.statistic] = t.observed + abs(t.tolerance)
        else:
            row[t.statistic] = t.observed - abs(t.tolerance)
    return pd.DataFrame([row] * n, index=pd.Index(range(n), name="seed"))


def test_verdicts_are_certain_when_every_seed_passes():
    targets = load_targets()
    per_target, per_criterion = R.verdict_probabilities(_passing_seeds(targets, 20), targets, n_boot=50)
    assert (per_target == 1.0).all()
    assert per_criterion == {"t1": 1.0, "t2": 1.0, "u_shape": 1.0, "lq": 1.0, "t5": 1.0, "all": 1.0, "mean_met": 5.0}


def test_a_median_on_the_tolerance_edge_is_a_coin_toss_and_a_clear_miss_is_certain():
    targets = load_targets()
    point = _passing_seeds(targets, 51)
    by = {t.statistic: t for t in targets}
    lq = "t3_lq_margin_machinery"  # kind "min", observed 0: the rule holds when the margin is >= 0
    assert by[lq].kind == "min" and by[lq].observed == 0
    point[lq] = [-1.0] * 25 + [1.0] * 26  # the median (+1) passes, but only just: 26 of 51 seeds above
    point["t3_lq_margin_chemicals"] = -1.0  # a second LQ direction wrong in every seed
    t5 = "t5_corr_26_2016"
    point[t5] = 0.5  # every seed far below 0.8
    per_target, per_criterion = R.verdict_probabilities(point, targets, n_boot=2000, seed=1)
    # P(median of 51 resampled seeds > 0) = P(Binomial(51, 26/51) >= 26), about 0.55
    assert 0.45 < per_target[lq] < 0.65
    assert per_target[t5] == 0.0 and per_criterion["t5"] == 0.0 and per_criterion["all"] == 0.0
    # 6 of the 7 LQ directions are needed and chemicals is always wrong: the criterion rests on machinery
    assert per_criterion["lq"] == pytest.approx(per_target[lq])
    assert per_criterion["t1"] == 1.0
    assert per_criterion["mean_met"] == pytest.approx(3.0 + per_criterion["lq"])  # T1, T2, U shape always


def test_verdict_probabilities_are_reproducible_and_refuse_empty_input():
    targets = load_targets()
    point = _passing_seeds(targets, 9)
    point["t2_theil_29_2016"] = np.linspace(0.6, 0.9, 9)
    a = R.verdict_probabilities(point, targets, n_boot=100, seed=3)
    b = R.verdict_probabilities(point, targets, n_boot=100, seed=3)
    pd.testing.assert_series_equal(a[0], b[0])
    assert a[1] == b[1]
    with pytest.raises(ValueError, match="n_boot"):
        R.verdict_probabilities(point, targets, n_boot=0)
    with pytest.raises(ValueError, match="seeds"):
        R.verdict_probabilities(point.iloc[:0], targets)


def test_target_table_and_done_summary_show_the_verdict_probabilities():
    targets = load_targets()
    point = _passing_seeds(targets, 11)
    point["t2_theil_30_2016"] = 0.5  # far from 0.92: group 30 misses, so 5 of 6 groups still meet T2
    p_pass, probs = R.verdict_probabilities(point, targets, n_boot=200)
    tab = R.target_table(point, None, targets, p_pass)
    row = tab.set_index("statistic").loc["t2_theil_30_2016"]
    assert not row["passes"] and row["p_pass"] == 0.0 and row["share_of_seeds_passing"] == 0.0
    assert tab["passes"].sum() == len(targets) - 1
    lines = R.done_summary(tab, targets, probs, 11)
    text = "\n".join(lines)
    assert "Criteria met: **5 of 5**" in text and "all five in 100% of resamples" in text
    assert "| T2 observed Theil within tolerance in 1998 and 2016, trend of the same sign | 5 of 6 groups | 5 of 6 (" in text
    assert "share of resamples meeting it" in text


def test_done_summary_shows_a_missing_t5_correlation_as_missing():
    targets = load_targets()
    point = _passing_seeds(targets, 5)
    point["t5_corr_26_2016"] = np.nan  # the group has no output in 2016 on any seed
    tab = R.target_table(point, None, targets, R.verdict_probabilities(point, targets, n_boot=20)[0])
    text = "\n".join(R.done_summary(tab, targets))
    assert "CI (26) missing" in text and "5 of 6; lowest of the two years" in text


def _calib_copy(tmp_path) -> tuple[Path, dict]:
    """A copy of the shipped posterior in ``tmp_path/calib`` and the shipped calibrated.toml as a dict,
    for the test to edit and write there."""
    import shutil

    calib = tmp_path / "calib"
    calib.mkdir()
    shutil.copy(R.HERE / "posterior.csv", calib / "posterior.csv")
    return calib, tomllib.loads((R.HERE / "calibrated.toml").read_text())


def test_report_writes_tables_figures_and_verdict_probabilities(tmp_path, monkeypatch):
    targets = load_targets()
    calib, doc = _calib_copy(tmp_path)
    rec = {"t1_cells": 8, "criteria_met": 1, "passes": 40, "distance": 50.0}
    doc["provenance"]["last_search"] = {  # a search that did not beat the point
        "date": "2026-12-03", "evaluated_points": 80, "free_parameters": ["exit_rate", "spinoff_local"],
        "outcome": "previous point kept: it ranks at least as high on the confirmation seeds",
        "fresh_seeds": [200, 201, 202],
        "point_confirm_seeds": rec, "previous_point_confirm_seeds": {**rec, "criteria_met": 2, "distance": 30.0}}
    doc["provenance"].update(changes={"exit_rate": 0.06}, changed_from={"exit_rate": 0.05}, why="probes",
                             rerun_runs=192, rerun_minutes=1.5)
    doc["provenance"]["verification"] = {"seeds": [2000, 2001], "outcome": "challenger adopted", "challenger": rec,
                                         "previous_point": {**rec, "t1_cells": 7, "distance": 55.0}}
    doc["provenance"].setdefault("posterior", {})["best_particle_verification"] = {
        "seeds": [2000], "outcome": "previous point kept", "challenger": rec, "previous_point": rec}
    write_calibrated(doc, calib)
    calls = []

    def fake_ensemble(param_sets, seeds, workers=2):  # no model runs: every seed passes except one target
        calls.append((len(param_sets), list(seeds)))
        point = _passing_seeds(targets, len(seeds))
        point["t3_tir_share_2016"] = np.where(np.arange(len(seeds)) % 2 == 0, 0.30, 0.45)  # 0.338 +- 0.05
        return point, _observed_shares(seeds, shift_region="UKJ1", group="CI (26)", by=0.05)

    monkeypatch.setattr(R, "ensemble", fake_ensemble)
    md = R.write_calibration_report(tmp_path / "out", seeds=6, workers=1, calib_dir=calib)
    assert calls == [(6, list(range(1000, 1006)))] * 2  # point, then the posterior-predictive draws
    text = md.read_text()
    tab = pd.read_csv(tmp_path / "out" / "targets.csv").set_index("statistic")
    assert {"p_pass", "share_of_seeds_passing", "pred_median"} <= set(tab.columns)
    assert tab.loc["t3_tir_share_2016", "share_of_seeds_passing"] == 0.5
    assert 0.0 < tab.loc["t3_tir_share_2016", "p_pass"] < 1.0
    assert "| P(pass) |" in text and "share of resamples meeting it" in text
    assert f"Point estimate from `{calib / 'calibrated.toml'}`" in text  # the folder reported on, not the shipped one
    assert "Changed: exit_rate = 0.06 (from 0.05); why: probes" in text  # a hand-set point says what changed
    assert "Cost of the step that set this point: 192 runs on fresh seeds to choose the point, in 1.5 min." in text
    assert ("It also ranked above the point it replaced on 2 verification seeds (2000-2001), on which it was not chosen "
            "(there: 8 T1 cells, 1 criteria, 40 targets passed, distance 50.0; the point it was checked against: "
            "7 T1 cells, 1 criteria, 40 targets passed, distance 55.0).") in text
    assert "The posterior's best particle ranked above the point on the confirmation seeds but not on 1 " in text
    assert ("A later search (2026-12-03: 80 points, 2 free parameters) did not rank above this point on the "
            "same 3 fresh seeds (its best: 8 T1 cells, 1 criteria, 40 targets passed, distance 50.0; this point: "
            "8 T1 cells, 2 criteria, 40 targets passed, distance 30.0); the point was kept.") in text
    # the median of three 0.30 and three 0.45 is 0.375, within 0.05 of 0.338: every target passes
    assert f"**{len(targets)} of {len(targets)} targets pass**" in text
    for g in ("T1", "T2", "T3", "T4", "T5"):
        assert (tmp_path / "out" / f"targets_{g}.png").is_file()
    fit = pd.read_csv(tmp_path / "out" / "regional_shares.csv")
    assert len(fit) == 2 * 6 * 40  # years x ONS groups x regions
    assert "| CI (26) | UKJ1 Berkshire, Buckinghamshire and Oxfordshire |" in text
    assert (tmp_path / "out" / "regional_shares_2016.png").is_file()
    moves = pd.read_csv(tmp_path / "out" / "regional_moves.csv")
    assert len(moves) == 6 and "| group | observed moved % | simulated moved % (90% band) |" in text
    assert (tmp_path / "out" / "posterior.png").is_file()


def test_report_leaves_out_a_posterior_sampled_around_an_earlier_point(tmp_path, monkeypatch):
    targets = load_targets()
    calib, doc = _calib_copy(tmp_path)
    doc["provenance"] = {"method": "a hand-set change", "date": "2026-12-04"}  # no [provenance.posterior]
    write_calibrated(doc, calib)
    calls = []

    def fake_ensemble(param_sets, seeds, workers=2):
        calls.append(len(param_sets))
        return _passing_seeds(targets, len(seeds)), _observed_shares(seeds)

    monkeypatch.setattr(R, "ensemble", fake_ensemble)
    text = R.write_calibration_report(tmp_path / "out", seeds=4, workers=1, calib_dir=calib).read_text()
    assert calls == [4]  # the point only: no posterior-predictive runs from a stale posterior
    assert "No posterior-predictive band or posterior figure" in text and "sampled around an earlier point" in text
    assert not (tmp_path / "out" / "posterior.png").exists()


def _observed_shares(seeds, shift_region=None, group=None, by=0.0) -> pd.DataFrame:
    """Per-seed regional shares equal to the observed ONS shares, one region of one group moved by ``by``."""
    from calibration.summary import _observed_ons_shares
    from sim import datasets

    oyears, ogroups, os_ = _observed_ons_shares()
    codes = datasets.load_regions()["code"].to_list()
    rows = []
    for seed in seeds:
        for y in (1998, 2016):
            for g in ogroups:
                share = os_[oyears.index(y), ogroups.index(g), :].copy()
                if g == group and y == 2016:
                    share[codes.index(shift_region)] += by
                rows.append(pd.DataFrame({"seed": seed, "year": y, "group": g, "region": codes, "share": share}))
    return pd.concat(rows, ignore_index=True)


def test_regional_fit_puts_the_moved_region_first_among_the_misses():
    fit = R.regional_fit(_observed_shares(range(5), shift_region="UKM8", group="CJ (27)", by=-0.03))
    assert set(fit["year"]) == {1998, 2016} and fit["group"].nunique() == 6
    assert np.allclose(fit.loc[fit["region"] != "UKM8", "error"], 0.0)
    miss = R.largest_misses(fit, 2016, k=3)
    assert len(miss) == 18
    top = miss[miss["group"] == "CJ (27)"].iloc[0]
    assert top["region"] == "UKM8" and top["error"] == pytest.approx(-0.03)
    assert top["sim_q05"] == pytest.approx(top["sim_median"])  # the same in every seed: no band


def test_median_map_correlation_is_one_for_the_observed_map_and_falls_when_a_region_moves():
    fit = R.regional_fit(_observed_shares(range(3), shift_region="UKM8", group="CJ (27)", by=-0.03))
    mm = R.median_map_correlations(fit).set_index(["year", "group"])["corr"]
    assert len(mm) == 12
    assert mm.drop((2016, "CJ (27)")).to_numpy() == pytest.approx(1.0)
    d = fit[(fit["year"] == 2016) & (fit["group"] == "CJ (27)")]
    assert mm[(2016, "CJ (27)")] == pytest.approx(np.corrcoef(d["observed"], d["observed"] + d["error"])[0, 1])
    assert mm[(2016, "CJ (27)")] < 0.99
    assert "median map of 2016 correlates with the observed one: " in "\n".join(R._misses_lines(fit))


def test_moves_that_follow_an_attribute_are_predicted_out_of_sample_and_unrelated_ones_are_not():
    """The T5 bound: a change in share that is a linear function of a regional attribute is predicted
    exactly by the leave-one-region-out fit; a change unrelated to the attributes is not, and the
    prediction then does no better than the start map."""
    rng = np.random.default_rng(5)
    start = rng.dirichlet(np.ones(40))
    attr = rng.normal(size=(40, 3))
    end = start + 0.015 * (attr[:, 0] - attr[:, 0].mean())
    assert np.corrcoef(start, end)[0, 1] < 0.8  # the start map alone predicts it poorly
    assert R.loo_move_correlation(start, end, attr) == pytest.approx(1.0)
    shock = np.zeros(40)
    shock[rng.choice(40, 4, replace=False)] = [0.06, -0.05, 0.05, -0.06]
    end = start + shock
    assert R.loo_move_correlation(start, end, attr) < 0.9
    assert R.loo_move_correlation(start, end, attr) <= np.corrcoef(start, end)[0, 1] + 0.05
    by_group = R.observed_move_predictability()
    assert set(by_group) == set(R.observed_persistence())
    assert all(-1 <= v <= 1 for v in by_group.values())


def test_regional_shares_are_each_groups_shares_of_simulated_output():
    from fake_run import fake_panel
    from sim import observed as obs
    from sim import report as sim_report

    panel = fake_panel(seeds=(0, 1))
    sh = R.regional_shares(sim_report.RunMetrics(panel))
    assert set(sh["year"]) == {1998, 2016} and set(sh["seed"]) == {0, 1}
    assert np.allclose(sh.groupby(["seed", "year", "group"])["share"].sum(), 1.0)
    # by hand: motor vehicles are ONS group 29 on their own
    assert obs.ons_groups()["29"] == ("motor_vehicles",)
    p = panel[(panel["seed"] == 1) & (panel["year"] == 2016) & (panel["sector"] == "motor_vehicles")]
    by_region = p.groupby("region")["output"].sum()
    got = sh[(sh["seed"] == 1) & (sh["year"] == 2016) & (sh["group"] == "29")].set_index("region")["share"]
    pd.testing.assert_series_equal(got.sort_index(), (by_region / by_region.sum()).sort_index(),
                                   check_names=False, check_index_type=False)


def _lq_means(gva: pd.DataFrame, group: str, year: int, tir: pd.Series) -> tuple[float, float]:
    """Mean LQ of an ONS group over TIR and non-TIR regions, worked out directly from the data file."""
    x = gva[gva["year"] == year].pivot(index="code", columns="industry_code", values="gva_gbp_m")
    x = x[["CD-CF (19-21)", "CI (26)", "CJ (27)", "CK (28)", "29", "30"]]  # the six AM groups
    lq = (x[group] / x.sum(axis=1)) / (x[group].sum() / x.to_numpy().sum())
    t = tir.reindex(lq.index)
    return float(lq[t].mean()), float(lq[~t].mean())


def test_lq_rules_on_the_public_data_equal_a_hand_computation():
    from sim.report import LQ_RULES, observed_lq_margins

    gva = pd.read_csv(R.HERE.parent / "sim" / "data" / "observed_gva.csv", dtype={"industry_code": str})
    tir = pd.read_csv(R.HERE.parent / "sim" / "data" / "regions.csv").set_index("code")["tir"].astype(bool)
    o = observed_lq_margins().set_index("sector")
    assert list(o.index) == list(LQ_RULES)
    t0, n0 = _lq_means(gva, "CK (28)", 1998, tir)
    t1, n1 = _lq_means(gva, "CK (28)", 2016, tir)
    m = o.loc["machinery"]
    assert (m["tir_1998"], m["nontir_1998"], m["tir_2016"], m["nontir_2016"]) == pytest.approx((t0, n0, t1, n1))
    assert m["observed_margin"] == pytest.approx(min(t1 - n1, t1 - t0))  # rising: above and rising
    t0, n0 = _lq_means(gva, "29", 1998, tir)
    t1, n1 = _lq_means(gva, "29", 2016, tir)
    assert o.loc["motor_vehicles", "observed_margin"] == pytest.approx(min((n1 - n0) - (t1 - t0), t1 - n1))
    t0, n0 = _lq_means(gva, "CI (26)", 1998, tir)
    t1, n1 = _lq_means(gva, "CI (26)", 2016, tir)
    e = o.loc["computers_electronics_optical"]  # falling: TIR LQ falls and the non-TIR lead widens
    assert e["observed_margin"] == pytest.approx(min(t0 - t1, (n1 - t1) - (n0 - t0)))
    assert -0.01 < e["observed_margin"] < 0 and not e["data_meet_rule"]  # the TIR LQ is flat: 0.83 to 0.84
    # the level part by sector: aerospace's mean LQ in BRES 2015 employment, TIR minus non-TIR regions
    emp = pd.read_csv(R.HERE.parent / "sim" / "data" / "observed_employment.csv")
    x = emp[emp["year"] == 2015].pivot_table(index="code", columns="sector", values="employment", aggfunc="sum")
    x = x.fillna(0.0)
    lq = (x["aerospace"] / x.sum(axis=1)) / (x["aerospace"].sum() / x.to_numpy().sum())
    t = tir.reindex(lq.index)
    assert o.loc["aerospace", "bres_2015_tir_minus_nontir"] == pytest.approx(lq[t].mean() - lq[~t].mean())


def test_group_lq_margins_of_a_run_follow_the_rules_on_its_group_metrics():
    import sim
    from calibration.summary import LQ_RULES, SECTOR_GROUP, lq_margin, per_seed_statistics
    from sim.report import run_metrics

    res = sim.simulate(params={"n_plants_start": 600}, seed=5)
    stats = per_seed_statistics(res).iloc[0]
    m = run_metrics(res.panel)
    lq = m[(m["level"] == "ons_group") & m["metric"].isin(["lq_mean_tir", "lq_mean_nontir"])].set_index(
        ["industry", "year", "metric"])["value"]
    for sec, rule in LQ_RULES.items():
        g = SECTOR_GROUP[sec]
        want = lq_margin(rule, lq[(g, 1998, "lq_mean_tir")], lq[(g, 2016, "lq_mean_tir")],
                         lq[(g, 1998, "lq_mean_nontir")], lq[(g, 2016, "lq_mean_nontir")])
        assert stats[f"t3_lq_margin_group_{sec}"] == pytest.approx(want)


def test_report_sets_the_models_lq_margins_against_the_datas():
    from calibration.summary import LQ_RULES

    point = pd.DataFrame({f"t3_lq_margin_group_{s}": [0.1, 0.3, 0.2] for s in LQ_RULES})
    text = "\n".join(R.lq_data_lines(point))
    assert "model margin, same footing" in text and "| +0.200 | " in text  # the median of the seeds
    # every margin positive: the model agrees with the data where the data meet the rule (2 of 7)
    assert "agrees with the data's verdict for **2 of 7** sectors, 0 of them rules that both fail" in text
    assert text.count("| +0.200 | yes |") == 2 and text.count("| +0.200 | no |") == 5
    # a sector without a model margin is neither agreement nor disagreement
    point["t3_lq_margin_group_aerospace"] = np.nan
    point["t3_lq_margin_group_machinery"] = -0.1
    text = "\n".join(R.lq_data_lines(point))
    assert "| n/a | n/a |" in text and "-0.100 | no |" in text
    assert "agrees with the data's verdict for **1 of 6** sectors" in text
    assert "rules hold for **2 of 7** sectors" in text
    assert "model margin" not in "\n".join(R.lq_data_lines(None))
    assert "public NUTS-2 GVA data themselves meet the LQ rules for 2 of 7" in R._lq_data_sentence()


def test_regional_moves_measure_how_much_of_each_map_changes_and_whether_it_changes_the_observed_way():
    shares = _observed_shares(range(3))
    moves = R.regional_moves(shares, R.regional_fit(shares)).set_index("group")
    assert len(moves) == 6
    # a model that reproduces both observed maps moves as much as the data did, in the same directions
    assert moves["sim_moved"].to_numpy() == pytest.approx(moves["observed_moved"].to_numpy())
    assert moves["direction_corr"].to_numpy() == pytest.approx(1.0)
    ci = shares[(shares["seed"] == 0) & (shares["group"] == "CI (26)")].pivot(index="region", columns="year",
                                                                            values="share")
    assert moves.loc["CI (26)", "observed_moved"] == pytest.approx(0.5 * (ci[2016] - ci[1998]).abs().sum())

    # a model that keeps the 1998 map except 2 points of CJ moved from UKJ1 to UKM8 moves exactly 2%
    held = shares.copy()
    base = held[held["year"] == 1998].set_index(["seed", "group", "region"])["share"]
    late = held["year"] == 2016
    held.loc[late, "share"] = base.reindex(pd.MultiIndex.from_frame(held.loc[late, ["seed", "group", "region"]])).to_numpy()
    cj = late & (held["group"] == "CJ (27)")
    held.loc[cj & (held["region"] == "UKM8"), "share"] += 0.02
    held.loc[cj & (held["region"] == "UKJ1"), "share"] -= 0.02
    m = R.regional_moves(held, R.regional_fit(held)).set_index("group")
    assert m.loc["CJ (27)", "sim_moved"] == pytest.approx(0.02)
    assert m.loc["CJ (27)", "sim_moved_q05"] == pytest.approx(0.02) and m.loc["CI (26)", "sim_moved"] == pytest.approx(0)
    assert m.loc["CJ (27)", "observed_moved"] == pytest.approx(moves.loc["CJ (27)", "observed_moved"])
    assert np.isnan(m.loc["CI (26)", "direction_corr"])  # nothing moved: no direction to compare
    assert "| CJ (27) | " in "\n".join(R._moves_lines(m.reset_index()))


def test_regional_moves_tell_whether_the_start_or_the_moves_keep_a_group_from_the_t5_correlation():
    shares = _observed_shares(range(3))
    pers = R.observed_persistence()
    # a model that reproduces both observed maps: every swap gives the observed 2016 map itself
    both = R.regional_moves(shares, R.regional_fit(shares)).set_index("group")
    for col in ("corr_model", "corr_model_start_observed_moves", "corr_observed_start_model_moves"):
        assert both[col].to_numpy() == pytest.approx(1.0)
    # holding its 1998 map still reaches what the observed 1998 map predicts of 2016
    assert both["corr_held"].to_dict() == pytest.approx(pers)
    assert "reaches a correlation of 0.8 in every group" in R._moves_verdict(both.reset_index())

    # a model that starts right and never moves: its 2016 map is its 1998 map, and it is the moves that
    # keep the groups whose observed map moved most (1998-to-2016 correlation below 0.8) from 0.8
    held = shares.copy()
    base = held[held["year"] == 1998].set_index(["seed", "group", "region"])["share"]
    late = held["year"] == 2016
    held.loc[late, "share"] = base.reindex(pd.MultiIndex.from_frame(held.loc[late, ["seed", "group", "region"]])).to_numpy()
    m = R.regional_moves(held, R.regional_fit(held)).set_index("group")
    assert m["corr_model"].to_numpy() == pytest.approx(m["corr_held"].to_numpy())
    assert m["corr_model_start_observed_moves"].to_numpy() == pytest.approx(1.0)
    assert m["corr_observed_start_model_moves"].to_dict() == pytest.approx(pers)
    low = sorted(g for g, v in pers.items() if v < 0.8)
    assert low  # the observed data have such groups (CI and CJ)
    verdict = R._moves_verdict(m.reset_index())
    assert f"{', '.join(g for g in m.index if g in low)}: the model's moves" in verdict
    assert "the model's 1998 map (" not in verdict
    assert "moves change the 2016 correlation by 29 +0.00" in verdict
    # the same, but with CK's map (both years) in the wrong regions: now its 1998 map is what stands in the way
    wrong = held.copy()
    for y in (1998, 2016):
        ck = (wrong["year"] == y) & (wrong["group"] == "CK (28)")
        for seed in range(3):
            one = ck & (wrong["seed"] == seed)
            wrong.loc[one, "share"] = wrong.loc[one, "share"].to_numpy()[::-1]
    w = R.regional_moves(wrong, R.regional_fit(wrong)).set_index("group")
    assert w.loc["CK (28)", "corr_model"] < 0.8 and w.loc["CK (28)", "corr_model_start_observed_moves"] < 0.8
    assert w.loc["CK (28)", "corr_observed_start_model_moves"] == pytest.approx(pers["CK (28)"])
    assert "CK (28): the model's 1998 map (" in R._moves_verdict(w.reset_index())


def test_report_describes_every_verification_outcome():
    rec = {"t1_cells": 8, "criteria_met": 3, "t1_firm": 7, "criterion_units": 10, "passes": 57, "distance": 27.0}
    kept = {"seeds": [2000, 2001, 2002], "outcome": "previous point kept", "challenger": {**rec, "t1_firm": 6},
            "previous_point": rec}
    # every field of the ranking is shown, in its order, so that the deciding one (here T1 cells firmly met) is seen
    assert R._verification_line("The posterior's best particle", kept) == (
        "The posterior's best particle ranked above the point on the confirmation seeds but not on 3 verification "
        "seeds (2000-2002), on which it was not chosen (there: 8 T1 cells, 3 criteria, 6 T1 cells firmly met, "
        "10 criterion units, 57 targets passed, distance 27.0; the point it was checked against: 8 T1 cells, "
        "3 criteria, 7 T1 cells firmly met, 10 criterion units, 57 targets passed, distance 27.0); the point was "
        "kept.")
    adopted = {**kept, "outcome": "challenger adopted"}
    assert R._verification_line("It", adopted).startswith("It also ranked above the point it replaced on 3 "
                                                          "verification seeds (2000-2002)")


def test_report_refuses_more_seeds_than_its_block_before_anything_runs(tmp_path):
    for n in (0, 1001):
        with pytest.raises(ValueError, match=r"--seeds .*: the report takes 1 to 1000 seeds"):
            R.write_calibration_report(tmp_path / "out", seeds=n, workers=1)
    assert not (tmp_path / "out").exists()


def test_regional_moves_leave_out_a_seed_without_output_in_a_group():
    shares = _observed_shares(range(3))
    # the model's cube also holds groups without a T5 target (e.g. CL (29-30)): left out, not an error
    extra = shares[shares["group"] == "29"].assign(group="CL (29-30)")
    assert len(R.regional_moves(pd.concat([shares, extra]), R.regional_fit(shares))) == 6
    gap = (shares["seed"] == 2) & (shares["group"] == "CJ (27)") & (shares["year"] == 1998)
    shares.loc[gap, "share"] = np.nan  # no electrical equipment output in that seed in 1998
    m = R.regional_moves(shares, R.regional_fit(shares)).set_index("group")
    assert m.loc["CJ (27)", "sim_moved"] == pytest.approx(m.loc["CJ (27)", "observed_moved"])  # not pulled to 0
    assert m.loc["CJ (27)", "sim_moved_q05"] == pytest.approx(m.loc["CJ (27)", "observed_moved"])


def test_the_cost_of_a_calibration_step_is_stated_from_its_provenance():
    from calibration.report import cost_text

    assert cost_text({"simulation_runs": 13119, "sampling_minutes": 54.2, "rerun_runs": 192, "rerun_minutes": 3.1}) == (
        "13,119 model runs in 54.2 min, then 192 runs on fresh seeds to choose the point, in 3.1 min")
    assert cost_text({"simulation_runs": 2560, "search_minutes": 20.0}) == "2,560 model runs in 20 min"
    assert cost_text({"rerun_runs": 192, "rerun_minutes": 1.5}) == "192 runs on fresh seeds to choose the point, in 1.5 min"
    assert cost_text({"method": "an older step"}) == ""  # not recorded before stop 28: nothing claimed
