"""The plant table: firm agents stored as columns (one numpy array per attribute).

Live plants sit in dense arrays that every mechanism works on at once; closed plants move to an
archive of their final records. Plant ids are unique and never reused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# column -> dtype of the live table
COLUMNS: dict[str, type] = {
    "id": np.int64,
    "sector": np.int64,
    "region": np.int64,
    "foreign": np.bool_,
    "foreign_entry": np.bool_,
    "weight": np.float64,  # market-share weight (capacity); output = demand * weight / sector total
    "prod": np.float64,  # productivity index
    "sti_cap": np.float64,  # STI capability in [0, 1]
    "dui_cap": np.float64,  # DUI capability in [0, 1]
    "birth_year": np.int64,
    "entry_year": np.int64,
    "open_at_start": np.bool_,
    "parent": np.int64,  # -1: none
    "relocated_from": np.int64,  # -1: none
    "output": np.float64,  # output this year, GBP m (2000 prices)
    "employment": np.float64,
    "output_start": np.float64,
}


#: columns of the archive of closed plants: the live columns plus the year of closure and the final output
_ARCHIVE_COLUMNS: dict[str, type] = {**COLUMNS, "exit_year": np.int64, "output_end": np.float64}


class Removal:
    """How :meth:`PlantTable.remove` compacted the rows: row ``src[i]`` moved to ``dst[i]`` and the
    table kept its first ``n`` rows."""

    __slots__ = ("dst", "src", "n")

    def __init__(self, dst: np.ndarray, src: np.ndarray, n: int):
        self.dst, self.src, self.n = dst, src, n

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The same compaction of an array aligned with the rows before the removal (modified in
        place; returns the first ``n`` rows)."""
        x[self.dst] = x[self.src]
        return x[: self.n]


class PlantTable:
    """Columnar store of live plants plus an archive of closed plant records.

    Columns live in buffers with spare capacity, so appending new plants costs time in proportion to
    the new plants, not to the table (amortised doubling); ``cols`` holds views of the live rows."""

    def __init__(self, capacity_hint: int = 0):
        cap = max(int(capacity_hint), 16)
        self._buf: dict[str, np.ndarray] = {k: np.empty(cap, dtype=t) for k, t in COLUMNS.items()}
        self._n = 0
        self.cols: dict[str, np.ndarray] = {k: b[:0] for k, b in self._buf.items()}
        self._next_id = 0
        # closed plants' final records, in buffers with spare capacity like the live columns
        self._arch: dict[str, np.ndarray] = {k: np.empty(cap, dtype=t) for k, t in _ARCHIVE_COLUMNS.items()}
        self._na = 0

    def __len__(self) -> int:
        return self._n

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("cols")
        if cols is not None and name in cols:
            return cols[name]
        raise AttributeError(name)

    def _views(self) -> None:
        self.cols = {k: b[: self._n] for k, b in self._buf.items()}

    def set(self, name: str, values: np.ndarray) -> None:
        self._buf[name][: self._n] = values

    def add(self, n: int, **values) -> np.ndarray:
        """Append ``n`` plants; columns not given get defaults. Returns the new ids."""
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        defaults = {"parent": -1, "relocated_from": -1, "open_at_start": False, "output": 0.0,
                    "employment": 0.0, "output_start": 0.0, "sti_cap": 0.0, "dui_cap": 0.0}
        new_cols = {}
        for k, t in COLUMNS.items():  # evaluate every input before the buffers may move
            if k == "id":
                new_cols[k] = ids
            elif k in values:
                new_cols[k] = np.asarray(values[k], dtype=t)
            elif k in defaults:
                new_cols[k] = defaults[k]
            elif k == "foreign_entry" and "foreign" in values:
                new_cols[k] = np.asarray(values["foreign"], dtype=t)
            else:
                raise KeyError(f"new plants need column {k!r}")
        m = self._n + n
        cap = self._buf["id"].shape[0]
        if m > cap:
            cap = max(m, 2 * cap)
            for k, b in self._buf.items():
                nb = np.empty(cap, dtype=b.dtype)
                nb[: self._n] = b[: self._n]
                self._buf[k] = nb
        for k, v in new_cols.items():
            self._buf[k][self._n : m] = v
        self._n = m
        self._views()
        return ids

    def _archive_rows(self, idx: np.ndarray, year: int) -> None:
        n0, n1 = self._na, self._na + idx.size
        cap = self._arch["id"].shape[0]
        if n1 > cap:
            cap = max(n1, 2 * cap)
            for k, b in self._arch.items():
                nb = np.empty(cap, dtype=b.dtype)
                nb[:n0] = b[:n0]
                self._arch[k] = nb
        for k, v in self.cols.items():
            self._arch[k][n0:n1] = v[idx]
        self._arch["exit_year"][n0:n1] = year
        self._arch["output_end"][n0:n1] = 0.0
        self._na = n1

    @property
    def _archive(self) -> list[dict[str, np.ndarray]]:
        """The closed plants' records (one dict of columns)."""
        return [{k: b[: self._na] for k, b in self._arch.items()}]

    def remove(self, mask: np.ndarray, year: int) -> "Removal":
        """Close the plants where ``mask`` is true: archive their final record with ``exit_year``.

        The table is compacted by moving the last live rows into the holes (O(closures) per column,
        not O(plants)), so the order of the rows changes. The returned :class:`Removal` applies the
        same compaction to any other array aligned with the rows (``removal.apply(x)``)."""
        mask = np.asarray(mask, bool)
        idx = np.flatnonzero(mask)
        n = self._n
        m = n - idx.size
        if idx.size == 0:
            return Removal(np.empty(0, np.intp), np.empty(0, np.intp), n)
        self._archive_rows(idx, year)
        dst = idx[idx < m]                        # holes in the part of the table that stays
        src = m + np.flatnonzero(~mask[m:])       # live rows beyond it, moved into the holes
        for b in self._buf.values():
            b[dst] = b[src]
        self._n = m
        self._views()
        return Removal(dst, src, m)

    def relocate(self, idx: np.ndarray, region: np.ndarray, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Move the plants at rows ``idx`` to ``region``: in the plant accounts the plant at the origin
        closes (its record is archived) and a new plant with a new id opens at the destination in the
        same row, keeping its capabilities, ownership, birth year and parent, with ``relocated_from``
        pointing to the closed plant. Returns (old ids, new ids)."""
        idx = np.asarray(idx, dtype=np.int64)
        old_ids = self._buf["id"][idx].copy()
        self._archive_rows(idx, year)
        new_ids = np.arange(self._next_id, self._next_id + idx.size, dtype=np.int64)
        self._next_id += idx.size
        b = self._buf
        b["id"][idx] = new_ids
        b["region"][idx] = region
        b["entry_year"][idx] = year
        b["relocated_from"][idx] = old_ids
        b["open_at_start"][idx] = False
        b["output_start"][idx] = 0.0
        return old_ids, new_ids

    def records(self) -> dict[str, np.ndarray]:
        """All plants ever alive: closed records plus live plants (exit_year -1, output_end = output)."""
        live = {k: v.copy() for k, v in self.cols.items()}
        live["exit_year"] = np.full(len(self), -1, dtype=np.int64)
        live["output_end"] = live["output"].copy()
        parts = self._archive + [live]
        out = {k: np.concatenate([p[k] for p in parts]) for k in live}
        order = np.argsort(out["id"], kind="stable")
        return {k: v[order] for k, v in out.items()}

    def to_frame(self, region_codes, sector_codes, sme_threshold: float = 250.0) -> pd.DataFrame:
        """One row per plant ever alive (closed records and live plants) in id order, with the public
        column names (see README, run folder). Builds only the columns it reports."""
        parts, live = self._archive, self.cols
        ids = np.concatenate([q["id"] for q in parts] + [live["id"]])
        order = np.argsort(ids, kind="stable")

        def col(name, live_value=None):  # archived + live values of one column, in id order
            lv = live[name] if live_value is None else live_value
            return np.concatenate([q[name] for q in parts] + [lv])[order]

        def cat(codes, labels):
            codes = codes.view(np.int8) if codes.dtype == bool else codes
            return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(labels)))

        def nullable(a):  # -1 -> missing
            return pd.arrays.IntegerArray(a, mask=a < 0)

        own = ["GB", "foreign"]
        return pd.DataFrame({
            "plant_id": ids[order],
            "sector": cat(col("sector"), sector_codes),
            "region": cat(col("region"), region_codes),
            "ownership_entry": cat(col("foreign_entry"), own),
            "ownership_last": cat(col("foreign"), own),
            "size_class": cat(col("employment") >= sme_threshold, ["SME", "large"]),
            "entry_year": col("entry_year"),
            "exit_year": nullable(col("exit_year", np.full(len(self), -1, dtype=np.int64))),
            "output_start": col("output_start"),
            "output_end": col("output_end", live["output"]),
            "employment_last": col("employment"),
            "productivity_last": col("prod"),
            "open_at_start": col("open_at_start"),
            "birth_year": col("birth_year"),
            "relocated_from": nullable(col("relocated_from")),
            "parent_id": nullable(col("parent")),
        })
