"""The worlds the teaching app runs, its labels, and how a set of choices becomes a scenario.

A *world* is a named base parameter set:

- ``calibrated``: the calibrated 1973-2016 history (``calibration/calibrated.toml``, as
  ``scenarios/baseline.toml`` uses), at a small plant count so that a year takes milliseconds;
- ``uniform``: the same mechanisms, but 40 identical regions (``initial_state = "uniform"``);
- ``urn``: Arthur's urn: identical regions, and foreign entrants are the only movers, choosing a
  region by agglomeration alone (the set-up of the lock-in test in ``tests/test_model.py``).

Everything the app runs is an ordinary :class:`~sim.scenario.Scenario`, so what a student sees in the
browser can be rerun with ``sim run`` / ``sim compare`` from the TOML text of :func:`scenario_toml`.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from sim import datasets
from sim.params import Params, ranges
from sim.scenario import FIRST_YEAR, HISTORY_END, Intervention, Scenario

#: Plants open in 1973 in the app's calibrated and uniform worlds (the baseline uses 25,000).
APP_PLANTS = 3000

#: Arthur's urn: identical regions; no start-ups, spinoffs, exits, moves, acquisitions or size shocks; foreign
#: entrants (a strong, steady inflow) choose a region by the number of same-sector plants already
#: there and nothing else. The policy weight stays at its default so that a policy lever can tip the
#: urn (without an intervention it adds nothing: uniform regions get no historic regional aid).
URN_PARAMS: dict[str, Any] = {
    "initial_state": "uniform", "n_plants_start": 400, "beta_science": 0.0, "beta_skills": 0.0,
    "beta_access": 0.0, "beta_cost": 0.0, "beta_agglomeration": 2.0, "startup_rate": 0.0,
    "spinoff_rate": 0.0, "exit_on": False, "relocation_on": False, "acquisition_on": False,
    "innovation_on": False, "fdi_inflow": 3000.0, "fdi_early_level": 1.0,
    "size_shock_sd": 0.0, "size_reversion": 0.0, "age_growth": 0.0,
}

WORLDS: dict[str, str] = {
    "urn": "Arthur's urn: identical regions, agglomeration only",
    "calibrated": "Calibrated history: 1973 legacy, all mechanisms",
    "uniform": "Identical regions, calibrated mechanisms",
}

#: Policy levers offered by the app (all of sim.scenario.LEVERS but the foreign-investment shock, a
#: national event rather than a regional policy), with what ``intensity`` does (docs/scenarios.md).
LEVERS: dict[str, str] = {
    "none": "no policy",
    "innovation_district": "innovation district: science base +intensity",
    "dui_programme": "DUI programme: skills base +intensity",
    "fdi_attraction": "FDI attraction: incentive +intensity for foreign entrants",
    "rd_subsidy": "R&D subsidy: STI innovation x (1 + intensity)",
    "transport": "transport: market access +intensity s.d., cost -intensity/2",
    "anchor_oem": "anchor OEM: one foreign motor-vehicle plant of 10 x intensity mean size",
}

STATES = {"legacy": "1973 legacy (history)", "uniform": "identical regions"}


@cache
def calibrated_params() -> dict[str, Any]:
    """The calibrated point estimate: the ``[params]`` table of ``calibration/calibrated.toml``."""
    text = resources.files("calibration").joinpath("calibrated.toml").read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["params"])


def world_params(world: str) -> dict[str, Any]:
    """Base parameter overrides of a world (see the module docstring)."""
    if world == "urn":
        return dict(URN_PARAMS)
    if world == "calibrated":
        return {**calibrated_params(), "n_plants_start": APP_PLANTS}
    if world == "uniform":
        return {**calibrated_params(), "n_plants_start": APP_PLANTS, "initial_state": "uniform"}
    raise ValueError(f"unknown world {world!r}; allowed: {', '.join(WORLDS)}")


def world_key(label_or_key: str) -> str:
    """World key from a key or its label (the app's selects show labels)."""
    if label_or_key in WORLDS:
        return label_or_key
    for k, lab in WORLDS.items():
        if lab == label_or_key:
            return k
    raise ValueError(f"unknown world {label_or_key!r}; allowed: {', '.join(WORLDS)}")


def lever_key(label_or_key: str) -> str:
    """Lever key (``none`` or a lever of :data:`sim.scenario.LEVERS`) from a key or its label."""
    if label_or_key in LEVERS:
        return label_or_key
    for k, lab in LEVERS.items():
        if lab == label_or_key:
            return k
    raise ValueError(f"unknown policy lever {label_or_key!r}; allowed: {', '.join(LEVERS)}")


def state_key(label_or_key: str) -> str:
    if label_or_key in STATES:
        return label_or_key
    for k, lab in STATES.items():
        if lab == label_or_key:
            return k
    raise ValueError(f"unknown start state {label_or_key!r}; allowed: {', '.join(STATES)}")


@cache
def region_names() -> dict[str, str]:
    """Region code -> name, in the model's region order."""
    r = datasets.load_regions()
    return dict(zip(r["code"], r["name"], strict=True))


def region_label(code: str) -> str:
    """``"UKE3 South Yorkshire"``: how the app shows a region in selects and titles."""
    return f"{code} {region_names()[code]}"


def region_labels() -> list[str]:
    return [region_label(c) for c in region_names()]


def region_code(label_or_code: str) -> str:
    """Region code from a label such as ``"UKE3 South Yorkshire"`` or from the code itself."""
    code = label_or_code.split(" ", 1)[0]
    if code not in region_names():
        raise ValueError(f"unknown region {label_or_code!r}; allowed: {', '.join(region_names())}")
    return code


def param_range(name: str) -> tuple[float, float]:
    """Documented range of a parameter (``sim params``), used as the bounds of its slider."""
    return ranges()[name]


def param_default(name: str, world: str = "calibrated") -> Any:
    """Value of a parameter in a world: the world's override, else the model default."""
    return world_params(world).get(name, Params.model_fields[name].default)


def sti_weights(shift: float, base: dict[str, Any] | None = None) -> dict[str, float]:
    """Every sector's STI weight moved by ``shift`` (clipped to [0, 1]); the DUI weight is 1 - STI."""
    base = base or {}
    out = {}
    for code in datasets.SECTOR_CODES:
        name = f"sti_weight_{code}"
        w = float(base.get(name, Params.model_fields[name].default))
        out[name] = min(1.0, max(0.0, w + shift))
    return out


def intervention(lever: str, region: str, start_year: int, years: int, intensity: float,
                 end_year: int = HISTORY_END) -> Intervention | None:
    """One intervention of ``lever`` in ``region`` for ``years`` years from ``start_year`` (clipped to
    the scenario's last year); None for ``"none"``. An anchor OEM is a motor-vehicle plant."""
    lever = lever_key(lever)
    if lever == "none":
        return None
    start = min(max(int(start_year), FIRST_YEAR + 1), end_year)
    stop = min(start + max(int(years), 1) - 1, end_year)
    return Intervention(lever=lever, regions=[region_code(region)], start_year=start, end_year=stop,
                        intensity=float(intensity), sectors=["motor_vehicles"] if lever == "anchor_oem" else None,
                        label=f"{LEVERS[lever]} in {region_label(region_code(region))}, {start}-{stop}")


def make_scenario(params: dict[str, Any], interventions: list[Intervention] | tuple = (), *,
                  name: str = "app", description: str = "", end_year: int = HISTORY_END) -> Scenario:
    """A validated scenario (raises ScenarioError / ParameterError naming the field)."""
    return Scenario(name=name, description=description, end_year=end_year, params=dict(params),
                    interventions=[iv for iv in interventions if iv is not None])


def scenario_toml(sc: Scenario, comment: str = "") -> str:
    """The scenario as a TOML file that ``sim run`` and ``sim compare`` accept."""
    import tomli_w

    d = sc.to_toml_dict()
    d["scenario"] = {k: v for k, v in d["scenario"].items() if v != ""}
    if not d["interventions"]:
        del d["interventions"]
    head = "".join(f"# {line}\n" for line in comment.splitlines()) if comment else ""
    return head + tomli_w.dumps(d)
