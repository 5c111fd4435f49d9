"""Results of one or more runs: tidy tables, a per-plant view, and the run folder on disk.

A run folder holds ``manifest.json``, ``panel.parquet``, ``events.parquet``, ``plants.parquet``,
``model_vars.parquet`` and ``spending.parquet``. It is written to a temporary sibling folder and
renamed into place only when complete, so a crash never leaves a half-written run that looks
complete (``manifest.json`` is the last file written).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.files import out_folder_problem

TABLES = ("panel", "events", "plants", "model_vars", "spending")


@dataclass
class Results:
    """Tidy outputs of one run or an ensemble (every table has a ``seed`` column)."""

    panel: pd.DataFrame
    events: pd.DataFrame
    plants: pd.DataFrame
    model_vars: pd.DataFrame
    spending: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame | None = None  # per-plant yearly states, when tracked

    @property
    def seeds(self) -> list[int]:
        return sorted(int(s) for s in self.plants["seed"].unique())

    def plant(self, plant_id: int, seed: int | None = None) -> dict[str, Any]:
        """Per-plant view for teaching and debugging: the plant's record, its events, the records it is
        linked to (relocation, parent) and, if tracked, its yearly history."""
        seed = self.seeds[0] if seed is None else seed
        pl = self.plants[(self.plants["seed"] == seed) & (self.plants["plant_id"] == plant_id)]
        if pl.empty:
            raise KeyError(f"no plant {plant_id} in seed {seed}")
        ev = self.events[(self.events["seed"] == seed)
                         & ((self.events["plant_id"] == plant_id) | (self.events["linked_plant"] == plant_id))]
        view: dict[str, Any] = {"record": pl.iloc[0].to_dict(), "events": ev.reset_index(drop=True)}
        if self.history is not None:
            h = self.history[(self.history["seed"] == seed) & (self.history["plant_id"] == plant_id)]
            view["history"] = h.reset_index(drop=True)
        return view

    def save(self, out: str | Path, overwrite: bool = False) -> Path:
        """Write the run folder atomically. Refuses an existing non-empty folder unless ``overwrite``."""
        out = Path(out)
        problem = out_folder_problem(out, overwrite)
        if problem:
            raise FileExistsError(problem)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; a run folder is an ordinary folder
        try:
            for name in TABLES:
                getattr(self, name).to_parquet(tmp / f"{name}.parquet", index=False)
            if self.history is not None:
                self.history.to_parquet(tmp / "history.parquet", index=False)
            (tmp / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=_json_default))
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out

    @classmethod
    def load(cls, run_dir: str | Path) -> "Results":
        d = Path(run_dir)
        if not (d / "manifest.json").is_file():
            raise FileNotFoundError(f"{d} is not a complete run folder (no manifest.json)")
        tables = {name: pd.read_parquet(d / f"{name}.parquet") for name in TABLES}
        hist = pd.read_parquet(d / "history.parquet") if (d / "history.parquet").is_file() else None
        return cls(**tables, manifest=json.loads((d / "manifest.json").read_text()), history=hist)

    @classmethod
    def combine(cls, runs: list["Results"], manifest: dict[str, Any]) -> "Results":
        """One Results from several runs (seeds), tables stacked in the order given."""
        cat = {name: pd.concat([getattr(r, name) for r in runs], ignore_index=True) for name in TABLES}
        hists = [r.history for r in runs if r.history is not None]
        return cls(**cat, manifest=manifest, history=pd.concat(hists, ignore_index=True) if hists else None)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")
