"""The detector in the bank (fraudsim.world.agents.live_detector): it blocks what scores
above its threshold, reviews lift honest customers' blocks, and fraudsters learn between
campaigns.

Most tests use stub detectors (no fitting cost, tests/helpers.py): `AmountDetector` scores the
amount, `Oracle` scores the ground truth, so which entities must be blocked is known exactly.
"""

from __future__ import annotations

import polars as pl
import pytest

from fraudsim.config.scenario import DetectorConfig
from fraudsim.core.errors import ConfigError
from fraudsim.world.model import World
from fraudsim.world.tables import transactions_frame
from tests.helpers import AmountDetector, Oracle, loop_config


def _run(detector: object, adaptive: bool = True, **live: object) -> tuple[World, pl.DataFrame]:
    world = World(loop_config(adaptive))
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
        if kind == 0:  # a confirmed card stays blocked (its holder gets a new one)
            assert world.bank.card_blocked_at[index] <= at
        elif world.bank._is_mule(index):  # a victim's freeze ends with the bank's review
            assert world.bank.account_frozen_at[index] <= at


def _run_campaigns(adaptive: bool, campaign_days: int) -> tuple[World, list[dict[str, float]]]:
    world = World(loop_config(adaptive))
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
    world = World(
        loop_config(days=4, detector={"name": "rules", "threshold": 3.0, "train_days": 2})
    )
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
        World(loop_config(**bank))
    message = str(err.value)
    assert words in message and "\n" not in message
