"""Plain helpers shared by test modules of several folders (fixtures live in conftest.py files).

Import them as `from tests.helpers import ...`: `tests/` is a package, so test modules of the
same basename in different folders (tests/cli/test_stress.py, tests/evaluate/test_stress.py)
do not collide.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraudsim.api import simulate
from fraudsim.config.scenario import ScenarioConfig, validate_scenario
from fraudsim.dataset import Dataset

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
FIXTURES = ROOT / "tests" / "fixtures"
BERKA = FIXTURES / "berka" / "trans_sample.asc"
CARD = FIXTURES / "card" / "card_sample.csv"  # synthetic, shaped like the ULB credit-card table
CARD_COLUMNS = "timestamp=Time,amount=Amount,label=Class"


# -- typology worlds ---------------------------------------------------------------------------


def run_world(
    typologies: list[dict[str, Any]],
    customers: int = 1500,
    days: int = 10,
    seed: int = 7,
    **extra: Any,
) -> Dataset:
    """Simulate a small scenario with the given `[[typologies]]` entries (schema checked)."""
    config = validate_scenario(
        {
            "name": "typology_test",
            "seed": seed,
            "days": days,
            "population": {"customers": customers},
            "typologies": typologies,
            **extra,
        },
        "test",
    )
    dataset = simulate(config)
    dataset.check_schema()
    return dataset


# -- command line ------------------------------------------------------------------------------


def one_line_error(output: str) -> str:
    """The single `error:` line of a failed command (asserts there is nothing else)."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {output!r}"
    assert "Traceback" not in output
    assert lines[0].startswith("error:")
    return lines[0]


def write_stress_suite(folder: Path) -> Path:
    """A two-entry stress suite (novel attacks, the training set on a new population)."""
    path = folder / "suite.toml"
    path.write_text(
        f"""
name = "tiny"

[[entries]]
scenario = "{SCENARIOS / "novel_attacks.toml"}"
label = "unseen"

[[entries]]
scenario = "{SCENARIOS / "training_set.toml"}"
label = "new_population"
overrides = {{ seed = 7, start_date = 2025-06-02 }}
""",
        encoding="utf-8",
    )
    return path


# -- stub detectors (no fitting cost) ----------------------------------------------------------


class AmountDetector:
    """Score = amount (major units)."""

    def fit(self, frame: pl.DataFrame) -> AmountDetector:
        return self

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        return frame["amount"].to_numpy().astype(np.float64)


class Oracle:
    """Score = 1 for fraud rows: blocks exactly the entities with fraud in the batch."""

    def fit(self, frame: pl.DataFrame) -> Oracle:
        return self

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        return frame["is_fraud"].fill_null(False).to_numpy().astype(np.float64)


LOOP_TYPOLOGIES = ["card_testing.v1", "cnp_stolen_credentials.v1", "account_takeover.v1"]


def loop_config(adaptive: bool = True, days: int = 5, **bank: object) -> ScenarioConfig:
    """1,000 customers with three card/account typologies at a 5% fraud share; `bank` settings."""
    return validate_scenario(
        {
            "name": "loop",
            "seed": 3,
            "days": days,
            "population": {"customers": 1000},
            "fraud": {"target_share": 0.05, "adaptive": adaptive},
            "typologies": [{"name": name} for name in LOOP_TYPOLOGIES],
            "bank": bank,
        },
        "test",
    )
