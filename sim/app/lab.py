"""The lock-in lab page: many seeds of the same start at once.

1. *Where do clusters end up?* runs a world once per seed and shows, per sector, the distribution over
   regions of where its largest cluster is in 2016 (:func:`sim.app.experiments.cluster_endpoints`).
2. *Policy window* runs the same lever in two variants (by default the same region, early and late)
   against no policy on the same seeds (:func:`sim.app.experiments.policy_experiment`).

Runs happen in a background thread of the server (a Solara task) with a progress bar; the page stays
usable. The scenario files behind each result are shown for ``sim run`` / ``sim compare``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import solara
import solara.lab

from sim.figures import SECTOR_LABELS

from sim.app import experiments as E
from sim.app import figures as F
from sim.app import world as W

INTRO = """
**Lock-in lab.** Run many seeds of the same start at once. Choose a *world*, press **Run**, and read
where each sector's largest cluster ends up. In **Arthur's urn** all 40 regions start identical and
foreign entrants choose where to go only by how many plants of their sector are already there: small
early accidents decide which region wins, and the winner keeps winning. Compare with the
**calibrated history**, where the 1973 legacy and the regions' science, skills, access and costs
also count. Then try a **policy window**: the same policy early and late.
"""

SEED_MAX = 40


def _short(label: str) -> str:
    """The part of a world or lever label before its colon (for figure titles)."""
    return label.split(":", 1)[0]


def _agglo_default(world: str) -> float:
    return float(W.param_default("beta_agglomeration", W.world_key(world)))


# ------------------------------------------------------------------ background tasks (one per session)
@solara.lab.task(prefer_threaded=True)
def run_clusters(world: str, n_seeds: int, beta: float) -> E.ClusterResult | None:
    def progress(done, total):
        run_clusters.progress = 100.0 * done / total
        return run_clusters.is_current()

    try:
        return E.cluster_endpoints(world, range(n_seeds), beta_agglomeration=beta, progress=progress)
    except E.Cancelled:
        return None


@solara.lab.task(prefer_threaded=True)
def run_policy(world: str, n_seeds: int, beta: float, lever: str, intensity: float,
               variants: tuple[E.Variant, ...]) -> E.PolicyResult | None:
    def progress(done, total):
        run_policy.progress = 100.0 * done / total
        return run_policy.is_current()

    try:
        return E.policy_experiment(world, lever, intensity, list(variants), range(n_seeds),
                                   beta_agglomeration=beta, progress=progress)
    except E.Cancelled:
        return None


# ------------------------------------------------------------------ views of results
def cluster_table_md(res: E.ClusterResult) -> str:
    """The per-sector table of a cluster result, as Markdown."""
    uniform = W.world_params(res.world).get("initial_state") == "uniform"
    lines = ["| sector | different winning regions | most frequent winner (seeds) | median share of the winner | "
             "winner = 1973 leader |", "|---|---:|---|---:|---:|"]
    for row in res.table():
        lead = "n/a (identical start)" if uniform else f"{100 * row['same_as_start_leader']:.0f}% of seeds"
        lines.append(f"| {SECTOR_LABELS[row['sector']]} | {row['distinct_winners']} | "
                     f"{W.region_label(row['most_frequent_winner'])} ({row['most_frequent_seeds']}) | "
                     f"{100 * row['median_winner_share']:.0f}% | {lead} |")
    return "\n".join(lines)


def policy_table_md(res: E.PolicyResult) -> str:
    lines = [f"| variant | target | share {res.years[-1]}, no policy | with policy | effect, median (pp) | "
             "5-95% of seeds (pp) | seeds with a gain |", "|:---|:---|---:|---:|---:|---:|---:|"]
    for r in res.summary():
        lines.append(f"| {r['variant']} | {W.region_label(r['target'])} | {r['share_no_policy_pct']:.1f}% | "
                     f"{r['share_with_policy_pct']:.1f}% | {r['effect_median_pp']:+.1f} | "
                     f"{r['effect_lo_pp']:+.1f} to {r['effect_hi_pp']:+.1f} | {100 * r['seeds_positive']:.0f}% |")
    return "\n".join(lines)


def policy_paths(res: E.PolicyResult) -> dict:
    """Lines for :func:`sim.app.figures.policy_paths_figure`: no policy (dashed; grey when both variants
    target the same region, else in the variant's colour) and each variant (solid), medians and bands."""
    same_target = len(set(res.targets)) == 1
    paths = {}
    for k, lab in enumerate(res.labels):
        color = F.VARIANT_COLORS[k % len(F.VARIANT_COLORS)]
        b = res.baseline_for(k)
        key = f"no policy ({res.targets[k]})"
        if key not in paths:
            paths[key] = (np.median(b, axis=0), np.quantile(b, [0.05, 0.95], axis=0),
                          "0.35" if same_target else color, "--", None)
        v = res.variant_share[k]
        paths[lab] = (np.median(v, axis=0), np.quantile(v, [0.05, 0.95], axis=0), color, "-", res.windows[k])
    return paths


def command_line_md(scenarios, n_seeds: int, folder: str = "runs/lab") -> str:
    """How to rerun a result from the command line: the files and the command."""
    files = [f"{folder}/{sc.name}.toml" for sc in scenarios]
    if len(scenarios) == 1:
        cmd = (f"sim run {files[0]} --seed 0 --out runs/{scenarios[0].name}_seed0\n"
               f"sim run {files[0]} --seed 1 --out runs/{scenarios[0].name}_seed1\n"
               f"sim report runs/{scenarios[0].name}_seed0   # maps in report/; compare the two seeds")
    else:
        out = scenarios[1].name.rsplit("_", 1)[0]
        cmd = f"sim compare {' '.join(files)} --seeds {n_seeds} --workers 2 --out runs/{out}_compare"
    return (f"Save the scenario files (button below), then in a terminal (in a fresh checkout: `.venv/bin/sim`):\n\n"
            f"```sh\n{cmd}\n```\n\nSeed *k* of the command line is seed *k* here: the numbers are the same.")


def save_scenarios(scenarios, folder: Path = Path("runs/lab")) -> list[Path]:
    """Write each scenario as ``folder/NAME.toml``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for sc in scenarios:
        p = folder / f"{sc.name}.toml"
        note = "Written by the teaching app's lock-in lab (sim app); run it with sim run or sim compare."
        p.write_text(W.scenario_toml(sc, comment=note),
                     encoding="utf-8")
        out.append(p)
    return out


@solara.component
def CommandLine(scenarios, n_seeds: int):
    saved, set_saved = solara.use_state("")

    def save():
        set_saved("wrote " + ", ".join(str(p) for p in save_scenarios(scenarios)))

    with solara.Details("Run it from the command line"):
        solara.Markdown(command_line_md(scenarios, n_seeds))
        solara.Button("Save scenario files to runs/lab/", on_click=save, outlined=True)
        if saved:
            solara.Text(saved)
        for sc in scenarios:
            solara.Markdown(f"`{sc.name}.toml`\n\n```toml\n{W.scenario_toml(sc)}```")


# ------------------------------------------------------------------ the page
@solara.component
def VariantControls(name: str, region: solara.Reactive[str], start: solara.Reactive[int]):
    with solara.Row():
        solara.Text(f"Variant {name}", style={"min-width": "80px", "font-weight": "bold"})
        solara.Select(label=f"{name}: region", value=region, values=W.region_labels())
        solara.SliderInt(label=f"{name}: starts {start.value}", value=start, min=1974, max=2016)


@solara.component
def LockInLab():
    """The lock-in lab page."""
    from sim.app.pages import NavTabs

    world = solara.use_reactive(W.WORLDS["urn"])
    n_seeds = solara.use_reactive(20)
    beta = solara.use_reactive(_agglo_default("urn"))
    lever = solara.use_reactive(W.LEVERS["fdi_attraction"])
    intensity = solara.use_reactive(1.0)
    years = solara.use_reactive(10)
    region_a = solara.use_reactive(W.region_label("UKE3"))
    region_b = solara.use_reactive(W.region_label("UKE3"))
    start_a = solara.use_reactive(1975)
    start_b = solara.use_reactive(2000)
    lo, hi = W.param_range("beta_agglomeration")

    def set_world(label: str):
        world.set(label)
        beta.set(_agglo_default(label))

    NavTabs()
    with solara.AppBarTitle():
        solara.Text("amgeo teaching app: lock-in lab")
    with solara.Column(style={"max-width": "1100px"}):
        solara.Markdown(INTRO)
        with solara.Card("World"):
            solara.Select(label="World", value=world.value, on_value=set_world, values=list(W.WORLDS.values()))
            solara.SliderInt(label=f"Seeds: {n_seeds.value}", value=n_seeds, min=5, max=SEED_MAX)
            solara.SliderFloat(label=f"Agglomeration strength: {beta.value:.2f} ({lo:g}-{hi:g})", value=beta,
                               min=lo, max=hi, step=0.05)
            solara.Text(f"Each run: 1973-2016, {W.world_params(W.world_key(world.value))['n_plants_start']:,} plants "
                        "in 1973. Seeds 0 to N-1.", style={"font-size": "0.85em", "color": "#555"})

        with solara.Card("1. Where do clusters end up?"):
            solara.Button(f"Run {n_seeds.value} seeds", color="primary",
                          on_click=lambda: run_clusters(world.value, n_seeds.value, beta.value))
            if run_clusters.pending:
                solara.ProgressLinear(run_clusters.progress or True)
                solara.Text(f"running {n_seeds.value} seeds ...")
            res = run_clusters.value if run_clusters.finished else None
            if run_clusters.error:
                solara.Error(f"the run failed: {run_clusters.exception}")
            if res is not None:
                fig = F.winners_figure(res.counts(), res.region_codes, n_seeds=len(res.seeds), year=res.year,
                                       title=f"{_short(W.WORLDS[res.world])}: where each sector's largest cluster "
                                             f"is in {res.year}, {len(res.seeds)} seeds")
                solara.FigureMatplotlib(fig, format="png", dependencies=[id(res)])
                fig2 = F.winner_share_figure(res.winner_share, n_regions=len(res.region_codes), year=res.year,
                                             title="How much the winner takes (dot: one seed; bar: median)")
                solara.FigureMatplotlib(fig2, format="png", dependencies=[id(res), "shares"])
                solara.Markdown(cluster_table_md(res))
                solara.Markdown(
                    "*Read it:* in the heat map each row is a sector, each column a region; a number is how many "
                    "seeds end with the sector's largest output there. A few dark cells per row: history and the "
                    "regions' attributes pick the winner. Numbers spread over many regions while the winner "
                    "takes a large share (dots far right of the even spread): lock-in, with chance picking the "
                    "winner.")
                CommandLine([res.scenario], len(res.seeds))

        with solara.Card("2. Policy window: the same lever early and late"):
            solara.Select(label="Policy lever", value=lever, values=[v for k, v in W.LEVERS.items() if k != "none"])
            solara.SliderFloat(label=f"Intensity: {intensity.value:.1f} (0-10)", value=intensity, min=0.0, max=10.0,
                               step=0.1)
            solara.SliderInt(label=f"Policy length: {years.value} years", value=years, min=1, max=20)
            VariantControls("A", region_a, start_a)
            VariantControls("B", region_b, start_b)
            variants = (E.Variant(region_a.value, start_a.value, years.value),
                        E.Variant(region_b.value, start_b.value, years.value))
            solara.Button(f"Run policy experiment ({n_seeds.value} seeds x 3 runs)", color="primary",
                          on_click=lambda: run_policy(world.value, n_seeds.value, beta.value, lever.value,
                                                      intensity.value, variants))
            if run_policy.pending:
                solara.ProgressLinear(run_policy.progress or True)
                solara.Text(f"running {3 * n_seeds.value} simulations ...")
            if run_policy.error:
                solara.Error(f"the run failed: {run_policy.exception}")
            pres = run_policy.value if run_policy.finished else None
            if pres is not None:
                title = (f"{_short(W.WORLDS[pres.world])}: {_short(W.LEVERS[pres.lever])}, intensity "
                         f"{pres.intensity:g}, {len(pres.seeds)} seeds")
                fig = F.policy_paths_figure(pres.years, policy_paths(pres), title=title)
                solara.FigureMatplotlib(fig, format="png", dependencies=[id(pres), "paths"])
                fig2 = F.policy_effects_figure(pres.effects(), year=int(pres.years[-1]))
                solara.FigureMatplotlib(fig2, format="png", dependencies=[id(pres), "effects"])
                solara.Markdown(policy_table_md(pres))
                solara.Markdown(
                    "*Read it:* the effect is the target region's share with the policy minus its share without, "
                    "seed by seed (same seed: same luck otherwise). Same region, different start years: a window "
                    "of opportunity. Different regions, same start: the same policy in two places.")
                CommandLine(pres.scenarios, len(pres.seeds))
