"""The teaching app without a browser: its model, its experiments, and its pages rendered headless
(``solara.render``), with controls changed and steps run through the rendered widgets."""

from __future__ import annotations

import html
import re
import socket
import time

import numpy as np
import pytest

pytest.importorskip("solara", reason="the teaching app needs the 'app' extra (pip install -e '.[app]')")
pytest.importorskip("mesa.visualization", reason="the teaching app needs the 'app' extra")

import ipyvuetify as v  # noqa: E402
import ipywidgets  # noqa: E402
import solara  # noqa: E402

from sim import datasets  # noqa: E402
from sim.app import assets, experiments as E, world as W  # noqa: E402
from sim.app.teaching_model import TeachingModel  # noqa: E402
from sim.model import AMModel  # noqa: E402
from sim.params import ranges  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402


# ------------------------------------------------------------------ helpers
def _widgets(root) -> list:
    """Every widget reachable from ``root`` (children, slots and other widget-valued traits)."""
    seen, out, todo = set(), [], [root]
    while todo:
        w = todo.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        out.append(w)
        for name in getattr(w, "keys", []):
            val = getattr(w, name, None)
            for x in val if isinstance(val, (list, tuple)) else [val]:
                if isinstance(x, ipywidgets.Widget):
                    todo.append(x)
                elif isinstance(x, dict):
                    kids = x.get("children", [])
                    todo.extend(c for c in (kids if isinstance(kids, list) else [kids])
                                if isinstance(c, ipywidgets.Widget))
    return out


def _texts(rc) -> str:
    """All text of the rendered page (Text, Markdown's HTML, labels, select values), joined."""
    out = []
    for w in _widgets(rc.find().widget):
        if isinstance(w, ipywidgets.Image):
            continue
        for name in getattr(w, "keys", []):
            val = getattr(w, name, None)
            if isinstance(val, str):
                out.append(val)
            elif isinstance(val, (list, tuple)):
                out.extend(x for x in val if isinstance(x, str))
    plain = re.sub(r"<[^>]+>", "", "\n".join(out))  # Markdown arrives as HTML
    return re.sub(r"\s+", " ", html.unescape(plain))


def _images(rc) -> list[bytes]:
    return [bytes(w.value) for w in rc.find(ipywidgets.Image).widgets]


def _button(rc, label: str):
    return rc.find(v.Btn, children=[label]).widget


def _wait(cond, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)


# ------------------------------------------------------------------ the model behind the explorer
def test_teaching_model_is_the_calibrated_model_and_its_controls_act():
    m = TeachingModel(seed=3)
    ref = AMModel(scenario=W.make_scenario(W.world_params("calibrated")), rng=3)
    for _ in range(5):
        m.step()
        ref.step()
    assert m.year == ref.year == 1978
    np.testing.assert_allclose(m.output_rs, ref._region_sector_totals()[0])
    assert m.p.beta_agglomeration == pytest.approx(W.calibrated_params()["beta_agglomeration"])
    assert len(m.years_seen) == len(m.theil_history) == len(m.plants_gb) == 6  # 1973 + five steps

    # identical regions: every region starts alike, so each sector's Theil index is 0 in 1973 and not later
    u = TeachingModel(seed=3, initial_state=W.STATES["uniform"], beta_agglomeration=3.0)
    assert np.allclose(u.theil_history[0], 0.0)
    for _ in range(10):
        u.step()
    assert np.nanmax(u.theil_history[-1]) > 0.01

    # a policy lever becomes a scenario intervention, clipped to the run
    p = TeachingModel(policy_lever=W.LEVERS["fdi_attraction"], policy_region=W.region_label("UKC1"),
                      policy_start=2010, policy_years=20, policy_intensity=2.0)
    (iv,) = p.spec.interventions
    assert (iv.lever, iv.regions, iv.start_year, iv.end_year, iv.intensity) == ("fdi_attraction", ["UKC1"], 2010,
                                                                               2016, 2.0)
    # the STI weight shift moves every sector's weight, within [0, 1]
    s = TeachingModel(sti_weight_shift=0.5)
    assert np.all(s.sti_w >= TeachingModel().sti_w) and s.sti_w.max() == 1.0


def test_explorer_sliders_use_the_documented_ranges_and_calibrated_defaults():
    from sim.app.explorer import model_params

    mp = model_params()
    rng = ranges()
    for name in ("beta_agglomeration", "spinoff_heritage", "fdi_inflow"):
        assert (mp[name].min, mp[name].max) == rng[name]
    assert mp["fdi_inflow"].value == pytest.approx(W.calibrated_params()["fdi_inflow"])
    # every control is a keyword of the model SolaraViz rebuilds on Reset
    import inspect

    assert set(mp) <= set(inspect.signature(TeachingModel.__init__).parameters)


# ------------------------------------------------------------------ the explorer page, rendered headless
def test_explorer_renders_and_a_changed_control_reset_and_steps_redraw_it():
    from sim.app.explorer import Explorer

    box, rc = solara.render(solara.AppLayout(children=[Explorer()]), handle_error=False)
    text0, img0 = _texts(rc), _images(rc)
    assert "Year 1973" in text0 and "Seed 0;" in text0
    assert len(img0) == 4  # map, Theil, shares, plants

    # change the seed slider, reset (SolaraViz rebuilds the model from the controls), step three years
    seed = rc.find(v.Slider, label="Seed (0-99)").widget
    seed.v_model = 5
    _button(rc, "Reset").click()
    _wait(lambda: "Seed 5;" in _texts(rc), 20)
    for _ in range(3):
        _button(rc, "Step").click()
    _wait(lambda: "Year 1976" in _texts(rc), 20)
    text1, img1 = _texts(rc), _images(rc)

    ref = TeachingModel(seed=5)
    for _ in range(3):
        ref.step()
    assert ref.summary() in text1  # the page shows the model the controls asked for
    assert ref.summary() != TeachingModel(seed=0).summary()
    assert len(img1) == 4 and all(a != b for a, b in zip(img0, img1, strict=True))  # every figure redrawn

    # the map's sector choice redraws the map only
    rc.find(v.Select, label="Map: sector").widget.v_model = "Motor vehicles"
    _wait(lambda: _images(rc)[0] != img1[0], 10)
    img2 = _images(rc)
    assert img2[0] != img1[0] and img2[1:] == img1[1:]
    assert "(Motor vehicles)" in _texts(rc)


# ------------------------------------------------------------------ the lock-in lab
def test_urn_locks_in_with_seed_dependent_winners_unlike_the_calibrated_history():
    seeds = range(12)
    urn = E.cluster_endpoints("urn", seeds)
    cal = E.cluster_endpoints("calibrated", seeds)
    mv = datasets.SECTOR_CODES.index("motor_vehicles")
    urn_distinct = np.count_nonzero(urn.counts()[mv])
    cal_distinct = np.count_nonzero(cal.counts()[mv])
    assert urn_distinct >= 6                      # chance picks the winner ...
    assert np.median(urn.winner_share[:, mv]) > 0.4  # ... and the winner takes a large share
    assert cal_distinct < urn_distinct            # history narrows the winners
    assert np.median(cal.winner_share[:, mv]) < np.median(urn.winner_share[:, mv])
    assert urn.counts().sum() == len(seeds) * len(datasets.SECTOR_CODES)


def test_policy_window_early_beats_late_in_the_urn():
    res = E.policy_experiment("urn", "fdi_attraction", 1.0,
                              [E.Variant("UKE3", 1975, 10), E.Variant("UKE3", 2000, 10)], range(8))
    early, late = res.effects().values()
    assert (early > 5).all()                       # every seed: a large, lasting gain (percentage points)
    assert np.median(early) > 5 * max(np.median(late), 0.1)
    assert res.baseline_share.shape == (8, 44, 40) and np.allclose(res.baseline_share.sum(axis=2), 100)
    assert [r["target"] for r in res.summary()] == ["UKE3", "UKE3"]


def test_lab_scenario_files_reproduce_the_lab_from_the_command_line(tmp_path):
    from sim.app.lab import save_scenarios

    res = E.policy_experiment("urn", "fdi_attraction", 1.0, [E.Variant("UKE3", 1975, 10)], [4])
    paths = save_scenarios(res.scenarios, tmp_path)
    assert [p.name for p in paths] == ["lab_urn_no_policy.toml", "lab_urn_fdi_attraction_A.toml"]
    sc = load_scenario(paths[1])  # what `sim run` / `sim compare` read
    assert sc.interventions == res.scenarios[1].interventions
    m = AMModel(scenario=sc, rng=4)
    m.run_model()
    out = m._region_sector_totals()[0].sum(axis=1)
    r = datasets.region_codes().index("UKE3")
    assert 100 * out[r] / out.sum() == pytest.approx(res.variant_share[0][0, -1])


def test_lab_page_runs_the_urn_and_a_policy_window_with_progress_and_results():
    from sim.app.lab import LockInLab, run_clusters, run_policy

    box, rc = solara.render(LockInLab(), handle_error=False)
    assert "Arthur's urn" in _texts(rc) and not _images(rc)
    rc.find(v.Slider, label="Seeds: 20").widget.v_model = 6
    _wait(lambda: bool(rc.find(v.Btn, children=["Run 6 seeds"]).widgets), 10)
    _button(rc, "Run 6 seeds").click()
    _wait(lambda: len(_images(rc)) == 2, 60)  # where the winners are, and how much they take
    assert run_clusters.finished and run_clusters.progress == 100.0
    ref = E.cluster_endpoints("urn", range(6))
    text = _texts(rc)
    mv = next(row for row in ref.table() if row["sector"] == "motor_vehicles")
    winner = W.region_label(mv["most_frequent_winner"])
    assert f"Motor vehicles {mv['distinct_winners']} {winner} ({mv['most_frequent_seeds']})" in text
    assert "Run it from the command line" in text
    rc.find(v.ExpansionPanels).widget.v_model = 0  # open it
    _wait(lambda: "sim run runs/lab/lab_urn.toml" in _texts(rc), 10)

    _button(rc, "Run policy experiment (6 seeds x 3 runs)").click()
    _wait(lambda: run_policy.finished and len(_images(rc)) == 4, 60)
    text = _texts(rc)
    assert "A: UKE3 1975-1984" in text and "B: UKE3 2000-2009" in text
    for panels in rc.find(v.ExpansionPanels).widgets:
        panels.v_model = 0
    _wait(lambda: "sim compare runs/lab/lab_urn_no_policy.toml" in _texts(rc), 10)


# ------------------------------------------------------------------ serving it
def test_assets_cover_what_solara_requests_and_never_fail_without_npm(tmp_path, monkeypatch):
    names = [pkg for pkg, _ in assets.required_assets()]
    assert "requirejs@2.3.6" in names and any(n.startswith("@widgetti/solara-vuetify") for n in names)
    assert assets.missing_assets(tmp_path) == names
    for pkg, probe in assets.required_assets():
        (tmp_path / pkg / probe).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / pkg / probe).write_text("x")
    assert assets.missing_assets(tmp_path) == []
    empty = tmp_path / "empty"
    monkeypatch.setattr(assets.shutil, "which", lambda name: None)
    assert assets.ensure_assets(empty, log=lambda msg: None) == names  # reports, does not raise


def test_sim_app_refuses_a_bad_or_busy_port(capsys):
    from sim.cli import main

    with pytest.raises(SystemExit) as e:
        main(["app", "--port", "70000"])
    assert e.value.code == 2
    with socket.socket() as s:
        s.bind(("localhost", 0))
        s.listen()
        busy = s.getsockname()[1]
        assert main(["app", "--port", str(busy)]) == 2
    assert f"--port {busy}: the port is in use" in capsys.readouterr().err
