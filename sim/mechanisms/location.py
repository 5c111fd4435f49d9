"""Location choice: a conditional logit over regions, shared by entry and relocation.

Utility of region r for a plant of sector s::

    P(r | s) ~ pop_r exp(U_rs)
    U_rs = b_agg ln((1 + n_rs) / (1 + e_rs)) + b_sci w_s z(science_r)
           + b_skl (1 - w_s) z(skills_r) + b_acc access_r - b_cost cost_r + b_pol incentive_r

with z() standardised across regions, access standardised when computed, cost a weighted sum of
standardised terms (plus policy changes), n_rs the sector's
plants in the region and e_rs = n_s pop_r / sum(pop) the count the region would have if the sector were
spread like population. ``pop_r`` is the size term of a conditional logit over areas of unequal size
(more sites in bigger regions); ``U`` is the quality of a site, which relocation compares. So b_agg = 1 reproduces the sector's current spatial distribution in
expectation, b_agg > 1 concentrates it and b_agg < 1 disperses it towards population. In identical
regions with every other weight at zero, choice probabilities are proportional to (1 + n_rs)^b_agg:
Arthur's (1989, 1994) increasing-returns urn, which locks in to a single region for b_agg > 1. Reference: McFadden (1974);
Arthur (1994) "Increasing returns and path dependence in the economy".
"""

from __future__ import annotations

import numpy as np


def standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def utility(sti_w: np.ndarray, science: np.ndarray, skills: np.ndarray, counts: np.ndarray,
            access: np.ndarray, cost: np.ndarray, incentive: np.ndarray, population: np.ndarray, *, b_science: float,
            b_skills: float, b_agglomeration: float, b_access: float, b_cost: float,
            b_policy: float) -> np.ndarray:
    """Location utility, an (R x S) array. ``science`` and ``skills`` are standardised here; ``access``
    and ``cost`` come standardised already (plus policy changes); ``counts`` are live plants (R x S)."""
    pop_share = population / population.sum()
    expected = counts.sum(axis=0, keepdims=True) * pop_share[:, None]
    u = (b_science * standardise(science)[:, None] * sti_w[None, :]
         + b_skills * standardise(skills)[:, None] * (1.0 - sti_w)[None, :]
         + b_agglomeration * (np.log1p(counts) - np.log1p(expected))
         + (b_access * access - b_cost * cost + b_policy * incentive)[:, None])
    return u


def choice_probabilities(u: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Logit probabilities over regions with the size term, ``P(r|s) ~ pop_r exp(U_rs)`` (columns sum to 1)."""
    u = u + np.log(population / population.sum())[:, None]
    e = np.exp(u - u.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def sample_regions(prob: np.ndarray, sector: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One region per chooser, drawn from its sector's column of ``prob`` by inverse CDF with uniforms
    ``u``."""
    if sector.size == 0:
        return np.empty(0, dtype=np.int64)
    cum = np.cumsum(prob, axis=0)  # R x S
    cum[-1, :] = 1.0
    return (cum[:, sector] < u[None, :]).sum(axis=0).astype(np.int64)
