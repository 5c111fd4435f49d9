"""The same seed gives identical outputs, in one process or many; different seeds differ."""

import hashlib

import pandas.testing as pdt

import sim

SMALL = {"n_plants_start": 2000}


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_byte_identical_tables(tmp_path):
    a = sim.simulate(params=SMALL, seed=11).save(tmp_path / "a")
    b = sim.simulate(params=SMALL, seed=11).save(tmp_path / "b")
    for name in ("panel", "events", "plants", "model_vars"):
        assert _digest(a / f"{name}.parquet") == _digest(b / f"{name}.parquet"), name


def test_different_seeds_differ():
    a = sim.simulate(params=SMALL, seed=1)
    b = sim.simulate(params=SMALL, seed=2)
    assert not a.panel["output"].equals(b.panel["output"])
    assert len(a.events) != len(b.events) or not a.events["plant_id"].equals(b.events["plant_id"])


def test_a_pool_of_workers_gives_the_same_tables_as_one_process():
    one = sim.simulate_many(params=SMALL, seeds=[3, 4, 5], workers=1)
    pool = sim.simulate_many(params=SMALL, seeds=[3, 4, 5], workers=2)
    for name in ("panel", "events", "plants", "model_vars"):
        pdt.assert_frame_equal(getattr(one, name), getattr(pool, name))
    single = sim.simulate(params=SMALL, seed=4)
    pdt.assert_frame_equal(one.panel[one.panel["seed"] == 4].reset_index(drop=True), single.panel)
