"""Our JavaScript widgets in a real browser, on the harness pages (tests/browser/harness/),
served with a strict Content-Security-Policy: a CSP violation is a console error, and a
console error or a request to another host fails the test (conftest.py)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = ROOT / "bpmn" / "complaint_lifecycle.bpmn"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SIX_DECIMALS = re.compile(r"-?\d+\.\d{6}")
CENTER = (-1.2418, 116.8372)  # data-center of the harness map


def goto(page: Any, server: Any, name: str) -> None:
    page.goto(f"{server.url}/harness/{name}")


def center_of(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def marker_tip(page: Any, scope: str) -> tuple[float, float]:
    """Where the default marker points: the bottom middle of its icon."""
    box = page.locator(f"{scope} .leaflet-marker-icon").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"]


def coordinates(page: Any) -> tuple[float, float]:
    lat, lon = page.input_value("#lat"), page.input_value("#lon")
    assert SIX_DECIMALS.fullmatch(lat) and SIX_DECIMALS.fullmatch(lon), (lat, lon)
    return float(lat), float(lon)


# --------------------------------------------------------------------------- maps


def test_map_picker_click_drag_and_typing(page: Any, static_server: Any,
                                          screenshot: Any) -> None:
    goto(page, static_server, "map.html")
    picker = page.locator("#picker[data-map-ready]")
    picker.wait_for()
    # No tile server: a plain background and a scale, and the point can still be set.
    assert "map-no-tiles" in picker.get_attribute("class")
    assert page.locator("#picker .leaflet-control-scale").is_visible()
    assert page.locator("#picker .leaflet-tile").count() == 0
    assert page.locator("#picker .leaflet-marker-icon").count() == 0
    screenshot(page, "empty")

    box = picker.bounding_box()
    x, y = center_of(box)
    page.mouse.click(x, y)
    lat, lon = coordinates(page)
    assert lat == pytest.approx(CENTER[0], abs=2e-4)
    assert lon == pytest.approx(CENTER[1], abs=2e-4)
    icon = page.locator("#picker .leaflet-marker-icon")
    assert icon.get_attribute("src").endswith("/static/vendor/leaflet/images/marker-icon.png")
    assert marker_tip(page, "#picker") == pytest.approx((x, y), abs=2)

    page.mouse.click(x + 120, y - 60)  # east and north
    lat2, lon2 = coordinates(page)
    assert lat2 > lat and lon2 > lon
    assert marker_tip(page, "#picker") == pytest.approx((x + 120, y - 60), abs=2)
    screenshot(page, "clicked")

    # Dragging the marker writes the inputs too.
    page.mouse.move(x + 120, y - 70)
    page.mouse.down()
    page.mouse.move(x - 40, y + 30, steps=8)
    page.mouse.up()
    lat3, lon3 = coordinates(page)
    assert lat3 < lat and lon3 < lon

    # Typing moves the marker: back to the centre, then far away (the map follows).
    page.fill("#lat", f"{CENTER[0]}")
    page.fill("#lon", f"{CENTER[1]}".replace(".", ","))  # a decimal comma is understood
    assert marker_tip(page, "#picker") == pytest.approx((x, y), abs=2)
    page.fill("#lat", "-1.05")
    page.fill("#lon", "116.95")
    page.wait_for_timeout(400)  # the pan animation
    tip_x, tip_y = marker_tip(page, "#picker")
    assert box["x"] < tip_x < box["x"] + box["width"]
    assert box["y"] < tip_y < box["y"] + box["height"]
    screenshot(page, "typed")

    # An emptied input removes the marker; Enter on the focused map sets its centre.
    page.fill("#lat", "")
    assert page.locator("#picker .leaflet-marker-icon").count() == 0
    picker.focus()
    page.keyboard.press("Enter")
    assert coordinates(page) == pytest.approx((-1.05, 116.95), abs=2e-4)


def test_map_view_uses_the_configured_tiles(page: Any, static_server: Any,
                                            screenshot: Any) -> None:
    goto(page, static_server, "map.html")
    page.locator("#view[data-map-ready]").wait_for()
    page.wait_for_function(
        "document.querySelectorAll('#view img.leaflet-tile-loaded').length >= 4")
    assert any(r.path.startswith("/tiles/15/") for r in static_server.requests)
    # The attribution is text: markup in it is shown, not interpreted.
    assert "Ubin uji <Aduan>" in page.inner_text("#view .leaflet-control-attribution")
    assert page.locator("#view .leaflet-marker-icon").count() == 1
    assert "leaflet-marker-draggable" not in (
        page.locator("#view .leaflet-marker-icon").get_attribute("class"))
    page.locator("#view").scroll_into_view_if_needed()
    screenshot(page, "map-view")


def test_map_picker_on_a_phone(phone_page: Any, static_server: Any, screenshot: Any) -> None:
    goto(phone_page, static_server, "map.html")
    picker = phone_page.locator("#picker[data-map-ready]")
    picker.wait_for()
    box = picker.bounding_box()
    assert box["height"] == pytest.approx(300, abs=2)
    assert box["width"] <= 390
    x, y = center_of(box)
    phone_page.touchscreen.tap(x + 30, y + 30)
    lat, lon = coordinates(phone_page)
    assert lat < CENTER[0] and lon > CENTER[1]  # south-east of the centre
    screenshot(phone_page, "tapped")


def test_locate_button_sets_the_device_position(make_page: Any, static_server: Any) -> None:
    page = make_page(geolocation={"latitude": -1.2601, "longitude": 116.8284},
                     permissions=["geolocation"])
    goto(page, static_server, "map.html")
    page.locator("#picker[data-map-ready]").wait_for()
    page.click("#locate")  # shown once JavaScript knows the browser can locate
    page.wait_for_function("document.getElementById('lat').value !== ''")
    assert coordinates(page) == (-1.2601, 116.8284)
    assert page.locator("#picker .leaflet-marker-icon").count() == 1


def test_map_form_works_without_javascript(make_page: Any, static_server: Any) -> None:
    page = make_page(java_script_enabled=False)
    goto(page, static_server, "map.html")
    assert page.locator("#picker .leaflet-container, #picker.leaflet-container").count() == 0
    assert not page.is_visible("#locate")
    page.fill("#lat", "-1.2418")
    page.fill("#lon", "116.8372")
    page.click("button[type=submit]")
    page.wait_for_url("**/echo")
    assert "latitude=-1.2418&longitude=116.8372" in page.inner_text("#echo")


# --------------------------------------------------------------------------- BPMN diagram


def lifecycle_states() -> dict[str, list[str]]:
    """Real ids of bpmn/complaint_lifecycle.bpmn: the path from the start event up to the
    screening task is done, the screening task is current, the complainant's task waits."""
    process = ET.parse(LIFECYCLE).getroot().find(f"{BPMN}process")
    flows = {f.get("sourceRef"): f for f in process.iter(f"{BPMN}sequenceFlow")}
    completed, node = [], "start"
    while node != "screen_report":
        completed.append(node)
        flow = flows[node]
        completed.append(flow.get("id"))
        node = flow.get("targetRef")
        assert len(completed) < 40, "no path from start to screen_report"
    return {"completed": completed, "current": ["screen_report"],
            "waiting": ["provide_information"]}


def test_diagram_shows_where_the_case_is(page: Any, static_server: Any,
                                         screenshot: Any) -> None:
    states = lifecycle_states()
    (static_server.generated / "lifecycle.json").write_text(json.dumps({
        "xml": LIFECYCLE.read_text(), **states,
        "waiting": [*states["waiting"], "no_such_element"],  # unknown ids are ignored
    }))
    goto(page, static_server, "diagram.html")
    diagram = page.locator("#diagram[data-bpmn-state=ready]")
    diagram.wait_for()
    assert diagram.get_attribute("data-bpmn-warnings") == "0"
    assert diagram.get_attribute("aria-busy") is None

    classes = page.evaluate("""(ids) => Object.fromEntries(ids.map((id) => {
        const gfx = document.querySelector(`.djs-element[data-element-id="${id}"]`);
        return [id, gfx ? [...gfx.classList] : null];
    }))""", [i for ids in states.values() for i in ids])
    for state, ids in states.items():
        for element_id in ids:
            assert classes[element_id] is not None, f"{element_id} is not drawn"
            assert f"aduan-{state}" in classes[element_id], (element_id, classes[element_id])
    assert len(states["completed"]) >= 3

    # aduan.css styles the markers (bpmn-js's inline styles notwithstanding).
    stroke = page.evaluate("""(id) => getComputedStyle(document.querySelector(
        `.djs-element[data-element-id="${id}"] .djs-visual > :first-child`)).stroke""",
        "screen_report")
    assert stroke == "rgb(11, 94, 215)"
    dashes = page.evaluate("""(id) => getComputedStyle(document.querySelector(
        `.djs-element[data-element-id="${id}"] .djs-visual > :first-child`)).strokeDasharray""",
        "provide_information")
    assert dashes not in ("", "none")

    # Fitted: the whole diagram is inside the div; the bpmn.io watermark shows (licence).
    box = diagram.bounding_box()
    drawn = page.locator("#diagram .djs-container svg .viewport").bounding_box()
    assert drawn["width"] <= box["width"] + 1 and drawn["height"] <= box["height"] + 1
    assert drawn["width"] > box["width"] * 0.6 or drawn["height"] > box["height"] * 0.6
    assert page.locator("#diagram .bjs-powered-by").is_visible()
    screenshot(page, "diagram")


def test_a_diagram_drawn_while_hidden_is_fitted_once_shown(page: Any,
                                                           static_server: Any) -> None:
    # A div with no size (hidden, not laid out, a page being left) used to make bpmn-js
    # scale by a non-finite factor: an error in the console (the page watch fails on it).
    (static_server.generated / "lifecycle.json").write_text(json.dumps({
        "xml": LIFECYCLE.read_text(), **lifecycle_states()}))
    page.add_init_script("""document.addEventListener('DOMContentLoaded', () => {
        document.getElementById('diagram').style.display = 'none'; });""")
    goto(page, static_server, "diagram.html")
    page.locator("#diagram[data-bpmn-state=ready]").wait_for(state="attached")
    page.evaluate("document.getElementById('diagram').style.display = ''")
    page.wait_for_function("""() => {
        const box = document.querySelector('#diagram .viewport');
        return box && box.getBoundingClientRect().width > 100; }""")


@pytest.mark.browser_allow("console_errors")  # the 404 is logged by the browser itself
def test_diagram_failures_show_the_error_text(page: Any, static_server: Any,
                                              screenshot: Any) -> None:
    (static_server.generated / "broken.json").write_text(json.dumps(
        {"xml": "<definitions>not BPMN", "completed": [], "current": [], "waiting": []}))
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    goto(page, static_server, "diagram-errors.html")
    page.locator("#broken[data-bpmn-state=error]").wait_for()
    page.locator("#missing[data-bpmn-state=error]").wait_for()
    assert page.inner_text("#broken") == "Diagram tidak dapat ditampilkan."
    assert page.inner_text("#missing") == "Diagram tidak ditemukan."
    assert page.locator("#broken svg, #missing svg").count() == 0
    assert errors and all("404" in e for e in errors), errors
    screenshot(page, "errors")


# --------------------------------------------------------------------------- charts

INK = """(canvas) => {
    const {width, height} = canvas;
    const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    let inked = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
    return inked / (width * height);
}"""


def chart_of(page: Any, table_id: str) -> dict[str, Any]:
    return page.evaluate("""(id) => {
        const table = document.getElementById(id);
        const holder = table.parentElement.classList.contains('table-responsive')
            ? table.parentElement : table;
        const box = holder.previousElementSibling;
        const canvas = box && box.matches('.chart-box') ? box.querySelector('canvas') : null;
        const chart = canvas && Chart.getChart(canvas);
        return chart && {
            type: chart.config.type, label: canvas.getAttribute('aria-label'),
            role: canvas.getAttribute('role'), labels: chart.data.labels,
            series: chart.data.datasets.map((d) => [d.label, d.data]),
            indexAxis: chart.options.indexAxis, stacked: !!(chart.options.scales
                && chart.options.scales.x && chart.options.scales.x.stacked),
            height: box.getBoundingClientRect().height,
        };
    }""", table_id)


def test_charts_are_drawn_from_their_tables(page: Any, static_server: Any,
                                            screenshot: Any) -> None:
    goto(page, static_server, "charts.html")
    page.wait_for_function(f"""() => {{
        const canvases = [...document.querySelectorAll('.chart-box canvas')];
        return canvases.length === 5 && canvases.every((c) => ({INK})(c) > 0.01);
    }}""")

    monthly = chart_of(page, "monthly")
    assert monthly["type"] == "bar" and monthly["role"] == "img"
    assert monthly["label"] == "Laporan per bulan, 2026"
    assert monthly["labels"] == ["Jan", "Feb", "Mar"]  # the tfoot total is not charted
    # Indonesian figures: "1.234" is 1234; data-value wins; "—" is a gap.
    assert monthly["series"] == [["Diterima", [1234, 980, 1500]], ["Selesai", [1100, None, 1400]]]
    assert monthly["height"] >= 250

    speed = chart_of(page, "speed")
    assert speed["type"] == "line"
    assert speed["series"] == [["Rata-rata", [2.5, 3.25, None, 1.75]],
                               ["Median", [2, 3, None, 1.5]]]
    assert chart_of(page, "channels")["type"] == "doughnut"
    assert chart_of(page, "classes")["series"] == [["Laporan", [150, 45, 20]]]

    agencies = chart_of(page, "agencies")  # inside .table-responsive: the chart goes before it
    assert agencies["type"] == "bar" and agencies["stacked"] and agencies["indexAxis"] == "y"
    assert agencies["labels"] == ["Dinas Pekerjaan Umum dan Penataan Ruang",
                                  "Dinas Lingkungan Hidup", "Perumda Air Minum Danum Taka"]
    assert agencies["series"] == [["Tepat waktu", [40, 33, 18]], ["Terlambat", [12, 2, 9]]]
    # Every table stays on the page with its chart.
    assert page.locator("table[data-chart-ready=true]").evaluate_all(
        "(tables) => tables.every((t) => t.offsetHeight > 0)")
    screenshot(page, "charts")

    # A table that htmx swaps in later gets its chart too.
    page.click("#more")
    page.locator("#swapped[data-chart-ready=true]").wait_for()
    assert chart_of(page, "swapped")["series"] == [["Laporan", [64, 21, 17, 30]]]


# --------------------------------------------------------------------------- app.js


def test_htmx_requests_carry_the_csrf_token(page: Any, static_server: Any) -> None:
    goto(page, static_server, "app.html")
    page.click("#hx-send")
    page.locator("#hx-result #echo").wait_for()
    assert "X-CSRFToken=harness-token-1234" in page.inner_text("#hx-result")
    posted = static_server.recorded("/echo")[-1]
    assert posted.method == "POST" and posted.headers["X-CSRFToken"] == "harness-token-1234"
    assert posted.body == "note=halo"
    # htmx's own inline <style> is off (aduan.css styles the indicator instead).
    assert page.locator("head style").count() == 0
    assert page.evaluate("getComputedStyle(document.querySelector('.htmx-indicator')).opacity") \
        == "0"


def test_data_confirm_asks_before_submitting(page: Any, static_server: Any) -> None:
    goto(page, static_server, "app.html")
    page.wait_for_function("window.htmx && document.documentElement.classList.contains('js')")
    asked: list[str] = []
    answers = iter([False, True, False, True])

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", answer)
    page.click("#confirm-hx-send")  # Cancel: no request
    page.wait_for_timeout(300)
    assert not static_server.recorded("/echo")
    page.click("#confirm-hx-send")  # OK: htmx posts
    page.locator("#confirm-result #echo").wait_for()
    assert len(static_server.recorded("/echo")) == 1

    page.click("#confirm-plain-send")  # a plain form: Cancel stays on the page
    page.wait_for_timeout(300)
    assert page.url.endswith("/harness/app.html")
    page.click("#confirm-plain-send")
    page.wait_for_url("**/echo?confirm=plain")
    assert "reason=duplikat" in page.inner_text("#echo")
    # Asked once per press: the button's question, not also its form's submit.
    assert asked == ["Arsipkan laporan ini?"] * 2 + ["Tutup laporan?"] * 2


def test_data_autosubmit_submits_the_form_on_change(page: Any, static_server: Any) -> None:
    goto(page, static_server, "app.html")
    page.wait_for_function("document.documentElement.classList.contains('js')")
    assert not page.is_visible("#apply")  # .hide-with-js
    page.select_option("#status", "CLOSED")
    page.locator("#filter-result #echo").wait_for()
    request = static_server.recorded("/echo")[-1]
    assert request.method == "GET" and request.path == "/echo?status=CLOSED"


@pytest.mark.browser_allow("console_errors")  # the failing setUp below is logged
def test_enhance_sets_up_each_element_once_now_and_after_htmx_swaps(
        page: Any, static_server: Any) -> None:
    goto(page, static_server, "app.html")
    page.wait_for_function("window.Aduan && typeof window.Aduan.enhance === 'function'")
    calls = page.evaluate("""() => {
        const main = document.getElementById('main');
        main.insertAdjacentHTML('beforeend',
            '<div id="p1" data-probe></div><div id="p2" data-probe></div>');
        const calls = [];
        window.Aduan.enhance('[data-probe]', (element) => {
            calls.push(element.id);
            if (element.id === 'p1') { throw new Error('probe failed'); }
        });
        // htmx announces what it swapped in with htmx:load on the new element
        const swapped = document.createElement('section');
        swapped.innerHTML = '<div id="p3" data-probe></div>';
        main.appendChild(swapped);
        swapped.dispatchEvent(new CustomEvent('htmx:load', { bubbles: true }));
        const alone = document.createElement('div');
        alone.id = 'p4';
        alone.setAttribute('data-probe', '');
        main.appendChild(alone);
        alone.dispatchEvent(new CustomEvent('htmx:load', { bubbles: true }));
        // and again for the whole page: nothing is set up twice
        document.body.dispatchEvent(new CustomEvent('htmx:load', { bubbles: true }));
        return calls;
    }""")
    # p1's error does not stop p2; each element exactly once, the swapped root included.
    assert calls == ["p1", "p2", "p3", "p4"]


def test_skip_link_is_the_first_focus_and_visible(page: Any, static_server: Any,
                                                  screenshot: Any) -> None:
    goto(page, static_server, "app.html")
    skip = page.locator(".skip-link")
    assert skip.bounding_box()["width"] <= 1  # hidden until focused
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box["width"] > 50 and box["height"] > 20 and box["x"] >= 0 and box["y"] >= 0
    screenshot(page, "skip-link-focused")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'main'")
    assert page.url.endswith("#main")


def contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_sla_badges_have_aa_contrast(page: Any, static_server: Any, screenshot: Any) -> None:
    goto(page, static_server, "app.html")
    colours = page.evaluate("""() => [...document.querySelectorAll('[class^="sla-"]')].map(
        (e) => [e.className, getComputedStyle(e).color, getComputedStyle(e).backgroundColor])""")
    assert {c[0] for c in colours} == {"sla-green", "sla-amber", "sla-red", "sla-paused",
                                       "sla-done"}
    for name, foreground, background in colours:
        assert contrast(foreground, background) >= 4.5, (name, foreground, background)
    screenshot(page, "app")


# --------------------------------------------------------------------------- the harness itself


def test_the_watch_sees_csp_violations_and_other_hosts(page: Any, static_server: Any,
                                                       request: pytest.FixtureRequest) -> None:
    """What fails every other browser test: here provoked, seen, then forgiven."""
    from tests.browser.conftest import WATCHES

    goto(page, static_server, "app.html")
    page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.inlineRan = true';  // refused: script-src 'self'
        document.body.appendChild(script);
    }""")
    assert page.evaluate("window.inlineRan") is None
    with pytest.raises(Exception, match="ERR_FAILED"):
        page.goto("https://cdn.example.invalid/htmx.min.js")  # aborted before any traffic
    (watch,) = request.node.stash[WATCHES]
    problems = "\n".join(watch.problems(set()))
    assert "Content Security Policy" in problems
    assert "request to another host: https://cdn.example.invalid/htmx.min.js" in problems
    assert watch.problems({"console_errors", "external_requests"}) == []
    watch.console_errors.clear()
    watch.external_requests.clear()
