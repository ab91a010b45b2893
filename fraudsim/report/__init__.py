"""`fraudsim report`: fidelity, plots, representation, leakage and privacy audit of a run."""
