"""The 1973 starting state: regions and plants.

The 1973 plant population is only partly known, so it is built from data plus assumptions with free
parameters (documented in docs/ODD.md, "Initialisation"):

- data: region population (1981, or 1998 for UKM6/8/9), the 1970 industry share of the NUTS-1 area
  (Rosés-Wolf), regional manufacturing GVA in 1998 (ONS; the earliest public NUTS-2 figure, as a proxy
  for the long-run industrial base), each sector's ONS industry group GVA by region in 1998 (the
  earliest public NUTS-2 figure by industry, as a proxy for the sector's long-run location), the TIR
  set, GERD 2013-16 as the pattern of the science base;
- assumptions: sector shares of plants and output, historic cluster locations and weights
  (``sim/data/clusters.csv``), the TIR boost, plant size and productivity dispersion, foreign shares.

``initial_state = "uniform"`` instead gives identical regions (same population, area, distances,
GERD) and identical plants, ``n_s // 40`` (at least one) per region and sector, so the total can fall
slightly short of ``n_plants_start`` (path-dependence experiments: Arthur's urn).
"""

from __future__ import annotations

import functools

import numpy as np

from sim.datasets import SECTOR_CODES, load_clusters, load_regions, load_sectors, region_index
from sim.params import Params


def legacy_location_weights(p: Params) -> np.ndarray:
    """(R x S) probabilities of a 1973 plant of sector s being in region r:
    ``base_rs x tir_boost^TIR x (1 + strength x cluster weight_rs)``, normalised, where ``base_rs``
    blends three patterns: the region's share of GB population x 1970 NUTS-1 industry share, its share
    of GB manufacturing GVA in 1998 (the earliest public NUTS-2 manufacturing figure; together weight
    ``1 - w``, mixed by ``m = legacy_manufacturing_1998``), and its share of GB GVA of the sector's ONS
    industry group in 1998 (weight ``w = legacy_sector_1998``; :func:`sector_pattern_1998`)."""
    reg = load_regions()
    a = (reg["population_base"] * reg["industry_share_1970_nuts1"]).to_numpy(float)
    b = (reg["gva_total_1998"] * reg["manuf_share_1998"]).to_numpy(float)
    m = p.legacy_manufacturing_1998
    general = (1.0 - m) * a / a.sum() + m * b / b.sum()
    w = p.legacy_sector_1998
    base = (1.0 - w) * general[:, None] + w * sector_pattern_1998()
    base = base * np.where(reg["tir"].to_numpy(), p.legacy_tir_boost, 1.0)[:, None]
    cl = np.zeros((len(reg), len(SECTOR_CODES)))
    ridx = region_index()
    sidx = {c: i for i, c in enumerate(SECTOR_CODES)}
    for row in load_clusters().itertuples():
        cl[ridx[row.region], sidx[row.sector]] += row.weight
    w = base * (1.0 + p.legacy_cluster_strength * cl)
    return w / w.sum(axis=0, keepdims=True)


@functools.cache
def sector_pattern_1998() -> np.ndarray:
    """(R x S): each region's share of Great Britain's 1998 GVA in the ONS industry group of each sector
    (``ons_group`` of ``sectors.csv``; ONS regional GVA by industry, ``sim/data/observed_gva.csv``).
    Sectors that share a group (chemicals and pharmaceuticals; aerospace and other transport) share
    the pattern; the historic clusters tell them apart."""
    from sim.observed import load_observed_gva

    g = load_observed_gva()
    g = g[g["year"] == 1998].pivot(index="code", columns="industry_code", values="gva_gbp_m")
    groups = load_sectors()["ons_group"].astype(str).to_numpy()
    x = g.reindex(index=list(load_regions()["code"]))[groups].to_numpy(float)
    x = x / x.sum(axis=0, keepdims=True)
    x.flags.writeable = False  # cached: shared by every model in the process
    return x


def initial_plants(p: Params, demand0: np.ndarray, rng: np.random.Generator, n_regions: int) -> dict:
    """Columns of the plants open in the start year (see :mod:`sim.plants`)."""
    sec = load_sectors()
    S = len(SECTOR_CODES)
    n_s = np.floor(p.n_plants_start * sec["plant_share_1973"].to_numpy()).astype(np.int64)
    n_s[-1] += p.n_plants_start - n_s.sum()
    if p.initial_state == "uniform":
        per = np.maximum(n_s // n_regions, 1)
        counts = np.repeat(per[None, :], n_regions, axis=0)
    else:
        prob = legacy_location_weights(p)
        counts = np.stack([rng.multinomial(n_s[j], prob[:, j]) for j in range(S)], axis=1)
    flat = counts.ravel()
    cells = np.repeat(np.arange(flat.size), flat)
    region, sector = cells // S, cells % S
    n = region.size
    if p.initial_state == "uniform":
        return dict(region=region, sector=sector, foreign=np.zeros(n, bool), weight=np.ones(n),
                    prod=np.ones(n), sti_cap=np.full(n, 0.3), dui_cap=np.full(n, 0.3),
                    birth_year=np.full(n, 1963))
    foreign = rng.random(n) < sec["foreign_plant_share_1973"].to_numpy()[sector]
    z_size = rng.standard_normal(n)
    weight = np.exp(p.plant_size_sigma * z_size) * np.where(foreign, p.foreign_size_premium, 1.0)
    # productivity: log-normal, mildly correlated with size (larger plants are more productive)
    lp = p.productivity_sigma * (0.4 * z_size + np.sqrt(1 - 0.16) * rng.standard_normal(n))
    age = np.minimum(rng.exponential(20.0, n) * (1.0 + 0.5 * (z_size > 1.0)), 100.0)
    return dict(region=region, sector=sector, foreign=foreign, weight=weight, prod=np.exp(lp),
                sti_cap=rng.uniform(0.1, 0.6, n), dui_cap=rng.uniform(0.1, 0.6, n),
                birth_year=(1973 - np.round(age)).astype(np.int64))
