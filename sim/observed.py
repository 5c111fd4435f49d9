"""Observed regional data (ONS GVA 1998-2016, BRES employment 2015-2016), loaded and validated.

The tables are the project's own copies in ``sim/data/`` (built by ``tools/build_observed.py``; sources,
licences and the NUTS 2013 -> 2016 mapping in ``sim/data/README.md``). Loaders check that the region
codes are exactly the 40 regions of :func:`sim.datasets.load_regions` and raise
:class:`sim.datasets.DataError` otherwise.

Model sectors map to ONS industry groups through the ``ons_group`` column of ``sim/data/sectors.csv``:
computers_electronics_optical -> ``CI (26)``; pharmaceuticals and chemicals -> ``CD-CF (19-21)``
(which also holds petroleum refining, SIC 19, not simulated); aerospace and other_transport -> ``30``;
motor_vehicles -> ``29``; machinery -> ``CK (28)``; electrical_equipment -> ``CJ (27)``. The derived
group ``CL (29-30)`` is ``29`` + ``30``.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from sim import datasets
from sim.datasets import DataError

#: The six ONS groups that together cover the eight AM sectors (plus petroleum in 19-21).
AM_ONS_GROUPS = ("CD-CF (19-21)", "CI (26)", "CJ (27)", "CK (28)", "29", "30")
#: All industry groups in ``observed_gva.csv``.
GVA_GROUPS = (*AM_ONS_GROUPS, "CL (29-30)", "C (10-33)", "Total")
#: Composite groups defined from the six AM groups.
COMPOSITE_GROUPS = {"CL (29-30)": ("29", "30")}
GVA_YEARS = (1998, 2016)
EMPLOYMENT_YEARS = (2015, 2016)


def _check(cond: bool, table: str, msg: str) -> None:
    if not cond:
        raise DataError(f"sim/data/{table}: {msg}")


def _check_codes(df: pd.DataFrame, table: str) -> None:
    want = set(datasets.load_regions()["code"])
    got = set(df["code"])
    _check(got == want, table, f"region codes differ from regions.csv: missing {sorted(want - got)}, "
           f"unknown {sorted(got - want)}")


@cache
def load_observed_gva() -> pd.DataFrame:
    """ONS GVA, current prices, GBP million: columns ``code, year, industry_code, gva_gbp_m``.

    Full grid: 40 regions x 1998-2016 x :data:`GVA_GROUPS`; values non-negative.
    """
    t = "observed_gva.csv"
    df = datasets._read(t)
    df["industry_code"] = df["industry_code"].astype(str)
    cols = ["code", "year", "industry_code", "gva_gbp_m"]
    _check(list(df.columns) == cols, t, f"unexpected columns {list(df.columns)}")
    _check_codes(df, t)
    _check(set(df["industry_code"]) == set(GVA_GROUPS), t, f"industry groups must be {GVA_GROUPS}")
    years = set(range(GVA_YEARS[0], GVA_YEARS[1] + 1))
    _check(set(df["year"]) == years, t, f"years must be {GVA_YEARS[0]}-{GVA_YEARS[1]}")
    _check(not df.duplicated(["code", "year", "industry_code"]).any(), t, "duplicate code x year x group rows")
    _check(len(df) == 40 * len(years) * len(GVA_GROUPS), t, "not a full region x year x group grid")
    _check(not df["gva_gbp_m"].isna().any() and bool((df["gva_gbp_m"] >= 0).all()), t, "GVA must be >= 0")
    df["gva_gbp_m"] = df["gva_gbp_m"].astype(float)
    return df


@cache
def load_observed_employment() -> pd.DataFrame:
    """BRES employment (employees + working owners) on NUTS 2016: ``code, year, sector, employment``.

    40 regions x 2015-2016 x the eight model sectors. Scottish values are mapped from NUTS 2013 (UKM3
    split by population, so they are not whole numbers); see the data README.
    """
    t = "observed_employment.csv"
    df = datasets._read(t)
    _check(list(df.columns) == ["code", "year", "sector", "employment"], t, f"unexpected columns {list(df.columns)}")
    _check_codes(df, t)
    _check(set(df["sector"]) == set(datasets.SECTOR_CODES), t, f"sectors must be {datasets.SECTOR_CODES}")
    _check(set(df["year"]) == set(EMPLOYMENT_YEARS), t, f"years must be {EMPLOYMENT_YEARS}")
    _check(not df.duplicated(["code", "year", "sector"]).any(), t, "duplicate code x year x sector rows")
    _check(len(df) == 40 * 2 * 8, t, "not a full region x year x sector grid")
    _check(not df["employment"].isna().any() and bool((df["employment"] >= 0).all()), t, "employment must be >= 0")
    return df


def sector_to_ons() -> dict[str, str]:
    """Model sector code -> ONS group code (from ``sectors.csv``)."""
    s = datasets.load_sectors()
    m = dict(zip(s["code"], s["ons_group"].astype(str)))
    bad = set(m.values()) - set(AM_ONS_GROUPS)
    if bad:
        raise DataError(f"sim/data/sectors.csv: ons_group values {sorted(bad)} not in {AM_ONS_GROUPS}")
    return m


def ons_groups() -> dict[str, tuple[str, ...]]:
    """ONS group -> the model sectors it contains, for the six AM groups and ``CL (29-30)``."""
    m = sector_to_ons()
    out = {g: tuple(s for s in datasets.SECTOR_CODES if m[s] == g) for g in AM_ONS_GROUPS}
    for g, parts in COMPOSITE_GROUPS.items():
        out[g] = tuple(s for p in parts for s in out[p])
    return out


def observed_gva_panel(groups=AM_ONS_GROUPS) -> pd.DataFrame:
    """Long panel ``region, year, industry, value`` of observed GVA for the given ONS groups."""
    g = load_observed_gva()
    g = g[g["industry_code"].isin(groups)]
    return g.rename(columns={"code": "region", "industry_code": "industry", "gva_gbp_m": "value"})[
        ["region", "year", "industry", "value"]
    ].reset_index(drop=True)


def observed_employment_panel(level: str = "sector") -> pd.DataFrame:
    """Long panel ``region, year, industry, value`` of BRES employment by model sector or ONS group."""
    e = load_observed_employment().rename(columns={"code": "region", "employment": "value"})
    if level == "sector":
        return e.rename(columns={"sector": "industry"})[["region", "year", "industry", "value"]]
    if level == "ons_group":
        e = e.assign(industry=e["sector"].map(sector_to_ons()))
        return e.groupby(["region", "year", "industry"], as_index=False)["value"].sum()
    raise ValueError("level must be 'sector' or 'ons_group'")
