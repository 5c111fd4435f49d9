"""The blocks of random seeds that the calibration uses, one per purpose, so that no judgement is made on
the seeds that made an earlier choice.

A parameter set chosen as the best of several on some seeds looks better on those seeds than it is
(the winner's curse: the shipped point of 2026-12-04 had distance 28.6 on the confirmation seeds that
chose it, 30.6 on seeds 400-495 and 33.8 over 600-791). Each step therefore draws its seeds from its
own block:

=========  ===========================================================================================
0...       the search itself: ABC-SMC (``[calibration] seeds``) and CMA-ES (``[optimise] seeds``)
100...     screening of the search's best candidates (``refine_seeds``)
200...     confirmation: the best screened candidates and the current point (``confirm_seeds``)
300...     the random screen around the point (``sim calibrate --screen``, ``screen_seeds``)
400-599    ``sim calibrate --try``: a hand-set change against the point (``try_seeds``, at most 200)
600-999    verification: a challenger that ranked above the point on the confirmation seeds, and the
           point, re-run on seeds neither was chosen on (``verify_seeds``, at most 400)
1000...    ``sim calibrate --report`` (never used to choose anything)
=========  ===========================================================================================
"""

from __future__ import annotations

from pathlib import Path

SCREEN_SEED0 = 100
CONFIRM_SEED0 = 200
LOCAL_SEED0 = 300
TRY_SEED0 = 400
VERIFY_SEED0 = 600
REPORT_SEED0 = 1000


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
