"""Mechanism 3: plant exit (closure).

The yearly hazard falls with relative productivity (selection), age (liability of newness) and size,
rises with regional cost, and is higher for foreign plants, more so when parent groups retrench in a
recession (footloose FDI). References: Jovanovic (1982) on selection and age; Dunne, Roberts and
Samuelson (1989) on size and age; Görg and Strobl (2003) on footloose multinationals.
"""

from __future__ import annotations

import numpy as np


def exit_hazard(rel_prod: np.ndarray, age: np.ndarray, large: np.ndarray, foreign: np.ndarray,
                cost_r: np.ndarray, sector: np.ndarray, n_sectors: int, *, rate: float, productivity: float,
                age_elasticity: float, large_factor: float, cost_effect: float, foreign_factor: float,
                retrenchment: float, recession_depth: float,
                foreign_exit_mult: np.ndarray | float = 1.0) -> np.ndarray:
    """Yearly exit hazard ``rate x sel_i / mean_s(sel) x L^large exp(e cost) F^foreign``.

    ``sel = rel^-b ((1+age)/11)^-c`` is the selection term (productivity and age), normalised to a
    mean of one within each sector so that ``rate`` stays the average hazard however dispersed
    productivity becomes; ``F = foreign_factor (1 + retrenchment x recession depth) x policy``."""
    sel = np.power(np.maximum(rel_prod, 1e-6), -productivity) * np.power((1.0 + age) / 11.0, -age_elasticity)
    n = np.bincount(sector, minlength=n_sectors)
    mean = np.bincount(sector, weights=sel, minlength=n_sectors) / np.maximum(n, 1)
    h = rate * sel / np.maximum(mean[sector], 1e-12)
    h *= np.where(large, large_factor, 1.0)
    h *= np.exp(cost_effect * cost_r)
    f = foreign_factor * (1.0 + retrenchment * recession_depth) * foreign_exit_mult
    return h * np.where(foreign, f, 1.0)


def draw_exits(hazard: np.ndarray, output: np.ndarray, min_output: np.ndarray | float, u: np.ndarray) -> np.ndarray:
    """Plants that close this year: by the hazard (``1 - exp(-h)``), or because output fell below the
    minimum viable scale."""
    return (u < 1.0 - np.exp(-hazard)) | (output < min_output)
