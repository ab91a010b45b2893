"""The import contract: each layer imports only the layers below it, with no cycles and no
import hidden inside a function to dodge one.

The layer order is written once, here and in docs/design.md. Imports under
`if TYPE_CHECKING:` count like any other: a type hint that needs a higher layer is a sign the
code sits on the wrong floor.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "fraudsim"

# Lowest first. A module may import its own layer and the layers before it.
LAYERS = (
    "core",
    "config",
    "calibration",
    "export",
    "detection",
    "typologies",
    "world",
    "scale",
    "dataset",
    "api",
    "evaluate",
    "report",
    "cli",
)
# The facade (`fraudsim/__init__.py`, `__main__`) sits above every layer.
FACADE = {"fraudsim", "fraudsim.__main__"}
# Only the command line imports inside functions: a command imports what it needs when it runs,
# so `fraudsim --help` stays fast. The CLI is the top layer, so no cycle can hide there.
LAZY_ALLOWED = ("cli",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    """Index in LAYERS of a fraudsim module; None for the facade."""
    if module in FACADE:
        return None
    return LAYERS.index(module.split(".")[1])


def imports_of(path: Path, typing_only: bool = True) -> list[tuple[str, int, bool]]:
    """(imported fraudsim module, line, inside a function) for every import in a file; with
    `typing_only=False`, imports under `if TYPE_CHECKING:` are left out."""
    tree = ast.parse(path.read_text())
    module = module_name(path)
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if (
                not typing_only
                and isinstance(child, ast.If)
                and "TYPE_CHECKING" in ast.unparse(child.test)
            ):
                continue
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")
                    if path.name != "__init__.py":
                        base = base[:-1]
                    base = base[: len(base) - child.level + 1]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                # `from fraudsim.x import module` imports that module; the package itself
                # counts only when a name that is not a submodule is taken from it.
                modules = [f"{target}.{a.name}" for a in child.names]
                found.extend((m, child.lineno, in_function) for m in modules if _is_module(m))
                if not all(_is_module(m) for m in modules):
                    found.append((target, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return [(m, line, lazy) for m, line, lazy in found if m.split(".")[0] == "fraudsim"]


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    base = PACKAGE.parent / rel
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


SOURCES = sorted(PACKAGE.rglob("*.py"))


def violations(paths: list[Path]) -> list[str]:
    """Every import that breaks the contract, as `file:line: message`."""
    found = []
    for path in paths:
        module = module_name(path)
        own = layer_of(module)
        where = path.relative_to(PACKAGE.parent)
        for target, line, lazy in imports_of(path):
            if target == "fraudsim" and module not in FACADE:
                found.append(f"{where}:{line}: imports the facade `fraudsim`; import the module")
                continue
            if target in FACADE:
                continue
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                found.append(
                    f"{where}:{line}: {LAYERS[own]} imports {target} ({LAYERS[theirs]}, above)"
                )
            if lazy and not module.startswith(tuple(f"fraudsim.{x}" for x in LAZY_ALLOWED)):
                found.append(f"{where}:{line}: imports {target} inside a function")
    return found


def test_every_module_belongs_to_a_layer():
    for path in SOURCES:
        module = module_name(path)
        if module not in FACADE:
            assert module.split(".")[1] in LAYERS, f"{module}: not in a layer of LAYERS"


def test_layers_import_only_downwards():
    found = violations(SOURCES)
    assert not found, "import contract broken:\n" + "\n".join(found)


def test_no_import_cycles():
    """No cycle among the imports that run. A type hint may name a class of its own layer
    that owns it (an agent's `model: World`, as Mesa's Agent/Model pair does): such imports sit
    under TYPE_CHECKING and the layer rule above still applies to them."""
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        graph[module_name(path)] = {
            t
            for t, _, _ in imports_of(path, typing_only=False)
            if t not in ("fraudsim", module_name(path))
        }
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_contract_catches_a_violation(tmp_path):
    """A deliberate violation (core importing world, and a lazy import) is reported."""
    bad = PACKAGE / "core" / "_contract_probe.py"
    bad.write_text(
        "from fraudsim.world.model import World\n\n\ndef f():\n    import fraudsim.scale.runner\n"
    )
    try:
        found = violations([bad])
    finally:
        bad.unlink()
    assert any("core imports fraudsim.world.model (world, above)" in f for f in found)
    assert any("inside a function" in f for f in found)
