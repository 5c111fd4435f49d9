"""`sim calibrate --report`: the calibrated baseline against every target, with uncertainty.

Two ensembles of the 1973-2016 history:

- *point*: the calibrated point estimate (``calibration/calibrated.toml``) on N seeds: seed noise only;
- *posterior predictive*: one parameter set drawn from the posterior (``calibration/posterior.csv``,
  by weight) per seed: seed and parameter uncertainty together.

For every target: observed value, the point ensemble's median (which decides pass/miss, as in the
issue's definition of done), and the posterior-predictive median with its 90% band. Writes
``targets.csv``, ``report.md`` and figures into the output folder.
"""

from __future__ import annotations

import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from calibration.abc import HERE, CalibrationConfig  # noqa: E402
from calibration.summary import per_seed_statistics  # noqa: E402
from calibration.targets import load_targets  # noqa: E402


def _stats_job(args) -> pd.DataFrame:
    params, seed = args
    from sim.runner import simulate

    return per_seed_statistics(simulate(params=params, seed=seed))


def ensemble_statistics(param_sets: list[dict], seeds: list[int], workers: int = 2) -> pd.DataFrame:
    """Per-seed statistics for (parameter set, seed) pairs, one row each."""
    jobs = list(zip(param_sets, seeds))
    if workers > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) as ex:
            parts = list(ex.map(_stats_job, jobs))
    else:
        parts = [_stats_job(j) for j in jobs]
    return pd.concat(parts)


def calibrated_params(path: Path = HERE / "calibrated.toml") -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))["params"]


def posterior_draws(n: int, path: Path = HERE / "posterior.csv", seed: int = 0) -> list[dict]:
    """``n`` parameter sets drawn from the posterior's weighted particles; parameters the posterior
    does not hold are set as in the point estimate (``calibrated.toml`` beside it, else the
    calibration's fixed values)."""
    path = Path(path)
    post = pd.read_csv(path)
    point = path.with_name("calibrated.toml")
    base = calibrated_params(point) if point.is_file() else CalibrationConfig.load().fixed
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(post), size=n, replace=True, p=post["weight"] / post["weight"].sum())
    free = [c for c in post.columns if c not in ("weight", "distance", "generation")]
    return [{**base, **{k: float(post.iloc[i][k]) for k in free}} for i in idx]


def target_table(point: pd.DataFrame, pred: pd.DataFrame | None, targets) -> pd.DataFrame:
    rows = []
    for t in targets:
        s = point[t.statistic] if t.statistic in point else pd.Series(dtype=float)
        med = float(s.median()) if len(s) else np.nan
        row = {"group": t.group, "name": t.name, "statistic": t.statistic, "kind": t.kind,
               "observed": t.observed, "tolerance": t.tolerance, "point_median": med,
               "point_q05": float(s.quantile(0.05)) if len(s) else np.nan,
               "point_q95": float(s.quantile(0.95)) if len(s) else np.nan,
               "passes": t.passes(med), "share_of_seeds_passing": float(np.mean([t.passes(v) for v in s])) if len(s) else 0.0}
        if pred is not None and t.statistic in pred:
            p = pred[t.statistic]
            row.update(pred_median=float(p.median()), pred_q05=float(p.quantile(0.05)),
                       pred_q95=float(p.quantile(0.95)))
        rows.append(row)
    return pd.DataFrame(rows)


def observed_persistence() -> dict[str, float]:
    """Correlation across regions between each ONS group's observed regional shares in 1998 and in 2016:
    how well the 1998 map alone predicts the 2016 one (the bar a model that only preserves the 1998
    pattern would reach in the 2016 T5 targets)."""
    from sim import observed as obs

    g = obs.observed_gva_panel()
    out = {}
    for grp in obs.AM_ONS_GROUPS:
        a = g[(g["industry"] == grp) & (g["year"] == 1998)].set_index("region")["value"]
        b = g[(g["industry"] == grp) & (g["year"] == 2016)].set_index("region")["value"].reindex(a.index)
        out[grp] = float(np.corrcoef(a / a.sum(), b / b.sum())[0, 1])
    return out


def done_summary(tab: pd.DataFrame, targets) -> list[str]:
    """The issue's definition of done, criterion by criterion, from the target table (point medians);
    the counts are those of :func:`calibration.criteria.done_criteria`, by which candidates are ranked."""
    from calibration.criteria import LQ_NEEDED, T2_GROUPS_NEEDED, T5_MIN_CORR, U_SHAPE_NEEDED, done_criteria
    from calibration.summary import GROUP_KEY

    by = tab.set_index("statistic")
    med, ok = by["point_median"], by["passes"]
    crit = done_criteria(med.to_dict(), targets)
    t1 = [s for s in tab["statistic"] if s.startswith("t1_") and s != "t1_total_change_gbp_m"]
    worst = max(t1, key=lambda s: abs(med[s] - float(by.loc[s, "observed"])))
    worst_gap = abs(med[worst] - float(by.loc[worst, "observed"]))
    t2_groups = [g for g, k in GROUP_KEY.items() if ok.get(f"t2_theil_{k}_1998", False) and ok.get(f"t2_theil_{k}_2016", False)]
    lq = [s for s in tab["statistic"] if s.startswith("t3_lq_margin_")]
    t5 = {g: min(med.get(f"t5_corr_{k}_1998", np.nan), med.get(f"t5_corr_{k}_2016", np.nan)) for g, k in GROUP_KEY.items()}
    pers = observed_persistence()
    rows = [
        f"Criteria met: **{crit.met} of 5**.", "",
        "| criterion | required | reached |", "|---|---|---|",
        f"| T1 cells within 3 pp with the right sign | {len(t1)} of {len(t1)} | {crit.t1_cells} of {len(t1)} (largest "
        f"miss: {worst.removeprefix('t1_')}, {worst_gap:.1f} pp) |",
        f"| T2 observed Theil within tolerance in 1998 and 2016 | {T2_GROUPS_NEEDED} of {len(GROUP_KEY)} groups | "
        f"{crit.t2_groups} of {len(GROUP_KEY)} ({', '.join(t2_groups) or 'none'}) |",
        f"| T2 decline then rise | most ({U_SHAPE_NEEDED}) of 8 industries | {crit.u_shape:.0f} of 8 |",
        f"| T3 LQ directions right | {LQ_NEEDED} of 8 industries | {crit.lq_directions} of {len(lq)} (other transport "
        "has no LQ fact in the source) |",
        f"| T5 regional correlation at least {T5_MIN_CORR}, 1998 and 2016 | {len(GROUP_KEY)} of {len(GROUP_KEY)} groups "
        f"| {crit.t5_groups} of {len(GROUP_KEY)}; lowest of the two years by group: "
        + ", ".join(f"{g} {v:.2f}" for g, v in t5.items()) + " |",
        "",
        "For T5, the observed 1998 shares alone predict the observed 2016 shares with correlation "
        + ", ".join(f"{g} {v:.2f}" for g, v in pers.items())
        + ": below 0.8 for some groups, so a model can pass 2016 there only by reproducing the 1998-2016 moves, not "
        "by holding the 1998 map. Part of the 1973 state is the 1998 map of each sector's group "
        "(`legacy_sector_1998`), so the 1998 T5 targets are not an independent test.",
    ]
    return rows


def _figure(tab: pd.DataFrame, group: str, path: Path) -> None:
    sub = tab[tab["group"] == group].reset_index(drop=True)
    if sub.empty:
        return
    h = max(2.5, 0.32 * len(sub) + 1.2)
    fig, ax = plt.subplots(figsize=(9, h))
    y = np.arange(len(sub))[::-1]
    scale = sub["tolerance"].to_numpy()
    obs = sub["observed"].to_numpy()

    def z(v):
        return (np.asarray(v, float) - obs) / scale

    if "pred_median" in sub:
        ax.errorbar(z(sub["pred_median"]), y + 0.15, xerr=[z(sub["pred_median"]) - z(sub["pred_q05"]),
                    z(sub["pred_q95"]) - z(sub["pred_median"])], fmt="s", color="tab:orange", ms=4,
                    label="posterior predictive: median, 90% band")
    ax.errorbar(z(sub["point_median"]), y - 0.15, xerr=[z(sub["point_median"]) - z(sub["point_q05"]),
                z(sub["point_q95"]) - z(sub["point_median"])], fmt="o", color="tab:blue", ms=4,
                label="calibrated point: median over seeds, 90% band")
    for yi, k in zip(y, sub["kind"]):
        if k == "value":
            ax.fill_betweenx([yi - 0.4, yi + 0.4], -1, 1, color="0.88", zorder=0)
        elif k == "min":
            ax.plot([0, 0], [yi - 0.4, yi + 0.4], color="green", lw=2)
        else:
            ax.plot([0, 0], [yi - 0.4, yi + 0.4], color="red", lw=2)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(sub["name"], fontsize=8)
    ax.set_xlabel("(simulated - observed) / tolerance   (grey: within tolerance; green bar: lower bound; "
                  "red bar: upper bound)", fontsize=8)
    ax.set_title(f"{group}: calibrated model against the targets")
    ax.set_xlim(-6, 6)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _posterior_figure(post: pd.DataFrame, cfg: CalibrationConfig, path: Path, priors: dict | None = None) -> None:
    """Weighted histograms of the posterior sample, each over its prior: ``priors`` (the intervals the
    posterior was drawn under, from its provenance) where given, else the configuration's."""
    free = [c for c in post.columns if c not in ("weight", "distance", "generation")]
    n = len(free)
    cols = 5
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(14, 2.2 * rows))
    for ax, p in zip(axes.ravel(), free):
        lo, hi = (priors or {}).get(p) or cfg.bounds.get(p, (post[p].min(), post[p].max()))
        ax.hist(post[p], bins=15, range=(lo, hi), weights=post["weight"], color="tab:blue", alpha=0.8)
        ax.set_xlim(lo, hi)
        ax.set_title(p, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle("Posterior of the calibrated parameters (x axis: the prior's range)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_calibration_report(out: str | Path, seeds: int = 50, workers: int = 2, calib_dir: Path = HERE) -> Path:
    """Evaluate ``calib_dir/calibrated.toml`` (and ``posterior.csv``) against every target."""
    calib_dir = Path(calib_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    targets = load_targets()
    cfg = CalibrationConfig.load()
    point_p = calibrated_params(calib_dir / "calibrated.toml")
    s = list(range(1000, 1000 + seeds))  # seeds not used during calibration
    point = ensemble_statistics([point_p] * seeds, s, workers)
    pred = None
    if (calib_dir / "posterior.csv").is_file():
        pred = ensemble_statistics(posterior_draws(seeds, calib_dir / "posterior.csv"), s, workers)
    tab = target_table(point, pred, targets)
    tab.to_csv(out / "targets.csv", index=False)
    for g in ("T1", "T2", "T3", "T4", "T5"):
        _figure(tab, g, out / f"targets_{g}.png")
    post = pd.read_csv(calib_dir / "posterior.csv") if (calib_dir / "posterior.csv").is_file() else None
    prov = tomllib.loads((calib_dir / "calibrated.toml").read_text())["provenance"]
    if post is not None:
        _posterior_figure(post, cfg, out / "posterior.png", prov.get("posterior", {}).get("priors"))
    lines = ["# Calibration report", "", f"Point estimate from `calibration/calibrated.toml` ({prov.get('date', '?')}): "
             f"{prov.get('method', '?')}; {prov.get('point_estimate', '')}."]
    if "evaluated_points" in prov:
        lines.append(f"Search: {prov['evaluated_points']} parameter points x {len(prov['seeds_per_point'])} seeds, "
                     f"{prov['generations']} generations, {len(prov.get('free_parameters', []))} free parameters; "
                     f"distance {prov['point_distance_fresh_seeds']:.1f} on fresh seeds.")
    rp = prov.get("replaced_point")
    if rp:
        was = rp.get("confirm_seeds", {})
        lines.append(f"It replaced the point of: {rp.get('method', '?')}" + (
            f" ({was['t1_cells']} T1 cells, {was['criteria_met']} criteria, {was['passes']} targets passed, distance "
            f"{was['distance']:.1f} on the same confirmation seeds)" if was else "") + ".")
    if prov.get("rule_applied"):
        lines.append(f"Rule applied {prov['rule_applied']}.")
    pp = prov.get("posterior")
    if pp:
        lines.append(f"Posterior (`posterior.csv`): {pp['method']}; {len(pp['free_parameters'])} free parameters, "
                     f"{pp['simulated_points']} points x {len(pp['seeds_per_point'])} seeds, {pp['generations']} "
                     f"generations, {pp['accepted_particles']} particles, final epsilon {pp['final_epsilon']:.1f}, "
                     f"effective sample size {pp['effective_sample_size']:.1f}.")
    lines += [f"Evaluated here on {seeds} fresh seeds (1000-{999 + seeds}); pass/miss is decided by the point "
              "estimate's median; the posterior-predictive band draws one parameter set from the posterior per seed.",
              "", "## Definition of done (issue 4)", "", *done_summary(tab, targets), ""]
    for g in ("T1", "T2", "T3", "T4", "T5"):
        sub = tab[tab["group"] == g]
        lines.append(f"## {g}: {int(sub['passes'].sum())} of {len(sub)} targets pass")
        lines.append("")
        lines.append("| target | kind | observed | tol | point median (90% band) | posterior pred. median (90% band) | pass |")
        lines.append("|---|---|---|---|---|---|---|")
        for r in sub.itertuples():
            pp = (f"{r.pred_median:.3g} ({r.pred_q05:.3g} to {r.pred_q95:.3g})"
                  if pred is not None and np.isfinite(getattr(r, "pred_median", np.nan)) else "n/a")
            lines.append(f"| {r.name} | {r.kind} | {r.observed:g} | {r.tolerance:g} | {r.point_median:.3g} "
                         f"({r.point_q05:.3g} to {r.point_q95:.3g}) | {pp} | {'PASS' if r.passes else '**MISS**'} |")
        lines += ["", f"![{g}](targets_{g}.png)", ""]
    if post is not None:
        lines += ["## Posterior", "", "![posterior](posterior.png)", ""]
    lines += [f"**{int(tab['passes'].sum())} of {len(tab)} targets pass** on the point estimate's {seeds}-seed median."]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return out / "report.md"
