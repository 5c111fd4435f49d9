"""The study's figures, for simulated runs (single seeds or ensembles) against observed data.

Every function writes one PNG (matplotlib's Agg canvas, no display needed, no global backend change)
and returns its path. Inputs are tidy tables (see :mod:`sim.report` for how they are made). Ensembles
(several seeds) are drawn as the median across seeds with a shaded 5-95% band; observed data as black
lines or markers. Titles, axis labels, units and legends are meant to be read without the code.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim import datasets

SIM_COLOR = "#1f77b4"
OBS_COLOR = "black"
STUDY_COLOR = "#d62728"
DPI = 120

ONS_LABELS = {
    "CD-CF (19-21)": "19-21 petroleum, chemicals, pharma",
    "CI (26)": "26 computers, electronic, optical",
    "CJ (27)": "27 electrical equipment",
    "CK (28)": "28 machinery",
    "29": "29 motor vehicles",
    "30": "30 other transport incl. aerospace",
    "CL (29-30)": "29-30 transport equipment",
}
SECTOR_LABELS = {
    "computers_electronics_optical": "Computers, electronic, optical",
    "pharmaceuticals": "Pharmaceuticals",
    "aerospace": "Air and spacecraft",
    "other_transport": "Other transport (excl. aerospace)",
    "chemicals": "Chemicals",
    "motor_vehicles": "Motor vehicles",
    "machinery": "Machinery",
    "electrical_equipment": "Electrical equipment",
    "AM": "All advanced manufacturing",
}
URBAN_LABELS = {"rural": "rural", "moderately_urban": "moderately urban", "urban": "urban"}
URBAN_COLORS = {"rural": "#2ca02c", "moderately_urban": "#ff7f0e", "urban": "#9467bd"}
CELL_LABELS = {
    ("non-TIR", "open_throughout", "GB"): "non-TIR, open throughout, GB-owned",
    ("non-TIR", "open_throughout", "foreign"): "non-TIR, open throughout, foreign-owned",
    ("non-TIR", "openings_closures", "GB"): "non-TIR, openings & closures, GB-owned",
    ("non-TIR", "openings_closures", "foreign"): "non-TIR, openings & closures, foreign-owned",
    ("TIR", "open_throughout", "GB"): "TIR, open throughout, GB-owned",
    ("TIR", "open_throughout", "foreign"): "TIR, open throughout, foreign-owned",
    ("TIR", "openings_closures", "GB"): "TIR, openings & closures, GB-owned",
    ("TIR", "openings_closures", "foreign"): "TIR, openings & closures, foreign-owned",
}


def _fig(nrows: int = 1, ncols: int = 1, size=(8, 5), **kw):
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _save(fig: Figure, path: Path, caption: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if caption:
        fig.text(0.01, 0.005, caption, fontsize=7, color="0.35", ha="left", va="bottom", wrap=True)
    fig.savefig(path, dpi=DPI)
    return path


def _quantiles(df: pd.DataFrame, x: str = "year") -> pd.DataFrame:
    """Median and 5-95% across seeds per x: columns q05, q50, q95, n."""
    g = df.groupby(x)["value"]
    q = g.quantile([0.05, 0.5, 0.95]).unstack()
    q.columns = ["q05", "q50", "q95"]
    q["n"] = g.count()
    return q


def _band(ax, df: pd.DataFrame, color: str, label: str, x: str = "year", lw: float = 1.8, ls: str = "-"):
    if df.empty:
        return
    q = _quantiles(df, x)
    nseeds = df["seed"].nunique() if "seed" in df.columns else 1
    if nseeds > 1:
        ax.fill_between(q.index, q["q05"], q["q95"], color=color, alpha=0.2, lw=0)
        label = f"{label} (median, 5-95% of {nseeds} seeds)"
    ax.plot(q.index, q["q50"], color=color, lw=lw, ls=ls, label=label)


def _sel(df: pd.DataFrame | None, **kw) -> pd.DataFrame:
    if df is None:
        return pd.DataFrame(columns=["year", "value"])
    m = np.ones(len(df), dtype=bool)
    for k, v in kw.items():
        m &= (df[k].isin(v) if isinstance(v, (list, tuple, set)) else df[k] == v).to_numpy()
    return df.loc[m]


# --------------------------------------------------------------------------------------------------


def plot_regional_shares(sim: pd.DataFrame, obs: pd.DataFrame | None, path: Path) -> Path:
    """Shares of GB AM output by NUTS-1 area over time, one panel per area.

    ``sim``: columns seed, year, area, value (share, 0-1); ``obs``: year, area, value.
    """
    names = {
        "UKC": "North East", "UKD": "North West", "UKE": "Yorkshire & Humber", "UKF": "East Midlands",
        "UKG": "West Midlands", "UKH": "East of England", "UKI": "London", "UKJ": "South East",
        "UKK": "South West", "UKL": "Wales", "UKM": "Scotland",
    }
    areas = sorted(sim["area"].unique())
    ncols = 4
    nrows = int(np.ceil(len(areas) / ncols))
    fig, axes = _fig(nrows, ncols, size=(13, 2.6 * nrows + 0.8), sharex=True)
    for ax, area in zip(axes.flat, areas):
        s = sim[sim["area"] == area].assign(value=lambda d: 100 * d["value"])
        _band(ax, s, SIM_COLOR, "simulated gross output")
        o = _sel(obs, area=area)
        if len(o):
            ax.plot(o["year"], 100 * o["value"], color=OBS_COLOR, lw=1.2, label="observed GVA (ONS)")
        ax.set_title(f"{names.get(area, area)} ({area})", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(areas):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("% of GB AM output", fontsize=8)
    h, lab = axes.flat[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="upper right", fontsize=8, frameon=False)
    fig.suptitle("Regional shares of advanced-manufacturing output, by NUTS-1 area", x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    return _save(fig, path, "Simulated: real gross output (2000 prices) of the eight AM sectors. Observed: ONS GVA "
                 "(current prices) of groups 19-21, 26, 27, 28, 29, 30 (19-21 includes petroleum).")


def plot_theil(sim: pd.DataFrame, obs: pd.DataFrame | None, path: Path, metric: str = "theil_gva",
               groups=("CD-CF (19-21)", "CI (26)", "CJ (27)", "CK (28)", "29", "30")) -> Path:
    """Theil index by ONS industry group over time, simulated (band) against observed (black).

    ``sim``/``obs``: tidy metrics (level, year, industry, metric, value [, seed]).
    """
    ref = metric.removeprefix("theil_")
    fig, axes = _fig(2, 3, size=(13, 7.5), sharex=True)
    for ax, g in zip(axes.flat, groups):
        _band(ax, _sel(sim, level="ons_group", industry=g, metric=metric), SIM_COLOR, "simulated")
        o = _sel(obs, level="ons_group", industry=g, metric=metric)
        if "measure" in o.columns:
            o = o[o["measure"] == "gva"]
        if len(o):
            ax.plot(o["year"], o["value"], color=OBS_COLOR, lw=1.4, label="observed (ONS GVA)")
        ax.axhline(0.4, color="0.5", ls=":", lw=1, label="0.4: concentrated above")
        ax.set_title(ONS_LABELS.get(g, g), fontsize=10)
        ax.set_ylim(bottom=0)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"Theil index (reference: {ref})")
    for ax in axes[-1]:
        ax.set_xlabel("year")
    h, lab = axes.flat[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="upper right", fontsize=8, frameon=False)
    fig.suptitle(f"Regional concentration by industry: Theil index, reference = regional {ref}", x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.03, 1, 0.93))
    return _save(fig, path, "T = sum_r s_r ln(s_r / a_r) over the 40 NUTS-2 regions; s_r: region's share of the "
                 "industry, a_r: its share of the reference. 0 = distributed like the reference.")


def plot_theil_sectors(sim: pd.DataFrame, path: Path, metric: str = "theil_gva") -> Path:
    """Theil index of the eight model sectors over time (simulated only: no public data by sector)."""
    fig, axes = _fig(2, 4, size=(14, 6.5), sharex=True, sharey=True)
    for ax, s in zip(axes.flat, datasets.SECTOR_CODES):
        _band(ax, _sel(sim, level="sector", industry=s, metric=metric), SIM_COLOR, "simulated")
        ax.axhline(0.4, color="0.5", ls=":", lw=1, label="0.4: concentrated above")
        ax.set_title(SECTOR_LABELS[s], fontsize=10)
        ax.set_ylim(bottom=0)
    for ax in axes[:, 0]:
        ax.set_ylabel("Theil index (reference: GVA)")
    h, lab = axes.flat[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="upper right", fontsize=8, frameon=False)
    fig.suptitle("Regional concentration of the eight AM sectors (simulated Theil index)", x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.03, 1, 0.93))
    return _save(fig, path, "The study: pharmaceuticals, motor vehicles, other transport and aerospace above 0.4; "
                 "chemicals intermediate; computers, machinery and electrical equipment well below.")


def plot_tir_share(sim: pd.DataFrame, obs: pd.DataFrame | None, path: Path) -> Path:
    """Share of GB AM output in the traditional industrial regions over time."""
    fig, axes = _fig(size=(8, 4.8))
    ax = axes[0, 0]
    s = _sel(sim, level="all", metric="share_tir")
    _band(ax, s.assign(value=100 * s["value"]), SIM_COLOR, "simulated gross output")
    o = _sel(obs, level="all", metric="share_tir")
    if "measure" in o.columns:
        o = o[o["measure"] == "gva"]
    if len(o):
        ax.plot(o["year"], 100 * o["value"], color=OBS_COLOR, lw=1.5, label="observed GVA (ONS, AM groups)")
    ax.set_ylabel("% of GB AM output in TIR regions")
    ax.set_xlabel("year")
    ax.set_title("Traditional industrial regions' share of advanced-manufacturing output")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, path, "TIR: 12 NUTS-2 regions with 1971 manufacturing + mining employment above 33.8% "
                 "(see the data README). The rest of GB is non-TIR.")


def _lq_change(df: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    """Change in mean LQ from start to end per (seed,) industry and metric."""
    keys = [c for c in ("seed", "industry", "metric") if c in df.columns]
    a = df[df["year"] == start].set_index(keys)["value"]
    b = df[df["year"] == end].set_index(keys)["value"]
    return (b - a).rename("value").reset_index()


def plot_lq_change(sim: pd.DataFrame, obs: pd.DataFrame | None, path: Path, start: int = 1995, end: int = 2015) -> Path:
    """Change in the mean location quotient of TIR and non-TIR regions by industry.

    Simulated by model sector over ``start``-``end`` (clamped to the run); observed by ONS group over
    1998-2016 (the span of the public data).
    """
    fig, axes = _fig(1, 2, size=(14, 5.5), gridspec_kw={"width_ratios": [8, 6]})
    colors = {"lq_mean_tir": "#d62728", "lq_mean_nontir": "#7f7f7f"}
    names = {"lq_mean_tir": "TIR regions", "lq_mean_nontir": "non-TIR regions"}
    s = _sel(sim, level="sector", metric=["lq_mean_tir", "lq_mean_nontir"])
    if len(s):
        y0, y1 = max(start, int(s["year"].min())), min(end, int(s["year"].max()))
        ch = _lq_change(s, y0, y1)
        ax = axes[0, 0]
        x = np.arange(len(datasets.SECTOR_CODES))
        for k, m in enumerate(("lq_mean_tir", "lq_mean_nontir")):
            d = ch[ch["metric"] == m]
            q = _quantiles(d, "industry").reindex(list(datasets.SECTOR_CODES))
            err = np.vstack([q["q50"] - q["q05"], q["q95"] - q["q50"]])
            ax.bar(x + (k - 0.5) * 0.38, q["q50"], width=0.38, color=colors[m], label=names[m],
                   yerr=err if d["seed"].nunique() > 1 else None, capsize=2, error_kw={"lw": 0.8})
        ax.set_xticks(x, [SECTOR_LABELS[c] for c in datasets.SECTOR_CODES], rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_ylabel(f"change in mean location quotient, {y0}-{y1}")
        ax.set_title(f"Simulated, by model sector ({y0}-{y1}; median and 5-95% of seeds)", fontsize=10)
        ax.legend(fontsize=8, frameon=False)
    o = _sel(obs, level="ons_group", metric=["lq_mean_tir", "lq_mean_nontir"])
    if "measure" in o.columns:
        o = o[o["measure"] == "gva"]
    ax = axes[0, 1]
    groups = [g for g in ("CD-CF (19-21)", "CI (26)", "CJ (27)", "CK (28)", "29", "30") if g in set(o["industry"])]
    if groups:
        ch = _lq_change(o, int(o["year"].min()), int(o["year"].max()))
        x = np.arange(len(groups))
        for k, m in enumerate(("lq_mean_tir", "lq_mean_nontir")):
            d = ch[ch["metric"] == m].set_index("industry")["value"].reindex(groups)
            ax.bar(x + (k - 0.5) * 0.38, d.to_numpy(), width=0.38, color=colors[m], label=names[m])
        ax.set_xticks(x, [ONS_LABELS[g] for g in groups], rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_title(f"Observed (ONS GVA), by ONS group ({int(o['year'].min())}-{int(o['year'].max())})", fontsize=10)
        ax.legend(fontsize=8, frameon=False)
    fig.suptitle("Specialisation of TIR and non-TIR regions: change in mean location quotient", x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.04, 1, 0.94))
    return _save(fig, path, "LQ_ir = (x_ir / x_i) / (X_r / X), X = all AM output; unweighted mean over the regions "
                 "of each type. Above 0: the regions became more specialised in the industry.")


def plot_decomposition(decomp: pd.DataFrame, study: dict, path: Path, years: tuple[int, int] | None = None) -> Path:
    """The output-change decomposition (T1): simulated cells (median, 5-95%) against the study's eight."""
    fig, axes = _fig(size=(9, 5.5))
    ax = axes[0, 0]
    cells = list(CELL_LABELS)
    y = np.arange(len(cells))[::-1]
    d = decomp.assign(cell=list(zip(decomp["region_type"], decomp["plants"], decomp["ownership"])))
    nseeds = d["seed"].nunique() if "seed" in d.columns else 1
    q = d.groupby("cell")["pct"].quantile([0.05, 0.5, 0.95]).unstack().reindex(cells)
    err = np.vstack([q[0.5] - q[0.05], q[0.95] - q[0.5]]) if nseeds > 1 else None
    lab = "simulated" + (f" (median, 5-95% of {nseeds} seeds)" if nseeds > 1 else "")
    ax.barh(y + 0.2, q[0.5].to_numpy(), height=0.38, color=SIM_COLOR, xerr=err, capsize=2, label=lab)
    ax.barh(y - 0.2, [study[c] for c in cells], height=0.38, color=STUDY_COLOR, label="study (1973-2016)")
    ax.set_yticks(y, [CELL_LABELS[c] for c in cells], fontsize=8)
    ax.axvline(0, color="0.3", lw=0.8)
    span = f"{years[0]}-{years[1]}" if years else "first to last year"
    ax.set_xlabel(f"% of the total change in AM output, {span}")
    ax.set_title("Who made the change in AM output? Region type x plants x ownership")
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.35, -0.1), ncol=2)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save(fig, path, "Open throughout: open in both years (output change). Openings & closures: output in the "
                 "last year of plants opened since, minus first-year output of plants closed since. Ownership at "
                 "the last observation. Cells sum to 100; target: each within 3 percentage points.")


def plot_urban_shares(sim: pd.DataFrame, obs: pd.DataFrame | None, path: Path) -> Path:
    """Shares of GB AM output by urban class of region over time."""
    fig, axes = _fig(size=(8, 4.8))
    ax = axes[0, 0]
    for cls, name in URBAN_LABELS.items():
        s = _sel(sim, level="all", metric=f"share_{cls}")
        _band(ax, s.assign(value=100 * s["value"]), URBAN_COLORS[cls], f"{name}, simulated")
        o = _sel(obs, level="all", metric=f"share_{cls}")
        if "measure" in o.columns:
            o = o[o["measure"] == "gva"]
        if len(o):
            ax.plot(o["year"], 100 * o["value"], color=URBAN_COLORS[cls], ls="--", lw=1.3,
                    label=f"{name}, observed GVA")
    ax.set_ylabel("% of GB AM output")
    ax.set_xlabel("year")
    ax.set_ylim(bottom=0)
    ax.set_title("Advanced-manufacturing output by urban class of region")
    ax.legend(fontsize=7, frameon=False, ncol=2)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, path, "Urban class by population density (1981; 1998 for UKM6, UKM8, UKM9): rural < 186, "
                 "moderately urban 186-846, urban > 846 persons per km2.")


def _boundaries() -> list[np.ndarray]:
    """Exterior rings of the GB NUTS-2 polygons (lon, lat arrays); empty if the file is absent."""
    try:
        text = resources.files("sim.data").joinpath("boundaries_gb_nuts2016_20M.geojson").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return []
    rings = []
    for f in json.loads(text)["features"]:
        geom = f["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        rings.extend(np.asarray(p[0], dtype=float) for p in polys)
    return rings


def plot_map(change: pd.DataFrame, path: Path, years: tuple[int, int]) -> Path:
    """Map of GB: each region a circle at its centroid, area proportional to end-year AM output,
    coloured by % change from start to end year; small multiples: all AM and each sector.

    ``change``: columns region, industry, start, end (output; medians across seeds for ensembles).
    Outlines: Eurostat GISCO NUTS 2016 (© EuroGeographics).
    """
    r = datasets.load_regions().set_index("code")
    coslat = np.cos(np.radians(54.5))
    rings = [np.column_stack([g[:, 0] * coslat, g[:, 1]]) for g in _boundaries()]
    panels = ["AM", *datasets.SECTOR_CODES]
    fig, axes = _fig(3, 3, size=(10, 15))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.94, bottom=0.12, wspace=0.04, hspace=0.08)
    norm = TwoSlopeNorm(vmin=-100, vcenter=0, vmax=200)
    cmap = "RdBu"
    sc = None
    for ax, ind in zip(axes.flat, panels):
        d = change[change["industry"] == ind].set_index("region").reindex(r.index).fillna(0.0)
        if rings:
            ax.add_collection(PolyCollection(rings, facecolor="0.93", edgecolor="0.6", lw=0.4))
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(d["start"] > 0, 100 * (d["end"] / d["start"] - 1), np.where(d["end"] > 0, 200.0, np.nan))
        pct = np.clip(pct, -100, 200)
        tot = d["end"].sum()
        size = 1500 * d["end"] / tot if tot > 0 else np.zeros(len(d))
        x = r["centroid_lon"].to_numpy() * coslat
        sc = ax.scatter(x, r["centroid_lat"], s=size, c=pct, cmap=cmap, norm=norm, edgecolor="0.2", lw=0.4, zorder=3)
        ax.set_xlim(-6.6 * coslat - 0.3, 2.0 * coslat)
        ax.set_ylim(49.8, 59.2)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(SECTOR_LABELS[ind], fontsize=10)
    cax = fig.add_axes((0.2, 0.075, 0.6, 0.012))
    fig.colorbar(sc, cax=cax, orientation="horizontal",
                 label=f"% change in output, {years[0]}-{years[1]} (clipped at -100 and +200)")
    handles = [Line2D([], [], marker="o", ls="", color="0.6", markeredgecolor="0.2",
                      markersize=np.sqrt(1500 * f), label=f"{int(100 * f)}% of GB") for f in (0.02, 0.05, 0.1)]
    axes[0, 0].legend(handles=handles, title=f"{years[1]} share", fontsize=7, title_fontsize=7, loc="upper left",
                      frameon=False)
    fig.suptitle(f"Where advanced manufacturing is and how it changed, {years[0]}-{years[1]}", x=0.01, ha="left")
    return _save(fig, path, "Circle area: the region's share of GB output of the industry in the last year. Colour: "
                 "% change since the first year (red: decline, blue: growth). Outlines: Eurostat GISCO, "
                 "(c) EuroGeographics.")
