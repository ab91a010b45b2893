"""report.html renders in headless Chromium with every image decoded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)


def test_report_renders_in_chromium(tiny_run: Path, tiny_report: dict, tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI: Debian chromium is required for the report browser test (.ci/run)")
        pytest.skip("chromium not installed")
    page = tiny_run / "report.html"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body, f"no <body> in the dumped DOM: {result.stderr[-500:]}"
    assert 'data-images-ok="true"' in body.group(0)
    count = int(re.search(r'data-image-count="(\d+)"', body.group(0)).group(1))
    assert count == len(tiny_report["plots"]) >= 5


def test_broken_image_is_caught(tmp_path: Path) -> None:
    """The page check can fail: an undecodable image leaves data-images-ok false."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed")
    from fraudsim.evaluate.html import IMAGES_OK_SCRIPT

    page = tmp_path / "broken.html"
    page.write_text(
        f"<html><head>{IMAGES_OK_SCRIPT}</head><body>"
        "<img src='data:image/png;base64,AAAA'></body></html>"
    )
    out = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'data-images-ok="false"' in out
