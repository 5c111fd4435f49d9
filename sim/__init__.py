"""amgeo: an agent-based simulator of Great Britain's advanced-manufacturing geography."""

__version__ = "0.1.0"
