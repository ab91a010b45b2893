"""Rounds (fraudsim.evaluate.rounds): a detector against adaptive fraudsters over weekly
rounds, fixed or retrained; deterministic, rendered, one-line errors. The detector inside the
bank is tested in tests/world/agents/test_live_detector.py, `fraudsim loop` in
tests/cli/test_rounds.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fraudsim.core.errors import ConfigError
from fraudsim.evaluate.rounds import plot_rounds, rounds_html, run_rounds, write_rounds
from tests.helpers import Oracle, loop_config


def test_run_rounds_rejects_bad_settings_in_one_line() -> None:
    for kwargs in ({"rounds": 0}, {"threshold": -2.0}, {"batch": "week"}):
        with pytest.raises(ConfigError) as err:
            run_rounds(Oracle(), customers=300, days=1, **kwargs)  # type: ignore[arg-type]
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="unknown detector"):
        run_rounds("nope", customers=300, days=1)


def _small_rounds(**kwargs: object) -> dict:
    return run_rounds(
        Oracle(),
        loop_config(),
        rounds=2,
        customers=600,
        days=2,
        threshold=0.5,
        **kwargs,  # type: ignore[arg-type]
    )


def test_rounds_are_deterministic_and_render(tmp_path: Path) -> None:
    first, again = _small_rounds(), _small_rounds()
    first.pop("seconds"), again.pop("seconds")
    assert first == again
    assert [(a["adaptive"], a["retrain"]) for a in first["arms"]] == [
        (True, False),
        (True, True),
        (False, False),
        (False, True),
    ]
    arm = first["arms"][0]["rounds"]
    assert [r["round"] for r in arm] == [0, 1, 2] and arm[0]["recall"] is None
    assert arm[1]["recall"] == 1.0  # the oracle alerts on every fraudulent entity-day
    assert plot_rounds(first).startswith(b"\x89PNG")
    fragment = rounds_html(first)
    assert fragment.startswith("<section") and "data:image/png;base64," in fragment
    out = write_rounds({**first, "seconds": 0.0}, tmp_path / "r")
    assert json.loads((out / "rounds.json").read_text())["rounds"] == 2
    assert (out / "rounds.html").read_text().count("<tr>") == 1 + 4 * 3


@pytest.mark.slow
def test_adaptive_fraud_erodes_a_fixed_detector_and_retraining_recovers_part() -> None:
    """Issue 6 must-show, gbm in the bank (seed 11, 3,000 customers, 14-day round 0, 4 weekly
    rounds, adaptive fraudsters; measured curves and their spread over seeds: README "Rounds").
    Alerting at the calibrated operating point, so recall is the detector's, not the volume's."""
    result = run_rounds("gbm", None, rounds=4, customers=3000, days=7, adaptive=True)
    arms = {arm["retrain"]: arm["rounds"] for arm in result["arms"]}
    fixed, retrained = arms[False], arms[True]
    # Round 1 meets naive fraud; fraudsters learn at each round's end from what was stopped.
    assert all(v == 0 for v in fixed[0]["evasion"].values())
    means = [np.mean(list(x["evasion"].values())) for x in fixed]
    assert means[1] > 0.2 and bool((np.diff(means) > 0).all()), means
    # The fixed detector (same model, same cut) decays: late rounds well below round 1.
    recall = [x["recall"] for x in fixed]
    assert np.mean(recall[3:]) < 0.75 * recall[1], recall
    assert len({x["threshold"] for x in fixed[1:]}) == 1
    # Retraining on what the bank learnt recovers part of the ranking (labels arrive a week
    # late, so from round 2 on): PR-AUC. Recall at the refitted operating point is not asserted:
    # with few late positives the refit cut can jump to ~0.99 (seen at this seed since the data
    # lost its shortcuts), which is an operating-point problem of the retrained arm.
    again = [x["recall"] for x in retrained]
    assert retrained[1]["recall"] == recall[1]  # the same round-0 model in round 1
    auc = [x["pr_auc"] for x in fixed]
    auc_again = [x["pr_auc"] for x in retrained]
    assert np.mean(auc_again[2:]) > np.mean(auc[2:]) + 0.03, (auc_again, auc)
    assert np.mean(again[2:]) < recall[1]  # part of it, not all
    assert "data:image/png;base64," in rounds_html(result)
