"""The studio end to end, on the real application over HTTP: a process designer changes the
verification budget from 3 to 2 working days in the modeler, checks the draft, deploys it as
version 2 with a note, and a complaint filed afterwards runs on version 2 with the new
deadline; an officer is refused the studio."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.live import LiveApp
from tests.browser.test_journey import live_app, sign_in

__all__ = ["live_app"]


def test_a_designer_changes_a_deadline_and_deploys_it(live_app: LiveApp, page: Any,
                                                      screenshot: Any,
                                                      doc_screenshot: Any) -> None:
    live = live_app
    before = live.regency.submit(photo=True)["tracking_number"]
    assert live.regency.report(before)["sla"]["budget_days"] == 3.0

    sign_in(page, live, "perancang")
    assert page.url.endswith("/studio")
    doc_screenshot(page, "studio-home")
    page.click("#studio-nav >> text=Draf")
    page.click("#draft-new button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/drafts/\d+.*"))
    page.locator(".studio-canvas .djs-container").first.wait_for()
    screenshot(page, "modeler")

    page.click("[role=tab][data-file='deadlines.dmn']")
    cell = page.locator("td[data-element-id='rule_verification_output_budget_days']")
    assert cell.inner_text().strip() == "3"
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.locator("td[data-element-id='rule_verification_input_step']").click()
    page.click("[data-action=save]")
    page.locator(".studio-status", has_text="Tersimpan").wait_for()
    page.click("[data-action=validate]")
    page.locator(".studio-status.alert-success").wait_for()  # no errors: deployable
    screenshot(page, "checked")

    page.reload()
    page.fill("#f-note", "Verifikasi 2 hari kerja")
    page.click("#draft-deploy-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/processes/complaint_lifecycle/versions/2$"))
    assert "Verifikasi 2 hari kerja" in page.content()
    screenshot(page, "deployed")

    after = live.regency.submit(photo=True)["tracking_number"]
    assert live.regency.report(after)["sla"]["budget_days"] == 2.0
    assert live.regency.report(before)["sla"]["budget_days"] == 3.0  # stays on version 1


@pytest.mark.browser_allow("console_errors")  # the 403 itself is logged by the browser
def test_an_officer_is_refused_the_studio(live_app: LiveApp, page: Any) -> None:
    sign_in(page, live_app, "penghubung.pupr")
    response = page.goto(f"{live_app.url}/studio/drafts")
    assert response is not None and response.status == 403
