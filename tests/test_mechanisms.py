"""Each mechanism moves outcomes in its documented direction (unit level, no full runs)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import datasets as ds
from sim.mechanisms import acquisition, demand, entry, exit as ex, innovation, location, regions, relocation


def test_replicator_moves_share_towards_more_productive_plants():
    w = np.ones(3)
    prod = np.array([0.8, 1.0, 1.25])
    sector = np.zeros(3, dtype=np.int64)
    w2 = demand.replicator(w, prod, sector, 1, strength=0.5)
    share = w2 / w2.sum()
    assert share[2] > 1 / 3 > share[0]
    assert np.array_equal(demand.replicator(w, prod, sector, 1, 0.0), w)


@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=30), st.floats(1, 1e5))
@settings(max_examples=50, deadline=None)
def test_plants_share_exactly_their_sector_demand(weights, d):
    w = np.array(weights)
    sector = np.zeros(len(w), dtype=np.int64)
    q = demand.allocate_output(w, sector, np.array([d]))
    assert q.sum() == pytest.approx(d)
    assert np.all(q >= 0)


def test_demand_paths_show_the_recessions():
    years = np.arange(1973, 2017)
    dt = demand.demand_table(ds.load_demand_paths(), ds.load_recessions(), years, np.ones(8), severity=1.0)
    flat = demand.demand_table(ds.load_demand_paths(), ds.load_recessions(), years, np.ones(8), severity=0.0)
    for y in (1981, 1991, 2009):
        assert np.all(dt[years == y] < flat[years == y])
    assert np.allclose(dt[0], 1.0)
    pharma = ds.SECTOR_CODES.index("pharmaceuticals")
    machinery = ds.SECTOR_CODES.index("machinery")
    hit = 1 - dt[years == 2009] / flat[years == 2009]
    assert hit[0, pharma] > hit[0, machinery]  # the 2008 crash hit pharmaceuticals hard


def _sti(science, foreign, sme, cap=0.5):
    """STI success probability of one plant per region, as the model computes it (one sector, STI
    weight 0.8; no R&D subsidy)."""
    n = len(science)
    intensity = innovation.sti_intensity_by_plant(
        np.array([0.8]), np.asarray(science, float), np.broadcast_to(foreign, n), np.broadcast_to(sme, n),
        np.arange(n), np.zeros(n, dtype=np.int64), 0.3, np.full(n, 0.35), 0.6, np.ones((n, 1)))
    return innovation.success_probability(intensity, np.full(n, cap))


def test_sti_success_rises_with_science_base_and_smes_absorb_less():
    sci = [0.5, 1.0, 2.0]
    large, small = _sti(sci, False, False), _sti(sci, False, True)
    assert np.all(np.diff(large) > 0)
    assert np.all(small < large)
    assert np.all(_sti(sci, False, False, cap=0.9) > large)  # absorptive capacity


def test_foreign_plants_depend_less_on_the_regional_science_base():
    gb, fo = _sti([0.5, 2.0], False, False), _sti([0.5, 2.0], True, False)
    assert fo[1] - fo[0] < gb[1] - gb[0]


def test_dui_success_rises_with_skills_and_local_density():
    def dui(skills, density):
        return innovation.success_probability(
            innovation.dui_intensity(0.2, np.asarray(skills, float), np.asarray(density, float), 0.3, 0.5),
            np.full(3, 0.5))

    assert np.all(np.diff(dui([0.5, 1, 2], np.ones(3))) > 0)
    assert np.all(np.diff(dui(np.ones(3), [0.2, 1, 5])) > 0)


def test_combining_sti_and_dui_gains_most():
    t, f = np.array([True]), np.array([False])
    g = lambda a, b: innovation.innovation_gain(a, b, 0.05, 0.03, 0.03)[0]  # noqa: E731
    assert g(t, t) > g(t, f) + g(f, t) - 1 > 1


def test_diffusion_narrows_the_gap_without_moving_leaders():
    lp = np.log([0.5, 1.0, 2.0])  # equal weights: the sector mean of lp is 0
    out = innovation.diffusion_log(lp, np.ones(3), np.zeros(3, dtype=np.int64), 1, rate=0.2)
    assert out[0] == pytest.approx(0.8 * lp[0]) and out[1] == lp[1] and out[2] == lp[2]


def test_diffusion_imitates_the_gb_owned_mean_when_foreign_plants_are_left_out_of_the_reference():
    """Hand-worked: GB plants at ln A = -1 and 0 (weight 1 each), a foreign plant at 2 (weight 2), rate 0.5.
    All plants in the mean (reference 1): mean (-1 + 0 + 4) / 4 = 0.75, so both GB plants move up
    half their gap. GB-owned mean only (reference 0): mean -0.5, so only the plant at -1 moves, to -0.75.
    Half weight (0.5): foreign weight 1, mean (-1 + 0 + 2) / 3 = 1/3. The foreign leader never moves."""
    lp, w = np.array([-1.0, 0.0, 2.0]), np.array([1.0, 1.0, 2.0])
    sec, foreign = np.zeros(3, dtype=np.int64), np.array([False, False, True])

    def diffuse(ref):
        return innovation.diffusion_log(lp, w, sec, 1, 0.5, foreign=foreign, foreign_reference=ref)

    assert diffuse(1.0) == pytest.approx([-1 + 0.5 * 1.75, 0.375, 2.0])
    assert diffuse(0.0) == pytest.approx([-0.75, 0.0, 2.0])
    assert diffuse(0.5) == pytest.approx([-1 + 0.5 * (4 / 3), 1 / 6, 2.0])
    # the precomputed sector total of all plants' weights is ignored when foreign plants count less
    assert innovation.diffusion_log(lp, w, sec, 1, 0.5, wsum=np.array([4.0]), foreign=foreign,
                                    foreign_reference=0.0) == pytest.approx(diffuse(0.0))


def test_a_sector_of_foreign_plants_only_imitates_nothing_when_only_gb_plants_are_the_reference():
    """Sector 1 holds only foreign plants (below zero log productivity): with the GB-owned reference it
    has no mean, so its plants stay put rather than being pulled towards 0; sector 0 diffuses as usual."""
    lp = np.array([-1.0, 1.0, -2.0, -0.5])
    sec = np.array([0, 0, 1, 1])
    foreign = np.array([False, False, True, True])
    out = innovation.diffusion_log(lp, np.ones(4), sec, 2, 0.5, foreign=foreign, foreign_reference=0.0)
    assert out == pytest.approx([-0.5, 1.0, -2.0, -0.5])


def test_acquired_plants_gain_the_boost_in_log_productivity():
    out = acquisition.acquisition_gain(np.array([0.1, 0.1]), np.array([True, False]), 0.4)
    assert out == pytest.approx([0.5, 0.1])


def _hazard(cost_r=np.zeros(2), **over):
    """Exit hazard of two plants, each in its own region with regional cost ``cost_r``."""
    n = 2
    kw = dict(log_rel=np.zeros(n), age=np.full(n, 10), large=np.zeros(n, bool), foreign=np.zeros(n, bool),
              region=np.arange(n), cost=np.asarray(cost_r, float), sector=np.zeros(n, dtype=np.int64), n_sectors=1,
              rate=0.05, productivity=1.5, age_elasticity=0.3, large_factor=0.5, cost_effect=0.3,
              foreign_factor=1.2, retrenchment=1.0, recession_depth=0.0)
    kw.update(over)
    return ex.exit_hazard(**kw)


def test_exit_hazard_falls_with_productivity_age_and_size_and_rises_with_cost():
    assert np.all(np.diff(_hazard(log_rel=np.log([0.8, 1.25]))) < 0)
    assert np.all(np.diff(_hazard(age=np.array([2, 30]))) < 0)
    h = _hazard(large=np.array([False, True]))
    assert h[1] < h[0]
    h = _hazard(cost_r=np.array([-1.0, 1.0]))
    assert h[1] > h[0]


def test_foreign_exit_rises_when_parent_groups_retrench():
    f = np.array([False, True])
    calm = _hazard(foreign=f)
    crisis = _hazard(foreign=f, recession_depth=0.1)
    assert crisis[1] > calm[1] and crisis[0] == calm[0]


def test_unviable_plants_close():
    gone = ex.draw_exits(np.zeros(2), np.array([0.01, 5.0]), 0.02, np.array([0.5, 0.5]))
    assert gone.tolist() == [True, False]


def test_acquisition_targets_productive_gb_plants_only():
    p = acquisition.acquisition_probability(np.log([0.8, 1.5, 1.5]), np.array([False, False, True]),
                                            rate=0.02, productivity=1.5, inflow_level=1.0)
    assert p[1] > p[0] > 0 and p[2] == 0


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1), st.booleans()), min_size=1, max_size=40),
       st.floats(0.05, 3.0))
@settings(max_examples=60, deadline=None)
def test_acquisition_location_tilt_moves_acquisitions_to_better_sites_without_changing_their_number(rows, strength):
    region = np.array([r for r, _, _ in rows])
    sector = np.array([s for _, s, _ in rows])
    eligible = np.array([e for _, _, e in rows])
    quality = np.array([[-1.0, 0.5], [0.0, 0.0], [1.0, -0.5]])  # region x sector
    m = acquisition.location_tilt(quality, region, sector, eligible, strength, 2)
    for s in (0, 1):  # expected acquisitions among a sector's GB plants unchanged
        e = eligible & (sector == s)
        if e.any():
            assert m[e].mean() == pytest.approx(1.0)
    q = quality[region, sector]
    better = q[:, None] > q[None, :]  # a plant on a better site of the same sector is likelier to be bought
    same = sector[:, None] == sector[None, :]
    assert np.all(m[:, None] > m[None, :], where=better & same)
    assert np.array_equal(acquisition.location_tilt(quality, region, sector, eligible, 0.0, 2), np.ones(len(rows)))


def test_relocation_needs_a_gain_above_the_moving_cost():
    u = np.array([[0.0], [0.5], [3.0]])
    sector = np.zeros(3, dtype=np.int64)
    moves = relocation.choose_moves(np.zeros(3, dtype=np.int64), sector, u, np.array([1, 2, 0]),
                                    np.ones(3, bool), moving_cost=1.0)
    assert moves.tolist() == [False, True, False]


def test_location_logit_prefers_science_for_sti_sectors_and_skills_for_dui_sectors():
    sti_w = np.array([0.9, 0.1])
    science = np.array([2.0, 0.0])  # region 0 science-rich
    skills = np.array([0.0, 2.0])   # region 1 skills-rich
    u = location.utility(sti_w, science, skills, np.zeros((2, 2)), np.zeros(2), np.zeros(2), np.zeros(2),
                         np.ones(2), b_science=1, b_skills=1, b_agglomeration=0, b_access=0, b_cost=1, b_policy=1)
    p = location.choice_probabilities(u, np.ones(2))
    assert p[0, 0] > 0.5 and p[1, 1] > 0.5
    assert np.allclose(p.sum(axis=0), 1)


def test_agglomeration_only_logit_is_arthurs_urn():
    counts = np.array([[1.0], [3.0], [0.0]])
    u = location.utility(np.zeros(1), np.ones(3), np.ones(3), counts, np.zeros(3), np.zeros(3), np.zeros(3),
                         np.full(3, 5e5), b_science=0, b_skills=0, b_agglomeration=2.0, b_access=0, b_cost=0, b_policy=0)
    p = location.choice_probabilities(u, np.full(3, 5e5))[:, 0]
    expect = (1 + counts[:, 0]) ** 2
    assert np.allclose(p, expect / expect.sum())


def test_neutral_agglomeration_reproduces_the_current_distribution_and_bigger_regions_get_more():
    counts = np.array([[10.0], [30.0], [60.0]])
    pop = np.array([1e6, 1e6, 2e6])
    kw = dict(b_science=0, b_skills=0, b_access=0, b_cost=0, b_policy=0)
    args = (np.zeros(1), np.ones(3), np.ones(3))
    p1 = location.choice_probabilities(location.utility(*args, counts, np.zeros(3), np.zeros(3), np.zeros(3), pop,
                                                        b_agglomeration=1.0, **kw), pop)[:, 0]
    assert np.allclose(p1, (1 + counts[:, 0]) / (1 + counts[:, 0]).sum(), atol=0.01)
    p0 = location.choice_probabilities(location.utility(*args, counts, np.zeros(3), np.zeros(3), np.zeros(3), pop,
                                                        b_agglomeration=0.0, **kw), pop)[:, 0]
    assert np.allclose(p0, pop / pop.sum())


def test_sample_regions_follows_the_probabilities():
    rng = np.random.default_rng(0)
    prob = np.array([[0.7, 0.0], [0.3, 1.0]])
    sector = np.zeros(20_000, dtype=np.int64)
    r = location.sample_regions(prob, sector, rng.random(sector.size))
    assert abs((r == 0).mean() - 0.7) < 0.02
    assert np.all(location.sample_regions(prob, np.ones(100, dtype=np.int64), rng.random(100)) == 1)


def test_skills_base_follows_local_dui_employment_and_decays_without_use():
    pop = np.ones(2)
    sti_w = np.array([0.2])
    target = regions.skills_target(np.array([[300.0], [100.0]]), sti_w, pop)
    assert target[0] > target[1]
    level = np.array([1.0, 1.0])
    after = regions.follow(level, regions.skills_target(np.array([[200.0], [0.0]]), sti_w, pop), 0.1)
    assert after[1] < 1.0 < after[0]


def test_cost_rises_with_density_and_access_with_nearby_population():
    c = regions.regional_cost(np.array([100.0, 1000, 5000]), np.array([10.0, 10, 10]), np.ones(3), 0.5, 0.3)
    assert np.all(np.diff(c) > 0)
    d = np.array([[0, 50, 400], [50, 0, 400], [400, 400, 0.0]])
    a = regions.market_access(np.array([1e6, 1e6, 1e6]), d, np.full(3, 1000.0), 80.0)
    assert a[0] > a[2]


def test_fdi_inflow_is_weak_in_the_1970s_and_strong_from_the_mid_1980s():
    lv = entry.fdi_level(np.array([1973, 1979, 1982, 1985, 2000]), 0.3)
    assert lv[0] == pytest.approx(0.3) and lv[3] == pytest.approx(1.0) and lv[4] == pytest.approx(1.0)
    assert lv[1] < lv[2] < lv[3]


def test_spinoffs_inherit_from_their_parents():
    assert entry.inherit(np.array([1.0]), np.array([0.0]), 0.6)[0] == pytest.approx(0.6)
    rng = np.random.default_rng(1)
    k = entry.spinoff_counts(0.1, np.array([0.5] * 5000 + [2.0] * 5000), np.ones(10_000), rng)
    assert k[5000:].sum() > 2 * k[:5000].sum()  # better parents spawn more spinoffs


def test_foreign_technology_transfer_raises_foreign_productivity_only():
    lp = np.zeros(4)
    foreign = np.array([False, True, False, True])
    out = innovation.foreign_technology_transfer(lp, foreign, 0.02)
    assert out[1] == out[3] == pytest.approx(0.02) and out[0] == out[2] == 0.0
    assert innovation.foreign_technology_transfer(lp, foreign, 0.0) is lp


def test_cell_tables_gathered_per_plant_equal_the_plant_level_formulas():
    rng = np.random.default_rng(3)
    n, R, S = 500, 40, 8
    region, sector = rng.integers(0, R, n), rng.integers(0, S, n)
    foreign, sme = rng.random(n) < 0.3, rng.random(n) < 0.8
    sti_w, science, absorb = rng.random(S), rng.random(R) * 2, rng.random(R)
    rd = 1 + rng.random((R, S))
    got = innovation.sti_intensity_by_plant(sti_w, science, foreign, sme, region, sector, 0.3, absorb, 0.6, rd)
    want = innovation.sti_intensity(sti_w[sector], science[region], foreign, sme, 0.3, absorb[region], 0.6,
                                    rd[region, sector])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    cost, mult = rng.standard_normal(R), 1 + rng.random(R)
    kw = dict(large_factor=0.5, cost_effect=0.3, foreign_factor=1.2, retrenchment=1.0, recession_depth=0.05)
    got = ex.exit_multiplier_by_plant(~sme, foreign, region, cost, foreign_exit_mult=mult, **kw)
    want = ex.exit_multiplier(~sme, foreign, cost[region], foreign_exit_mult=mult[region], **kw)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_successes_and_exits_are_drawn_with_their_probabilities():
    rng = np.random.default_rng(4)
    n = 200_000
    intensity, cap = np.full(n, 0.4), np.full(n, 0.5)
    ok = innovation.draw_successes(intensity, cap, rng.random(n))
    p = innovation.success_probability(intensity[:1], cap[:1])[0]
    assert abs(ok.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)
    gone = ex.draw_exits(np.full(n, 0.1), np.ones(n), 0.0, rng.random(n))
    q = 1 - np.exp(-0.1)
    assert abs(gone.mean() - q) < 4 * np.sqrt(q * (1 - q) / n)


def test_spinoff_parents_are_sorted_rows_with_poisson_counts():
    rng = np.random.default_rng(5)
    rel = np.array([0.5] * 5000 + [2.0] * 5000)
    parents = entry.spinoff_parents(0.1, rel, np.ones(rel.size), rng)
    assert np.all(np.diff(parents) >= 0) and parents.min() >= 0 and parents.max() < rel.size
    expected = 0.1 * rel.sum()
    assert abs(parents.size - expected) < 4 * np.sqrt(expected)


def test_consolidation_removes_size_reversion_only_in_scale_intensive_sectors_from_its_start():
    scale = ds.load_sectors()["scale_intensive"].to_numpy(bool)
    assert [c for c, f in zip(ds.SECTOR_CODES, scale) if f] == ["aerospace", "other_transport", "motor_vehicles"]
    sector = np.arange(8).repeat(2)
    born = np.tile([1950, 1990], 8)  # one old and one young plant per sector

    def rev(year, c, vintage=1900.0):
        return demand.consolidating_reversion(0.1, scale, year, c, 1998, sector, born, vintage)

    assert rev(1997, 0.5) == 0.1  # before the start
    assert rev(2005, 0.0) == 0.1  # switched off
    r = rev(1998, 0.5)
    assert np.allclose(r[scale[sector]], 0.05) and np.allclose(r[~scale[sector]], 0.1)
    r = rev(2005, 0.5, vintage=1970)  # only plants born from 1970 consolidate
    assert np.allclose(r[scale[sector] & (born >= 1970)], 0.05)
    assert np.allclose(r[~(scale[sector] & (born >= 1970))], 0.1)


def test_removing_reversion_above_the_mean_lets_the_largest_plants_pull_away():
    """Two sectors with the same shocks and reversion; in the second, plants above the sector's mean
    log size do not revert (consolidation). Its largest plants end far further above the mean, its
    small plants are still pulled up towards it, and the first settles near the AR(1) variance
    ``shock_sd^2 / (1 - (1 - reversion)^2)``."""
    rng = np.random.default_rng(0)
    n = 4000
    sector = np.repeat([0, 1], n)
    w = np.ones(2 * n)
    for _ in range(40):
        w = demand.size_dynamics(w, sector, 2, 0.1, 0.2, rng.random(2 * n), reversion_above=np.array([0.1, 0.0])[sector])
    lw = [np.log(w[sector == k]) - np.log(w[sector == k]).mean() for k in (0, 1)]
    assert lw[0].var() == pytest.approx(0.2 ** 2 / (1 - 0.9 ** 2) * (1 - 0.9 ** 80), rel=0.1)
    assert np.quantile(lw[1], 0.99) > 1.5 * np.quantile(lw[0], 0.99)
    q = [np.sort(np.exp(x))[::-1] for x in lw]
    assert q[1][:40].sum() / q[1].sum() > 2 * q[0][:40].sum() / q[0].sum()  # top 1% share of capacity
    # the same reversion above and below the mean, as a scalar or per plant, is the symmetric dynamics
    sec, u = np.array([0, 0, 0, 1, 1, 1]), np.linspace(0, 1, 6)
    w0 = np.array([0.5, 1.0, 2.0, 0.3, 1.0, 3.0])
    a = demand.size_dynamics(w0, sec, 2, 0.1, 0.2, u)
    assert np.array_equal(a, demand.size_dynamics(w0, sec, 2, 0.1, 0.2, u, reversion_above=0.1))
    assert np.allclose(a, demand.size_dynamics(w0, sec, 2, 0.1, 0.2, u, reversion_above=np.full(6, 0.1)))


def test_localisation_growth_matches_a_hand_worked_example():
    """Mechanism 1c: three plants of sector 1 in regions 0, 0 and 1 (capacity 3 + 1 in region 0, 4 in
    region 1 of 8: shares 1/2 and 1/2), and a plant of sector 0. Equal shares: nothing moves. Region 0
    with 6 of 8 (shares 3/4 and 1/4): the log shares are ln 3/4, ln 3/4, ln 1/4, their mean over the
    sector's plants ln(9/64)/3, so each plant of region 0 grows by 0.1 (ln 3/4 - ln(9/64)/3) in log
    capacity and the plant of region 1 by 0.1 (ln 1/4 - ln(9/64)/3)."""
    region = np.array([0, 0, 1, 1])
    sector = np.array([1, 1, 1, 0])
    w = np.array([3.0, 1.0, 4.0, 5.0])
    same = demand.localisation_growth(w, region, sector, 2, 1, 0.1)
    np.testing.assert_allclose(same, w)
    w = np.array([5.0, 1.0, 2.0, 5.0])
    out = demand.localisation_growth(w, region, sector, 2, 1, 0.1)
    m = np.log(9 / 64) / 3
    np.testing.assert_allclose(np.log(out[:3] / w[:3]), 0.1 * (np.log([0.75, 0.75, 0.25]) - m))
    assert out[3] == 5.0 and w.tolist() == [5.0, 1.0, 2.0, 5.0]  # other sectors and the input unchanged
    assert demand.localisation_growth(w, region, sector, 2, 1, 0.0) is w  # off: the same array
    assert demand.localisation_growth(w, region, sector, 2, 7, 0.1) is w  # no plant of the sector


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0.1, 10.0)), min_size=2, max_size=30),
       st.floats(0.001, 0.1))
def test_localisation_growth_moves_capacity_towards_the_sectors_largest_region(plants, strength):
    """The region holding most of the sector's capacity never loses share to the others, and a region's
    plants keep their relative sizes (the term is the same for every plant of a region)."""
    region = np.array([r for r, _ in plants])
    w = np.array([x for _, x in plants])
    sector = np.zeros(len(w), int)
    out = demand.localisation_growth(w, region, sector, 4, 0, strength)
    before = np.bincount(region, weights=w, minlength=4) / w.sum()
    after = np.bincount(region, weights=out, minlength=4) / out.sum()
    top = int(np.argmax(before))
    assert after[top] >= before[top] - 1e-12
    for r in np.unique(region):
        k = region == r
        np.testing.assert_allclose(out[k] / out[k].sum(), w[k] / w[k].sum())
