"""Parameter-recovery check: can the calibration find parameters that we know?

1. Choose known ("true") parameters: the shipped point estimate (``calibrated.toml``) by default, or the
   middle of each prior range.
2. Simulate the targets' statistics there, on seeds that the search never runs (the recovery block of
   ``calibration/seeds.py``), and replace every target's observed value by them (same tolerances and
   weights; one-sided targets become two-sided at the simulated value). On the search's own seeds the
   truth would reproduce the pseudo-data exactly, which real data never allow.
3. Run the same ABC-SMC (priors, kernel, population) against these pseudo-data; the history is SQLite,
   so a killed check resumes (``resume=True``).
4. For every free parameter: is the truth inside the posterior's 90% band (recovered)? Is the band
   narrower than half the prior's range (identified by the targets)? Beside it, the same band ratio of
   the shipped posterior (``posterior.csv``): where the real data leave a parameter much less certain
   than pseudo-data from the model itself, the gap is the model's misfit, not the targets' silence.

Writes ``recovery.csv`` and ``recovery.md`` (and ``truth.json``, what a resumed check reuses) to the
output folder. Reference: Talts et al. (2018) on validating Bayesian inference by simulated data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.abc import (CONFIG_FILE, CalibrationConfig, SimulationModel, posterior_sample, run_abc,
                             sampling_seconds)
from calibration.seeds import RECOVERY_SEED0, seeds
from calibration.targets import Target, load_targets

TRUTHS = ("point", "middle")


def _wquantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    o = np.argsort(x)
    c = np.cumsum(w[o]) / w.sum()
    return float(x[o][np.searchsorted(c, q).clip(0, len(x) - 1)])


def pseudo_targets(truth: dict, cfg: CalibrationConfig, targets: list[Target],
                   data_seeds: list[int] | None = None) -> list[Target]:
    """The targets with their observed values replaced by the statistics simulated at ``truth``: the
    median over ``data_seeds`` (default: the search's own seeds, on which the truth then has distance
    zero)."""
    stats = SimulationModel(data_seeds or cfg.seeds, cfg.fixed)(truth)
    if stats.get("failed"):
        raise ValueError(f"recovery truth {truth}: the model failed at these parameters, so there are no pseudo-data")
    out = []
    for t in targets:
        v = stats.get(t.statistic, np.nan)
        if np.isfinite(v):
            # one-sided targets become two-sided at the simulated value; sign checks are dropped
            out.append(t.model_copy(update={"observed": float(v), "kind": "value", "sign": False}))
    return out


def choose_truth(kind: str, cfg: CalibrationConfig, point_file: str | Path) -> dict:
    """The known parameters: ``point`` (the free parameters' values in ``point_file``) or ``middle``
    (the middle of each prior range)."""
    if kind == "middle":
        return {p: (lo + hi) / 2 for p, (lo, hi) in cfg.bounds.items()}
    if kind == "point":
        from calibration.report import calibrated_params

        pt = calibrated_params(Path(point_file))
        missing = [p for p in cfg.free if p not in pt]
        if missing:
            raise ValueError(f"{point_file}: no value for the free parameter(s) {missing}")
        return {p: float(pt[p]) for p in cfg.free}
    raise ValueError(f"recovery truth {kind!r}: allowed values are {', '.join(TRUTHS)}")


def recovery(out: str | Path, *, budget: int, truth: str | dict = "point", config: str | Path = CONFIG_FILE,
             workers: int = 2, population_size: int | None = None, generations: int | None = None,
             data_seeds: list[int] | None = None, resume: bool = False, scheduler: str | None = None,
             shipped_posterior: str | Path | None = None, log=print) -> Path:
    """Run (or resume) the recovery check in ``out``; returns the path of ``recovery.md``.

    ``data_seeds`` default to one history (seed ``RECOVERY_SEED0``), as the real record is one history.
    """
    out = Path(out)
    cfg = CalibrationConfig.load(config)
    if population_size:
        cfg.population_size = population_size
    if generations:
        cfg.generations = generations
    db, kept = out / "recovery.db", out / "truth.json"
    if resume:
        if not kept.is_file():
            raise FileNotFoundError(f"--resume: no recovery check to continue in {out} (truth.json is missing)")
        saved = json.loads(kept.read_text())
        truth, data_seeds, label = saved["truth"], saved["data_seeds"], saved["label"]
    else:
        if db.exists():
            raise FileExistsError(f"{db} exists; use --resume to continue it, or choose another --out")
        label = truth if isinstance(truth, str) else "given"
        truth = choose_truth(truth, cfg, Path(config).with_name("calibrated.toml")) if isinstance(truth, str) else truth
        data_seeds = list(data_seeds or seeds(RECOVERY_SEED0, 1))
    unknown = sorted(set(cfg.free) - set(truth))
    if unknown:
        raise ValueError(f"recovery truth: no value for the free parameter(s) {unknown}")
    tg = pseudo_targets(truth, cfg, load_targets(), data_seeds)
    if not resume:
        out.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps({"label": label, "truth": truth, "data_seeds": data_seeds}, indent=1))
    log(f"recovery: {len(tg)} pseudo-targets from known parameters ({label}), data seeds {data_seeds}; "
        f"budget {budget}")
    h = run_abc(db, budget=budget, config=cfg, targets=tg, workers=workers, scheduler=scheduler, resume=resume,
                log=log)
    shipped = Path(shipped_posterior) if shipped_posterior else Path(config).with_name("posterior.csv")
    return write_recovery_report(out, h, truth, cfg, label=label, data_seeds=data_seeds,
                                 shipped=shipped if shipped.is_file() else None, seconds=sampling_seconds(db))


EDGE_SHARE = 0.01  # a truth this close to a prior bound (share of the range) is "at the edge"


def recovery_table(post: pd.DataFrame, truth: dict, cfg: CalibrationConfig,
                   shipped: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per free parameter: truth, weighted posterior median and 90% band, whether the band holds
    the truth, the band's width over the prior's, whether the truth lies at an edge of its prior (within
    ``EDGE_SHARE`` of the range: a central 90% band of a posterior confined to the prior cannot hold such
    a truth however well the targets identify it), and (with ``shipped``) the same width ratio of the
    shipped posterior."""
    rows = []
    for p in cfg.free:
        x, w = post[p].to_numpy(), post["weight"].to_numpy()
        lo, hi = _wquantile(x, w, 0.05), _wquantile(x, w, 0.95)
        plo, phi = cfg.bounds[p]
        row = {"parameter": p, "truth": truth[p], "posterior_median": _wquantile(x, w, 0.5),
               "q05": lo, "q95": hi, "recovered": lo <= truth[p] <= hi,
               "band_vs_prior": (hi - lo) / (phi - plo), "identified": (hi - lo) / (phi - plo) < 0.5,
               "at_prior_edge": min(truth[p] - plo, phi - truth[p]) < EDGE_SHARE * (phi - plo)}
        if shipped is not None and p in shipped:
            sx, sw = shipped[p].to_numpy(), shipped["weight"].to_numpy()
            row["shipped_band_vs_prior"] = (_wquantile(sx, sw, 0.95) - _wquantile(sx, sw, 0.05)) / (phi - plo)
        rows.append(row)
    return pd.DataFrame(rows)


def write_recovery_report(out: Path, history, truth: dict, cfg: CalibrationConfig, *, label: str,
                          data_seeds: list[int], shipped: Path | None = None, seconds: float = 0.0) -> Path:
    """``out/recovery.md`` and ``recovery.csv``. ``seconds``: the sampling time recorded for the history
    (summed over resumes); without it, the span from its start to its last generation (which counts the
    time between a kill and a resume too)."""
    tab = recovery_table(posterior_sample(history), truth, cfg, pd.read_csv(shipped) if shipped else None)
    tab.to_csv(out / "recovery.csv", index=False)
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    minutes = seconds / 60 if seconds > 0 else (
        pops["population_end_time"].max() - history.get_abc().start_time).total_seconds() / 60
    at_centre = sum(abs(truth[p] - sum(cfg.bounds[p]) / 2) < 0.01 * (cfg.bounds[p][1] - cfg.bounds[p][0])
                    for p in cfg.free)
    what = {"point": "the shipped point estimate (calibrated.toml)", "middle": "the middle of each prior range"}
    lines = ["# Parameter recovery", "",
             f"Pseudo-data simulated at known parameters ({what.get(label, 'given values')}): one model history "
             f"per data seed {data_seeds}, seeds the search never runs; the search judges each point by the "
             f"median over seeds {cfg.seeds}, as the calibration does. ABC-SMC with {cfg.population_size} "
             f"particles, kernel scaling {cfg.transition_scaling}: {history.max_t + 1} generations, "
             f"{history.total_nr_simulations} points simulated ({history.total_nr_simulations * len(cfg.seeds)} "
             f"runs, {minutes:.0f} min), epsilon {pops['epsilon'].iloc[0]:.3g} to {pops['epsilon'].iloc[-1]:.3g}.", "",
             f"Recovered (truth inside the posterior 90% band): {int(tab['recovered'].sum())} of {len(tab)}. "
             f"Identified (band narrower than half the prior range): {int(tab['identified'].sum())} of {len(tab)}.",
             "", f"The truth lies at the centre of its prior for {at_centre} of {len(tab)} parameters (the priors are "
             "local, centred on the point estimate, clipped at the documented ranges), where a posterior no "
             "narrower than the prior holds it trivially: read 'recovered' together with the band's width."]
    edge = tab[tab["at_prior_edge"]]
    if len(edge):
        missed = edge[~edge["recovered"]]
        lines[-1] += (f" The truth lies at an edge of its prior (within {EDGE_SHARE:.0%} of the range) for {len(edge)}: "
                      f"{', '.join(edge['parameter'])}. A central 90% band inside the prior cannot hold such a truth, so "
                      f"{len(missed)} of the {int((~tab['recovered']).sum())} misses are of this kind"
                      + (f" ({', '.join(missed['parameter'])})" if len(missed) else "") + ".")
    lines.append("")
    head = "| parameter | truth | posterior median | 90% band | band / prior range | recovered | identified |"
    rule = "|---|---|---|---|---|---|---|"
    if "shipped_band_vs_prior" in tab:
        head += " shipped posterior: band / prior range |"
        rule += "---|"
    lines += [head, rule]
    for r in tab.to_dict("records"):
        line = (f"| {r['parameter']} | {r['truth']:.4g} | {r['posterior_median']:.4g} | {r['q05']:.4g} to "
                f"{r['q95']:.4g} | {r['band_vs_prior']:.2f} | {'yes' if r['recovered'] else 'no'} | "
                f"{'yes' if r['identified'] else 'no'} |")
        if "shipped_band_vs_prior" in r:
            line += f" {r['shipped_band_vs_prior']:.2f} |"
        lines.append(line)
    if "shipped_band_vs_prior" in tab:
        lines += ["", "Shipped posterior: `posterior.csv` (the real data), its band over the same prior width (the "
                  "shipped calibration's prior was centred on the point it started from, so the widths are "
                  "comparable, the positions not)."]
    (out / "recovery.md").write_text("\n".join(lines) + "\n")
    return out / "recovery.md"
