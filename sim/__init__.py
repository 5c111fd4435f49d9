"""amgeo: an agent-based simulator of Great Britain's advanced-manufacturing geography."""

__version__ = "0.1.0"


def __getattr__(name):  # lazy: keep `import sim` cheap for the CLI and worker processes
    if name in ("simulate", "simulate_many"):
        from sim import runner

        return getattr(runner, name)
    if name == "AMModel":
        from sim.model import AMModel

        return AMModel
    if name in ("Params", "make_params"):
        from sim import params

        return getattr(params, name)
    if name in ("Scenario", "load_scenario"):
        from sim import scenario

        return getattr(scenario, name)
    if name == "Results":
        from sim.results import Results

        return Results
    raise AttributeError(name)
