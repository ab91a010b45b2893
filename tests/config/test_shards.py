"""The shard plan (fraudsim.config.shards): which customers form shard k, exact episode counts
split by one shared draw. Running the shards is tested in tests/scale/test_runner.py."""

from __future__ import annotations

import pytest

from fraudsim.config.scenario import ScenarioConfig
from fraudsim.config.shards import ShardPlan
from fraudsim.core.rng import SeedStreams


def test_plan_splits_customers_and_exact_counts() -> None:
    plan = ShardPlan(customers=1050, shard_size=400)
    assert plan.count == 3
    assert [plan.size(k) for k in range(3)] == [350, 350, 350]  # equal, none above 400
    uneven = ShardPlan(customers=1001, shard_size=400)
    assert [uneven.size(k) for k in range(uneven.count)] == [334, 334, 333]
    assert ShardPlan(customers=800, shard_size=400).count == 2
    assert sum(plan.fraction(k) for k in range(3)) == pytest.approx(1.0)
    split = plan.allocate(SeedStreams(5, shard=2), "card_testing.v1", 0, 17)
    assert split.sum() == 17 and len(split) == 3
    # Every shard computes the same split from the shared stream.
    assert (split == plan.allocate(SeedStreams(5), "card_testing.v1", 0, 17)).all()
    with pytest.raises(ValueError, match="out of range"):
        plan.size(3)


def test_unsharded_is_shard_zero(small_config: ScenarioConfig) -> None:
    assert ShardPlan.of(small_config).count == 1
    assert SeedStreams(3).shared.shard == 0
    assert SeedStreams(3, shard=4).key("ids", 1) == SeedStreams(3).key("ids", 1)
