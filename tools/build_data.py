"""Build the project's own data tables in ``sim/data/`` from the public reference data.

Run by a developer when the reference data change (``python tools/build_data.py [SHARED_DATA_DIR]``);
the simulator never reads the reference folder at run time. Sources and licences are listed in
``sim/data/README.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "sim" / "data"

# Traditional industrial regions (TIRs): 1971 manufacturing + mining employment above 33.8%.
# The source names 11 areas; "South Western Scotland" is West Central Scotland (UKM8) plus most of
# Southern Scotland (UKM9) in NUTS 2016, which gives the 12 regions below.
TIR_CODES = [
    "UKC1", "UKD3", "UKD4", "UKE3", "UKE4", "UKF1",
    "UKF2", "UKG2", "UKG3", "UKL1", "UKM8", "UKM9",
]
# Population-based regions whose 1981-1997 figures are wrong in the reference copy.
LATE_POPULATION = {"UKM6", "UKM8", "UKM9"}
URBAN_BREAKS = (186.0, 846.0)  # persons per km2: rural < 186 <= moderately urban <= 846 < urban

# NUTS-2 -> Rosés-Wolf area (NUTS-1 or pairs of NUTS-1).
ROSES_WOLF_AREA = {"UKH": "UKH+UKJ", "UKJ": "UKH+UKJ", "UKC": "UKC+UKD", "UKD": "UKC+UKD"}


def build(shared: Path) -> None:
    regions = pd.read_csv(shared / "regions_gb_nuts2016.csv")
    pop = pd.read_csv(shared / "population_gb_nuts2016_1981_2016.csv")
    gerd = pd.read_csv(shared / "gerd_pc_gdp_gb_nuts2016_2013_2016.csv")
    gva = pd.read_csv(shared / "ons_gva_am_itl2_1998_2016.csv")
    rw = pd.read_csv(shared / "roseswolf_gb_nuts1_1970_2015.csv")

    # --- population: long table with a reliability flag
    pop = pop[["code", "year", "population"]].copy()
    pop["reliable"] = ~(pop["code"].isin(LATE_POPULATION) & (pop["year"] < 1998))
    pop.to_csv(OUT / "population.csv", index=False)

    # base-year population for density: 1981, or 1998 where 1981 is unreliable
    base = pop[pop["year"] == 1981].set_index("code")["population"]
    late = pop[pop["year"] == 1998].set_index("code")["population"]
    base_year = pd.Series(1981, index=base.index)
    for c in LATE_POPULATION:
        base[c] = late[c]
        base_year[c] = 1998

    # --- GERD: mean of 2013-2016, dropping the implausible UKE1 2013 value
    gerd = gerd[~((gerd["code"] == "UKE1") & (gerd["year"] == 2013))]
    gerd_mean = gerd.groupby("code")["gerd_pc_gdp"].mean()

    # --- total GVA (all industries) by year: the reference for relative concentration
    tot = gva[gva["industry_code"] == "Total"][["code", "year", "gva_gbp_m_current"]]
    tot = tot.rename(columns={"gva_gbp_m_current": "gva_total_gbp_m"})
    tot.to_csv(OUT / "gva_total.csv", index=False)
    manu = gva[gva["industry_code"] == "C (10-33)"].set_index(["code", "year"])["gva_gbp_m_current"]

    # --- Rosés-Wolf 1970 industry share of the NUTS-1 area
    rw70 = rw[(rw["year"] == 1970) & (rw["variable"] == "share_industry")].set_index("area_code")["value"]

    r = regions.rename(columns={"area_km2": "area_km2"}).copy()
    r["population_base"] = r["code"].map(base)
    r["population_base_year"] = r["code"].map(base_year)
    r["density_base"] = r["population_base"] / r["area_km2"]
    r["urban_class"] = np.select(
        [r["density_base"] < URBAN_BREAKS[0], r["density_base"] <= URBAN_BREAKS[1]],
        ["rural", "moderately_urban"],
        "urban",
    )
    r["tir"] = r["code"].isin(TIR_CODES)
    r["gerd_pc_gdp"] = r["code"].map(gerd_mean).round(4)
    r["gva_total_1998"] = [tot[(tot.code == c) & (tot.year == 1998)]["gva_total_gbp_m"].iloc[0] for c in r.code]
    r["manuf_share_1998"] = [
        manu[(c, 1998)] / r.loc[r.code == c, "gva_total_1998"].iloc[0] for c in r.code
    ]
    r["manuf_share_1998"] = r["manuf_share_1998"].round(4)
    r["industry_share_1970_nuts1"] = r["nuts1"].map(lambda n: rw70[ROSES_WOLF_AREA.get(n, n)])
    cols = [
        "code", "name", "country", "nuts1", "area_km2", "centroid_lat", "centroid_lon",
        "population_base", "population_base_year", "density_base", "urban_class", "tir",
        "gerd_pc_gdp", "gva_total_1998", "manuf_share_1998", "industry_share_1970_nuts1",
    ]
    r["density_base"] = r["density_base"].round(2)
    r[cols].to_csv(OUT / "regions.csv", index=False)
    print(f"wrote {len(r)} regions; TIRs: {int(r.tir.sum())}; urban classes: "
          f"{r.urban_class.value_counts().to_dict()}")


if __name__ == "__main__":
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    build(shared)
