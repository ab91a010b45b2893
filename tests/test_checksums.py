"""Content checksums of the library's scenarios at a small size and of a 2-worker sharded run.

A refactor must leave every data file identical; a change of behaviour re-records them with
`python tests/test_checksums.py` (and says so in its commit). Digests are of each table's CSV
text, so they do not depend on the Parquet writer's version.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import polars as pl
import pytest

from fraudsim import load_scenario, run_to_directory

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden" / "checksums.json"
# The library's own scenarios, by name (a user's files in scenarios/ are theirs).
SCENARIOS = (
    "account_fraud",
    "aml_world",
    "baseline",
    "card_fraud",
    "drift",
    "novel_attacks",
    "realistic_month",
    "shifted_variants",
    "training_set",
)
SMALL = {"population.customers": 800, "days": 8}
SHARDED = {"population.customers": 3000, "days": 5, "population.shard_size": 1000}


def digests(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every data table's CSV text (the transactions dataset read whole)."""
    out = {}
    for path in sorted(run_dir.iterdir()):
        name = path.name.split(".")[0]
        if path.suffix == ".parquet" or path.is_dir():
            frame = pl.read_parquet(path if path.is_file() else path / "*.parquet")
            # lists (episodes' ids) as text: CSV holds no nested columns
            frame = frame.with_columns(
                pl.col(c).cast(pl.List(pl.String)).list.join(",")
                for c, dtype in frame.schema.items()
                if isinstance(dtype, pl.List)
            )
            out[name] = hashlib.sha256(frame.write_csv().encode()).hexdigest()
    return out


def run(name: str, out: Path, overrides: dict[str, int], workers: int = 1) -> dict[str, str]:
    config = load_scenario(ROOT / "scenarios" / f"{name}.toml").with_overrides(**overrides)
    run_to_directory(config, out, workers=workers)
    return digests(out)


def record(tmp: Path) -> dict[str, dict[str, str]]:
    got = {name: run(name, tmp / name, SMALL) for name in SCENARIOS}
    got["training_set@2workers"] = run("training_set", tmp / "sharded", SHARDED, workers=2)
    return got


@pytest.mark.parametrize("name", SCENARIOS)
def test_small_run_matches_recorded_checksums(name: str, tmp_path: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert run(name, tmp_path / name, SMALL) == golden[name], (
        "data changed; if intended, re-record with `python tests/test_checksums.py`"
    )


@pytest.mark.slow
def test_two_worker_sharded_run_matches_recorded_checksums(tmp_path: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    got = run("training_set", tmp_path / "sharded", SHARDED, workers=2)
    assert got == golden["training_set@2workers"]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.write_text(json.dumps(record(Path(tmp)), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
