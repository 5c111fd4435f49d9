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


def sti_intensity(sti_w, science_r, foreign, sme, rate: float, sme_absorption, network_share: float,
                  rd_mult=1.0) -> np.ndarray:
    """STI success intensity per unit of absorptive capability, ``rate w_s S_eff F_sme R`` (element-wise,
    broadcastable: the model evaluates it once per foreign x SME x region x sector cell).

    ``S_eff`` mixes the regional science base with the group network for foreign plants
    (``network_share + (1 - network_share) x science``); ``F_sme`` is the SMEs' absorptive capacity
    relative to large plants (1 for large plants); ``R`` an R&D subsidy multiplier."""
    s_eff = np.where(foreign, network_share + (1.0 - network_share) * science_r, science_r)
    absorb = np.where(sme, np.minimum(sme_absorption, 1.0), 1.0)
    return rate * sti_w * np.maximum(s_eff, 0.0) * absorb * rd_mult


def sti_intensity_by_plant(sti_w: np.ndarray, science: np.ndarray, foreign: np.ndarray, sme: np.ndarray,
                           region: np.ndarray, sector: np.ndarray, rate: float, sme_absorption: np.ndarray,
                           network_share: float, rd_mult: np.ndarray) -> np.ndarray:
    """:func:`sti_intensity` of every plant, evaluated once per foreign x SME x region x sector cell and
    gathered: ``sti_w`` is per sector, ``science`` and ``sme_absorption`` per region, ``rd_mult``
    region x sector."""
    R, S = science.size, sti_w.size
    f, m = np.array([False, True])[:, None, None, None], np.array([False, True])[None, :, None, None]
    cells = sti_intensity(sti_w[None, None, None, :], science[None, None, :, None], f, m, rate,
                          np.asarray(sme_absorption, float)[None, None, :, None], network_share,
                          np.asarray(rd_mult, float)[None, None, :, :]).ravel()
    return cells[(2 * foreign + sme.astype(np.intp)) * (R * S) + region * S + sector]


def dui_intensity(sti_w, skills_r, density, rate: float, interaction: float) -> np.ndarray:
    """DUI success intensity per unit of capability, ``rate (1 - w_s) K_r ((1 + d) / 2)^interaction``
    (element-wise; the model evaluates it once per region x sector cell), with ``K_r`` the skills base
    and ``d`` the local density relative to an average region."""
    g = ((1.0 + density) / 2.0) ** interaction
    return rate * (1.0 - sti_w) * np.maximum(skills_r, 0.0) * g


def success_probability(intensity: np.ndarray, capability: np.ndarray) -> np.ndarray:
    """``1 - exp(-intensity (0.5 + capability))``: a success of a Poisson process over one year."""
    return -np.expm1(-intensity * (0.5 + capability))


def draw_successes(intensity: np.ndarray, capability: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Which plants succeed this year, from uniforms ``u``: ``u > exp(-intensity (0.5 + capability))``,
    which has the probability :func:`success_probability` (``1 - u`` is uniform too) and costs one
    exponential per plant."""
    return u > np.exp(-intensity * (0.5 + capability))


def innovation_gain(sti_ok: np.ndarray, dui_ok: np.ndarray, sti_gain: float, dui_gain: float,
                    combination_gain: float) -> np.ndarray:
    """Productivity multiplier from this year's successes; both modes together earn ``combination_gain``
    on top (STI and DUI are complements: Jensen et al. 2007)."""
    return 1.0 + sti_gain * sti_ok + dui_gain * dui_ok + combination_gain * (sti_ok & dui_ok)


def update_capability(cap: np.ndarray, success: np.ndarray, learning: float) -> np.ndarray:
    """Capability follows success: ``cap += learning (success - cap)``, staying in [0, 1]."""
    return cap + learning * (success.astype(np.float64) - cap)


def diffusion_log(lp: np.ndarray, weight: np.ndarray, sector: np.ndarray, n_sectors: int, rate: float,
                  wsum: np.ndarray | None = None, foreign: np.ndarray | None = None,
                  foreign_reference: float = 1.0) -> np.ndarray:
    """Knowledge diffusion (imitation) on log productivity: each plant below its sector's
    output-weighted mean closes a share ``rate`` of its gap, ``lp + rate x max(mean_s lp - lp, 0)``;
    leaders are unaffected, which keeps the productivity distribution from spreading without bound.
    ``foreign_reference`` is the weight of foreign-owned plants (``foreign``) in that mean: 1 counts
    every plant by its output; 0 makes the mean that of GB-owned plants, so that what foreign plants
    draw from their groups abroad does not spill over to GB plants by imitation alone (the parent's
    technology is firm-specific: Markusen 1995; on average no intra-industry spillover from
    foreign-owned to domestic UK firms: Girma, Greenaway and Wakelin 2001). ``wsum``, the sector totals of ``weight``, may
    be passed when already known (used only when ``foreign_reference`` is 1). A sector without reference
    plants (all foreign-owned, with ``foreign_reference`` 0) has no mean, and its plants imitate nothing.
    Reference: Nelson and
    Winter (1982), imitation in evolutionary growth models."""
    if foreign is not None and foreign_reference != 1.0:
        weight = weight * np.where(foreign, foreign_reference, 1.0)
        wsum = None
    if wsum is None:
        wsum = np.bincount(sector, weights=weight, minlength=n_sectors)
    mean = np.bincount(sector, weights=weight * lp, minlength=n_sectors) / np.maximum(wsum, 1e-300)
    mean = np.where(wsum > 0, mean, -np.inf)  # a sector with no reference plants: nothing to imitate
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
