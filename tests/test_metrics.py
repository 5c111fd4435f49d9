"""Concentration metrics: hand-worked examples, properties, independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import datasets
from sim import metrics as M

REGIONS = datasets.load_regions()["code"].tolist()


def frame(values: dict, industry="i", year=2000) -> pd.DataFrame:
    return pd.DataFrame({"region": list(values), "value": list(values.values()), "industry": industry, "year": year})


def one(df: pd.DataFrame, metric: str | None = None) -> float:
    if metric is not None:
        df = df[df["metric"] == metric]
    assert len(df) == 1, df
    return float(df["value"].iloc[0])


# --------------------------------------------------------------------------------------------------
# hand-worked examples
# --------------------------------------------------------------------------------------------------


def test_theil_two_regions_by_hand():
    # s = (0.75, 0.25), a = (0.5, 0.5): T = 0.75 ln 1.5 + 0.25 ln 0.5
    ref = pd.Series({"A": 1.0, "B": 1.0})
    t = M.theil(frame({"A": 3.0, "B": 1.0}), ref)
    assert one(t) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), abs=1e-12)
    assert set(t.columns) == {"year", "industry", "metric", "value"}
    assert t["metric"].iloc[0] == "theil"


def test_theil_all_in_one_region_and_zero_log_zero():
    # s = (1, 0, 0), a = (0.5, 0.25, 0.25): T = ln(1 / 0.5); the empty regions contribute 0 (0 ln 0 = 0)
    ref = pd.Series({"A": 2.0, "B": 1.0, "C": 1.0})
    assert one(M.theil(frame({"A": 5.0, "B": 0.0, "C": 0.0}), ref)) == pytest.approx(math.log(2), abs=1e-12)
    # a region absent from the data counts as zero
    assert one(M.theil(frame({"A": 5.0}), ref)) == pytest.approx(math.log(2), abs=1e-12)


def test_theil_uniform_reference_uses_region_axis():
    t = M.theil(frame({"A": 1.0, "B": 1.0, "C": 2.0}), "uniform")
    s = np.array([0.25, 0.25, 0.5])
    assert one(t, "theil_uniform") == pytest.approx(float((s * np.log(s * 3)).sum()), abs=1e-12)


def test_theil_named_reference_counts_all_40_regions():
    # all output in one region: T = ln(1 / a_r) with a_r the region's share of total GVA in that year
    t = M.theil(frame({"UKI3": 10.0}, year=2010), "gva")
    gva = datasets.load_gva_total()
    g = gva[gva["year"] == 2010].set_index("code")["gva_total_gbp_m"]
    assert one(t) == pytest.approx(math.log(g.sum() / g["UKI3"]), abs=1e-12)
    a = M.theil(frame({"UKI3": 10.0}), "area")
    area = datasets.load_regions().set_index("code")["area_km2"]
    assert one(a) == pytest.approx(math.log(area.sum() / area["UKI3"]), abs=1e-12)


def test_theil_zero_total_is_nan_and_zero_reference_is_inf():
    ref = pd.Series({"A": 1.0, "B": 0.0})
    assert np.isnan(one(M.theil(frame({"A": 0.0, "B": 0.0}), ref)))
    assert one(M.theil(frame({"A": 1.0, "B": 1.0}), ref)) == np.inf


def test_locational_gini_by_hand():
    ref = pd.Series({"A": 2.0, "B": 1.0, "C": 1.0})
    # all output in A: G = 1 - a_A = 0.5
    assert one(M.locational_gini(frame({"A": 5.0, "B": 0.0, "C": 0.0}), ref)) == pytest.approx(0.5)
    # equal reference, s = (0.5, 0.5, 0): G = 1/3 (= mean absolute difference / (2 mean))
    ref3 = pd.Series({"A": 1.0, "B": 1.0, "C": 1.0})
    assert one(M.locational_gini(frame({"A": 1.0, "B": 1.0, "C": 0.0}), ref3)) == pytest.approx(1 / 3)
    # distributed like the reference: 0
    assert one(M.locational_gini(frame({"A": 4.0, "B": 2.0, "C": 2.0}), ref)) == pytest.approx(0.0, abs=1e-12)


def test_herfindahl_by_hand():
    assert one(M.herfindahl(frame({"A": 5.0, "B": 3.0, "C": 2.0}))) == pytest.approx(0.38)


def test_ellison_glaeser_by_hand():
    # industry a: region 1 has plants of 3 and 3, region 2 a plant of 2; industry b: 2 in region 1, 6 in region 2.
    # aggregate (all plants): 8 and 8, x = (0.5, 0.5).
    # a: s = (0.75, 0.25), G = 0.125, H = (9 + 9 + 4) / 64, gamma = (0.125 / 0.5 - H) / (1 - H) = -1/7
    # b: s = (0.25, 0.75), G = 0.125, H = (4 + 36) / 64, gamma = (0.25 - 0.625) / 0.375 = -1
    plants = pd.DataFrame({
        "region": ["R1", "R1", "R2", "R1", "R2"],
        "industry": ["a", "a", "a", "b", "b"],
        "output": [3.0, 3.0, 2.0, 2.0, 6.0],
    })
    eg = M.ellison_glaeser(plants, details=True).set_index(["industry", "metric"])["value"]
    assert eg[("a", "eg_gamma")] == pytest.approx(-1 / 7)
    assert eg[("b", "eg_gamma")] == pytest.approx(-1.0)
    assert eg[("a", "plant_hhi")] == pytest.approx(22 / 64)
    assert eg[("a", "eg_G")] == pytest.approx(0.125)


def test_ellison_glaeser_all_in_one_region_and_evenly_spread():
    # industry a: 200 equal plants all in region A; b: 2000 plants spread evenly over A-D (the reference)
    n = 200
    plants = pd.concat([
        pd.DataFrame({"region": "A", "industry": "a", "output": np.ones(n)}),
        pd.DataFrame({"region": np.repeat(list("ABCD"), 500), "industry": "b", "output": np.ones(2000)}),
    ])
    eg = M.ellison_glaeser(plants, reference=pd.Series({r: 1.0 for r in "ABCD"}))
    g = eg.set_index("industry")["value"]
    assert g["a"] == pytest.approx((0.75 / 0.75 - 1 / n) / (1 - 1 / n))  # G = 0.75, sum x^2 = 0.25 -> gamma = 1
    H = 1 / 2000
    assert g["b"] == pytest.approx(-H / (1 - H))  # spread like the reference: G = 0, gamma = -H / (1 - H)


def test_location_quotients_by_hand():
    d = pd.DataFrame({
        "region": ["UKC1", "UKC2", "UKC1", "UKC2"], "industry": ["a", "a", "b", "b"],
        "value": [6.0, 2.0, 2.0, 6.0], "year": 2000,
    })
    lq = M.location_quotients(d).set_index(["industry", "region"])["value"]
    assert lq[("a", "UKC1")] == pytest.approx(1.5)
    assert lq[("a", "UKC2")] == pytest.approx(0.5)
    assert np.isnan(lq[("a", "UKI3")])  # no AM output at all in the region
    means = M.lq_means(d, groups=pd.Series({"UKC1": "x", "UKC2": "y"}), regions=["UKC1", "UKC2"])
    m = means.set_index(["industry", "metric"])["value"]
    assert m[("a", "lq_mean_x")] == pytest.approx(1.5)
    assert m[("b", "lq_mean_y")] == pytest.approx(1.5)


def test_lq_means_tir_default():
    # UKC1 (TIR) and UKC2 (non-TIR) only
    d = pd.DataFrame({"region": ["UKC1", "UKC2", "UKC1", "UKC2"], "industry": ["a", "a", "b", "b"],
                      "value": [6.0, 2.0, 2.0, 6.0], "year": 2000})
    m = M.lq_means(d).set_index(["industry", "metric"])["value"]
    assert m[("a", "lq_mean_tir")] == pytest.approx(1.5)
    assert m[("a", "lq_mean_nontir")] == pytest.approx(0.5)


def test_tir_and_urban_shares_by_hand():
    d = frame({"UKC1": 3.0, "UKC2": 1.0})  # UKC1 is a TIR, UKC2 is not
    s = M.tir_shares(d).set_index("metric")["value"]
    assert s["share_tir"] == pytest.approx(0.75) and s["share_nontir"] == pytest.approx(0.25)
    r = datasets.load_regions().set_index("code")["urban_class"]
    u = M.urban_class_shares(frame({"UKI3": 1.0, "UKD1": 3.0})).set_index("metric")["value"]
    assert r["UKI3"] == "urban" and r["UKD1"] == "rural"
    assert u["share_urban"] == pytest.approx(0.25) and u["share_rural"] == pytest.approx(0.75)
    assert u["share_moderately_urban"] == 0.0


def test_top_regions_share_top_two_of_forty():
    d = frame({c: float(i + 1) for i, c in enumerate(REGIONS)})
    t = M.top_regions_share(d)
    assert t["metric"].iloc[0] == "share_top5pct"
    assert one(t) == pytest.approx((40 + 39) / 820)
    assert one(M.top_regions_share(d, k=1)) == pytest.approx(40 / 820)


def test_rd_growth_correlation_by_hand():
    gerd = pd.Series({c: float(i % 7) for i, c in enumerate(REGIONS)})
    rows = []
    for c in REGIONS:
        rows += [{"region": c, "year": 1998, "value": 10.0},
                 {"region": c, "year": 2016, "value": 10.0 * math.exp(0.1 * gerd[c])}]
    d = pd.DataFrame(rows)
    r = M.rd_growth_correlation(d, 1998, 2016, gerd=gerd)
    assert one(r, "rd_growth_corr") == pytest.approx(1.0)
    # monotone but non-linear growth: Spearman is 1, Pearson below
    d2 = d.assign(value=np.where(d["year"] == 2016, 10.0 * np.exp(d["region"].map(gerd) ** 3), d["value"]))
    assert one(M.rd_growth_correlation(d2, 1998, 2016, gerd=gerd, method="spearman")) == pytest.approx(1.0)
    assert one(M.rd_growth_correlation(d2, 1998, 2016, gerd=gerd)) < 0.99
    # regions with zero start are left out
    d3 = d.copy()
    d3.loc[(d3["region"] == REGIONS[0]) & (d3["year"] == 1998), "value"] = 0.0
    assert one(M.rd_growth_correlation(d3, 1998, 2016, gerd=gerd)) == pytest.approx(1.0)


def test_rd_growth_correlation_default_gerd_and_by_seed():
    rng = np.random.default_rng(0)
    d = pd.DataFrame([{"seed": s, "region": c, "year": y, "value": rng.uniform(1, 2)}
                      for s in (0, 1) for c in REGIONS for y in (1973, 2016)])
    r = M.rd_growth_correlation(d, 1973, 2016, by=("seed",))
    assert list(r["seed"]) == [0, 1] and r["value"].between(-1, 1).all()


def test_decomposition_by_hand():
    plants = pd.DataFrame({
        "region": ["UKC1", "UKC2", "UKC2", "UKD3", "UKC1", "UKI3"],
        "ownership_last": ["GB", "foreign", "GB", "foreign", "GB", "GB"],
        "open_at_start": [True, True, True, False, False, False],
        "exit_year": pd.array([pd.NA, pd.NA, 1990, pd.NA, 2000, pd.NA], dtype="Int64"),
        "output_start": [10.0, 20.0, 8.0, 0.0, 0.0, 0.0],
        "output_end": [15.0, 30.0, 0.0, 25.0, 0.0, 8.0],
    })
    # UKC1, UKD3 are TIRs; UKC2, UKI3 are not. Total change: 5 + 10 - 8 + 25 + 0 + 8 = 40
    d = M.decomposition(plants)
    assert list(zip(d["region_type"], d["plants"], d["ownership"])) == list(M.DECOMP_CELLS)
    got = {c: (ch, p) for c, ch, p in zip(M.DECOMP_CELLS, d["change"], d["pct"])}
    assert got[("TIR", "open_throughout", "GB")] == (5.0, 12.5)
    assert got[("non-TIR", "open_throughout", "foreign")] == (10.0, 25.0)
    assert got[("non-TIR", "openings_closures", "GB")] == (0.0, 0.0)  # -8 closure + 8 opening
    assert got[("TIR", "openings_closures", "foreign")] == (25.0, 62.5)
    assert got[("TIR", "openings_closures", "GB")] == (0.0, 0.0)  # opened and closed within the period
    assert d["pct"].sum() == pytest.approx(100.0)
    assert set(d.columns) == {"region_type", "plants", "ownership", "change", "pct"}


def test_decomposition_by_seed_and_study_constant():
    assert sum(M.STUDY_DECOMPOSITION.values()) == pytest.approx(100.0)
    assert M.STUDY_DECOMPOSITION[("non-TIR", "openings_closures", "foreign")] == 44.1
    plants = pd.DataFrame({
        "seed": [0, 0, 1], "region": ["UKC1", "UKC2", "UKC1"], "ownership_last": ["GB", "GB", "foreign"],
        "open_at_start": [True, False, True], "exit_year": pd.array([pd.NA, pd.NA, pd.NA], dtype="Int64"),
        "output_start": [1.0, 0.0, 2.0], "output_end": [2.0, 3.0, 6.0],
    })
    d = M.decomposition(plants)
    assert len(d) == 16 and d.groupby("seed")["pct"].sum().tolist() == pytest.approx([100.0, 100.0])
    cmp = M.decomposition_vs_study(d)
    assert {"study_pct", "diff_pp", "within_tol", "sign_ok"} <= set(cmp.columns)


def test_period_averages_convention():
    df = pd.DataFrame({"year": range(1973, 1985), "industry": "i", "metric": "theil_gva", "value": np.arange(12.0)})
    p = M.period_averages(df)
    assert p["period"].tolist() == ["1973-77", "1978-82", "1983-87"]
    assert p["value"].tolist() == [2.0, 7.0, 10.5]
    assert p["n_years"].tolist() == [5, 5, 2]
    obs = pd.DataFrame({"year": range(1998, 2017), "metric": "m", "value": 1.0})
    assert M.period_averages(obs)["period"].tolist() == ["1998-02", "2003-07", "2008-12", "2013-17"]


def test_reference_weights_conventions():
    g = M.reference_weights("gva", [1973, 1998, 2016, 2030])
    assert (g[1973] == g[1998]).all() and (g[2030] == g[2016]).all()
    p = M.reference_weights("population", [1975, 1981, 1998])
    assert (p[1975] == p[1981]).all()
    assert p.loc["UKM6", 1981] == p.loc["UKM6", 1998]  # unreliable before 1998: 1998 figure
    assert p.loc["UKC1", 1981] != p.loc["UKC1", 1998]
    with pytest.raises(ValueError, match="unknown reference"):
        M.reference_weights("jobs")


def test_errors_are_clear():
    with pytest.raises(ValueError, match="negative"):
        M.theil(frame({"UKC1": -1.0}))
    with pytest.raises(ValueError, match="not in the region table"):
        M.theil(frame({"XX99": 1.0}))
    with pytest.raises(ValueError, match="include 'year'"):
        M.theil(frame({"UKC1": 1.0}), by=("industry",))


def test_cube_regroup_total_select():
    d = pd.DataFrame({"region": ["A", "A", "B", "B"], "industry": ["29", "30", "29", "30"],
                      "value": [1.0, 2.0, 3.0, 4.0]})
    c = M.RegionCube.from_frame(d, by=("industry",))
    g = c.regroup("industry", {"CL": ["29", "30"], "29": ["29"], "none": ["x"]})
    assert g.values.tolist() == [[3.0, 7.0], [1.0, 3.0], [0.0, 0.0]]
    assert g.present.tolist() == [True, True, False]
    assert c.total("industry").values.tolist() == [[3.0, 7.0]]
    assert c.select("industry", ["30"]).values.tolist() == [[2.0, 4.0]]
    assert list(g.keys["industry"]) == ["CL", "29"]


def test_categorical_and_string_inputs_agree():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"region": rng.choice(REGIONS, 500), "industry": rng.choice(list("abc"), 500),
                      "year": rng.choice([1998, 2005], 500), "value": rng.uniform(0, 5, 500)})
    a = M.theil(d)
    b = M.theil(d.astype({"region": "category", "industry": "category"}))
    assert np.allclose(a["value"], b["value"])
    assert a["industry"].astype(str).tolist() == b["industry"].astype(str).tolist()


# --------------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------------

positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False)
nonneg = st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=1e4))
PROP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def value_and_reference(draw, min_regions=2, max_regions=12):
    n = draw(st.integers(min_regions, max_regions))
    x = draw(st.lists(nonneg, min_size=n, max_size=n).filter(lambda v: sum(v) > 0))
    w = draw(st.lists(positive, min_size=n, max_size=n))
    names = [f"R{i:02d}" for i in range(n)]
    return frame(dict(zip(names, x))), pd.Series(dict(zip(names, w)))


@PROP
@given(value_and_reference(), st.floats(min_value=1e-3, max_value=1e3))
def test_theil_nonnegative_and_scale_invariant(vr, k):
    d, ref = vr
    t = one(M.theil(d, ref))
    assert t >= -1e-12
    assert one(M.theil(d.assign(value=d["value"] * k), ref)) == pytest.approx(t, abs=1e-9)
    assert one(M.theil(d, ref * k)) == pytest.approx(t, abs=1e-9)
    assert t <= math.log(ref.sum() / ref.min()) + 1e-9


@PROP
@given(st.lists(positive, min_size=2, max_size=12), st.floats(min_value=1e-3, max_value=1e3))
def test_theil_and_gini_zero_when_shares_equal_reference(w, k):
    names = [f"R{i:02d}" for i in range(len(w))]
    ref = pd.Series(dict(zip(names, w)))
    d = frame(dict(zip(names, np.asarray(w) * k)))
    assert one(M.theil(d, ref)) == pytest.approx(0.0, abs=1e-9)
    assert one(M.locational_gini(d, ref)) == pytest.approx(0.0, abs=1e-9)


@PROP
@given(value_and_reference())
def test_gini_in_unit_interval_and_hhi_bounds(vr):
    d, ref = vr
    g = one(M.locational_gini(d, ref))
    assert -1e-12 <= g <= 1.0
    h = one(M.herfindahl(d))
    assert 1 / len(d) - 1e-12 <= h <= 1 + 1e-12


@PROP
@given(st.lists(nonneg, min_size=2, max_size=15).filter(lambda v: sum(v) > 0))
def test_absolute_theil_equals_textbook_formula(x):
    # T = (1/R) sum_r (x_r / mu) ln(x_r / mu), an independent implementation
    R = len(x)
    mu = sum(x) / R
    expected = sum((v / mu) * math.log(v / mu) for v in x if v > 0) / R
    d = frame({f"R{i:02d}": v for i, v in enumerate(x)})
    assert one(M.theil(d, "uniform")) == pytest.approx(expected, abs=1e-9)


@PROP
@given(st.lists(nonneg, min_size=2, max_size=15).filter(lambda v: sum(v) > 0))
def test_uniform_gini_equals_mean_absolute_difference(x):
    R = len(x)
    mu = sum(x) / R
    expected = sum(abs(a - b) for a in x for b in x) / (2 * R * R * mu)
    d = frame({f"R{i:02d}": v for i, v in enumerate(x)})
    assert one(M.locational_gini(d, "uniform")) == pytest.approx(expected, abs=1e-9)


@PROP
@given(st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_decomposition_cells_sum_to_100(n, seed):
    rng = np.random.default_rng(seed)
    start = rng.random(n) < 0.5
    exit_ = np.where(rng.random(n) < 0.4, 2000, -1)
    plants = pd.DataFrame({
        "region": rng.choice(REGIONS, n), "ownership_last": rng.choice(["GB", "foreign"], n),
        "open_at_start": start, "exit_year": pd.arrays.IntegerArray(exit_.astype(np.int64), mask=exit_ < 0),
        "output_start": np.where(start, rng.uniform(0, 10, n), 0.0),
        "output_end": np.where(exit_ < 0, rng.uniform(0, 10, n), 0.0),
    })
    d = M.decomposition(plants)
    total = d["change"].sum()
    assert len(d) == 8
    if abs(total) > 1e-6:
        assert d["pct"].sum() == pytest.approx(100.0)
    # the change equals output_end (alive) - output_start (open at start)
    alive = plants["exit_year"].isna()
    at_start = plants.loc[plants["open_at_start"], "output_start"].sum()
    assert total == pytest.approx(plants.loc[alive, "output_end"].sum() - at_start)


def test_vectorised_groups_match_one_at_a_time():
    rng = np.random.default_rng(5)
    d = pd.DataFrame([{"seed": s, "year": y, "industry": i, "region": r, "value": rng.gamma(0.5, 3)}
                      for s in (0, 1) for y in (1980, 2010) for i in "ab" for r in REGIONS])
    allg = M.theil(d, "gva", by=("seed", "year", "industry")).set_index(["seed", "year", "industry"])["value"]
    for (s, y, i), v in allg.items():
        sub = d[(d["seed"] == s) & (d["year"] == y) & (d["industry"] == i)]
        assert one(M.theil(sub, "gva")) == pytest.approx(v, abs=1e-12)


# --- the TIR set -------------------------------------------------------------------------------------

ELEVEN = ["UKC1", "UKD3", "UKD4", "UKE3", "UKE4", "UKF1", "UKF2", "UKG2", "UKG3", "UKL1", "UKM8"]


def test_tir_set_applies_inside_its_block_only_and_nests():
    default = M.tir_regions()
    assert len(default) == 12 and default == M.default_tir_regions() and set(ELEVEN) < default
    with M.tir_set(ELEVEN) as chosen:
        assert chosen == M.tir_regions() == frozenset(ELEVEN)
        assert (M.tir_groups() == "tir").sum() == 11 and M.tir_groups()["UKM9"] == "nontir"
        with M.tir_set(["UKI3"]):
            assert M.tir_regions() == {"UKI3"}
        with M.tir_set(None):  # None keeps the current set
            assert M.tir_regions() == frozenset(ELEVEN)
        assert M.tir_regions() == frozenset(ELEVEN)
    assert M.tir_regions() == default


def test_decomposition_under_a_tir_set_equals_the_explicit_set():
    from fake_run import fake_plants

    plants = fake_plants(seeds=(0,), n=300)
    with M.tir_set(ELEVEN):
        inside = M.decomposition(plants, by=["seed"])
    explicit = M.decomposition(plants, by=["seed"], tir=ELEVEN)
    pd.testing.assert_frame_equal(inside, explicit)
    assert not M.decomposition(plants, by=["seed"])["change"].equals(explicit["change"])  # UKM9 matters here


@pytest.mark.parametrize("codes, message", [
    (["UKC1", "UKX9"], r"tir_regions: unknown region code\(s\) \['UKX9'\]; allowed: UKC1, UKC2"),
    (["UKC1", "UKC1"], r"tir_regions: region code\(s\) \['UKC1'\] listed more than once"),
    ([], r"tir_regions: give between 1 and 39 regions \(got 0\)"),
])
def test_bad_tir_sets_are_refused_naming_the_field(codes, message):
    with pytest.raises(ValueError, match=message):
        M.check_tir_regions(codes)
    with pytest.raises(ValueError, match=message):
        with M.tir_set(codes):
            pass
    assert M.tir_regions() == M.default_tir_regions()  # a refused set leaves the current one
