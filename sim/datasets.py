"""The project's own data tables (``sim/data/*.csv``), loaded and validated.

Every loader checks its table when it is read (codes unique, 40 regions, shares summing to one, no
missing values) and raises :class:`DataError` naming the table and the problem. Sources and licences:
``sim/data/README.md``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

N_REGIONS = 40
SECTOR_CODES = (
    "computers_electronics_optical",
    "pharmaceuticals",
    "aerospace",
    "other_transport",
    "chemicals",
    "motor_vehicles",
    "machinery",
    "electrical_equipment",
)
URBAN_CLASSES = ("rural", "moderately_urban", "urban")


class DataError(ValueError):
    """A project data table fails validation."""


def _read(name: str) -> pd.DataFrame:
    with resources.files("sim.data").joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def _check(cond: bool, table: str, msg: str) -> None:
    if not cond:
        raise DataError(f"sim/data/{table}: {msg}")


@cache
def load_regions() -> pd.DataFrame:
    """The 40 GB NUTS-2016 regions, one row each, in the model's region order (by code)."""
    df = _read("regions.csv")
    t = "regions.csv"
    _check(len(df) == N_REGIONS, t, f"expected {N_REGIONS} regions, found {len(df)}")
    _check(df["code"].is_unique, t, "region codes are not unique")
    _check(not df.isna().any().any(), t, f"missing values in {list(df.columns[df.isna().any()])}")
    _check(bool((df["area_km2"] > 0).all()), t, "area_km2 must be positive")
    _check(set(df["urban_class"]) <= set(URBAN_CLASSES), t, f"urban_class must be one of {URBAN_CLASSES}")
    df["tir"] = df["tir"].astype(bool)
    df = df.sort_values("code").reset_index(drop=True)
    return df


@cache
def load_sectors() -> pd.DataFrame:
    """The eight advanced-manufacturing sectors, in the model's sector order."""
    df = _read("sectors.csv")
    t = "sectors.csv"
    _check(tuple(df["code"]) == SECTOR_CODES, t, f"sector codes must be, in order, {SECTOR_CODES}")
    for col in ("output_share_1973", "plant_share_1973"):
        _check(abs(df[col].sum() - 1.0) < 1e-9, t, f"{col} must sum to 1, sums to {df[col].sum():.6f}")
    _check(df["scale_intensive"].isin([0, 1]).all(), t, "scale_intensive must be 0 or 1")
    _check(bool(df["sti_weight_prior"].between(0, 1).all()), t, "sti_weight_prior must be in [0, 1]")
    return df


@cache
def load_population() -> pd.DataFrame:
    """Population by region and year (long: code, year, population, reliable)."""
    df = _read("population.csv")
    _check(set(df["code"]) == set(load_regions()["code"]), "population.csv", "codes differ from regions.csv")
    return df


@cache
def load_gva_total() -> pd.DataFrame:
    """Total GVA (all industries, current prices, GBP m) by region and year, 1998-2016."""
    df = _read("gva_total.csv")
    _check(set(df["code"]) == set(load_regions()["code"]), "gva_total.csv", "codes differ from regions.csv")
    return df


@cache
def load_demand_paths() -> pd.DataFrame:
    """Anchor points (sector, year, index with 1973 = 1) of the national demand paths."""
    df = _read("demand_paths.csv")
    _check(set(df["sector"]) == set(SECTOR_CODES), "demand_paths.csv", "every sector needs a path")
    return df


@cache
def load_recessions() -> pd.DataFrame:
    """Recession years and their depth (fractional fall in demand below trend)."""
    return _read("recessions.csv")


@cache
def load_clusters() -> pd.DataFrame:
    """Historic cluster locations (sector, region, weight): assumptions, see the data README."""
    df = _read("clusters.csv")
    _check(set(df["sector"]) <= set(SECTOR_CODES), "clusters.csv", f"sector must be one of {SECTOR_CODES}")
    bad = set(df["region"]) - set(load_regions()["code"])
    _check(not bad, "clusters.csv", f"unknown region codes {sorted(bad)}")
    return df


@cache
def load_assisted_areas() -> pd.DataFrame:
    """Regions largely inside the Development and Intermediate Areas of UK regional policy (approximate,
    1980s maps): an assumption, see the data README."""
    df = _read("assisted_areas.csv")
    bad = set(df["region"]) - set(load_regions()["code"])
    _check(not bad, "assisted_areas.csv", f"unknown region codes {sorted(bad)}")
    return df


def region_codes() -> tuple[str, ...]:
    return tuple(load_regions()["code"])


def region_index() -> dict[str, int]:
    return {c: i for i, c in enumerate(region_codes())}


def sector_index() -> dict[str, int]:
    return {c: i for i, c in enumerate(SECTOR_CODES)}


def distance_km() -> np.ndarray:
    """Great-circle distances between region centroids (km), a 40 x 40 array."""
    r = load_regions()
    lat = np.radians(r["centroid_lat"].to_numpy())
    lon = np.radians(r["centroid_lon"].to_numpy())
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
