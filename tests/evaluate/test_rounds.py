"""Tests of the detector in the bank (world.agents.live_detector) and of rounds (evaluate.rounds).

Most use stub detectors (no fitting cost): `AmountDetector` scores the amount, `Oracle` scores
the ground truth, so which entities must be blocked is known exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from fraudsim.cli import app
from fraudsim.config.scenario import DetectorConfig, validate_scenario
from fraudsim.core.errors import ConfigError
from fraudsim.evaluate.rounds import plot_rounds, rounds_html, run_rounds, write_rounds
from fraudsim.world.model import World
from fraudsim.world.tables import transactions_frame

TYPOLOGIES = ["card_testing.v1", "cnp_stolen_credentials.v1", "account_takeover.v1"]


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


def _config(adaptive: bool = True, days: int = 5, **bank: object) -> object:
    return validate_scenario(
        {
            "name": "loop",
            "seed": 3,
            "days": days,
            "population": {"customers": 600},
            "fraud": {"target_share": 0.05, "adaptive": adaptive},
            "typologies": [{"name": name} for name in TYPOLOGIES],
            "bank": bank,
        },
        "test",
    )


def _run(detector: object, adaptive: bool = True, **live: object) -> tuple[World, pl.DataFrame]:
    world = World(_config(adaptive))  # type: ignore[arg-type]
    settings = {"name": "stub", "threshold": 0.5, **live}
    world.bank.attach_detector(DetectorConfig(**settings), detector)  # type: ignore[arg-type]
    frames: list[pl.DataFrame] = []
    world.day_callbacks.append(lambda day, rows: frames.append(transactions_frame(world, rows)))
    world.run()
    return world, pl.concat(frames)


def test_blocks_exactly_what_scores_above_the_threshold() -> None:
    world, tx = _run(AmountDetector(), threshold=400.0, review_hours=0.0)
    live = world.bank.detector
    assert live is not None and live.alerts
    assert all(a["score"] >= 400.0 for a in live.alerts)
    assert world.bank.block_causes["detector"] == len(live.alerts)
    # Every card that paid >= 400 on a day was alerted at that day's end (unless blocked before).
    big = tx.filter(pl.col("card_id").is_not_null() & (pl.col("amount") >= 400.0))
    alerted = {(a["t"] // 86_400 - 1, a["idx"]) for a in live.alerts if a["entity"] == "card"}
    cards = world.population.cards["id"]
    idx = {int(c): i for i, c in enumerate(cards.tolist())}
    days = (big["timestamp"].dt.epoch("s") - tx["timestamp"].dt.epoch("s").min()) // 86_400
    expected = {(int(d), idx[int(c)]) for d, c in zip(days, big["card_id"], strict=True)}
    assert expected
    for day, card in expected - alerted:  # only cards blocked before (reports, confirmed fraud)
        assert world.bank.card_blocked_at[card] <= (day + 1) * 86_400


def test_blocked_cards_decline_until_the_honest_customer_is_reviewed() -> None:
    world, _ = _run(AmountDetector(), threshold=300.0, review_hours=24.0)
    live = world.bank.detector
    assert live is not None
    stats = sorted(live.stats.values(), key=lambda s: s.day)
    assert sum(s.legit_declined_by_detector for s in stats) > 0
    # Reviews lifted the honest customers' blocks; fraud-confirmed ones stay.
    honest = [
        a
        for a in live.alerts
        if (0 if a["entity"] == "card" else 1, a["idx"]) not in live.confirmed
    ]
    lifted = [a for a in honest if world.bank.card_blocked_at[a["idx"]] > a["t"]]
    assert honest and lifted
    for (kind, index), at in live.confirmed.items():
        blocked = world.bank.card_blocked_at if kind == 0 else world.bank.account_frozen_at
        assert blocked[index] <= at


def _run_campaigns(adaptive: bool, campaign_days: int) -> tuple[World, list[dict[str, float]]]:
    world = World(_config(adaptive))  # type: ignore[arg-type]
    world.bank.attach_detector(DetectorConfig(name="stub", threshold=0.5), Oracle())  # type: ignore[arg-type]
    assert world.bank.detector is not None
    world.bank.detector.campaign_days = campaign_days
    evasion: list[dict[str, float]] = []
    world.day_callbacks.append(
        lambda day, rows: evasion.append({t.name: t.evasion for t in world.fraud.typologies})
    )
    world.run()
    return world, evasion


def test_detector_blocks_interrupt_episodes_and_fraudsters_learn_between_campaigns() -> None:
    world, evasion = _run_campaigns(True, campaign_days=3)
    episodes = [ep for ep in world.fraud.episodes if ep.detected_by == "detector"]
    assert episodes
    assert any(ep.interruptions > 0 for ep in episodes)
    live = world.bank.detector
    assert live is not None and [c["end"] // 86_400 for c in live.campaigns] == [3]
    # Nothing is learnt within a campaign: evasion changes only at its end (day 3).
    assert all(v == 0 for v in evasion[0].values()) and evasion[0] == evasion[1]
    assert evasion[2] != evasion[1] and evasion[2] == evasion[3] == evasion[4]
    # Each lesson moves evasion towards 1 by the rate times the share the detector stopped.
    before = dict.fromkeys(evasion[0], 0.0)
    for campaign in live.campaigns:
        for typ in world.fraud.typologies:
            share = campaign["stopped_share"].get(typ.name, 0.0)
            want = before[typ.name] + (1 - before[typ.name]) * typ.evasion_rate * share
            assert campaign["evasion"][typ.name] == pytest.approx(want)
            before[typ.name] = want
    assert any(v > 0 for v in before.values()), before


def test_stopped_share_counts_the_campaigns_episodes() -> None:
    world, _ = _run_campaigns(True, campaign_days=5)
    live = world.bank.detector
    assert live is not None
    (campaign,) = live.campaigns
    for typ in world.fraud.typologies:
        eps = [ep for ep in world.fraud.episodes if ep.typology == typ.name and ep.is_fraud]
        stopped = sum(ep.detected_by == "detector" for ep in eps)
        assert campaign["stopped_share"].get(typ.name, 0.0) == pytest.approx(
            stopped / len(eps) if eps else 0.0
        )


def test_no_adaptation_when_fraud_is_not_adaptive() -> None:
    world, _ = _run_campaigns(False, campaign_days=2)
    assert any(ep.detected_by == "detector" for ep in world.fraud.episodes)
    live = world.bank.detector
    assert live is not None and any(v > 0 for v in live.campaigns[0]["stopped_share"].values())
    assert all(t.evasion == 0 for t in world.fraud.typologies)


def test_hourly_batches_block_within_the_day() -> None:
    world, _ = _run(Oracle(), batch="hour")
    live = world.bank.detector
    assert live is not None
    assert any(a["t"] % 86_400 for a in live.alerts)  # alerts at hours, not only midnights


def test_scenario_names_a_detector_and_it_trains_itself() -> None:
    world = World(_config(days=4, detector={"name": "rules", "threshold": 3.0, "train_days": 2}))  # type: ignore[arg-type]
    world.run()
    live = world.bank.detector
    assert live is not None and live.detector is not None
    assert [s.day for s in live.stats.values() if s.live] == [2, 3]


@pytest.mark.parametrize(
    ("bank", "words"),
    [
        ({"detector": {"name": "nope", "threshold": 1.0}}, "unknown detector 'nope'"),
        ({"detector": {"name": "gbm", "threshold": -1.0}}, "threshold"),
        ({"detector": {"name": "gbm"}}, "exactly one of threshold or budget"),
        ({"detector": {"name": "gbm", "budget": 5, "batch": "week"}}, "batch"),
    ],
)
def test_bad_detector_config_is_one_line(bank: dict, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        World(_config(**bank))  # type: ignore[arg-type]
    message = str(err.value)
    assert words in message and "\n" not in message


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
        _config(),  # type: ignore[arg-type]
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


def test_cli_loop_writes_rounds_and_fails_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["loop", "--detector", "nope", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown detector" in bad.output
    assert not (tmp_path / "x").exists()
    ok = runner.invoke(
        app,
        [
            "loop",
            "--detector",
            "rules",
            "--threshold",
            "3",
            "--rounds",
            "1",
            "--days",
            "2",
            "--customers",
            "400",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "r" / "rounds.json").exists() and (tmp_path / "r" / "rounds.html").exists()


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
    # Retraining on what the bank learnt recovers part of it (labels arrive a week late, so
    # from round 2 on), in recall and in PR-AUC.
    again = [x["recall"] for x in retrained]
    assert retrained[1]["recall"] == recall[1]  # the same round-0 model in round 1
    assert np.mean(again[2:]) > np.mean(recall[2:]), (again, recall)
    auc = [x["pr_auc"] for x in fixed]
    auc_again = [x["pr_auc"] for x in retrained]
    assert np.mean(auc_again[2:]) > np.mean(auc[2:]) + 0.03, (auc_again, auc)
    assert np.mean(again[2:]) < recall[1]  # part of it, not all
    assert "data:image/png;base64," in rounds_html(result)
