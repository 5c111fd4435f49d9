"""Concentration metrics for panels of output (or employment) by region x industry x year.

The same functions serve simulated runs and observed data. Every function takes a *long* table (one row
per observation: region, value and any grouping columns such as ``seed``, ``year``, ``industry``) and
returns a *tidy* table: the grouping columns, ``metric`` and ``value`` (one row per group and metric).
Internally the data are summed into a dense array ``(group dims..., region)`` (a :class:`RegionCube`)
and every metric is a numpy reduction over the region axis: no Python loop over seeds, years or
industries. Formulas and conventions are stated with each function and collected in ``docs/metrics.md``.

Notation: ``x_ir`` is the value (output, GVA, employment) of industry ``i`` in region ``r``;
``s_ir = x_ir / sum_r x_ir`` is region ``r``'s share of the industry; ``a_r = w_r / sum_r w_r`` is its
share of a *reference* ``w`` (see :func:`reference_weights`). The set of regions on the region axis
defines the economy: for the named references it is always the 40 GB NUTS-2016 regions of
``sim.datasets.load_regions()``, so a region absent from the data counts as a region with zero value.

References
----------
- Theil index of relative concentration: Cutrini, E. (2010), "Specialization and concentration from a
  twofold geographical perspective: evidence from Europe", *Regional Studies* 44(3), 315-336.
- Locational Gini: Krugman, P. (1991), *Geography and Trade*, MIT Press (appendix D).
- Ellison, G. and Glaeser, E. L. (1997), "Geographic concentration in U.S. manufacturing industries:
  a dartboard approach", *Journal of Political Economy* 105(5), 889-927.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from sim import datasets

__all__ = [
    "DECOMP_CELLS",
    "GVA_YEARS",
    "NAMED_REFERENCES",
    "POPULATION_YEARS",
    "STUDY_DECOMPOSITION",
    "STUDY_TOTAL_CHANGE_GBP_M",
    "RegionCube",
    "decomposition",
    "decomposition_vs_study",
    "eg_arrays",
    "ellison_glaeser",
    "herfindahl",
    "isin",
    "location_quotients",
    "locational_gini",
    "lq_means",
    "period_averages",
    "period_mean_array",
    "rd_growth_correlation",
    "reference_weights",
    "region_group_shares",
    "theil",
    "tir_shares",
    "check_tir_regions",
    "default_tir_regions",
    "manifest_tir_regions",
    "tir_groups",
    "tir_regions",
    "tir_set",
    "top_regions_share",
    "urban_groups",
    "urban_class_shares",
]

#: Named references for relative concentration. ``uniform`` gives the *absolute* index (a_r = 1/R).
NAMED_REFERENCES = ("gva", "area", "population", "uniform")
#: Years covered by the total-GVA table; simulated years outside are clamped to the nearest end.
GVA_YEARS = (1998, 2016)
#: Years covered by the population table; earlier years use 1981 (1998 where 1981-97 are unreliable).
POPULATION_YEARS = (1981, 2016)
#: Year whose population replaces the unreliable 1981-1997 figures (UKM6, UKM8, UKM9).
POPULATION_FALLBACK_YEAR = 1998

#: The eight cells of the 1973-2016 output-change decomposition (TARGETS T1), in the study's order.
DECOMP_CELLS: tuple[tuple[str, str, str], ...] = tuple(
    (rt, pl, ow)
    for rt in ("non-TIR", "TIR")
    for pl in ("open_throughout", "openings_closures")
    for ow in ("GB", "foreign")
)
#: The study's percentages of the 1973-2016 change in AM gross output (TARGETS T1); they sum to 100.
STUDY_DECOMPOSITION: dict[tuple[str, str, str], float] = dict(
    zip(DECOMP_CELLS, (-1.8, 17.0, 16.1, 44.1, -4.9, 11.1, -8.2, 26.6), strict=True)
)
#: The study's total change in AM real gross output 1973-2016, GBP million (2000 prices).
STUDY_TOTAL_CHANGE_GBP_M = 81_200.0


# --------------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------------


def _model_regions() -> np.ndarray:
    return datasets.load_regions()["code"].to_numpy(dtype=object)


def reference_weights(reference: str, years: Iterable[int] | None = None) -> pd.DataFrame:
    """Weights ``w_r`` of a named reference, wide: index region code (model order), one column per year.

    - ``gva``: total GVA, all industries, current prices (``sim/data/gva_total.csv``, ONS, 1998-2016).
      Years before 1998 use 1998 and years after 2016 use 2016 (no public NUTS-2 GVA before 1998).
      Only regional *shares* are used, so the price basis cancels within a year.
    - ``population``: mid-year population (``sim/data/population.csv``, 1981-2016). Years before 1981
      use 1981, after 2016 use 2016; where a region's figure is flagged unreliable (UKM6, UKM8, UKM9
      before 1998) its 1998 figure is used instead.
    - ``area``: land area in km2 (static).
    - ``uniform``: 1 for every region (the *absolute* concentration index, a_r = 1/R).

    ``years=None`` gives one column per year of the underlying table (one column ``0`` for the static
    references). Weights are not normalised.
    """
    regions = _model_regions()
    if reference not in NAMED_REFERENCES:
        raise ValueError(f"unknown reference {reference!r}: choose one of {NAMED_REFERENCES}")
    if reference in ("area", "uniform"):
        r = datasets.load_regions().set_index("code")
        w = r["area_km2"].astype(float) if reference == "area" else pd.Series(1.0, index=r.index)
        cols = [0] if years is None else list(years)
        return pd.DataFrame({c: w.reindex(regions).to_numpy() for c in cols}, index=pd.Index(regions, name="region"))
    if reference == "gva":
        t = datasets.load_gva_total().pivot(index="code", columns="year", values="gva_total_gbp_m").astype(float)
        lo, hi = GVA_YEARS
    else:
        p = datasets.load_population()
        t = p.pivot(index="code", columns="year", values="population").astype(float)
        reliable = p.pivot(index="code", columns="year", values="reliable").astype(bool)
        t = t.where(reliable, t[POPULATION_FALLBACK_YEAR], axis=0)
        lo, hi = POPULATION_YEARS
    t = t.reindex(regions)
    if years is None:
        out = t
    else:
        ys = [int(y) for y in years]
        out = pd.DataFrame({y: t[min(max(y, lo), hi)].to_numpy() for y in ys}, index=t.index)
    out.index.name = "region"
    return out


def _reference_array(reference, cube: RegionCube) -> np.ndarray:
    """Reference shares ``a_r`` aligned to the cube, broadcastable to ``cube.values``."""
    R = len(cube.regions)
    if isinstance(reference, str):
        if reference == "uniform":
            return np.full(R, 1.0 / R)
        if reference == "area":
            return _named_reference_shares(reference, None, tuple(cube.regions))
        if "year" not in cube.dims:
            raise ValueError(f"reference {reference!r} varies by year: include 'year' in the grouping columns")
        years = tuple(int(y) for y in cube.labels[cube.axis("year")])
        return _year_broadcast(_named_reference_shares(reference, years, tuple(cube.regions)), cube)
    if isinstance(reference, pd.Series):
        w = reference.astype(float).reindex(cube.regions)
        return _normalise_ref(w.to_numpy(), "custom", cube.regions)
    if isinstance(reference, pd.DataFrame):
        df = reference
        if {"region", "year", "weight"} <= set(df.columns):
            df = df.pivot(index="region", columns="year", values="weight")
        if "year" not in cube.dims:
            raise ValueError("a year-dependent reference needs 'year' among the grouping columns")
        years = cube.labels[cube.axis("year")]
        missing = sorted(set(years) - set(df.columns))
        if missing:
            raise ValueError(f"reference has no weights for years {missing[:5]}")
        w = df.reindex(index=cube.regions, columns=years).to_numpy(float).T
        return _normalise_ref(_year_broadcast(w, cube), "custom", cube.regions)
    raise TypeError("reference must be a name, a Series indexed by region, or a DataFrame of weights")


@functools.lru_cache(maxsize=64)
def _named_reference_shares(reference: str, years: tuple[int, ...] | None, regions: tuple[str, ...]) -> np.ndarray:
    """Shares ``a_r`` of a named reference (``area``: shape ``(R,)``; ``gva``, ``population``: one row per
    year, ``(n_years, R)``), read-only. Cached by value: the reference tables are static package data
    (their loaders are cached too), and every metric of a run asks for the same few."""
    if years is None:
        w = reference_weights(reference)[0].reindex(regions).to_numpy(float)
    else:
        w = reference_weights(reference, years).reindex(regions).to_numpy(float).T
    a = _normalise_ref(w, reference, np.asarray(regions, dtype=object))
    a.flags.writeable = False
    return a


def _year_broadcast(w: np.ndarray, cube: RegionCube) -> np.ndarray:
    shape = [1] * len(cube.dims) + [w.shape[-1]]
    shape[cube.axis("year")] = w.shape[0]
    return w.reshape(shape)


def _normalise_ref(w: np.ndarray, name: str, regions: np.ndarray) -> np.ndarray:
    if np.isnan(w).any():
        bad = regions[np.isnan(w).reshape(-1, len(regions)).any(axis=0)]
        raise ValueError(f"reference {name!r} has no weight for regions {list(bad)[:5]}")
    if (w < 0).any():
        raise ValueError(f"reference {name!r} has negative weights")
    return w / w.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------------------------------
# The dense region cube
# --------------------------------------------------------------------------------------------------


def _codes(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and sorted labels of the values used in a column (fast paths for categoricals
    and integer columns; no remapping when the codes are already dense and sorted)."""
    integer = pd.api.types.is_integer_dtype(s.dtype) and len(s)
    if integer and (isinstance(s.dtype, np.dtype) or not s.hasnans):  # a numpy integer column has no NaN
        v = s.to_numpy(dtype=np.int64)
        lo, hi = int(v.min()), int(v.max())
        if hi - lo > 10_000_000:
            return _codes(s.astype(object))
        codes = v - lo if lo else v  # >= 0
        labels = np.arange(lo, hi + 1)
    else:
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy()
            labels = s.cat.categories.to_numpy()
        else:
            codes, labels = pd.factorize(s, sort=False)
            labels = np.asarray(labels)
        if len(codes) and codes.min() < 0:
            raise ValueError(f"column {s.name!r} has missing values")
    used = np.bincount(codes, minlength=len(labels)) > 0
    order = np.array(sorted(np.flatnonzero(used), key=lambda k: labels[k]), dtype=np.int64)
    if len(order) == len(labels) and (order == np.arange(len(order))).all():
        return codes, labels
    remap = np.full(len(labels), -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[codes], labels[order]


def _ravel(codes: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    flat = codes[0].astype(np.int64)
    for c, n in zip(codes[1:], shape[1:]):
        flat *= n
        flat += c
    return flat


@dataclass(frozen=True, eq=False)
class RegionCube:
    """A dense array of values summed by group and region: ``values[g_1, ..., g_k, r]``.

    ``dims`` names the group axes (e.g. ``("seed", "year", "sector")``) and ``labels`` their sorted
    labels; ``regions`` are the region codes of the last axis; ``present[g]`` says whether group ``g``
    occurs in the data (absent combinations are zeros and are dropped from tidy outputs).
    """

    values: np.ndarray
    dims: tuple[str, ...]
    labels: tuple[np.ndarray, ...]
    regions: np.ndarray
    present: np.ndarray

    # ---- construction ----------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        data: pd.DataFrame,
        *,
        value: str = "value",
        region: str = "region",
        by: Sequence[str] = ("year", "industry"),
        regions: Sequence[str] | None = None,
    ) -> RegionCube:
        """Sum ``data[value]`` by ``by`` x ``region`` into a dense cube.

        ``regions`` fixes the region axis (default: the regions in the data, sorted); a data region
        outside it raises ``ValueError``. Values must be finite and non-negative.
        """
        return cls.from_frame_many(data, values=(value,), region=region, by=by, regions=regions)[0]

    @classmethod
    def from_frame_many(
        cls,
        data: pd.DataFrame,
        *,
        values: Sequence[str],
        region: str = "region",
        by: Sequence[str] = ("year", "industry"),
        regions: Sequence[str] | None = None,
    ) -> list[RegionCube]:
        """:meth:`from_frame` for several value columns at once (the groups are worked out once)."""
        by = tuple(by)
        vs = [data[value].to_numpy(dtype=float) for value in values]
        for value, v in zip(values, vs):
            lo, hi = (v.min(), v.max()) if len(v) else (0.0, 0.0)  # NaN if any value is NaN
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise ValueError(f"column {value!r} has missing or infinite values")
            if lo < 0:
                raise ValueError(f"column {value!r} has negative values")
        codes, labels = [], []
        for col in by:
            c, lab = _codes(data[col])
            codes.append(c)
            labels.append(lab)
        rc, rl = _codes(data[region])
        if regions is not None:
            axis = np.asarray(regions, dtype=object)
            pos = pd.Index(axis).get_indexer(rl)
            if (pos < 0).any():
                raise ValueError(f"regions not in the region table: {sorted(map(str, rl[pos < 0]))[:10]}")
            if not (len(pos) == len(axis) and (pos == np.arange(len(pos))).all()):
                rc = pos[rc]
            rl = axis
        gshape = tuple(len(lab) for lab in labels)
        shape = (*gshape, len(rl))
        if codes:
            flat = _ravel(codes, gshape)  # a new array: group codes, then group x region codes
            present = (np.bincount(flat, minlength=math.prod(gshape)) > 0).reshape(gshape)
            flat *= len(rl)
            flat += rc
        else:
            flat = rc
            present = np.ones((), dtype=bool)
        return [cls(np.bincount(flat, weights=v, minlength=math.prod(shape)).reshape(shape), by, tuple(labels),
                    np.asarray(rl, dtype=object), present) for v in vs]

    # ---- reshaping -------------------------------------------------------------------------------
    def axis(self, dim: str) -> int:
        try:
            return self.dims.index(dim)
        except ValueError:
            raise KeyError(f"no dimension {dim!r} in {self.dims}") from None

    def _replace(self, values, labels, present, dim) -> RegionCube:
        ax = self.axis(dim)
        labs = list(self.labels)
        labs[ax] = np.asarray(labels, dtype=object)
        return RegionCube(values, self.dims, tuple(labs), self.regions, present)

    def regroup(self, dim: str, groups: Mapping[Hashable, Sequence[Hashable]]) -> RegionCube:
        """Sum labels of ``dim`` into new labels: ``groups = {new_label: [old labels...]}``.

        Groups may overlap (e.g. ``CL (29-30)`` = ``29`` + ``30``); old labels that are not in the
        cube are ignored; a new group is present where any of its members is.
        """
        ax = self.axis(dim)
        old = {lab: k for k, lab in enumerate(self.labels[ax])}
        new_labels = list(groups)
        M = np.zeros((len(old), len(new_labels)))
        for j, g in enumerate(new_labels):
            for lab in groups[g]:
                if lab in old:
                    M[old[lab], j] = 1.0
        # contract the dim axis with M, keeping the axis order
        v = np.moveaxis(self.values, ax, -2)  # (..., K, R)
        v = np.einsum("...kr,kj->...jr", v, M)
        vals = np.moveaxis(v, -2, ax)
        p = np.moveaxis(self.present, ax, -1).astype(float) @ M > 0
        pres = np.moveaxis(p, -1, ax)
        return self._replace(vals, new_labels, pres, dim)

    def total(self, dim: str, label: Hashable = "AM") -> RegionCube:
        """Sum over all labels of ``dim``, keeping it as a dimension of size one labelled ``label``."""
        ax = self.axis(dim)
        vals = self.values.sum(axis=ax, keepdims=True)
        pres = self.present.any(axis=ax, keepdims=True)
        return self._replace(vals, [label], pres, dim)

    def select(self, dim: str, labels: Sequence[Hashable]) -> RegionCube:
        """Keep the given labels of ``dim`` (in the given order); unknown labels raise ``KeyError``."""
        ax = self.axis(dim)
        idx = pd.Index(self.labels[ax]).get_indexer(list(labels))
        if (idx < 0).any():
            raise KeyError(f"labels not in {dim!r}: {[lab for lab, i in zip(labels, idx) if i < 0]}")
        return self._replace(
            np.take(self.values, idx, axis=ax), list(labels), np.take(self.present, idx, axis=ax), dim
        )

    # ---- tidy output -----------------------------------------------------------------------------
    @cached_property
    def keys(self) -> pd.DataFrame:
        """One row per present group, with the group columns."""
        if not self.dims:
            return pd.DataFrame(index=[0])
        codes = np.unravel_index(np.flatnonzero(self.present), self.present.shape)
        return pd.DataFrame({d: pd.Index(lab).take(c) for d, lab, c in zip(self.dims, self.labels, codes)})

    def tidy(self, arrays: Mapping[str, np.ndarray]) -> pd.DataFrame:
        """Tidy frame (group columns, metric, value) from arrays of shape ``present.shape``: for each
        metric in turn, one row per present group."""
        keys = self.keys
        if not arrays:
            return keys.assign(metric=pd.Series(dtype=object), value=pd.Series(dtype=float))
        mask = self.present.ravel()
        names = list(arrays)
        n = len(keys)
        out = keys.take(np.tile(np.arange(n), len(names))).reset_index(drop=True)
        out["metric"] = pd.array(names, dtype="str").take(np.repeat(np.arange(len(names)), n))
        out["value"] = np.concatenate(
            [np.broadcast_to(arr, self.present.shape).ravel()[mask].astype(float) for arr in arrays.values()])
        return out

    # ---- metric kernels --------------------------------------------------------------------------
    def shares(self) -> np.ndarray:
        """``s_r = x_r / sum_r x_r`` per group (NaN where the group total is zero). Read-only, cached."""
        return self._shares

    @cached_property
    def _shares(self) -> np.ndarray:
        tot = self.values.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = self.values / np.where(tot > 0, tot, np.nan)
        s.flags.writeable = False
        return s

    def theil_array(self, reference="gva") -> np.ndarray:
        s = self.shares()
        a = _reference_array(reference, self)
        return _theil_kernel(s, a)

    def gini_array(self, reference="gva") -> np.ndarray:
        s = self.shares()
        a = _reference_array(reference, self)
        return _gini_kernel(s, a)

    def hhi_array(self) -> np.ndarray:
        s = self.shares()
        return (s * s).sum(axis=-1)

    def theil(self, reference="gva", name: str | None = None) -> pd.DataFrame:
        """Tidy Theil index per group; metric ``theil_<reference>`` (see :func:`theil`)."""
        return self.tidy({name or _ref_name("theil", reference): self.theil_array(reference)})

    def locational_gini(self, reference="gva", name: str = "locational_gini") -> pd.DataFrame:
        return self.tidy({name: self.gini_array(reference)})

    def hhi(self, name: str = "hhi") -> pd.DataFrame:
        return self.tidy({name: self.hhi_array()})

    def group_labels(self, groups) -> list:
        """Labels of a grouping of the regions (region -> label, e.g. :func:`tir_groups`), in the order of
        the arrays of :meth:`group_share_arrays` and :meth:`lq_mean_arrays` (named after them)."""
        return _ordered_unique(_region_labels(groups, self.regions))

    def group_share_arrays(self, groups, prefix: str = "share") -> dict[str, np.ndarray]:
        g = _region_labels(groups, self.regions)
        labs = _ordered_unique(g)
        onehot = (g[:, None] == np.asarray(labs, dtype=object)[None, :]).astype(float)  # R x groups
        summed = self.shares() @ onehot
        return {f"{prefix}_{lab}": summed[..., j] for j, lab in enumerate(labs)}

    def top_share_array(self, frac: float = 0.05, k: int | None = None) -> np.ndarray:
        R = len(self.regions)
        k = _top_k(R, frac, k)
        s = self.shares()
        top = np.partition(np.nan_to_num(s, nan=0.0), R - k, axis=-1)[..., R - k :].sum(axis=-1)
        return np.where(np.isnan(s[..., 0]), np.nan, top)  # a group's shares are all NaN or none are

    def lq_array(self, industry: str, denominator="am") -> np.ndarray:
        """Location quotients ``LQ_ir = (x_ir / x_i) / (X_r / X)``, same shape as ``values``.

        ``denominator``: ``"am"`` sums the cube over ``industry`` (so the labels must not overlap);
        ``"gva"`` (or another named reference) uses that reference; a :class:`RegionCube` with the
        same dimensions and ``industry`` of size one (e.g. ``base.total("sector")``) or an array
        broadcastable to ``values`` gives ``X_r`` directly.
        """
        ax = self.axis(industry)
        s = self.shares()
        if isinstance(denominator, str) and denominator == "am":
            X = self.values.sum(axis=ax, keepdims=True)
        elif isinstance(denominator, RegionCube):
            X = denominator.values
        elif isinstance(denominator, np.ndarray):
            X = denominator
        else:
            X = _reference_array(denominator, self)
        tot = X.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            A = np.where(tot > 0, X / np.where(tot > 0, tot, 1.0), np.nan)
            return np.where(A > 0, s / np.where(A > 0, A, 1.0), np.nan)

    def lq_mean_arrays(self, industry: str, groups=None, denominator="am") -> dict[str, np.ndarray]:
        """Unweighted means of the LQs over the regions of each group (NaN LQs skipped)."""
        lq = self.lq_array(industry, denominator)
        if groups is None:
            groups = tir_groups()
        g = _region_labels(groups, self.regions)
        labs = _ordered_unique(g)
        onehot = (g[:, None] == np.asarray(labs, dtype=object)[None, :]).astype(float)  # R x groups
        ok = np.isfinite(lq)
        total = np.where(ok, lq, 0.0) @ onehot
        n = ok.astype(float) @ onehot
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        return {f"lq_mean_{lab}": mean[..., j] for j, lab in enumerate(labs)}


    def rd_growth_array(self, start_year: int, end_year: int, *, gerd: pd.Series | None = None,
                        growth: str = "log", method: str = "pearson") -> tuple[np.ndarray, RegionCube]:
        """Correlation across regions of R&D intensity with growth from start to end year (see
        :func:`rd_growth_correlation`); returns the array and the cube without its year dimension."""
        if growth not in ("log", "pct"):
            raise ValueError("growth must be 'log' or 'pct'")
        if method not in ("pearson", "spearman"):
            raise ValueError("method must be 'pearson' or 'spearman'")
        ax = self.axis("year")
        years = list(self.labels[ax])
        if start_year not in years or end_year not in years:
            raise ValueError(f"data must contain years {start_year} and {end_year}")
        i0, i1 = years.index(start_year), years.index(end_year)
        x0 = np.take(self.values, i0, axis=ax)
        x1 = np.take(self.values, i1, axis=ax)
        with np.errstate(divide="ignore", invalid="ignore"):
            if growth == "log":
                ok = (x0 > 0) & (x1 > 0)
                g = np.where(ok, np.log(np.where(ok, x1, 1.0) / np.where(ok, x0, 1.0)), np.nan)
            else:
                ok = x0 > 0
                g = np.where(ok, x1 / np.where(ok, x0, 1.0) - 1.0, np.nan)
        if gerd is None:
            gerd = datasets.load_regions().set_index("code")["gerd_pc_gdp"]
        z = gerd.astype(float).reindex(self.regions).to_numpy()
        zz = np.broadcast_to(z, g.shape).copy()
        ok = ok & np.isfinite(zz)
        g = np.where(ok, g, np.nan)
        zz = np.where(ok, zz, np.nan)
        if method == "spearman":
            R = g.shape[-1]
            g = pd.DataFrame(g.reshape(-1, R)).rank(axis=1).to_numpy().reshape(g.shape)
            zz = pd.DataFrame(zz.reshape(-1, R)).rank(axis=1).to_numpy().reshape(zz.shape)
        r = _masked_corr(g, zz, ok)
        present = np.take(self.present, i0, axis=ax) | np.take(self.present, i1, axis=ax)
        dims = tuple(d for d in self.dims if d != "year")
        labels = tuple(lab for d, lab in zip(self.dims, self.labels) if d != "year")
        return r, RegionCube(x0, dims, labels, self.regions, present)


def _ref_name(prefix: str, reference) -> str:
    return f"{prefix}_{reference}" if isinstance(reference, str) else prefix


def _theil_kernel(s: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``sum_r s_r ln(s_r / a_r)`` with ``0 ln 0 = 0``; +inf if some ``s_r > 0`` has ``a_r = 0``."""
    pos = s > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.divide(s, a, out=np.ones(np.broadcast_shapes(s.shape, np.shape(a))), where=pos)
        term = s * np.log(ratio)
    term[~pos] = 0.0
    return np.where(np.isnan(s[..., 0]), np.nan, term.sum(axis=-1))


def _gini_kernel(s: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Full locational Gini: ``1 - sum_k a_(k) (S_k + S_(k-1))``, regions sorted by ``s_r / a_r``."""
    s, a = np.broadcast_arrays(s, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(a > 0, s / np.where(a > 0, a, 1.0), np.where(s > 0, np.inf, 0.0))
    ratio = np.where(np.isnan(ratio), -np.inf, ratio)
    order = np.argsort(ratio, axis=-1, kind="stable")
    so = np.take_along_axis(s, order, axis=-1)
    ao = np.take_along_axis(a, order, axis=-1)
    cum = np.cumsum(so, axis=-1)
    g = 1.0 - (ao * (2 * cum - so)).sum(axis=-1)
    return np.where(np.isnan(s).any(axis=-1), np.nan, g)


def _top_k(R: int, frac: float, k: int | None) -> int:
    if k is None:
        if not 0 < frac <= 1:
            raise ValueError("frac must be in (0, 1]")
        k = max(1, math.ceil(round(frac * R, 9)))
    if not 1 <= k <= R:
        raise ValueError(f"k must be between 1 and the number of regions ({R})")
    return k


@functools.cache
def default_tir_regions() -> frozenset[str]:
    """The default TIR set: the region table's TIR flag (the source study's traditional industrial
    regions in NUTS 2016, 12 regions; ``docs/ODD.md``, Entities)."""
    r = datasets.load_regions()
    return frozenset(r.loc[r["tir"].astype(bool), "code"])


_TIR_SET: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar("tir_set", default=None)


def check_tir_regions(codes, field: str = "tir_regions") -> frozenset[str]:
    """A TIR set as given (NUTS-2016 codes): at least one region and at least one left outside it (the
    metrics compare TIR with non-TIR regions), every code known, none twice; else ValueError naming
    ``field`` and the allowed codes."""
    all_codes = list(datasets.load_regions()["code"])
    codes = list(codes) if not isinstance(codes, str) else [codes]
    bad = [c for c in codes if c not in all_codes]
    if bad:
        raise ValueError(f"{field}: unknown region code(s) {bad}; allowed: {', '.join(all_codes)}")
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise ValueError(f"{field}: region code(s) {dup} listed more than once")
    if not 0 < len(codes) < len(all_codes):
        raise ValueError(f"{field}: give between 1 and {len(all_codes) - 1} regions (got {len(codes)}): TIR regions "
                         "are compared with the regions outside the set")
    return frozenset(codes)


@contextlib.contextmanager
def tir_set(codes):
    """Within the block, every TIR metric (:func:`tir_regions`, :func:`tir_groups`, and what uses them:
    the T1 decomposition, TIR shares, TIR/non-TIR LQ means, FDI outside TIRs) uses the TIR set
    ``codes`` (validated by :func:`check_tir_regions`); ``None`` keeps the current set. Like
    ``numpy.errstate``, it is scoped to the block (and to the thread or task that opened it)."""
    if codes is None:
        yield tir_regions()
        return
    token = _TIR_SET.set(check_tir_regions(codes))
    try:
        yield _TIR_SET.get()
    finally:
        _TIR_SET.reset(token)


def manifest_tir_regions(manifest: dict) -> list[str] | None:
    """The TIR set a run's scenario chose (``[scenario] tir_regions``), or None for the default."""
    return (manifest.get("scenario") or {}).get("scenario", {}).get("tir_regions") or None


def tir_regions() -> frozenset[str]:
    """Codes of the TIR regions: the set of the innermost :func:`tir_set` block, else
    :func:`default_tir_regions`."""
    chosen = _TIR_SET.get()
    return default_tir_regions() if chosen is None else chosen


def tir_groups() -> pd.Series:
    """Region code -> ``'tir'`` / ``'nontir'`` by :func:`tir_regions`."""
    r = datasets.load_regions()
    return pd.Series(np.where(r["code"].isin(tir_regions()), "tir", "nontir"), index=r["code"])


def urban_groups() -> pd.Series:
    """Region code -> urban class (``rural``, ``moderately_urban``, ``urban``) from the region table."""
    r = datasets.load_regions()
    return pd.Series(r["urban_class"].to_numpy(), index=r["code"])


def _region_labels(groups, regions: np.ndarray) -> np.ndarray:
    g = pd.Series(groups) if isinstance(groups, Mapping) else groups
    aligned = len(g) == len(regions) and bool((g.index.to_numpy() == regions).all())
    lab = g if aligned else g.reindex(regions)
    if lab.isna().any():
        raise ValueError(f"no group label for regions {list(regions[lab.isna().to_numpy()])[:5]}")
    return lab.to_numpy(dtype=object)


def _ordered_unique(g: np.ndarray) -> list:
    return list(dict.fromkeys(sorted(g, key=str)))


def _regions_for(reference, regions) -> Sequence[str] | None:
    if regions is not None:
        return regions
    if isinstance(reference, str) and reference not in ("uniform", "am"):
        return _model_regions()
    if isinstance(reference, pd.Series):
        return reference.index.to_numpy(dtype=object)
    if isinstance(reference, pd.DataFrame):
        if "region" in reference.columns:
            return np.asarray(sorted(reference["region"].unique()), dtype=object)
        return reference.index.to_numpy(dtype=object)
    return None


def isin(s: pd.Series, values) -> np.ndarray:
    """``s.isin(values)`` as a bool array (for a categorical column, matched through its categories)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        wanted = set(values)
        hit = [k for k, c in enumerate(s.dtype.categories) if c in wanted]
        codes = s.array.codes  # -1: missing, never a match
        if len(hit) == 1:
            return codes == hit[0]
        lookup = np.zeros(len(s.dtype.categories) + 1, dtype=bool)
        lookup[hit] = True  # the last entry, for code -1, stays False
        return lookup.take(codes)
    return s.isin(list(values)).to_numpy(dtype=bool)


# --------------------------------------------------------------------------------------------------
# DataFrame-level metrics
# --------------------------------------------------------------------------------------------------


def theil(
    data: pd.DataFrame,
    reference="gva",
    *,
    value: str = "value",
    region: str = "region",
    by: Sequence[str] = ("year", "industry"),
    regions: Sequence[str] | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Theil index of relative regional concentration per group (Cutrini 2010).

    ``T_i = sum_r s_ir ln(s_ir / a_r)``, with ``s_ir`` region r's share of industry i and ``a_r`` its
    share of the reference (``gva`` by default; ``population``, ``area``, ``uniform`` for the absolute
    index, or custom weights: a Series indexed by region, or a DataFrame region x year). Convention
    ``0 ln 0 = 0``; T >= 0, T = 0 exactly when ``s = a``; at most ``ln(1 / min_r a_r)``. A group with
    zero total gives NaN; a region with value but zero reference weight gives +inf.

    Returns columns ``*by, metric, value`` with metric ``theil_<reference>`` (``theil`` for custom
    weights) unless ``name`` is given.
    """
    cube = RegionCube.from_frame(data, value=value, region=region, by=by, regions=_regions_for(reference, regions))
    return cube.theil(reference, name)


def locational_gini(
    data: pd.DataFrame,
    reference="gva",
    *,
    value: str = "value",
    region: str = "region",
    by: Sequence[str] = ("year", "industry"),
    regions: Sequence[str] | None = None,
    name: str = "locational_gini",
) -> pd.DataFrame:
    """Locational Gini coefficient per group (Krugman 1991), the full coefficient.

    Regions are ranked by ``s_ir / a_r`` (ascending); with ``S_k`` the cumulative industry share and
    ``a_(k)`` the reference share of the k-th region, the Lorenz curve plots cumulative reference share
    against ``S`` and ``G = 1 - sum_k a_(k) (S_k + S_(k-1))`` = twice the area between the diagonal and
    the curve (Krugman reported the area itself, i.e. half of this). ``G`` is 0 when ``s = a`` and
    approaches ``1 - a_r`` when the whole industry sits in region r; it lies in [0, 1].
    """
    cube = RegionCube.from_frame(data, value=value, region=region, by=by, regions=_regions_for(reference, regions))
    return cube.locational_gini(reference, name)


def herfindahl(
    data: pd.DataFrame,
    *,
    value: str = "value",
    region: str = "region",
    by: Sequence[str] = ("year", "industry"),
    regions: Sequence[str] | None = None,
    name: str = "hhi",
) -> pd.DataFrame:
    """Herfindahl index of regional shares per group: ``H_i = sum_r s_ir^2`` (1/R to 1; not rescaled)."""
    cube = RegionCube.from_frame(data, value=value, region=region, by=by, regions=regions)
    return cube.hhi(name)


def ellison_glaeser(
    plants: pd.DataFrame,
    reference="am",
    *,
    value: str = "output",
    region: str = "region",
    industry: str = "industry",
    by: Sequence[str] = (),
    regions: Sequence[str] | None = None,
    details: bool = False,
) -> pd.DataFrame:
    """Ellison-Glaeser (1997) index of agglomeration ``gamma`` from plant-level data.

    For industry i: ``G = sum_r (s_ir - x_r)^2`` (raw concentration), ``H = sum_j z_j^2`` (plant
    Herfindahl, ``z_j`` plant j's share of the industry) and

        gamma = (G / (1 - sum_r x_r^2) - H) / (1 - H).

    ``x_r`` is region r's share of the aggregate: with ``reference="am"`` (default) the sum of
    ``value`` over all industries in ``plants`` within the same ``by`` group (Ellison and Glaeser use
    total manufacturing employment; here all AM output); a named reference (``gva``...) or custom
    weights may be given instead. The model's plants measure output, not employment. Only plants with
    ``value > 0`` count. gamma is NaN for an industry with a single plant (H = 1). Returns ``*by,
    industry, metric, value``; ``details=True`` adds metrics ``eg_G`` and ``plant_hhi``.
    """
    p = plants.loc[plants[value].to_numpy(dtype=float) > 0]
    p = p.assign(_v2=p[value].to_numpy(dtype=float) ** 2)
    dims = (*by, industry)
    regs = _regions_for(reference, regions)
    cube = RegionCube.from_frame(p, value=value, region=region, by=dims, regions=regs)
    sq = RegionCube.from_frame(p, value="_v2", region=region, by=dims, regions=cube.regions)
    if isinstance(reference, str) and reference == "am":
        x = cube.values.sum(axis=cube.axis(industry), keepdims=True)
    else:
        x = _reference_array(reference, cube)
    return cube.tidy(eg_arrays(cube, sq, x, details))


def eg_arrays(
    cube: RegionCube, squares: RegionCube, aggregate: np.ndarray, details: bool = False
) -> dict[str, np.ndarray]:
    """Ellison-Glaeser gamma from a cube of plant output sums and a cube of sums of squared plant
    outputs (same dimensions); ``aggregate`` (broadcastable to ``cube.values``) gives ``x_r`` after
    normalisation over regions. Both cubes may be regrouped first (sums of squares add up)."""
    s = cube.shares()
    x = aggregate / aggregate.sum(axis=-1, keepdims=True)
    tot = cube.values.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        H = squares.values.sum(axis=-1) / tot**2
        G = ((s - x) ** 2).sum(axis=-1)
        sx2 = (np.broadcast_to(x, s.shape) ** 2).sum(axis=-1)
        gamma = np.where(H < 1 - 1e-12, (G / (1 - sx2) - H) / (1 - H), np.nan)
    arrays = {"eg_gamma": gamma}
    if details:
        arrays |= {"eg_G": G, "plant_hhi": H}
    return arrays


def location_quotients(
    data: pd.DataFrame,
    denominator="am",
    *,
    value: str = "value",
    region: str = "region",
    industry: str = "industry",
    by: Sequence[str] = ("year",),
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Location quotients ``LQ_ir = (x_ir / x_i) / (X_r / X)`` for every group, industry and region.

    ``X_r`` is by default total AM output in region r across the industries in ``data``
    (``denominator="am"``; the industries must not overlap); the alternative ``"gva"`` uses total
    GVA (all industries), as do the other named references. LQ > 1: the region is specialised in i.
    NaN where the industry has no value nationally or ``X_r = 0``. Returns ``*by, industry, region,
    value`` (metric ``lq``).
    """
    regs = _regions_for(denominator if denominator != "am" else "gva", regions)
    cube = RegionCube.from_frame(data, value=value, region=region, by=(*by, industry), regions=regs)
    lq = cube.lq_array(industry, denominator)
    keys = cube.keys
    mask = cube.present.ravel()
    R = len(cube.regions)
    out = keys.loc[keys.index.repeat(R)].reset_index(drop=True)
    out[region] = np.tile(cube.regions, len(keys))
    out["metric"] = "lq"
    out["value"] = lq.reshape(-1, R)[mask].ravel()
    return out


def lq_means(
    data: pd.DataFrame,
    groups=None,
    denominator="am",
    *,
    value: str = "value",
    region: str = "region",
    industry: str = "industry",
    by: Sequence[str] = ("year",),
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Unweighted means of location quotients over groups of regions (default: TIR / non-TIR).

    ``groups`` maps region -> label (Series or dict); default the region table's TIR flag, giving
    metrics ``lq_mean_tir`` and ``lq_mean_nontir``. Every region of the group counts, including those
    with no output in the industry (LQ = 0); regions with ``X_r = 0`` are skipped.
    """
    regs = _regions_for(denominator if denominator != "am" else "gva", regions)
    cube = RegionCube.from_frame(data, value=value, region=region, by=(*by, industry), regions=regs)
    return cube.tidy(cube.lq_mean_arrays(industry, groups, denominator))


def region_group_shares(
    data: pd.DataFrame,
    groups,
    *,
    prefix: str = "share",
    value: str = "value",
    region: str = "region",
    by: Sequence[str] = ("year",),
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Share of the total held by each group of regions: ``sum_{r in g} s_r``; metric ``<prefix>_<g>``."""
    if regions is None:
        g = pd.Series(groups) if isinstance(groups, Mapping) else groups
        regions = g.index.to_numpy(dtype=object)
    cube = RegionCube.from_frame(data, value=value, region=region, by=by, regions=regions)
    return cube.tidy(cube.group_share_arrays(groups, prefix))


def tir_shares(data: pd.DataFrame, **kw) -> pd.DataFrame:
    """Shares in TIR and non-TIR regions (metrics ``share_tir``, ``share_nontir``); ``by`` per call.

    With ``by=("year",)`` the industries are summed first: the TIR share of all AM output.
    """
    return region_group_shares(data, tir_groups(), **kw)


def urban_class_shares(data: pd.DataFrame, **kw) -> pd.DataFrame:
    """Shares by urban class of the region table (metrics ``share_rural``, ``share_moderately_urban``,
    ``share_urban``). Urban class: base-year density, rural < 186 <= moderately urban <= 846 < urban
    persons/km2 (base year 1981; 1998 for UKM6, UKM8, UKM9)."""
    return region_group_shares(data, urban_groups(), **kw)


def top_regions_share(
    data: pd.DataFrame,
    frac: float = 0.05,
    *,
    k: int | None = None,
    value: str = "value",
    region: str = "region",
    by: Sequence[str] = ("year",),
    regions: Sequence[str] | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Share of the top ``k = ceil(frac * R)`` regions (largest values) in each group.

    With the 40 GB regions and ``frac=0.05`` (the top 5%), k = 2. Metric ``share_top5pct`` (from
    ``frac``) or ``share_top<k>`` when ``k`` is given.
    """
    regs = _model_regions() if regions is None else regions
    cube = RegionCube.from_frame(data, value=value, region=region, by=by, regions=regs)
    if name is None:
        name = f"share_top{k}" if k is not None else f"share_top{round(frac * 100):d}pct"
    return cube.tidy({name: cube.top_share_array(frac, k)})


def rd_growth_correlation(
    data: pd.DataFrame,
    start_year: int,
    end_year: int,
    *,
    gerd: pd.Series | None = None,
    value: str = "value",
    region: str = "region",
    by: Sequence[str] = (),
    growth: str = "log",
    method: str = "pearson",
    regions: Sequence[str] | None = None,
    name: str = "rd_growth_corr",
) -> pd.DataFrame:
    """Correlation across regions between R&D intensity and growth of ``value`` from start to end year.

    R&D intensity: GERD as % of GDP (region table column ``gerd_pc_gdp``, mean of 2013-2016) unless a
    Series ``gerd`` indexed by region is given. Growth per region: ``ln(x_end / x_start)``
    (``growth="log"``; regions with zero value in either year are left out) or ``x_end / x_start - 1``
    (``"pct"``; regions with zero start left out). ``method`` ``pearson`` or ``spearman`` (average
    ranks for ties). NaN with fewer than 3 regions. Returns ``*by, metric, value``; values are summed
    over any column not in ``by`` (e.g. industries) first.
    """
    d = data.loc[data["year"].isin([start_year, end_year])]
    regs = _model_regions() if regions is None else regions
    cube = RegionCube.from_frame(d, value=value, region=region, by=(*by, "year"), regions=regs)
    r, out_cube = cube.rd_growth_array(start_year, end_year, gerd=gerd, growth=growth, method=method)
    return out_cube.tidy({name: r})


def _masked_corr(a: np.ndarray, b: np.ndarray, ok: np.ndarray) -> np.ndarray:
    n = ok.sum(axis=-1)
    a0 = np.where(ok, a, 0.0)
    b0 = np.where(ok, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = a0.sum(-1, keepdims=True) / n[..., None]
        mb = b0.sum(-1, keepdims=True) / n[..., None]
        da = np.where(ok, a0 - ma, 0.0)
        db = np.where(ok, b0 - mb, 0.0)
        r = (da * db).sum(-1) / np.sqrt((da * da).sum(-1) * (db * db).sum(-1))
    return np.where(n >= 3, r, np.nan)


# --------------------------------------------------------------------------------------------------
# Period averages
# --------------------------------------------------------------------------------------------------


def period_averages(
    metrics: pd.DataFrame, base_year: int = 1973, width: int = 5, *, year: str = "year", value: str = "value"
) -> pd.DataFrame:
    """Average a tidy metric table over fixed periods of ``width`` years.

    Periods start at ``base_year`` and every ``width`` years after (and before) it: with the defaults
    1973-77, 1978-82, ..., 1998-2002, ..., 2013-17. A period's value is the mean of the *annual index
    values* of the years present (not the index of averaged data); a period only partly covered
    (e.g. 2013-2016) is averaged over the years present, and ``n_years`` says how many. Returns the
    other columns plus ``period`` (label ``"1973-77"``), ``period_start`` and ``n_years`` and ``value``.
    """
    y = metrics[year].to_numpy(dtype=np.int64)
    start = base_year + ((y - base_year) // width) * width
    keys = [c for c in metrics.columns if c not in (year, value)]
    df = metrics[keys].copy()
    df["period_start"] = start
    df["_v"] = metrics[value].to_numpy(dtype=float)
    g = df.groupby([*keys, "period_start"], sort=True, dropna=False)["_v"]
    out = g.agg(value="mean", n_years="count").reset_index()
    end = out["period_start"] + width - 1
    out["period"] = out["period_start"].astype(str) + "-" + (end % 100).astype(str).str.zfill(2)
    return out[[*keys, "period", "period_start", "n_years", "value"]]


def period_mean_array(
    values: np.ndarray, present: np.ndarray, years: Sequence[int], *, axis: int, base_year: int = 1973, width: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Array form of :func:`period_averages`, for metric arrays such as those of a :class:`RegionCube`.

    ``values`` and ``present`` (which groups exist) have the same shape; ``axis`` is the year axis,
    labelled by ``years`` in ascending order. Each period's value is the mean of the values of its
    present years, NaN values left out (NaN if none is left); a period is present where any of its
    years is. Returns ``(period_start, mean, present)``, the year axis replaced by the periods.
    """
    years = np.asarray(years, dtype=np.int64)
    start = base_year + ((years - base_year) // width) * width
    first = np.flatnonzero(np.r_[True, start[1:] != start[:-1]])  # where each period begins on the year axis
    ok = present & ~np.isnan(values)
    total = np.add.reduceat(np.where(ok, values, 0.0), first, axis=axis)
    count = np.add.reduceat(ok.astype(np.int64), first, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return start[first], mean, np.logical_or.reduceat(present, first, axis=axis)


# --------------------------------------------------------------------------------------------------
# The 1973-2016 output-change decomposition (TARGETS T1)
# --------------------------------------------------------------------------------------------------


def decomposition(plants: pd.DataFrame, tir=None, *, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Decompose the change in output between the first and last year by plant group (TARGETS T1).

    Each plant record (a relocation closes one record and opens another) falls in one of:

    - *open throughout*: ``open_at_start`` and ``exit_year`` NA; contributes ``output_end -
      output_start``;
    - *closure*: ``open_at_start`` and ``exit_year`` not NA; contributes ``-output_start``;
    - *opening*: not ``open_at_start`` and ``exit_year`` NA; contributes ``+output_end``;
    - opened and closed within the period: contributes 0.

    Closures and openings are reported together (``openings_closures``). Region type is the TIR flag
    of the record's ``region`` (``tir``: set of TIR codes or Series region -> bool; default the region
    table); ownership is ``ownership_last``. Returns one row per ``by`` group (default ``seed`` if
    present) and cell, in the study's order, with columns ``region_type`` ('TIR'/'non-TIR'),
    ``plants`` ('open_throughout'/'openings_closures'), ``ownership`` ('GB'/'foreign'), ``change``
    (units of output) and ``pct`` = 100 x change / total change of the group (the eight sum to 100;
    NaN if the total is 0; a negative total flips the signs' meaning, so read ``change`` too).
    """
    if by is None:
        by = ["seed"] if "seed" in plants.columns else []
    by = list(by)
    if tir is None:
        tir_set = tir_regions()
    elif isinstance(tir, pd.Series):
        tir_set = set(tir.index[tir.astype(bool)])
    else:
        tir_set = set(tir)
    own = plants["ownership_last"]
    foreign = isin(own, ["foreign"])
    if not (foreign | isin(own, ["GB"])).all():
        raise ValueError("ownership_last must be 'GB' or 'foreign'")
    start = plants["open_at_start"].to_numpy(dtype=bool)
    exited = plants["exit_year"].notna().to_numpy()
    o0 = plants["output_start"].to_numpy(dtype=float)
    # change: open throughout o1 - o0; closure -o0; opening o1; opened and closed within the period 0
    change = np.where(exited, 0.0, plants["output_end"].to_numpy(dtype=float))
    np.subtract(change, o0, out=change, where=start)
    # cell code in the order of DECOMP_CELLS: region type (non-TIR, TIR) x plants x ownership (GB, foreign)
    cell = np.int8(4) * isin(plants["region"], tir_set)
    cell += np.int8(2) * (exited | ~start)  # not open throughout
    cell += foreign
    n = len(DECOMP_CELLS)
    if by:
        gcodes, glabels = [], []
        for col in by:
            c, lab = _codes(plants[col])
            gcodes.append(c)
            glabels.append(lab)
        gshape = tuple(len(lab) for lab in glabels)
        gid = _ravel(gcodes, gshape)  # a new array
        G = math.prod(gshape)
        present = np.flatnonzero(np.bincount(gid, minlength=G))  # the groups that have plants
        gid *= n
        gid += cell
        sums = np.bincount(gid, weights=change, minlength=G * n).reshape(G, n)[present]
        group = np.repeat(np.unravel_index(present, gshape), n, axis=1)
        out = pd.DataFrame({col: pd.Index(lab).take(g) for col, lab, g in zip(by, glabels, group)})
    else:
        sums = np.bincount(cell, weights=change, minlength=n).reshape(1, n)
        out = pd.DataFrame(index=range(n))
    cell_of_row = np.tile(np.arange(n), len(sums))
    for j, col in enumerate(["region_type", "plants", "ownership"]):
        out[col] = pd.Index([c[j] for c in DECOMP_CELLS]).take(cell_of_row)
    out["change"] = sums.ravel()
    total = np.repeat(sums.sum(axis=1), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["pct"] = np.where(total != 0, 100.0 * out["change"].to_numpy() / np.where(total != 0, total, 1.0), np.nan)
    return out


def decomposition_vs_study(decomp: pd.DataFrame, tolerance_pp: float = 3.0) -> pd.DataFrame:
    """Compare decomposition cells with the study (T1): adds ``study_pct``, ``diff_pp``, ``within_tol``
    (|diff| <= tolerance) and ``sign_ok`` (same sign as the study)."""
    key = list(zip(decomp["region_type"], decomp["plants"], decomp["ownership"]))
    out = decomp.copy()
    out["study_pct"] = [STUDY_DECOMPOSITION[k] for k in key]
    out["diff_pp"] = out["pct"] - out["study_pct"]
    out["within_tol"] = out["diff_pp"].abs() <= tolerance_pp
    out["sign_ok"] = np.sign(out["pct"]) == np.sign(out["study_pct"])
    return out
