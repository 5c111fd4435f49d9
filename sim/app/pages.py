"""The app's pages and routes: the Solara entry point (``solara run sim.app.pages``).

- ``/``: the explorer (:mod:`sim.app.explorer`): Mesa's SolaraViz stepping one model;
- ``/lab``: the lock-in lab (:mod:`sim.app.lab`): many seeds at once.

``sim app`` (:mod:`sim.app.server`) starts this module on localhost.
"""

from __future__ import annotations

import solara
import solara.lab

PAGES = (("/", "Explorer"), ("/lab", "Lock-in lab"))


@solara.component
def NavTabs():
    """Tabs in the app bar that switch between the explorer and the lock-in lab."""
    with solara.AppBar():
        with solara.lab.Tabs(align="right"):
            for path, label in PAGES:
                solara.lab.Tab(label, path_or_route=path)


@solara.component
def ExplorerPage():
    from sim.app.explorer import Explorer

    Explorer()


@solara.component
def LabPage():
    from sim.app.lab import LockInLab

    LockInLab()


routes = [
    solara.Route(path="/", component=ExplorerPage, label="Explorer"),
    solara.Route(path="lab", component=LabPage, label="Lock-in lab"),
]
