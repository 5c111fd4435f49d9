"""The model's parameters: one typed, validated set, every field with a default and a documented range.

The range of a field is both the validation bound (a value outside it is refused) and the prior range
that calibration and sensitivity analysis draw from (:func:`ranges`). Switches (``*_on``) turn a
mechanism off without touching its parameters.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.datasets import SECTOR_CODES, load_sectors


def _p(default: float, lo: float, hi: float, doc: str) -> Any:
    return Field(default, ge=lo, le=hi, description=doc, json_schema_extra={"range": [lo, hi]})


def _sti_prior(code: str) -> float:
    s = load_sectors().set_index("code")
    return float(s.loc[code, "sti_weight_prior"])


class Params(BaseModel):
    """All model parameters. Units: output in GBP million (2000 prices); rates per year."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # --- switches: each mechanism of the yearly step can be turned off
    demand_on: bool = Field(True, description="demand paths and replicator competition")
    innovation_on: bool = Field(True, description="STI and DUI innovation")
    exit_on: bool = Field(True, description="plant exit (closure)")
    acquisition_on: bool = Field(True, description="acquisition of GB plants by foreign groups")
    relocation_on: bool = Field(True, description="relocation between regions")
    entry_on: bool = Field(True, description="entry of start-ups, spinoffs and foreign plants")
    regions_on: bool = Field(True, description="yearly update of regional science, skills and cost")

    # --- scale and the 1973 state
    n_plants_start: int = Field(25_000, ge=100, le=2_000_000, description="plants open in the start year",
                                json_schema_extra={"range": [100, 2_000_000]})
    output_start_bn: float = _p(120.0, 40.0, 300.0, "AM real gross output in the start year, GBP bn (2000 prices)")
    initial_state: str = Field("legacy", pattern="^(legacy|uniform)$",
                               description="'legacy': 1973 industrial legacy and historic clusters; "
                                           "'uniform': identical regions (for path-dependence experiments)")
    legacy_cluster_strength: float = _p(1.5, 0.0, 10.0, "weight of historic cluster locations in the 1973 state")
    legacy_manufacturing_1998: float = _p(0.5, 0.0, 1.0, "weight of the 1998 regional manufacturing GVA pattern "
                                                        "(vs population x 1970 NUTS-1 industry share) in the 1973 "
                                                        "plant locations")
    legacy_sector_1998: float = _p(0.5, 0.0, 1.0, "weight of each sector's 1998 regional pattern (ONS GVA of its industry "
                                                  "group by region) in the 1973 plant locations")
    legacy_tir_boost: float = _p(1.15, 0.5, 4.0, "AM density of TIRs relative to other regions in 1973")
    plant_size_sigma: float = _p(1.5, 0.3, 3.0, "s.d. of log plant capacity in 1973")
    foreign_size_premium: float = _p(3.0, 1.0, 10.0, "mean capacity of foreign plants relative to GB plants in 1973")
    productivity_sigma: float = _p(0.3, 0.05, 1.0, "s.d. of log productivity within a sector")

    # --- 1. demand and replicator competition
    replicator_strength: float = _p(0.08, 0.0, 3.0, "growth of a plant's market share per unit log relative productivity "
                                                  "per year (replicator dynamics)")
    size_reversion: float = _p(0.02, 0.0, 0.3, "yearly mean reversion of log plant capacity towards the sector's mean "
                                               "(growth rates fall with size)")
    scale_consolidation: float = _p(0.0, 0.0, 1.0, "share of the size reversion of plants above their sector's mean "
                                                   "size removed, from consolidation_start on, in the scale-intensive "
                                                   "assembly sectors (motor vehicles, other transport, aerospace): "
                                                   "production consolidates into the largest plants")
    consolidation_start: float = _p(1990.0, 1973.0, 2016.0, "year from which scale_consolidation applies")
    consolidation_vintage: float = _p(1900.0, 1900.0, 2016.0, "plants born before this year take no part in "
                                                             "scale_consolidation (older plants)")
    motor_cluster_growth: float = _p(0.0, 0.0, 0.1, "yearly growth of the log capacity of a motor-vehicle plant per unit "
                                                    "log share of its region in the sector's capacity (relative to the "
                                                    "sector's plants), from motor_cluster_start on: just-in-time supply "
                                                    "concentrates assembly in the main motor regions (0 = none)")
    motor_cluster_start: float = _p(1998.0, 1973.0, 2016.0, "year from which motor_cluster_growth applies")
    size_shock_sd: float = _p(0.2, 0.0, 1.0, "s.d. of the yearly idiosyncratic shock to log plant capacity (Gibrat)")
    site_constraint: float = _p(0.0, 0.0, 0.2, "yearly fall of log capacity per unit of regional cost (plants on "
                                               "crowded, costly sites cannot expand in place)")
    age_growth: float = _p(0.0, 0.0, 0.2, "yearly fall of log capacity per unit log(1 + age) above the sector's mean "
                                         "(old plants lose share to young ones)")
    recession_severity: float = _p(1.0, 0.0, 3.0, "multiplier on the depth of the recessions of 1980-82, 1990-92 and "
                                                                 "2008-10 (sim/data/recessions.csv)")

    # --- 2. innovation
    sti_weight_computers_electronics_optical: float = _p(_sti_prior("computers_electronics_optical"), 0.0, 1.0,
                                                         "STI weight of the sector (1 - DUI weight)")
    sti_weight_pharmaceuticals: float = _p(_sti_prior("pharmaceuticals"), 0.0, 1.0, "STI weight of the sector")
    sti_weight_aerospace: float = _p(_sti_prior("aerospace"), 0.0, 1.0, "STI weight of the sector")
    sti_weight_other_transport: float = _p(_sti_prior("other_transport"), 0.0, 1.0, "STI weight of the sector")
    sti_weight_chemicals: float = _p(_sti_prior("chemicals"), 0.0, 1.0, "STI weight of the sector")
    sti_weight_motor_vehicles: float = _p(_sti_prior("motor_vehicles"), 0.0, 1.0, "STI weight of the sector")
    sti_weight_machinery: float = _p(_sti_prior("machinery"), 0.0, 1.0, "STI weight of the sector")
    sti_weight_electrical_equipment: float = _p(_sti_prior("electrical_equipment"), 0.0, 1.0, "STI weight of the sector")
    sti_rate: float = _p(0.25, 0.0, 1.0, "STI innovation intensity (yearly hazard at unit science base and capacity)")
    dui_rate: float = _p(0.25, 0.0, 1.0, "DUI innovation intensity (yearly hazard at unit skills base and capacity)")
    sme_sti_absorption: float = _p(0.35, 0.0, 1.0, "STI absorptive capacity of SMEs relative to large plants")
    foreign_network_share: float = _p(0.6, 0.0, 1.0, "share of a foreign plant's STI input drawn from its group's "
                                                     "global network rather than the regional science base")
    interaction_effect: float = _p(0.5, 0.0, 3.0, "DUI learning from local same- and related-sector density")
    related_sector_weight: float = _p(0.25, 0.0, 1.0, "weight of other AM sectors' plants in local density")
    sti_gain: float = _p(0.05, 0.0, 0.3, "productivity gain of an STI success")
    dui_gain: float = _p(0.03, 0.0, 0.3, "productivity gain of a DUI success")
    combination_gain: float = _p(0.03, 0.0, 0.3, "extra productivity gain when STI and DUI succeed together")
    diffusion: float = _p(0.05, 0.0, 1.0, "share of the gap to the sector's mean log productivity that a laggard "
                                          "closes each year by imitation")
    diffusion_late: float = _p(1.0, 0.0, 1.0, "diffusion from diffusion_slowdown_year on, as a share of its earlier "
                                              "rate: the slowdown of catch-up to the frontier (Andrews, Criscuolo "
                                              "and Gal 2016)")
    diffusion_slowdown_year: float = _p(2000.0, 1973.0, 2016.0, "year from which diffusion_late applies")
    diffusion_foreign_reference: float = _p(1.0, 0.0, 1.0, "weight of foreign-owned plants in the mean that "
                                                           "laggards imitate (1: all plants by output; 0: "
                                                           "GB-owned plants only)")
    foreign_productivity_growth: float = _p(0.01, 0.0, 0.05, "yearly log productivity gain of foreign-owned plants "
                                                          "over GB-owned ones (technology transfer from the parent "
                                                          "group)")
    capability_learning: float = _p(0.15, 0.0, 1.0, "speed at which plant STI/DUI capability follows its successes")

    # --- 3. exit
    exit_rate: float = _p(0.05, 0.0, 0.4, "yearly exit hazard of a GB SME with its sector's average "
                                          "productivity-and-age selection term, at zero (average) regional cost")
    exit_productivity: float = _p(1.5, 0.0, 6.0, "elasticity of exit hazard to relative productivity (hazard ~ rel^-b)")
    exit_age: float = _p(0.3, 0.0, 2.0, "elasticity of exit hazard to age")
    exit_large_factor: float = _p(0.5, 0.05, 1.0, "exit hazard of large plants relative to SMEs")
    exit_cost: float = _p(0.3, 0.0, 3.0, "rise of exit hazard per unit of regional cost")
    foreign_exit_factor: float = _p(1.2, 0.3, 4.0, "exit hazard of foreign plants relative to GB plants (footloose FDI)")
    retrenchment: float = _p(1.0, 0.0, 5.0, "extra foreign exit hazard per unit recession depth (parent group retrenches)")
    min_output_share: float = _p(0.005, 0.0, 0.2, "output, as a share of the sector's mean plant output in the "
                                                 "start year, below which a plant is not viable and closes")

    # --- 4. acquisition
    acquisition_rate: float = _p(0.012, 0.0, 0.1, "yearly probability a GB plant of average productivity is bought "
                                                 "by a foreign group, at full FDI inflow")
    acquisition_productivity: float = _p(1.5, 0.0, 5.0, "elasticity of acquisition to relative productivity")
    acquisition_boost: float = _p(0.1, 0.0, 1.0, "log productivity gain of an acquired plant (technology and capital "
                                                "from the parent group)")
    acquisition_location: float = _p(0.0, 0.0, 3.0, "tilt of acquisitions towards good sites: acquisition odds "
                                                    "x exp(value x site quality), sector mean unchanged (0 = none)")

    # --- 5. relocation
    relocation_rate: float = _p(0.005, 0.0, 0.2, "yearly share of plants that consider moving")
    moving_cost: float = _p(1.0, 0.0, 5.0, "utility cost of a move (logit utility units)")

    # --- 6. entry
    startup_rate: float = _p(0.025, 0.0, 0.3, "domestic start-ups (not spinoffs) per year per start-year plant of the "
                                              "sector, scaled by the sector's demand index")
    spinoff_rate: float = _p(0.025, 0.0, 0.3, "spinoffs per live plant of average productivity per year")
    spinoff_heritage: float = _p(0.6, 0.0, 1.0, "share of the parent's productivity and capability gap a spinoff inherits")
    spinoff_local: float = _p(0.9, 0.0, 1.0, "probability a spinoff is born in its parent's region")
    entry_demand_elasticity: float = _p(2.0, 0.0, 10.0, "response of domestic entry to sector demand growth")
    entrant_size: float = _p(0.25, 0.01, 3.0, "capacity of a domestic entrant relative to the sector mean")
    entrant_productivity: float = _p(-0.1, -1.0, 1.0, "mean log productivity of a start-up relative to the sector")
    fdi_inflow: float = _p(120.0, 0.0, 3000.0, "foreign greenfield/brownfield entries per year at full inflow "
                                              "(scaled by n_plants_start / 25,000)")
    fdi_early_level: float = _p(0.3, 0.0, 1.0, "foreign inflow in 1973 relative to its post-1985 level")
    fdi_entrant_size: float = _p(2.0, 0.05, 20.0, "capacity of a foreign entrant relative to the sector mean")
    fdi_productivity: float = _p(0.15, -0.5, 1.0, "mean log productivity premium of a foreign entrant")

    # --- location choice (conditional logit, used by entry and relocation)
    beta_science: float = _p(0.5, 0.0, 10.0, "logit weight of the science base (times sector STI weight)")
    beta_skills: float = _p(0.5, 0.0, 10.0, "logit weight of the skills base (times sector DUI weight)")
    beta_agglomeration: float = _p(0.5, 0.0, 5.0, "logit weight of log(1 + same-sector plants in the region), "
                                                       "relative to a population-proportional spread (1: neutral)")
    beta_access: float = _p(0.5, 0.0, 10.0, "logit weight of market access")
    beta_cost: float = _p(0.5, 0.0, 10.0, "logit weight of regional cost (enters negatively)")
    beta_policy: float = _p(1.0, 0.0, 10.0, "logit weight of policy incentives (FDI attraction)")
    assisted_area_aid: float = _p(0.5, 0.0, 3.0, "historic regional aid (Regional Selective Assistance) to foreign "
                                                "entrants in the Assisted Areas, added to the policy incentive "
                                                "(times beta_policy), every simulated year")

    # --- 7. regions update
    science_adjust: float = _p(0.1, 0.0, 1.0, "yearly speed at which the science base follows its target")
    science_legacy: float = _p(0.7, 0.0, 1.0, "weight of the GERD pattern in the science-base target (rest: local STI output)")
    skills_adjust: float = _p(0.08, 0.0, 1.0, "yearly speed at which the skills base follows local DUI employment "
                                               "(it decays without use)")
    congestion: float = _p(0.5, 0.0, 3.0, "cost per unit log population density (standardised)")
    crowding: float = _p(0.3, 0.0, 3.0, "cost per unit log AM employment density (standardised)")
    access_distance_km: float = _p(80.0, 10.0, 500.0, "distance decay of market-access gravity (km)")

    @classmethod
    def field_names(cls) -> list[str]:
        return list(cls.model_fields)

    def sti_weights(self):
        import numpy as np

        return np.array([getattr(self, f"sti_weight_{c}") for c in SECTOR_CODES])


def ranges() -> dict[str, tuple[float, float]]:
    """Documented range of every numeric parameter: the prior for calibration and sweeps."""
    out = {}
    for name, f in Params.model_fields.items():
        extra = f.json_schema_extra or {}
        if "range" in extra:
            lo, hi = extra["range"]
            out[name] = (float(lo), float(hi))
    return out


class ParameterError(ValueError):
    """A parameter value is unknown or outside its documented range."""


def make_params(overrides: dict[str, Any] | None = None, base: Params | None = None) -> Params:
    """Validated parameter set from overrides; raises ParameterError naming the field and its range."""
    base = base or Params()
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(Params.model_fields))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {unknown}; allowed: {', '.join(Params.model_fields)}"
        )
    try:
        return Params.model_validate({**base.model_dump(), **overrides})
    except ValidationError as e:
        raise ParameterError(describe_validation_error(e, prefix="params")) from None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str] | None:
    """The field names of the (nested) pydantic model at ``loc``, a path of field names and list indices
    (``("interventions", 0)`` -> the intervention's fields), or None where the path leaves the models."""
    for part in loc:
        if isinstance(part, int):
            continue
        f = model.model_fields.get(part)
        if f is None:
            return None
        sub = next((a for a in (f.annotation, *get_args(f.annotation))
                    if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is None:
            return None
        model = sub
    return list(model.model_fields)


def describe_validation_error(e: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """One line per problem: the field, what is wrong, and the allowed values or range (for a name that
    ``model`` does not have, the names it allows)."""
    lines = []
    rng = ranges()
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"])
        field = f"{prefix}.{loc}" if prefix and loc else (loc or prefix)
        msg = err["msg"]
        last = err["loc"][-1] if err["loc"] else None
        if isinstance(last, str) and last in rng:
            lo, hi = rng[last]
            msg += f" (allowed range {lo:g} to {hi:g})"
        if err["type"] == "extra_forbidden" and model is not None:
            names = _fields_at(model, tuple(err["loc"][:-1]))
            if names:
                msg = f"unknown field; allowed: {', '.join(names)}"
        if "input" in err and not isinstance(err["input"], dict):
            msg += f"; got {err['input']!r}"
        lines.append(f"{field}: {msg}")
    return "; ".join(lines)
