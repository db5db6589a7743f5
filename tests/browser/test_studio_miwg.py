"""Diagrams exported by other modeling tools (the OMG BPMN MIWG corpus, tests/miwg.py) open in
the studio's modeler without a script error: two files of every tool, the first and the last
by name, through the modeler page's script and bundle under the studio's policy. The whole
corpus goes through the server's upload path in tests/test_drafts_miwg.py."""

from __future__ import annotations

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
    for tool, paths in sorted(by_tool.items()):
        for path in dict.fromkeys([paths[0], paths[-1]]):
            chosen.append(pytest.param(tool, path, id=f"{tool}-{path.name}"))
    return chosen


@pytest.mark.parametrize("tool, path", _sample())
def test_a_diagram_of_another_tool_opens_in_the_modeler(page: Any, static_server: Any,
                                                        tool: str, path: Any) -> None:
    api = Api(files={path.name: path.read_text(encoding="utf-8", errors="replace")})
    open_studio(page, static_server, api)
    assert page.locator(".studio-canvas .djs-container").count() >= 1
    shapes = page.evaluate("""() => document.getElementById('studio-modeler').aduanStudio
        .editors[0].modeler.get('elementRegistry').getAll().length""")
    assert shapes > 1, f"{tool}: {path.name} opened empty"
