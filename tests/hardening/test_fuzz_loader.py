"""Fuzzing the scenario loader: random and mutated TOML never crash with a traceback.

Seeds are the library's scenario files (scenarios/*.toml). Mutations work on bytes (truncate,
delete, duplicate, flip, inject garbage and non-UTF-8 bytes, deep nesting) and on the parsed
document (rename, drop or add keys; replace values by other types, huge, negative, non-finite,
path-like or code-like strings), re-serialised as TOML. For every case:

- `config.scenario.load_scenario` returns a ScenarioConfig or raises ConfigError, whose message
  is one line starting with the file's path; nothing else escapes;
- `fraudsim scenarios validate FILE` exits 0 or 2, and on 2 prints exactly one `error:` line;
- `fraudsim run FILE --out DIR` on a file that does not validate exits 2 with one line and
  writes nothing (no DIR, no outputs/).

Cases in CI: FUZZ_EXAMPLES per test (deterministic); by hand, e.g.
`FRAUDSIM_FUZZ_EXAMPLES=2000 pytest tests/hardening/test_fuzz_loader.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fraudsim.cli import app
from fraudsim.config.scenario import ScenarioConfig, load_scenario
from fraudsim.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SEEDS = {p.name: p.read_bytes() for p in sorted((ROOT / "scenarios").glob("*.toml"))}
FUZZ_EXAMPLES = int(os.environ.get("FRAUDSIM_FUZZ_EXAMPLES", "500"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CLI_FUZZ = settings(FUZZ, max_examples=max(FUZZ_EXAMPLES // 3, 10))
runner = CliRunner()

# -- TOML writing (tomllib only reads) ---------------------------------------------------------


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_document(data: dict[str, Any]) -> str:
    """Top-level scalars, then one [table] per dict and [[array]] per list of dicts."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(f"\n[{_key(key)}]")
            tables += [f"{_key(k)} = {toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tables.append(f"\n[[{_key(key)}]]")
                tables += [f"{_key(k)} = {toml_value(v)}" for k, v in item.items()]
        else:
            lines.append(f"{_key(key)} = {toml_value(value)}")
    return "\n".join(lines + tables) + "\n"


def test_toml_writer_round_trips_the_seeds() -> None:
    for name, raw in SEEDS.items():
        data = tomllib.loads(raw.decode())
        assert tomllib.loads(toml_document(data)) == data, name


# -- strategies ----------------------------------------------------------------------------

NASTY_STRINGS = [
    "",
    " ",
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "a/b",
    "..",
    ".",
    "x" * 300,
    "a\u0000b",
    "os.system",
    "__import__('os').system('touch /tmp/pwned')",
    "subprocess:run",
    "card_testing.v1; rm -rf /",
    "builtins:eval",
    "Europe",
    "Europe/Berlin",
    "UTC",
    "xx_XX",
    "en_US",
    "default",
    "csv",
    "parquet",
    "exponential",
    "card_testing.v1",
    "\u202e\u0301\U0001f4a5",
    "$(id)",
    "{{7*7}}",
]
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2, 3660, 3661, 10**8, 10**8 + 1, 10**12, 2**63, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.5, 0.99, 1.0]),
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=30),
    st.dates(),
    st.datetimes(),
    st.times(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.one_of(
    st.sampled_from(
        [
            *ScenarioConfig.model_fields,
            "customers",
            "merchants",
            "params",
            "schedule",
            "episodes",
            "rate_per_day",
            "ramp",
            "doubling_days",
            "start_day",
            "end_day",
            "label",
            "sca_threshold",
            "target_share",
            "format",
            "adaptive",
            "balance",
        ]
    ),
    st.text(max_size=12),
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a parsed document (into dicts and lists)."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    """A seed scenario parsed, mutated 1-4 times at random key paths, written back as TOML."""
    data = tomllib.loads(SEEDS[draw(st.sampled_from(sorted(SEEDS)))].decode())
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        op = draw(st.sampled_from(["replace", "delete", "rename", "add", "add_top"]))
        if op == "add_top" or not paths:
            data[draw(KEYS)] = draw(VALUES)
            continue
        path = draw(st.sampled_from(paths))
        parent, leaf = _parent(data, path), path[-1]
        if op == "replace":
            parent[leaf] = draw(VALUES)
        elif op == "delete":
            del parent[leaf]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(leaf)
        elif op == "add" and isinstance(parent[leaf], dict):
            parent[leaf][draw(KEYS)] = draw(VALUES)
    try:
        return toml_document(data).encode("utf-8", "surrogatepass")
    except TypeError:
        return b"name = 1\n"


GARBAGE = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"\xff\xfe",
            b"\x00",
            b"\x80\x81",
            b"\xc3\x28",
            b"\xed\xa0\x80",
            b"\xef\xbb\xbf",
            b"[[",
            b"]]",
            b"=",
            b'"""',
            b"'''",
            b"\r",
            b"\n[population]\n",
            b"\n[[typologies]]\n",
            b"x = " + b"[" * 5000,
            b"x = " + b"{a=" * 3000,
        ]
    ),
)


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """A seed file with 1-4 byte-level mutations."""
    raw = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "delete", "insert", "flip", "duplicate"]))
        at = draw(st.integers(0, len(raw)))
        if op == "truncate":
            del raw[at:]
        elif op == "delete":
            del raw[at : at + draw(st.integers(1, 40))]
        elif op == "insert":
            raw[at:at] = draw(GARBAGE)
        elif op == "flip" and at < len(raw):
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "duplicate":
            raw[at:at] = raw[max(0, at - 60) : at]
    return bytes(raw)


@st.composite
def random_documents(draw: st.DrawFn) -> bytes:
    """A random TOML document built from scenario-like keys and arbitrary values."""
    data = draw(st.dictionaries(KEYS, VALUES, max_size=8))
    try:
        return toml_document(data).encode("utf-8", "surrogatepass")
    except TypeError:
        return b""


CASES = st.one_of(mutated_documents(), mutated_bytes(), random_documents())


# -- the properties --------------------------------------------------------------------------


def _write(folder: Path, raw: bytes) -> Path:
    path = folder / "fuzzed.toml"
    path.write_bytes(raw)
    return path


def assert_loads_or_one_line_error(path: Path) -> ScenarioConfig | None:
    """load_scenario either succeeds or raises a one-line ConfigError naming the file."""
    try:
        return load_scenario(path)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(f"{path}: "), message
        return None


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    assert "Traceback" not in output
    return lines[0]


@FUZZ
@given(raw=CASES)
def test_loader_raises_only_one_line_config_errors(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert_loads_or_one_line_error(_write(tmp_path_factory.mktemp("fuzz"), raw))


@FUZZ
@given(raw=mutated_bytes())
def test_loader_survives_byte_mutations(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert_loads_or_one_line_error(_write(tmp_path_factory.mktemp("fuzz"), raw))


@CLI_FUZZ
@given(raw=CASES)
def test_cli_validate_and_run_exit_2_with_one_line_and_write_nothing(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path_factory.mktemp("cli")
    monkeypatch.chdir(folder)
    path = _write(folder, raw)
    result = runner.invoke(app, ["scenarios", "validate", str(path)])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    if result.exit_code == 0:
        return  # a valid scenario: running it may legitimately take long; not fuzzed here
    line = _one_error_line(result.output)
    assert str(path) in line, line
    result = runner.invoke(app, ["run", str(path), "--out", "out/run", "--quiet"])
    assert result.exit_code == 2, (result.output, result.exception)
    _one_error_line(result.output)
    assert sorted(p.name for p in folder.iterdir()) == ["fuzzed.toml"]


# -- examples found while fuzzing (regressions) ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('timezone = "' + "a" * 300 + '"', "[timezone]"),  # OSError: file name too long
        ('timezone = "Europe"', "[timezone]"),  # IsADirectoryError in zoneinfo
        ("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"),  # RecursionError in tomllib
        ("x = " + "{a=" * 3000 + "1" + "}" * 3000, "nested too deeply"),
        ('locale = "xx_XX"', "[locale]"),  # was a ValueError (traceback) at run time
        ("start_date = 9999-12-30", "start_date"),  # date overflow at run time
        (
            '[[typologies]]\nname = "card_testing.v1"\n'
            'schedule = { ramp = "exponential", doubling_days = 1e-300 }',
            "doubling",
        ),  # NaN Poisson rate at run time
    ],
    ids=[
        "tz-too-long",
        "tz-directory",
        "deep-array",
        "deep-table",
        "locale",
        "year-9999",
        "doubling",
    ],
)
def test_found_by_fuzzing(tmp_path: Path, body: str, needle: str) -> None:
    path = _write(tmp_path, body.encode())
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert needle in str(info.value)
    assert_loads_or_one_line_error(path)
