"""Running shards (fraudsim.scale.runner): independence from the number of workers, consistency
across shards, resume. The shard plan itself is tested in tests/config/test_shards.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fraudsim.api import run_to_directory, simulate
from fraudsim.config.scenario import ScenarioConfig, TypologyConfig
from fraudsim.export.writer import MANIFEST, verify_run
from fraudsim.world.model import World


def _sharded(config: ScenarioConfig, **overrides: object) -> ScenarioConfig:
    """Three shards of 200 customers (the last has 100), with typologies of every kind."""
    typologies = [
        TypologyConfig(name="card_testing.v1", schedule={"episodes": 3}),
        TypologyConfig(name="mule_network.v1", schedule={"episodes": 1}),
        TypologyConfig(name="new_customer.v1"),
        TypologyConfig(name="triangulation.v1", schedule={"episodes": 1}),
    ]
    return config.model_copy(update={"typologies": typologies}).with_overrides(
        **{"population.customers": 500, "population.shard_size": 200, "days": 4, **overrides}
    )


def _data_files(run: Path) -> dict[str, str]:
    files = json.loads((run / MANIFEST).read_text(encoding="utf-8"))["files"]
    return {name: info["sha256"] for name, info in files.items() if name != "README.md"}


def test_shards_share_merchants_but_not_customers(small_config: ScenarioConfig) -> None:
    config = _sharded(small_config)
    worlds = [World(config, shard=k) for k in range(3)]
    merchants = [w.population.merchants for w in worlds]
    for other in merchants[1:]:
        assert np.array_equal(other["id"], merchants[0]["id"])
        assert np.array_equal(other["category"], merchants[0]["category"])
    customers = [w.population.customers["id"] for w in worlds]
    assert [len(c) for c in customers] == [167, 167, 166]
    assert len(np.unique(np.concatenate(customers))) == 500
    assert not np.array_equal(
        worlds[0].population.customers["age"][:100], worlds[1].population.customers["age"][:100]
    )


@pytest.fixture(scope="module")
def sharded_runs(
    tmp_path_factory: pytest.TempPathFactory, small_config: ScenarioConfig
) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("shards")
    config = _sharded(small_config)
    runs = {"one": base / "one", "two": base / "two"}
    run_to_directory(config, runs["one"], workers=1)
    run_to_directory(config, runs["two"], workers=2)
    return runs


def test_one_and_two_workers_write_identical_files(sharded_runs: dict[str, Path]) -> None:
    one, two = _data_files(sharded_runs["one"]), _data_files(sharded_runs["two"])
    assert one == two
    parts = [n for n in one if n.startswith("transactions.parquet/")]
    assert {p.split("/")[1][:10] for p in parts} == {"part-s0000", "part-s0001", "part-s0002"}
    # Many shards: every table but daily_stats is a directory of one part per shard (moved
    # into place, not rewritten).
    assert "customers.parquet/part-s0002.parquet" in one and "daily_stats.parquet" in one
    assert verify_run(sharded_runs["two"]) == []
    assert not list(sharded_runs["two"].parent.glob(".*tmp*"))


def test_writer_thread_or_not_writes_the_same_files(
    tmp_path: Path, small_config: ScenarioConfig
) -> None:
    """Workers on every core write in the simulating thread; the files do not change."""
    from fraudsim.calibration import load_profile
    from fraudsim.scale.runner import run_shard

    config = _sharded(small_config, days=3)
    profile = load_profile(config.profile)
    records = []
    for threaded in (True, False):
        work = tmp_path / f"threaded-{threaded}"
        work.mkdir()
        records.append(run_shard(config, profile, work, 1, "parquet", writer_thread=threaded))
    assert records[0]["files"] == records[1]["files"]
    assert records[0]["transactions"] > 0


def test_sharded_run_reads_as_one_table_with_unique_ids(sharded_runs: dict[str, Path]) -> None:
    run = sharded_runs["one"]
    tx = pl.read_parquet(run / "transactions.parquet")  # a directory of parts reads as one table
    assert tx["transaction_id"].n_unique() == tx.height > 0
    import pandas as pd

    assert len(pd.read_parquet(run / "transactions.parquet")) == tx.height  # pyarrow dataset
    for table, key in (
        ("customers", "customer_id"),
        ("accounts", "account_id"),
        ("cards", "card_id"),
        ("merchants", "merchant_id"),
        ("events", "event_id"),
        ("episodes", "episode_id"),
    ):
        frame = pl.read_parquet(run / f"{table}.parquet")
        assert frame[key].n_unique() == frame.height, table
    cards = pl.read_parquet(run / "cards.parquet")
    assert cards["card_number"].n_unique() == cards.height
    accounts = pl.read_parquet(run / "accounts.parquet")
    assert accounts["iban"].n_unique() == accounts.height
    # Every row's customer, account and merchant exist in the merged tables.
    customers = pl.read_parquet(run / "customers.parquet")["customer_id"]
    merchants = pl.read_parquet(run / "merchants.parquet")["merchant_id"]
    assert tx["customer_id"].is_in(customers.implode()).all()
    assert tx["merchant_id"].drop_nulls().is_in(merchants.implode()).all()
    episodes = pl.read_parquet(run / "episodes.parquet")
    manifest = json.loads((run / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["rows"]["episodes"] == episodes.height
    # Exact episode counts are kept across shards (split by one shared draw).
    counts = dict(episodes.group_by("typology").len().iter_rows())
    assert counts["card_testing.v1"] == 3
    daily = pl.read_parquet(run / "daily_stats.parquet")
    assert daily.height == 4
    assert int(daily["transactions"].sum()) == tx.height


def test_in_memory_simulation_matches_sharded_files(
    sharded_runs: dict[str, Path], small_config: ScenarioConfig
) -> None:
    ds = simulate(_sharded(small_config))
    tx = pl.read_parquet(sharded_runs["one"] / "transactions.parquet")
    assert ds.transactions.sort("transaction_id").equals(tx.sort("transaction_id"))
    for table in ("customers", "accounts", "cards", "merchants", "events", "episodes"):
        written = pl.read_parquet(sharded_runs["one"] / f"{table}.parquet")
        assert ds.tables[table].equals(written), table
    daily = pl.read_parquet(sharded_runs["one"] / "daily_stats.parquet")
    assert ds.daily_stats.equals(daily)


def test_shard_size_changes_the_data_but_not_its_shape(small_config: ScenarioConfig) -> None:
    config = small_config.with_overrides(**{"population.customers": 400, "days": 2})
    one = simulate(config)
    two = simulate(config.with_overrides(**{"population.shard_size": 200}))
    assert one.customers.height == two.customers.height == 400
    assert 0.8 < two.transactions.height / one.transactions.height < 1.25


# -- resume ------------------------------------------------------------------------------------

_CLI = [sys.executable, "-m", "fraudsim", "run"]


def _cli_args(scenario: Path, out: Path, *extra: str) -> list[str]:
    return [*_CLI, str(scenario), "--out", str(out), "--quiet", *extra]


@pytest.fixture
def resumable_scenario(tmp_path: Path) -> Path:
    scenario = tmp_path / "resumable.toml"
    scenario.write_text(
        'name = "resumable"\nseed = 11\ndays = 6\n'
        "[population]\ncustomers = 2400\nshard_size = 400\n"
        '[[typologies]]\nname = "card_testing.v1"\nschedule = { episodes = 4 }\n',
        encoding="utf-8",
    )
    return scenario


@pytest.mark.slow
def test_killed_run_resumes_to_identical_output(tmp_path: Path, resumable_scenario: Path) -> None:
    reference = tmp_path / "reference"
    subprocess.run(_cli_args(resumable_scenario, reference), check=True, timeout=300)
    out = tmp_path / "killed"
    work = tmp_path / ".killed.tmp-shards" / ".shards"
    proc = subprocess.Popen(_cli_args(resumable_scenario, out), start_new_session=True)
    deadline = time.monotonic() + 240
    # Kill once some, not all, shards are complete.
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(work.glob("*/shard.json"))) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = len(list(work.glob("*/shard.json")))
    assert 2 <= kept < 6 and not out.exists()
    done = subprocess.run(
        _cli_args(resumable_scenario, out, "--resume"),
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert f"kept {kept} completed shard" in done.stderr
    assert _data_files(out) == _data_files(reference)
    assert verify_run(out) == []
    assert not work.parent.exists()


def test_resume_rejects_tampered_shards_and_other_scenarios(
    tmp_path: Path, small_config: ScenarioConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fraudsim.scale import runner as engine

    config = _sharded(small_config, days=2)
    reference = tmp_path / "reference"
    run_to_directory(config, reference)
    out = tmp_path / "run"
    real = engine.run_shard
    calls: list[int] = []

    def crash_on_shard_two(*args: object, **kwargs: object) -> dict:
        shard = args[3]
        calls.append(shard)
        if shard == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "run_shard", crash_on_shard_two)
    with pytest.raises(KeyboardInterrupt):
        run_to_directory(config, out)
    work = tmp_path / ".run.tmp-shards"
    assert sorted(p.name for p in (work / ".shards").iterdir()) == ["s0000", "s0001"]
    # Tamper with shard 1's part: resuming must redo shard 1 (checksum), keep shard 0.
    part = next((work / "transactions.parquet").glob("part-s0001-*"))
    part.write_bytes(part.read_bytes()[:-9] + b"corrupted")
    monkeypatch.setattr(engine, "run_shard", real)
    calls.clear()
    monkeypatch.setattr(engine, "run_shard", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    ds = run_to_directory(config, out, resume=True)
    assert calls == [1, 2] and ds.resumed_shards == [0]
    assert _data_files(out) == _data_files(reference)
    # A resume of another scenario into the same place starts afresh.
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(engine, "run_shard", crash_on_shard_two)
        run_to_directory(config, tmp_path / "again")
    calls.clear()
    monkeypatch.setattr(engine, "run_shard", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    ds = run_to_directory(
        config.with_overrides(seed=config.seed + 1), tmp_path / "again", resume=True
    )
    assert calls == [0, 1, 2] and ds.resumed_shards == []


def test_bad_worker_count_refused(tmp_path: Path, small_config: ScenarioConfig) -> None:
    from fraudsim.core.errors import ConfigError

    with pytest.raises(ConfigError, match="workers"):
        run_to_directory(small_config.with_overrides(days=1), tmp_path / "w", workers=0)
    assert not (tmp_path / "w").exists()


def test_compromised_shops_are_the_same_in_every_shard(small_config: ScenarioConfig) -> None:
    typology = TypologyConfig(name="compromised_terminal.v1", schedule={"episodes": 2})
    config = small_config.model_copy(update={"typologies": [typology]}).with_overrides(
        **{"population.customers": 500, "population.shard_size": 200, "days": 1}
    )
    picks = [World(config, shard=k).fraud.typologies[0].compromised for k in range(3)]
    assert picks[0] == picks[1] == picks[2] and len(picks[0]) >= 1
