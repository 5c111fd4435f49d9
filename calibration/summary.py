"""Summary statistics: simulation results -> the named moments that the targets compare.

Every statistic is computed per seed and summarised by the median over seeds, because the model is
stochastic and a parameter point is judged by an ensemble, not one run. Names match the
``statistic`` field of ``calibration/targets.toml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim import metrics as M
from sim import observed as obs
from sim import report
from sim.results import Results

GROUP_KEY = {"CD-CF (19-21)": "19_21", "CI (26)": "26", "CJ (27)": "27", "CK (28)": "28", "29": "29", "30": "30"}
LQ_RULES = {
    "pharmaceuticals": "falling", "computers_electronics_optical": "falling",
    "motor_vehicles": "switched", "electrical_equipment": "switched",
    "aerospace": "rising", "chemicals": "rising", "machinery": "rising",
}
CONCENTRATED = ("pharmaceuticals", "motor_vehicles", "other_transport", "aerospace")
DISPERSED = ("computers_electronics_optical", "machinery", "electrical_equipment")


def _pivot(m: pd.DataFrame, level: str, metric: str) -> pd.DataFrame:
    """seed x (industry, year) values of one metric."""
    s = m[(m["level"] == level) & (m["metric"] == metric)]
    return s.pivot_table(index="seed", columns=["industry", "year"], values="value", observed=True)


def _at(tab: pd.DataFrame, industry: str, year: int) -> pd.Series:
    years = sorted({y for _, y in tab.columns})
    y = min(years, key=lambda v: abs(v - year))  # nearest simulated year
    return tab[(industry, y)]


def lq_margin(rule: str, t0, t1, n0, n1):
    """Smallest margin of the conditions of a T3 LQ rule (positive = the rule holds)."""
    if rule == "falling":  # TIR specialisation falling, non-TIR lead widening
        return np.minimum(t0 - t1, (n1 - t1) - (n0 - t0))
    if rule == "switched":  # growth switched away from TIRs, TIRs still more specialised
        return np.minimum((n1 - n0) - (t1 - t0), t1 - n1)
    return np.minimum(t1 - n1, t1 - t0)  # rising: TIR above non-TIR and rising


def per_seed_statistics(res: Results) -> pd.DataFrame:
    """All statistics, one row per seed (columns: statistic names)."""
    panel, plants, events = res.panel, res.plants, res.events
    m = report.run_metrics(panel)
    seeds = sorted(panel["seed"].unique())
    out = pd.DataFrame(index=pd.Index(seeds, name="seed"))

    # T1: decomposition
    dec = M.decomposition(plants, by=["seed"])
    for (rt, pl, ow), g in dec.groupby(["region_type", "plants", "ownership"], sort=False):
        key = f"t1_{'tir' if rt == 'TIR' else 'nontir'}_{pl}_{ow.lower()}"
        out[key] = g.set_index("seed")["pct"]
    out["t1_total_change_gbp_m"] = dec.groupby("seed")["change"].sum()

    # T2: Theil by ONS group, trend, classes, U shape, pharma rank, area vs GVA
    tg = _pivot(m, "ons_group", "theil_gva")
    for g, k in GROUP_KEY.items():
        a, b = _at(tg, g, 1998), _at(tg, g, 2016)
        out[f"t2_theil_{k}_1998"], out[f"t2_theil_{k}_2016"] = a, b
        out[f"t2_theil_change_{k}"] = b - a
    t5y = _pivot(m, "sector", "theil_gva_5y")
    ts = _pivot(m, "sector", "theil_gva")
    ta = _pivot(m, "sector", "theil_area")
    sectors = sorted({i for i, _ in t5y.columns})
    periods = sorted({y for _, y in t5y.columns})
    last = periods[-1]
    u = pd.Series(0, index=out.index, dtype=float)
    rises = {}
    for sec in sectors:
        first_v, last_v = t5y[(sec, periods[0])], t5y[(sec, last)]
        mid = [p for p in periods if 1983 <= p <= 2003]
        if mid:
            low = t5y[[(sec, p) for p in mid]].min(axis=1)
            u += ((low < first_v) & (low < last_v)).astype(float)
        out[f"t2_theil_{sec}_2016"] = last_v
        rises[sec] = _at(ts, sec, 2016) - _at(ts, sec, 2000)
        out[f"_area_rise_{sec}"] = _at(ta, sec, 2016) - _at(ta, sec, 2000)
    out["t2_u_shape_count"] = u
    rise = pd.DataFrame(rises)
    out["t2_pharma_rise_rank"] = rise.rank(axis=1, ascending=False)["pharmaceuticals"]
    out["t2_chemicals_above_dispersed"] = out["t2_theil_chemicals_2016"] - out[
        [f"t2_theil_{s}_2016" for s in DISPERSED]].max(axis=1)
    out["t2_chemicals_below_concentrated"] = out[[f"t2_theil_{s}_2016" for s in CONCENTRATED]].min(axis=1) \
        - out["t2_theil_chemicals_2016"]
    area_rise = out[[f"_area_rise_{s}" for s in sectors]].mean(axis=1)
    out["t2_area_minus_gva_rise"] = area_rise - rise.mean(axis=1)
    out = out.drop(columns=[c for c in out.columns if c.startswith("_area_rise_")])

    # T3: TIR share, LQ directions, FDI location
    share = _pivot(m, "all", "share_tir")
    out["t3_tir_share_1998"] = _at(share, "AM", 1998)
    out["t3_tir_share_2016"] = _at(share, "AM", 2016)
    out["t3_tir_share_change_1991_2016"] = _at(share, "AM", 2016) - _at(share, "AM", 1991)
    lt, ln = _pivot(m, "sector", "lq_mean_tir"), _pivot(m, "sector", "lq_mean_nontir")
    for sec, rule in LQ_RULES.items():
        out[f"t3_lq_margin_{sec}"] = lq_margin(rule, _at(lt, sec, 1995), _at(lt, sec, 2015),
                                               _at(ln, sec, 1995), _at(ln, sec, 2015))
    tir = set(M.tir_groups().loc[lambda x: x == "tir"].index)
    e = events[(events["kind"] == "open") & (events["ownership"] == "foreign") & (events["year"] >= 1985)
               & (events["cause"] != "relocation")]
    out["t3_fdi_outside_tir"] = (~e["region"].astype(str).isin(tir)).groupby(e["seed"]).mean()

    # T4: national paths
    nat = panel.groupby(["seed", "sector", "year"], observed=True)["output"].sum()

    def ratio(sec, a, b):
        return nat.xs(sec, level="sector").unstack("year").pipe(lambda d: d[_near(d, b)] / d[_near(d, a)])

    out["t4_ratio_motor_vehicles"] = ratio("motor_vehicles", 1973, 2016)
    out["t4_ratio_machinery"] = ratio("machinery", 1973, 2016)
    out["t4_pharma_crash"] = ratio("pharmaceuticals", 2007, 2009) - 1.0
    out["t4_aerospace_growth_2002_2016"] = ratio("aerospace", 2002, 2016)
    out["t4_electronics_2007_vs_2000"] = ratio("computers_electronics_optical", 2000, 2007)

    # T5: regional shares vs observed
    t5 = _t5_per_seed(panel)
    for (g, y), v in t5.items():
        out[f"t5_corr_{GROUP_KEY[g]}_{y}"] = v
    return out


def _near(d: pd.DataFrame, year: int):
    cols = list(d.columns)
    return min(cols, key=lambda c: abs(c - year))


def _t5_per_seed(panel: pd.DataFrame) -> dict:
    from sim import datasets

    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    years = [y for y in (1998, 2016) if y in set(panel["year"].unique())]
    p = panel[panel["year"].isin(years)]
    cube = M.RegionCube.from_frame(p, value="output", by=("seed", "year", "sector"), regions=regions)
    ons = cube.regroup("sector", obs.ons_groups())
    s = ons.shares()
    oc = M.RegionCube.from_frame(obs.observed_gva_panel(), by=("year", "industry"), regions=regions)
    os_ = oc.shares()
    oyears, ogroups, groups = list(oc.labels[0]), list(oc.labels[1]), list(ons.labels[2])
    out = {}
    for y in years:
        yi = list(ons.labels[1]).index(y)
        for g in GROUP_KEY:
            a = s[:, yi, groups.index(g), :]
            b = np.broadcast_to(os_[oyears.index(y), ogroups.index(g), :], a.shape)
            r = M._masked_corr(a, b, np.isfinite(a) & np.isfinite(b))
            out[(g, y)] = pd.Series(r, index=list(ons.labels[0]))
    return out


def summary_statistics(res: Results) -> dict[str, float]:
    """Median over seeds of every statistic (NaN where a statistic cannot be computed)."""
    per = per_seed_statistics(res)
    return {k: float(v) for k, v in per.median(axis=0, skipna=True).items()}
