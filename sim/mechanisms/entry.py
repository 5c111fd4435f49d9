"""Mechanism 6: entry of new plants.

(a) Domestic start-ups, located by the location logit, and spinoffs, born mostly where their parents
are and inheriting part of the parent's productivity and capability; more productive parents spawn
more spinoffs (Klepper 2007 on Detroit; Boschma and Wenting 2007 on the British car industry).
(b) Foreign greenfield and brownfield entries, whose national inflow follows a path (weak in the 1970s,
strong from the mid-1980s) and whose region is chosen by the conditional logit of
:mod:`sim.mechanisms.location`.
"""

from __future__ import annotations

import numpy as np


def fdi_level(year: int | np.ndarray, early_level: float) -> np.ndarray:
    """National foreign-inflow level: ``early_level`` until 1979, rising linearly to 1 in 1985, then 1.
    (Assumed shape: the source study's "strong from the 1980s".)"""
    y = np.asarray(year, dtype=float)
    return np.clip(early_level + (1.0 - early_level) * (y - 1979.0) / 6.0, early_level, 1.0)


def demand_growth_factor(growth: np.ndarray, elasticity: float) -> np.ndarray:
    """Entry responds to sector demand growth: ``max(0.1, 1 + elasticity x growth)``."""
    return np.maximum(0.1, 1.0 + elasticity * growth)


def startup_counts(rate: float, market_size: np.ndarray, growth_factor: np.ndarray,
                   prob: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Domestic (non-spinoff) start-ups per region and sector, Poisson with mean
    ``rate x M_s x growth_factor_s x P(r | s)`` (an R x S array of counts), where the market size
    ``M_s`` is the sector's start-year plant count times its demand index: entry opportunities scale
    with the market, not with the number of incumbents, which keeps the plant population bounded."""
    lam = rate * market_size[None, :] * growth_factor[None, :] * prob
    return rng.poisson(lam)


def spinoff_parents(rate: float, rel_prod: np.ndarray, growth_factor_plant: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Row of the parent of every spinoff born this year (sorted; a parent appears once per spinoff).
    Spinoffs per parent are Poisson with mean ``rate x min(rel_prod, 5) x growth_factor`` (Klepper:
    better parents have more and better spinoffs).

    Drawn as one Poisson total shared among parents in proportion to their means (independent
    Poisson counts are exactly a Poisson total split multinomially), which costs one uniform per
    spinoff instead of one Poisson draw per plant."""
    lam = rate * np.minimum(rel_prod, 5.0) * growth_factor_plant
    if lam.size == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(lam)
    total = rng.poisson(cum[-1])
    u = np.sort(rng.random(total)) * cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), lam.size - 1)


def spinoff_counts(rate: float, rel_prod: np.ndarray, growth_factor_plant: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Spinoffs per parent plant (the counts of :func:`spinoff_parents`)."""
    return np.bincount(spinoff_parents(rate, rel_prod, growth_factor_plant, rng), minlength=rel_prod.size)


def foreign_counts(inflow: float, demand: np.ndarray, prob: np.ndarray, entry_mult: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Foreign entries per region and sector, Poisson with mean
    ``inflow x (D_s / sum D) x P(r | s) x policy multiplier_r`` (R x S)."""
    share = demand / demand.sum()
    lam = inflow * share[None, :] * prob * entry_mult[:, None]
    return rng.poisson(lam)


def inherit(parent_value: np.ndarray, sector_value: np.ndarray, heritage: float) -> np.ndarray:
    """Spinoff inheritance: ``heritage`` of the parent's value plus the rest of the entrant default."""
    return heritage * parent_value + (1.0 - heritage) * sector_value


def cells_to_rows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand an (R x S) count array into region and sector arrays, one entry per new plant."""
    flat = counts.ravel()
    cells = np.repeat(np.arange(flat.size), flat)
    return cells // counts.shape[1], cells % counts.shape[1]
