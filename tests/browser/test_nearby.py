"""In Chromium: the report form lists the open reports nearby once the place and the
category are chosen, and "Saya juga mengalami ini" counts the citizen on one of them
(web/static/js/nearby.js, web/pages/nearby.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tests.browser.live import LiveApp
from tests.browser.test_journey import live_app  # noqa: F401 - the live server fixture
from workflows.metoo_models import MeToo

LAT, LON = -1.4379, 116.6321


def test_the_form_lists_nearby_reports_and_counts_me_too(live_app: LiveApp,  # noqa: F811
                                                        page: Any) -> None:
    near = live_app.regency.submit(title="Lubang besar di depan pasar",
                                   latitude=LAT + 0.0009, longitude=LON)["tracking_number"]
    live_app.regency.submit(title="Lubang jauh di km 12", latitude=LAT + 0.02, longitude=LON)
    page.goto(f"{live_app.url}/lapor")
    assert page.locator("#nearby").is_hidden()
    page.select_option("#f-category", "roads")
    page.fill("#f-latitude", str(LAT))
    page.fill("#f-longitude", str(LON))
    page.locator("#f-longitude").dispatch_event("change")
    box = page.locator("#nearby")
    box.wait_for(state="visible")
    text = box.inner_text()
    assert "Lubang besar di depan pasar" in text and near in text
    assert "Lubang jauh" not in text and "m dari sini" in text
    page.fill("#f-reporter_email", "warga@example.org")
    box.get_by_role("button", name="Saya juga mengalami ini").click()
    box.get_by_role("status").wait_for()
    assert "Terima kasih" in box.get_by_role("status").inner_text()
    with live_app.regency.reads() as session:
        assert session.scalar(select(func.count()).select_from(MeToo)) == 1
        assert session.scalar(select(MeToo.email)) == "warga@example.org"
