"""Global sensitivity sweeps (SALib Sobol and Morris): resumable, on a local process pool or a Dask cluster.

A sweep is described by a *problem file* (TOML, validated; format in ``docs/sweeps.md``): the parameters
to vary (each a :class:`~sim.params.Params` field, bounds inside its documented range, optional group),
the scenario, fixed parameter overrides, and the outputs (named summary statistics of
:func:`calibration.summary.per_seed_statistics`, or metrics of :func:`sim.report.run_metrics` selected
by metric, level, industry and year or year range).

Pipeline (:func:`run_sweep`):

1. SALib ``ProblemSpec.sample_sobol`` (Sobol' sequence, Saltelli's scheme) or ``sample_morris`` draws the
   sample points; ``DIR/samples.parquet``, ``DIR/problem.toml`` (+ ``scenario.toml``) and
   ``DIR/sweep.json`` are written before anything runs.
2. Each sample point runs the same ``K`` seeds (common random numbers) through the one seam
   :func:`sim.runner.simulate`, in the pure function :func:`evaluate_point`. The (point, seed) runs are
   cut into batches, executed serially, on a local ``forkserver`` process pool or on a
   ``dask.distributed`` cluster, and every completed batch is written as one Parquet part file
   (``DIR/parts/part-*.parquet``, written under a temporary name then ``os.replace``-d). A sweep killed
   at any moment loses only the batches in flight; ``resume=True`` runs only the missing pairs.
3. When every run is done, the runs are sorted by (point, seed), averaged over seeds and analysed
   with SALib ``analyze_sobol`` / ``analyze_morris``; the result therefore does not depend on the
   number of workers, the executor or the order in which runs completed. Outputs: ``indices.csv``,
   ``seed_noise.csv`` (how much of each output's variance is seed noise), ``results.parquet`` (every
   run), ``figures/`` and, for outputs that are calibration targets, ``targets.csv`` and
   ``targets_joint.csv`` (the share of points that reproduce each target, alone and in pairs).

The evaluation function is pluggable (``evaluate=``): anything with the signature of
:func:`evaluate_point`, e.g. :func:`ishigami_point` to check the machinery against SALib.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import os
import re
import time
import tomllib
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator

from sim.datasets import SECTOR_CODES
from sim.files import atomic_write
from sim.params import Params, describe_validation_error, ranges
from sim.scenario import Scenario, ScenarioError, load_scenario

METHODS = ("sobol", "morris")
LEVELS = ("sector", "ons_group", "all")
FORMAT = "amgeo-sweep/1"
RESERVED_COLUMNS = ("point", "seed", "error", "elapsed_s")
MAX_DEFAULT_BATCH = 8  # runs per batch at most by default: a batch's results are held in memory together

#: metrics of :func:`sim.report.run_metrics` (see its docstring and docs/metrics.md)
STANDARD_METRICS = ("theil_gva", "theil_area", "theil_population", "locational_gini", "hhi", "share_tir",
                    "share_nontir", "share_rural", "share_moderately_urban", "share_urban", "share_top5pct",
                    "lq_mean_tir", "lq_mean_nontir")
FIVE_YEAR_METRICS = ("theil_gva_5y", "theil_area_5y", "theil_population_5y")
PLANT_METRICS_PREFIXES = ("eg_gamma", "decomp_")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RD_RE = re.compile(r"^rd_growth_corr_(\d{4})_(\d{4})$")


class SweepError(ValueError):
    """A problem file, sweep folder or sweep request is invalid (the message names the field)."""


class SweepRunError(SweepError):
    """The sweep started but cannot go on (e.g. every run of the first batch failed)."""


# --------------------------------------------------------------------------------------------------
# The problem
# --------------------------------------------------------------------------------------------------


class ParameterSpec(BaseModel):
    """One varied parameter: a numeric Params field and bounds inside its documented range."""

    model_config = ConfigDict(extra="forbid")

    name: str
    bounds: tuple[float, float]
    group: str | None = Field(None, min_length=1)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        rng = ranges()
        if v not in rng:
            raise ValueError(f"unknown or non-numeric parameter {v!r}; allowed: {', '.join(rng)}")
        return v

    @field_validator("bounds")
    @classmethod
    def _inside(cls, v: tuple[float, float], info) -> tuple[float, float]:
        lo, hi = float(v[0]), float(v[1])
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise ValueError(f"expected [low, high] with low < high, got [{lo:g}, {hi:g}]")
        name = info.data.get("name")
        if name is not None:
            dlo, dhi = ranges()[name]
            if not (dlo <= lo and hi <= dhi):
                raise ValueError(f"[{lo:g}, {hi:g}] must lie inside the documented range [{dlo:g}, {dhi:g}] "
                                 f"of {name}")
        return lo, hi


class OutputSpec(BaseModel):
    """One output: either a named ``statistic`` or a ``metric`` selected by level, industry and year.

    ``year`` is one year or ``[from, to]`` (the metric averaged over the simulated years in the range;
    for ``*_5y`` metrics, over the 5-year periods starting in the range). Defaults: ``level`` from the
    industry (``AM`` or none: ``all``), ``industry`` ``AM`` at level ``all``, ``year`` the scenario's
    end year; ``name`` the statistic, or ``metric_level_industry_year``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    statistic: str | None = None
    metric: str | None = None
    level: Literal[LEVELS] | None = None  # type: ignore[valid-type]
    industry: str | None = None
    year: StrictInt | tuple[StrictInt, StrictInt] | None = None

    @property
    def year_range(self) -> tuple[int, int]:
        y = self.year
        return (int(y), int(y)) if isinstance(y, int) else (int(y[0]), int(y[1]))

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.model_dump().items() if v is not None}
        if isinstance(d.get("year"), tuple):
            d["year"] = list(d["year"])
        return d


class SweepProblem(BaseModel):
    """A validated sensitivity problem (see ``docs/sweeps.md`` for the file format).

    Parameter precedence in every run: the scenario's ``[params]``, then ``fixed``, then the sampled
    values of ``parameters``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = "sweep"
    description: str = ""
    scenario: Scenario = Field(default_factory=Scenario)
    scenario_file: str = Field("", description="where the scenario came from (informative)")
    sample_seed: int = Field(20240501, ge=1, description="seed of the SALib sampler and of the bootstrap "
                             "confidence intervals (>= 1: SALib ignores a seed of 0)")
    first_seed: int = Field(0, ge=0, description="model seeds are first_seed .. first_seed + K - 1")
    second_order: bool = Field(False, description="Sobol: also second-order indices (N(2D+2) runs, not N(D+2))")
    num_levels: int = Field(4, ge=2, le=100, description="Morris: levels of the grid (even)")
    num_resamples: int = Field(100, ge=10, le=100_000, description="bootstrap resamples of the confidence intervals")
    conf_level: float = Field(0.95, gt=0.0, lt=1.0, description="confidence level of the intervals")
    fixed: dict[str, Any] = Field(default_factory=dict)
    parameters: list[ParameterSpec]
    outputs: list[OutputSpec]

    @model_validator(mode="after")
    def _consistent(self) -> "SweepProblem":
        errors: list[str] = []
        if self.num_levels % 2:
            errors.append(f"num_levels: must be even, got {self.num_levels}")
        names = [p.name for p in self.parameters]
        if len(names) < 2:
            errors.append(f"parameters: at least 2 are needed, got {len(names)}")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            errors.append(f"parameters: {dup} listed more than once")
        if any(p.group for p in self.parameters) and len({p.group or p.name for p in self.parameters}) < 2:
            errors.append("parameters: the groups must make at least 2 distinct groups")
        both = sorted(set(names) & set(self.fixed))
        if both:
            errors.append(f"fixed: {both} are also varied parameters; a parameter is either fixed or varied")
        errors += _check_fixed(self.fixed, self.scenario)
        if not self.outputs:
            errors.append("outputs: at least one output is needed")
        for i, o in enumerate(self.outputs):
            errors += _check_output(o, f"outputs.{i}", self.scenario)
        onames = [o.name for o in self.outputs if o.name]
        dup = sorted({n for n in onames if onames.count(n) > 1})
        if dup:
            errors.append(f"outputs: names {dup} used more than once (give each output a distinct name)")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # ---- derived views
    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def output_names(self) -> list[str]:
        return [str(o.name) for o in self.outputs]

    @property
    def groups(self) -> list[str] | None:
        if not any(p.group for p in self.parameters):
            return None
        return [p.group or p.name for p in self.parameters]

    @property
    def factor_names(self) -> list[str]:
        """Names the indices are reported for: the groups (in order of appearance) or the parameters."""
        g = self.groups or self.parameter_names
        return list(dict.fromkeys(g))

    def problem_dict(self) -> dict[str, Any]:
        """The SALib problem definition."""
        d: dict[str, Any] = {"num_vars": len(self.parameters), "names": self.parameter_names,
                             "bounds": [list(p.bounds) for p in self.parameters], "outputs": self.output_names}
        if self.groups:
            d["groups"] = self.groups
        return d

    def problem_spec(self):
        """A fresh SALib ``ProblemSpec`` of this problem."""
        from SALib import ProblemSpec

        return ProblemSpec(self.problem_dict())

    def n_points(self, method: str, N: int) -> int:
        G = len(self.factor_names)
        if method == "sobol":
            return N * (2 * G + 2 if self.second_order else G + 2)
        return N * (G + 1)

    def point_scenario(self, values: dict[str, float]) -> Scenario:
        """The scenario of one sample point: scenario params < fixed < sampled values."""
        sc = self.scenario
        return sc.model_copy(update={"params": {**sc.params, **self.fixed, **values}})

    def signature(self) -> dict[str, Any]:
        """Everything that determines the samples, the runs and the analysis (not names or comments)."""
        sc = self.scenario.to_toml_dict()
        sc["scenario"] = {k: v for k, v in sc["scenario"].items() if k not in ("name", "description", "params_file")}
        d = {"scenario": sc, "fixed": self.fixed, "parameters": [p.model_dump() for p in self.parameters],
             "outputs": [o.to_dict() for o in self.outputs]}
        d |= {k: getattr(self, k) for k in ("sample_seed", "first_seed", "second_order", "num_levels",
                                            "num_resamples", "conf_level")}
        return json.loads(json.dumps(d))

    def to_toml_dict(self, scenario_file: str | None = None) -> dict[str, Any]:
        """The problem-file layout; ``scenario_file`` is written as ``[sweep] scenario``."""
        head: dict[str, Any] = {"name": self.name, "description": self.description}
        if scenario_file:
            head["scenario"] = scenario_file
        head |= {k: getattr(self, k) for k in ("sample_seed", "first_seed", "second_order", "num_levels",
                                               "num_resamples", "conf_level")}
        params = []
        for p in self.parameters:
            e: dict[str, Any] = {"name": p.name, "bounds": list(p.bounds)}
            if p.group:
                e["group"] = p.group
            params.append(e)
        return {"sweep": head, "fixed": dict(self.fixed), "parameters": params,
                "outputs": [o.to_dict() for o in self.outputs]}


def _check_fixed(fixed: dict[str, Any], scenario: Scenario) -> list[str]:
    unknown = sorted(set(fixed) - set(Params.model_fields))
    if unknown:
        return [f"fixed: unknown parameter(s) {unknown}; allowed: {', '.join(Params.model_fields)}"]
    try:
        Params.model_validate({**Params().model_dump(), **scenario.params, **fixed})
    except ValidationError as e:
        return [describe_validation_error(e, prefix="fixed")]
    return []


def _industries(level: str) -> list[str]:
    from sim import observed

    if level == "sector":
        return list(SECTOR_CODES)
    if level == "ons_group":
        return list(observed.ons_groups())
    return ["AM"]


def _metric_levels(metric: str) -> tuple[str, ...] | None:
    """Levels at which run_metrics gives ``metric`` (None: unknown metric)."""
    if metric in STANDARD_METRICS or metric in FIVE_YEAR_METRICS:
        return ("sector", "ons_group") if metric.startswith("lq_mean") else LEVELS
    if metric == "eg_gamma":
        return ("sector", "ons_group")
    from sim.metrics import DECOMP_CELLS

    cells = [f"{'tir' if rt == 'TIR' else 'nontir'}_{pl}_{ow.lower()}" for rt, pl, ow in DECOMP_CELLS]
    if metric == "decomp_total_change" or metric in {f"decomp_{k}_{c}" for k in ("pct", "change") for c in cells}:
        return ("all",)
    if _RD_RE.match(metric):
        return ("all",)
    return None


def _metric_names_help() -> str:
    return (", ".join(STANDARD_METRICS + FIVE_YEAR_METRICS) + ", eg_gamma, decomp_total_change, "
            "decomp_pct_<cell>, decomp_change_<cell> (cell: tir|nontir _ open_throughout|openings_closures "
            "_ gb|foreign), rd_growth_corr_<from>_<to>")


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", text)).strip("_")


def _check_output(o: OutputSpec, path: str, sc: Scenario) -> list[str]:
    """Validate one output against the scenario; fills in level, industry, year and name."""
    errs: list[str] = []
    if o.name is not None and not _NAME_RE.match(o.name):
        errs.append(f"{path}.name: {o.name!r} must be an identifier (letters, digits, _; not starting with a digit)")
    if o.name in RESERVED_COLUMNS:
        errs.append(f"{path}.name: {o.name!r} is reserved; choose another name")
    if (o.statistic is None) == (o.metric is None):
        return errs + [f"{path}: give exactly one of 'statistic' (a summary statistic) or 'metric' (a run metric)"]
    y0, y1 = sc.report_from, sc.end_year
    if o.statistic is not None:
        extra = [k for k in ("level", "industry", "year") if getattr(o, k) is not None]
        if extra:
            errs.append(f"{path}: {extra} apply to 'metric' outputs only (a statistic is already one number per run)")
        try:
            names = statistic_names()
        except ImportError as e:
            return errs + [f"{path}.statistic: cannot import calibration.summary ({e}); run from the repository "
                           "root or reinstall the package (pip install -e .)"]
        if o.statistic not in names:
            errs.append(f"{path}.statistic: unknown statistic {o.statistic!r}; allowed: {', '.join(names)}")
        if o.name is None:
            o.name = o.statistic
        return errs
    levels = _metric_levels(o.metric)
    if levels is None:
        return errs + [f"{path}.metric: unknown metric {o.metric!r}; allowed: {_metric_names_help()}"]
    if o.level is None:
        ind = o.industry or "AM"
        o.level = next((lv for lv in LEVELS if ind in _industries(lv)), None)
        if o.level is None:
            return errs + [f"{path}.industry: unknown industry {o.industry!r}; allowed: AM (level all), "
                           f"{', '.join(_industries('sector'))} (level sector), "
                           f"{', '.join(_industries('ons_group'))} (level ons_group)"]
    if o.level not in levels:
        return errs + [f"{path}.level: metric {o.metric} is given at level(s) {', '.join(levels)}, not {o.level!r}"]
    if o.industry is None and o.level == "all":
        o.industry = "AM"
    allowed = _industries(o.level)
    if o.industry not in allowed:
        return errs + [f"{path}.industry: {o.industry!r} is not an industry of level {o.level}; "
                       f"allowed: {', '.join(allowed)}"]
    rd = _RD_RE.match(o.metric)
    if o.year is None:
        o.year = int(rd.group(2)) if rd else y1
    a, b = o.year_range
    if a > b:
        return errs + [f"{path}.year: [from, to] must have from <= to, got [{a}, {b}]"]
    if a < y0 or b > y1:
        errs.append(f"{path}.year: {o.year} is outside the simulated years {y0}-{y1} of the scenario")
    elif o.metric in FIVE_YEAR_METRICS and not any((y - 1973) % 5 == 0 for y in range(a, b + 1)):
        errs.append(f"{path}.year: 5-year metrics are indexed by the first year of their period "
                    f"(1973, 1978, ...); {o.year} contains none")
    elif o.metric == "eg_gamma" and not (a <= y0 <= b or a <= y1 <= b):
        errs.append(f"{path}.year: eg_gamma is computed for the first and last simulated years ({y0}, {y1}) only")
    elif o.metric.startswith("decomp_") and not a <= y1 <= b:
        errs.append(f"{path}.year: the decomposition is reported at the last simulated year ({y1})")
    elif rd:
        f, t = int(rd.group(1)), int(rd.group(2))
        if not ((f, t) in {(y0, y1), (1998, 2016)} and y0 <= f < t <= y1):
            also = ", rd_growth_corr_1998_2016" if y0 <= 1998 and y1 >= 2016 else ""
            errs.append(f"{path}.metric: {o.metric} is not computed for years {y0}-{y1}; available: "
                        f"rd_growth_corr_{y0}_{y1}{also}")
        elif not a <= t <= b:
            errs.append(f"{path}.year: {o.metric} is reported at year {t}")
    if o.name is None:
        yr = f"{a}" if a == b else f"{a}_{b}"
        o.name = _slug(f"{o.metric}_{o.level}_{o.industry}_{yr}")
    return errs


@functools.lru_cache(maxsize=1)
def statistic_names() -> tuple[str, ...]:
    """Names of the statistics of :func:`calibration.summary.per_seed_statistics` for a 1973-2016 run."""
    from calibration import summary as S
    from sim.metrics import DECOMP_CELLS

    names = [f"t1_{'tir' if rt == 'TIR' else 'nontir'}_{pl}_{ow.lower()}" for rt, pl, ow in DECOMP_CELLS]
    names.append("t1_total_change_gbp_m")
    for k in S.GROUP_KEY.values():
        names += [f"t2_theil_{k}_1998", f"t2_theil_{k}_2016", f"t2_theil_change_{k}"]
    names += [f"t2_theil_{s}_2016" for s in sorted(SECTOR_CODES)]
    names += ["t2_u_shape_count", "t2_pharma_rise_rank", "t2_chemicals_above_dispersed",
              "t2_chemicals_below_concentrated", "t2_area_minus_gva_rise",
              "t3_tir_share_1998", "t3_tir_share_2016", "t3_tir_share_change_1991_2016"]
    names += [f"t3_lq_margin_{s}" for s in S.LQ_RULES]
    names += [f"t3_lq_margin_group_{s}" for s in S.LQ_RULES]
    names += ["t3_fdi_outside_tir", "t4_ratio_motor_vehicles", "t4_ratio_machinery", "t4_pharma_crash",
              "t4_aerospace_growth_2002_2016", "t4_electronics_2007_vs_2000"]
    names += [f"t5_corr_{k}_{y}" for y in (1998, 2016) for k in S.GROUP_KEY.values()]
    return tuple(names)


def _describe(e: ValidationError) -> str:
    """One clause per problem: the field path, what is wrong (and the input when it helps)."""
    rng = ranges()
    lines = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        last = err["loc"][-1] if err["loc"] else None
        if err["loc"][:1] == ("fixed",) and isinstance(last, str) and last in rng:
            msg += f" (allowed range {rng[last][0]:g} to {rng[last][1]:g})"
        if err["type"] != "value_error" and "input" in err and not isinstance(err["input"], dict):
            msg += f"; got {err['input']!r}"
        lines.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(lines)


SWEEP_KEYS = ("name", "description", "scenario", "sample_seed", "first_seed", "second_order", "num_levels",
              "num_resamples", "conf_level")


def make_problem(**fields: Any) -> SweepProblem:
    """A validated SweepProblem from keyword fields; raises SweepError naming the field."""
    try:
        return SweepProblem.model_validate(fields)
    except ValidationError as e:
        raise SweepError(_describe(e)) from None


def problem_from_dict(data: dict[str, Any], source: str = "problem", base_dir: Path | None = None) -> SweepProblem:
    """A SweepProblem from the TOML layout ([sweep], [fixed], [[parameters]], [[outputs]])."""
    if not isinstance(data, dict):
        raise SweepError(f"{source}: expected a table at the top level")
    allowed = ("sweep", "fixed", "parameters", "outputs")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise SweepError(f"{source}: unknown section(s) {unknown}; allowed: {list(allowed)}")
    head = data.get("sweep", {})
    if not isinstance(head, dict):
        raise SweepError(f"{source}: [sweep] must be a table")
    fields = dict(head)
    fields["fixed"] = data.get("fixed", {})
    fields["parameters"] = data.get("parameters", [])
    fields["outputs"] = data.get("outputs", [])
    for k in ("parameters", "outputs"):
        if not isinstance(fields[k], list):
            raise SweepError(f"{source}: {k} must be an array of tables ([[{k}]])")
    bad = sorted(set(head) - set(SWEEP_KEYS))
    if bad:
        raise SweepError(f"{source}: sweep.{bad[0]}: unknown key; allowed: {', '.join(SWEEP_KEYS)}")
    if not isinstance(fields["fixed"], dict):
        raise SweepError(f"{source}: [fixed] must be a table")
    sc_path = fields.pop("scenario", "")
    if sc_path:
        if not isinstance(sc_path, str):
            raise SweepError(f"{source}: sweep.scenario: expected a path string, got {sc_path!r}")
        p = Path(sc_path)
        if not p.is_absolute():
            p = (base_dir or Path.cwd()) / p
        try:
            fields["scenario"] = load_scenario(p)
        except ScenarioError as e:
            raise SweepError(f"{source}: sweep.scenario: {e}") from None
        fields["scenario_file"] = str(sc_path)
    try:
        return SweepProblem.model_validate(fields)
    except ValidationError as e:
        msg = _describe(e)
        msg = re.sub(r"(^|; )(name|description|sample_seed|first_seed|second_order|num_levels|num_resamples|"
                     r"conf_level)\b", r"\1sweep.\2", msg)
        raise SweepError(f"{source}: {msg}") from None


def load_problem(path: str | Path) -> SweepProblem:
    """Read and validate a problem file (paths inside it are relative to the file)."""
    p = Path(path)
    if not p.is_file():
        raise SweepError(f"{p}: no such problem file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{p}: malformed TOML: {e}") from None
    return problem_from_dict(data, source=str(p), base_dir=p.resolve().parent)


# --------------------------------------------------------------------------------------------------
# Samples and evaluation
# --------------------------------------------------------------------------------------------------


def generate_samples(problem: SweepProblem, method: str, N: int) -> np.ndarray:
    """The sample matrix (points x parameters) of SALib's ``sample_sobol`` / ``sample_morris``."""
    sp = problem.problem_spec()
    if method == "sobol":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*balance properties of Sobol.*")
            sp.sample_sobol(N, calc_second_order=problem.second_order, seed=problem.sample_seed)
    elif method == "morris":
        sp.sample_morris(N, num_levels=problem.num_levels, seed=problem.sample_seed)
    else:
        raise SweepError(f"method: {method!r} is not a method; allowed: {', '.join(METHODS)}")
    return np.asarray(sp.samples, dtype=float)


def _values(problem: SweepProblem, param_values) -> dict[str, float | int]:
    if isinstance(param_values, dict):
        raw = {n: param_values[n] for n in problem.parameter_names}
    else:
        raw = dict(zip(problem.parameter_names, param_values, strict=True))
    out: dict[str, float | int] = {}
    for n, v in raw.items():
        out[n] = int(round(float(v))) if Params.model_fields[n].annotation is int else float(v)
    return out


def evaluate_point(problem: SweepProblem, point_index: int, param_values, seed: int) -> dict[str, float]:
    """Run the model at one sample point and seed; the problem's outputs by name.

    A pure function of (problem, param_values, seed): ``point_index`` is only a label. Integer
    parameters (``n_plants_start``) are rounded.
    """
    from sim.runner import simulate

    sc = problem.point_scenario(_values(problem, param_values))
    res = simulate(sc, None, seed)
    return model_outputs(problem, res)


def model_outputs(problem: SweepProblem, res) -> dict[str, float]:
    """The problem's outputs from the Results of one seed."""
    tab = model_outputs_table(problem, res)
    return {k: float(v) for k, v in tab.iloc[0].items()}


def model_outputs_table(problem: SweepProblem, res) -> pd.DataFrame:
    """The problem's outputs for every seed label of ``res`` (rows: labels, columns: output names).

    Statistics and metrics are computed per seed, vectorised over seeds, so one call on several runs
    stacked together gives each run exactly the values it gets alone (checked in the tests) at a
    fraction of the cost. TIR outputs use the TIR set of the problem's scenario (``tir_regions``)."""
    from sim.metrics import manifest_tir_regions, tir_set

    with tir_set(manifest_tir_regions(getattr(res, "manifest", None) or {})):
        return _model_outputs_table(problem, res)


def _model_outputs_table(problem: SweepProblem, res) -> pd.DataFrame:
    from sim.report import RunMetrics

    rm = RunMetrics(res.panel)  # the panel's metrics, shared by the statistics and the metric outputs
    labels = [int(s) for s in rm.cubes["sector"].labels[0]]  # the seed labels of the panel, sorted
    out = pd.DataFrame(index=pd.Index(labels, name="seed"), columns=problem.output_names, dtype=float)
    stats = [o for o in problem.outputs if o.statistic]
    mets = [o for o in problem.outputs if o.metric]
    if stats:
        from calibration.summary import per_seed_statistics

        st = per_seed_statistics(res, rm)
        for o in stats:
            if o.statistic not in st.columns:
                raise SweepError(f"output {o.name}: statistic {o.statistic} was not computed for this run")
            out[str(o.name)] = st[o.statistic].reindex(out.index).astype(float)
    if mets:
        need_plants = any(o.metric.startswith(PLANT_METRICS_PREFIXES) for o in mets)
        # the rows of run_metrics(res.panel, plants) for these metrics, computing only these
        m = rm.table(res.plants if need_plants else None, metrics={o.metric for o in mets})
        metric, level, industry = (m[c].astype(str).to_numpy() for c in ("metric", "level", "industry"))
        year, value = m["year"].to_numpy(), m["value"].to_numpy(dtype=float)
        seed = m["seed"].to_numpy()
        for o in mets:
            a, b = o.year_range
            sel = (metric == o.metric) & (level == o.level) & (industry == o.industry) & (year >= a) & (year <= b)
            if not sel.any():
                raise SweepError(f"output {o.name}: run_metrics has no value of {o.metric} at level {o.level}, "
                                 f"industry {o.industry}, year(s) {o.year}")
            v = pd.Series(value[sel], index=seed[sel])
            out[str(o.name)] = v.groupby(level=0).mean().reindex(out.index)  # NaN-skipping mean over years
    return out


def _relabel(res, label: int):
    """The Results of one run with every table's ``seed`` column set to ``label``."""
    for name in ("panel", "events", "plants", "model_vars", "spending", "history"):
        t = getattr(res, name, None)
        if t is not None:
            t["seed"] = np.int64(label)
    return res


def evaluate_points(problem: SweepProblem, batch: Sequence["Task"]) -> list[tuple]:
    """Batched form of :func:`evaluate_point`, used by :func:`run_batch`: runs each (point, seed),
    then computes the outputs of the whole batch in one vectorised call. Rows as :func:`run_batch`;
    the outputs' cost is shared equally among the batch's runs in the timing column."""
    from sim.results import Results
    from sim.runner import simulate

    names = problem.output_names
    done, rows = [], []
    for i, (point, seed, values) in enumerate(batch):
        t0 = time.perf_counter()
        try:
            res = simulate(problem.point_scenario(_values(problem, values)), None, seed)
            done.append((i, _relabel(res, i)))
            err = ""
        except Exception as e:  # noqa: BLE001 - a failing point is recorded, not fatal
            err = f"{type(e).__name__}: {e}"
        rows.append([int(point), int(seed), [math.nan] * len(names), err, time.perf_counter() - t0])
    if done:
        t0 = time.perf_counter()
        try:
            # the first run's manifest: the scenario (and its TIR set) is the problem's for every point
            tab = model_outputs_table(problem, Results.combine([r for _, r in done], done[0][1].manifest))
            for i, _ in done:
                rows[i][2] = [float(tab.at[i, n]) for n in names]
        except Exception:  # noqa: BLE001 - fall back to one run at a time, recording each error
            for i, r in done:
                try:
                    t = model_outputs_table(problem, r)
                    rows[i][2] = [float(t.at[i, n]) for n in names]
                except Exception as e:  # noqa: BLE001
                    rows[i][3] = f"{type(e).__name__}: {e}"
        share = (time.perf_counter() - t0) / len(done)
        for i, _ in done:
            rows[i][4] += share
    return [tuple(r) for r in rows]


evaluate_point.batch = evaluate_points  # run_batch uses the batched form when an evaluator has one


def ishigami_point(problem: SweepProblem, point_index: int, param_values, seed: int, *,
                   noise: float = 0.0, delay: float = 0.0) -> dict[str, float]:
    """The Ishigami function, an evaluation function with known Sobol indices for checking the machinery.

    The first three parameters are mapped linearly from their bounds to [-pi, pi]; output ``j`` is
    ``sin x1 + a_j sin^2 x2 + 0.1 x3^4 sin x1`` with ``a_j = 7 + j``, plus ``noise`` times a standard
    normal draw seeded with ``(seed, point_index, j)`` (seed noise). ``delay`` seconds of sleep
    simulate the cost of a model run.
    """
    v = np.asarray([float(x) for x in (param_values.values() if isinstance(param_values, dict) else param_values)])
    lo = np.array([p.bounds[0] for p in problem.parameters[:3]])
    hi = np.array([p.bounds[1] for p in problem.parameters[:3]])
    x = -np.pi + 2.0 * np.pi * (v[:3] - lo) / (hi - lo)
    out = {}
    for j, name in enumerate(problem.output_names):
        y = math.sin(x[0]) + (7.0 + j) * math.sin(x[1]) ** 2 + 0.1 * x[2] ** 4 * math.sin(x[0])
        if noise:
            y += noise * float(np.random.default_rng([int(seed), int(point_index), j]).standard_normal())
        out[name] = float(y)
    if delay:
        time.sleep(delay)
    return out


Evaluate = Callable[[SweepProblem, int, Any, int], dict]
Task = tuple[int, int, tuple[float, ...]]  # (point, seed, parameter values)


def run_batch(problem: SweepProblem, evaluate: Evaluate, batch: Sequence[Task]) -> list[tuple]:
    """Evaluate a batch of (point, seed, values): rows (point, seed, [outputs], error, seconds).

    A run that raises gives NaN outputs and its error message (the sweep goes on). An evaluator with a
    ``batch`` attribute (as :func:`evaluate_point`) evaluates the whole batch at once."""
    if callable(getattr(evaluate, "batch", None)):
        return evaluate.batch(problem, batch)
    names = problem.output_names
    rows = []
    for point, seed, values in batch:
        t0 = time.perf_counter()
        try:
            res = evaluate(problem, point, values, seed)
            vals = [float(res[n]) for n in names]
            err = ""
        except Exception as e:  # noqa: BLE001 - a failing point is recorded, not fatal
            vals, err = [math.nan] * len(names), f"{type(e).__name__}: {e}"
        rows.append((int(point), int(seed), vals, err, time.perf_counter() - t0))
    return rows


def _evaluator_name(f: Callable) -> str:
    while isinstance(f, functools.partial):
        f = f.func
    return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', repr(f))}"


# --------------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------------


def _serial(problem, evaluate, batches) -> Iterator[list[tuple]]:
    for b in batches:
        yield run_batch(problem, evaluate, b)


def _local_pool(problem, evaluate, batches, workers: int) -> Iterator[list[tuple]]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ex = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("forkserver"))
    pending: set = set()
    try:
        it = iter(batches)
        for b in it:  # keep a bounded queue: at most 2 batches per worker submitted
            pending.add(ex.submit(run_batch, problem, evaluate, b))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in sorted(done, key=id):
                try:
                    rows = f.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending.add(ex.submit(run_batch, problem, evaluate, nxt))
                except BrokenProcessPool:
                    raise SweepRunError("a worker process died (killed, or out of memory?); completed batches "
                                        "are kept: continue with --resume") from None
                yield rows
    finally:
        for f in pending:
            f.cancel()
        ex.shutdown(wait=True, cancel_futures=True)


def _dask(problem, evaluate, batches, client) -> Iterator[list[tuple]]:
    from distributed import as_completed

    futures = [client.submit(run_batch, problem, evaluate, b, pure=False) for b in batches]
    try:
        for f in as_completed(futures):
            rows = f.result()
            f.release()
            yield rows
    finally:
        client.cancel([f for f in futures if not f.done()])


def _dask_client(scheduler):
    from distributed import Client

    if not isinstance(scheduler, str):
        return scheduler, False
    try:
        return Client(scheduler, timeout="30s"), True
    except (OSError, TimeoutError) as e:
        raise SweepError(f"--scheduler {scheduler}: cannot connect ({e})") from None


# --------------------------------------------------------------------------------------------------
# The sweep folder
# --------------------------------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda t: t.write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def _locked(out: Path):
    """Exclusive lock on the sweep folder (released by the OS if the process dies)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fh = open(out / ".lock", "a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SweepError(f"--out {out}: another sweep is using this folder") from None
        yield
    finally:
        fh.close()


def _samples_frame(problem: SweepProblem, X: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(X, columns=problem.parameter_names)
    df.insert(0, "point", np.arange(len(X), dtype=np.int64))
    return df


def read_runs(out: str | Path, problem: SweepProblem | None = None) -> pd.DataFrame:
    """Every completed run in ``out/parts``, sorted by (point, seed), one row per pair."""
    parts = sorted((Path(out) / "parts").glob("part-*.parquet"))
    if not parts:
        cols = {"point": pd.Series(dtype=np.int64), "seed": pd.Series(dtype=np.int64)}
        for n in (problem.output_names if problem else []):
            cols[n] = pd.Series(dtype=float)
        cols |= {"error": pd.Series(dtype=object), "elapsed_s": pd.Series(dtype=float)}
        return pd.DataFrame(cols)
    df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    df = df.sort_values(["point", "seed"], kind="mergesort").drop_duplicates(["point", "seed"], keep="first")
    return df.reset_index(drop=True)


def _rows_frame(problem: SweepProblem, rows: list[tuple]) -> pd.DataFrame:
    names = problem.output_names
    vals = np.array([r[2] for r in rows], dtype=float).reshape(len(rows), len(names))
    df = pd.DataFrame({"point": np.array([r[0] for r in rows], dtype=np.int64),
                       "seed": np.array([r[1] for r in rows], dtype=np.int64)})
    for j, n in enumerate(names):
        df[n] = vals[:, j]
    df["error"] = pd.array([r[3] for r in rows], dtype="string")
    df["elapsed_s"] = np.array([r[4] for r in rows], dtype=float)
    return df


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: complete or not, counts, and (when complete) the analysis."""

    out: Path
    method: str
    complete: bool
    n_runs: int
    n_done: int
    n_failed: int
    indices: pd.DataFrame | None = None
    seed_noise: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None  # target_passes()[0]; None when no output has a calibration target


def _check_resume(manifest: dict, method: str, N: int, seeds: list[int], problem: SweepProblem,
                  evaluator: str, out: Path) -> None:
    def differ(field: str, stored, given) -> SweepError:
        return SweepError(f"--resume: {field} differs from the sweep in {out} (stored {stored!r}, given {given!r})")

    if manifest.get("format") != FORMAT:
        raise SweepError(f"--resume: {out}/sweep.json is not a sweep manifest ({FORMAT})")
    if manifest["method"] != method:
        raise differ("--method", manifest["method"], method)
    if manifest["N"] != N:
        raise differ("-N", manifest["N"], N)
    if manifest["seeds"] != seeds:
        raise differ("--seeds", len(manifest["seeds"]), len(seeds)) if len(manifest["seeds"]) != len(seeds) \
            else differ("sweep.first_seed", manifest["seeds"][0], seeds[0])
    if manifest["evaluator"] != evaluator:
        raise differ("evaluation function", manifest["evaluator"], evaluator)
    stored, given = manifest["problem"], problem.signature()
    if stored != given:
        for k in given:
            if stored.get(k) != given[k]:
                raise differ(f"problem {k}", stored.get(k), given[k])
        raise differ("problem", stored, given)


def run_sweep(problem: SweepProblem, out: str | Path, *, method: str, N: int, seeds: int, workers: int = 1,
              scheduler=None, resume: bool = False, evaluate: Evaluate | None = None,
              batch_size: int | None = None, max_batches: int | None = None, progress: bool = False,
              figures: bool = True, source_file: str | Path | None = None,
              log: Callable[[str], None] | None = None) -> SweepResult:
    """Run (or resume) a sensitivity sweep into the folder ``out``; analyse it when every run is done.

    Args:
        problem: the validated problem (:func:`load_problem`).
        method: ``"sobol"`` (N base samples: N(D+2) points, N(2D+2) with second order; N a power of 2)
            or ``"morris"`` (N trajectories: N(D+1) points), D the number of groups or parameters.
        seeds: K, the seeds run at every point (``first_seed .. first_seed + K - 1``).
        workers: local worker processes (1: in this process). Ignored with ``scheduler``.
        scheduler: a dask.distributed scheduler address (``tcp://HOST:PORT``) or a ``Client``.
        resume: continue the sweep in ``out`` (same problem, method, N and seeds), running only the
            missing (point, seed) pairs. Without it, ``out`` must not exist or be empty.
        evaluate: the evaluation function (default :func:`evaluate_point`); picklable.
        batch_size: runs per batch (one part file each); default chosen from the runs and workers.
        max_batches: stop after writing this many part files (the sweep can be resumed).
        progress: show a progress bar with ETA (rich, on stderr).
        figures: draw the figures of the indices.
        source_file: the problem file, copied to ``out/problem.source.toml``.
        log: where to send messages (default: nowhere).
    """
    evaluate = evaluate or evaluate_point
    say = log or (lambda _m: None)
    if method not in METHODS:
        raise SweepError(f"--method: {method!r} is not a method; allowed: {', '.join(METHODS)}")
    if int(N) < 2:
        raise SweepError(f"-N: must be at least 2, got {N}")
    if int(seeds) < 1:
        raise SweepError(f"--seeds: must be at least 1, got {seeds}")
    if int(workers) < 1:
        raise SweepError(f"--workers: must be at least 1, got {workers}")
    if batch_size is not None and int(batch_size) < 1:
        raise SweepError(f"--batch-size: must be at least 1, got {batch_size}")
    N, workers = int(N), int(workers)
    seed_list = list(range(problem.first_seed, problem.first_seed + int(seeds)))
    out = Path(out)
    evaluator = _evaluator_name(evaluate)
    if resume:
        if not (out / "sweep.json").is_file():
            raise SweepError(f"--resume: {out} holds no sweep (no sweep.json)")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SweepError(f"--out {out} exists and is not empty (use --resume to continue the sweep in it)")
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        if resume:
            manifest = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
            _check_resume(manifest, method, N, seed_list, problem, evaluator, out)
            samples = pd.read_parquet(out / "samples.parquet")
            X = samples[problem.parameter_names].to_numpy(dtype=float)
            if manifest.get("code_version") != _code_version():
                say(f"warning: the sweep was started with code {manifest.get('code_version')}, "
                    f"this is {_code_version()}")
        else:
            if method == "sobol" and N & (N - 1):
                say(f"warning: -N {N} is not a power of 2; the Sobol' sequence is balanced only for powers of 2")
            X = generate_samples(problem, method, N)
            manifest = _start(out, problem, method, N, seed_list, X, evaluator, source_file)
        P, K = len(X), len(seed_list)
        parts = out / "parts"
        parts.mkdir(exist_ok=True)
        for stale in parts.glob(".*.tmp"):  # a part being written when the sweep was killed
            stale.unlink()
        done = read_runs(out, problem)
        done_mask = np.zeros((P, K), dtype=bool)
        sidx = {s: i for i, s in enumerate(seed_list)}
        ok = done["point"].between(0, P - 1) & done["seed"].isin(seed_list)
        done = done[ok]
        done_mask[done["point"].to_numpy(np.int64), np.array([sidx[s] for s in done["seed"]], dtype=np.int64)] = True
        n_ok = int((done["error"].fillna("") == "").sum())
        todo = [(int(p), seed_list[k], tuple(float(v) for v in X[p])) for p, k in zip(*np.nonzero(~done_mask))]
        n_runs, n_done = P * K, int(done_mask.sum())
        if todo:
            say(f"{method}: {P} points x {K} seed(s) = {n_runs} runs; {n_done} done, {len(todo)} to run")
            n_done, n_ok = _execute(problem, evaluate, todo, out, n_runs, n_done, n_ok, workers, scheduler,
                                    batch_size, max_batches, progress)
        if n_done < n_runs:
            return SweepResult(out, method, False, n_runs, n_done, _n_failed(out, problem))
        res = analyze_sweep(out, problem=problem, figures=figures)
        say(f"{method}: {n_runs} runs analysed; wrote {out}/indices.csv, {out}/seed_noise.csv")
        return res


def _code_version() -> str:
    from sim.runner import code_version

    return code_version()


def _start(out: Path, problem: SweepProblem, method: str, N: int, seeds: list[int], X: np.ndarray,
           evaluator: str, source_file) -> dict:
    import importlib.metadata as md

    import tomli_w

    _write_text(out / "scenario.toml", "# The scenario of this sweep (written by `sim sweep`).\n"
                + tomli_w.dumps(_scenario_for_copy(problem.scenario)))
    _write_text(out / "problem.toml", "# The problem of this sweep (written by `sim sweep`; "
                f"source: {source_file or 'Python'}).\n" + problem_to_toml(problem, "scenario.toml"))
    if source_file:
        _write_text(out / "problem.source.toml", Path(source_file).read_text(encoding="utf-8"))
    atomic_write(out / "samples.parquet", lambda t: _samples_frame(problem, X).to_parquet(t, index=False))
    manifest = {
        "format": FORMAT, "name": problem.name, "method": method, "N": N, "seeds": seeds,
        "n_points": int(len(X)), "n_runs": int(len(X) * len(seeds)), "parameters": problem.parameter_names,
        "factors": problem.factor_names, "outputs": problem.output_names, "evaluator": evaluator,
        "problem": problem.signature(), "source_file": str(source_file) if source_file else None,
        "code_version": _code_version(), "salib_version": md.version("SALib"),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
    }
    _write_text(out / "sweep.json", json.dumps(manifest, indent=2))
    return manifest


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def problem_to_toml(problem: SweepProblem, scenario_file: str | None = None) -> str:
    """The problem as a problem file (the layout of ``docs/sweeps.md``)."""
    d = problem.to_toml_dict(scenario_file)
    lines = ["[sweep]", *(f"{k} = {_toml_value(v)}" for k, v in d["sweep"].items()), "", "[fixed]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in d["fixed"].items()]
    for sec in ("parameters", "outputs"):
        for e in d[sec]:
            lines += ["", f"[[{sec}]]", *(f"{k} = {_toml_value(v)}" for k, v in e.items())]
    return "\n".join(lines) + "\n"


def _scenario_for_copy(sc: Scenario) -> dict:
    d = sc.to_toml_dict()
    d["scenario"]["params_file"] = ""  # its parameters are already merged into [params]
    return d


def _n_failed(out: Path, problem: SweepProblem) -> int:
    runs = read_runs(out, problem)
    return int((runs["error"].fillna("") != "").sum())


def _default_batch(n_todo: int, slots: int) -> int:
    return max(1, min(MAX_DEFAULT_BATCH, math.ceil(n_todo / (4 * max(1, slots)))))


def _execute(problem, evaluate, todo, out, n_runs, n_done, n_ok, workers, scheduler, batch_size, max_batches,
             progress) -> tuple[int, int]:
    client, own = (None, False)
    if scheduler is not None:
        client, own = _dask_client(scheduler)
        slots = sum(client.nthreads().values()) or 1
    else:
        slots = workers
    bs = int(batch_size) if batch_size else _default_batch(len(todo), slots)
    batches = [todo[i:i + bs] for i in range(0, len(todo), bs)]
    if max_batches is not None:
        batches = batches[:max(0, int(max_batches))]
    session = f"{dt.datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # unique per call
    parts = out / "parts"
    if client is not None:
        gen = _dask(problem, evaluate, batches, client)
    elif workers > 1 and len(batches) > 1:
        gen = _local_pool(problem, evaluate, batches, workers)
    else:
        gen = _serial(problem, evaluate, batches)
    bar = _Progress(progress, n_runs, n_done)
    try:
        with bar:
            for k, rows in enumerate(gen):
                df = _rows_frame(problem, rows)
                good = int((df["error"] == "").sum())
                if n_ok == 0 and good == 0:
                    raise SweepRunError(f"every run of the first completed batch failed; first error: {rows[0][3]}")
                atomic_write(parts / f"part-{session}-{k:06d}.parquet", lambda t: df.to_parquet(t, index=False))
                n_done += len(df)
                n_ok += good
                bar.advance(len(df))
    finally:
        gen.close()
        if own:
            client.close()
    return n_done, n_ok


class _Progress:
    """A rich progress bar (runs done, rate, elapsed, ETA) on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int, done: int):
        self.enabled, self.total, self.done = enabled, total, done
        self._p = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._p = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                               TextColumn("runs  elapsed"), TimeElapsedColumn(), TextColumn("ETA"),
                               TimeRemainingColumn(), console=Console(stderr=True), refresh_per_second=2)
            self._p.__enter__()
            self._task = self._p.add_task("runs", total=self.total, completed=self.done)
        return self

    def advance(self, n: int) -> None:
        if self._p is not None:
            self._p.advance(self._task, n)

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.__exit__(*exc)
        return False


# --------------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------------


def _as_float(a) -> np.ndarray:
    return np.asarray(np.ma.filled(np.ma.asarray(a, dtype=float), np.nan), dtype=float)


def analyze(problem: SweepProblem, method: str, X: np.ndarray, Y: np.ndarray) -> pd.DataFrame:
    """Tidy indices (output, parameter, index, value, conf) of the seed-averaged outputs ``Y`` (points x outputs).

    Sobol: ``S1``, ``ST`` (and ``S2`` with ``parameter`` "a,b" when second order), conf = the
    half-width of the bootstrap confidence interval. Morris: ``mu_star`` (conf: its interval),
    ``sigma``, ``mu`` (conf NaN). With groups, ``parameter`` is the group.
    """
    names = problem.output_names
    sp = problem.problem_spec()
    sp.set_samples(np.asarray(X, dtype=float))
    sp.set_results(Y[:, 0] if len(names) == 1 else Y)
    kw = {"num_resamples": problem.num_resamples, "conf_level": problem.conf_level, "seed": problem.sample_seed}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "sobol":
            sp.analyze_sobol(calc_second_order=problem.second_order, **kw)
        else:
            sp.analyze_morris(num_levels=problem.num_levels, **kw)
    an = sp.analysis if len(names) > 1 else {names[0]: sp.analysis}
    factors = problem.factor_names
    rows = []
    for o in names:
        Si = an[o]
        if method == "sobol":
            for idx in ("S1", "ST"):
                v, c = _as_float(Si[idx]), _as_float(Si[f"{idx}_conf"])
                rows += [(o, f, idx, v[i], c[i]) for i, f in enumerate(factors)]
            if problem.second_order:
                v, c = _as_float(Si["S2"]), _as_float(Si["S2_conf"])
                rows += [(o, f"{factors[i]},{factors[j]}", "S2", v[i, j], c[i, j])
                         for i in range(len(factors)) for j in range(i + 1, len(factors))]
        else:
            mus, conf = _as_float(Si["mu_star"]), _as_float(Si["mu_star_conf"])
            sig, mu = _as_float(Si["sigma"]), _as_float(Si["mu"])
            fn = list(Si["names"])
            rows += [(o, f, "mu_star", mus[i], conf[i]) for i, f in enumerate(fn)]
            rows += [(o, f, "sigma", sig[i], math.nan) for i, f in enumerate(fn)]
            rows += [(o, f, "mu", mu[i], math.nan) for i, f in enumerate(fn)]
    return pd.DataFrame(rows, columns=["output", "parameter", "index", "value", "conf"])


def seed_noise(problem: SweepProblem, Y: np.ndarray) -> pd.DataFrame:
    """How much of each output's variance is seed noise. ``Y``: points x seeds x outputs.

    One-way variance components over the sample points (seeds nested in points):

    - ``within_var``: the mean over points of the variance across seeds (ddof 1): the seed-noise variance;
    - ``between_var``: the variance of the seed means over points (ddof 1), i.e. of what is analysed;
    - ``signal_var`` = max(between - within / K, 0): the variance over the parameter space of the
      expected output (the part the parameters explain);
    - ``total_var`` = within + signal: the variance of a single run;
    - ``noise_share`` = within / total: the share of a single run's variance that is seed noise;
    - ``noise_share_of_mean`` = (within / K) / (within / K + signal): the share of the variance of the
      analysed K-seed means that is seed noise (small is good; it falls as 1/K).

    ``sample_var`` is the plain variance over all runs; ``n_failed`` counts runs without a value.
    With one seed the noise cannot be separated: the noise columns are NaN.
    """
    P, K, O = Y.shape
    rows = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for j, o in enumerate(problem.output_names):
            y = Y[:, :, j]
            flat = y.ravel()
            finite = np.isfinite(flat)
            means = y.mean(axis=1)
            between = float(np.nanvar(means, ddof=1)) if np.isfinite(means).sum() > 1 else math.nan
            within = float(np.nanmean(np.nanvar(y, axis=1, ddof=1))) if K > 1 else math.nan
            signal = max(between - within / K, 0.0) if K > 1 and between == between else math.nan
            total = within + signal
            rows.append({
                "output": o, "n_points": P, "n_seeds": K, "n_failed": int((~finite).sum()),
                "mean": float(np.nanmean(flat)) if finite.any() else math.nan,
                "sample_var": float(np.nanvar(flat, ddof=1)) if finite.sum() > 1 else math.nan,
                "within_var": within, "between_var": between, "signal_var": signal, "total_var": total,
                "noise_share": within / total if total > 0 else math.nan,
                "noise_share_of_mean": (within / K) / (within / K + signal) if total > 0 else math.nan,
            })
    return pd.DataFrame(rows)


def _targets_of(problem: SweepProblem, targets=None) -> dict[str, Any]:
    """Output name -> its calibration target (``calibration/targets.toml``), for the outputs that are a
    targeted summary statistic."""
    if targets is None:
        try:
            from calibration.targets import load_targets
        except ImportError:  # the package installed without the calibration folder: nothing to filter on
            return {}
        targets = load_targets()
    by_stat = {t.statistic: t for t in targets}
    return {o.name: by_stat[o.statistic] for o in problem.outputs if o.statistic in by_stat}


def target_passes(problem: SweepProblem, Y: np.ndarray, targets=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which sample points reproduce each calibration target, alone and together: the filtering step of
    pattern-oriented modelling (Grimm et al. 2005, Science 310; Wiegand et al. 2003, Oikos 100).

    ``Y``: points x seeds x outputs. A point passes a target when the mean of the output over its seeds
    (the value the indices analyse) passes it (:meth:`calibration.targets.Target.passes`; a point with a
    failed run, whose mean is NaN, does not). Only outputs that are a statistic with a target in
    ``targets`` (default: ``calibration/targets.toml``) are counted.

    Returns ``(table, joint)``. ``table``: one row per targeted output (``output, target, kind,
    observed, tolerance, n_points, n_pass, share_pass, min, median, max``; the last three over the
    points' means), then a row ``output = "all"`` counting the points that pass every one of them.
    ``joint``: one row per pair of targeted outputs, in problem order (``output_a, output_b, n_pass_both,
    share_pass_both``). Both are empty when no output has a target.
    """
    tg = _targets_of(problem, targets)
    names = [n for n in problem.output_names if n in tg]
    if not names:
        return pd.DataFrame(), pd.DataFrame()
    P = Y.shape[0]
    col = {n: j for j, n in enumerate(problem.output_names)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = {n: Y[:, :, col[n]].mean(axis=1) for n in names}  # NaN if a seed failed
    ok = {n: np.array([tg[n].passes(float(v)) for v in means[n]], dtype=bool) for n in names}
    rows = []
    for n in names:
        t = tg[n]
        rows.append({"output": n, "target": t.name, "kind": t.kind, "observed": t.observed,
                     "tolerance": t.tolerance, "n_points": P, "n_pass": int(ok[n].sum()),
                     "share_pass": ok[n].mean(),
                     **pd.Series(means[n]).agg(["min", "median", "max"]).to_dict()})  # NaN skipped
    every = np.logical_and.reduce([ok[n] for n in names])
    rows.append({"output": "all", "target": f"all {len(names)} targets above", "n_points": P,
                 "n_pass": int(every.sum()), "share_pass": every.mean()})
    joint = [{"output_a": a, "output_b": b, "n_pass_both": int((ok[a] & ok[b]).sum()),
              "share_pass_both": (ok[a] & ok[b]).mean()}
             for i, a in enumerate(names) for b in names[i + 1:]]
    return pd.DataFrame(rows), pd.DataFrame(joint, columns=["output_a", "output_b", "n_pass_both",
                                                            "share_pass_both"])


def analyze_sweep(out: str | Path, *, problem: SweepProblem | None = None, figures: bool = True) -> SweepResult:
    """Analyse a complete sweep folder: writes indices.csv, seed_noise.csv, results.parquet, figures/ and,
    when some outputs have calibration targets, targets.csv and targets_joint.csv (:func:`target_passes`)."""
    out = Path(out)
    manifest = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    if problem is None:
        problem = load_problem(out / "problem.toml")
    method, seeds = manifest["method"], list(manifest["seeds"])
    samples = pd.read_parquet(out / "samples.parquet")
    X = samples[problem.parameter_names].to_numpy(dtype=float)
    P, K, names = len(X), len(seeds), problem.output_names
    runs = read_runs(out, problem)
    runs = runs[runs["point"].between(0, P - 1) & runs["seed"].isin(seeds)].reset_index(drop=True)
    if len(runs) < P * K:
        raise SweepError(f"{out}: {P * K - len(runs)} of {P * K} runs are missing (resume the sweep first)")
    sidx = {s: i for i, s in enumerate(seeds)}
    Y = np.full((P, K, len(names)), np.nan)
    seed_pos = np.array([sidx[s] for s in runs["seed"]], dtype=np.int64)
    Y[runs["point"].to_numpy(np.int64), seed_pos, :] = runs[names].to_numpy(dtype=float)
    indices = analyze(problem, method, X, Y.mean(axis=1))
    noise = seed_noise(problem, Y)
    atomic_write(out / "indices.csv", lambda t: indices.to_csv(t, index=False))
    atomic_write(out / "seed_noise.csv", lambda t: noise.to_csv(t, index=False))
    full = runs.merge(samples, on="point", how="left")
    full = full[["point", "seed", *problem.parameter_names, *names, "error", "elapsed_s"]]
    atomic_write(out / "results.parquet", lambda t: full.to_parquet(t, index=False))
    table, joint = target_passes(problem, Y)
    if len(table):
        atomic_write(out / "targets.csv", lambda t: table.to_csv(t, index=False))
        atomic_write(out / "targets_joint.csv", lambda t: joint.to_csv(t, index=False))
    if figures:
        write_figures(indices, method, out / "figures")
    n_failed = int((runs["error"].fillna("") != "").sum())
    return SweepResult(out, method, True, P * K, len(runs), n_failed, indices, noise,
                       table if len(table) else None)


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


MORRIS_LABELS = 8  # parameters named in a mu*-sigma plot (those with the largest mu*)


def _label_points(ax, names: list[str], x: np.ndarray, y: np.ndarray) -> None:
    """Name points beside them, moving a label up where it would overlap one already placed (greedy,
    in axes units; labels about 0.035 high and 0.011 wide per character)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    placed: list[tuple[float, float, float]] = []
    for i in np.argsort(y):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            continue
        ax_x = (x[i] - x0) / (x1 - x0) + 0.012
        ax_y = (y[i] - y0) / (y1 - y0)
        width = 0.011 * len(names[i])
        for px, py, pw in sorted(placed, key=lambda t: t[1]):
            if abs(ax_y - py) < 0.035 and ax_x < px + pw and px < ax_x + width:
                ax_y = py + 0.035
        placed.append((ax_x, ax_y, width))
        ax.annotate(names[i], (x[i], y[i]), xytext=(ax_x, ax_y), textcoords="axes fraction", fontsize=7,
                    va="center", bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75},
                    arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.5}
                    if abs(ax_y - (y[i] - y0) / (y1 - y0)) > 0.02 else None)


def write_figures(indices: pd.DataFrame, method: str, fig_dir: str | Path) -> list[Path]:
    """Per output: bars of the indices with confidence intervals; for Morris also the mu*-sigma plane."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for o, d in indices.groupby("output", sort=False):
        fig = Figure(figsize=(7, 4.2))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if method == "sobol":
            kinds = [("S1", "first order S1", "#1f77b4"), ("ST", "total order ST", "#ff7f0e")]
            params = list(d.loc[d["index"] == "S1", "parameter"])
            x = np.arange(len(params))
            for k, (idx, label, color) in enumerate(kinds):
                s = d[d["index"] == idx].set_index("parameter").loc[params]
                ax.bar(x + (k - 0.5) * 0.38, s["value"], 0.38, yerr=s["conf"], capsize=3, color=color, label=label)
            ax.set_ylabel("Sobol index\n(error bars: bootstrap confidence interval)")
            ax.axhline(0, color="black", lw=0.6)
            ax.legend(frameon=False)
        else:
            s = d[d["index"] == "mu_star"]
            params = list(s["parameter"])
            x = np.arange(len(params))
            ax.bar(x, s["value"], 0.6, yerr=s["conf"], capsize=3, color="#1f77b4")
            ax.set_ylabel("Morris mu*\n(mean |elementary effect|)")
        ax.set_xticks(x, params, rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{o}: {'Sobol indices' if method == 'sobol' else 'Morris screening'}")
        fig.tight_layout()
        p = fig_dir / f"indices_{o}.png"
        fig.savefig(p, dpi=110)
        paths.append(p)
        if method == "morris":
            fig = Figure(figsize=(5.5, 4.5))
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            ms = d[d["index"] == "mu_star"].set_index("parameter")
            sg = d[d["index"] == "sigma"].set_index("parameter").loc[ms.index]
            order = ms["value"].fillna(-np.inf).to_numpy().argsort()[::-1]
            named = np.zeros(len(ms), bool)
            named[order[:MORRIS_LABELS]] = True
            ax.errorbar(ms["value"][named], sg["value"][named], xerr=ms["conf"][named], fmt="o", color="#1f77b4",
                        capsize=3, label=f"the {named.sum()} largest mu*")
            if (~named).any():
                ax.plot(ms["value"][~named], sg["value"][~named], "o", color="#bbbbbb", ms=4,
                        label=f"the other {(~named).sum()} (indices.csv)")
            top = np.nanmax(np.r_[ms["value"].to_numpy(), sg["value"].to_numpy(), 1e-12])
            ax.plot([0, top], [0, top], ls="--", color="grey", lw=0.8, label="sigma = mu*")
            ax.set_xlim(0, max(top * 1.35, np.nanmax(np.r_[(ms["value"] + ms["conf"]).to_numpy(), 0]) * 1.03))
            ax.set_ylim(0, top * 1.08)
            _label_points(ax, list(ms.index[named]), ms["value"][named].to_numpy(), sg["value"][named].to_numpy())
            ax.set_xlabel("mu* (overall influence)")
            ax.set_ylabel("sigma (non-linearity / interactions)")
            ax.set_title(f"{o}: Morris mu*-sigma")
            ax.legend(frameon=False, fontsize=8)
            fig.tight_layout()
            p = fig_dir / f"morris_{o}.png"
            fig.savefig(p, dpi=110)
            paths.append(p)
    return paths
