"""The app's figures: matplotlib, drawn on the server (Agg canvas) and shown as images.

Server-side PNGs need nothing from a CDN in the browser, so the app works offline. Every function
returns a :class:`matplotlib.figure.Figure` with a title, axis labels with units, and a legend or colour
bar, so that a figure reads without the code. Outlines of the regions: Eurostat GISCO NUTS 2016
(© EuroGeographics), from ``sim/data/boundaries_gb_nuts2016_20M.geojson``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim import datasets
from sim.figures import SECTOR_LABELS

SECTOR_COLORS = dict(zip(datasets.SECTOR_CODES, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                  "#8c564b", "#e377c2", "#7f7f7f"), strict=True))
VARIANT_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd")
_COSLAT = float(np.cos(np.radians(54.5)))  # squash longitudes so Britain keeps its shape


@cache
def region_polygons() -> tuple[tuple[str, np.ndarray], ...]:
    """``(region code, ring)`` for every exterior ring of the 40 regions (x: longitude x cos 54.5°, y:
    latitude); a region with islands has several rings."""
    text = resources.files("sim.data").joinpath("boundaries_gb_nuts2016_20M.geojson").read_text(encoding="utf-8")
    out = []
    for f in json.loads(text)["features"]:
        code, geom = f["properties"]["NUTS_ID"], f["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        for p in polys:
            ring = np.asarray(p[0], dtype=float)
            out.append((code, np.column_stack([ring[:, 0] * _COSLAT, ring[:, 1]])))
    return tuple(out)


def _new(w: float, h: float) -> Figure:
    return Figure(figsize=(w, h), dpi=90, layout="constrained")


def map_figure(output: np.ndarray, *, title: str, vmax_share: float | None = None,
               highlight: str | None = None) -> Figure:
    """Map of GB: each region filled by its share of GB output (%) and a circle at its centroid with
    area proportional to its output (GBP m). ``output``: one value per region, in the model's order.
    ``highlight``: a region code outlined in blue (the policy's target)."""
    reg = datasets.load_regions()
    codes = list(reg["code"])
    output = np.asarray(output, dtype=float)
    total = output.sum()
    share = 100 * output / total if total > 0 else np.zeros_like(output)
    vmax = vmax_share or max(5.0, float(np.ceil(share.max() / 5) * 5))
    norm = Normalize(0, vmax)
    fig = _new(5.2, 6.0)
    ax = fig.add_subplot()
    polys = region_polygons()
    idx = {c: i for i, c in enumerate(codes)}
    ax.add_collection(PolyCollection([r for _, r in polys], array=np.array([share[idx[c]] for c, _ in polys]),
                                     cmap="YlOrRd", norm=norm, edgecolor="0.45", linewidths=0.4))
    if highlight is not None:
        ax.add_collection(PolyCollection([r for c, r in polys if c == highlight], facecolor="none",
                                         edgecolor="#2171b5", linewidths=2.0, zorder=4, label="policy region"))
    x = reg["centroid_lon"].to_numpy() * _COSLAT
    y = reg["centroid_lat"].to_numpy()
    size = 2500 * output / total if total > 0 else np.zeros_like(output)
    ax.scatter(x, y, s=size, facecolor="none", edgecolor="#08306b", lw=1.0, zorder=3)
    ax.set_xlim(-6.6 * _COSLAT - 0.3, 2.0 * _COSLAT)
    ax.set_ylim(49.8, 59.2)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    fig.colorbar(ax.collections[0], ax=ax, shrink=0.6, label="share of GB output (%)")
    handles = [Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="#08306b",
                      markersize=np.sqrt(2500 * f), label=f"{int(100 * f)}%") for f in (0.05, 0.1, 0.2)]
    if highlight is not None:
        handles.append(Line2D([], [], color="#2171b5", lw=2, label=f"policy: {highlight}"))
    ax.legend(handles=handles, title="circle: output share", fontsize=7, title_fontsize=7, loc="upper right",
              frameon=False, labelspacing=1.2)
    for side in ax.spines.values():
        side.set_visible(False)
    return fig


def theil_figure(years, theil: np.ndarray, *, reference: str, xlim: tuple[int, int]) -> Figure:
    """Theil index of each sector over time (``theil``: years x 8)."""
    fig = _new(6.0, 4.0)
    ax = fig.add_subplot()
    theil = np.asarray(theil, dtype=float).reshape(len(years), -1)
    for j, code in enumerate(datasets.SECTOR_CODES):
        ax.plot(years, theil[:, j], color=SECTOR_COLORS[code], lw=1.5, label=SECTOR_LABELS[code],
                marker="o" if len(years) == 1 else None)
    ax.set_xlim(*xlim)
    top = np.nanmax(theil) if np.isfinite(theil).any() else 0.0
    ax.set_ylim(0, max(0.1, 1.5 * top))  # head room for the legend
    ax.set_xlabel("year")
    rel = "relative to regional GVA" if reference == "gva" else "absolute (regions weighted equally)"
    ax.set_ylabel(f"Theil index, {rel}")
    ax.set_title("Concentration of each sector across the 40 regions", fontsize=10)
    ax.legend(fontsize=7, ncol=2, frameon=False, loc="upper left")
    return fig


def shares_figure(years, tir_share, foreign_share, *, xlim: tuple[int, int],
                  target: tuple[str, np.ndarray, tuple[int, int]] | None = None) -> Figure:
    """TIR and foreign-owned shares of GB AM output over time (fractions); with ``target`` = (region
    code, its share per year, policy years) also the policy region's share and the policy years."""
    fig = _new(6.0, 3.6)
    ax = fig.add_subplot()
    if target is not None:
        code, share, (y0, y1) = target
        ax.plot(years, 100 * np.asarray(share), color="#2171b5", lw=1.5, ls="--",
                label=f"policy region {code}", marker="o" if len(years) == 1 else None)
        ax.axvspan(y0 - 0.5, y1 + 0.5, color="#2171b5", alpha=0.08, lw=0, label="policy years")
    ax.plot(years, 100 * np.asarray(tir_share), color="#d62728", lw=2, label="traditional industrial regions (TIRs)",
            marker="o" if len(years) == 1 else None)
    ax.plot(years, 100 * np.asarray(foreign_share), color="#ff7f0e", lw=2, label="foreign-owned plants",
            marker="o" if len(years) == 1 else None)
    ax.set_xlim(*xlim)
    ax.set_ylim(0, 100)
    ax.set_xlabel("year")
    ax.set_ylabel("% of GB AM output")
    ax.set_title("Share of advanced-manufacturing output", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    return fig


def plants_figure(years, gb, foreign, *, xlim: tuple[int, int]) -> Figure:
    """Plants open by ownership over time."""
    fig = _new(6.0, 3.6)
    ax = fig.add_subplot()
    ax.stackplot(years, np.asarray(gb), np.asarray(foreign), colors=("#9ecae1", "#fd8d3c"),
                 labels=("GB-owned", "foreign-owned"))
    if len(years) == 1:
        ax.bar(years, [gb[0] + foreign[0]], width=0.8, color="#9ecae1")
    ax.set_xlim(*xlim)
    ax.set_ylim(0, 1.3 * max(np.max(np.asarray(gb) + np.asarray(foreign)), 1))  # head room for the legend
    ax.set_xlabel("year")
    ax.set_ylabel("plants open")
    ax.set_title("Plants by ownership", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return fig


def winners_figure(counts: np.ndarray, region_codes, *, n_seeds: int, year: int, title: str) -> Figure:
    """Heat map: for each sector (rows) the number of seeds in which each region (columns; only regions
    that won at least once) has the sector's largest output in ``year``. ``counts``: 8 x 40."""
    counts = np.asarray(counts)
    used = np.flatnonzero(counts.sum(axis=0) > 0)
    fig = _new(max(6.0, 0.32 * len(used) + 3.2), 4.2)
    ax = fig.add_subplot()
    top = max(1, int(counts.max()))
    im = ax.imshow(counts[:, used], cmap="Blues", vmin=0, vmax=top, aspect="auto")
    for i in range(counts.shape[0]):
        for k, j in enumerate(used):
            if counts[i, j]:
                ax.text(k, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if counts[i, j] > 0.6 * top else "black")
    ax.set_xticks(range(len(used)), [region_codes[j] for j in used], rotation=90, fontsize=7)
    ax.set_yticks(range(counts.shape[0]), [SECTOR_LABELS[c] for c in datasets.SECTOR_CODES], fontsize=8)
    ax.set_xlabel("region (NUTS-2 code) with the sector's largest output")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label=f"seeds (of {n_seeds})", shrink=0.8)
    return fig


def winner_share_figure(shares: np.ndarray, *, n_regions: int, year: int, title: str) -> Figure:
    """Per sector, each seed's share of GB output of the sector held by its largest region in ``year``
    (``shares``: seeds x 8, fractions), against an even spread (1 / ``n_regions``)."""
    shares = 100 * np.asarray(shares, dtype=float)
    fig = _new(6.4, 3.6)
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for j, code in enumerate(datasets.SECTOR_CODES):
        col = shares[:, j]
        ax.scatter(col, j + rng.uniform(-0.15, 0.15, col.size), color=SECTOR_COLORS[code], s=16, alpha=0.7)
        ax.plot([np.nanmedian(col)] * 2, [j - 0.3, j + 0.3], color="black", lw=2)
    ax.axvline(100 / n_regions, color="0.4", ls=":", lw=1.2,
               label=f"even spread (1/{n_regions} = {100 / n_regions:.1f}%)")
    ax.set_yticks(range(len(datasets.SECTOR_CODES)), [SECTOR_LABELS[c] for c in datasets.SECTOR_CODES], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"largest region's % of the sector's GB output, {year}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return fig


def policy_paths_figure(years, paths: dict[str, tuple[np.ndarray, np.ndarray, str, str, tuple[int, int] | None]],
                        *, title: str) -> Figure:
    """Median (line) and 5-95% band across seeds of the target region's share of GB AM output.

    ``paths``: label -> (median %, (2, years) band %, colour, line style, policy years or None)."""
    fig = _new(6.4, 3.8)
    ax = fig.add_subplot()
    for label, (med, band, color, ls, window) in paths.items():
        ax.plot(years, med, color=color, ls=ls, lw=2 if ls == "-" else 1.5, label=label)
        ax.fill_between(years, band[0], band[1], color=color, alpha=0.10, lw=0)
        if window is not None:
            ax.axvspan(window[0] - 0.5, window[1] + 0.5, color=color, alpha=0.08, lw=0)
    ax.set_xlim(years[0], years[-1])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("year (shaded: years the policy is on)")
    ax.set_ylabel("target region's % of GB AM output")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return fig


def policy_effects_figure(effects: dict[str, np.ndarray], *, year: int) -> Figure:
    """Each seed's effect (scenario minus no policy, same seed) on the target region's share in ``year``,
    percentage points: one dot per seed, with the median marked."""
    fig = _new(6.4, 3.0)
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for k, (label, eff) in enumerate(effects.items()):
        eff = np.asarray(eff, dtype=float)
        color = VARIANT_COLORS[k % len(VARIANT_COLORS)]
        ax.scatter(eff, k + rng.uniform(-0.15, 0.15, eff.size), color=color, alpha=0.7, s=18)
        ax.plot([np.median(eff)] * 2, [k - 0.3, k + 0.3], color="black", lw=2)
    ax.axvline(0, color="0.5", lw=1, ls=":")
    ax.set_yticks(range(len(effects)), list(effects), fontsize=8)
    ax.set_ylim(-0.6, len(effects) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(f"effect on the target region's share, {year} (percentage points)")
    ax.set_title("Effect seed by seed (dot: one seed; bar: median)", fontsize=10)
    return fig
