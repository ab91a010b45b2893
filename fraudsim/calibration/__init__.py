"""Calibration: profiles of target aggregates, each figure with its source."""

from fraudsim.calibration.profile import Profile, load_profile

__all__ = ["Profile", "load_profile"]
