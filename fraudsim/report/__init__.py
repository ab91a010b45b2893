"""`fraudsim report`: fidelity, plots, representation, leakage and privacy audit of a run."""

from fraudsim.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
