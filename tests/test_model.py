"""Model-level behaviour: mechanisms move outcomes in the documented direction; accounting holds."""

import mesa
import numpy as np
import pandas as pd
import pytest

import sim
from sim import datasets as ds
from sim.model import AMModel
from sim.scenario import Scenario, scenario_from_dict

SMALL = {"n_plants_start": 3000}


def test_model_is_a_mesa_model_with_defaults_and_one_year_per_step():
    m = AMModel(rng=3, n_plants_start=500)
    assert isinstance(m, mesa.Model)
    assert m.year == 1973
    m.step()
    assert m.year == 1974
    df = m.datacollector.get_model_vars_dataframe()
    assert list(df["year"]) == [1973, 1974]


def test_batch_run_varies_a_parameter():
    out = mesa.batch_run(AMModel, parameters={"n_plants_start": 400, "exit_rate": [0.02, 0.2]},
                         max_steps=5, number_processes=1, display_progress=False, rng=[1])
    df = pd.DataFrame(out)
    last = df.sort_values("Step").groupby("exit_rate").tail(1).set_index("exit_rate")
    assert last.loc[0.2, "plants"] < last.loc[0.02, "plants"]


def test_a_history_run_covers_1973_to_2016_with_national_demand(small_run):
    mv = small_run.model_vars
    assert mv["year"].min() == 1973 and mv["year"].max() == 2016
    total = small_run.panel.groupby("year")["output"].sum()
    assert total[1973] == pytest.approx(120_000, rel=1e-9)
    assert total[2016] - total[1973] == pytest.approx(81_200, rel=0.02)  # TARGETS T1 total (GBP m)
    assert total[1981] < total[1979]  # the 1980-81 recession


def test_three_plant_kinds_are_present(small_run):
    p = small_run.plants
    end = p[p["exit_year"].isna()]
    kinds = {("GB", "large"), ("foreign", "large"), ("GB", "SME")}
    assert kinds <= set(zip(end["ownership_last"], end["size_class"]))


def test_panel_totals_equal_plant_table_sums(small_run):
    panel, plants = small_run.panel, small_run.plants
    by_year = panel.groupby("year")[["output", "plants"]].sum()
    start = plants[plants["open_at_start"]]
    assert by_year.loc[1973, "output"] == pytest.approx(start["output_start"].sum())
    assert by_year.loc[1973, "plants"] == len(start)
    end = plants[plants["exit_year"].isna()]
    assert by_year.loc[2016, "output"] == pytest.approx(end["output_end"].sum())
    assert by_year.loc[2016, "plants"] == len(end)
    mv = small_run.model_vars.set_index("year")
    assert (by_year["plants"] == mv["plants"]).all()
    assert (plants.loc[plants["exit_year"].notna(), "output_end"] == 0).all()


def test_every_closed_plant_has_exactly_one_closure_and_every_entrant_one_opening(small_run):
    ev, plants = small_run.events, small_run.plants
    closes = ev[ev["kind"] == "close"].groupby("plant_id").size()
    closed = plants.loc[plants["exit_year"].notna(), "plant_id"]
    assert set(closes.index) == set(closed) and (closes == 1).all()
    opens = ev[ev["kind"] == "open"].groupby("plant_id").size()
    entrants = plants.loc[~plants["open_at_start"], "plant_id"]
    assert set(opens.index) == set(entrants) and (opens == 1).all()
    # close years agree with exit years
    cy = ev[ev["kind"] == "close"].set_index("plant_id")["year"]
    assert (plants.set_index("plant_id").loc[cy.index, "exit_year"].astype(int) == cy).all()


def test_relocations_link_a_closure_to_an_opening(small_run):
    ev, plants = small_run.events, small_run.plants.set_index("plant_id")
    moved_in = plants[plants["relocated_from"].notna()]
    assert len(moved_in) > 0
    origin = plants.loc[moved_in["relocated_from"].astype(int)]
    assert (origin["exit_year"].astype(int).to_numpy() == moved_in["entry_year"].to_numpy()).all()
    assert (origin["region"].to_numpy() != moved_in["region"].to_numpy()).all()
    rc = ev[(ev["kind"] == "close") & (ev["cause"] == "relocation")]
    assert set(rc["linked_plant"].astype(int)) == set(moved_in.index)


def test_acquired_plants_change_ownership(small_run):
    ev, plants = small_run.events, small_run.plants.set_index("plant_id")
    acq = ev[ev["kind"] == "acquire"]["plant_id"]
    assert len(acq) > 0
    assert (plants.loc[acq, "ownership_entry"] == "GB").all()
    assert (plants.loc[acq, "ownership_last"] == "foreign").all()


def test_per_plant_view_shows_record_events_and_history(small_run):
    pid = int(small_run.events.loc[small_run.events["kind"] == "acquire", "plant_id"].iloc[0])
    v = small_run.plant(pid)
    assert v["record"]["plant_id"] == pid
    assert "acquire" in set(v["events"]["kind"])
    h = v["history"]
    assert h["year"].is_monotonic_increasing and len(h) >= 1
    assert h["ownership"].iloc[-1] == "foreign"


def test_switching_entry_off_means_the_plant_count_never_rises():
    r = sim.simulate(params={**SMALL, "entry_on": False, "relocation_on": False}, seed=1)
    n = r.model_vars["plants"].to_numpy()
    assert np.all(np.diff(n) <= 0)
    assert not (r.events["kind"] == "open").any()


def test_switching_exit_off_stops_closures_by_exit():
    r = sim.simulate(params={**SMALL, "exit_on": False}, seed=1)
    assert not (r.events["cause"] == "exit").any()


def _entries(sc, region, sectors, seeds):
    total = 0
    for s in seeds:
        ev = sim.simulate(sc, params=SMALL, seed=s).events
        sel = (ev["kind"] == "open") & (ev["cause"].isin(["startup", "foreign_entry"])) \
            & (ev["region"] == region) & (ev["sector"].isin(sectors)) & (ev["year"] >= 1990)
        total += int(sel.sum())
    return total


def test_raising_a_regions_science_base_raises_sti_sector_entries_there():
    district = scenario_from_dict({"interventions": [{
        "lever": "innovation_district", "regions": ["UKE3"], "start_year": 1985, "end_year": 2016,
        "intensity": 2.0}]})
    sti = ["pharmaceuticals", "computers_electronics_optical"]
    seeds = range(6)
    assert _entries(district, "UKE3", sti, seeds) > 1.3 * _entries(Scenario(), "UKE3", sti, seeds)


def test_fdi_attraction_draws_foreign_entries_to_the_target_region():
    aid = scenario_from_dict({"interventions": [{
        "lever": "fdi_attraction", "regions": ["UKL1"], "start_year": 1980, "end_year": 2016, "intensity": 1.5}]})
    def foreign_in(sc):
        n = 0
        for s in range(4):
            ev = sim.simulate(sc, params=SMALL, seed=s).events
            n += int(((ev["cause"] == "foreign_entry") & (ev["region"] == "UKL1")).sum())
        return n
    assert foreign_in(aid) > 1.5 * foreign_in(Scenario())


def test_a_foreign_investment_shock_lowers_foreign_output():
    shock = scenario_from_dict({"interventions": [{
        "lever": "foreign_investment_shock", "regions": ["ALL"], "start_year": 1995, "end_year": 2016,
        "intensity": 0.8}]})
    def foreign_share(sc):
        return np.mean([sim.simulate(sc, params=SMALL, seed=s).model_vars["foreign_output_share"].iloc[-1]
                        for s in range(3)])
    assert foreign_share(shock) < foreign_share(Scenario()) - 0.05


def test_acquisition_location_moves_acquisitions_to_strong_science_bases():
    """With the tilt on, more of the science-based sectors' acquisitions fall in the regions with the
    most R&D (the site quality of those sectors is mostly their science base)."""
    reg = ds.load_regions()
    top = set(reg.nlargest(8, "gerd_pc_gdp")["code"])
    sti = ["pharmaceuticals", "computers_electronics_optical"]
    def share_top(strength):
        acq = pd.concat([sim.simulate(params={**SMALL, "acquisition_location": strength, "acquisition_rate": 0.03},
                                      seed=s).events for s in range(3)])
        acq = acq[(acq["cause"] == "acquisition") & acq["sector"].isin(sti)]
        return acq["region"].isin(top).mean()
    assert share_top(2.0) > share_top(0.0) + 0.05


def test_a_finished_run_frees_its_plant_table_without_waiting_for_the_garbage_collector(monkeypatch):
    """simulate() keeps only the tidy results: the model's plant table is freed as soon as the run
    returns, not when Python's cyclic collector next runs (a sweep or ABC worker runs thousands)."""
    import gc
    import weakref

    tables = []
    step = AMModel.step
    def spy(self):
        if not tables:
            tables.append(weakref.ref(self.plants))
        step(self)
    monkeypatch.setattr(AMModel, "step", spy)
    gc.disable()
    try:
        res = sim.simulate(params=SMALL, seed=0)
        assert tables and tables[0]() is None
    finally:
        gc.enable()
    assert len(res.plants) > 0


def test_higher_exit_rate_means_fewer_plants():
    lo = sim.simulate(params={**SMALL, "exit_rate": 0.02}, seed=2).model_vars["plants"].iloc[-1]
    hi = sim.simulate(params={**SMALL, "exit_rate": 0.15}, seed=2).model_vars["plants"].iloc[-1]
    assert hi < lo


URN = {"initial_state": "uniform", "n_plants_start": 400, "beta_science": 0.0, "beta_skills": 0.0,
       "beta_access": 0.0, "beta_cost": 0.0, "beta_policy": 0.0, "beta_agglomeration": 2.0,
       "startup_rate": 0.0, "spinoff_rate": 0.0, "exit_on": False, "relocation_on": False,
       "acquisition_on": False, "innovation_on": False, "fdi_inflow": 3000.0, "fdi_early_level": 1.0,
       "size_shock_sd": 0.0, "size_reversion": 0.0, "age_growth": 0.0}


@pytest.mark.slow
def test_agglomeration_alone_gives_arthurs_urn_lock_in_with_seed_dependent_winners():
    """Identical regions and plants; foreign entrants choose by agglomeration only. Each seed locks in
    to one dominant region, and different seeds pick different winners (Arthur 1989)."""
    def urn(beta):
        winners, shares = [], []
        for seed in range(50):
            m = AMModel(rng=seed, **{**URN, "beta_agglomeration": beta})
            m.run_model()
            mv = m.plants.sector == 5  # motor vehicles
            counts = np.bincount(m.plants.region[mv], minlength=m.R)
            winners.append(int(counts.argmax()))
            shares.append(counts.max() / counts.sum())
        return winners, np.array(shares)

    winners, shares = urn(2.0)
    assert len(set(winners)) > 5  # different seeds, different winners
    assert np.median(shares) > 0.3  # lock-in: one region of 40 takes a large share
    _, no_pull = urn(0.0)
    assert np.median(shares) > 3 * np.median(no_pull)


def test_technology_transfer_to_foreign_plants_shifts_output_from_gb_incumbents():
    """Mechanism 2b: with faster productivity growth of foreign-owned plants, replicator competition
    moves output from GB-owned to foreign-owned plants (the T1 pattern of shrinking GB incumbents)."""
    def foreign_share(g):
        return np.mean([sim.simulate(None, params={**SMALL, "foreign_productivity_growth": g}, seed=s)
                        .model_vars["foreign_output_share"].iloc[-1] for s in range(3)])

    assert foreign_share(0.04) > foreign_share(0.0) + 0.03


def test_leaving_foreign_plants_out_of_the_imitated_mean_keeps_their_productivity_edge():
    """Mechanism 2c: when GB laggards imitate the GB-owned mean instead of a mean that includes the
    foreign plants' transferred technology, the foreign edge survives diffusion, and replicator
    competition gives foreign-owned plants a larger output share."""
    def foreign_share(ref):
        return np.mean([sim.simulate(None, params={**SMALL, "diffusion": 0.3, "foreign_productivity_growth": 0.03,
                                                   "diffusion_foreign_reference": ref}, seed=s)
                        .model_vars["foreign_output_share"].iloc[-1] for s in range(3)])

    assert foreign_share(0.0) > foreign_share(1.0) + 0.02


def test_a_diffusion_slowdown_leaves_earlier_years_unchanged_and_then_lets_productivity_spread():
    """Mechanism 2c: with diffusion stopping in 2000 (``diffusion_late`` 0), the run is the same to 1999
    (same seed); by 2016 laggards have stopped catching up, so log productivity is more dispersed
    within sectors than with diffusion going on."""
    def run(late):
        m = AMModel(rng=7, **SMALL, diffusion=0.2, diffusion_late=late, diffusion_slowdown_year=2000)
        for _ in range(1999 - 1973):
            m.step()
        before = m.plants.prod.copy()
        m.run_model()
        lp, sec = np.log(m.plants.prod), m.plants.sector
        return before, np.mean([lp[sec == s].std() for s in np.unique(sec)])

    before_on, spread_on = run(1.0)
    before_off, spread_off = run(0.0)
    assert np.array_equal(before_on, before_off)
    assert spread_off > spread_on + 0.05


def test_removing_plants_keeps_every_other_plant_and_aligned_arrays():
    from sim.plants import PlantTable

    t = PlantTable()
    n = 50
    t.add(n, sector=np.arange(n) % 8, region=np.arange(n) % 40, foreign=np.zeros(n, bool), weight=np.arange(n, dtype=float),
          prod=np.ones(n), birth_year=1970, entry_year=1973)
    gone = np.zeros(n, bool)
    gone[[0, 3, 17, 40, 48, 49]] = True
    side = np.arange(n, dtype=float) * 10  # an array aligned with the rows, e.g. log productivity
    removal = t.remove(gone, 1980)
    side = removal.apply(side)
    assert len(t) == n - 6 and sorted(t.id.tolist()) == sorted(set(range(n)) - {0, 3, 17, 40, 48, 49})
    np.testing.assert_array_equal(t.weight, t.id.astype(float))        # every row kept its own values
    np.testing.assert_array_equal(side, t.id * 10.0)                   # and so did the aligned array
    rec = t.records()
    assert rec["exit_year"][np.isin(rec["id"], [0, 3, 17, 40, 48, 49])].tolist() == [1980] * 6


def test_consolidation_concentrates_scale_intensive_output_after_its_start_only():
    """Mechanism 1b: removing the size reversion of the larger plants of the scale-intensive sectors from
    2000 leaves the run unchanged to 1999 (same seed) and then lets the largest motor-vehicle plants pull
    away from the mean, so that they produce more of the output."""
    size = {"size_reversion": 0.12, "size_shock_sd": 0.25}

    def run(c):
        m = AMModel(rng=5, **SMALL, **size, scale_consolidation=c, consolidation_start=2000)
        for _ in range(1999 - 1973):
            m.step()
        before = m.plants.weight.copy()
        m.run_model()
        mv = m.plants.sector == ds.SECTOR_CODES.index("motor_vehicles")
        lw = np.log(m.plants.weight[mv])
        q = np.sort(m.plants.output[mv])[::-1]
        return before, np.quantile(lw - lw.mean(), 0.95), q[:10].sum() / q.sum()

    before0, top_size0, top0 = run(0.0)
    before1, top_size1, top1 = run(1.0)
    assert np.array_equal(before0, before1)
    assert top_size1 > top_size0 + 0.4  # the 95th percentile of log size, above the sector mean
    assert top1 > top0 + 0.05  # output share of the 10 largest plants


def test_motor_localisation_concentrates_motor_output_in_its_main_regions_after_its_start_only():
    """Mechanism 1c: localisation growth from 2000 leaves the run unchanged to 1999 (same seed), then
    moves motor-vehicle output towards the regions that hold most of it (a higher Theil index of the
    sector's regional output against total AM output; the index written out here)."""

    def run(g):
        m = AMModel(rng=11, **SMALL, motor_cluster_growth=g, motor_cluster_start=2000)
        for _ in range(1999 - 1973):
            m.step()
        before = m.plants.weight.copy()
        m.step()  # 2000: the first year with the mechanism
        first = m.plants.weight.copy()
        m.run_model()
        out, _, _ = m._region_sector_totals()
        mv = ds.SECTOR_CODES.index("motor_vehicles")
        share, ref = out[:, mv] / out[:, mv].sum(), out.sum(axis=1) / out.sum()
        return before, first, float(np.sum(share[share > 0] * np.log(share[share > 0] / ref[share > 0])))

    before0, first0, theil0 = run(0.0)
    before1, first1, theil1 = run(0.05)
    assert np.array_equal(before0, before1)
    assert not np.array_equal(first0, first1)  # it acts from its start year, not the year after
    assert theil1 > theil0 + 0.1
