"""Mechanism 5: relocation.

A plant that fits its region badly may move: each year a share of plants considers a move, draws a
candidate region from the location logit of its sector, and moves when the utility gain beats the
moving cost; the gain compares site quality (the utility without the region-size term). In the plant accounts a move is a closure at the origin and an opening at the
destination, linked through ``relocated_from``. Reference: Brouwer, Mariotti and van Ommeren (2004)
on firm relocation decisions.
"""

from __future__ import annotations

import numpy as np


def choose_moves(region: np.ndarray, sector: np.ndarray, u_rs: np.ndarray, candidate: np.ndarray,
                 consider: np.ndarray, moving_cost: float) -> np.ndarray:
    """Boolean mask of plants that move to their ``candidate`` region this year."""
    gain = u_rs[candidate, sector] - u_rs[region, sector]
    return consider & (candidate != region) & (gain > moving_cost)
