"""In Chromium, for everyone: every text readable (WCAG contrast of at least 4.5:1) on every
kind of page, the board and the statistics fitting a 390 px phone, and the citizen's form
(the misconduct box under "Pengaduan" only, the QR poster's location, a pin from the photo's
GPS position with the citizen's consent)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from tests.browser.contrast import listed, low_contrast
from tests.browser.live import LiveApp
from tests.browser.test_journey import live_app, pothole_photo, sign_in  # noqa: F401
from workflows.models import Attachment, Complaint

LAT, LON = -1.4379, 116.6321


@pytest.fixture
def cases(live_app: LiveApp) -> dict[str, str]:  # noqa: F811
    """Reports in several states: one just filed (with a photo and a place), one verified
    and sent to Dinas PUPR, and a week later both late (the board has rows)."""
    regency = live_app.regency
    filed = regency.submit(photo=True, title="Lampu jalan mati di Jl. Sudirman",
                           latitude=LAT, longitude=LON)
    sent = regency.submit(photo=True, title="Jalan berlubang dekat pasar", latitude=LAT + 0.01,
                          longitude=LON)
    regency.act(sent["tracking_number"], "verify", as_="admin.kominfo")
    regency.act(sent["tracking_number"], "dispose", as_="admin.kominfo",
                agency_code="dinas_pupr")
    live_app.advance(days=7)
    return {"filed": filed["tracking_number"], "secret": filed["secret"],
            "sent": sent["tracking_number"]}


def staff_pages(cases: dict[str, str]) -> list[str]:
    return ["/tasks", f"/cases/{cases['sent']}", "/cases", "/board", "/dashboard", "/studio",
            "/admin"]


def test_every_text_on_every_kind_of_page_has_enough_contrast(
        live_app: LiveApp, cases: dict[str, str], make_page: Any) -> None:  # noqa: F811
    offenders: dict[str, list[dict[str, Any]]] = {}
    measured: dict[str, int] = {}

    def check(page: Any, name: str) -> None:
        page.wait_for_load_state("load")
        count, found = low_contrast(page)
        measured[name] = count
        if found:
            offenders[name] = found

    citizen = make_page()
    for path in ("/", "/lapor", "/lapor?via=qr", "/lacak", "/statistik"):
        citizen.goto(live_app.url + path)
        check(citizen, path)
    citizen.goto(f"{live_app.url}/lacak/{cases['filed']}?k={cases['secret']}")
    check(citizen, "/lacak/<report>")
    citizen.goto(f"{live_app.url}/login")
    check(citizen, "/login")

    officer = make_page()
    sign_in(officer, live_app, "admin.kominfo")
    for path in staff_pages(cases):
        officer.goto(live_app.url + path)
        check(officer, path)
    officer.goto(f"{live_app.url}/language/en?next=/tasks")
    check(officer, "/tasks (English)")

    assert all(count >= 10 for count in measured.values()), measured  # the check saw text
    assert not offenders, "texts below 4.5:1:\n" + "\n".join(
        f"{name}:\n{listed(found)}" for name, found in offenders.items())


CHARTS_DRAWN = """() => !document.querySelector("table[data-chart]")
  || document.querySelectorAll("table[data-chart-ready]").length > 0"""

# The category (label) axis of each horizontal bar chart: its widest label, as drawn, must fit
# the axis's width (Chart.js cuts what does not at the canvas's edge).
CUT_LABELS = """() => {
  const cut = [];
  for (const canvas of document.querySelectorAll(".chart-box canvas")) {
    const chart = Chart.getChart(canvas);
    const box = canvas.getBoundingClientRect();
    if (box.right > document.documentElement.clientWidth + 0.5) cut.push("canvas " + box.right);
    for (const scale of Object.values(chart.scales)) {
      if (scale.axis !== "y" || scale.type !== "category") continue;
      chart.ctx.save();
      chart.ctx.font = Chart.helpers.toFont(scale.options.ticks.font).string;
      for (const tick of scale.ticks) {
        const width = Math.max(...[].concat(tick.label).map(
          (line) => chart.ctx.measureText(line).width));
        if (width > scale.width) cut.push(JSON.stringify(tick.label) + " " + width);
      }
      chart.ctx.restore();
    }
  }
  return cut;
}"""

WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  const clipped = (element) => {  // inside a box shown to screen readers only
    for (let node = element; node; node = node.parentElement) {
      if (getComputedStyle(node).clip !== "auto") return true;
    }
    return false;
  };
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width && box.right > width + 0.5
        && element.checkVisibility({checkVisibilityCSS: true}) && !clipped(element)) {
      wide.push(element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
                + "." + [...element.classList].slice(0, 3).join(".") + " "
                + Math.round(box.left) + ".." + Math.round(box.right));
    }
  }
  const boxes = [...document.querySelectorAll(".table-responsive")]
    .filter((box) => box.scrollWidth > box.clientWidth + 0.5)
    .map((box) => (box.querySelector("table") || box).id + " " + box.scrollWidth);
  return {page: document.documentElement.scrollWidth, wide: wide.slice(0, 20),
          scrolling: boxes};
}"""


def test_the_board_and_the_statistics_fit_a_phone(
        live_app: LiveApp, cases: dict[str, str], phone_page: Any,  # noqa: F811
        screenshot: Any) -> None:
    sign_in(phone_page, live_app, "admin.kominfo")
    problems = {}
    for path in ("/board", "/dashboard", "/statistik"):
        phone_page.goto(live_app.url + path)
        phone_page.wait_for_load_state("load")
        phone_page.wait_for_function(CHARTS_DRAWN)
        screenshot(phone_page, f"phone{path.replace('/', '-')}")
        found = phone_page.evaluate(WIDE)
        found["cut_labels"] = phone_page.evaluate(CUT_LABELS)
        found["low_contrast"] = low_contrast(phone_page)[1]  # the cards too
        if any(found[key] for key in ("wide", "scrolling", "cut_labels", "low_contrast")) \
                or found["page"] > 390:
            problems[path] = found
    assert not problems, json.dumps(problems, indent=1)


# --------------------------------------------------------------------------- the form


def plain_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 120, 120)).save(out, "JPEG")
    return out.getvalue()


def test_the_misconduct_box_belongs_to_complaints_and_qr_says_only_what_it_filled(
        live_app: LiveApp, page: Any, screenshot: Any) -> None:  # noqa: F811
    page.goto(f"{live_app.url}/lapor")
    screenshot(page, "form-types")
    box = page.locator(".misconduct-box")
    complaint = page.locator("#h-classification-pengaduan").bounding_box()
    suggestion = page.locator("#f-classification-aspirasi").bounding_box()
    shown = box.bounding_box()
    assert complaint and suggestion and shown
    # Under "Pengaduan"'s explanation, above the next type, indented like its label.
    assert complaint["y"] + complaint["height"] <= shown["y"]
    assert shown["y"] + shown["height"] <= suggestion["y"]
    assert shown["x"] >= complaint["x"]
    page.check("#f-classification-permintaan_informasi")
    assert box.is_hidden()
    page.check("#f-classification-pengaduan")
    assert box.is_visible()

    page.goto(f"{live_app.url}/lapor?via=qr")
    assert page.locator("#qr-notice, #qr-address-notice").count() == 0
    assert page.input_value("#f-latitude") == "" and page.input_value("#f-address") == ""
    page.goto(f"{live_app.url}/lapor?via=qr&alamat=Pasar%20Induk")
    assert page.locator("#qr-notice").count() == 0
    assert "belum" in page.inner_text("#qr-address-notice")
    page.goto(f"{live_app.url}/lapor?via=qr&lat=-1.25&lon=116.83")
    assert page.locator("#qr-notice").is_visible()
    page.locator("#report-map .leaflet-marker-icon").wait_for()


def test_a_pin_from_the_photos_gps_position_with_the_citizens_consent(
        live_app: LiveApp, page: Any, screenshot: Any) -> None:  # noqa: F811
    page.goto(f"{live_app.url}/lapor")
    page.locator("#report-map[data-map-ready]").wait_for()
    offer = page.locator("#photo-location")
    assert offer.is_hidden()
    page.set_input_files("#f-attachments", files=[
        {"name": "biasa.jpg", "mimeType": "image/jpeg", "buffer": plain_photo()},
        {"name": "lubang.jpg", "mimeType": "image/jpeg", "buffer": pothole_photo()}])
    offer.wait_for(state="visible")
    assert "lubang.jpg" in offer.inner_text() and "-1.253806" in offer.inner_text()
    # Offered, not used: nothing is filled in before the citizen says so.
    assert page.input_value("#f-latitude") == "" and page.input_value("#f-longitude") == ""
    assert page.locator("#report-map .leaflet-marker-icon").count() == 0
    # Photos without a position: the offer goes away.
    page.set_input_files("#f-attachments", files=[
        {"name": "biasa.jpg", "mimeType": "image/jpeg", "buffer": plain_photo()}])
    offer.wait_for(state="hidden")
    page.set_input_files("#f-attachments", files=[
        {"name": "lubang.jpg", "mimeType": "image/jpeg", "buffer": pothole_photo()}])
    offer.wait_for(state="visible")
    screenshot(page, "photo-place-offered")
    assert not low_contrast(page)[1], listed(low_contrast(page)[1])
    page.get_by_role("button", name="Gunakan lokasi foto").click()
    assert page.input_value("#f-latitude") == "-1.253806"
    assert page.input_value("#f-longitude") == "116.830556"
    page.locator("#report-map .leaflet-marker-icon").wait_for()
    assert "kini menjadi lokasi masalah" in page.inner_text("[data-photo-location-status]")

    page.check("#f-classification-pengaduan")
    page.select_option("#f-category", "roads")
    page.fill("#f-title", "Jalan berlubang di depan pasar")
    page.fill("#f-body", "Lubang besar di tengah jalan, motor sering jatuh.")
    page.fill("#f-reporter_name", "Budi")
    with page.expect_navigation():
        page.click("#submit-report")
    tracking = page.inner_text("#tracking-number").strip()
    with live_app.regency.reads() as session:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == tracking)).one()
        assert (round(complaint.latitude, 6), round(complaint.longitude, 6)) == (
            -1.253806, 116.830556)
        attachment_id = session.scalars(select(Attachment.id).where(
            Attachment.complaint_id == complaint.id)).one()
    # The photo as the site serves it has no GPS position left (workflows/images.py).
    served = page.request.get(f"{live_app.url}/lacak/{tracking}/foto/{attachment_id}")
    assert served.ok, served.status
    assert not Image.open(io.BytesIO(served.body())).getexif().get_ifd(0x8825)
