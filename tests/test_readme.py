"""The README is the user's manual: its schema section and commands must stay true."""

from pathlib import Path

from fraudsim.export.card import schema_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_readme_schema_matches_the_schema_module():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("<!-- schema:start -->\n")[1].split("<!-- schema:end -->")[0]
    assert section.strip() == schema_markdown("UTC").strip(), (
        "README schema is stale: regenerate with `python -m fraudsim.export.card`"
    )


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and "make test" in ci
    assert "make baseline" in readme


def test_every_scenario_in_the_library_is_listed_in_its_readme():
    listed = (ROOT / "scenarios" / "README.md").read_text(encoding="utf-8")
    for path in (ROOT / "scenarios").glob("*.toml"):
        assert f"`{path.stem}`" in listed, f"{path.name} missing from scenarios/README.md"


def test_every_typology_is_in_the_readme_catalogue():
    from fraudsim.typologies import registry

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in registry.builtin() if f"`{name}`" not in text]
    assert not missing, f"add to the README's typology catalogue: {missing}"
