"""The named mechanisms of the yearly step (DESIGN.md section 3), each a vectorised function."""
