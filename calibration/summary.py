"""Summary statistics: simulation results -> the named moments that the targets compare.

Every statistic is computed per seed and summarised by the median over seeds, because the model is
stochastic and a parameter point is judged by an ensemble, not one run. Names match the
``statistic`` field of ``calibration/targets.toml``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from sim import datasets
from sim import metrics as M
from sim import observed as obs
from sim import report
from sim.report import LQ_RULES, lq_margin
from sim.results import Results

GROUP_KEY = {"CD-CF (19-21)": "19_21", "CI (26)": "26", "CJ (27)": "27", "CK (28)": "28", "29": "29", "30": "30"}
SECTOR_GROUP = obs.sector_to_ons()  # sector -> ONS group
CONCENTRATED = ("pharmaceuticals", "motor_vehicles", "other_transport", "aerospace")
DISPERSED = ("computers_electronics_optical", "machinery", "electrical_equipment")
# T2 "concentration fell until about 2000 and has risen since": a sector's lowest 5-year mean must fall in a
# period starting in these years (1988-92 to 2003-07, centred 1990-2005), below the first and the last period
U_TROUGH_PERIODS = (1988, 2003)


class _Wide:
    """One metric of one level, seed x (industry, year), as a pivot of the tidy metric table gives it:
    only the (industry, year) columns with a value in some seed exist, and a seed without any value
    has NaN everywhere (it would have no row). Columns are arrays over all the panel's seeds."""

    def __init__(self, rm: report.RunMetrics, level: str, metric: str):
        cube = rm.cubes[level]
        if metric.endswith("_5y"):
            years, v, present = rm.five_year(level, metric.removesuffix("_5y"))
        else:
            years, v, present = cube.labels[cube.axis("year")], rm.array(level, metric), cube.present
        ok = present & ~np.isnan(v)  # seed x year x industry
        self.values = np.where(ok, v, np.nan)
        self.rows = ok.any(axis=(1, 2))  # seeds with a row
        self.has = ok.any(axis=0)  # year x industry: the columns
        self.years = [int(y) for y in years]
        self.industries = {lab: j for j, lab in enumerate(cube.labels[2])}
        self.columns = [(i, y) for i, j in sorted(self.industries.items()) for k, y in enumerate(self.years)
                        if self.has[k, j]]
        self.column_years = [y for k, y in enumerate(self.years) if self.has[k].any()]  # sorted

    def __getitem__(self, col: tuple) -> np.ndarray:
        industry, year = col
        j = self.industries.get(industry)
        k = self.years.index(year) if year in self.years else None
        if j is None or k is None or not self.has[k, j]:
            raise KeyError(col)
        return self.values[:, k, j]


def _at(tab: _Wide, industry: str, year: int) -> np.ndarray:
    y = min(tab.column_years, key=lambda v: abs(v - year))  # nearest simulated year
    return tab[(industry, y)]


def _on(seeds: pd.Index, index, values: np.ndarray) -> np.ndarray:
    """``values`` labelled by ``index`` (seeds), aligned to ``seeds``: NaN for a seed not in ``index``."""
    pos = seeds.get_indexer(index)
    out = np.full(len(seeds), np.nan)
    out[pos[pos >= 0]] = np.asarray(values, dtype=float)[pos >= 0]
    return out


def per_seed_statistics(res: Results, metrics: report.RunMetrics | None = None) -> pd.DataFrame:
    """All statistics, one row per seed (columns: statistic names).

    ``metrics``: the :class:`sim.report.RunMetrics` of ``res.panel``, if the caller has it already (the
    sweep outputs share it; built under the same TIR set); by default it is computed here. TIR statistics
    use the TIR set of the run's scenario (``tir_regions``), by default the 12 TIRs of the targets.
    """
    with M.tir_set(M.manifest_tir_regions(getattr(res, "manifest", None) or {})):
        return _per_seed_statistics(res, metrics)


def _per_seed_statistics(res: Results, metrics: report.RunMetrics | None) -> pd.DataFrame:
    plants, events = res.plants, res.events
    rm = report.RunMetrics(res.panel) if metrics is None else metrics
    cube = rm.cubes["sector"]  # seed x year x sector x region
    seeds = pd.Index(cube.labels[0], name="seed")
    out: dict[str, np.ndarray] = {}  # statistic -> value per seed

    # T1: decomposition (one row per seed and cell, cells in the order of DECOMP_CELLS)
    dec = M.decomposition(plants, by=["seed"])
    n = len(M.DECOMP_CELLS)
    dec_seeds = dec["seed"].to_numpy()[::n]
    pct, change = (dec[c].to_numpy().reshape(-1, n) for c in ("pct", "change"))
    for c, (rt, pl, ow) in enumerate(M.DECOMP_CELLS if len(dec) else ()):
        out[f"t1_{'tir' if rt == 'TIR' else 'nontir'}_{pl}_{ow.lower()}"] = _on(seeds, dec_seeds, pct[:, c])
    out["t1_total_change_gbp_m"] = _on(seeds, dec_seeds, change.sum(axis=1))

    # T2: Theil by ONS group, trend, classes, U shape, pharma rank, area vs GVA
    tg = _Wide(rm, "ons_group", "theil_gva")
    for g, k in GROUP_KEY.items():
        a, b = _at(tg, g, 1998), _at(tg, g, 2016)
        out[f"t2_theil_{k}_1998"], out[f"t2_theil_{k}_2016"] = a, b
        out[f"t2_theil_change_{k}"] = b - a
    t5y = _Wide(rm, "sector", "theil_gva_5y")
    ts = _Wide(rm, "sector", "theil_gva")
    ta = _Wide(rm, "sector", "theil_area")
    sectors = sorted({i for i, _ in t5y.columns})
    periods = sorted({y for _, y in t5y.columns})
    last = periods[-1]
    mid = [p for p in periods if U_TROUGH_PERIODS[0] <= p <= U_TROUGH_PERIODS[1]]
    u = np.zeros(len(seeds))
    rises, area_rises = {}, {}
    for sec in sectors:
        last_v = t5y[(sec, last)]
        if mid:
            u += decline_then_rise(np.column_stack([t5y[(sec, p)] for p in periods]), periods, U_TROUGH_PERIODS)
        out[f"t2_theil_{sec}_2016"] = last_v
        rises[sec] = _at(ts, sec, 2016) - _at(ts, sec, 2000)
        area_rises[sec] = _at(ta, sec, 2016) - _at(ta, sec, 2000)
    if mid:
        u[~t5y.rows] = np.nan
    out["t2_u_shape_count"] = u
    rise = pd.DataFrame(rises, index=seeds)
    out["t2_pharma_rise_rank"] = rise.rank(axis=1, ascending=False)["pharmaceuticals"].to_numpy()
    theil_2016 = pd.DataFrame({s: out[f"t2_theil_{s}_2016"] for s in (*DISPERSED, *CONCENTRATED, "chemicals")},
                              index=seeds)
    out["t2_chemicals_above_dispersed"] = (theil_2016["chemicals"] - theil_2016[list(DISPERSED)].max(axis=1)).to_numpy()
    out["t2_chemicals_below_concentrated"] = (theil_2016[list(CONCENTRATED)].min(axis=1)
                                              - theil_2016["chemicals"]).to_numpy()
    area_rise = pd.DataFrame(area_rises, index=seeds).mean(axis=1)
    out["t2_area_minus_gva_rise"] = (area_rise - rise.mean(axis=1)).to_numpy()

    # T3: TIR share, LQ directions, FDI location
    share = _Wide(rm, "all", "share_tir")
    out["t3_tir_share_1998"] = _at(share, "AM", 1998)
    out["t3_tir_share_2016"] = _at(share, "AM", 2016)
    out["t3_tir_share_change_1991_2016"] = _at(share, "AM", 2016) - _at(share, "AM", 1991)
    lt, ln = _Wide(rm, "sector", "lq_mean_tir"), _Wide(rm, "sector", "lq_mean_nontir")
    for sec, rule in LQ_RULES.items():
        out[f"t3_lq_margin_{sec}"] = lq_margin(rule, _at(lt, sec, 1995), _at(lt, sec, 2015),
                                               _at(ln, sec, 1995), _at(ln, sec, 2015))
    # the same rules on each sector's ONS group, 1998-2016: the footing of the public data (not a target;
    # the report sets these against the observed margins of :func:`observed_lq_margins`)
    lg, lng = _Wide(rm, "ons_group", "lq_mean_tir"), _Wide(rm, "ons_group", "lq_mean_nontir")
    for sec, rule in LQ_RULES.items():
        g = SECTOR_GROUP[sec]
        out[f"t3_lq_margin_group_{sec}"] = lq_margin(rule, _at(lg, g, 1998), _at(lg, g, 2016),
                                                     _at(lng, g, 1998), _at(lng, g, 2016))
    out["t3_fdi_outside_tir"] = report.fdi_outside_tir(events, seeds)

    # T4: national paths
    def ratio(sec, a, b):
        years, nat = _national_output(cube, sec)
        with np.errstate(divide="ignore", invalid="ignore"):  # zero output: inf or NaN, as pandas gives
            return nat[:, years.index(_near(years, b))] / nat[:, years.index(_near(years, a))]

    out["t4_ratio_motor_vehicles"] = ratio("motor_vehicles", 1973, 2016)
    out["t4_ratio_machinery"] = ratio("machinery", 1973, 2016)
    out["t4_pharma_crash"] = ratio("pharmaceuticals", 2007, 2009) - 1.0
    out["t4_aerospace_growth_2002_2016"] = ratio("aerospace", 2002, 2016)
    out["t4_electronics_2007_vs_2000"] = ratio("computers_electronics_optical", 2000, 2007)

    # T5: regional shares vs observed
    t5 = _t5_per_seed(rm.cubes["ons_group"])
    for (g, y), v in t5.items():
        out[f"t5_corr_{GROUP_KEY[g]}_{y}"] = v
    return pd.DataFrame(out, index=seeds)


def decline_then_rise(series: np.ndarray, periods: list[int], trough: tuple[int, int]) -> np.ndarray:
    """Whether each row of ``series`` (runs x 5-year periods, labelled by their first year) fell to its
    lowest value in a period starting within ``trough`` and rose again: the lowest value (NaN periods left
    out) lies in such a period and is below both the first and the last period. A series that bottoms out
    earlier (say 1978-82) and rises for 35 years does not count, nor does one still falling at the end.
    TARGETS.md T2: "concentration fell in most industries until about 2000 and has risen since"."""
    x = np.asarray(series, float)
    p = np.asarray(periods)
    ok = np.isfinite(x).any(axis=1)
    filled = np.where(np.isfinite(x), x, np.inf)
    at = np.argmin(filled, axis=1)
    low = filled[np.arange(len(x)), at]
    in_window = (p[at] >= trough[0]) & (p[at] <= trough[1])
    return ok & in_window & (low < x[:, 0]) & (low < x[:, -1])


def _national_output(cube: M.RegionCube, sector: str) -> tuple[list[int], np.ndarray]:
    """National output of one sector: the years where the panel has it, and seed x year values (NaN
    where a seed has no rows of that sector and year)."""
    labels = list(cube.labels[2])
    if sector not in labels:
        raise KeyError(sector)
    j = labels.index(sector)
    present = cube.present[:, :, j]
    cols = present.any(axis=0)
    v = np.where(present, cube.values[:, :, j, :].sum(axis=-1), np.nan)[:, cols]
    return [int(y) for y in cube.labels[1][cols]], v


def _near(years: list[int], year: int) -> int:
    return min(years, key=lambda c: abs(c - year))


@functools.cache
def _observed_ons_shares() -> tuple[list, list, np.ndarray]:
    """Observed regional shares of ONS GVA: (years, groups, shares year x group x region), read-only
    (the observed data are static package data)."""
    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    oc = M.RegionCube.from_frame(obs.observed_gva_panel(), by=("year", "industry"), regions=regions)
    return list(oc.labels[0]), list(oc.labels[1]), oc.shares()


def _t5_per_seed(ons: M.RegionCube) -> dict:
    """Per ONS group and year (1998, 2016, those simulated), the correlation across regions of each seed's
    regional shares (``ons``: the panel's cube seed x year x ONS group x region) with the observed ones:
    an array over the cube's seeds."""
    s = ons.shares()
    oyears, ogroups, os_ = _observed_ons_shares()
    years, groups = list(ons.labels[1]), list(ons.labels[2])
    out = {}
    for y in (1998, 2016):
        if y not in years:
            continue
        yi = years.index(y)
        for g in GROUP_KEY:
            a = s[:, yi, groups.index(g), :]
            b = np.broadcast_to(os_[oyears.index(y), ogroups.index(g), :], a.shape)
            r = M._masked_corr(a, b, np.isfinite(a) & np.isfinite(b))
            out[(g, y)] = r
    return out


def summary_statistics(res: Results) -> dict[str, float]:
    """Median over seeds of every statistic (NaN where a statistic cannot be computed)."""
    per = per_seed_statistics(res)
    return {k: float(v) for k, v in per.median(axis=0, skipna=True).items()}
