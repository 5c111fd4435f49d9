"""Start the teaching app on localhost: ``sim app [--port N]`` (``make app``).

Checks that the ``app`` extra is installed and the port is free, fetches the browser assets from the
npm registry if the CDN cache lacks them (:mod:`sim.app.assets`), prints the address, and runs
``solara run sim.app.pages`` in production mode (no hot reload, no telemetry) until Ctrl-C. On POSIX
the ``sim app`` process *becomes* the server (``exec``), so stopping it stops the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

APP_MODULE = "sim.app.pages"
DEFAULT_PORT = 8765


def free_port(host: str = "localhost") -> int:
    """A TCP port that is free on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "localhost") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def missing_extra() -> str | None:
    """None if the app's packages import, else a message saying how to install them."""
    try:
        import mesa.visualization  # noqa: F401
        import solara  # noqa: F401
    except ImportError as e:
        return (f"the teaching app needs the 'app' extra ({e.name} is missing): "
                "run `make app`, or `pip install -e \".[app]\"` in the project's environment")
    return None


def server_command(port: int, host: str = "localhost") -> list[str]:
    """The command that runs the Solara server for the app."""
    return [sys.executable, "-m", "solara", "run", APP_MODULE, "--host", host, "--port", str(port),
            "--production", "--no-open"]


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def serve(port: int = DEFAULT_PORT, host: str = "localhost") -> int:
    """Run the app until interrupted; return an exit code (2: bad input or missing packages)."""
    msg = missing_extra()
    if msg:
        print(f"error: {msg}", file=sys.stderr)
        return 2
    if port == 0:
        port = free_port(host)
    elif not port_is_free(port, host):
        print(f"error: --port {port}: the port is in use on {host}; choose another (e.g. --port {port + 1}) "
              "or --port 0 for any free port", file=sys.stderr)
        return 2
    from sim.app.assets import ensure_assets

    still = ensure_assets()
    if still:
        print(f"note: browser assets not cached ({', '.join(still)}); the page needs the CDN to load them")
    url = f"http://{host}:{port}/"
    print(f"teaching app: open {url} in a browser (explorer), {url}lab (lock-in lab); Ctrl-C stops it",
          flush=True)
    cmd = server_command(port, host)
    if os.name == "posix":  # become the server: one process, which Ctrl-C and kill stop directly
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(cmd[0], cmd, server_env())
    proc = subprocess.Popen(cmd, env=server_env())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
