"""In Chromium: the studio's comparison of two deployed versions colours the changed
elements on both diagrams, and a row of the table finds its element."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine import FrozenClock
from tests.browser.live import LiveApp, serve
from tests.regency import attach
from tests.test_studio_diff import DESIGNER, PID, changed_lifecycle

PASSWORD = "aduan-demo-2026"
START_TIME = "2026-03-02T01:00:00+00:00"  # Monday 09:00 WITA, as tests/conftest.py


@pytest.fixture
def live_app(demo_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[LiveApp]:
    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    clock = FrozenClock(datetime.fromisoformat(START_TIME))
    app = serve(attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens))
    yield app
    app.stop()


def sign_in(page: Any, live: LiveApp, username: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    with page.expect_navigation():  # the post and the page it leads to, before going on
        page.get_by_role("button", name="Masuk").click()
    assert "/login" not in page.url


def marker_classes(page: Any, side: str, element_id: str) -> list[str]:
    selector = f'#diff-{side} .djs-element[data-element-id="{element_id}"]'
    return (page.locator(selector).first.get_attribute("class") or "").split()


def test_the_diff_page_colours_the_changes_and_a_row_finds_its_element(
        live_app: LiveApp, page: Any, screenshot: Any) -> None:
    live_app.regency.domain.studio.deploy(changed_lifecycle(), "Catat verifikasi; tenggat 2",
                                          DESIGNER, process_id=PID)
    sign_in(page, live_app, "admin.kominfo")
    page.goto(f"{live_app.url}/studio/processes/{PID}/versions")
    page.click("#compare-2")
    page.locator("#studio-diff[data-diff-state=ready]").wait_for()

    assert "diff-added" in marker_classes(page, "new", "note_verified")
    assert "diff-added" in marker_classes(page, "new", "f_to_note_verified")
    assert "diff-changed" in marker_classes(page, "new", "screen_report")
    assert "diff-changed" in marker_classes(page, "new", "f_postpone")
    assert "diff-removed" in marker_classes(page, "old", "f_verified")
    assert "diff-changed" in marker_classes(page, "old", "screen_report")
    for unchanged in ("start", "dispose_report"):
        assert not {"diff-added", "diff-changed", "diff-removed"} & set(
            marker_classes(page, "new", unchanged))
    assert page.locator("#diff-new").get_attribute("data-diff-marked") == "7"
    assert page.locator("#diff-old").get_attribute("data-diff-marked") == "5"
    # the colours apply: the added task's outline is green
    stroke = page.evaluate("""() => getComputedStyle(document.querySelector(
        '#diff-new .djs-element[data-element-id="note_verified"] .djs-visual > :first-child'
        )).stroke""")
    assert stroke == "rgb(25, 135, 84)"
    assert page.locator("#diff-new .bjs-powered-by").is_visible()
    screenshot(page, "diff")

    page.click("#diff-changed-f_postpone")
    assert "diff-focus" in marker_classes(page, "new", "f_postpone")
    assert "selected" in marker_classes(page, "new", "f_postpone")
    page.locator("#diff-removed-f_verified").focus()
    page.keyboard.press("Enter")
    assert "diff-focus" in marker_classes(page, "old", "f_verified")
    cell = page.locator("#rule-step_budget-rule_verification td.diff-cell-changed")
    assert cell.locator("del").inner_text() == "3" and cell.locator("ins").inner_text() == "2"
    zoom = page.evaluate("() => document.querySelector('#diff-old .viewport')"
                         ".transform.baseVal.consolidate().matrix.a")
    assert zoom == pytest.approx(1.0)
    screenshot(page, "removed-flow-found")
