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


def age_factor(age: np.ndarray, elasticity: float) -> np.ndarray:
    """Liability of newness, ``((1 + age) / 11)^-elasticity`` (1 at age 10), looked up for whole-year
    ages (one exponential per distinct age, not per plant)."""
    a = np.asarray(age)
    if a.dtype.kind in "iu":
        return np.exp(-elasticity * _LOG_AGE)[np.clip(a, 0, _MAX_AGE)]
    return np.exp(-elasticity * np.log((1.0 + a) / 11.0))


def exit_multiplier(large, foreign, cost_r, *, large_factor: float, cost_effect: float, foreign_factor: float,
                    retrenchment: float, recession_depth: float, foreign_exit_mult=1.0) -> np.ndarray:
    """The non-selection part of the hazard, ``L^large exp(e cost) F^foreign`` with
    ``F = foreign_factor (1 + retrenchment x recession depth) x policy`` (element-wise, broadcastable:
    the model evaluates it once per size x ownership x region cell)."""
    f = foreign_factor * (1.0 + retrenchment * recession_depth) * np.asarray(foreign_exit_mult, float)
    return np.where(large, large_factor, 1.0) * np.exp(cost_effect * np.asarray(cost_r, float)) * np.where(foreign, f, 1.0)


def exit_multiplier_by_plant(large: np.ndarray, foreign: np.ndarray, region: np.ndarray, cost: np.ndarray, *,
                             foreign_exit_mult: np.ndarray | float = 1.0, **kw) -> np.ndarray:
    """:func:`exit_multiplier` of every plant, evaluated once per size x ownership x region cell and
    gathered; ``cost`` and ``foreign_exit_mult`` are per region, ``kw`` the scalar parameters."""
    R = cost.size
    cells = exit_multiplier(np.array([False, True])[:, None, None], np.array([False, True])[None, :, None],
                            cost[None, None, :], foreign_exit_mult=np.broadcast_to(foreign_exit_mult, (R,))[None, None, :],
                            **kw).ravel()
    return cells[(2 * R) * large.astype(np.intp) + R * foreign + region]


def selection_hazard(log_rel: np.ndarray, age: np.ndarray, sector: np.ndarray, n_sectors: int, *, rate: float,
                     productivity: float, age_elasticity: float) -> np.ndarray:
    """``rate x sel_i / mean_s(sel)`` with ``sel = rel^-b ((1+age)/11)^-c`` (productivity and age),
    normalised to a mean of one within each sector so that ``rate`` stays the average hazard however
    dispersed productivity becomes. ``log_rel`` is ln(relative productivity)."""
    sel = np.exp(-productivity * np.maximum(log_rel, _LOG_MIN_REL)) * age_factor(age, age_elasticity)
    n = np.bincount(sector, minlength=n_sectors)
    mean = np.bincount(sector, weights=sel, minlength=n_sectors) / np.maximum(n, 1)
    return sel * (rate / np.maximum(mean, 1e-12))[sector]


def exit_hazard(log_rel: np.ndarray, age: np.ndarray, large: np.ndarray, foreign: np.ndarray, region: np.ndarray,
                cost: np.ndarray, sector: np.ndarray, n_sectors: int, *, rate: float, productivity: float,
                age_elasticity: float, foreign_exit_mult: np.ndarray | float = 1.0, **kw) -> np.ndarray:
    """Yearly exit hazard of each plant: :func:`selection_hazard` x :func:`exit_multiplier_by_plant`
    (``cost`` and ``foreign_exit_mult`` per region; ``kw`` the multiplier's scalar parameters)."""
    h = selection_hazard(log_rel, age, sector, n_sectors, rate=rate, productivity=productivity,
                         age_elasticity=age_elasticity)
    h *= exit_multiplier_by_plant(large, foreign, region, cost, foreign_exit_mult=foreign_exit_mult, **kw)
    return h


def draw_exits(hazard: np.ndarray, output: np.ndarray, min_output: np.ndarray | float, u: np.ndarray) -> np.ndarray:
    """Plants that close this year: by the hazard (probability ``1 - exp(-h)``: ``u > exp(-h)`` with
    ``u`` uniform), or because output fell below the minimum viable scale."""
    return (u > np.exp(-hazard)) | (output < min_output)
