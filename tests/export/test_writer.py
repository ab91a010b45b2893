"""The atomic run writer: files, manifest, verification, failure and replacement."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from fraudsim.api import run_to_directory
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.errors import OutputError
from fraudsim.dataset import TABLES, Dataset
from fraudsim.export import schema
from fraudsim.export import writer as writer_mod
from fraudsim.export.writer import MANIFEST, RunWriter, sha256_file, verify_run

ENTITY_FILES = [t for t in TABLES if t != "transactions"]


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory, small_config: ScenarioConfig
) -> tuple[Path, Dataset]:
    """One parquet run of the small scenario (read-only for the tests)."""
    out = tmp_path_factory.mktemp("runs") / "small"
    return out, run_to_directory(small_config, out)


@pytest.fixture
def run_copy(written: tuple[Path, Dataset], tmp_path: Path) -> Path:
    """A private copy of the written run, safe to tamper with."""
    copy = tmp_path / "copy"
    shutil.copytree(written[0], copy)
    return copy


def _leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}.tmp"))


def _tiny(config: ScenarioConfig, **overrides: object) -> ScenarioConfig:
    return config.with_overrides(**{"days": 2, "population.customers": 150, **overrides})


def test_expected_files_written(
    written: tuple[Path, Dataset], small_config: ScenarioConfig
) -> None:
    out, _ = written
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["transactions.parquet", "README.md", MANIFEST, *(f"{n}.parquet" for n in ENTITY_FILES)]
    )
    parts = sorted(p.name for p in (out / "transactions.parquet").iterdir())
    # One part per 7 days: 9 days make two parts.
    assert parts == ["part-s0000-d00000.parquet", "part-s0000-d00007.parquet"]
    assert small_config.days == 9
    assert not _leftovers(out.parent, out.name)


def test_manifest_lists_every_file_with_checksum(written: tuple[Path, Dataset]) -> None:
    out, _ = written
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    on_disk = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != MANIFEST
    )
    assert sorted(manifest["files"]) == on_disk
    for name, info in manifest["files"].items():
        assert info["sha256"] == sha256_file(out / name), name
        assert info["bytes"] == (out / name).stat().st_size, name


def test_manifest_records_scenario_rows_and_versions(
    written: tuple[Path, Dataset], small_config: ScenarioConfig
) -> None:
    out, dataset = written
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["seed"] == small_config.seed
    assert manifest["scenario"]["name"] == small_config.name
    assert manifest["scenario"]["population"]["customers"] == small_config.population.customers
    assert manifest["profile"]["name"] == "default"
    assert len(manifest["profile"]["sha256"]) == 64
    assert {"fraudsim", "numpy", "polars", "mesa"} <= set(manifest["versions"])
    tx = pl.read_parquet(out / "transactions.parquet" / "*.parquet")
    assert manifest["rows"]["transactions"] == tx.height == dataset.transaction_rows
    for name in ENTITY_FILES:
        assert manifest["rows"][name] == pl.read_parquet(out / f"{name}.parquet").height, name


def test_written_tables_match_the_schema(written: tuple[Path, Dataset]) -> None:
    out, dataset = written
    tx = pl.read_parquet(out / "transactions.parquet" / "*.parquet")
    check = Dataset(
        dataset.config,
        dataset.profile,
        {
            "transactions": tx,
            **{n: pl.read_parquet(out / f"{n}.parquet") for n in ENTITY_FILES},
        },
    )
    check.check_schema()
    assert tx["timestamp"].is_sorted()
    assert tx["transaction_id"].n_unique() == tx.height


def test_streamed_dataset_reads_its_tables_from_disk(written: tuple[Path, Dataset]) -> None:
    out, dataset = written
    assert "transactions" not in dataset.tables
    for name in ENTITY_FILES:  # read back on first use, then held
        assert dataset.tables.get(name) is None or name in dataset.tables
        assert getattr(dataset, name).equals(pl.read_parquet(out / f"{name}.parquet")), name
    assert set(dataset.tables) == set(ENTITY_FILES)
    assert dataset.scan_transactions().collect().height == dataset.transaction_rows
    with pytest.raises(ValueError, match="streamed"):
        dataset.write("/nonexistent/never-written")


def test_readme_is_a_dataset_card(
    written: tuple[Path, Dataset], small_config: ScenarioConfig
) -> None:
    text = (written[0] / "README.md").read_text(encoding="utf-8")
    assert text.startswith(f"# Dataset card: {small_config.name}")
    assert "## Fidelity" in text and "## Schema" in text
    assert "`transaction_id`" in text


def test_verify_run_sound(written: tuple[Path, Dataset]) -> None:
    assert verify_run(written[0]) == []


def test_verify_run_reports_altered_file(run_copy: Path) -> None:
    with (run_copy / "accounts.parquet").open("ab") as handle:
        handle.write(b"tampered")
    problems = verify_run(run_copy)
    assert len(problems) == 1
    assert "accounts.parquet" in problems[0] and "checksum" in problems[0]


def test_verify_run_reports_altered_part_and_readme(run_copy: Path) -> None:
    part = run_copy / "transactions.parquet" / "part-s0000-d00007.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    (run_copy / "README.md").write_text("edited\n", encoding="utf-8")
    problems = " ".join(verify_run(run_copy))
    assert "part-s0000-d00007.parquet" in problems
    assert "README.md" in problems
    assert "d00000" not in problems


def test_verify_run_reports_missing_file(run_copy: Path) -> None:
    (run_copy / "cards.parquet").unlink()
    problems = verify_run(run_copy)
    assert problems == ["cards.parquet: missing"]


def test_verify_run_without_manifest(run_copy: Path) -> None:
    (run_copy / MANIFEST).unlink()
    problems = verify_run(run_copy)
    assert len(problems) == 1 and "manifest" in problems[0]


def test_failure_while_writing_leaves_nothing(
    tmp_path: Path, small_config: ScenarioConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("card failed")

    monkeypatch.setattr(writer_mod, "dataset_card", boom)
    out = tmp_path / "runs" / "failed"
    with pytest.raises(RuntimeError, match="card failed"):
        run_to_directory(_tiny(small_config), out)
    assert not out.exists()
    assert _leftovers(out.parent, out.name) == []


def test_failure_mid_run_keeps_previous_run(
    tmp_path: Path, small_config: ScenarioConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed second run leaves the first one complete and verifiable."""
    out = tmp_path / "keep"
    run_to_directory(_tiny(small_config), out)
    before = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]

    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("second run failed")

    monkeypatch.setattr(writer_mod, "dataset_card", boom)
    with pytest.raises(RuntimeError):
        run_to_directory(_tiny(small_config, seed=99), out)
    assert verify_run(out) == []
    assert json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"] == before
    assert _leftovers(tmp_path, out.name) == []


def test_stale_temporary_directories_removed(tmp_path: Path, small_config: ScenarioConfig) -> None:
    stale = tmp_path / ".fresh.tmp-abandoned"
    stale.mkdir()
    (stale / "junk.bin").write_bytes(b"x" * 10)
    run_to_directory(_tiny(small_config), tmp_path / "fresh")
    assert _leftovers(tmp_path, "fresh") == []
    assert verify_run(tmp_path / "fresh") == []


def test_existing_non_run_directory_refused_untouched(
    tmp_path: Path, small_config: ScenarioConfig
) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("do not delete", encoding="utf-8")
    with pytest.raises(OutputError, match="not a fraudsim run"):
        run_to_directory(_tiny(small_config), out)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "do not delete"
    assert _leftovers(tmp_path, out.name) == []


def test_existing_empty_directory_accepted(tmp_path: Path, small_config: ScenarioConfig) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    run_to_directory(_tiny(small_config), out)
    assert verify_run(out) == []


def test_existing_file_refused(tmp_path: Path, small_config: ScenarioConfig) -> None:
    out = tmp_path / "afile"
    out.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="not a directory"):
        run_to_directory(_tiny(small_config), out)
    assert out.read_text(encoding="utf-8") == "x"


def test_second_run_replaces_first(tmp_path: Path, small_config: ScenarioConfig) -> None:
    out = tmp_path / "again"
    run_to_directory(_tiny(small_config, seed=1), out)
    first = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    (out / "transactions.parquet" / "extra-note.txt").write_text("old", encoding="utf-8")
    run_to_directory(_tiny(small_config, seed=2), out)
    second = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert (first["seed"], second["seed"]) == (1, 2)
    assert first["files"] != second["files"]
    assert verify_run(out) == []
    assert not (out / "transactions.parquet" / "extra-note.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["again"]


def test_csv_format(tmp_path: Path, small_config: ScenarioConfig) -> None:
    out = tmp_path / "csvrun"
    dataset = run_to_directory(small_config, out, fmt="csv")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["transactions.csv", "README.md", MANIFEST, *(f"{n}.csv" for n in ENTITY_FILES)]
    )
    assert (out / "transactions.csv").is_file()
    tx = pl.read_csv(out / "transactions.csv")
    assert tx.height == dataset.transaction_rows > 0
    assert tx.columns == [c.name for c in schema.transaction_columns(small_config.timezone)]
    # One header only, however many days were appended.
    assert (tx["transaction_id"].cast(pl.String) != "transaction_id").all()
    assert verify_run(out) == []


def test_csv_matches_parquet_rows(
    tmp_path: Path, written: tuple[Path, Dataset], small_config: ScenarioConfig
) -> None:
    out = tmp_path / "csv2"
    run_to_directory(small_config, out, fmt="csv")
    csv = pl.read_csv(out / "transactions.csv")
    parquet = pl.read_parquet(written[0] / "transactions.parquet" / "*.parquet")
    assert csv.columns == parquet.columns
    assert csv["transaction_id"].to_list() == parquet["transaction_id"].to_list()
    assert csv["amount"].to_list() == parquet["amount"].to_list()


def test_unknown_format_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="xlsx"):
        RunWriter(tmp_path / "x", "xlsx")
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_parent_gives_output_error(tmp_path: Path, small_config: ScenarioConfig) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            run_to_directory(_tiny(small_config), parent / "run")
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o700)


def test_parent_is_a_file_gives_output_error(tmp_path: Path, small_config: ScenarioConfig) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(OutputError, match="nothing was written"):
        run_to_directory(_tiny(small_config), blocker / "run")


def test_permission_error_gives_output_error(
    tmp_path: Path, small_config: ScenarioConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same path as a read-only parent, simulated so that it also runs as root."""

    def denied(*args: object, **kwargs: object) -> str:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(writer_mod.tempfile, "mkdtemp", denied)
    with pytest.raises(OutputError, match="permission denied") as info:
        run_to_directory(_tiny(small_config), tmp_path / "run")
    assert str(tmp_path / "run") in str(info.value)
    assert not (tmp_path / "run").exists()
