"""The engine's modules: none imports another's private name, and their imports form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine"

# Private names another module may import, each with its reason (none today).
PRIVATE_IMPORTS_ALLOWED: set[tuple[str, str, str]] = set()


def module_name(path: Path, package: Path) -> str:
    relative = path.relative_to(package.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def is_module(package: Path, dotted: str) -> bool:
    path = package.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def engine_imports(path: Path, package: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for every import of the package anywhere in the file (inside
    functions and `if TYPE_CHECKING:` too); `from engine.x import y` of a module `y` counts
    as an import of that module."""
    root = package.name
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names
                      if alias.name.split(".")[0] == root]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != root:
                continue
            for alias in node.names:
                if is_module(package, f"{node.module}.{alias.name}"):
                    found.append((node.lineno, f"{node.module}.{alias.name}", None))
                else:
                    found.append((node.lineno, node.module, alias.name))
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        graph[module_name(path, package)] = {
            module for _, module, _ in engine_imports(path, package)}
    return graph


def private_imports(package: Path) -> set[tuple[str, str, str]]:
    found = set()
    for path in sorted(package.rglob("*.py")):
        importer = module_name(path, package)
        for _, module, name in engine_imports(path, package):
            if name and name.startswith("_") and module != importer:
                found.add((importer, module, name))
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path per cycle found by a depth-first walk (enough to name the culprit)."""
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target not in graph:
                continue
            if state.get(target) == "open":
                found.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_engine_module_imports_another_ones_private_name():
    found = private_imports(ENGINE)
    assert found - PRIVATE_IMPORTS_ALLOWED == set()
    assert PRIVATE_IMPORTS_ALLOWED - found == set(), "an allowed import is gone: delete it above"


def test_the_engine_modules_import_each_other_without_a_cycle():
    assert cycles(import_graph(ENGINE)) == []


def test_the_module_checks_see_a_private_import_and_a_cycle(tmp_path):
    package = tmp_path / "engine"
    package.mkdir()
    (package / "__init__.py").write_text("from engine.core import Engine\n")
    (package / "core.py").write_text(
        "from engine import store\nfrom engine.store import _Row, Public\n\n"
        "def migrate():\n    from engine.migration import run\n")
    (package / "store.py").write_text("class _Row: ...\nclass Public: ...\n")
    (package / "sandbox").mkdir()
    (package / "sandbox" / "__init__.py").write_text("from engine.sandbox import limits\n")
    (package / "sandbox" / "limits.py").write_text("from engine.sandbox.errors import _cut\n")
    (package / "sandbox" / "errors.py").write_text("def _cut(): ...\n")
    (package / "migration.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import engine.core\n")
    assert private_imports(package) == {("engine.core", "engine.store", "_Row"),
                                        ("engine.sandbox.limits", "engine.sandbox.errors",
                                         "_cut")}
    assert import_graph(package)["engine.sandbox"] == {"engine.sandbox.limits"}
    assert import_graph(package)["engine.core"] == {"engine.store", "engine.migration"}
    assert cycles(import_graph(package)) == [
        ["engine.core", "engine.migration", "engine.core"]]
