"""Mechanism 7: the yearly update of regional capabilities.

- Skills base (DUI capability): follows the region's DUI-weighted AM employment per head, relative
  to the national level, at speed ``skills_adjust``; local industry feeds it and it decays without
  use (Lundvall and Johnson 1994; Martin and Sunley 2006 on regional lock-in).
- Science base (STI capability): follows a target mixing the region's R&D intensity (GERD pattern)
  with its STI-sector output per head, at speed ``science_adjust``.
- Cost: congestion rises with population density and with AM crowding (land and wage pressure), which
  drives the urban-rural shift (Fothergill and Gudgin 1982).
Policy adds to the science and skills targets, access and cost.
"""

from __future__ import annotations

import numpy as np

from sim.mechanisms.location import standardise


def follow(level: np.ndarray, target: np.ndarray, speed: float) -> np.ndarray:
    """Partial adjustment of a regional stock towards its target: ``x += speed (target - x)``."""
    return level + speed * (target - level)


def skills_target(emp_rs: np.ndarray, sti_w: np.ndarray, population: np.ndarray) -> np.ndarray:
    """DUI-weighted AM employment per head relative to Britain's, square-rooted (diminishing returns)."""
    e = (emp_rs * (1.0 - sti_w)[None, :]).sum(axis=1)
    rel = (e / population) / max(e.sum() / population.sum(), 1e-12)
    return np.sqrt(rel)


def science_target(gerd_rel: np.ndarray, out_rs: np.ndarray, sti_w: np.ndarray, population: np.ndarray,
                   legacy: float) -> np.ndarray:
    """``legacy x GERD relative to the mean + (1 - legacy) x sqrt(STI-weighted output per head, relative)``."""
    q = (out_rs * sti_w[None, :]).sum(axis=1)
    rel = (q / population) / max(q.sum() / population.sum(), 1e-12)
    return legacy * gerd_rel + (1.0 - legacy) * np.sqrt(rel)


def regional_cost(pop_density: np.ndarray, am_emp: np.ndarray, area: np.ndarray, congestion: float,
                  crowding: float) -> np.ndarray:
    """Standardised cost: ``congestion z(ln pop density) + crowding z(ln(1 + AM jobs per km2))``."""
    return congestion * standardise(np.log(pop_density)) + crowding * standardise(np.log1p(am_emp / area))


def market_access(population: np.ndarray, dist_km: np.ndarray, area: np.ndarray, decay_km: float) -> np.ndarray:
    """Gravity market access ``sum_j pop_j exp(-d_rj / decay)``, own region at its internal distance
    ``(2/3) sqrt(area / pi)``."""
    d = dist_km.copy()
    np.fill_diagonal(d, (2.0 / 3.0) * np.sqrt(area / np.pi))
    return (population[None, :] * np.exp(-d / decay_km)).sum(axis=1)
