"""Mechanism 2: STI and DUI innovation.

STI (science, technology, innovation) success depends on the sector's STI weight, the regional science
base and the plant's absorptive capacity: SMEs absorb codified research poorly, and foreign plants draw
much of their STI input from their group's global network, so they depend less on the region.
DUI (doing, using, interacting) success depends on the sector's DUI weight (1 - STI weight), the
regional skills base and local same- and related-sector density (learning by interacting).
Combining both modes gives an extra gain. References: Jensen, Johnson, Lorenz and Lundvall (2007)
on STI/DUI modes; Cohen and Levinthal (1990) on absorptive capacity.
"""

from __future__ import annotations

import numpy as np


def local_density(region: np.ndarray, sector: np.ndarray, n_regions: int, n_sectors: int,
                  related_weight: float) -> np.ndarray:
    """Same-sector plants plus ``related_weight`` x other-AM plants in each region, relative to the
    sector's mean over regions (R x S; 1 = an average region)."""
    n = np.bincount(region * n_sectors + sector, minlength=n_regions * n_sectors).reshape(n_regions, n_sectors)
    dens = n + related_weight * (n.sum(axis=1, keepdims=True) - n)
    return dens / np.maximum(dens.mean(axis=0, keepdims=True), 1e-12)


def sti_hazard(sti_w: np.ndarray, science_r: np.ndarray, foreign: np.ndarray, sme: np.ndarray,
               sti_cap: np.ndarray, rate: float, sme_absorption: np.ndarray | float,
               network_share: float, rd_mult: np.ndarray | float = 1.0) -> np.ndarray:
    """Yearly STI success probability per plant: ``1 - exp(-rate w_s S_eff A R)`` where ``S_eff`` mixes
    the regional science base with the group network (foreign plants), ``A`` is absorptive capacity
    (SME factor x (0.5 + capability)) and ``R`` an R&D subsidy multiplier."""
    s_eff = np.where(foreign, network_share * 1.0 + (1.0 - network_share) * science_r, science_r)
    absorb = np.where(sme, np.minimum(sme_absorption, 1.0), 1.0) * (0.5 + sti_cap)
    return 1.0 - np.exp(-rate * sti_w * np.maximum(s_eff, 0.0) * absorb * rd_mult)


def dui_hazard(sti_w: np.ndarray, skills_r: np.ndarray, density: np.ndarray, dui_cap: np.ndarray,
               rate: float, interaction: float) -> np.ndarray:
    """Yearly DUI success probability: ``1 - exp(-rate (1 - w_s) K_r ((1 + d)/2)^interaction (0.5 + cap))``
    with ``K_r`` the skills base and ``d`` the local density relative to an average region."""
    g = ((1.0 + density) / 2.0) ** interaction
    return 1.0 - np.exp(-rate * (1.0 - sti_w) * np.maximum(skills_r, 0.0) * g * (0.5 + dui_cap))


def innovation_gain(sti_ok: np.ndarray, dui_ok: np.ndarray, sti_gain: float, dui_gain: float,
                    combination_gain: float) -> np.ndarray:
    """Productivity multiplier from this year's successes; both modes together earn ``combination_gain``
    on top (STI and DUI are complements: Jensen et al. 2007)."""
    return 1.0 + sti_gain * sti_ok + dui_gain * dui_ok + combination_gain * (sti_ok & dui_ok)


def update_capability(cap: np.ndarray, success: np.ndarray, learning: float) -> np.ndarray:
    """Capability follows success: ``cap += learning (success - cap)``, staying in [0, 1]."""
    return cap + learning * (success.astype(np.float64) - cap)


def diffusion(prod: np.ndarray, weight: np.ndarray, sector: np.ndarray, n_sectors: int, rate: float) -> np.ndarray:
    """Knowledge diffusion (imitation): each plant below the sector's output-weighted mean log
    productivity closes a share ``rate`` of its gap (leaders are unaffected), which keeps the productivity distribution from spreading
    without bound. Reference: Nelson and Winter (1982), imitation in evolutionary growth models."""
    return np.exp(diffusion_log(np.log(prod), weight, sector, n_sectors, rate))


def diffusion_log(lp: np.ndarray, weight: np.ndarray, sector: np.ndarray, n_sectors: int, rate: float) -> np.ndarray:
    """:func:`diffusion` on log productivity: ``lp + rate x max(mean_s lp - lp, 0)``."""
    wsum = np.bincount(sector, weights=weight, minlength=n_sectors)
    mean = np.bincount(sector, weights=weight * lp, minlength=n_sectors) / np.maximum(wsum, 1e-300)
    return lp + rate * np.maximum(mean[sector] - lp, 0.0)


def log_gain_table(sti_gain: float, dui_gain: float, combination_gain: float) -> np.ndarray:
    """``ln`` of :func:`innovation_gain` for (no success, STI only, DUI only, both), indexed by
    ``sti_ok + 2 dui_ok``: the model adds it to log productivity."""
    ok_sti, ok_dui = np.array([False, True, False, True]), np.array([False, False, True, True])
    return np.log(innovation_gain(ok_sti, ok_dui, sti_gain, dui_gain, combination_gain))


def foreign_technology_transfer(lp: np.ndarray, foreign: np.ndarray, growth: float) -> np.ndarray:
    """Foreign-owned plants draw on their group's technology every year: log productivity rises by
    ``growth`` over GB-owned plants, so that, through replicator competition, foreign-owned plants
    (including acquired ones) gain market share from GB-owned incumbents. References: Criscuolo and
    Martin (2009) on the productivity advantage of multinational-owned plants in Great Britain;
    Griffith, Redding and Simpson (2004) on foreign ownership and productivity growth."""
    if growth == 0:
        return lp
    return lp + growth * foreign
