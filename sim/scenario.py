"""Scenario files: typed, validated TOML describing one computational experiment.

A scenario gives the period (history 1973-2016, or forward from the 2016 state to a later year),
parameter overrides, and a list of policy interventions. A bad file is refused with
:class:`ScenarioError`, whose message names the field and the allowed values, before anything runs.

Example::

    [scenario]
    name = "sheffield-district"
    description = "STI-led innovation district in South Yorkshire from 2018"
    start_year = 1973
    end_year = 2040
    report_from = 2016

    [params]
    beta_agglomeration = 0.9

    [[interventions]]
    lever = "innovation_district"
    regions = ["UKE3"]
    start_year = 2018
    end_year = 2030
    intensity = 0.5
    budget_gbp_m = 300.0
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.datasets import SECTOR_CODES, region_codes
from sim.params import ParameterError, Params, describe_validation_error, make_params

FIRST_YEAR = 1973
HISTORY_END = 2016
LAST_YEAR = 2060

LEVERS = (
    "innovation_district",
    "dui_programme",
    "fdi_attraction",
    "anchor_oem",
    "foreign_investment_shock",
    "transport",
    "rd_subsidy",
)


class ScenarioError(ValueError):
    """A scenario file or object fails validation."""


class Intervention(BaseModel):
    """One policy lever, targeted at regions (NUTS-2016 codes or "ALL"), bounded in time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lever: Literal[LEVERS]  # type: ignore[valid-type]
    regions: list[str] = Field(min_length=1)
    sectors: list[str] | None = None
    start_year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR)
    end_year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR)
    intensity: float = Field(ge=0.0, le=10.0)
    budget_gbp_m: float = Field(0.0, ge=0.0, description="total spending over the active years, GBP m")
    training_centre: bool = False
    sme_networking: bool = False
    label: str = ""

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, v: list[str]) -> list[str]:
        codes = region_codes()
        if v == ["ALL"]:
            return list(codes)
        bad = [c for c in v if c not in codes]
        if bad:
            raise ValueError(f"unknown region code(s) {bad}; allowed: 'ALL' or {', '.join(codes)}")
        dup = sorted({c for c in v if v.count(c) > 1})
        if dup:
            raise ValueError(f"region code(s) {dup} listed more than once")
        return v

    @field_validator("sectors")
    @classmethod
    def _known_sectors(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        bad = [c for c in v if c not in SECTOR_CODES]
        if bad:
            raise ValueError(f"unknown sector code(s) {bad}; allowed: {', '.join(SECTOR_CODES)}")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> "Intervention":
        if self.end_year < self.start_year:
            raise ValueError(f"end_year ({self.end_year}) is before start_year ({self.start_year})")
        return self


class Scenario(BaseModel):
    """A validated scenario. ``Scenario()`` is the 1973-2016 history with default parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "baseline"
    description: str = ""
    start_year: Literal[1973] = FIRST_YEAR
    end_year: int = Field(HISTORY_END, ge=FIRST_YEAR + 1, le=LAST_YEAR)
    report_from: int = Field(FIRST_YEAR, ge=FIRST_YEAR, le=LAST_YEAR,
                             description="first year written to the outputs (2016 for forward scenarios)")
    params_file: str = Field("", description="TOML file whose [params] table is the base parameter set "
                                            "(e.g. the calibration), relative to the scenario file; the "
                                            "scenario's own [params] override it")
    tir_regions: list[str] | None = Field(None, description="the TIR set of the run's TIR metrics and reports "
                                          "(NUTS-2016 codes); default: the 12 regions flagged in the region "
                                          "table. The 1973 state keeps the historical flag.")
    params: dict[str, Any] = Field(default_factory=dict)
    interventions: list[Intervention] = Field(default_factory=list)

    @field_validator("tir_regions")
    @classmethod
    def _known_tir_regions(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            from sim.metrics import check_tir_regions

            try:
                check_tir_regions(v, field="tir_regions")  # names unknown codes and the allowed ones
            except ValueError as e:
                raise ValueError(str(e).removeprefix("tir_regions: ")) from None
        return v

    @field_validator("params")
    @classmethod
    def _valid_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        make_params(v)  # raises ParameterError (a ValueError) naming the field and its range
        return v

    @model_validator(mode="after")
    def _years(self) -> "Scenario":
        if self.report_from > self.end_year:
            raise ValueError(f"report_from ({self.report_from}) is after end_year ({self.end_year})")
        for i, iv in enumerate(self.interventions):
            if iv.start_year <= self.start_year:
                raise ValueError(f"interventions.{i}.start_year ({iv.start_year}) must be after the scenario's "
                                 f"start_year ({self.start_year}): policy acts from the first simulated year")
            if iv.end_year > self.end_year:
                raise ValueError(f"interventions.{i}.end_year ({iv.end_year}) is after the scenario's "
                                 f"end_year ({self.end_year})")
        return self

    def make_params(self, base: Params | None = None) -> Params:
        return make_params(self.params, base=base)

    def with_params(self, **overrides: Any) -> "Scenario":
        """A copy with ``overrides`` applied on top of this scenario's parameters (validated: an unknown
        name or a value out of range raises :class:`ScenarioError` naming it and what is allowed). The way
        to change a parameter of a scenario that sets it, e.g. the calibrated baseline."""
        data = self.model_dump()
        data["params"] = {**self.params, **overrides}
        return _validated(data, self.name)

    def target_regions(self) -> list[str]:
        """The regions any intervention targets (union, in first-mention order; empty without policy)."""
        return list(dict.fromkeys(c for iv in self.interventions for c in iv.regions))

    def total_budget_gbp_m(self) -> float:
        """Sum of the interventions' budgets, GBP m."""
        return float(sum(iv.budget_gbp_m for iv in self.interventions))

    def to_toml_dict(self) -> dict[str, Any]:
        d = self.model_dump(exclude_defaults=False)
        head = {k: d[k] for k in ("name", "description", "start_year", "end_year", "report_from", "params_file")}
        if self.tir_regions is not None:
            head["tir_regions"] = list(self.tir_regions)
        out: dict[str, Any] = {"scenario": head, "params": d["params"]}
        out["interventions"] = [{k: v for k, v in iv.items() if v is not None} for iv in d["interventions"]]
        return out


def scenario_from_dict(data: dict[str, Any], source: str = "scenario", base_dir: Path | None = None, *,
                       ignore_params_file: bool = False) -> Scenario:
    """Build a Scenario from the TOML layout ([scenario], [params], [[interventions]]).

    ``[scenario] params_file`` names a TOML file (relative to ``base_dir``) whose ``[params]`` are
    applied first; the scenario's own ``[params]`` override them. The merged set is stored.
    ``ignore_params_file=True`` keeps only the scenario's own ``[params]`` (and an empty
    ``params_file``): used when another base parameter set replaces the file, e.g. a draw from the
    calibration posterior in ``sim compare --posterior``."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a table at the top level")
    allowed = {"scenario", "params", "interventions"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScenarioError(f"{source}: unknown section(s) {unknown}; allowed: {sorted(allowed)}")
    head = data.get("scenario", {})
    if not isinstance(head, dict):  # e.g. `scenario = "x"`: refuse it rather than fail in dict()
        raise ScenarioError(f"{source}: [scenario] must be a table, got {head!r}")
    flat = dict(head)
    allowed_head = [f for f in Scenario.model_fields if f not in ("params", "interventions")]
    unknown = sorted(set(flat) - set(allowed_head))
    if unknown:
        raise ScenarioError(f"{source}: scenario: unknown field(s) {unknown}; allowed: {', '.join(allowed_head)}")
    own = data.get("params", {})
    if not isinstance(own, dict):
        raise ScenarioError(f"{source}: [params] must be a table")
    base: dict[str, Any] = {}
    pf = flat.get("params_file", "")
    if ignore_params_file and isinstance(pf, str):
        flat["params_file"] = pf = ""
    if pf:
        if not isinstance(pf, str):
            raise ScenarioError(f"{source}: scenario.params_file: expected a path string, got {pf!r}")
        fp = (base_dir or Path.cwd()) / pf
        if not fp.is_file():
            raise ScenarioError(f"{source}: scenario.params_file: no such file {fp}")
        try:
            base = tomllib.loads(fp.read_text(encoding="utf-8")).get("params", {})
        except tomllib.TOMLDecodeError as e:
            raise ScenarioError(f"{source}: scenario.params_file {fp}: malformed TOML: {e}") from None
    flat["params"] = {**base, **own}
    flat["interventions"] = data.get("interventions", [])
    return _validated(flat, source)


def _validated(data: dict[str, Any], source: str) -> Scenario:
    """``Scenario.model_validate(data)``, its errors as one :class:`ScenarioError` naming ``source``, the
    fields and what is allowed."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(f"{source}: {describe_validation_error(e, model=Scenario)}") from None
    except ParameterError as e:
        raise ScenarioError(f"{source}: {e}") from None


def load_scenario(path: str | Path, *, ignore_params_file: bool = False) -> Scenario:
    """Read and validate a scenario TOML file (see :func:`scenario_from_dict` for ``ignore_params_file``)."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"{p}: no such scenario file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{p}: malformed TOML: {e}") from None
    return scenario_from_dict(data, source=str(p), base_dir=p.resolve().parent,
                              ignore_params_file=ignore_params_file)
