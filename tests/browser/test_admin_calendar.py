"""In Chromium: an administrator adds a day off to the working calendar, reads the preview
of the deadlines it moves, and saves it (web/pages/admin_calendar.py); the guide's
screenshot docs/images/admin-calendar.png is the preview."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tests.browser.live import LiveApp
from tests.browser.test_journey import live_app, sign_in  # noqa: F401 - the live server
from workflows.models import SlaRecord


def test_a_day_off_is_previewed_then_saved_and_moves_the_deadline(
        live_app: LiveApp, page: Any, doc_screenshot: Any) -> None:  # noqa: F811
    tracking = live_app.regency.submit(photo=True)["tracking_number"]
    with live_app.regency.reads() as session:
        before = session.scalars(select(SlaRecord.due_at)).one()
    day = before.astimezone(live_app.regency.domain.config.tzinfo).date()
    sign_in(page, live_app, "admin.kominfo")
    page.goto(f"{live_app.url}/admin/calendar")
    page.get_by_label("Tanggal").fill(day.isoformat())  # the deadline's own day
    page.get_by_label("Hari itu menjadi").select_option("day_off")
    page.get_by_label("Keputusan atau nama hari libur").fill("SK Bupati PPU 12/2026")
    with page.expect_navigation():
        page.get_by_role("button", name="Pratinjau perubahan").click()
    preview = page.locator("#calendar-preview")
    assert "menggeser 1 batas waktu" in page.locator("#preview-count").inner_text()
    assert tracking in preview.get_by_role("table").inner_text()
    doc_screenshot(page, "admin-calendar")
    with page.expect_navigation():
        page.get_by_role("button", name="Simpan dan geser batas waktu").click()
    assert "1 batas waktu berjalan bergeser" in page.get_by_role("status").first.inner_text()
    assert "SK Bupati PPU 12/2026" in page.locator("#calendar-changes").inner_text()
    with live_app.regency.reads() as session:
        after = session.scalars(select(SlaRecord.due_at)).one()
    assert after > before and after.tzinfo is not None
    assert after - before >= (datetime(2026, 1, 2, tzinfo=UTC) - datetime(2026, 1, 1,
                                                                             tzinfo=UTC))
