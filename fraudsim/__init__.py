"""fraudsim: agent-based simulation of payment transactions and fraud.

Public API: `simulate(config) -> Dataset`, `load_scenario(path)`, `ScenarioConfig`, `Dataset`,
`load_profile(name_or_path)`.
"""

from fraudsim.calibration import Profile, load_profile
from fraudsim.config.scenario import ScenarioConfig, load_scenario
from fraudsim.dataset import Dataset, simulate

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "Profile",
    "ScenarioConfig",
    "__version__",
    "load_profile",
    "load_scenario",
    "simulate",
]
