"""The blocks of random seeds that the calibration uses, one per purpose, so that no judgement is made on
the seeds that made an earlier choice.

A parameter set chosen as the best of several on some seeds looks better on those seeds than it is
(the winner's curse: the point shipped at step 7 of the calibration history, docs/ODD.md section 9,
had distance 28.6 on the confirmation seeds that chose it, 30.6 on seeds 400-495 and 33.8 over
600-791). Each step therefore draws its seeds from its own block, and every setting that counts seeds
into a block is refused if it would reach the next one:

=========  ===========================================================================================
0-99       the search itself: ABC-SMC (``[calibration] seeds``) and CMA-ES (``[optimise] seeds``)
100-199    screening of the search's best candidates (``refine_seeds``)
200-299    confirmation: the best screened candidates and the current point (``confirm_seeds``)
300-399    the random screen around the point (``sim calibrate --screen``, ``screen_seeds``)
400-599    ``sim calibrate --try``: a hand-set change against the point (``try_seeds``)
600-999    free for exploratory probes by hand; no calibration step uses them (the probes of
           2026-12-04 ran on 600-791 and 800-895)
1000-1999  ``sim calibrate --report`` (at most 1,000 seeds; never used to choose anything)
2000-2999  verification: a challenger that ranked above the point on the confirmation seeds, and the
           point, re-run on seeds on which the challenger was not chosen (``verify_seeds``)
3000-3099  the pseudo-data of the parameter-recovery check (``sim calibrate --recovery``): histories
           simulated at known parameters, on seeds that the search (0-99) never runs
=========  ===========================================================================================
"""

from __future__ import annotations

from pathlib import Path

SEARCH_SEED0 = 0
SCREEN_SEED0 = 100
CONFIRM_SEED0 = 200
LOCAL_SEED0 = 300
TRY_SEED0 = 400
PROBE_SEED0 = 600
REPORT_SEED0 = 1000
VERIFY_SEED0 = 2000
VERIFY_END = 3000
RECOVERY_SEED0 = 3000


def seeds(first: int, n: int) -> list[int]:
    """``n`` consecutive seeds from ``first``."""
    return list(range(first, first + n))


def block_size(path: str | Path, name: str, value, first: int, limit: int) -> int:
    """A setting that counts seeds from ``first``: an integer from 1 up to ``limit - first``, so that the
    block stays clear of the next one (``limit``); anything else is refused, naming ``name`` and the
    allowed values."""
    most = limit - first
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ValueError(f"{path}: {name}: {value!r} must be an integer from 1 to {most} (seeds {first}... must stay "
                         f"clear of seeds {limit}...)")
    return value


def search_seeds(path: str | Path, name: str, value) -> list[int]:
    """The seeds of a search: a non-empty list of distinct integers in ``SEARCH_SEED0`` to
    ``SCREEN_SEED0 - 1`` (0-99), clear of the blocks that judge the search's candidates."""
    ok = (isinstance(value, list) and value and len(set(value)) == len(value)
          and all(isinstance(s, int) and not isinstance(s, bool) and SEARCH_SEED0 <= s < SCREEN_SEED0 for s in value))
    if not ok:
        raise ValueError(f"{path}: {name}: {value!r} must be a non-empty list of distinct integers from "
                         f"{SEARCH_SEED0} to {SCREEN_SEED0 - 1} (seeds {SCREEN_SEED0}... judge the search's candidates)")
    return list(value)
