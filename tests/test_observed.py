"""Observed data: loaders, the NUTS 2013 -> 2016 mapping, the study's pattern, and an independent Theil."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from importlib import resources

import pandas as pd
import pytest

from sim import datasets
from sim import observed as obs
from sim.report import observed_metrics


def _rows(name: str) -> list[dict]:
    text = resources.files("sim.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def om() -> pd.DataFrame:
    return observed_metrics()


def test_gva_loader_validates_against_region_table():
    g = obs.load_observed_gva()
    assert set(g["code"]) == set(datasets.load_regions()["code"])
    assert set(g["industry_code"]) == set(obs.GVA_GROUPS)
    assert g["year"].min() == 1998 and g["year"].max() == 2016
    assert len(g) == 40 * 19 * 9
    # Total equals the project's total-GVA table
    tot = g[g["industry_code"] == "Total"].set_index(["code", "year"])["gva_gbp_m"]
    ref = datasets.load_gva_total().set_index(["code", "year"])["gva_total_gbp_m"]
    assert (tot.sort_index() == ref.sort_index().astype(float)).all()
    # CL (29-30) = 29 + 30 in the ONS data up to rounding
    w = g.pivot_table(index=["code", "year"], columns="industry_code", values="gva_gbp_m")
    assert ((w["CL (29-30)"] - w["29"] - w["30"]).abs() <= 2).mean() > 0.95


def test_employment_loader_and_scottish_mapping():
    e = obs.load_observed_employment()
    assert set(e["code"]) == set(datasets.load_regions()["code"])
    assert set(e["sector"]) == set(datasets.SECTOR_CODES)
    assert {"UKM2", "UKM3"}.isdisjoint(set(e["code"]))
    # UKM3 split between UKM8 and UKM9 in proportion to their populations of the same year
    pop = datasets.load_population().set_index(["code", "year"])["population"]
    w = e[e["code"].isin(["UKM8", "UKM9"])].pivot_table(index=["year", "sector"], columns="code", values="employment")
    w = w[(w["UKM8"] + w["UKM9"]) > 0]
    for (year, _), row in w.iterrows():
        share = pop[("UKM8", year)] / (pop[("UKM8", year)] + pop[("UKM9", year)])
        assert row["UKM8"] / (row["UKM8"] + row["UKM9"]) == pytest.approx(share, abs=1e-4)


def test_loader_rejects_wrong_codes(monkeypatch):
    bad = obs.load_observed_gva().copy()
    bad.loc[bad["code"] == "UKM7", "code"] = "UKM2"
    monkeypatch.setattr(datasets, "_read", lambda name: bad.copy())
    obs.load_observed_gva.cache_clear()
    try:
        with pytest.raises(datasets.DataError, match="UKM2"):
            obs.load_observed_gva()
    finally:
        monkeypatch.undo()
        obs.load_observed_gva.cache_clear()


def test_sector_to_ons_mapping():
    m = obs.sector_to_ons()
    assert m == {
        "computers_electronics_optical": "CI (26)", "pharmaceuticals": "CD-CF (19-21)", "chemicals": "CD-CF (19-21)",
        "aerospace": "30", "other_transport": "30", "motor_vehicles": "29", "machinery": "CK (28)",
        "electrical_equipment": "CJ (27)",
    }
    assert set(obs.ons_groups()["CL (29-30)"]) == {"aerospace", "other_transport", "motor_vehicles"}


def independent_theil(year: int, group: str, reference: str = "gva") -> float:
    """Straightforward Theil from the CSV files with the csv module and math.log only."""
    x: dict[str, float] = defaultdict(float)
    w: dict[str, float] = defaultdict(float)
    for r in _rows("observed_gva.csv"):
        if int(r["year"]) != year:
            continue
        if r["industry_code"] == group:
            x[r["code"]] += float(r["gva_gbp_m"])
        if reference == "gva" and r["industry_code"] == "Total":
            w[r["code"]] += float(r["gva_gbp_m"])
    if reference == "area":
        for r in _rows("regions.csv"):
            w[r["code"]] = float(r["area_km2"])
    X, W = sum(x.values()), sum(w.values())
    t = 0.0
    for code, v in x.items():
        if v > 0:
            s, a = v / X, w[code] / W
            t += s * math.log(s / a)
    return t


@pytest.mark.parametrize("group", [*obs.AM_ONS_GROUPS, "CL (29-30)", "C (10-33)"])
def test_observed_theil_matches_independent_implementation(om, group):
    for year in (1998, 2007, 2016):
        for ref in ("gva", "area"):
            got = om[(om["measure"] == "gva") & (om["industry"] == group) & (om["year"] == year)
                     & (om["metric"] == f"theil_{ref}")]["value"]
            assert len(got) == 1
            assert got.iloc[0] == pytest.approx(independent_theil(year, group, ref), abs=1e-6)


def test_study_pattern_holds_in_2016(om):
    t = om[(om["measure"] == "gva") & (om["year"] == 2016) & (om["metric"] == "theil_gva")]
    t = t.set_index("industry")["value"]
    # motor vehicles and other transport concentrated (above 0.4); 26, 27, 28 dispersed (below 0.4)
    assert t["29"] > 0.4 and t["30"] > 0.4
    assert t["CI (26)"] < 0.4 and t["CJ (27)"] < 0.4 and t["CK (28)"] < 0.4


def test_observed_metrics_shape(om):
    assert list(om.columns) == ["measure", "level", "year", "industry", "metric", "value"]
    assert set(om["measure"]) == {"gva", "employment"}
    g = om[om["measure"] == "gva"]
    for m in ("theil_gva", "theil_area", "theil_population", "locational_gini", "hhi", "share_tir", "share_top5pct",
              "lq_mean_tir", "theil_gva_5y", "rd_growth_corr_1998_2016"):
        assert m in set(g["metric"]), m
    assert not om.duplicated(["measure", "level", "year", "industry", "metric"]).any()
    e = om[(om["measure"] == "employment") & (om["level"] == "sector")]
    assert set(e["industry"]) == set(datasets.SECTOR_CODES) and set(e["year"]) == {2015, 2016}
    # shares add up
    s = g[(g["level"] == "all") & g["metric"].isin(["share_tir", "share_nontir"])].groupby("year")["value"].sum()
    assert s.to_numpy() == pytest.approx(1.0)
