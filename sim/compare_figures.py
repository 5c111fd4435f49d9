"""Figures of a scenario comparison (:mod:`sim.compare`): effect bars with 90% intervals, and fan
charts of AM output in the target regions, baseline against scenario (median and 5-95% band)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.compare import FIGURE_OUTCOMES, HI, LO, OUTCOMES  # noqa: E402

DPI = 90


def effect_bars(effects: pd.DataFrame, path: str | Path, outcomes: Sequence[str] = FIGURE_OUTCOMES) -> Path:
    """One panel per outcome: each scenario's median effect (bar) and 90% interval (whisker)."""
    path = Path(path)
    shown = [o for o in outcomes if (effects["outcome"] == o).any()]
    scen = list(dict.fromkeys(effects["scenario"]))
    ncol = 2
    nrow = max(1, -(-len(shown) // ncol))
    h = max(1.6, 0.28 * len(scen) + 0.9)
    fig, axes = plt.subplots(nrow, ncol, figsize=(10, h * nrow), squeeze=False)
    y = np.arange(len(scen))[::-1]
    for ax, o in zip(axes.ravel(), shown):
        e = effects[effects["outcome"] == o].set_index("scenario").reindex(scen)
        med = e["effect_median"].to_numpy(float)
        lo = e["effect_lo"].to_numpy(float)
        hi = e["effect_hi"].to_numpy(float)
        ok = np.isfinite(med)
        colors = np.where(med >= 0, "tab:blue", "tab:red")
        ax.barh(y[ok], med[ok], color=colors[ok], alpha=0.7, height=0.6)
        ax.errorbar(med[ok], y[ok], xerr=[med[ok] - lo[ok], hi[ok] - med[ok]], fmt="none", ecolor="black",
                    elinewidth=1, capsize=2)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(scen if ax in axes[:, 0] else [], fontsize=7)
        unit, meaning = OUTCOMES.get(o, ("", o))
        ax.set_title(f"{meaning} ({unit})", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes.ravel()[len(shown):]:
        ax.set_visible(False)
    fig.suptitle(f"Effect against the baseline in the scenario's last year: median and {LO:.0%}-{HI:.0%} "
                 "interval across seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def fan_chart(traj: pd.DataFrame, label: str, regions_label: str, path: str | Path,
              periods: Sequence[tuple[int, int]] = ()) -> Path:
    """AM output in the target regions per year. Top: baseline and scenario levels, median line and
    5-95% band across seeds. Bottom: the per-seed effect (scenario minus baseline, same seed), median
    and band. Intervention periods shaded."""
    path = Path(path)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7, 4.8), sharex=True, gridspec_kw={"height_ratios": [2, 1.2]})
    for run, colour in (("baseline", "0.35"), ("scenario", "tab:blue")):
        t = traj[traj["run"] == run]
        if t.empty:
            continue
        q = t.groupby("year")["output_gbp_m"].quantile([LO, 0.5, HI]).unstack() / 1000
        yrs = q.index.to_numpy()
        ax.fill_between(yrs, q[LO], q[HI], color=colour, alpha=0.18, lw=0)
        for b in (LO, HI):
            ax.plot(yrs, q[b], color=colour, lw=0.6, ls="--")
        ax.plot(yrs, q[0.5], color=colour, lw=1.8, label=f"{'baseline' if run == 'baseline' else label}")
    w = traj.pivot_table(index=["seed", "year"], columns="run", values="output_gbp_m")
    if {"baseline", "scenario"} <= set(w.columns):
        d = ((w["scenario"] - w["baseline"]) / 1000).groupby(level="year").quantile([LO, 0.5, HI]).unstack()
        yrs = d.index.to_numpy()
        ax2.fill_between(yrs, d[LO], d[HI], color="tab:green", alpha=0.25, lw=0)
        ax2.plot(yrs, d[0.5], color="tab:green", lw=1.8, label="effect: median, 5-95% band")
        ax2.axhline(0, color="black", lw=0.7)
        ax2.legend(fontsize=7, loc="upper left")
    for a, b in periods:
        for x in (ax, ax2):
            x.axvspan(a, b, color="tab:orange", alpha=0.07, lw=0)
    ax.set_ylabel("AM output, GBP bn", fontsize=8)
    ax2.set_ylabel("scenario - baseline,\nsame seed, GBP bn", fontsize=8)
    ax.set_title(f"{label}: AM output in {regions_label}\n(median and {LO:.0%}-{HI:.0%} band across seeds; "
                 "2000 prices; shaded: policy active)", fontsize=8)
    for x in (ax, ax2):
        x.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
