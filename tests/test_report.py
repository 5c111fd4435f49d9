"""Run metrics and the report, on synthetic run folders (and one real run, marked slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fake_run import fake_panel, fake_plants, write_fake_run
from sim import metrics as M
from sim import observed as obs
from sim.report import check_t1, check_t2, metrics_for_run, run_metrics, write_report


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    return write_fake_run(tmp_path_factory.mktemp("run") / "fake", seeds=(0, 1), years=range(1990, 2017))


@pytest.fixture(scope="module")
def run_m(fake_run):
    return metrics_for_run(fake_run)


def test_run_metrics_columns_levels(run_m):
    assert list(run_m.columns) == ["seed", "measure", "level", "year", "industry", "metric", "value"]
    assert set(run_m["seed"]) == {0, 1}
    assert set(run_m["level"]) == {"sector", "ons_group", "all"}
    sec = run_m[run_m["level"] == "sector"]
    assert set(sec["industry"]) == set(obs.sector_to_ons())
    ons = run_m[run_m["level"] == "ons_group"]
    assert set(ons["industry"]) == {*obs.AM_ONS_GROUPS, "CL (29-30)"}
    for m in ("theil_gva", "theil_area", "theil_population", "locational_gini", "hhi", "share_tir", "share_urban",
              "share_top5pct", "lq_mean_tir", "lq_mean_nontir", "theil_gva_5y", "eg_gamma",
              "decomp_pct_tir_openings_closures_foreign", "decomp_total_change", "rd_growth_corr_1990_2016",
              "rd_growth_corr_1998_2016"):
        assert m in set(run_m["metric"]), m
    assert not run_m.duplicated(["seed", "level", "year", "industry", "metric"]).any()
    eg = run_m[run_m["metric"] == "eg_gamma"]
    assert set(eg["year"]) == {1990, 2016}


def test_run_metrics_ons_level_equals_direct_computation(fake_run, run_m):
    panel = pd.read_parquet(fake_run / "panel.parquet")
    p = panel.assign(industry=panel["sector"].map(obs.sector_to_ons()))
    direct = M.theil(p, "gva", value="output", by=("seed", "year", "industry"))
    d = direct.set_index(["seed", "year", "industry"])["value"]
    r = run_m[(run_m["level"] == "ons_group") & (run_m["metric"] == "theil_gva")]
    r = r.set_index(["seed", "year", "industry"])["value"]
    common = r.index.intersection(d.index)
    assert len(common) == 2 * 27 * 6
    assert np.allclose(r[common], d[common], atol=1e-12)
    # all-AM TIR share matches a direct computation
    tir = M.tir_shares(panel, value="output", by=("seed", "year")).query("metric == 'share_tir'")
    rr = run_m[(run_m["level"] == "all") & (run_m["metric"] == "share_tir")]
    assert np.allclose(rr.sort_values(["seed", "year"])["value"], tir.sort_values(["seed", "year"])["value"])


def test_run_metrics_decomposition_rows(run_m):
    d = run_m[run_m["metric"].str.startswith("decomp_pct_")]
    assert len(d) == 16
    assert d.groupby("seed")["value"].sum().to_numpy() == pytest.approx(100.0)
    assert (d["year"] == 2016).all() and (d["industry"] == "AM").all()


def test_run_metrics_without_plants_table():
    m = run_metrics(fake_panel(seeds=(3,), years=range(2000, 2004)))
    assert set(m["seed"]) == {3} and "eg_gamma" not in set(m["metric"])


def test_check_t1_and_t2():
    plants = fake_plants(seeds=(0, 1, 2))
    t1 = check_t1(plants)
    assert len(t1) == 8 and {"median", "study", "diff_pp", "pass", "seeds_ok"} <= set(t1.columns)
    cells = zip(t1["region_type"], t1["plants"], t1["ownership"])
    assert [M.STUDY_DECOMPOSITION[c] for c in cells] == t1["study"].tolist()
    assert t1["seeds_ok"].between(0, 1).all()
    # a run whose simulated Theil equals the observed one passes T2 everywhere
    from sim.report import observed_metrics

    o = observed_metrics()
    s = o[(o["measure"] == "gva") & (o["metric"] == "theil_gva") & (o["level"] == "ons_group")].assign(seed=0)
    t2 = check_t2(s, o)
    assert t2["pass_1998"].all() and t2["pass_2016"].all() and t2["trend_ok"].all()
    s2 = s.assign(value=s["value"] + np.where(s["industry"] == "CD-CF (19-21)", 0.15, 0.11))
    t2b = check_t2(s2, o).set_index("group")
    assert t2b.loc["CD-CF (19-21)", "pass_2016"] and not t2b.loc["29", "pass_2016"]


@pytest.mark.slow
def test_write_report_fake_run(fake_run, tmp_path):
    out = write_report(fake_run, tmp_path / "rep")
    assert out == tmp_path / "rep" / "report.md"
    text = out.read_text()
    for s in ("## T1", "## T2", "## T3", "## T5", "target checks pass", "PASS", "MISS", "44.1"):
        assert s in text, s
    # each LQ rule is set against the same rule on the public data (the sector's ONS group, 1998-2016)
    assert "data margin, ONS group 1998-2016" in text and "the data meet only 2 of 7 rules" in text
    pngs = sorted(p.name for p in (tmp_path / "rep").glob("*.png"))
    assert {"decomposition.png", "theil_ons_groups.png", "tir_share.png", "lq_change.png", "urban_shares.png",
            "map.png", "regional_shares.png", "theil_sectors.png"} <= set(pngs)
    for p in pngs:
        assert (tmp_path / "rep" / p).stat().st_size > 10_000
        assert f"({p})" in text  # every figure is linked from the report


def test_write_report_default_folder_short_run(tmp_path, monkeypatch):
    # the text logic only: figures are stubbed (they are drawn in the slow tests)
    from pathlib import Path

    import sim.report as rep

    names = ["regional_shares", "theil", "theil_area", "theil_sectors", "tir_share", "lq_change", "decomposition",
             "urban_shares", "map"]
    monkeypatch.setattr(rep, "write_figures", lambda *a, **k: {n: Path(f"{n}.png") for n in names})
    run = write_fake_run(tmp_path / "short", seeds=(0,), years=range(2020, 2031))
    out = write_report(run)
    assert out == run / "report" / "report.md"
    text = out.read_text()
    assert "Not evaluated: the run does not cover 1998 or 2016" in text
    assert "only indicative" in text


@pytest.mark.slow
def test_report_on_a_real_run(tmp_path):
    import sim

    res = sim.simulate(seed=0)
    run = res.save(tmp_path / "real")
    m = metrics_for_run(run)
    assert set(m["seed"]) == {0} and m["value"].notna().any()
    d = m[m["metric"].str.startswith("decomp_pct_")]
    assert d["value"].sum() == pytest.approx(100.0)
    text = write_report(run).read_text()
    assert "## T1" in text and "target checks pass" in text


def test_check_t5_perfect_when_simulated_shares_equal_observed():
    from sim.report import check_t5

    one_sector = {"CD-CF (19-21)": "chemicals", "CI (26)": "computers_electronics_optical",
                  "CJ (27)": "electrical_equipment", "CK (28)": "machinery", "29": "motor_vehicles", "30": "aerospace"}
    g = obs.observed_gva_panel()
    g = g[g["year"].isin([1998, 2016])]
    panel = pd.DataFrame({"seed": 0, "year": g["year"], "region": g["region"],
                          "sector": g["industry"].map(one_sector), "output": g["value"] * 1.7})
    t5 = check_t5(panel)
    assert len(t5) == 12
    assert t5["median_r"].to_numpy() == pytest.approx(1.0) and t5["pass"].all()


def test_fdi_outside_tir_hand_worked():
    from sim.report import FDI_SINCE, fdi_outside_tir

    # seed 0: foreign openings in UKE3 (TIR), UKJ1 and UKI3 (not TIRs) count; a relocation, a GB
    # opening, a closure and one before FDI_SINCE do not -> 2 of 3 outside. Seed 1: none -> NaN.
    ev = pd.DataFrame({
        "seed": [0, 0, 0, 0, 0, 0, 0],
        "year": [FDI_SINCE, 2000, 2016, 2001, 2002, 2003, FDI_SINCE - 1],
        "kind": ["open", "open", "open", "open", "open", "close", "open"],
        "ownership": ["foreign", "foreign", "foreign", "foreign", "GB", "foreign", "foreign"],
        "cause": ["foreign_entry", "anchor", "foreign_entry", "relocation", "startup", "exit", "foreign_entry"],
        "region": ["UKE3", "UKJ1", "UKI3", "UKJ1", "UKJ1", "UKJ1", "UKJ1"],
    })
    share = fdi_outside_tir(ev, pd.Index([0, 1]))
    assert share[0] == pytest.approx(2 / 3) and np.isnan(share[1])
