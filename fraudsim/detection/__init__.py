"""Detection: features, detectors and metrics (used by the bank agent and by evaluation)."""
