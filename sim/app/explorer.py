"""The explorer page: Mesa's SolaraViz stepping a :class:`~sim.app.teaching_model.TeachingModel`.

The sidebar holds Mesa's controls (Reset, play/pause, Step; play interval) and the model's: seed,
plant count, start state, the key mechanisms (agglomeration strength, spinoff heritage, STI/DUI
weights, foreign inflow) and one policy lever with its region, start year, length and intensity. As in
every SolaraViz app, a changed control takes effect on *Reset*. The main area shows a map of GB's 40
regions (one sector or all AM, filled and sized by output) and three time series (Theil index by
sector, TIR and foreign shares of output, plants by ownership).
"""

from __future__ import annotations

import solara
from mesa.visualization import Slider, SolaraViz
from mesa.visualization.utils import update_counter

from sim import datasets
from sim.figures import SECTOR_LABELS

from sim.app import figures as F
from sim.app import world as W
from sim.app.teaching_model import TeachingModel

ALL_AM = "All advanced manufacturing"
#: Sector shown on the map (per browser session: Solara reactives are scoped to the session).
map_sector = solara.reactive(ALL_AM)

INTRO = (
    "**Explorer.** Set the controls in the sidebar, press **Reset** to build the model with them, then "
    "**Step** (one year) or **▶** (play). Every run starts in 1973 and ends in 2016. Try the same settings "
    "with two seeds, or switch the start to *identical regions* and raise the agglomeration strength. "
    "Many seeds at once: the **Lock-in lab** tab."
)


def model_params() -> dict:
    """SolaraViz's model parameters: the keyword arguments of TeachingModel, with slider bounds from the
    parameters' documented ranges (``sim params``) and the calibrated values as defaults."""
    cal = W.world_params("calibrated")

    def slider(name: str, label: str, step: float) -> Slider:
        lo, hi = W.param_range(name)
        value = float(cal.get(name, W.param_default(name)))
        return Slider(f"{label} ({lo:g}-{hi:g})", value=value, min=lo, max=hi, step=step, dtype=float)

    return {
        "seed": Slider("Seed (0-99)", value=0, min=0, max=99, step=1, dtype=int),
        "n_plants_start": Slider("Plants in 1973 (1k-10k)", value=W.APP_PLANTS, min=1000, max=10000, step=500,
                                 dtype=int),
        "initial_state": {"type": "Select", "label": "Start state", "value": W.STATES["legacy"],
                          "values": list(W.STATES.values())},
        "beta_agglomeration": slider("beta_agglomeration", "Agglomeration", 0.05),
        "spinoff_heritage": slider("spinoff_heritage", "Spinoff heritage", 0.05),
        "sti_weight_shift": Slider("STI weight shift (±0.5)", value=0.0, min=-0.5, max=0.5,
                                   step=0.05, dtype=float),
        "fdi_inflow": slider("fdi_inflow", "Foreign inflow", 10.0),
        "policy_lever": {"type": "Select", "label": "Policy lever", "value": W.LEVERS["none"],
                         "values": list(W.LEVERS.values())},
        "policy_region": {"type": "Select", "label": "Policy region", "value": W.region_label("UKE3"),
                          "values": W.region_labels()},
        "policy_start": Slider("Policy start (1974-2016)", value=1990, min=1974, max=2016, step=1, dtype=int),
        "policy_years": Slider("Policy years (1-43)", value=10, min=1, max=43, step=1, dtype=int),
        "policy_intensity": Slider("Policy intensity (0-10)", value=1.0, min=0.0, max=10.0, step=0.1, dtype=float),
    }


def _sector_code(label: str) -> str | None:
    for code in datasets.SECTOR_CODES:
        if SECTOR_LABELS[code] == label:
            return code
    return None


def MapView(model: TeachingModel):
    """Status line, sector choice, the map, and the five largest regions."""
    sector = _sector_code(map_sector.value)
    out = model.region_output(sector)
    label = map_sector.value
    with solara.Card(style={"min-width": "420px"}):
        solara.Text(model.summary(), classes=["app-summary"], style={"font-weight": "bold"})
        solara.Select(label="Map: sector", value=map_sector,
                      values=[ALL_AM, *(SECTOR_LABELS[c] for c in datasets.SECTOR_CODES)])
        target = model.intervention.regions[0] if model.intervention is not None else None
        fig = F.map_figure(out, title=f"{label}: output by region, {model.year}", highlight=target)
        with solara.Div(classes=["app-map"]):
            solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.year, label])
        total = out.sum()
        top = out.argsort()[::-1][:5]
        rows = "\n".join(f"| {W.region_label(model.region_codes[r])} | {out[r]:,.0f} | {100 * out[r] / total:.1f}% |"
                         for r in top if total > 0)
        solara.Markdown(f"**Largest regions, {model.year}** ({label})\n\n| region | output, GBP m | share |\n"
                        f"|:---|---:|---:|\n{rows}")
        solara.Text(model.setup_text(), style={"font-size": "0.8em", "color": "#555"})


def ChartsView(model: TeachingModel):
    """The three time series: Theil index by sector, TIR and foreign shares, plants by ownership."""
    xlim = (model.start_year, model.end_year)
    deps = [id(model), model.year]
    with solara.Card():
        with solara.Div(classes=["app-chart-theil"]):
            solara.FigureMatplotlib(F.theil_figure(model.years_seen, model.theil_history,
                                                   reference=model.theil_reference, xlim=xlim),
                                    format="png", dependencies=deps)
        with solara.Div(classes=["app-chart-shares"]):
            solara.FigureMatplotlib(F.shares_figure(model.years_seen, model.tir_share_history(),
                                                    model.foreign_share_history(), xlim=xlim,
                                                    target=model.target_history()),
                                    format="png", dependencies=deps)
        with solara.Div(classes=["app-chart-plants"]):
            solara.FigureMatplotlib(F.plants_figure(model.years_seen, model.plants_gb, model.plants_foreign,
                                                    xlim=xlim), format="png", dependencies=deps)


@solara.component
def ModelViews(model: TeachingModel):
    """The map and the charts of the current model; re-drawn after every step (Mesa's update counter)."""
    update_counter.get()
    with solara.Columns([5, 6]):
        MapView(model)
        ChartsView(model)


@solara.component
def Explorer():
    """The explorer page: one model, stepped in the browser by Mesa's SolaraViz controls.

    SolaraViz gets the model as a reactive value and no components of its own: its sidebar (controls,
    model parameters) drives the model, and :func:`ModelViews` draws it in a plain two-column layout
    (Mesa's draggable grid needs a Vue 2 front end)."""
    from sim.app.pages import NavTabs

    first = solara.use_memo(TeachingModel, dependencies=[])
    model = solara.use_reactive(first)
    NavTabs()
    solara.Markdown(INTRO)
    SolaraViz(model, components=[], model_params=model_params(), play_interval=300,
              name="amgeo teaching app: explorer")
    ModelViews(model.value)
