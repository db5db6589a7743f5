"""In Chromium: the officers' notification centre, and the case page's and worklist's fixed
defects that need a browser (issue 16, "Officers"): the filter counts after "Ambil", the
dispose form's units, a refused form's address, the diagram's zoom and the map's words.
The notification centre's screenshot for docs/officers.md is made here."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.live import LiveApp
from tests.browser.test_journey import (
    live_app,  # noqa: F401 - the live server fixture
    sign_in,
)


def test_the_notification_journey(live_app: LiveApp,  # noqa: F811
                                  make_page: Any, doc_screenshot: Any) -> None:
    regency = live_app.regency
    first = regency.submit(photo=True, title="Jalan berlubang di Jl. Provinsi KM 5")
    second = regency.submit(photo=True, title="Lampu jalan padam di Nipah-Nipah",
                            category="street_lights")
    page = make_page()
    sign_in(page, live_app, "admin.kominfo")
    expect(page.locator("#unread-count")).to_have_text("2")
    with page.expect_navigation():
        page.locator("#nav-notifications").click()
    assert page.url.endswith("/notifications")
    items = page.locator("#notifications > li")
    expect(items).to_have_count(2)
    # newest first, each a link to its case
    assert second["tracking_number"] in items.nth(0).inner_text()
    assert first["tracking_number"] in items.nth(1).inner_text()
    doc_screenshot(page, "officer-notifications")

    with page.expect_navigation():
        items.nth(1).get_by_role("button", name="Tandai sudah dibaca").click()
    expect(page.locator("#unread-count")).to_have_text("1")
    with page.expect_navigation():
        page.locator("#read-all-submit").click()
    expect(page.locator("#unread-count")).to_have_text("0")
    expect(page.locator(".alert-success")).to_contain_text("ditandai sudah dibaca")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(second["tracking_number"])).click()
    assert page.url.endswith(f"/cases/{second['tracking_number']}")


def test_the_filter_counts_follow_a_claim_without_a_reload(live_app: LiveApp,  # noqa: F811
                                                           page: Any) -> None:
    tracking = live_app.regency.submit(photo=True)["tracking_number"]
    sign_in(page, live_app, "admin.kominfo")
    page.goto(f"{live_app.url}/tasks")
    show = page.locator("#wl-show")
    expect(show.locator("option[value=mine]")).to_have_text(re.compile(r"\(0\)$"))
    expect(show.locator("option[value=unclaimed]")).to_have_text(re.compile(r"\(1\)$"))
    url = page.url
    page.get_by_role("button", name=f"Ambil tugas laporan {tracking}").click()  # htmx: no reload
    expect(page.locator("#worklist-status")).to_contain_text("Anda mengambil tugas ini")
    expect(show.locator("option[value=mine]")).to_have_text(re.compile(r"\(1\)$"))
    expect(show.locator("option[value=unclaimed]")).to_have_text(re.compile(r"\(0\)$"))
    assert page.url == url
    page.get_by_role("button", name=f"Lepas tugas laporan {tracking}").click()
    expect(show.locator("option[value=mine]")).to_have_text(re.compile(r"\(0\)$"))


def test_the_case_pages_diagram_zoom_map_words_units_and_address(
        live_app: LiveApp, page: Any) -> None:  # noqa: F811
    regency = live_app.regency
    tracking = regency.submit(photo=True, latitude=-1.43, longitude=116.63)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    sign_in(page, live_app, "admin.kominfo")
    page.goto(f"{live_app.url}/cases/{tracking}")

    # the lifecycle drawn at a readable zoom, with buttons to zoom in, out and fit
    diagram = page.locator("#case-diagram[data-bpmn-state=ready]")
    diagram.wait_for()
    start = float(diagram.get_attribute("data-bpmn-zoom"))
    assert start >= 0.74, start
    zoom = page.locator(".diagram-zoom")
    zoom.get_by_role("button", name="Perbesar").click()
    expect(diagram).not_to_have_attribute("data-bpmn-zoom", str(start))
    assert float(diagram.get_attribute("data-bpmn-zoom")) > start
    zoom.get_by_role("button", name="Tampilkan seluruh diagram").click()
    page.wait_for_function("document.querySelector('#case-diagram')"
                           ".getAttribute('data-bpmn-zoom') < 0.7")
    zoom.get_by_role("button", name="Tampilkan posisi laporan").click()
    expect(diagram).to_have_attribute("data-bpmn-zoom", str(start))

    # the map's zoom buttons say it in Indonesian
    page.locator("#location-map[data-map-ready=true]").wait_for()
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Perbesar"
    assert page.get_attribute(".leaflet-control-zoom-out", "title") == "Perkecil"

    # the dispose form's unit list offers only the chosen agency's units
    page.click("#action-dispose summary")
    page.select_option("#f-dispose-agency_code", "dlh")
    units = page.locator("#f-dispose-unit_code")
    assert units.locator("optgroup[data-agency=dlh]").evaluate("g => !g.disabled && !g.hidden")
    assert units.locator("optgroup[data-agency=dinas_pupr]").evaluate(
        "g => g.disabled && g.hidden")
    page.select_option("#f-dispose-unit_code", "dlh_kebersihan")
    page.select_option("#f-dispose-agency_code", "dinas_pupr")
    assert units.input_value() == ""  # the other agency's unit is unchosen
    assert units.locator("optgroup[data-agency=dinas_pupr]").evaluate("g => !g.disabled")


# Chromium logs the 422 answer's document as a failed resource: the only console error.
@pytest.mark.browser_allow("console_errors")
def test_a_refused_form_leaves_the_cases_own_address(live_app: LiveApp,  # noqa: F811
                                                     page: Any) -> None:
    tracking = live_app.regency.submit(photo=True)["tracking_number"]
    sign_in(page, live_app, "admin.kominfo")
    page.goto(f"{live_app.url}/cases/{tracking}")
    page.fill("#f-note", "   ")
    with page.expect_navigation():
        page.click("#submit-note")
    expect(page.locator("#f-note-error")).to_be_visible()
    page.wait_for_function(f"location.pathname === '/cases/{tracking}'")
    assert page.input_value("#f-note") == "   "  # what was typed is kept
    page.reload()  # a GET of the case page, not of the form's action
    expect(page.locator("#case-header")).to_be_visible()
    assert page.locator("#f-note-error").count() == 0


def test_the_map_says_zoom_in_english_on_english_pages(live_app: LiveApp,  # noqa: F811
                                                       page: Any) -> None:
    tracking = live_app.regency.submit(photo=True, latitude=-1.43,
                                       longitude=116.63)["tracking_number"]
    sign_in(page, live_app, "admin.kominfo")
    page.goto(f"{live_app.url}/language/en?next=/cases/{tracking}")
    page.locator("#location-map[data-map-ready=true]").wait_for()
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Zoom in"
    # The diagram's own zoom bar is drawn by diagram.js once the diagram has loaded.
    expect(page.locator(".diagram-zoom").get_by_role("button", name="Zoom out")).to_have_count(1)
