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


def acquisition_gain(prod: np.ndarray, bought: np.ndarray, boost: float) -> np.ndarray:
    """Acquired plants gain ``exp(boost)`` in productivity: the parent group's technology, capital and
    global network (Harris and Robinson 2002 on productivity after foreign acquisition)."""
    return np.where(bought, prod * np.exp(boost), prod)
