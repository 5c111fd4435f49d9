"""Mechanism 3: plant exit (closure).

The yearly hazard falls with relative productivity (selection), age (liability of newness) and size,
rises with regional cost, and is higher for foreign plants, more so when parent groups retrench in a
recession (footloose FDI). References: Jovanovic (1982) on selection and age; Dunne, Roberts and
Samuelson (1989) on size and age; Görg and Strobl (2003) on footloose multinationals.
"""

from __future__ import annotations

import numpy as np

_LOG_MIN_REL = float(np.log(1e-6))
_MAX_AGE = 500
_LOG_AGE = np.log((1.0 + np.arange(_MAX_AGE + 1)) / 11.0)  # ln((1 + age) / 11) for whole-year ages


def _log_age(age: np.ndarray) -> np.ndarray:
    a = np.asarray(age)
    if a.dtype.kind in "iu":
        return _LOG_AGE[np.clip(a, 0, _MAX_AGE)]
    return np.log((1.0 + a) / 11.0)


def exit_hazard(rel_prod: np.ndarray, age: np.ndarray, large: np.ndarray, foreign: np.ndarray,
                cost_r: np.ndarray, sector: np.ndarray, n_sectors: int, *, rate: float, productivity: float,
                age_elasticity: float, large_factor: float, cost_effect: float, foreign_factor: float,
                retrenchment: float, recession_depth: float,
                foreign_exit_mult: np.ndarray | float = 1.0, log_rel: np.ndarray | None = None) -> np.ndarray:
    """Yearly exit hazard ``rate x sel_i / mean_s(sel) x L^large exp(e cost) F^foreign``.

    ``sel = rel^-b ((1+age)/11)^-c`` is the selection term (productivity and age), normalised to a
    mean of one within each sector so that ``rate`` stays the average hazard however dispersed
    productivity becomes; ``F = foreign_factor (1 + retrenchment x recession depth) x policy``.
    ``log_rel`` (= ln rel_prod), when given, replaces ``rel_prod`` and saves a logarithm."""
    lr = np.log(np.maximum(rel_prod, 1e-6)) if log_rel is None else np.maximum(log_rel, _LOG_MIN_REL)
    sel = np.exp(-productivity * lr - age_elasticity * _log_age(age))
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
