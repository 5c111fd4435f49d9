"""The teaching app end to end, in a real browser: ``sim app`` on a free port, driven by Playwright in
headless Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it). The page loads, a control is
changed, Reset and several Steps run, and the map and a chart are redrawn; then the lock-in lab runs.
Screenshots are kept in ``runs/artifacts/`` (not committed). Skipped, saying why, without Playwright,
without Chromium, or when the browser's assets can be had from neither npm nor the CDN."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "runs" / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str | None:
    for c in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if c and Path(c).is_file():
            return c
    return None


def _cdn_reachable() -> bool:
    try:
        urllib.request.urlopen("https://cdn.jsdelivr.net/npm/requirejs@2.3.6/package.json", timeout=3)
        return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright is not installed (pip install -e '.[app]')")
    pytest.importorskip("solara", reason="the teaching app needs the 'app' extra (pip install -e '.[app]')")
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium: install Debian's package (apt-get install -y chromium; .ci/run does) "
                    "or set CHROMIUM=/path/to/chromium")
    from sim.app.assets import ensure_assets

    missing = ensure_assets(log=lambda msg: None)
    if missing and not _cdn_reachable():
        pytest.skip(f"the page's browser assets {missing} are neither cached nor fetchable (no npm, no CDN)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_url():
    from sim.app.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "app", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://localhost:{port}/"
    try:
        printed = []  # `sim app` prints the address before it starts the server (after any asset fetches)
        while not any(url in line for line in printed) and len(printed) < 20:
            line = proc.stdout.readline()
            if not line:
                break
            printed.append(line)
        assert any(url in line for line in printed), f"sim app printed {printed!r}"
        t0 = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() - t0 > 90:
                pytest.fail(f"sim app did not serve {url}: {proc.stdout.read() if proc.poll() is not None else ''}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_explorer_and_lab_in_a_real_browser(browser, app_url):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 2000})  # tall: the page scrolls inside
    page.set_default_timeout(60_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # the explorer loads with the calibrated model in 1973
    page.goto(app_url)
    page.get_by_text("Year 1973:").wait_for()
    map_img, theil_img = page.locator(".app-map img"), page.locator(".app-chart-theil img")
    map_img.wait_for()
    theil_img.wait_for()
    map0, theil0 = map_img.screenshot(), theil_img.screenshot()
    assert "start: 1973 legacy (history)" in page.inner_text("body")

    # change a control (start state: identical regions), rebuild the model, step five years
    page.locator(".v-select", has_text="Start state").click()
    page.locator(".v-list-item", has_text="identical regions").click()
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("start: identical regions").wait_for()
    for year in range(1974, 1979):
        page.get_by_role("button", name="Step").click()
        page.get_by_text(f"Year {year}:").wait_for()
    page.wait_for_timeout(500)  # let the last images arrive
    map1, theil1 = map_img.screenshot(), theil_img.screenshot()
    assert map1 != map0, "the map did not change"
    assert theil1 != theil0, "the Theil chart did not change"
    summary = page.locator(".app-summary").inner_text()
    assert summary.startswith("Year 1978:") and "TIR share" in summary
    page.screenshot(path=str(ARTIFACTS / "app_e2e.png"), full_page=True)

    # the lock-in lab: Arthur's urn over 20 seeds, with its distribution figure and table
    page.get_by_role("tab", name="Lock-in lab").click()
    page.get_by_text("1. Where do clusters end up?").wait_for()
    page.get_by_role("button", name="Run 20 seeds").click()
    page.get_by_text("different winning regions").wait_for(timeout=90_000)
    assert page.locator("img").count() >= 1
    assert "Motor vehicles" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "app_e2e_lab.png"), full_page=True)
    assert not errors, f"JavaScript errors on the page: {errors}"
    page.close()
