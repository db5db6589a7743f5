"""Diagrams exported by other modeling tools (the OMG BPMN MIWG corpus, tests/miwg.py) open in
the studio's modeler without a script error: two files of every tool, the first and the last
by name (all 316 with ADUAN_MIWG_ALL=1), through the modeler page's script and bundle under
the studio's policy. The whole
corpus goes through the server's upload path in tests/test_drafts_miwg.py."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser.test_studio import Api, open_studio
from tests.miwg import SUITE, corpus


def _sample() -> list[Any]:
    if not SUITE.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(
            reason=f"the MIWG conformance files are not at {SUITE}"))]
    by_tool: dict[str, list[Any]] = {}
    for tool, path in corpus():
        by_tool.setdefault(tool, []).append(path)
    chosen = []
    every = os.environ.get("ADUAN_MIWG_ALL") == "1"  # the whole corpus (about 3 minutes)
    for tool, paths in sorted(by_tool.items()):
        for path in (paths if every else dict.fromkeys([paths[0], paths[-1]])):
            chosen.append(pytest.param(tool, path, id=f"{tool}-{path.name}"))
    return chosen


@pytest.mark.browser_allow("console_errors")  # bpmn-js's own, checked below
@pytest.mark.parametrize("tool, path", _sample())
def test_a_diagram_of_another_tool_opens_in_the_modeler(page: Any, static_server: Any,
                                                        tool: str, path: Any) -> None:
    """It opens (no uncaught script error: the page fixture fails on those); an element
    bpmn-js cannot draw (a flow without its source, in two files of the corpus) is logged by
    bpmn-js itself and must be told to the designer on the page; a file whose diagram has no
    shapes opens empty."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    text = path.read_text(encoding="utf-8", errors="replace")
    api = Api(files={path.name: text})
    open_studio(page, static_server, api)
    assert page.locator(".studio-canvas .djs-container").count() >= 1
    assert all(e.startswith("failed to import") for e in errors), errors
    if errors:
        assert page.locator("[data-import-warnings]").count() == 1, f"{tool}: {path.name}"
    if "BPMNShape" in text:
        shapes = page.evaluate("""() => document.getElementById('studio-modeler').aduanStudio
            .editors[0].modeler.get('elementRegistry').getAll().length""")
        assert shapes > 1, f"{tool}: {path.name} opened empty"
