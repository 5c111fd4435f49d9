"""Calibration targets (``calibration/targets.toml``) and the distance between simulation and data.

The distance is a weighted sum of squared, tolerance-scaled misses, one term per target::

    value: w ((s - o) / tol)^2       min: w (max(0, o - s) / tol)^2      max: w (max(0, s - o) / tol)^2

plus, for ``sign = true`` targets, a full miss (``w``) when the sign is wrong. A missing statistic
(NaN) costs ``w x 25`` (five tolerances). :func:`distance_table` reports every target's contribution.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sim.params import describe_validation_error

TARGETS_FILE = Path(__file__).with_name("targets.toml")
MISSING_COST = 25.0


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    group: Literal["T1", "T2", "T3", "T4", "T5"]
    statistic: str
    kind: Literal["value", "min", "max"]
    observed: float
    tolerance: float = Field(gt=0)
    weight: float = Field(ge=0)
    source: str
    sign: bool = False

    @field_validator("observed", "tolerance", "weight")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    def term(self, s: float) -> float:
        if s is None or not math.isfinite(s):
            return self.weight * MISSING_COST
        if self.kind == "value":
            miss = (s - self.observed) / self.tolerance
        elif self.kind == "min":
            miss = max(0.0, self.observed - s) / self.tolerance
        else:
            miss = max(0.0, s - self.observed) / self.tolerance
        d = self.weight * miss * miss
        if self.sign and self.observed != 0 and s * self.observed <= 0:
            d += self.weight
        return d

    def passes(self, s: float) -> bool:
        if s is None or not math.isfinite(s):
            return False
        if self.kind == "value":
            ok = abs(s - self.observed) <= self.tolerance
        elif self.kind == "min":
            ok = s >= self.observed
        else:
            ok = s <= self.observed
        if self.sign and self.observed != 0:
            ok = ok and s * self.observed > 0
        return ok


class TargetsError(ValueError):
    pass


def load_targets(path: str | Path = TARGETS_FILE) -> list[Target]:
    """The targets of a ``targets.toml``: a list of ``[[target]]`` tables, each validated (known statistic
    of :func:`sim.sweep.statistic_names`, finite observed value, tolerance above 0, weight at least 0),
    at least one, no statistic or name twice. Any problem is refused, naming the target and the field."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise TargetsError(f"{p}: {e}") from None
    unknown = sorted(set(data) - {"target"})
    if unknown:
        raise TargetsError(f"{p}: unknown table(s) or key(s) {unknown}; a targets file holds [[target]] tables only")
    rows = data.get("target", [])
    if not isinstance(rows, list) or not rows:
        raise TargetsError(f"{p}: no targets; give at least one [[target]] table (fields: "
                           f"{', '.join(Target.model_fields)})")
    from sim.sweep import statistic_names

    known = statistic_names()
    out = []
    for i, t in enumerate(rows):
        label = f"target {t.get('name', '?')!r} (number {i + 1})" if isinstance(t, dict) else f"target number {i + 1}"
        try:
            out.append(Target.model_validate(t))
        except ValidationError as e:
            raise TargetsError(f"{p}: {label}: {describe_validation_error(e, model=Target)}") from None
        if out[-1].statistic not in known:
            raise TargetsError(f"{p}: {label}: statistic: unknown statistic {out[-1].statistic!r}; allowed: "
                               f"{', '.join(known)}")
    for field in ("statistic", "name"):
        seen: dict[str, str] = {}
        for t in out:
            v = getattr(t, field)
            if v in seen:
                raise TargetsError(f"{p}: {field} {v!r} is targeted twice (targets {seen[v]!r} and {t.name!r}); "
                                   "each may appear once")
            seen[v] = t.name
    return out


def distance(stats: dict[str, float], targets: list[Target]) -> float:
    return float(sum(t.term(stats.get(t.statistic, math.nan)) for t in targets))


def distance_table(stats: dict[str, float], targets: list[Target]) -> pd.DataFrame:
    """One row per target: simulated value, observed, tolerance, pass, contribution to the distance."""
    rows = []
    for t in targets:
        s = stats.get(t.statistic, math.nan)
        rows.append({"name": t.name, "group": t.group, "statistic": t.statistic, "kind": t.kind,
                     "observed": t.observed, "tolerance": t.tolerance, "simulated": s,
                     "pass": t.passes(s), "contribution": t.term(s)})
    return pd.DataFrame(rows)
