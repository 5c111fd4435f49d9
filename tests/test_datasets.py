import numpy as np
import pandas as pd
import pytest

from sim import datasets as ds


def test_region_table_has_the_40_gb_regions_with_unique_codes():
    r = ds.load_regions()
    assert len(r) == 40 and r["code"].is_unique
    assert set(r["country"]) == {"England", "Wales", "Scotland"}
    assert not r["code"].str.startswith("UKN").any()  # Northern Ireland excluded


def test_tir_set_is_the_documented_twelve():
    r = ds.load_regions()
    assert sorted(r.loc[r["tir"], "code"]) == sorted(
        ["UKC1", "UKD3", "UKD4", "UKE3", "UKE4", "UKF1", "UKF2", "UKG2", "UKG3", "UKL1", "UKM8", "UKM9"])


def test_urban_classes_follow_the_density_thresholds():
    r = ds.load_regions()
    d = r["density_base"]
    assert (r.loc[d < 186, "urban_class"] == "rural").all()
    assert (r.loc[(d >= 186) & (d <= 846), "urban_class"] == "moderately_urban").all()
    assert (r.loc[d > 846, "urban_class"] == "urban").all()
    # Inner London is urban, the Highlands rural
    cls = r.set_index("code")["urban_class"]
    assert cls["UKI3"] == "urban" and cls["UKM6"] == "rural"
    # the unreliable early population figures are not used for UKM6, UKM8, UKM9
    assert set(r.loc[r["population_base_year"] == 1998, "code"]) == {"UKM6", "UKM8", "UKM9"}


def test_sector_table_shares_sum_to_one_and_sti_priors_are_ordered():
    s = ds.load_sectors().set_index("code")
    assert len(s) == 8
    assert s["output_share_1973"].sum() == pytest.approx(1.0)
    w = s["sti_weight_prior"]
    assert w["pharmaceuticals"] > w["chemicals"] > w["machinery"]
    assert w["computers_electronics_optical"] > w["aerospace"] > w["motor_vehicles"]


def test_a_corrupt_table_is_refused_at_load_time(monkeypatch):
    good = ds._read("regions.csv")
    bad = pd.concat([good, good.iloc[[0]]], ignore_index=True)  # a duplicated region
    monkeypatch.setattr(ds, "_read", lambda name: bad)
    ds.load_regions.cache_clear()
    try:
        with pytest.raises(ds.DataError, match="regions.csv"):
            ds.load_regions()
    finally:
        monkeypatch.undo()
        ds.load_regions.cache_clear()


def test_distances_are_symmetric_and_plausible():
    d = ds.distance_km()
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0)
    i = ds.region_index()
    assert 200 < d[i["UKI3"], i["UKD3"]] < 300  # London - Manchester ~ 260 km
