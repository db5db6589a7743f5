"""Try before deploy in Chromium: a designer starts a scratch run of the deployed lifecycle,
files a test report, verifies it, moves the scratch clock, and sees the diagram follow, under
the site's own Content-Security-Policy (a violation is a console error: the test fails)."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.live import LiveApp
from tests.browser.test_journey import live_app, sign_in  # noqa: F401 - the fixture

CLASSES = """(id) => {
    const gfx = document.querySelector(`.djs-element[data-element-id="${id}"]`);
    return gfx ? [...gfx.classList] : null; }"""


def test_a_designer_tries_the_lifecycle_and_the_diagram_follows_the_token(
        live_app: LiveApp, page: Any, screenshot: Any) -> None:  # noqa: F811
    sign_in(page, live_app, "perancang")
    page.goto(f"{live_app.url}/studio/try")
    page.locator("#try-deployed button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/studio/try/[0-9a-f]{16}$"))
    page.locator("#try-new-report button[type=submit]").click()
    page.wait_for_url(re.compile(r".*tracking=UJI-2026-000001$"))
    page.locator("#try-diagram[data-bpmn-state=ready]").wait_for()
    assert "aduan-current" in page.evaluate(CLASSES, "screen_report")
    screenshot(page, "test report filed")

    with page.expect_navigation():
        page.locator('.try-task[data-element="screen_report"] form[data-verb="verify"] '
                     "button[type=submit]").click()
    page.locator("#try-diagram[data-bpmn-state=ready]").wait_for()
    assert "aduan-current" in page.evaluate(CLASSES, "dispose_report")
    assert "aduan-completed" in page.evaluate(CLASSES, "screen_report")

    for _ in range(3):
        with page.expect_navigation():  # a click's form post, then its page: one at a time
            page.locator('#try-advance button[value="day"]').click()
    # Monday 09:00 + 3 working days: the verification budget (3) is spent, and the reminder
    # a working day before went out first.
    assert page.locator("#try-clock").inner_text().startswith("5 Mar 2026 09.00")
    assert page.locator('.try-escalation[data-step="verification"]'
                        '[data-rung="regional_head"]').count() == 1
    assert page.locator('.try-notification[data-template="sla_reminder"]').count() == 1
    screenshot(page, "three working days later")
