"""simulate and run_to_directory (fraudsim.api): the same scenario and seed give
byte-identical files, by either path; progress reports every day."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from fraudsim import simulate
from fraudsim.api import run_to_directory
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.export.writer import MANIFEST, verify_run


def _files(run: Path) -> dict[str, dict[str, object]]:
    return json.loads((run / MANIFEST).read_text(encoding="utf-8"))["files"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, small_config: ScenarioConfig) -> dict[str, Path]:
    """The small scenario written twice by run_to_directory, once via simulate().write, and
    once with another seed."""
    root = tmp_path_factory.mktemp("determinism")
    run_to_directory(small_config, root / "a")
    run_to_directory(small_config, root / "b")
    simulate(small_config).write(root / "mem")
    run_to_directory(small_config.with_overrides(seed=small_config.seed + 1), root / "other")
    return {name: root / name for name in ("a", "b", "mem", "other")}


def test_same_seed_same_bytes(runs: dict[str, Path]) -> None:
    a, b = _files(runs["a"]), _files(runs["b"])
    assert a == b
    assert "README.md" in a
    assert any(name.startswith("transactions.parquet/") for name in a)


def test_readme_identical_and_manifest_differs_only_in_timing(runs: dict[str, Path]) -> None:
    assert (runs["a"] / "README.md").read_bytes() == (runs["b"] / "README.md").read_bytes()
    ma = json.loads((runs["a"] / MANIFEST).read_text(encoding="utf-8"))
    mb = json.loads((runs["b"] / MANIFEST).read_text(encoding="utf-8"))
    for key in ("timings_seconds", "created_at"):
        ma.pop(key)
        mb.pop(key)
    assert ma == mb


def test_checksums_match_files_on_disk(runs: dict[str, Path]) -> None:
    for run in runs.values():
        assert verify_run(run) == [], run


def test_in_memory_write_matches_streamed_run(runs: dict[str, Path]) -> None:
    """simulate(...).write(dir) writes the same transaction parts, byte for byte."""
    streamed, memory = _files(runs["a"]), _files(runs["mem"])
    parts = sorted(n for n in streamed if n.startswith("transactions.parquet/"))
    assert parts == sorted(n for n in memory if n.startswith("transactions.parquet/"))
    assert len(parts) == 2
    for name in parts:
        assert (runs["a"] / name).read_bytes() == (runs["mem"] / name).read_bytes(), name
    # And everything else too (the README has no timings).
    assert streamed == memory


def test_different_seed_different_data(runs: dict[str, Path]) -> None:
    a, other = _files(runs["a"]), _files(runs["other"])
    for name in (
        "transactions.parquet/part-s0000-d00000.parquet",
        "customers.parquet",
        "accounts.parquet",
    ):
        assert a[name]["sha256"] != other[name]["sha256"], name
    ta = pl.read_parquet(runs["a"] / "transactions.parquet" / "*.parquet")
    tb = pl.read_parquet(runs["other"] / "transactions.parquet" / "*.parquet")
    assert not set(ta["transaction_id"].to_list()) & set(tb["transaction_id"].to_list())


def test_simulate_twice_equal_frames(small_config: ScenarioConfig) -> None:
    one, two = simulate(small_config), simulate(small_config)
    for name, frame in one.tables.items():
        assert frame.equals(two.tables[name]), name


def test_progress_callback_sees_every_day(small_config: ScenarioConfig) -> None:
    calls: list[tuple[int, int, int]] = []
    ds = simulate(small_config, progress=lambda day, days, rows: calls.append((day, days, rows)))
    assert [c[0] for c in calls] == list(range(small_config.days))
    assert {c[1] for c in calls} == {small_config.days}
    assert sum(c[2] for c in calls) == ds.transactions.height
