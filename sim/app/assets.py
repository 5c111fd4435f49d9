"""The browser assets of the app, fetched from the npm registry when they are not cached.

Solara's pages load their JavaScript and CSS (the Vuetify front end, RequireJS, Font Awesome, the
grid layout Mesa's SolaraViz uses) from a CDN path that the Solara server proxies and caches in
``solara.server.settings.assets.proxy_cache_dir``. On a machine that cannot reach the CDN the page
stays blank. :func:`ensure_assets` fills that cache from the npm registry instead (``npm pack``,
the same thing the ``solara-assets`` package does at build time), for exactly the versions the
installed Solara asks for. It is a no-op when everything is cached, and it never fails: without
``npm`` (or without the registry) it returns the missing asset names and the server falls back to
the CDN.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

# (package, file inside it that the page requests): the file tells whether the cache is complete
_FIXED = (
    ("requirejs@2.3.6", "require.js"),
    ("font-awesome@4.5.0", "css/font-awesome.min.css"),
)


def _solara_root() -> Path:
    import solara

    return Path(solara.__file__).resolve().parent


def required_assets() -> list[tuple[str, str]]:
    """``(package@version, file)`` pairs the installed Solara's page and Mesa's layout request.

    Versions are read from Solara's own page template and grid-layout widget, so a Solara upgrade
    asks for its new versions rather than ours."""
    root = _solara_root()
    out = list(_FIXED)
    template = (root / "server" / "templates" / "solara.html.j2").read_text(encoding="utf-8")
    for app in sorted(set(re.findall(r"@widgetti/solara-vuetify3?-app@[0-9][0-9.]*", template))):
        out.append((app, "dist/fonts.css"))
    grid = (root / "widgets" / "vue" / "gridlayout.vue").read_text(encoding="utf-8")
    for pkg in sorted(set(re.findall(r"@widgetti/vue-grid-layout@[0-9][0-9A-Za-z.\-]*[0-9A-Za-z]", grid))):
        out.append((pkg, "dist/vue-grid-layout.umd.js"))
    markdown = (root / "components" / "markdown.py").read_text(encoding="utf-8")
    for name, probe in (("mermaid", "dist/mermaid.min.js"), ("katex", "dist/katex.min.css")):
        for pkg in sorted(set(re.findall(name + r"@[0-9][0-9.]*[0-9]", markdown))):  # every Markdown loads them
            out.append((pkg, probe))
    return out


def cache_dir() -> Path:
    """Where the Solara server looks for CDN files before fetching them."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def missing_assets(cache: Path | None = None) -> list[str]:
    cache = cache or cache_dir()
    return [pkg for pkg, probe in required_assets() if not (cache / pkg / probe).is_file()]


def _npm_pack(spec: str, dest: Path, timeout: float) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm not found on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([npm, "pack", spec, "--silent"], cwd=tmp, capture_output=True, text=True,
                             timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"npm pack {spec}: {res.stderr.strip()[-300:]}")
        tgz = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tgz) as tf:
            tf.extractall(tmp, filter="data")
        staged = dest.with_name(dest.name + ".partial")
        shutil.rmtree(staged, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / "package"), str(staged))
        shutil.rmtree(dest, ignore_errors=True)
        staged.rename(dest)


def ensure_assets(cache: Path | None = None, *, timeout: float = 120.0, log=print) -> list[str]:
    """Fetch the missing assets with ``npm pack``; return those still missing (empty: all cached)."""
    cache = cache or cache_dir()
    still = []
    for pkg in missing_assets(cache):
        try:
            log(f"fetching browser asset {pkg} from the npm registry ...")
            _npm_pack(pkg, cache / pkg, timeout)
        except (OSError, RuntimeError, subprocess.SubprocessError, StopIteration, tarfile.TarError) as e:
            log(f"  could not fetch {pkg} ({e}); the server will try the CDN")
            still.append(pkg)
    return still
