"""The calibration notes (docs/calibration.md): every figure of a profile with its source.

`python -m fraudsim.calibration.sources [PROFILE] [OUT]` regenerates them from the profile's
`[sources]` table, so the notes never drift from the numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fraudsim.calibration.profile import Profile, load_profile

HEADER = """# Calibration sources of the {name} profile

Generated from `fraudsim/calibration/profiles/{name}.toml` (the `[sources]` table) by
`python -m fraudsim.calibration.sources`. "choice" marks judgement where no published figure
exists; "derived" marks arithmetic on the cited inputs.

| figure | value | source |
|---|---|---|
"""


def _value(profile: Profile, key: str) -> str:
    node: Any = profile
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    if isinstance(node, list):
        return f"list of {len(node)}"
    return str(node)


def sources_markdown(profile: Profile) -> str:
    """The notes as Markdown: one row per sourced figure, in the profile's order."""
    rows = [
        f"| `{key}` | {_value(profile, key)} | {text.replace('|', '/')} |"
        for key, text in profile.sources.items()
    ]
    return HEADER.format(name=profile.meta.name) + "\n".join(rows) + "\n"


def main(argv: list[str]) -> None:
    profile = load_profile(argv[0] if argv else "default")
    out = Path(argv[1] if len(argv) > 1 else "docs/calibration.md")
    out.write_text(sources_markdown(profile), encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
