"""Evaluation: fidelity of a run against its profile (the report issue adds more)."""
