"""The teaching app: a browser lab on path dependence (``sim app``; ``docs/teaching.md``).

Modules: :mod:`~sim.app.world` (worlds, labels, scenarios), :mod:`~sim.app.teaching_model` (the model
the explorer steps), :mod:`~sim.app.experiments` (the lock-in lab's many-seed runs),
:mod:`~sim.app.figures` (matplotlib figures), :mod:`~sim.app.explorer` and :mod:`~sim.app.lab` (the
two pages), :mod:`~sim.app.pages` (routes: the Solara entry point), :mod:`~sim.app.server` (starts it
on localhost) and :mod:`~sim.app.assets` (the browser files, fetched from npm when offline).

The app needs the ``app`` extra (``pip install -e ".[app]"``: Mesa's visualisation, Solara,
Playwright for the browser test); the rest of ``sim`` does not import this package.
"""
