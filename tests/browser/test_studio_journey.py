"""The studio end to end, on the real application over HTTP, as issue 14 tells it: a process
designer opens the lifecycle, changes a task's label and the verification budget from 3 to 2
working days, sees an edit that breaks the lifecycle contract refused with a marker on its
element, sees the impact preview, tries the draft in a scratch run (the deadline moves),
deploys version 2 with a note, files a complaint that runs on version 2 with the new deadline,
migrates a running version 1 complaint and sees it carry on; an officer is refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.live import LiveApp
from tests.browser.test_journey import live_app, sign_in
from tests.browser.test_studio import open_group, select_shape

__all__ = ["live_app"]


def modeler_ready(page: Any) -> None:
    page.locator("#studio-modeler[data-studio-state=ready]").wait_for(timeout=30_000)


def test_a_designer_changes_the_lifecycle_tries_deploys_and_migrates(
        live_app: LiveApp, page: Any, screenshot: Any, doc_screenshot: Any) -> None:
    live = live_app
    before = live.regency.submit(photo=True)["tracking_number"]  # running on version 1
    assert live.regency.report(before)["sla"]["budget_days"] == 3.0

    sign_in(page, live, "perancang")
    assert page.url.endswith("/studio")
    doc_screenshot(page, "studio-home")
    page.click("#studio-nav >> text=Draf")
    page.click("#draft-new button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/drafts/\d+.*"))
    draft_url = page.url.split("?")[0]
    modeler_ready(page)

    # A task's label (not its id), in the properties panel.
    select_shape(page, "screen_report")
    open_group(page, "general")
    page.fill("#bio-properties-panel-name", "Verifikasi laporan masuk")
    # The verification budget, in the decision table.
    page.click("[role=tab][data-file='deadlines.dmn']")
    cell = page.locator("td[data-element-id='rule_verification_output_budget_days']")
    assert cell.inner_text().strip() == "3"
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.locator("td[data-element-id='rule_verification_input_step']").click()
    page.click("[data-action=save]")
    page.locator(".studio-status", has_text="Tersimpan").wait_for()
    screenshot(page, "saved")

    # An edit that breaks the contract: the verification's watch path deleted, then checked.
    page.click("[role=tab][data-file='complaint_lifecycle.bpmn']")
    select_shape(page, "screen_report_watch")
    page.locator(".djs-context-pad .entry[data-action='delete']").click()
    page.click("[data-action=validate]")
    page.locator(".studio-status.alert-danger").wait_for()
    page.locator(".djs-element[data-element-id='screen_report'].aduan-finding-error").wait_for()
    assert page.locator(".studio-findings li", has_text="screen_report").count() >= 1
    screenshot(page, "contract-refused")
    page.evaluate("""() => document.getElementById('studio-modeler').aduanStudio.editors[0]
        .modeler.get('commandStack').undo()""")  # the designer takes the deletion back
    page.click("[data-action=validate]")
    page.locator(".studio-status.alert-success").wait_for()

    # The impact preview of the new budget, on the complaints so far.
    page.goto(draft_url)
    page.click("#draft-impact-form button[type=submit]")
    page.locator("#impact-changes").wait_for()
    assert "verification" in page.locator("#impact-changes").inner_text()
    screenshot(page, "impact")

    # Try it in a scratch run: a test report gets 2 working days for verification.
    page.goto(draft_url)
    page.click("#draft-try-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/try/[0-9a-f]+.*"))
    with page.expect_navigation():
        page.click("#try-new-report button[type=submit]")
    budget = page.locator("tr.try-sla[data-step='verification'] td").nth(1)
    assert budget.inner_text().strip() in ("2", "2.0")
    screenshot(page, "tried")

    # Deploy version 2 with a note.
    page.goto(draft_url)
    page.fill("#f-note", "Verifikasi 2 hari kerja")
    page.click("#draft-deploy-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/processes/complaint_lifecycle/versions/2$"))
    assert "Verifikasi 2 hari kerja" in page.content()

    after = live.regency.submit(photo=True)["tracking_number"]
    assert live.regency.report(after)["sla"]["budget_days"] == 2.0
    assert [t["title"] for t in live.regency.report(after)["open_tasks"]] == [
        "Verifikasi laporan masuk"]  # the new label
    assert live.regency.report(before)["sla"]["budget_days"] == 3.0  # stays on version 1

    # Migrate the running version 1 complaint to version 2; it carries on.
    page.goto(f"{live.url}/studio/migrations")
    page.select_option("#f-from_version", "1")
    page.select_option("#f-to_version", "2")
    page.click("#migration-form button[type=submit]")
    page.locator("#migration-report").wait_for()
    row = page.locator("#migration-report tr", has_text=before)
    row.locator("input[type=checkbox]").check()
    page.fill("#migration-report #f-note", "Ke versi 2")
    with page.expect_navigation():
        page.click("#migration-report button[value=apply]")
    screenshot(page, "migrated")
    live.regency.act(before, "verify", as_="admin.kominfo")
    assert live.regency.report(before)["status"] == "VERIFIED"


@pytest.mark.browser_allow("console_errors")  # the 403 itself is logged by the browser
def test_an_officer_is_refused_the_studio(live_app: LiveApp, page: Any) -> None:
    sign_in(page, live_app, "penghubung.pupr")
    response = page.goto(f"{live_app.url}/studio/drafts")
    assert response is not None and response.status == 403
