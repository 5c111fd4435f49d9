"""Metrics of a run folder and of the observed data, and a short report of a run against the targets.

Three entry points (wired to the command line as ``sim metrics --observed``, ``sim metrics RUN_DIR``
and ``sim report RUN_DIR``):

- :func:`observed_metrics` -> tidy metrics of the public ONS data;
- :func:`metrics_for_run` -> tidy metrics of a run folder (all seeds);
- :func:`write_report` -> figures and ``report.md`` comparing a run with TARGETS T1, T2, T3 and T5.

Tidy metric tables have the columns ``[seed,] measure, level, year, industry, metric, value``:

- ``measure``: ``output`` (simulated real gross output), ``gva`` (observed ONS GVA, current prices) or
  ``employment`` (observed BRES employment, 2015-2016);
- ``level``: ``sector`` (model sector codes), ``ons_group`` (ONS group codes as in the data, e.g.
  ``CI (26)``, ``29``, plus ``CL (29-30)`` and, observed only, ``C (10-33)``) or ``all`` (industry
  ``AM``: all AM industries together);
- ``metric``: ``theil_gva``, ``theil_area``, ``theil_population``, ``locational_gini`` (reference GVA),
  ``hhi``, ``share_tir``, ``share_nontir``, ``share_rural``, ``share_moderately_urban``,
  ``share_urban``, ``share_top5pct``, ``lq_mean_tir``, ``lq_mean_nontir`` (LQ denominator: all AM);
  ``theil_*_5y`` are 5-year averages (periods from 1973; ``year`` is the first year of the period);
  runs add ``eg_gamma`` (first and last year, from plants), ``decomp_pct_<cell>`` /
  ``decomp_change_<cell>`` / ``decomp_total_change`` (T1, ``year`` = last year) and
  ``rd_growth_corr_<start>_<end>`` (``year`` = end).

Formulas: :mod:`sim.metrics` and ``docs/metrics.md``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import datasets, figures
from sim import metrics as M
from sim import observed as obs

CONC_REFERENCES = ("gva", "area", "population")
FIVE_YEAR_METRICS = tuple(f"theil_{r}" for r in CONC_REFERENCES)
COLUMNS = ["measure", "level", "year", "industry", "metric", "value"]
T2_TOL = {"CD-CF (19-21)": 0.2}
T2_TOL_DEFAULT = 0.1
T1_TOL_PP = 3.0
T5_MIN_CORR = 0.8


# --------------------------------------------------------------------------------------------------
# Loading a run folder
# --------------------------------------------------------------------------------------------------


@dataclass
class RunTables:
    manifest: dict[str, Any]
    panel: pd.DataFrame
    plants: pd.DataFrame | None
    events: pd.DataFrame | None


def _read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet table, string columns as categoricals (fast grouping on large ensembles)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    strings = [f.name for f in schema if str(f.type) in ("string", "large_string")]
    if columns is not None:
        strings = [c for c in strings if c in columns]
    return pq.read_table(path, columns=columns, read_dictionary=strings).to_pandas()


def load_run(run_dir: str | Path, tables: tuple[str, ...] = ("panel", "plants", "events")) -> RunTables:
    """The manifest and the panel, plants and events tables of a run folder (those in ``tables``;
    the others are None, except the panel, which is always read)."""
    d = Path(run_dir)
    if not (d / "manifest.json").is_file():
        raise FileNotFoundError(f"{d} is not a complete run folder (no manifest.json)")
    if not (d / "panel.parquet").is_file():
        raise FileNotFoundError(f"{d} has no panel.parquet")
    manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    panel = _read_parquet(d / "panel.parquet", ["seed", "year", "region", "sector", "ownership", "size_class",
                                                "output", "employment", "plants"])
    plants = _read_parquet(d / "plants.parquet") if "plants" in tables and (d / "plants.parquet").is_file() else None
    events = _read_parquet(d / "events.parquet") if "events" in tables and (d / "events.parquet").is_file() else None
    return RunTables(manifest, panel, plants, events)


# --------------------------------------------------------------------------------------------------
# Metric tables
# --------------------------------------------------------------------------------------------------


Family = Callable[[], dict[str, np.ndarray]]  # computes the arrays of one or more metrics


def _standard_families(cube: M.RegionCube, industry: str, lq_denominator=None,
                       groups: tuple[pd.Series, pd.Series] | None = None) -> list[tuple[list[str], Family]]:
    """The standard metrics of a cube, in table order, as ``(names, compute)`` pairs: ``compute()`` gives
    the arrays of the metrics ``names`` (the TIR and non-TIR shares, for one, come from one computation).
    ``groups``: the TIR and urban groupings of the regions, if the caller has them."""
    tir, urban = (M.tir_groups(), M.urban_groups()) if groups is None else groups
    fams: list[tuple[list[str], Family]] = [
        ([f"theil_{ref}"], functools.partial(lambda ref: {f"theil_{ref}": cube.theil_array(ref)}, ref))
        for ref in CONC_REFERENCES
    ]
    fams += [
        (["locational_gini"], lambda: {"locational_gini": cube.gini_array("gva")}),
        (["hhi"], lambda: {"hhi": cube.hhi_array()}),
        ([f"share_{g}" for g in cube.group_labels(tir)], lambda: cube.group_share_arrays(tir)),
        ([f"share_{g}" for g in cube.group_labels(urban)], lambda: cube.group_share_arrays(urban)),
        (["share_top5pct"], lambda: {"share_top5pct": cube.top_share_array(0.05)}),
    ]
    if lq_denominator is not None:
        fams.append(([f"lq_mean_{g}" for g in cube.group_labels(tir)],
                     lambda: cube.lq_mean_arrays(industry, tir, lq_denominator)))
    return fams


def _standard(cube: M.RegionCube, industry: str, lq_denominator=None) -> pd.DataFrame:
    arrays: dict[str, np.ndarray] = {}
    for _, compute in _standard_families(cube, industry, lq_denominator):
        arrays |= compute()
    return cube.tidy(arrays).rename(columns={industry: "industry"})


def _five_year(df: pd.DataFrame) -> pd.DataFrame:
    sub = df[df["metric"].isin(FIVE_YEAR_METRICS)]
    if sub.empty:
        return sub
    pa = M.period_averages(sub, base_year=1973, width=5)
    pa = pa.assign(metric=pa["metric"] + "_5y", year=pa["period_start"])
    return pa[[c for c in df.columns]]


def _cell_key(rt: str, pl: str, ow: str) -> str:
    return f"{'tir' if rt == 'TIR' else 'nontir'}_{pl}_{ow.lower()}"


def _labels(values, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A string column ``values[codes]`` (built by one Arrow take, not from Python strings)."""
    return pd.array(list(values), dtype="str").take(codes)


LEVELS = ("sector", "ons_group", "all")


class RunMetrics:
    """The metrics of :func:`run_metrics` for a panel, as arrays computed once, when first asked for.

    The panel's output is summed once into a cube ``seed x year x sector x region`` (level ``sector``),
    which is regrouped into ONS groups (``ons_group``) and totalled (``all``, industry ``AM``):
    ``cubes[level]``, whose ``labels`` label the axes ``seed, year, industry`` and whose ``present`` says
    which groups occur in the panel. :meth:`array` and :meth:`five_year` give one metric of one level;
    :meth:`table` gives the tidy table of :func:`run_metrics` (or some of its metrics). The summary
    statistics and the sweep outputs read only the arrays they need, and compute the cube only once.
    """

    def __init__(self, panel: pd.DataFrame):
        regions = datasets.load_regions()["code"].to_numpy(dtype=object)
        base = M.RegionCube.from_frame(panel, value="output", by=("seed", "year", "sector"), regions=regions)
        am = base.total("sector", "AM")
        self.cubes = {"sector": base, "ons_group": base.regroup("sector", obs.ons_groups()), "all": am}
        groups = (M.tir_groups(), M.urban_groups())
        self._families = {lv: _standard_families(self.cubes[lv], "sector", None if lv == "all" else am, groups)
                          for lv in LEVELS}
        self._arrays: dict[str, dict[str, np.ndarray]] = {lv: {} for lv in LEVELS}
        years = base.labels[base.axis("year")]
        self.first_year, self.last_year = int(years.min()), int(years.max())

    def metrics(self, level: str) -> list[str]:
        """The standard (annual) metrics of a level, in table order."""
        return [name for names, _ in self._families[level] for name in names]

    def array(self, level: str, metric: str) -> np.ndarray:
        """An annual metric (``theil_gva``, ``share_tir``...) of a level: an array of ``cubes[level].present``'s
        shape, ``seed x year x industry`` (values of absent groups are meaningless)."""
        arrays = self._arrays[level]
        if metric not in arrays:
            compute = next((c for names, c in self._families[level] if metric in names), None)
            if compute is None:
                raise KeyError(f"no metric {metric!r} at level {level!r}")
            arrays |= compute()
        return arrays[metric]

    def five_year(self, level: str, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The 5-year averages of an annual metric (``theil_gva`` for ``theil_gva_5y``), periods from 1973:
        ``(period_start, values, present)``, arrays ``seed x period x industry`` (see
        :func:`sim.metrics.period_mean_array`)."""
        cube = self.cubes[level]
        return M.period_mean_array(self.array(level, metric), cube.present, cube.labels[cube.axis("year")],
                                   axis=cube.axis("year"), base_year=1973, width=5)

    def table(self, plants: pd.DataFrame | None = None, metrics: Collection[str] | None = None) -> pd.DataFrame:
        """The tidy table of :func:`run_metrics`; with ``metrics`` (names), only its rows of those metrics
        (in the same order), and only those metrics are computed."""
        keep = (lambda name: True) if metrics is None else set(metrics).__contains__
        parts = []
        for level in LEVELS:
            names = [m for m in self.metrics(level) if keep(m)]
            if names:
                cube = self.cubes[level]
                t = cube.tidy({m: self.array(level, m) for m in names}).rename(columns={"sector": "industry"})
                t.insert(1, "level", level)
                parts.append(t)
        five = [f"{m}_5y" for m in FIVE_YEAR_METRICS if keep(f"{m}_5y")]
        if five:
            parts.append(self._five_year_table(five))
        y0, y1 = self.first_year, self.last_year
        am = self.cubes["all"]
        years = set(am.labels[am.axis("year")])
        for a, b in sorted({(y0, y1), (1998, 2016)}):
            name = f"rd_growth_corr_{a}_{b}"
            if y0 <= a < b <= y1 and a in years and b in years and keep(name):
                r, rcube = am.rd_growth_array(a, b)
                rc = rcube.tidy({name: r}).rename(columns={"sector": "industry"})
                parts.append(rc.assign(level="all", year=b))
        if plants is not None and len(plants):
            pm = _plant_metrics(plants, y0, y1)
            parts.append(pm if metrics is None else pm[pm["metric"].isin(list(metrics))])
        columns = ["seed", "level", "year", "industry", "metric", "value"]
        if not parts:
            parts = [pd.DataFrame({"seed": pd.Series(dtype=np.int64), "level": pd.Series(dtype="str"),
                                   "year": pd.Series(dtype=np.int64), "industry": pd.Series(dtype="str"),
                                   "metric": pd.Series(dtype="str"), "value": pd.Series(dtype=float)})]
        out = pd.concat([p[columns] for p in parts], ignore_index=True)
        out.insert(1, "measure", "output")
        return out[["seed", *COLUMNS]]

    def _five_year_table(self, names: list[str]) -> pd.DataFrame:
        """The rows of the 5-year metrics ``names``, ordered by seed, level, industry, metric and period
        (the order of a sorted group-by of the annual rows)."""
        blocks = []  # (level, industry, metric, values, present); values and present: seed x period
        for level in sorted(LEVELS):
            cube = self.cubes[level]
            averages = {name: self.five_year(level, name.removesuffix("_5y")) for name in sorted(names)}
            industries = cube.labels[cube.axis("sector")]
            for j in sorted(range(len(industries)), key=lambda k: industries[k]):
                for name, (_, values, present) in averages.items():
                    blocks.append((level, industries[j], name, values[..., j], present[..., j]))
        periods = self.five_year("all", names[0].removesuffix("_5y"))[0]  # every level has the same years
        # rows: seed x block x period, in that order, where the period is present
        values = np.stack([b[3] for b in blocks], axis=1)
        present = np.stack([b[4] for b in blocks], axis=1)
        sel = present.ravel()
        si, bi, pi = (i.ravel()[sel] for i in np.indices(present.shape))
        return pd.DataFrame({
            "seed": self.cubes["sector"].labels[0][si],
            "level": _labels([b[0] for b in blocks], bi),
            "year": periods[pi],
            "industry": _labels([b[1] for b in blocks], bi),
            "metric": _labels([b[2] for b in blocks], bi),
            "value": values.ravel()[sel],
        })


def run_metrics(panel: pd.DataFrame, plants: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy metrics of simulated tables (the run-folder contract); used by :func:`metrics_for_run`.

    Works on any number of seeds at once (vectorised over seeds, years and industries). The same
    metrics as arrays: :class:`RunMetrics`.
    """
    return RunMetrics(panel).table(plants)


def _plant_metrics(plants: pd.DataFrame, y0: int, y1: int) -> pd.DataFrame:
    """EG gamma in the first and last year, and the T1 decomposition, per seed."""
    sector = plants["sector"]
    if not isinstance(sector.dtype, pd.CategoricalDtype):
        sector = sector.astype("category")
    s2o = obs.sector_to_ons()
    cats = list(sector.cat.categories)
    unknown = set(cats) - set(s2o)
    if unknown:
        raise ValueError(f"plants table has unknown sectors {sorted(unknown)}")
    scodes = sector.cat.codes.to_numpy()
    region = plants["region"]
    if not isinstance(region.dtype, pd.CategoricalDtype):
        region = region.astype("category")
    rcodes, rcats = region.cat.codes.to_numpy(), region.cat.categories
    op = plants["open_at_start"].to_numpy(dtype=bool)
    alive = plants["exit_year"].isna().to_numpy()
    o0 = plants["output_start"].to_numpy(dtype=float)
    o1 = plants["output_end"].to_numpy(dtype=float)
    sel0, sel1 = op & (o0 > 0), alive & (o1 > 0)
    rows = np.concatenate([np.flatnonzero(sel0), np.flatnonzero(sel1)])  # first year, then last year
    v = np.concatenate([o0[sel0], o1[sel1]])
    pf = pd.DataFrame({
        "seed": plants["seed"].to_numpy().take(rows),
        "year": np.repeat(np.array([y0, y1], dtype=np.int64), [sel0.sum(), sel1.sum()]),
        "region": pd.Categorical.from_codes(rcodes.take(rows), categories=rcats),
        "sector": pd.Categorical.from_codes(scodes.take(rows), categories=cats),
        "v": v, "v2": v * v,
    }, copy=False)
    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    cube, sq = M.RegionCube.from_frame_many(pf, values=("v", "v2"), by=("seed", "year", "sector"), regions=regions)
    agg = cube.values.sum(axis=cube.axis("sector"), keepdims=True)  # x_r: all AM output of the plants
    groups = obs.ons_groups()
    parts = []
    for level, c, s in (("sector", cube, sq),
                        ("ons_group", cube.regroup("sector", groups), sq.regroup("sector", groups))):
        eg = c.tidy(M.eg_arrays(c, s, agg)).rename(columns={"sector": "industry"})
        parts.append(eg.assign(level=level))
    dec = M.decomposition(plants, by=["seed"])
    keys = [_cell_key(*c) for c in zip(dec["region_type"], dec["plants"], dec["ownership"])]
    dpct = pd.DataFrame({"seed": dec["seed"], "metric": ["decomp_pct_" + k for k in keys], "value": dec["pct"]})
    dchg = pd.DataFrame({"seed": dec["seed"], "metric": ["decomp_change_" + k for k in keys], "value": dec["change"]})
    tot = dec.groupby("seed", as_index=False)["change"].sum().rename(columns={"change": "value"})
    tot["metric"] = "decomp_total_change"
    d = pd.concat([dpct, dchg, tot], ignore_index=True).assign(level="all", year=y1, industry="AM")
    parts.append(d)
    return pd.concat(parts, ignore_index=True)


def metrics_for_run(run_dir: str | Path, tir: Collection[str] | None = None) -> pd.DataFrame:
    """Tidy metrics of every seed of a run folder: ``seed, measure, level, year, industry, metric, value``.

    Computed at three levels: the eight model sectors (``industry`` = sector code), the ONS groups they
    map to (``industry`` = ONS code, for comparison with :func:`observed_metrics`) and all AM
    (``industry`` = ``AM``). See the module docstring for the metrics. TIR metrics use ``tir`` (region
    codes), else the run scenario's ``tir_regions``, else the default set.
    """
    run = load_run(run_dir, ("panel", "plants"))
    with M.tir_set(tir if tir is not None else M.manifest_tir_regions(run.manifest)):
        return run_metrics(run.panel, run.plants)


def observed_metrics() -> pd.DataFrame:
    """Tidy metrics of the observed data: ``measure, level, year, industry, metric, value``.

    - ``measure="gva"``: ONS GVA 1998-2016 for the six AM groups, ``CL (29-30)`` and ``C (10-33)``
      (level ``ons_group``; no LQs for ``C (10-33)``) and all AM = the six groups summed (level ``all``);
      LQ denominator: the six AM groups; plus ``rd_growth_corr_1998_2016`` (nominal GVA growth).
    - ``measure="employment"``: BRES 2015-2016 by model sector (level ``sector``), by ONS group and all
      AM. Employment in 19-21 excludes petroleum (SIC 19 is not in the extract).
    """
    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    gva = obs.observed_gva_panel((*obs.AM_ONS_GROUPS, "CL (29-30)", "C (10-33)"))
    cube = M.RegionCube.from_frame(gva, value="value", by=("year", "industry"), regions=regions)
    am = cube.select("industry", obs.AM_ONS_GROUPS).total("industry", "AM")
    am_groups = cube.select("industry", [*obs.AM_ONS_GROUPS, "CL (29-30)"])
    parts = [
        _standard(am_groups, "industry", am).assign(level="ons_group"),
        _standard(cube.select("industry", ["C (10-33)"]), "industry", None).assign(level="ons_group"),
        _standard(am, "industry", None).assign(level="all"),
    ]
    g = pd.concat(parts, ignore_index=True)
    g = pd.concat([g, _five_year(g)], ignore_index=True)
    am_panel = gva[gva["industry"].isin(obs.AM_ONS_GROUPS)]
    rc = M.rd_growth_correlation(am_panel, 1998, 2016, name="rd_growth_corr_1998_2016")
    g = pd.concat([g, rc.assign(level="all", year=2016, industry="AM")], ignore_index=True)
    g["measure"] = "gva"
    emp = obs.observed_employment_panel("sector")
    ecube = M.RegionCube.from_frame(emp, value="value", by=("year", "industry"), regions=regions)
    eam = ecube.total("industry", "AM")
    eons = ecube.regroup("industry", obs.ons_groups())
    e = pd.concat([
        _standard(ecube, "industry", eam).assign(level="sector"),
        _standard(eons, "industry", eam).assign(level="ons_group"),
        _standard(eam, "industry", None).assign(level="all"),
    ], ignore_index=True)
    e["measure"] = "employment"
    return pd.concat([g, e], ignore_index=True)[COLUMNS]


# --------------------------------------------------------------------------------------------------
# Target checks
# --------------------------------------------------------------------------------------------------


def _median(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = df.groupby(keys)["value"]
    return pd.DataFrame({"median": g.median(), "q05": g.quantile(0.05), "q95": g.quantile(0.95)}).reset_index()


def _fmt(x, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:.{nd}f}"


def _mark(ok) -> str:
    if ok is None:
        return "not evaluated"
    return "PASS" if ok else "**MISS**"


def check_t1(plants: pd.DataFrame | None) -> pd.DataFrame:
    """T1: median cell percentages across seeds vs the study (3 pp, sign right)."""
    if plants is None or plants.empty:
        return pd.DataFrame()
    dec = M.decomposition(plants, by=["seed"] if "seed" in plants.columns else [])
    keys = ["region_type", "plants", "ownership"]
    cmp = M.decomposition_vs_study(dec, T1_TOL_PP)
    q = dec.groupby(keys, sort=False)["pct"].agg(
        median="median", q05=lambda s: s.quantile(0.05), q95=lambda s: s.quantile(0.95)).reset_index()
    frac = cmp.assign(ok=cmp["within_tol"] & cmp["sign_ok"]).groupby(keys, sort=False)["ok"].mean().rename("seeds_ok")
    q = q.merge(frac.reset_index(), on=keys)
    q["study"] = [M.STUDY_DECOMPOSITION[tuple(r)] for r in q[keys].itertuples(index=False, name=None)]
    q["diff_pp"] = q["median"] - q["study"]
    q["pass"] = (q["diff_pp"].abs() <= T1_TOL_PP) & (np.sign(q["median"]) == np.sign(q["study"]))
    return q


def check_t2(sim: pd.DataFrame, observed: pd.DataFrame) -> pd.DataFrame:
    """T2: simulated Theil (GVA reference) vs observed in 1998 and 2016 per ONS group, and the trend sign."""
    rows = []
    s = sim[(sim["level"] == "ons_group") & (sim["metric"] == "theil_gva")]
    o = observed[(observed["measure"] == "gva") & (observed["level"] == "ons_group")
                 & (observed["metric"] == "theil_gva")]
    sm = _median(s, ["industry", "year"]).set_index(["industry", "year"])
    om = o.set_index(["industry", "year"])["value"]
    for g in obs.AM_ONS_GROUPS:
        tol = T2_TOL.get(g, T2_TOL_DEFAULT)
        row = {"group": g, "tol": tol}
        for y in (1998, 2016):
            sv = sm["median"].get((g, y), np.nan)
            ov = om.get((g, y), np.nan)
            row[f"sim_{y}"], row[f"obs_{y}"] = sv, ov
            row[f"pass_{y}"] = None if np.isnan(sv) else bool(abs(sv - ov) <= tol)
        if np.isnan(row["sim_1998"]) or np.isnan(row["sim_2016"]):
            row["trend_ok"] = None
        else:
            same = np.sign(row["sim_2016"] - row["sim_1998"]) == np.sign(row["obs_2016"] - row["obs_1998"])
            row["trend_ok"] = bool(same)
        rows.append(row)
    return pd.DataFrame(rows)


def check_t2_classes(sim: pd.DataFrame) -> pd.DataFrame:
    """The study's concentration classes by model sector in the last simulated year (informative)."""
    want = {"pharmaceuticals": "above", "motor_vehicles": "above", "other_transport": "above", "aerospace": "above",
            "chemicals": "intermediate", "computers_electronics_optical": "below", "machinery": "below",
            "electrical_equipment": "below"}
    s = sim[(sim["level"] == "sector") & (sim["metric"] == "theil_gva")]
    if s.empty:
        return pd.DataFrame()
    y = int(s["year"].max())
    m = s[s["year"] == y].groupby("industry")["value"].median()
    rows = []
    for sec, cls in want.items():
        v = m.get(sec, np.nan)
        ok = v > 0.4 if cls == "above" else (v < 0.4 if cls == "below" else None)
        rows.append({"sector": sec, "study": cls, "year": y, "sim": v,
                     "pass": None if cls == "intermediate" else bool(ok)})
    return pd.DataFrame(rows)


def _value_at(df: pd.DataFrame, year: int) -> pd.Series:
    return df[df["year"] == year].set_index("seed" if "seed" in df.columns else "industry")["value"]


# T3 location-quotient facts of the source (1995-2015, TIR vs non-TIR areas), one rule per sector
LQ_RULES = {
    "pharmaceuticals": "falling", "computers_electronics_optical": "falling",
    "motor_vehicles": "switched", "electrical_equipment": "switched",
    "aerospace": "rising", "chemicals": "rising", "machinery": "rising",
}
LQ_RULE_TEXT = {"falling": "TIR LQ falling, non-TIR lead widening",
                "switched": "TIR LQ grows less than non-TIR, TIR still above non-TIR",
                "rising": "TIR LQ above non-TIR and rising"}
LQ_YEARS_ONS = (1998, 2016)  # the public NUTS-2 GVA data's nearest years to the source's 1995-2015


def lq_margin(rule: str, t0, t1, n0, n1):
    """Smallest margin of the conditions of a T3 LQ rule, from the mean TIR (``t``) and non-TIR (``n``)
    LQs at the start (0) and end (1); positive = the rule holds."""
    if rule == "falling":  # TIR specialisation falling, non-TIR lead widening
        return np.minimum(t0 - t1, (n1 - t1) - (n0 - t0))
    if rule == "switched":  # growth switched away from TIRs, TIRs still more specialised
        return np.minimum((n1 - n0) - (t1 - t0), t1 - n1)
    return np.minimum(t1 - n1, t1 - t0)  # rising: TIR above non-TIR and rising


def _observed_lq_margins() -> pd.DataFrame:
    return _observed_lq_margins_for(M.tir_regions())


@functools.cache
def _observed_lq_margins_for(tir: frozenset[str]) -> pd.DataFrame:
    """:func:`observed_lq_margins` for a TIR set, computed once per process and set (the observed data
    do not change)."""
    o = observed_metrics()
    lq = o[o["metric"].isin(["lq_mean_tir", "lq_mean_nontir"])].set_index(
        ["measure", "level", "industry", "year", "metric"])["value"]
    y0, y1 = LQ_YEARS_ONS
    groups = obs.sector_to_ons()
    rows = []
    for sec, rule in LQ_RULES.items():
        g = groups[sec]
        v = {f"{k}_{y}": float(lq.get(("gva", "ons_group", g, y, f"lq_mean_{k}"), np.nan))
             for k in ("tir", "nontir") for y in (y0, y1)}
        margin = float(lq_margin(rule, v[f"tir_{y0}"], v[f"tir_{y1}"], v[f"nontir_{y0}"], v[f"nontir_{y1}"]))
        bres = (lq.get(("employment", "sector", sec, 2015, "lq_mean_tir"), np.nan)
                - lq.get(("employment", "sector", sec, 2015, "lq_mean_nontir"), np.nan))
        rows.append({"sector": sec, "rule": rule, "ons_group": g, **v, "observed_margin": margin,
                     "data_meet_rule": bool(margin >= 0), "bres_2015_tir_minus_nontir": float(bres)})
    return pd.DataFrame(rows)


def observed_lq_margins() -> pd.DataFrame:
    """The T3 LQ rules applied to the public data at the model's resolution: per rule sector, its ONS
    group's mean LQ over TIR and non-TIR NUTS-2 regions in ONS GVA 1998 and 2016 (denominator: the six
    AM groups, as in the model's metrics), the rule's smallest margin (:func:`lq_margin`; positive = the
    data meet it) and, for the sector itself, TIR minus non-TIR mean LQ in BRES employment 2015.

    The source's LQ facts are for 1995-2015 on TIR districts; at NUTS-2 on the ONS groups a rule can fail
    in the data themselves, and chemicals (rising) and pharmaceuticals (falling) share a group whose TIR
    LQ cannot both rise and fall. The observed ``CD-CF (19-21)`` group includes petroleum (SIC 19), which
    the model's chemicals and pharmaceuticals do not."""
    return _observed_lq_margins().copy()


def check_t3(sim: pd.DataFrame, observed: pd.DataFrame, events: pd.DataFrame | None) -> dict[str, Any]:
    """T3: TIR share trend (since 1991 and 1998-2016), LQ directions 1995-2015, FDI outside TIRs."""
    out: dict[str, Any] = {}
    s = sim[(sim["level"] == "all") & (sim["metric"] == "share_tir")]
    years = sorted(s["year"].unique())
    o = observed[(observed["measure"] == "gva") & (observed["level"] == "all") & (observed["metric"] == "share_tir")]
    ov = o.set_index("year")["value"]
    out["obs_tir_1998"], out["obs_tir_2016"] = ov.get(1998), ov.get(2016)
    share = []
    for a, b in ((1991, years[-1] if years else None), (1998, 2016)):
        if not years or b is None or a < years[0] or b > years[-1] or a >= b:
            share.append({"from": a, "to": b, "sim_from": np.nan, "sim_to": np.nan, "pass": None})
            continue
        d = (_value_at(s, b) - _value_at(s, a))
        share.append({"from": a, "to": b, "sim_from": _value_at(s, a).median(), "sim_to": _value_at(s, b).median(),
                      "seeds_falling": float((d < 0).mean()), "pass": bool(d.median() < 0)})
    out["tir_share"] = pd.DataFrame(share)
    # LQ directions, model sectors, 1995-2015 (clamped to the run)
    lq = sim[(sim["level"] == "sector") & sim["metric"].isin(["lq_mean_tir", "lq_mean_nontir"])]
    rows = []
    if len(lq):
        y0, y1 = max(1995, int(lq["year"].min())), min(2015, int(lq["year"].max()))
        keys = ["industry", "metric", "year"]
        med = _median(lq[lq["year"].isin([y0, y1])], keys).set_index(keys)["median"]
        data = observed_lq_margins().set_index("sector")["observed_margin"]
        for sec, rule in LQ_RULES.items():
            t0, t1 = med.get((sec, "lq_mean_tir", y0), np.nan), med.get((sec, "lq_mean_tir", y1), np.nan)
            n0, n1 = med.get((sec, "lq_mean_nontir", y0), np.nan), med.get((sec, "lq_mean_nontir", y1), np.nan)
            ok = lq_margin(rule, t0, t1, n0, n1) >= 0  # as the calibration targets judge it
            rows.append({"sector": sec, "study": LQ_RULE_TEXT[rule], "from": y0, "to": y1, "tir_from": t0,
                         "tir_to": t1, "nontir_from": n0, "nontir_to": n1,
                         "pass": None if np.isnan([t0, t1, n0, n1]).any() else bool(ok),
                         "data_group_margin": float(data[sec])})
    out["lq"] = pd.DataFrame(rows)
    # FDI: foreign openings (entries and anchor plants, not relocations) outside TIRs since FDI_SINCE
    fdi = None
    if events is not None and len(events):
        seeds = pd.Index(sorted(events["seed"].unique()))
        frac = fdi_outside_tir(events, seeds)
        if np.isfinite(frac).any():
            n = int(_fdi_openings(events).sum())
            share = float(np.nanmedian(frac))
            fdi = {"share_outside_tir": share, "n_openings": n, "pass": bool(share >= 0.5)}
    out["fdi"] = fdi
    return out


FDI_SINCE = 1985  # "since the 1980s" (TARGETS.md T3), from when the model's foreign inflow is at full strength


def _fdi_openings(events: pd.DataFrame) -> np.ndarray:
    """Rows of ``events`` that are foreign openings (entries and anchor plants, not relocations) from
    ``FDI_SINCE`` on."""
    return (M.isin(events["kind"], ["open"]) & M.isin(events["ownership"], ["foreign"])
            & (events["year"].to_numpy() >= FDI_SINCE) & ~M.isin(events["cause"], ["relocation"]))


def fdi_outside_tir(events: pd.DataFrame, seeds: pd.Index) -> np.ndarray:
    """Per seed, the share of foreign openings (entries and anchor plants; relocations aside) from
    ``FDI_SINCE`` on that lie outside the TIRs (NaN for a seed without any): TARGETS.md T3, "FDI has
    located mainly outside TIRs since the 1980s". The calibration target and the run report both use it."""
    tir = M.tir_regions()
    e = _fdi_openings(events)
    outside = ~M.isin(events["region"], tir)[e]  # a missing region counts as outside
    pos = seeds.get_indexer(events["seed"].to_numpy()[e])
    n = np.bincount(pos[pos >= 0], minlength=len(seeds))
    k = np.bincount(pos[pos >= 0], weights=outside[pos >= 0], minlength=len(seeds))
    with np.errstate(invalid="ignore"):
        return np.where(n > 0, k / np.maximum(n, 1), np.nan)


def check_t5(panel: pd.DataFrame, observed_years=(1998, 2016)) -> pd.DataFrame:
    """T5: correlation across regions of simulated vs observed regional shares per ONS group."""
    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    p = panel[panel["year"].isin(observed_years)]
    rows = []
    if p.empty:
        return pd.DataFrame()
    cube = M.RegionCube.from_frame(p, value="output", by=("seed", "year", "sector"), regions=regions)
    ons = cube.regroup("sector", obs.ons_groups())
    s = ons.shares()  # seed x year x group x region
    ocube = M.RegionCube.from_frame(obs.observed_gva_panel(), by=("year", "industry"), regions=regions)
    os_ = ocube.shares()
    oyears = list(ocube.labels[0])
    ogroups = list(ocube.labels[1])
    years = list(ons.labels[1])
    for y in observed_years:
        if y not in years:
            continue
        for g in obs.AM_ONS_GROUPS:
            a = s[:, years.index(y), list(ons.labels[2]).index(g), :]  # seeds x regions
            b = np.broadcast_to(os_[oyears.index(y), ogroups.index(g), :], a.shape)
            r = M._masked_corr(a, b, np.isfinite(a) & np.isfinite(b))
            rows.append({"group": g, "year": y, "median_r": float(np.nanmedian(r)) if np.isfinite(r).any() else np.nan,
                         "min_r": float(np.nanmin(r)) if np.isfinite(r).any() else np.nan,
                         "pass": bool(np.nanmedian(r) >= T5_MIN_CORR) if np.isfinite(r).any() else None})
    return pd.DataFrame(rows)


def check_t5_employment(panel: pd.DataFrame, sectors=("chemicals", "pharmaceuticals", "aerospace", "other_transport")):
    """Cross-check (informative): simulated employment shares vs BRES by model sector, 2015 and 2016."""
    regions = datasets.load_regions()["code"].to_numpy(dtype=object)
    p = panel[panel["year"].isin([2015, 2016])]
    if p.empty or "employment" not in p.columns:
        return pd.DataFrame()
    cube = M.RegionCube.from_frame(p, value="employment", by=("seed", "year", "sector"), regions=regions)
    ecube = M.RegionCube.from_frame(obs.observed_employment_panel("sector"), by=("year", "industry"), regions=regions)
    s, e = cube.shares(), ecube.shares()
    rows = []
    for yi, y in enumerate(cube.labels[1]):
        for sec in sectors:
            a = s[:, yi, list(cube.labels[2]).index(sec), :]
            b = np.broadcast_to(e[list(ecube.labels[0]).index(y), list(ecube.labels[1]).index(sec), :], a.shape)
            r = M._masked_corr(a, b, np.isfinite(a) & np.isfinite(b))
            rows.append({"sector": sec, "year": int(y),
                         "median_r": float(np.nanmedian(r)) if np.isfinite(r).any() else np.nan})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Figures and the report
# --------------------------------------------------------------------------------------------------


def _nuts1_shares(panel: pd.DataFrame) -> pd.DataFrame:
    r = datasets.load_regions()
    regions = r["code"].to_numpy(dtype=object)
    cube = M.RegionCube.from_frame(panel, value="output", by=("seed", "year"), regions=regions)
    s = cube.shares()  # seed x year x region
    nuts1 = r["nuts1"].to_numpy()
    areas = sorted(set(nuts1))
    a = np.stack([s[..., nuts1 == k].sum(-1) for k in areas], axis=-1)
    seeds, years = cube.labels
    idx = pd.MultiIndex.from_product([seeds, years, areas], names=["seed", "year", "area"]).to_frame(index=False)
    idx["value"] = a.ravel()
    return idx


def _observed_nuts1_shares() -> pd.DataFrame:
    r = datasets.load_regions().set_index("code")
    g = obs.observed_gva_panel()
    g = g.assign(area=g["region"].map(r["nuts1"]))
    t = g.groupby(["year", "area"])["value"].sum()
    return (t / t.groupby("year").transform("sum")).rename("value").reset_index()


def _map_data(panel: pd.DataFrame) -> tuple[pd.DataFrame, tuple[int, int]]:
    y0, y1 = int(panel["year"].min()), int(panel["year"].max())
    p = panel[panel["year"].isin([y0, y1])]
    by_sector = p.groupby(["seed", "year", "region", "sector"], observed=True)["output"].sum()
    by_sector = by_sector.groupby(["year", "region", "sector"], observed=True).median().rename("v").reset_index()
    tot = p.groupby(["seed", "year", "region"], observed=True)["output"].sum()
    tot = tot.groupby(["year", "region"], observed=True).median().rename("v").reset_index().assign(sector="AM")
    d = pd.concat([by_sector, tot], ignore_index=True)
    d["region"] = d["region"].astype(str)
    d["sector"] = d["sector"].astype(str)
    w = d.pivot_table(index=["region", "sector"], columns="year", values="v", fill_value=0.0)
    out = pd.DataFrame({"region": w.index.get_level_values(0), "industry": w.index.get_level_values(1),
                        "start": w[y0].to_numpy(), "end": w[y1].to_numpy()})
    return out, (y0, y1)


def write_figures(run: RunTables, sim: pd.DataFrame, observed: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Write the study's figures for a run; returns name -> path."""
    out_dir = Path(out_dir)
    figs: dict[str, Path] = {}
    figs["regional_shares"] = figures.plot_regional_shares(_nuts1_shares(run.panel), _observed_nuts1_shares(),
                                                           out_dir / "regional_shares.png")
    figs["theil"] = figures.plot_theil(sim, observed, out_dir / "theil_ons_groups.png")
    figs["theil_area"] = figures.plot_theil(sim, observed, out_dir / "theil_ons_groups_area.png", metric="theil_area")
    figs["theil_sectors"] = figures.plot_theil_sectors(sim, out_dir / "theil_sectors.png")
    figs["tir_share"] = figures.plot_tir_share(sim, observed, out_dir / "tir_share.png")
    figs["lq_change"] = figures.plot_lq_change(sim, observed, out_dir / "lq_change.png")
    if run.plants is not None and len(run.plants):
        y0, y1 = int(run.panel["year"].min()), int(run.panel["year"].max())
        dec = M.decomposition(run.plants, by=["seed"] if "seed" in run.plants.columns else [])
        figs["decomposition"] = figures.plot_decomposition(dec, M.STUDY_DECOMPOSITION, out_dir / "decomposition.png",
                                                           (y0, y1))
    figs["urban_shares"] = figures.plot_urban_shares(sim, observed, out_dir / "urban_shares.png")
    md, yrs = _map_data(run.panel)
    figs["map"] = figures.plot_map(md, out_dir / "map.png", yrs)
    return figs


def _table(df: pd.DataFrame, cols: dict[str, str], fmt: dict[str, Any] | None = None) -> str:
    fmt = fmt or {}
    lines = ["| " + " | ".join(cols.values()) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if c in fmt:
                cells.append(fmt[c](v))
            elif isinstance(v, (bool, np.bool_)) or v is None:
                cells.append(_mark(None if v is None else bool(v)))
            elif isinstance(v, (float, np.floating)):
                cells.append(_fmt(float(v)))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _scenario_name(scen: Any) -> str:
    if isinstance(scen, dict):
        inner = scen.get("scenario")
        if isinstance(inner, dict) and "name" in inner:
            return str(inner["name"])
        return str(scen.get("name", "?"))
    return str(scen) if scen else "?"


def _summary(checks: list[tuple[str, bool | None]]) -> str:
    """A table of passes per target, with the misses named."""
    evaluated = [(n, ok) for n, ok in checks if ok is not None]
    passed = sum(bool(ok) for _, ok in evaluated)
    rows = [f"**{passed} of {len(evaluated)} target checks pass**"
            + (f" ({len(checks) - len(evaluated)} not evaluated)." if len(checks) > len(evaluated) else "."), "",
            "| target | pass | checked | misses |", "|---|---|---|---|"]
    for tgt in ("T1", "T2", "T3", "T5"):
        sub = [(n.removeprefix(tgt + " "), ok) for n, ok in evaluated if n.startswith(tgt + " ")]
        if not sub:
            rows.append(f"| {tgt} | - | 0 | not evaluated |")
            continue
        miss = [n for n, ok in sub if not ok]
        rows.append(f"| {tgt} | {len(sub) - len(miss)} | {len(sub)} | {'; '.join(miss) if miss else 'none'} |")
    return "\n".join(rows)


def write_report(run_dir: Path, out_dir: Path | None = None, tir: Collection[str] | None = None) -> Path:
    """Write figures and ``report.md`` (default ``run_dir/report/``) for a run; returns the report path.

    TIR metrics use ``tir`` (region codes), else the run scenario's ``tir_regions``, else the default set
    (:func:`sim.metrics.tir_set`).

    The report compares the run with TARGETS T1 (decomposition cells within 3 pp, signs right), T2
    (Theil, GVA reference, within 0.1 of observed in 1998 and 2016 per ONS group, 0.2 for 19-21, same
    trend sign), T3 (TIR share falling; LQ directions 1995-2015; FDI mainly outside TIRs) and T5
    (correlation across regions of simulated and observed shares per ONS group >= 0.8). Ensembles
    are judged on the median across seeds; the share of seeds within tolerance is shown where useful.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    with M.tir_set(tir if tir is not None else M.manifest_tir_regions(run.manifest)):
        return _write_report(run_dir, run, Path(out_dir) if out_dir is not None else run_dir / "report")


def _write_report(run_dir: Path, run: RunTables, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    sim = run_metrics(run.panel, run.plants)
    observed = observed_metrics()
    figs = write_figures(run, sim, observed, out_dir)
    man = run.manifest
    y0, y1 = int(run.panel["year"].min()), int(run.panel["year"].max())
    seeds = sorted(int(s) for s in run.panel["seed"].unique())
    checks: list[tuple[str, bool | None]] = []

    L: list[str] = []
    scen = man.get("scenario", {})
    scen_name = _scenario_name(scen)
    L += [f"# Run report: `{run_dir.name}`", "",
          f"Scenario **{scen_name}**, years {y0}-{y1}, {len(seeds)} seed(s) "
          f"({', '.join(map(str, seeds[:10]))}{', ...' if len(seeds) > 10 else ''}), "
          f"code version `{man.get('code_version', '?')}`.", "",
          "Ensembles are judged on the median across seeds. Simulated output is real gross output (2000 prices); "
          "observed data are ONS GVA (current prices) and BRES employment, so only regional *shares* and "
          "concentration indices are compared. Formulas: `docs/metrics.md`.", ""]
    if M.tir_regions() != M.default_tir_regions():
        codes = [c for c in datasets.load_regions()["code"] if c in M.tir_regions()]
        L += [f"TIR set: **{len(codes)} region{'s' if len(codes) != 1 else ''} chosen for this run** "
              f"({', '.join(codes)}), not the default "
              f"{len(M.default_tir_regions())}. Every TIR figure below (T1 cells, TIR shares, TIR/non-TIR LQs, FDI "
              "outside TIRs, on both the simulated and the observed side) uses this set; the study's T1 figures "
              "refer to its own TIRs, so those comparisons are indicative.", ""]
    L += ["SUMMARY_PLACEHOLDER", ""]

    # T1
    L += ["## T1. Output-change decomposition", ""]
    t1 = check_t1(run.plants)
    if t1.empty:
        L += ["Not evaluated: the run folder has no plants table.", ""]
    else:
        if (y0, y1) != (1973, 2016):
            L += [f"Note: the study's decomposition is for 1973-2016; this run covers {y0}-{y1}, so the comparison is "
                  "only indicative.", ""]
        tot = M.decomposition(run.plants, by=["seed"]).groupby("seed")["change"].sum()
        L += [f"Total change in AM output: simulated median {tot.median():,.0f} GBP m (study: "
              f"{M.STUDY_TOTAL_CHANGE_GBP_M:,.0f} GBP m, 2000 prices).", ""]
        t1 = t1.assign(cell=[figures.CELL_LABELS[tuple(r)] for r in
                             t1[["region_type", "plants", "ownership"]].itertuples(index=False, name=None)])
        pct = lambda v: f"{v:.1f}"  # noqa: E731
        cols = {"cell": "cell", "study": "study %", "median": "simulated % (median)", "q05": "5%", "q95": "95%",
                "diff_pp": "diff (pp)", "seeds_ok": "seeds within 3 pp", "pass": "within 3 pp, sign"}
        fmts = {"study": pct, "median": pct, "q05": pct, "q95": pct, "diff_pp": lambda v: f"{v:+.1f}",
                "seeds_ok": lambda v: f"{100 * v:.0f}%"}
        L += [_table(t1, cols, fmts), ""]
        n_ok = int(t1["pass"].sum())
        L += [f"{n_ok} of 8 cells pass. Largest miss: {t1.loc[t1['diff_pp'].abs().idxmax(), 'cell']} "
              f"({t1['diff_pp'].abs().max():.1f} pp).", ""]
        checks += [(f"T1 {c}", bool(p)) for c, p in zip(t1["cell"], t1["pass"])]
        if "decomposition" in figs:
            L += [f"![decomposition]({figs['decomposition'].name})", ""]

    # T2
    L += ["## T2. Regional concentration (Theil, reference: total GVA)", ""]
    t2 = check_t2(sim, observed)
    L += [_table(t2, {"group": "ONS group", "tol": "tolerance", "obs_1998": "observed 1998",
                      "sim_1998": "simulated 1998", "pass_1998": "1998", "obs_2016": "observed 2016",
                      "sim_2016": "simulated 2016",
                      "pass_2016": "2016", "trend_ok": "trend sign"},
                 {"tol": lambda v: f"{v:.1f}"}), ""]
    for _, r in t2.iterrows():
        for k in ("pass_1998", "pass_2016", "trend_ok"):
            checks.append((f"T2 {r['group']} {dict(pass_1998='1998', pass_2016='2016', trend_ok='trend')[k]}", r[k]))
    misses = [f"{r['group']} {y} by {abs(r[f'sim_{y}'] - r[f'obs_{y}']):.2f}"
              for _, r in t2.iterrows() for y in (1998, 2016) if r[f"pass_{y}"] is False]
    if misses:
        L += ["Misses: " + "; ".join(misses) + ".", ""]
    cls = check_t2_classes(sim)
    if len(cls):
        L += ["The study's concentration classes by model sector (informative, last simulated year):", "",
              _table(cls, {"sector": "sector", "study": "study (vs 0.4)", "sim": "simulated Theil",
                           "pass": "agrees"}), ""]
    L += [f"![Theil by ONS group]({figs['theil'].name})", "", f"![Theil by sector]({figs['theil_sectors'].name})", "",
          f"![Theil, area reference]({figs['theil_area'].name})", ""]

    # T3
    L += ["## T3. Traditional industrial regions", ""]
    t3 = check_t3(sim, observed, run.events)
    ts = t3["tir_share"]
    L += [f"Observed TIR share of AM GVA: {_fmt(t3['obs_tir_1998'])} (1998) -> {_fmt(t3['obs_tir_2016'])} (2016).", ""]
    L += [_table(ts, {"from": "from", "to": "to", "sim_from": "simulated share, from", "sim_to": "simulated share, to",
                      "pass": "falling"}, {"from": str, "to": str}), ""]
    checks += [(f"T3 TIR share falling {r['from']}-{r['to']}", r["pass"]) for _, r in ts.iterrows()]
    if len(t3["lq"]):
        L += ["Location quotients (mean over regions; median across seeds):", "",
              _table(t3["lq"], {"sector": "sector", "study": "study", "tir_from": "TIR from", "tir_to": "TIR to",
                                "nontir_from": "non-TIR from", "nontir_to": "non-TIR to", "pass": "agrees",
                                "data_group_margin": f"data margin, ONS group {LQ_YEARS_ONS[0]}-{LQ_YEARS_ONS[1]}"}),
              "", "Data margin: the same rule on the sector's ONS group in the public NUTS-2 GVA data (positive = "
              "the data meet it); the source's facts are for TIR districts, and at NUTS-2 the data meet only "
              f"{int((t3['lq']['data_group_margin'] >= 0).sum())} of {len(t3['lq'])} rules.", ""]
        checks += [(f"T3 LQ {r['sector']}", r["pass"]) for _, r in t3["lq"].iterrows()]
    if t3["fdi"]:
        f = t3["fdi"]
        L += [f"Foreign openings since {FDI_SINCE} outside TIRs: {100 * f['share_outside_tir']:.0f}% (median across seeds; "
              f"{f['n_openings']} openings in all) - {_mark(f['pass'])} (study: mainly outside TIRs).", ""]
        checks.append(("T3 FDI outside TIRs", f["pass"]))
    L += [f"![TIR share]({figs['tir_share'].name})", "", f"![LQ change]({figs['lq_change'].name})", "",
          f"![urban classes]({figs['urban_shares'].name})", ""]

    # T5
    L += ["## T5. Regional distribution 1998-2016 (correlation of regional shares with ONS GVA)", ""]
    t5 = check_t5(run.panel)
    if t5.empty:
        L += ["Not evaluated: the run does not cover 1998 or 2016.", ""]
    else:
        L += [_table(t5, {"group": "ONS group", "year": "year", "median_r": "r (median across seeds)",
                          "min_r": "r (lowest seed)", "pass": ">= 0.8"}, {"year": str}), ""]
        checks += [(f"T5 {r['group']} {r['year']}", r["pass"]) for _, r in t5.iterrows()]
    t5e = check_t5_employment(run.panel)
    if len(t5e):
        L += ["Cross-check against BRES employment (informative; 19-21 mixes petroleum, chemicals and pharma in GVA):",
              "", _table(t5e, {"sector": "sector", "year": "year", "median_r": "r, employment shares"},
                         {"year": str}), ""]
    L += [f"![regional shares]({figs['regional_shares'].name})", "", f"![map]({figs['map'].name})", ""]

    text = "\n".join(L).replace("SUMMARY_PLACEHOLDER", _summary(checks))
    path = out_dir / "report.md"
    path.write_text(text + "\n", encoding="utf-8")
    return path
