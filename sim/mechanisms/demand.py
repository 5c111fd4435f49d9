"""Mechanism 1: national sector demand and replicator competition between plants."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.datasets import SECTOR_CODES


def demand_table(paths: pd.DataFrame, recessions: pd.DataFrame, years: np.ndarray, base_output: np.ndarray,
                 severity: float) -> np.ndarray:
    """National real output demanded of each sector, a (years x sectors) array in GBP m.

    Trend: log-linear interpolation between the anchor points of ``demand_paths.csv`` (1973 = 1),
    held flat beyond the last anchor. Recessions (1980-82, 1990-92, 2008-10) cut demand below trend
    by ``severity x depth`` in the listed years (sector rows add to the all-sector depth).
    Reference: the national paths of TARGETS.md T4 (assumed shapes, not data).
    """
    index, depth = _demand_paths(paths, recessions, years)
    return base_output[None, :] * index * np.clip(1.0 - severity * depth, 0.05, None)


def _demand_paths(paths: pd.DataFrame, recessions: pd.DataFrame, years: np.ndarray):
    """(demand index, recession depth), each years x sectors: the parameter-free part of
    :func:`demand_table`, kept for the last tables and years seen (the data tables are loaded once)."""
    key = (id(paths), id(recessions), tuple(np.asarray(years).tolist()))
    hit = _PATHS_CACHE.get(key)
    if hit is not None and hit[0] is paths and hit[1] is recessions:
        return hit[2], hit[3]
    S = len(SECTOR_CODES)
    depth = np.zeros((len(years), S))
    col = {c: j for j, c in enumerate(SECTOR_CODES)}
    for sec, yr, d in zip(recessions["sector"], recessions["year"], recessions["depth"]):
        if sec == "all":
            depth[years == yr, :] += d
        elif sec in col:
            depth[years == yr, col[sec]] += d
    index = np.empty((len(years), S))
    for j, code in enumerate(SECTOR_CODES):
        p = paths[paths["sector"] == code].sort_values("year")
        index[:, j] = np.exp(np.interp(years, p["year"].to_numpy(), np.log(p["index"].to_numpy())))
    index.flags.writeable = False
    depth.flags.writeable = False
    _PATHS_CACHE.clear()  # one entry: a process runs one scenario period at a time
    _PATHS_CACHE[key] = (paths, recessions, index, depth)
    return index, depth


_PATHS_CACHE: dict = {}


def replicator(weight: np.ndarray, prod: np.ndarray | None, sector: np.ndarray, n_sectors: int,
               strength: float, *, lp: np.ndarray | None = None) -> np.ndarray:
    """Discrete replicator dynamics: market-share weights grow with log productivity above the sector's
    output-weighted mean, ``w <- w * exp(strength * (ln A - mean_s ln A))``. ``lp`` (= ln A), when
    given, saves taking the logarithm again.

    Reference: Fisher's replicator equation as used in evolutionary economics (Metcalfe 1994).
    """
    if strength == 0 or weight.size == 0:
        return weight
    lp = np.log(prod) if lp is None else lp
    return weight * np.exp(strength * log_relative_productivity(lp, weight, sector, n_sectors))


def consolidating_reversion(reversion: float, scale_intensive: np.ndarray, year: int, consolidation: float,
                            start: float, sector: np.ndarray, birth_year: np.ndarray,
                            vintage: float) -> float | np.ndarray:
    """Size reversion of each plant when above its sector's mean size: from ``start`` on, the plants of
    the scale-intensive sectors born in or after ``vintage`` lose a share ``consolidation`` of it,
    ``reversion (1 - consolidation)``, so the largest of them keep more of their growth and production
    consolidates into fewer, larger plants, while smaller plants (entrants among them) still grow
    towards the mean; every other plant, and every plant before ``start``, keeps ``reversion`` (a
    scalar is returned when nothing changes).

    Assumed mechanism for the rising concentration of vehicle and transport-equipment output in Britain
    since the 1990s: lean production and platform sharing concentrated assembly in a few high-volume
    plants, largely new ones, while older plants closed (Womack, Jones and Roos 1990; Sturgeon and
    Florida 2004); the sectors are Pavitt's (1984) scale-intensive assembly industries
    (``sectors.csv``)."""
    if consolidation == 0 or year < start or not np.any(scale_intensive):
        return reversion
    lean = np.asarray(scale_intensive, dtype=bool)[sector] & (birth_year >= vintage)
    return np.where(lean, reversion * (1.0 - consolidation), reversion)


def localisation_growth(weight: np.ndarray, region: np.ndarray, sector: np.ndarray, n_regions: int,
                        target: int, strength: float) -> np.ndarray:
    """Plants of sector ``target`` grow with their region's share of the sector's capacity weight::

        ln w_i <- ln w_i + strength (ln s_r(i) - mean_{j in target} ln s_r(j)),   s_r = W_r,target / W_target

    (the mean over the sector's plants, unweighted), so capacity drifts towards the regions that already
    hold most of the sector and away from its outposts, while a region's plants keep their relative
    sizes; other sectors are unchanged. The input array itself is returned when ``strength`` is 0 or
    the sector has no capacity; otherwise a new one.

    Assumed mechanism for the concentration of British motor-vehicle output since the late 1990s (the
    Theil index of ONS group 29 rose from 0.54 in 1998 to 0.84 in 2016, T2): dynamic localisation
    (Marshall-Arrow-Romer) externalities in plant growth (Glaeser, Kallal, Scheinkman and Shleifer
    1992; Henderson, Kuncoro and Turner 1995), strongest in vehicle assembly, where lean production's
    just-in-time supply ties assemblers and first-tier suppliers to the same regions (Womack, Jones and
    Roos 1990; Sturgeon, Van Biesebroeck and Gereffi 2008)."""
    mine = sector == target
    if strength == 0 or not mine.any():
        return weight
    r = region[mine]
    cap = np.bincount(r, weights=weight[mine], minlength=n_regions)
    if cap.sum() <= 0:
        return weight
    log_share = np.log(np.maximum(cap / cap.sum(), 1e-12))[r]
    out = weight.copy()
    out[mine] *= np.exp(strength * (log_share - log_share.mean()))
    return out


def size_dynamics(weight: np.ndarray, sector: np.ndarray, n_sectors: int, reversion: float,
                  shock_sd: float, u: np.ndarray | None = None, *, age: np.ndarray | None = None,
                  age_effect: float = 0.0, site_cost: np.ndarray | None = None,
                  site_constraint: float = 0.0, reversion_above: float | np.ndarray | None = None) -> np.ndarray:
    """Idiosyncratic growth shocks, and growth that falls with size and age (capacity weight ``w``)::

        ln w <- ln w - reversion (ln w - mean_s ln w) - age_effect (ln(1 + age) - mean_s ln(1 + age))
                - site_constraint C_r + shock_sd sqrt(12) (u - 1/2)

    with ``mean_s`` unweighted means within the sector and ``u`` uniform (a symmetric shock with
    standard deviation ``shock_sd``; plants above their sector's mean log size revert at
    ``reversion_above`` instead, a scalar or one value per plant (:func:`consolidating_reversion`), by
    default at ``reversion``). Shocks alone give Gibrat's law (growth independent of size);
    reversion makes growth fall with size, so the size distribution settles (log-variance about
    ``shock_sd^2 / (2 reversion)``) instead of one plant's share running away; ``age_effect`` makes old
    plants lose capacity share to young ones (ageing plant and equipment); ``site_constraint`` makes
    plants on costly, crowded sites (regional cost ``C_r`` of each plant, ``site_cost``; standardised,
    mean 0 over regions) grow more slowly than plants on open sites: the constrained-location
    explanation of the urban-rural shift (Fothergill and Gudgin 1982; Fothergill, Kitson and Monk
    1985). Shares within a sector are what matter (output is the sector's demand shared by weight).
    References: Gibrat (1931); Evans (1987) and Hall (1987) on growth rates that fall with size and
    age; Sutton (1997) "Gibrat's legacy"."""
    if reversion_above is None:
        reversion_above = reversion
    has_reversion = reversion != 0 or bool(np.any(reversion_above))
    if (not has_reversion and shock_sd == 0 and age_effect == 0 and site_constraint == 0) or weight.size == 0:
        return weight
    lw = np.log(weight)
    n = np.maximum(np.bincount(sector, minlength=n_sectors), 1)
    if has_reversion:
        mean = np.bincount(sector, weights=lw, minlength=n_sectors) / n
        gap = lw - mean[sector]
        if np.ndim(reversion_above) or reversion_above != reversion:
            lw -= np.where(gap > 0, reversion_above, reversion) * gap
        else:
            lw -= reversion * gap
    if age_effect and age is not None:
        la = _LOG1P_AGE[np.clip(age, 0, _LOG1P_AGE.size - 1)]
        mean = np.bincount(sector, weights=la, minlength=n_sectors) / n
        lw -= age_effect * (la - mean[sector])
    if site_constraint and site_cost is not None:
        lw -= site_constraint * site_cost
    if shock_sd and u is not None:
        lw += (shock_sd * np.sqrt(12.0)) * (u - 0.5)
    return np.exp(lw)


_LOG1P_AGE = np.log1p(np.arange(501, dtype=float))  # ln(1 + age) for whole-year ages 0..500


def allocate_output(weight: np.ndarray, sector: np.ndarray, demand: np.ndarray,
                    wsum: np.ndarray | None = None) -> np.ndarray:
    """Plants share their sector's demand in proportion to their weights: ``q_i = D_s w_i / W_s``
    (``wsum``, the sector totals ``W_s``, may be passed when already known)."""
    if wsum is None:
        wsum = np.bincount(sector, weights=weight, minlength=demand.size)
    return (demand / np.maximum(wsum, 1e-300))[sector] * weight


def log_relative_productivity(lp: np.ndarray, weight: np.ndarray, sector: np.ndarray, n_sectors: int,
                              wsum: np.ndarray | None = None) -> np.ndarray:
    """``ln A - mean_s ln A``: log productivity relative to the sector's output-weighted mean, from log
    productivity ``lp``. ``wsum``, the sector totals of ``weight``, may be passed when already known."""
    return lp - sector_weighted_mean(lp, weight, sector, n_sectors, wsum)[sector]


def sector_weighted_mean(x: np.ndarray, weight: np.ndarray, sector: np.ndarray, n_sectors: int,
                         wsum: np.ndarray | None = None) -> np.ndarray:
    """Weighted mean of ``x`` in each sector (an array over sectors)."""
    if wsum is None:
        wsum = np.bincount(sector, weights=weight, minlength=n_sectors)
    return np.bincount(sector, weights=weight * x, minlength=n_sectors) / np.maximum(wsum, 1e-300)
