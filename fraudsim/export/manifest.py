"""Manifest: what was run, with which versions, how many rows, and each file's checksum."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fraudsim.calibration import Profile
    from fraudsim.export.run import RunTables

PACKAGES = (
    "fraudsim",
    "mesa",
    "simpy",
    "numpy",
    "polars",
    "pyarrow",
    "pandas",
    "faker",
    "pydantic",
)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def profile_digest(dataset: RunTables) -> str:
    return profile_digest_of(dataset.profile)


def profile_digest_of(profile: Profile) -> str:
    text = json.dumps(profile.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def build_manifest(dataset: RunTables, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest; `files` maps each written file to its sha256 and size."""
    return {
        "format_version": 1,
        "scenario": dataset.config.model_dump(mode="json"),
        "seed": dataset.config.seed,
        "profile": {
            "name": dataset.profile.meta.name,
            "sha256": profile_digest(dataset),
            "provenance": dataset.profile.provenance,
        },
        "versions": package_versions(),
        "rows": dataset.row_counts(),
        "fraud": dataset.fraud_summary,
        "files": files,
        "timings_seconds": {k: round(v, 3) for k, v in dataset.timings.items()},
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
