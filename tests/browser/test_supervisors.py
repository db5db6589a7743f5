"""In Chromium: a supervisor follows a number of the dashboard, and a bar of its chart, to the
list of the reports behind it; and the map of open cases draws one marker per square, whose
popup leads to the square's reports (web/static/js/charts.js, web/static/js/case-map.js)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from tests.browser.live import LiveApp
from tests.browser.test_journey import live_app, sign_in  # noqa: F401 - the live server
from tests.test_drilldown import NOW, seed_the_drill
from tests.test_stats import Seeder, wita
from workflows.models import Agency


def seed(live: LiveApp, positioned: int = 240) -> None:
    live.regency.clock.set(NOW)
    with live.regency.transaction() as session:
        codes = {a.code: a.id for a in session.scalars(select(Agency))}
        seeder = Seeder(session, codes)
        seed_the_drill(seeder)
        for i in range(positioned):
            report = seeder.report(wita(2024, 5, 1 + i % 28, 9), "IN_PROGRESS",
                                   ("dinas_pupr", "dlh")[i % 2],
                                   latitude=-1.24 - (i % 12) * 0.004,
                                   longitude=116.80 + (i % 15) * 0.004)
            if i % 3 == 0:
                seeder.sla(report, "follow_up", "running", due=wita(2024, 6, 3, 9))


def listed(page: Any) -> int:
    return int(page.locator("#cases-count").get_attribute("data-total"))


def test_a_number_and_a_bar_of_the_dashboard_open_their_reports(
        live_app: LiveApp, make_page: Any, screenshot: Any) -> None:  # noqa: F811
    # without animations: the bar is where Chart.js says it is when the mouse clicks
    page = make_page(reduced_motion="reduce")
    seed(live_app)
    sign_in(page, live_app, "kadis.kominfo")
    page.goto(f"{live_app.url}/dashboard?year=2023")
    table = page.locator("#table-category")
    page.wait_for_selector("#table-category[data-chart-ready]", state="attached")
    # the number in the table
    cell = table.locator('tr[data-key="waste"] a[data-drill]').first
    count = int(cell.inner_text())
    with page.expect_navigation():
        cell.click()
    assert re.search(r"/cases\?.*category=waste", page.url) and "stage=received" in page.url
    assert listed(page) == count == 10
    screenshot(page, "reports-behind-a-number")
    assert page.locator("#drill-filters").is_visible()
    assert "Sampah" in page.locator("#drill-filters").inner_text()
    # the chart's bar of the same row and series: its centre, from Chart.js
    page.go_back()
    page.wait_for_selector("#table-category[data-chart-ready]", state="attached")
    canvas = page.locator(".chart-box canvas").nth(
        page.evaluate("""() => Array.from(document.querySelectorAll('.chart-box canvas'))
            .findIndex((c) => c.closest('.chart-box').nextElementSibling
                .querySelector('#table-category'))"""))
    point = canvas.evaluate("""(c) => {
        const chart = window.Chart.getChart(c);
        const row = chart.data.labels.findIndex((l) => l === 'Sampah');
        const bar = chart.getDatasetMeta(0).data[row];
        return {x: (bar.x + bar.base) / 2, y: bar.y};
    }""")
    box = canvas.bounding_box()
    with page.expect_navigation():
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    assert "category=waste" in page.url and listed(page) == 10


def test_the_map_draws_squares_not_reports_and_opens_their_lists(
        live_app: LiveApp, page: Any, screenshot: Any) -> None:  # noqa: F811
    seed(live_app)
    sign_in(page, live_app, "kadis.kominfo")
    page.goto(f"{live_app.url}/board")
    with page.expect_navigation():
        page.get_by_role("link", name="Peta laporan terbuka").click()
    page.wait_for_selector("#case-map[data-cells]", state="attached")
    markers = page.locator(".case-cell")
    drawn = markers.count()
    assert 0 < drawn < 240  # gathered per square, never a marker per report
    numbers = [int(markers.nth(i).inner_text()) for i in range(drawn)]
    assert sum(numbers) == 240
    assert "240 terbuka" in page.locator("#case-map-status").inner_text()
    biggest = max(range(drawn), key=lambda i: numbers[i])
    markers.nth(biggest).click()
    popup = page.locator(".case-map-popup")
    popup.wait_for()
    screenshot(page, "map-of-open-cases")
    with page.expect_navigation():
        popup.get_by_role("link", name="Daftar laporan terbuka").click()
    assert "/cases?open=1&area=" in page.url
    assert listed(page) == numbers[biggest]
