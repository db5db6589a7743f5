"""End to end in Chromium: the pothole report from a citizen's phone to a rated answer, and
the supervisor's board after the clock has moved past a deadline. Screenshots of each step
go to tests/artifacts/<test>/ for review. Also the accessibility basics: every input of the
report form has a label, and the form can be filled with the keyboard alone.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from engine import FrozenClock
from tests.browser.live import LiveApp, serve
from tests.regency import attach

PASSWORD = "aduan-demo-2026"
START_TIME = "2026-03-02T01:00:00+00:00"  # Monday 09:00 WITA, as tests/conftest.py


@pytest.fixture
def live_app(demo_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[LiveApp]:
    from datetime import datetime

    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    clock = FrozenClock(datetime.fromisoformat(START_TIME))
    app = serve(attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens))
    yield app
    app.stop()


def pothole_photo() -> bytes:
    """A phone's JPEG, taken sideways, with the reporter's position in its EXIF."""
    image = Image.new("RGB", (640, 480), (90, 90, 90))
    image.paste((30, 30, 30), (200, 160, 440, 320))  # the hole
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "S", 2: (1.0, 15.0, 13.7), 3: "E", 4: (116.0, 49.0, 50.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def sign_in(page: Any, live: LiveApp, username: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    with page.expect_navigation():  # the post and the page it leads to, before going on
        page.get_by_role("button", name="Masuk").click()
    assert "/login" not in page.url, page.content()[:2000]


def open_case(page: Any, live: LiveApp, tracking: str) -> None:
    page.goto(f"{live.url}/tasks")
    page.get_by_role("link", name=tracking).first.click()
    page.wait_for_url(re.compile(rf".*/cases/{tracking}$"))


def act(page: Any, action: str, fields: dict[str, str] | None = None,
        select: dict[str, str] | None = None) -> None:
    page.click(f"#action-{action} summary")
    for selector, value in (select or {}).items():
        page.select_option(selector, value)
    for selector, value in (fields or {}).items():
        page.fill(selector, value)
    page.click(f"#submit-{action}")
    page.wait_for_load_state()
    assert page.locator(f"#errors-{action}").count() == 0, page.locator(
        f"#errors-{action}").inner_text()


def test_pothole_report_from_phone_to_rated_answer_and_the_board(
        live_app: LiveApp, phone_page: Any, make_page: Any, screenshot: Any) -> None:
    live = live_app
    citizen = phone_page

    # 1. The citizen files the pothole report with a photo, on a phone.
    citizen.goto(f"{live.url}/")
    screenshot(citizen, "citizen-home")
    citizen.get_by_role("link", name="Buat laporan").first.click()
    citizen.wait_for_url(re.compile(r".*/lapor$"))
    citizen.check("#f-classification-pengaduan")
    citizen.select_option("#f-category", "roads")
    citizen.fill("#f-title", "Jalan berlubang di Jl. Provinsi KM 5")
    citizen.fill("#f-body", "Lubang besar di tengah jalan, sudah dua motor jatuh minggu ini.")
    citizen.locator("#report-map").click(position={"x": 120, "y": 90})
    assert citizen.input_value("#f-latitude") and citizen.input_value("#f-longitude")
    citizen.fill("#f-address", "Jl. Provinsi KM 5, depan masjid")
    citizen.set_input_files("#f-attachments", files=[{
        "name": "lubang.jpg", "mimeType": "image/jpeg", "buffer": pothole_photo()}])
    citizen.fill("#f-reporter_name", "Budi Santoso")
    citizen.fill("#f-reporter_email", "budi@example.org")
    screenshot(citizen, "citizen-form-filled")
    citizen.click("#submit-report")
    citizen.wait_for_url(re.compile(r".*/lapor/terima/.+"))
    tracking = citizen.inner_text("#tracking-number").strip()
    private_link = citizen.input_value("#private-link").strip()
    assert tracking.startswith("PPU-") and "?k=" in private_link
    screenshot(citizen, "citizen-receipt")

    # 2. The regency administrator verifies it and sends it to Dinas PUPR.
    admin = make_page()
    sign_in(admin, live, "admin.kominfo")
    screenshot(admin, "admin-worklist")
    open_case(admin, live, tracking)
    admin.wait_for_selector("#diagram svg")  # the lifecycle, drawn by bpmn-js
    screenshot(admin, "admin-case")
    act(admin, "verify")
    act(admin, "dispose", select={"#f-dispose-agency_code": "dinas_pupr"})
    assert "Dinas Pekerjaan Umum" in admin.inner_text("#case-agency")
    screenshot(admin, "admin-disposed")

    # 3. Dinas PUPR's liaison answers.
    opd = make_page()
    sign_in(opd, live, "penghubung.pupr")
    open_case(opd, live, tracking)
    photo = opd.locator("#evidence img").first
    photo.wait_for()
    assert opd.evaluate("img => img.naturalWidth > 0", photo.element_handle())
    act(opd, "respond", fields={
        "#f-respond-answer": "Lubang sudah ditambal oleh tim Bina Marga pada 4 Maret."})
    screenshot(opd, "opd-answered")

    # 4. The citizen reads the answer, accepts and rates it.
    citizen.goto(private_link)
    citizen.wait_for_url(re.compile(rf".*/lacak/{tracking}$"))
    assert "ditambal" in citizen.inner_text("#answers")
    screenshot(citizen, "citizen-answer")
    citizen.click("label[for=rate-rating-5]")
    assert citizen.is_checked("#rate-rating-5")
    citizen.fill("#rate-comment", "Cepat, terima kasih.")
    citizen.click("#rate-submit")
    citizen.wait_for_load_state()
    assert citizen.locator("#closed").count() == 1
    screenshot(citizen, "citizen-rated")

    # 5. Another report sits at Dinas PUPR past its deadline: the board shows it overdue.
    late = live.regency.submit(title="Lampu jalan mati di Jl. Nipah", category="roads",
                               photo=True)
    live.regency.act(late["tracking_number"], "verify", as_="admin.kominfo")
    live.regency.act(late["tracking_number"], "dispose", as_="admin.kominfo",
                     agency_code="dinas_pupr")
    # Its five working days end on Monday 9 March 09:00 WITA: missed by the liaison, it
    # goes one rung up to the OPD's head, and two working days later (Wednesday) on to
    # Diskominfo.
    live.advance(days=9, hours=1)
    head = make_page()
    sign_in(head, live, "kadis.pupr")
    head.goto(f"{live.url}/board")
    assert late["tracking_number"] in head.inner_text("#board-cases")
    assert "terlambat" in head.inner_text("#board-cases")
    assert late["tracking_number"] in head.inner_text("#inbox")
    screenshot(head, "supervisor-board-overdue")
    regency_head = make_page()
    sign_in(regency_head, live, "kadis.kominfo")
    regency_head.goto(f"{live.url}/board")
    escalation = regency_head.locator("#inbox article.escalation", has_text=late[
        "tracking_number"])
    # The reassign form is fetched when its section opens (htmx), with the agency list.
    assert escalation.locator("select[name=agency_code]").count() == 0
    escalation.locator("details.escalation-reassign-lazy summary").click()
    agencies = escalation.locator("select[name=agency_code]")
    agencies.wait_for()
    assert agencies.locator("option[value=dlh]").count() == 1
    screenshot(regency_head, "escalation-reassign-form")
    escalation.locator("button[value=acknowledge]").click()
    regency_head.wait_for_load_state()
    screenshot(regency_head, "escalation-acknowledged")
    regency_head.goto(f"{live.url}/board?inbox=acknowledged")
    assert late["tracking_number"] in regency_head.inner_text("#inbox")


def test_report_form_has_labels_and_works_by_keyboard(live_app: LiveApp, page: Any,
                                                       screenshot: Any) -> None:
    page.goto(f"{live_app.url}/lapor")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll(
        '#report-form input:not([type=hidden]), #report-form select, #report-form textarea')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby'))
        .map(el => el.id || el.name)""")
    assert unlabelled == []

    # The skip link comes first and takes the keyboard to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className").find("skip-link") >= 0
    page.keyboard.press("Enter")
    # Tab through the form: every field is reached, in order, up to the submit button.
    reached: list[str] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        current = page.evaluate("document.activeElement.id")
        if current:
            reached.append(current)
        if current == "submit-report":
            break
    assert reached and reached[-1] == "submit-report", reached
    for wanted in ("f-classification-pengaduan", "f-category", "f-title", "f-body",
                   "f-latitude", "f-longitude", "f-attachments", "f-anonymous",
                   "f-confidential", "f-reporter_name"):
        assert wanted in reached, (wanted, reached)
    order = [reached.index(f) for f in ("f-title", "f-body", "f-reporter_name")]
    assert order == sorted(order)

    # Filled by keyboard alone: typing into focused fields and pressing Enter to submit.
    page.focus("#f-title")
    page.keyboard.type("Sampah menumpuk di TPS")
    page.keyboard.press("Tab")
    page.keyboard.type("Sampah tidak diangkut sejak Senin, bau sampai ke sekolah.")
    page.focus("#f-classification-aspirasi")
    page.keyboard.press("Space")
    page.focus("#f-category")
    page.select_option("#f-category", "waste")
    page.focus("#f-reporter_name")
    page.keyboard.type("Ani")
    page.focus("#submit-report")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/lapor/terima/.+"))
    screenshot(page, "keyboard-receipt")


def test_statistics_pages_draw_their_charts(live_app: LiveApp, page: Any, make_page: Any,
                                            screenshot: Any) -> None:
    for title in ("Jalan rusak di Sepaku", "Sampah di Nipah-Nipah"):
        filed = live_app.regency.submit(title=title, photo=True)
        live_app.regency.act(filed["tracking_number"], "verify", as_="admin.kominfo")
    page.goto(f"{live_app.url}/")
    page.get_by_role("link", name="Statistik").first.click()
    page.wait_for_url(re.compile(r".*/statistik.*"))
    page.wait_for_selector(".chart-box canvas")
    assert page.locator(".chart-box canvas").count() >= 1
    screenshot(page, "public-statistics")

    supervisor = make_page()
    sign_in(supervisor, live_app, "sekda")
    supervisor.goto(f"{live_app.url}/dashboard?year=2026")
    supervisor.wait_for_selector(".chart-box canvas")
    # A table with no rows yet (no escalations, no ratings) gets no chart.
    assert supervisor.locator(".chart-box canvas").count() >= 5
    screenshot(supervisor, "dashboard")


# --------------------------------------------------------------------------- upload limits


def sized_file(folder: Path, name: str, megabytes: float) -> str:
    """A file of this size on disk (sparse: nothing is written), for set_input_files."""
    path = folder / name
    with path.open("wb") as handle:
        handle.truncate(int(megabytes * 1024 * 1024))
    return str(path)


def fill_report(page: Any) -> None:
    page.check("#f-classification-pengaduan")
    page.select_option("#f-category", "roads")
    page.fill("#f-title", "Jalan berlubang di Jl. Provinsi KM 5")
    page.fill("#f-body", "Lubang besar di tengah jalan, sudah dua motor jatuh minggu ini.")
    page.fill("#f-reporter_name", "Budi Santoso")


def reports_filed(live: LiveApp) -> int:
    from sqlalchemy import func, select

    from workflows.models import Complaint

    with live.regency.reads() as db:
        return db.scalar(select(func.count()).select_from(Complaint))


def test_files_over_the_limits_are_stopped_before_sending_with_a_message(
        live_app: LiveApp, page: Any, tmp_path: Path, screenshot: Any) -> None:
    page.goto(f"{live_app.url}/lapor")
    fill_report(page)
    message = page.locator("#f-attachments-limit")
    assert message.get_attribute("aria-live") == "assertive" and message.inner_text() == ""

    # One file over 10 MB: said at once, naming the field, the file and both limits.
    page.set_input_files("#f-attachments", [sized_file(tmp_path, "video.mp4", 11),
                                            sized_file(tmp_path, "foto.jpg", 0.5)])
    assert message.inner_text() == (
        "Foto, dokumen PDF, atau video pendek: “video.mp4” berukuran 11 MB, padahal setiap "
        "berkas paling besar 10 MB (dan seluruh berkas 50 MB). Pilih berkas yang lebih kecil. "
        "Belum ada yang terkirim.")
    assert page.get_attribute("#f-attachments", "aria-invalid") == "true"
    assert "f-attachments-limit" in page.get_attribute("#f-attachments", "aria-describedby")
    screenshot(page, "file-too-large")

    # Sending is stopped: nothing leaves the browser, the text stays, the focus goes to the
    # file input.
    page.click("#submit-report")
    page.wait_for_timeout(300)
    assert page.url.endswith("/lapor") and reports_filed(live_app) == 0
    assert page.input_value("#f-title") == "Jalan berlubang di Jl. Provinsi KM 5"
    assert page.evaluate("document.activeElement.id") == "f-attachments"

    # Six files: too many (and 60 MB together, over the total).
    page.set_input_files("#f-attachments", [sized_file(tmp_path, f"f{n}.jpg", 10)
                                            for n in range(6)])
    lines = message.locator("p").all_inner_texts()
    assert lines[0].startswith("Foto, dokumen PDF, atau video pendek: Anda memilih 6 berkas, "
                               "padahal paling banyak 5 berkas")
    assert lines[-1].startswith("Foto, dokumen PDF, atau video pendek: berkas yang dipilih "
                                "berjumlah 60 MB, padahal seluruh berkas paling besar 50 MB")
    page.click("#submit-report")
    page.wait_for_timeout(300)
    assert page.url.endswith("/lapor") and reports_filed(live_app) == 0

    # Files within the limits: the message and the invalid state go, and the report is sent.
    page.set_input_files("#f-attachments", {"name": "lubang.jpg", "mimeType": "image/jpeg",
                                            "buffer": pothole_photo()})
    assert message.inner_text() == ""
    assert page.get_attribute("#f-attachments", "aria-invalid") is None
    assert "is-invalid" not in page.get_attribute("#f-attachments", "class")
    page.click("#submit-report")
    page.wait_for_url(re.compile(r".*/lapor/terima/.+"))
    assert reports_filed(live_app) == 1


def test_the_upload_check_speaks_english_when_switched(
        live_app: LiveApp, page: Any, tmp_path: Path) -> None:
    page.goto(f"{live_app.url}/language/en?next=/lapor")
    page.set_input_files("#f-attachments", sized_file(tmp_path, "clip.mp4", 12.34))
    assert page.inner_text("#f-attachments-limit") == (
        "Photos, PDF documents or short videos: “clip.mp4” is 12.4 MB, but each file may be "
        "at most 10 MB (and all files together 50 MB). Choose a smaller file. Nothing has "
        "been sent.")


# The 413 answer itself is a failed resource load in the console: expected here.
@pytest.mark.browser_allow("console_errors")
def test_an_oversized_upload_gets_the_413_page_and_back_keeps_the_text(
        live_app: LiveApp, make_page: Any, tmp_path: Path, screenshot: Any) -> None:
    video = sized_file(tmp_path, "video.mp4", 60)  # over the 55 MB a request may carry
    # Without JavaScript nothing checks the files first: the server answers 413.
    page = make_page(java_script_enabled=False)
    page.goto(f"{live_app.url}/lapor")
    fill_report(page)
    page.set_input_files("#f-attachments", video)
    page.click("#submit-report")
    page.wait_for_load_state()
    assert "Berkas terlalu besar: tidak ada yang terkirim" in page.inner_text("h1")
    assert "Tekan tombol Kembali" in page.inner_text("#back-keeps-text")
    screenshot(page, "413-page")
    page.go_back()
    page.wait_for_load_state()
    assert page.input_value("#f-title") == "Jalan berlubang di Jl. Provinsi KM 5"
    assert page.input_value("#f-body").startswith("Lubang besar di tengah jalan")
    assert page.input_value("#f-reporter_name") == "Budi Santoso"
    assert page.is_checked("#f-classification-pengaduan")
    assert reports_filed(live_app) == 0

    # With JavaScript, the page's own button goes back the same way (an old copy of the
    # page without the limits stands in for a browser that did not check).
    page = make_page()
    page.goto(f"{live_app.url}/lapor")
    fill_report(page)
    page.evaluate("document.getElementById('f-attachments').removeAttribute("
                  "'data-max-file-bytes')")
    page.evaluate("['data-max-files', 'data-max-total-bytes'].forEach((name) => "
                  "document.getElementById('f-attachments').removeAttribute(name))")
    page.set_input_files("#f-attachments", video)
    page.click("#submit-report")
    page.wait_for_selector("#back-to-form")
    # the button goes back through app.js (its href opens an empty form): clicked before the
    # page's scripts ran, it would be a plain link
    page.wait_for_load_state("load")
    page.click("#back-to-form")
    page.wait_for_selector("#report-form")
    page.wait_for_load_state("load")
    assert page.input_value("#f-title") == "Jalan berlubang di Jl. Provinsi KM 5"
    assert page.input_value("#f-body").startswith("Lubang besar di tengah jalan")
