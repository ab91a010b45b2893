"""Every scenario of the library validates and runs at a tiny scale, matching a golden summary."""

import json
from pathlib import Path

import pytest

from fraudsim import load_scenario, simulate
from fraudsim.world.fraud_engine import resolve_typologies

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
GOLDEN = Path(__file__).parent / "golden" / "scenarios.json"
TINY = {"population.customers": 600, "days": 6}


def summary(path: Path) -> dict[str, object]:
    config = load_scenario(path).with_overrides(**TINY)
    dataset = simulate(config)
    dataset.check_schema()
    tx = dataset.transactions
    return {
        "transactions": tx.height,
        "fraud_rows": int(tx["is_fraud"].sum()),
        "episodes": dataset.episodes.height,
        "events": dataset.events.height,
        "amount_sum": round(float(tx["amount"].sum()), 2),
        "fraud_types": sorted(tx["fraud_type"].drop_nulls().unique().to_list()),
    }


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_validates(path):
    config = load_scenario(path)
    resolve_typologies(config)
    assert config.name == path.stem


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_tiny_and_matches_golden(path):
    got = summary(path)
    # baseline has no fraud; realistic_month's published prevalence (1.5 in 10,000) gives no
    # episode in a world this small
    if path.stem not in ("baseline", "realistic_month"):
        assert got["episodes"] > 0 and got["fraud_types"], "a fraud scenario made no episode"
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    assert path.stem in golden, (
        f"no golden summary for {path.stem}: run `python tests/test_scenarios.py` to record"
    )
    assert got == golden[path.stem], (
        "behaviour changed; if intended, re-record with `python tests/test_scenarios.py`"
    )


def test_training_set_and_novel_attacks_do_not_share_typologies_unlabelled():
    """Held-out typologies of novel_attacks are absent from training_set."""
    from fraudsim.typologies import registry

    def fraud(name: str) -> bool:
        return registry.get(name).is_fraud

    train = {t.name for t in load_scenario(ROOT / "scenarios/training_set.toml").typologies}
    novel = [
        t for t in load_scenario(ROOT / "scenarios/novel_attacks.toml").typologies if fraud(t.name)
    ]
    unseen = {t.name for t in novel if t.label is None}
    assert unseen and not unseen & train
    assert all(t.label for t in novel if t.name in train)  # seen typologies only as variants


if __name__ == "__main__":  # re-record the golden summaries
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({p.stem: summary(p) for p in SCENARIOS}, indent=2) + "\n")
    print(f"wrote {GOLDEN}")
