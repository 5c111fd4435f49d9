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
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from calibration.abc import HERE, CalibrationConfig, stale_posterior  # noqa: E402
from calibration.seeds import REPORT_SEED0, VERIFY_SEED0  # noqa: E402
from calibration.summary import per_seed_statistics  # noqa: E402
from calibration.targets import load_targets  # noqa: E402


SHARE_YEARS = (1998, 2016)  # the years of the T5 targets


def regional_shares(rm) -> pd.DataFrame:
    """Each ONS group's regional shares of simulated output in the T5 years, from the
    :class:`sim.report.RunMetrics` of a run: tidy, one row per seed, year, group and region (``share``)."""
    cube = rm.cubes["ons_group"]  # seed x year x group x region
    s = cube.shares()
    seeds, years, groups = cube.labels[0], list(cube.labels[1]), cube.labels[2]
    rows = []
    for y in SHARE_YEARS:
        if y not in years:
            continue
        k = years.index(y)
        for a, seed in enumerate(seeds):
            for g, grp in enumerate(groups):
                rows.append(pd.DataFrame({"seed": seed, "year": y, "group": grp, "region": cube.regions,
                                          "share": s[a, k, g, :]}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["seed", "year", "group", "region", "share"])


def _stats_job(args) -> tuple[pd.DataFrame, pd.DataFrame]:
    params, seed = args
    from sim import report as sim_report
    from sim.runner import simulate

    res = simulate(params=params, seed=seed)
    rm = sim_report.RunMetrics(res.panel)
    return per_seed_statistics(res, rm), regional_shares(rm)


def ensemble(param_sets: list[dict], seeds: list[int], workers: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-seed statistics for (parameter set, seed) pairs, one row each, and the runs' regional shares
    (:func:`regional_shares`)."""
    jobs = list(zip(param_sets, seeds))
    if workers > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) as ex:
            parts = list(ex.map(_stats_job, jobs))
    else:
        parts = [_stats_job(j) for j in jobs]
    return pd.concat([p[0] for p in parts]), pd.concat([p[1] for p in parts], ignore_index=True)


def ensemble_statistics(param_sets: list[dict], seeds: list[int], workers: int = 2) -> pd.DataFrame:
    """Per-seed statistics for (parameter set, seed) pairs, one row each."""
    return ensemble(param_sets, seeds, workers)[0]


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


def target_table(point: pd.DataFrame, pred: pd.DataFrame | None, targets,
                 p_pass: pd.Series | None = None) -> pd.DataFrame:
    """One row per target: observed, the point ensemble's median and 90% band, pass/miss of the median,
    the share of single seeds passing, ``p_pass`` (the bootstrap share of resamples whose median passes,
    :func:`verdict_probabilities`) when given, and the posterior-predictive median and band."""
    rows = []
    for t in targets:
        s = point[t.statistic] if t.statistic in point else pd.Series(dtype=float)
        med = float(s.median()) if len(s) else np.nan
        row = {"group": t.group, "name": t.name, "statistic": t.statistic, "kind": t.kind,
               "observed": t.observed, "tolerance": t.tolerance, "point_median": med,
               "point_q05": float(s.quantile(0.05)) if len(s) else np.nan,
               "point_q95": float(s.quantile(0.95)) if len(s) else np.nan,
               "passes": t.passes(med), "share_of_seeds_passing": float(np.mean([t.passes(v) for v in s])) if len(s) else 0.0}
        if p_pass is not None:
            row["p_pass"] = float(p_pass.get(t.statistic, np.nan))
        if pred is not None and t.statistic in pred:
            p = pred[t.statistic]
            row.update(pred_median=float(p.median()), pred_q05=float(p.quantile(0.05)),
                       pred_q95=float(p.quantile(0.95)))
        rows.append(row)
    return pd.DataFrame(rows)


N_BOOT = 1000  # bootstrap resamples of the seeds for the verdict probabilities
PROB_NOTE = f"{N_BOOT:,} resamples"
CRITERIA = ("t1", "t2", "u_shape", "lq", "t5")  # the five criteria, in the report's order


def verdict_probabilities(point: pd.DataFrame, targets, n_boot: int = N_BOOT, seed: int = 0):
    """How firm the pass/miss verdicts of the median are: the seeds are resampled with replacement
    ``n_boot`` times (Efron's bootstrap of the median) and the verdicts re-taken on each resample.

    Returns ``(per_target, per_criterion)``: the share of resamples in which each target's median passes
    (a Series by statistic), and the share in which each criterion of the issue is met (keys of
    :data:`CRITERIA`, ``"all"`` for all five, ``"mean_met"`` for the mean number met). A verdict near 0.5
    rests on seed noise at the tolerance's edge; near 0 or 1 it is firm. Reference: Efron and Tibshirani
    (1993), *An Introduction to the Bootstrap*, ch. 6.
    """
    from calibration.criteria import done_criteria

    if n_boot < 1 or len(point) == 0:
        raise ValueError(f"n_boot must be at least 1 (got {n_boot}) and there must be seeds (got {len(point)})")
    stats = [t.statistic for t in targets if t.statistic in point]
    vals = point[stats].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    passes = np.zeros(len(targets))
    met = dict.fromkeys(CRITERIA, 0)
    n_all, n_met = 0, 0
    for _ in range(n_boot):
        sample = vals[rng.integers(0, len(vals), len(vals))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column has a NaN median
            med = dict(zip(stats, np.nanmedian(sample, axis=0)))
        passes += [t.passes(med.get(t.statistic, np.nan)) for t in targets]
        ok = done_criteria(med, targets).met_each()
        for k, v in ok.items():
            met[k] += v
        n_all += all(ok.values())
        n_met += sum(ok.values())
    per_target = pd.Series(passes / n_boot, index=[t.statistic for t in targets], name="p_pass")
    per_criterion = {k: v / n_boot for k, v in met.items()} | {"all": n_all / n_boot, "mean_met": n_met / n_boot}
    return per_target, per_criterion


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


# Regional attributes that stand in for what the location rule draws on (sim/mechanisms/location.py):
# science base, density, TIR legacy, manufacturing base, assisted-area aid, size, and position (access).
MOVE_ATTRIBUTES = ("gerd_pc_gdp", "log_density", "tir", "manuf_share_1998", "assisted_area", "log_population",
                   "centroid_lat", "centroid_lon")


def observed_move_predictability() -> dict[str, float]:
    """How far the observed 1998-2016 regional moves of each ONS group follow from fixed regional
    attributes: each region's change in share is predicted by least squares on its 1998 share and
    :data:`MOVE_ATTRIBUTES`, fitted on the other regions (leave-one-region-out), and the predicted 2016
    shares are correlated with the observed ones. A model whose regions differ only by such attributes
    (plus its own 1998 map) can expect about this T5 correlation in 2016; the rest of the moves are
    region-specific shocks. Cross-validated because ten coefficients on 40 regions fit noise in-sample."""
    from sim import datasets, observed as obs

    r = datasets.load_regions().set_index("code")
    aided = set(datasets.load_assisted_areas()["region"])
    x = pd.DataFrame({
        "gerd_pc_gdp": r["gerd_pc_gdp"], "log_density": np.log(r["density_base"]), "tir": r["tir"].astype(float),
        "manuf_share_1998": r["manuf_share_1998"], "assisted_area": r.index.isin(aided).astype(float),
        "log_population": np.log(r["population_base"]), "centroid_lat": r["centroid_lat"],
        "centroid_lon": r["centroid_lon"]}, index=r.index)[list(MOVE_ATTRIBUTES)]
    g = obs.observed_gva_panel()
    out = {}
    for grp in obs.AM_ONS_GROUPS:
        a = g[(g["industry"] == grp) & (g["year"] == 1998)].set_index("region")["value"]
        b = g[(g["industry"] == grp) & (g["year"] == 2016)].set_index("region")["value"].reindex(a.index)
        out[grp] = loo_move_correlation((a / a.sum()).to_numpy(), (b / b.sum()).to_numpy(),
                                        x.reindex(a.index).to_numpy())
    return out


def loo_move_correlation(start: np.ndarray, end: np.ndarray, attributes: np.ndarray) -> float:
    """Correlation between ``end`` and its leave-one-out prediction ``start + fitted change``, the change
    ``end - start`` regressed (least squares, with an intercept) on ``start`` and the columns of
    ``attributes`` over all units but the one predicted."""
    design = np.column_stack([np.ones(len(start)), start, attributes])
    pred = np.empty(len(start))
    for i in range(len(start)):
        keep = np.arange(len(start)) != i
        coef, *_ = np.linalg.lstsq(design[keep], (end - start)[keep], rcond=None)
        pred[i] = start[i] + design[i] @ coef
    return float(np.corrcoef(pred, end)[0, 1])


def done_summary(tab: pd.DataFrame, targets, probs: dict | None = None, n_seeds: int | None = None) -> list[str]:
    """The issue's definition of done, criterion by criterion, from the target table (point medians);
    the counts are those of :func:`calibration.criteria.done_criteria`, by which candidates are ranked.
    ``probs`` (the per-criterion result of :func:`verdict_probabilities`) adds how often each criterion
    is met when the ``n_seeds`` seeds are resampled."""
    from calibration.criteria import LQ_NEEDED, T2_GROUPS_NEEDED, T5_MIN_CORR, U_SHAPE_NEEDED, done_criteria
    from calibration.summary import GROUP_KEY

    by = tab.set_index("statistic")
    med, ok = by["point_median"], by["passes"]
    crit = done_criteria(med.to_dict(), targets)
    t1 = [s for s in tab["statistic"] if s.startswith("t1_") and s != "t1_total_change_gbp_m"]
    worst = max(t1, key=lambda s: abs(med[s] - float(by.loc[s, "observed"])))
    worst_gap = abs(med[worst] - float(by.loc[worst, "observed"]))
    t2_groups = [g for g, k in GROUP_KEY.items() if ok.get(f"t2_theil_{k}_1998", False)
                 and ok.get(f"t2_theil_{k}_2016", False) and ok.get(f"t2_theil_change_{k}", False)]
    lq = [s for s in tab["statistic"] if s.startswith("t3_lq_margin_")]
    # the lower of the two years; NaN (a year without a value) shows as missing, not as the other year's value
    t5 = {g: float(np.min([med.get(f"t5_corr_{k}_1998", np.nan), med.get(f"t5_corr_{k}_2016", np.nan)]))
          for g, k in GROUP_KEY.items()}
    pers = observed_persistence()
    cells = [
        ("t1", f"T1 cells within 3 pp with the right sign | {len(t1)} of {len(t1)} | {crit.t1_cells} of {len(t1)} "
               f"(largest miss: {worst.removeprefix('t1_')}, {worst_gap:.1f} pp)"),
        ("t2", f"T2 observed Theil within tolerance in 1998 and 2016, trend of the same sign | {T2_GROUPS_NEEDED} of {len(GROUP_KEY)} groups | "
               f"{crit.t2_groups} of {len(GROUP_KEY)} ({', '.join(t2_groups) or 'none'})"),
        ("u_shape", f"T2 decline then rise | most ({U_SHAPE_NEEDED}) of 8 industries | {crit.u_shape:.0f} of 8"),
        ("lq", f"T3 LQ directions right | {LQ_NEEDED} of 8 industries | {crit.lq_directions} of {len(lq)} (other "
               "transport has no LQ fact in the source)"),
        ("t5", f"T5 regional correlation at least {T5_MIN_CORR}, 1998 and 2016 | {len(GROUP_KEY)} of {len(GROUP_KEY)} "
               f"groups | {crit.t5_groups} of {len(GROUP_KEY)}; lowest of the two years by group: "
               + ", ".join(f"{g} {v:.2f}" if np.isfinite(v) else f"{g} missing" for g, v in t5.items())),
    ]
    if probs is None:
        rows = [f"Criteria met: **{crit.met} of 5**.", "", "| criterion | required | reached |", "|---|---|---|",
                *(f"| {c} |" for _, c in cells)]
    else:
        rows = [f"Criteria met: **{crit.met} of 5**. Resampling the {f'{n_seeds} ' if n_seeds else ''}seeds (bootstrap, "
                f"{PROB_NOTE}), the median meets all five in {probs['all']:.0%} of resamples and "
                f"{probs['mean_met']:.2f} criteria on average.", "",
                "| criterion | required | reached | share of resamples meeting it |", "|---|---|---|---|",
                *(f"| {c} | {probs[k]:.0%} |" for k, c in cells)]
    rows += [
        "",
        "For T5, the observed 1998 shares alone predict the observed 2016 shares with correlation "
        + ", ".join(f"{g} {v:.2f}" for g, v in pers.items())
        + ": below 0.8 for some groups, so a model can pass 2016 there only by reproducing the 1998-2016 moves, not "
        "by holding the 1998 map. Part of the 1973 state is the 1998 map of each sector's group "
        "(`legacy_sector_1998`), so the 1998 T5 targets are not an independent test. Nor do the moves follow "
        "from the regions' lasting attributes: predicting each region's 1998-2016 change in share from its 1998 "
        "share and " + ", ".join(MOVE_ATTRIBUTES) + " (least squares fitted on the other regions) gives 2016 "
        "correlations of " + ", ".join(f"{g} {v:.2f}" for g, v in observed_move_predictability().items())
        + ". Where these are below 0.8, passing 2016 takes region-specific change (closures and openings that "
        "those attributes do not predict), which a model driven by them reproduces only by chance.",
        "",
        _lq_data_sentence(),
    ]
    return rows


def cost_text(prov: dict) -> str:
    """What a calibration step cost, from its provenance table (model runs, wall-clock minutes on the
    machine that ran it), or "" when it was not recorded (steps before stop 28)."""
    parts = []
    if "simulation_runs" in prov:
        mins = prov.get("sampling_minutes", prov.get("search_minutes"))
        parts.append(f"{prov['simulation_runs']:,} model runs" + (f" in {mins:g} min" if mins is not None else ""))
    if "rerun_runs" in prov:
        parts.append(f"{prov['rerun_runs']:,} runs on fresh seeds to choose the point, in {prov['rerun_minutes']:g} min")
    return ", then ".join(parts)


def _lq_data_sentence() -> str:
    """One sentence for the definition-of-done summary: how many LQ rules the public NUTS-2 data meet."""
    from sim.report import LQ_YEARS_ONS, observed_lq_margins

    o = observed_lq_margins()
    ok = o.loc[o["data_meet_rule"], "sector"]
    return (f"For T3, the public NUTS-2 GVA data themselves meet the LQ rules for {len(ok)} of {len(o)} sectors "
            f"({', '.join(ok) or 'none'}), applied to each sector's ONS group from {LQ_YEARS_ONS[0]} to "
            f"{LQ_YEARS_ONS[1]} (section T3). Where a group's data fail a rule, a model that tracks the data (T2, T5) "
            "can meet the rule for the sector only by moving the sector against its group's observed pattern, for "
            "example within a group it shares with another sector.")


def lq_agreement(point: pd.DataFrame) -> pd.DataFrame:
    """:func:`sim.report.observed_lq_margins` plus the model's margins on the same footing (statistics
    ``t3_lq_margin_group_<sector>``, median over the seeds of ``point``) and whether the model's verdict is
    the data's (``agree``: True, False, or NaN where the model's margin is missing)."""
    from sim.report import observed_lq_margins

    o = observed_lq_margins()
    o["model_margin"] = [float(np.nanmedian(point[f"t3_lq_margin_group_{s}"])) if point[f"t3_lq_margin_group_{s}"]
                         .notna().any() else np.nan for s in o["sector"]]
    o["agree"] = [(m >= 0) == d if np.isfinite(m) else np.nan for m, d in zip(o["model_margin"], o["data_meet_rule"])]
    return o


def _lq_caption(o: pd.DataFrame, model: bool) -> str:
    from sim.report import LQ_YEARS_ONS

    y0, y1 = LQ_YEARS_ONS
    text = ("The source's LQ facts are for 1995-2015 on TIR districts. Applied to each sector's ONS group in the "
            f"public NUTS-2 GVA data from {y0} to {y1} (the nearest these data come), the rules hold for "
            f"**{int(o['data_meet_rule'].sum())} of {len(o)}** sectors. Chemicals (rising) and pharmaceuticals "
            "(falling) share a group, whose TIR LQ cannot both rise and fall, so at most "
            f"{len(o) - 1} of {len(o)} can hold at this resolution (the observed group also includes petroleum, "
            "SIC 19, which the model does not). Margin: the smallest margin of the rule's conditions (positive = the "
            "rule holds). BRES: the sector's own TIR minus non-TIR mean LQ in 2015 employment (the level part of "
            "the rules, by sector).")
    if model:
        known = o[o["agree"].notna()]
        both_fail = int(((known["model_margin"] < 0) & ~known["data_meet_rule"]).sum())
        text += (f" On the same footing the model (its groups, {y0}-{y1}, median over the seeds) agrees with the "
                 f"data's verdict for **{int(known['agree'].astype(bool).sum())} of {len(known)}** sectors, "
                 f"{both_fail} of them rules that both fail: a model failing every rule would agree on "
                 f"{int((~o['data_meet_rule']).sum())}, so the margins say more than the count.")
    return text


def lq_data_lines(point: pd.DataFrame | None = None) -> list[str]:
    """Markdown: the T3 LQ rules applied to the public NUTS-2 data (:func:`sim.report.observed_lq_margins`)
    and, when the point ensemble's per-seed statistics are given, the model's margins on the same footing
    (:func:`lq_agreement`)."""
    from sim.report import LQ_YEARS_ONS, observed_lq_margins

    y0, y1 = LQ_YEARS_ONS
    model = point is not None and all(f"t3_lq_margin_group_{s}" in point for s in observed_lq_margins()["sector"])
    o = lq_agreement(point) if model else observed_lq_margins()
    head = (f"| sector | rule | ONS group | TIR LQ {y0} to {y1} | non-TIR LQ {y0} to {y1} | data margin | "
            "data meet the rule | " + ("model margin, same footing (point median) | model agrees with the data | "
                                       if model else "") + "BRES 2015 TIR minus non-TIR |")
    lines = [f"### T3 LQ rules on the public data (ONS GVA, NUTS-2, {y0}-{y1})", "", _lq_caption(o, model), "",
             head, "|---|---|---|---|---|---|---|" + ("---|---|" if model else "") + "---|"]
    for r in o.itertuples():
        m = ""
        if model:
            m = (f" {r.model_margin:+.3f} | {'yes' if r.agree else 'no'} |" if np.isfinite(r.model_margin)
                 else " n/a | n/a |")
        lines.append(f"| {r.sector} | {r.rule} | {r.ons_group} | {getattr(r, f'tir_{y0}'):.2f} to "
                     f"{getattr(r, f'tir_{y1}'):.2f} | {getattr(r, f'nontir_{y0}'):.2f} to {getattr(r, f'nontir_{y1}'):.2f} "
                     f"| {r.observed_margin:+.3f} | {'yes' if r.data_meet_rule else 'no'} |{m} "
                     f"{r.bres_2015_tir_minus_nontir:+.2f} |")
    return lines + [""]


def regional_fit(shares: pd.DataFrame) -> pd.DataFrame:
    """Simulated regional shares (median and 90% band over the seeds) against the observed ONS GVA shares,
    per T5 year, ONS group and region: ``year, group, region, name, observed, sim_median, sim_q05,
    sim_q95, error`` (simulated median minus observed; shares, not percent)."""
    from calibration.summary import GROUP_KEY, _observed_ons_shares
    from sim import datasets

    oyears, ogroups, os_ = _observed_ons_shares()
    regions = datasets.load_regions()
    codes, names = regions["code"].to_list(), dict(zip(regions["code"], regions["name"]))
    q = shares.groupby(["year", "group", "region"], observed=True)["share"]
    sim = pd.DataFrame({"sim_median": q.median(), "sim_q05": q.quantile(0.05), "sim_q95": q.quantile(0.95)})
    rows = []
    for y in SHARE_YEARS:
        if y not in oyears:
            continue
        for g in GROUP_KEY:
            rows.append(pd.DataFrame({"year": y, "group": g, "region": codes, "name": [names[c] for c in codes],
                                      "observed": os_[oyears.index(y), ogroups.index(g), :]}))
    out = pd.concat(rows, ignore_index=True).join(sim, on=["year", "group", "region"])
    out["error"] = out["sim_median"] - out["observed"]
    return out


def largest_misses(fit: pd.DataFrame, year: int = 2016, k: int = 3) -> pd.DataFrame:
    """The ``k`` regions of each ONS group whose simulated median share is furthest from the observed one."""
    sub = fit[fit["year"] == year].assign(gap=lambda d: d["error"].abs())
    return (sub.sort_values(["group", "gap"], ascending=[True, False]).groupby("group", sort=False).head(k)
            .drop(columns="gap"))


def _regional_figure(fit: pd.DataFrame, year: int, path: Path) -> None:
    sub = fit[fit["year"] == year]
    groups = list(dict.fromkeys(sub["group"]))
    if not groups:
        return
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.5))
    for ax, g in zip(axes.ravel(), groups):
        d = sub[sub["group"] == g]
        x, y = 100 * d["observed"].to_numpy(), 100 * d["sim_median"].to_numpy()
        lo, hi = 100 * d["sim_q05"].to_numpy(), 100 * d["sim_q95"].to_numpy()
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o", ms=3.5, color="tab:blue", ecolor="0.7", lw=0.8)
        top = max(float(np.nanmax(hi)), float(np.nanmax(x))) * 1.05
        ax.plot([0, top], [0, top], color="black", lw=0.8)
        for i in np.argsort(-np.abs(y - x))[:3]:
            ax.annotate(d["region"].iloc[i], (x[i], y[i]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        r = np.corrcoef(x, y)[0, 1] if np.isfinite(y).all() else np.nan
        ax.set_title(f"{g}: correlation of the medians {r:.2f}", fontsize=9)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel(f"observed share of GB GVA {year}, % (ONS)", fontsize=8)
        ax.set_ylabel("simulated share, % (median, 90% band)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    fig.suptitle(f"Regional shares of each ONS group in {year}: calibrated model against observed "
                 "(one dot per NUTS-2 region; on the line = exact; labels: the three largest misses)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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


def median_map_correlations(fit: pd.DataFrame) -> pd.DataFrame:
    """Per T5 year and ONS group, the correlation across regions of the seeds' median regional shares with
    the observed ones (``year, group, corr``): against the T5 statistics (one correlation per seed, then
    the median), it shows how much of a shortfall is single-run noise and how much the expected map."""
    rows = []
    for (y, g), d in fit.groupby(["year", "group"], sort=False):
        ok = d["observed"].notna() & d["sim_median"].notna()
        rows.append({"year": y, "group": g, "corr": float(np.corrcoef(d.loc[ok, "observed"], d.loc[ok, "sim_median"])[0, 1])})
    return pd.DataFrame(rows)


def regional_moves(shares: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """How much of each ONS group's output changes region between 1998 and 2016, observed and simulated:
    the dissimilarity index ``0.5 sum_r |s_r,2016 - s_r,1998|`` (the share of output that would have to
    move to turn one map into the other; Duncan and Duncan 1955), per seed for the model (median and 90%
    band), and the correlation across regions between the simulated (seeds' median) and the observed
    changes in share: whether the model's moves go where the data's went. One row per group.

    It also splits the 2016 T5 correlation of the seeds' median map with the observed one (``corr_model``)
    into what the model's 1998 map and what its moves contribute, by swapping one of the two: ``corr_held`` is the
    correlation the model's own 1998 map would reach if it did not move at all, ``corr_model_start_observed_moves``
    that of its 1998 map plus the observed 1998-2016 changes, and ``corr_observed_start_model_moves`` that of
    the observed 1998 map plus its changes (shares below zero set to zero). The first shows whether the
    moves help or hurt, the other two which of the start and the moves stands between the model and 0.8."""
    w = shares.pivot_table(index=["seed", "group", "region"], columns="year", values="share", observed=True)
    if not {1998, 2016} <= set(w.columns):
        return pd.DataFrame(columns=["group", "observed_moved", "sim_moved", "sim_moved_q05", "sim_moved_q95",
                                     "direction_corr", "corr_model", "corr_held", "corr_model_start_observed_moves",
                                     "corr_observed_start_model_moves"])
    # a seed in which the group has no output in either year has no map to compare: left out, not "moved 0"
    by = ["seed", "group"]
    moved = (0.5 * (w[2016] - w[1998]).abs()).groupby(level=by, observed=True).sum()
    moved = moved[~w[[1998, 2016]].isna().any(axis=1).groupby(level=by, observed=True).any()]
    f = fit.pivot_table(index=["group", "region"], columns="year", values=["observed", "sim_median"])
    rows = []
    for g, m in moved.groupby(level="group", observed=True):
        if g not in f.index.get_level_values("group"):  # the simulated cube has groups the T5 targets do not
            continue
        d = f.loc[g]
        o98, o16, s98 = d[("observed", 1998)], d[("observed", 2016)], d[("sim_median", 1998)]
        do, ds = o16 - o98, d[("sim_median", 2016)] - s98
        rows.append({"group": g, "observed_moved": float(0.5 * do.abs().sum()), "sim_moved": float(m.median()),
                     "sim_moved_q05": float(m.quantile(0.05)), "sim_moved_q95": float(m.quantile(0.95)),
                     "direction_corr": _corr(do, ds),
                     "corr_model": _corr(d[("sim_median", 2016)], o16), "corr_held": _corr(s98, o16),
                     "corr_model_start_observed_moves": _corr((s98 + do).clip(lower=0), o16),
                     "corr_observed_start_model_moves": _corr((o98 + ds).clip(lower=0), o16)})
    return pd.DataFrame(rows)


def _corr(a: pd.Series, b: pd.Series) -> float:
    """Correlation across regions, NaN where either map (or change) is constant or missing."""
    ok = a.notna() & b.notna()
    if ok.sum() < 3 or a[ok].std() < 1e-12 or b[ok].std() < 1e-12:
        return np.nan
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _moves_lines(moves: pd.DataFrame) -> list[str]:
    if moves.empty:
        return []
    lines = ["How far the regional map moves, 1998-2016: the share of each group's output that changes region "
             "(dissimilarity index of the 1998 and 2016 maps; per seed for the model, median and 90% band), and "
             "the correlation across regions between the simulated changes in share (the seeds' median map) and "
             "the observed ones. The last three columns split the 2016 correlation of the seeds' median map with "
             "the observed one by swapping the start or the moves: the model's 1998 map held unchanged, the "
             "model's 1998 map plus the observed 1998-2016 changes, and the observed 1998 map plus the model's "
             "changes.", "",
             "| group | observed moved % | simulated moved % (90% band) | correlation of the changes | "
             "2016 corr., model's 1998 map held | model's 1998 map + observed moves | observed 1998 map + model's "
             "moves |",
             "|---|---|---|---|---|---|---|"]
    for r in moves.itertuples():
        lines.append(f"| {r.group} | {100 * r.observed_moved:.1f} | {100 * r.sim_moved:.1f} "
                     f"({100 * r.sim_moved_q05:.1f} to {100 * r.sim_moved_q95:.1f}) | {_fmt_corr(r.direction_corr)} | "
                     f"{_fmt_corr(r.corr_held)} | {_fmt_corr(r.corr_model_start_observed_moves)} | "
                     f"{_fmt_corr(r.corr_observed_start_model_moves)} |")
    return [*lines, "", _moves_verdict(moves), ""]


def _fmt_corr(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.2f}"


def _moves_verdict(moves: pd.DataFrame) -> str:
    """Which of the 1998 map and the 1998-2016 moves keeps each group whose seeds' median map of 2016 is
    below the T5 criterion from it, by the swaps of :func:`regional_moves`, and how much the model's moves
    change the 2016 correlation against its own 1998 map held still."""
    from calibration.criteria import T5_MIN_CORR as t

    below = moves["corr_model"] < t
    start_ok = moves["corr_model_start_observed_moves"] >= t
    moves_ok = moves["corr_observed_start_model_moves"] >= t
    kinds = {
        "the model's moves (its 1998 map would reach it with the observed moves; the observed 1998 map does not "
        "with the model's moves)": start_ok & ~moves_ok,
        "the model's 1998 map (the observed 1998 map would reach it with the model's moves; the model's map does "
        "not with the observed moves)": ~start_ok & moves_ok,
        "both (neither swap reaches it)": ~start_ok & ~moves_ok,
        "neither alone (both swaps reach it)": start_ok & moves_ok,
    }
    parts = [f"{', '.join(moves.loc[below & m, 'group'])}: {k}" for k, m in kinds.items() if (below & m).any()]
    gain = moves["corr_model"] - moves["corr_held"]
    text = (f"What keeps the seeds' median map of 2016 below a correlation of {t:g}: " + "; ".join(parts) + "."
            if parts else f"The seeds' median map of 2016 reaches a correlation of {t:g} in every group.")
    return (text + " Against its own 1998 map held still, the model's moves change the 2016 correlation by "
            + ", ".join(f"{g} {d:+.2f}" for g, d in zip(moves["group"], gain) if np.isfinite(d)) + ".")


def _misses_lines(fit: pd.DataFrame, year: int = 2016) -> list[str]:
    miss = largest_misses(fit, year)
    if miss.empty:
        return []
    mm = median_map_correlations(fit)
    mm = mm[mm["year"] == year]
    lines = [f"The seeds' median map of {year} correlates with the observed one: "
             + ", ".join(f"{r.group} {r.corr:.2f}" for r in mm.itertuples())
             + " (the T5 targets take the median of one correlation per seed, which single-run noise can lower).", "",
             f"Where the regional shares miss in {year}: the three regions of each group furthest from the observed "
             "share (simulated median and 90% band over the seeds; every region in `regional_shares.csv`).", "",
             "| group | region | observed % | simulated % (90% band) |", "|---|---|---|---|"]
    for r in miss.itertuples():
        lines.append(f"| {r.group} | {r.region} {r.name} | {100 * r.observed:.1f} | {100 * r.sim_median:.1f} "
                     f"({100 * r.sim_q05:.1f} to {100 * r.sim_q95:.1f}) |")
    return [*lines, "", f"![regional shares {year}](regional_shares_{year}.png)", ""]


def _fmt(v) -> str:
    """A provenance value as the report prints it: numbers compactly (``%g``), anything else as is."""
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


RANK_FIELDS = (("t1_cells", "T1 cells"), ("criteria_met", "criteria"), ("t1_firm", "T1 cells firmly met"),
               ("criterion_units", "criterion units"), ("passes", "targets passed"))


def score_text(rec: dict) -> str:
    """A candidate's criteria record (:meth:`calibration.criteria.DoneCriteria.as_row`) in the order in which
    candidates are ranked, the distance last; fields missing from older records are left out."""
    parts = [f"{rec[k]:g} {label}" for k, label in RANK_FIELDS if k in rec]
    return ", ".join(parts + ([f"distance {rec['distance']:.1f}"] if "distance" in rec else []))


def _verification_line(who: str, v: dict) -> str:
    """One sentence on a verification (:func:`calibration.run._verified`): a challenger that ranked above
    the point on the confirmation seeds, re-run with the point on seeds on which it was not chosen."""
    seeds, ch, pt = v.get("seeds", []), v.get("challenger", {}), v.get("previous_point", {})
    where = (f"{len(seeds)} verification seeds ({seeds[0]}-{seeds[-1]}), on which it was not chosen" if seeds
             else "the verification seeds")
    score = (f" (there: {score_text(ch)}; the point it was checked against: {score_text(pt)})" if ch and pt else "")
    if v.get("outcome") == "challenger adopted":
        return f"{who} also ranked above the point it replaced on {where}{score}."
    return (f"{who} ranked above the point on the confirmation seeds but not on {where}{score}; "
            "the point was kept.")


def write_calibration_report(out: str | Path, seeds: int = 50, workers: int = 2, calib_dir: Path = HERE) -> Path:
    """Evaluate ``calib_dir/calibrated.toml`` (and ``posterior.csv``) against every target, on ``seeds``
    seeds from ``REPORT_SEED0`` (at most 1,000, so that they stay clear of the verification seeds)."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= VERIFY_SEED0 - REPORT_SEED0:
        raise ValueError(f"--seeds {seeds!r}: the report takes 1 to {VERIFY_SEED0 - REPORT_SEED0} seeds "
                         f"({REPORT_SEED0}...; seeds {VERIFY_SEED0}... verify the calibration's choices)")
    calib_dir = Path(calib_dir)
    if not (calib_dir / "calibrated.toml").is_file():
        raise FileNotFoundError(f"{calib_dir / 'calibrated.toml'}: no point estimate to report on (the folder of "
                                "calibrated.toml and posterior.csv, default calibration/)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    targets = load_targets()
    cfg = CalibrationConfig.load()
    point_p = calibrated_params(calib_dir / "calibrated.toml")
    s = list(range(REPORT_SEED0, REPORT_SEED0 + seeds))  # seeds not used during calibration
    point, shares = ensemble([point_p] * seeds, s, workers)
    has_post = (calib_dir / "posterior.csv").is_file()
    stale = stale_posterior(calib_dir) if has_post else None
    use_post = has_post and not stale
    pred = ensemble_statistics(posterior_draws(seeds, calib_dir / "posterior.csv"), s, workers) if use_post else None
    p_pass, probs = verdict_probabilities(point, targets, n_boot=N_BOOT)
    tab = target_table(point, pred, targets, p_pass)
    tab.to_csv(out / "targets.csv", index=False)
    fit = regional_fit(shares)
    fit.to_csv(out / "regional_shares.csv", index=False)
    moves = regional_moves(shares, fit)
    moves.to_csv(out / "regional_moves.csv", index=False)
    _regional_figure(fit, 2016, out / "regional_shares_2016.png")
    for g in ("T1", "T2", "T3", "T4", "T5"):
        _figure(tab, g, out / f"targets_{g}.png")
    post = pd.read_csv(calib_dir / "posterior.csv") if use_post else None
    prov = tomllib.loads((calib_dir / "calibrated.toml").read_text())["provenance"]
    if post is not None:
        _posterior_figure(post, cfg, out / "posterior.png", prov.get("posterior", {}).get("priors"))
    shown = "calibration/calibrated.toml" if calib_dir.resolve() == HERE.resolve() else str(calib_dir / "calibrated.toml")
    lines = ["# Calibration report", "", f"Point estimate from `{shown}` ({prov.get('date', '?')}): "
             f"{prov.get('method', '?')}" + (f"; {prov['point_estimate']}" if prov.get("point_estimate") else "") + "."]
    if prov.get("changes"):
        was = prov.get("changed_from", {})
        lines.append("Changed: " + ", ".join(f"{k} = {_fmt(v)}" + (f" (from {_fmt(was[k])})" if k in was else "")
                                             for k, v in prov["changes"].items()) + f"; why: {prov.get('why', '?')}")
    if "evaluated_points" in prov:
        lines.append(f"Search: {prov['evaluated_points']} parameter points x {len(prov['seeds_per_point'])} seeds, "
                     f"{prov['generations']} generations, {len(prov.get('free_parameters', []))} free parameters; "
                     f"distance {prov['point_distance_fresh_seeds']:.1f} on fresh seeds.")
    rp = prov.get("replaced_point")
    if rp:
        was = rp.get("confirm_seeds", {})
        lines.append(f"It replaced the point of: {rp.get('method', '?')}" + (
            f" ({score_text(was)} on the same fresh seeds" + (
                f"; this point there: {score_text(prov['point_confirm_seeds'])}" if prov.get("point_confirm_seeds")
                else "") + ")" if was else "") + ".")
    ls = prov.get("last_search")
    checks = [(who, v) for who, v in (("It", prov.get("verification")), ("The posterior's best particle", (
        prov.get("posterior") or {}).get("best_particle_verification"))) if v]
    for who, v in checks:
        lines.append(_verification_line(who, v))
    if ls and ls.get("verification"):
        lines.append(_verification_line(
            f"A later {'search' if 'evaluated_points' in ls or 'budget_points' in ls else 'step'} "
            f"({ls.get('date', '?')})", ls["verification"]))
    elif ls and ls.get("outcome", "").startswith("previous point kept"):
        got, had = ls.get("point_confirm_seeds", {}), ls.get("previous_point_confirm_seeds", {})
        what = (f"A later hand-set change ({ls.get('date', '?')}: "
                f"{', '.join(f'{k} = {_fmt(v)}' for k, v in ls['changes'].items())})" if "changes" in ls else
                f"A later search ({ls.get('date', '?')}: {ls.get('evaluated_points', '?')} points, "
                f"{len(ls.get('free_parameters', []))} free parameters)")
        n = len(ls.get("fresh_seeds", []))
        lines.append(f"{what} did not rank above this point on the same {n or ''} fresh seeds".replace("  ", " ") + (
                         f" (its best: {score_text(got)}; this point: {score_text(had)})"
                         if got and had else "") + "; the point was kept.")
    if prov.get("rule_applied"):
        lines.append(f"Rule applied {prov['rule_applied']}.")
    if cost := cost_text(prov):
        lines.append(f"Cost of the step that set this point: {cost}.")
    if ls and (cost := cost_text(ls)):
        lines.append(f"Cost of the later step ({ls.get('date', '?')}): {cost}.")
    pp = prov.get("posterior")
    if pp:
        lines.append(f"Posterior (`posterior.csv`): {pp['method']}; {len(pp['free_parameters'])} free parameters, "
                     f"{pp['simulated_points']} points x {len(pp['seeds_per_point'])} seeds, {pp['generations']} "
                     f"generations, {pp['accepted_particles']} particles, final epsilon {pp['final_epsilon']:.1f}, "
                     f"effective sample size {pp['effective_sample_size']:.1f}"
                     + (f"; cost: {cost}" if (cost := cost_text(pp)) else "") + ".")
    if stale:
        lines.append(f"No posterior-predictive band or posterior figure: {stale}.")
    lines += [f"Evaluated here on {seeds} fresh seeds ({REPORT_SEED0}-{REPORT_SEED0 + seeds - 1}); pass/miss is decided by the point "
              "estimate's median" + ("; the posterior-predictive band draws one parameter set from the posterior per seed."
                                     if pred is not None else "."),
              "", "## Definition of done (issue 4)", "", *done_summary(tab, targets, probs, seeds), ""]
    for g in ("T1", "T2", "T3", "T4", "T5"):
        sub = tab[tab["group"] == g]
        lines.append(f"## {g}: {int(sub['passes'].sum())} of {len(sub)} targets pass")
        lines.append("")
        lines.append("| target | kind | observed | tol | point median (90% band) | posterior pred. median (90% band) | pass "
                     "| P(pass) |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in sub.itertuples():
            pp = (f"{r.pred_median:.3g} ({r.pred_q05:.3g} to {r.pred_q95:.3g})"
                  if pred is not None and np.isfinite(getattr(r, "pred_median", np.nan)) else "n/a")
            lines.append(f"| {r.name} | {r.kind} | {r.observed:g} | {r.tolerance:g} | {r.point_median:.3g} "
                         f"({r.point_q05:.3g} to {r.point_q95:.3g}) | {pp} | {'PASS' if r.passes else '**MISS**'} "
                         f"| {r.p_pass:.2f} |")
        lines += ["", f"![{g}](targets_{g}.png)", ""]
        if g == "T3":
            lines += lq_data_lines(point)
        if g == "T5":
            lines += _misses_lines(fit) + _moves_lines(moves)
    if post is not None:
        lines += ["## Posterior", "", "![posterior](posterior.png)", ""]
    lines += [f"**{int(tab['passes'].sum())} of {len(tab)} targets pass** on the point estimate's {seeds}-seed median "
              f"(on average {tab['p_pass'].sum():.1f} over bootstrap resamples of the seeds).", "",
              "P(pass): the share of bootstrap resamples of the seeds (with replacement, "
              f"{N_BOOT:,}) in which the target's median passes; near 0.5 the verdict rests on seed noise at the "
              "tolerance's edge."]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return out / "report.md"
