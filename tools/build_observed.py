"""Build the project's own observed tables in ``sim/data/`` from the public reference data.

Run by a developer when the reference data change::

    python tools/build_observed.py [SHARED_DATA_DIR]     # default ../shared/data

Writes

- ``sim/data/observed_gva.csv``: ONS regional GVA (current prices, GBP million) by NUTS-2016 region x
  year (1998-2016) x ONS industry group (the six AM groups plus ``CL (29-30)``, ``C (10-33)`` and
  ``Total``), columns ``code, year, industry_code, gva_gbp_m``;
- ``sim/data/observed_employment.csv``: BRES employment 2015-2016 by NUTS-2016 region x model sector,
  columns ``code, year, sector, employment`` (summed over the SIC 4-digit classes of each sector; the
  NUTS-2013 Scottish regions mapped to NUTS 2016 as below);
- ``sim/data/boundaries_gb_nuts2016_20M.geojson``: the GISCO NUTS-2016 level-2 polygons for the 40 GB
  regions (Northern Ireland dropped), for drawing maps only.

NUTS 2013 -> 2016 (Scotland only; all other codes are identical): ``UKM2`` (Eastern Scotland) ->
``UKM7``; ``UKM3`` (South Western Scotland) is split between ``UKM8`` (West Central Scotland) and
``UKM9`` (Southern Scotland) in proportion to their populations in the same year; ``UKM5``, ``UKM6``
keep their codes. See ``sim/data/README.md`` for the assumption this makes. The simulator never reads
the reference folder at run time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "sim" / "data"

GVA_GROUPS = ("CD-CF (19-21)", "CI (26)", "CJ (27)", "CK (28)", "29", "30", "CL (29-30)", "C (10-33)", "Total")
NUTS2013_TO_2016 = {"UKM2": "UKM7"}  # one to one (approximately; see the data README)
NUTS2013_SPLIT = {"UKM3": ("UKM8", "UKM9")}  # split in proportion to population of the same year


def build_gva(shared: Path, codes: set[str]) -> pd.DataFrame:
    g = pd.read_csv(shared / "ons_gva_am_itl2_1998_2016.csv")
    g = g[g["industry_code"].isin(GVA_GROUPS)]
    out = g.rename(columns={"gva_gbp_m_current": "gva_gbp_m"})[["code", "year", "industry_code", "gva_gbp_m"]]
    assert set(out["code"]) == codes, "GVA codes differ from the region table"
    assert len(out) == len(codes) * len(GVA_GROUPS) * out["year"].nunique(), "GVA table is not a full grid"
    order = {c: i for i, c in enumerate(GVA_GROUPS)}
    out = out.sort_values(
        ["industry_code", "code", "year"], key=lambda s: s.map(order) if s.name == "industry_code" else s
    )
    return out.reset_index(drop=True)


def build_employment(shared: Path, codes: set[str]) -> pd.DataFrame:
    b = pd.read_csv(shared / "bres_am_employment_nuts2013_2015_2016.csv")
    pop = pd.read_csv(shared / "population_gb_nuts2016_1981_2016.csv")
    e = b.groupby(["code_nuts2013", "year", "am_sector"], as_index=False)["employment"].sum()
    e = e.rename(columns={"code_nuts2013": "code", "am_sector": "sector"})
    e["employment"] = e["employment"].astype(float)
    e["code"] = e["code"].replace(NUTS2013_TO_2016)
    parts = [e[~e["code"].isin(NUTS2013_SPLIT)]]
    for old, new in NUTS2013_SPLIT.items():
        src = e[e["code"] == old]
        p = pop[pop["code"].isin(new)].pivot(index="year", columns="code", values="population")
        share = p.div(p.sum(axis=1), axis=0)  # year x new code
        for c in new:
            part = src.copy()
            part["code"] = c
            part["employment"] = part["employment"] * part["year"].map(share[c])
            parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out = out.groupby(["code", "year", "sector"], as_index=False)["employment"].sum()
    assert set(out["code"]) == codes, f"employment codes differ from the region table: {set(out['code']) ^ codes}"
    assert abs(out["employment"].sum() - b["employment"].sum()) < 1e-6 * b["employment"].sum(), "split lost jobs"
    out["employment"] = out["employment"].round(3)
    return out.sort_values(["sector", "code", "year"]).reset_index(drop=True)


def build_boundaries(shared: Path, codes: set[str]) -> dict:
    gj = json.loads((shared / "boundaries_uk_nuts2016_20M.geojson").read_text(encoding="utf-8"))
    feats = [f for f in gj["features"] if f["properties"]["NUTS_ID"] in codes]
    assert {f["properties"]["NUTS_ID"] for f in feats} == codes, "boundary file lacks some GB regions"
    for f in feats:
        f["properties"] = {k: f["properties"][k] for k in ("NUTS_ID", "NUTS_NAME")}
    return {"type": "FeatureCollection", "crs": gj.get("crs"), "features": feats}


def build(shared: Path) -> None:
    codes = set(pd.read_csv(shared / "regions_gb_nuts2016.csv")["code"])
    build_gva(shared, codes).to_csv(OUT / "observed_gva.csv", index=False)
    build_employment(shared, codes).to_csv(OUT / "observed_employment.csv", index=False)
    gj = build_boundaries(shared, codes)
    (OUT / "boundaries_gb_nuts2016_20M.geojson").write_text(json.dumps(gj, separators=(",", ":")), encoding="utf-8")


if __name__ == "__main__":
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    build(shared)
    print(f"wrote observed_gva.csv, observed_employment.csv, boundaries_gb_nuts2016_20M.geojson to {OUT}")
