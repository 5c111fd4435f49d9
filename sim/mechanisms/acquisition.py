"""Mechanism 4: acquisition of GB-owned plants by foreign groups.

Foreign groups buy productive GB plants (brownfield FDI), more so when the foreign inflow is strong:
many plants GB-owned in 1973 were foreign-owned by 2016. Reference: the "path importation" argument
of the source study; Harris and Robinson (2002) on foreign acquisitions of productive UK plants.
"""

from __future__ import annotations

import numpy as np


def acquisition_probability(log_rel: np.ndarray, foreign: np.ndarray, *, rate: float, productivity: float,
                            inflow_level: float | np.ndarray) -> np.ndarray:
    """Yearly probability that each GB plant is acquired: ``rate x inflow x rel^b`` (0 for foreign
    plants), capped at 0.5; ``log_rel`` is ln(relative productivity)."""
    p = rate * inflow_level * np.exp(productivity * np.maximum(log_rel, np.log(1e-6)))
    return np.where(foreign, 0.0, np.minimum(p, 0.5))


def location_tilt(site_quality: np.ndarray, region: np.ndarray, sector: np.ndarray, eligible: np.ndarray,
                  strength: float, n_sectors: int) -> np.ndarray:
    """Per-plant multiplier of the acquisition probability by the quality of the plant's site:
    ``exp(strength x Q_rs)``, divided by its mean over the eligible (GB) plants of the sector so the
    sector's expected number of acquisitions is unchanged and only *where* they fall moves.

    ``site_quality`` (R x S) is the location utility without agglomeration, incentives or region size:
    the location advantages (science base, skills, access, cost) that steer greenfield FDI steer
    acquirers too (Dunning 1988, the "L" of the eclectic paradigm). ``strength`` 0 gives 1 everywhere."""
    if strength == 0.0 or region.size == 0:
        return np.ones(region.size)
    q = site_quality[region, sector] * strength
    q = np.exp(q - q.max())
    mean = (np.bincount(sector, weights=q * eligible, minlength=n_sectors)
            / np.maximum(np.bincount(sector, weights=eligible.astype(float), minlength=n_sectors), 1.0))
    return q / np.where(mean > 0, mean, 1.0)[sector]


def acquisition_gain(lp: np.ndarray, bought: np.ndarray, boost: float) -> np.ndarray:
    """Acquired plants gain ``boost`` in log productivity (a factor ``exp(boost)``): the parent group's
    technology, capital and global network (Harris and Robinson 2002 on productivity after foreign
    acquisition)."""
    return lp + boost * bought
