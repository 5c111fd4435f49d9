"""Synthetic run folders that follow the run-folder contract, for testing metrics and reports without
the model. Not a test module (no ``test_`` prefix)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sim.datasets import SECTOR_CODES, load_regions


def fake_panel(seeds=(0, 1), years=range(1973, 2017), rng: np.random.Generator | None = None) -> pd.DataFrame:
    """Full grid seed x year x region x sector x ownership x size_class with positive output."""
    rng = rng or np.random.default_rng(1)
    regions = load_regions()["code"].to_numpy(dtype=object)
    idx = pd.MultiIndex.from_product(
        [list(seeds), list(years), regions, list(SECTOR_CODES), ["GB", "foreign"], ["SME", "large"]],
        names=["seed", "year", "region", "sector", "ownership", "size_class"],
    ).to_frame(index=False)
    n = len(idx)
    # a region x sector pattern that drifts over time, plus noise
    base = rng.gamma(0.7, 20.0, size=(len(regions), len(SECTOR_CODES)))
    r = idx["region"].map({c: i for i, c in enumerate(regions)}).to_numpy()
    s = idx["sector"].map({c: i for i, c in enumerate(SECTOR_CODES)}).to_numpy()
    t = idx["year"].to_numpy() - 1973
    idx["output"] = base[r, s] * (1 + 0.01 * t * (r % 3 - 1)).clip(0.1) * rng.uniform(0.8, 1.2, n)
    idx["employment"] = idx["output"] * 40.0
    idx["plants"] = rng.integers(1, 20, n)
    return idx


def fake_plants(seeds=(0, 1), n=400, start=1973, end=2016, rng: np.random.Generator | None = None) -> pd.DataFrame:
    rng = rng or np.random.default_rng(2)
    regions = load_regions()["code"].to_numpy(dtype=object)
    rows = []
    for seed in seeds:
        open0 = rng.random(n) < 0.6
        exit_ = np.where(rng.random(n) < 0.4, rng.integers(start + 1, end + 1, n), -1)
        entry = np.where(open0, start, rng.integers(start + 1, end + 1, n))
        exit_ = np.where((exit_ >= 0) & (exit_ <= entry), -1, exit_)
        o0 = np.where(open0, rng.gamma(1.0, 10.0, n), 0.0)
        o1 = np.where(exit_ < 0, rng.gamma(1.2, 12.0, n), 0.0)
        rows.append(pd.DataFrame({
            "seed": seed,
            "plant_id": np.arange(n),
            "sector": rng.choice(np.array(SECTOR_CODES, dtype=object), n),
            "region": rng.choice(regions, n),
            "ownership_entry": rng.choice(np.array(["GB", "foreign"], dtype=object), n, p=[0.8, 0.2]),
            "ownership_last": rng.choice(np.array(["GB", "foreign"], dtype=object), n, p=[0.6, 0.4]),
            "size_class": rng.choice(np.array(["SME", "large"], dtype=object), n),
            "entry_year": entry,
            "exit_year": pd.arrays.IntegerArray(exit_.astype(np.int64), mask=exit_ < 0),
            "output_start": o0,
            "output_end": o1,
            "open_at_start": open0,
            "relocated_from": pd.array([pd.NA] * n, dtype="Int64"),
            "parent_id": pd.array([pd.NA] * n, dtype="Int64"),
        }))
    return pd.concat(rows, ignore_index=True)


def fake_events(plants: pd.DataFrame) -> pd.DataFrame:
    opened = plants[~plants["open_at_start"]]
    closed = plants[plants["exit_year"].notna()]
    ev = pd.concat([
        pd.DataFrame({"seed": opened["seed"], "year": opened["entry_year"], "plant_id": opened["plant_id"],
                      "kind": "open",
                      "cause": np.where(opened["ownership_entry"] == "foreign", "foreign_entry", "startup"),
                      "region": opened["region"], "sector": opened["sector"], "ownership": opened["ownership_entry"]}),
        pd.DataFrame({"seed": closed["seed"], "year": closed["exit_year"].astype(int), "plant_id": closed["plant_id"],
                      "kind": "close", "cause": "exit", "region": closed["region"], "sector": closed["sector"],
                      "ownership": closed["ownership_last"]}),
    ], ignore_index=True)
    ev["linked_plant"] = pd.array([pd.NA] * len(ev), dtype="Int64")
    return ev


def write_fake_run(path: Path, seeds=(0, 1), years=range(1973, 2017)) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    years = list(years)
    panel = fake_panel(seeds, years)
    plants = fake_plants(seeds, start=years[0], end=years[-1])
    panel.to_parquet(path / "panel.parquet", index=False)
    plants.to_parquet(path / "plants.parquet", index=False)
    fake_events(plants).to_parquet(path / "events.parquet", index=False)
    manifest = {"scenario": {"name": "fake"}, "params": {}, "seeds": list(seeds), "start_year": years[0],
                "end_year": years[-1], "code_version": "test"}
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path
