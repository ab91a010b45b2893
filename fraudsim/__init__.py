"""fraudsim: agent-based simulation of payment transactions and fraud.

Public API: `simulate(config) -> Dataset`, `run_to_directory(config, out_dir)`,
`load_scenario(path)`, `ScenarioConfig`, `Dataset`, `load_profile(name_or_path)`,
`load_detector(name)`.
"""

from fraudsim.api import run_to_directory, simulate
from fraudsim.calibration import Profile, load_profile
from fraudsim.config.scenario import ScenarioConfig, load_scenario
from fraudsim.core.version import __version__
from fraudsim.dataset import Dataset
from fraudsim.detection.detectors import load_detector

__all__ = [
    "Dataset",
    "Profile",
    "ScenarioConfig",
    "__version__",
    "load_detector",
    "load_profile",
    "load_scenario",
    "run_to_directory",
    "simulate",
]
