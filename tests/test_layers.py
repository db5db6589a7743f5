"""The layer rule: web -> workflows -> engine; Flask and APScheduler only in web/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "engine": {"workflows", "web", "flask", "apscheduler", "werkzeug", "jinja2"},
    "workflows": {"web", "flask", "apscheduler", "werkzeug", "jinja2"},
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_lower_layer_never_imports_a_higher_one(layer):
    violations = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for line, module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[layer]:
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert violations == []


def test_the_rule_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom flask import Flask\n\ndef f():\n    import web.app\n")
    assert [m for _, m in imported_modules(bad)] == ["os", "flask", "web.app"]


# --------------------------------------------------------------------------- web/ is thin
# Views parse the request, call one use case (workflows.domain.Domain) and render its result:
# the use cases own the units of work and the clock. So no module of web/ imports SQLAlchemy
# or the ORM models, opens a unit of work or reads a clock; the pages and the JSON API do not
# even reach the engine (the CLI's engine commands do: they are the engine's own use cases).
WEB = ROOT / "web"
UNIT_OF_WORK = {"session", "read_session", "transaction", "reads"}
CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"),
               ("time", "time"), ("time", "monotonic")}
# Where a rule does not apply, and why.
ALLOWED = {
    # APScheduler runs on the real clock even when the domain's is a drill's offset one
    ("web/scheduler.py", "clock"),
    # the embedded engine's settings build it, with its clock (Settings.make_engine)
    ("web/config.py", "clock"),
    # each GET's reads share one unit: the request's scope, opened by the app
    ("web/app.py", "shared_reads"),
}


def web_violations(path: Path, relative: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    views = relative == "web/api.py" or relative.startswith("web/pages/")
    found = []

    def refuse(node: ast.AST, rule: str, what: str) -> None:
        if (relative, rule) not in ALLOWED:
            found.append(f"{relative}:{node.lineno} {what}")

    for line, module in imported_modules(path):
        if module.split(".")[0] == "sqlalchemy" or module.startswith("workflows.models"):
            found.append(f"{relative}:{line} imports {module}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = node.func.attr
            if name in UNIT_OF_WORK and not node.args:
                refuse(node, "unit", f"opens a unit of work (.{name}())")
            if name == "shared_reads":
                refuse(node, "shared_reads", "opens a read unit (.shared_reads())")
            if isinstance(owner, ast.Name) and (owner.id, name) in CLOCK_READS:
                refuse(node, "clock", f"reads the clock ({owner.id}.{name}())")
        if isinstance(node, ast.Attribute) and node.attr == "clock":
            refuse(node, "clock", "reads a clock (.clock)")
        if views and isinstance(node, ast.Attribute) and node.attr == "engine":
            refuse(node, "engine", "reaches the engine (.engine)")
    return found


def test_web_opens_no_unit_of_work_runs_no_sql_and_reads_no_clock():
    violations = []
    for path in sorted(WEB.rglob("*.py")):
        violations += web_violations(path, str(path.relative_to(ROOT)))
    assert violations == []


def test_the_thin_web_checker_sees_each_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from sqlalchemy import select\nfrom workflows.models import User\n"
        "from datetime import datetime\n\n"
        "def view(domain):\n"
        "    with domain.context.transaction() as s:\n"
        "        s.execute(select(User))\n"
        "    now = domain.engine.clock.now()\n"
        "    return datetime.now(), now\n")
    found = web_violations(bad, "web/pages/bad.py")
    assert sorted(v.split(" ", 1)[1] for v in found) == sorted([
        "imports sqlalchemy", "imports workflows.models",
        "opens a unit of work (.transaction())", "reads the clock (datetime.now())",
        "reads a clock (.clock)", "reaches the engine (.engine)"])


def test_every_package_is_listed_for_the_wheel():
    """setuptools' `packages` is not recursive: a package left out is missing from an
    installed wheel (the editable install of `make` would not notice)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = {str(init.parent.relative_to(ROOT)).replace("/", ".")
             for top in ("engine", "workflows", "web", "migrations", "bpmn")
             for init in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set()


def test_the_wheel_ships_its_data_files_by_package_data_alone():
    """A quiet install: with include-package-data, setuptools warns about every folder of
    templates or static files (one 30-line block each, 15 of them on `make run`), and an
    editable install of a flat layout without package-dir warns once more. So package-data
    alone says what ships, and each data file of a package must match one of its globs."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools.get("include-package-data") is False
    assert setuptools.get("package-dir") == {"": "."}
    globs = setuptools["package-data"]
    unshipped = []
    for top in ("engine", "workflows", "web", "migrations", "bpmn"):
        shipped = {path for pattern in globs.get(top, []) for path in (ROOT / top).glob(pattern)}
        unshipped += [str(path.relative_to(ROOT)) for path in (ROOT / top).rglob("*")
                      if path.is_file() and path.suffix not in (".py", ".pyc")
                      and "__pycache__" not in path.parts and path not in shipped]
    assert unshipped == []


MODULE_LINES = 500


def test_a_module_over_500_lines_says_why_in_its_docstring():
    """Modules have one job and stay small; one that is long says why ("on purpose")."""
    long = []
    for top in ("engine", "workflows", "web", "bench", "tests", "migrations"):
        for path in sorted((ROOT / top).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") <= MODULE_LINES:
                continue
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if "on purpose" not in docstring:
                long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
    assert long == []
