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
    out = np.empty((len(years), len(SECTOR_CODES)))
    for j, code in enumerate(SECTOR_CODES):
        p = paths[paths["sector"] == code].sort_values("year")
        idx = np.exp(np.interp(years, p["year"].to_numpy(), np.log(p["index"].to_numpy())))
        depth = np.zeros(len(years))
        for _, row in recessions.iterrows():
            if row["sector"] in ("all", code):
                depth[years == row["year"]] += row["depth"]
        out[:, j] = base_output[j] * idx * np.clip(1.0 - severity * depth, 0.05, None)
    return out


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


def allocate_output(weight: np.ndarray, sector: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """Plants share their sector's demand in proportion to their weights: ``q_i = D_s w_i / W_s``."""
    wsum = np.bincount(sector, weights=weight, minlength=demand.size)
    return demand[sector] * weight / np.maximum(wsum[sector], 1e-300)


def relative_productivity(prod: np.ndarray, weight: np.ndarray, sector: np.ndarray, n_sectors: int) -> np.ndarray:
    """Productivity relative to the sector's output-weighted geometric mean."""
    return np.exp(log_relative_productivity(np.log(prod), weight, sector, n_sectors))


def log_relative_productivity(lp: np.ndarray, weight: np.ndarray, sector: np.ndarray, n_sectors: int) -> np.ndarray:
    """``ln A - mean_s ln A``: log productivity relative to the sector's output-weighted mean (the
    logarithm of :func:`relative_productivity`, from log productivity ``lp``)."""
    wsum = np.bincount(sector, weights=weight, minlength=n_sectors)
    mean = np.bincount(sector, weights=weight * lp, minlength=n_sectors) / np.maximum(wsum, 1e-300)
    return lp - mean[sector]
