"""The drill-down from every count of the dashboard and the SLA board to the list of its cases
(/cases with the matching filters, workflows/case_filters.py): each count equals the length
of the list it links to, for every kind of count and every scope; the case-level exports of
such a list; the previous period's deltas."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.test_stats import Seeder, seed_the_article, wita
from workflows import access
from workflows.case_filters import CaseFilter
from workflows.models import Agency, Complaint, SlaRecord, User

NOW = wita(2024, 6, 14, 10)  # a Friday


def seed_the_drill(seed: Seeder) -> dict[str, Complaint]:
    """The article's 49 reports, and 2024's cases of every kind a figure counts: late and
    escalated, due soon, held by a unit, not yet sent to an agency, archived, returned,
    rated, with met, breached and paused deadlines, past the Ombudsman's 60 days."""
    seed_the_article(seed)
    made: dict[str, Complaint] = {}

    def deadline(complaint: Complaint, step: str, state: str, due, *, rung: int = 1,
                 holder: int = 1) -> SlaRecord:
        record = seed.sla(complaint, step, state, due=due, late_days=1.5)
        record.rung, record.holder_rung = rung, holder
        return record

    late = made["late"] = seed.report(wita(2024, 6, 3, 9), "IN_PROGRESS", "dlh",
                                      category="waste", channel="whatsapp",
                                      classification="aspirasi", title="Sampah menumpuk")
    record = deadline(late, "follow_up", "running", wita(2024, 6, 10, 10), rung=2)
    seed.escalation(late, record, 2, "regency_admin")
    seed.escalation(late, record, 1, "opd", status="acknowledged")
    soon = made["soon"] = seed.report(wita(2024, 6, 12, 9), "DISPOSED", "dinas_pupr",
                                      channel="qr")
    deadline(soon, "follow_up", "running", wita(2024, 6, 17, 9))
    unit = made["unit"] = seed.report(wita(2024, 6, 4, 9), "IN_PROGRESS", "dinas_pupr",
                                      unit_id=seed.agencies["pupr_bina_marga"])
    deadline(unit, "follow_up", "running", wita(2024, 6, 11, 9), rung=0, holder=0)
    waiting = made["waiting"] = seed.report(wita(2024, 6, 13, 8), "SUBMITTED", None,
                                            channel="sms", category="water")
    deadline(waiting, "verification", "running", wita(2024, 6, 13, 9), rung=2, holder=2)
    seed.report(wita(2024, 4, 1, 9), "ARCHIVED", None, category="other")
    seed.report(wita(2024, 4, 2, 9), "RETURNED", None, category="permits",
                classification="permintaan_informasi")
    done = made["done"] = seed.report(wita(2024, 5, 20, 9), "CLOSED", "dinkes",
                                      category="health", misconduct=True, rating=2)
    deadline(done, "follow_up", "breached", wita(2024, 5, 22, 9))
    deadline(done, "resolution", "met", wita(2024, 6, 1, 9))
    old = made["old"] = seed.report(wita(2024, 2, 1, 9), "IN_PROGRESS", "dishub",
                                    category="street_lights")
    deadline(old, "follow_up", "paused", wita(2024, 2, 20, 9))
    return made


@pytest.fixture
def drill(site):
    site.regency.clock.set(NOW)
    with site.regency.transaction() as session:
        codes = {a.code: a.id for a in session.scalars(select(Agency))}
        made = seed_the_drill(Seeder(session, codes))
        numbers = {name: c.tracking_number for name, c in made.items()}
    site.numbers = numbers
    return site


LINK = re.compile(r'<a (?:class="[^"]*" )?(?:id="[^"]*" )?href="(/cases\?[^"]+)"[^>]*>'
                  r'([0-9.]+)')
BOARD_LINK = re.compile(r'<a (?:class="[^"]*"\s*)?id="(count-[^"]+)"\s*href="(/cases\?[^"]+)"'
                        r'[^>]*>([0-9.]+)')


def listed_total(site, href: str) -> int:
    page = site.text(site.get(href))
    found = re.search(r'id="cases-count" data-total="(\d+)"', page)
    assert found, href
    return int(found.group(1))


def drill_links(page: str) -> list[tuple[str, int]]:
    return [(html.unescape(href), int(count.replace(".", "")))
            for href, count in LINK.findall(page)]


def kinds(links: list[tuple[str, int]]) -> set[str]:
    """Which filters the links use (besides the period), with the value for some."""
    found = set()
    for href, _ in links:
        for name, value in parse_qsl(urlsplit(href).query):
            if name in ("since", "until"):
                continue
            found.add(f"{name}={value}" if name in ("stage", "deadline_state", "board",
                                                   "escalation", "rating") else name)
    return found


@pytest.mark.parametrize("user", ["admin.kominfo", "kadis.kominfo", "kadis.pupr"])
def test_every_count_of_the_dashboard_equals_the_list_it_links_to(drill, user):
    site = drill
    site.login(user)
    for query in ("", "?period=month&year=2024&month=6", "?year=2023"):
        page = site.text(site.get(f"/dashboard{query}"))
        links = drill_links(page)
        assert links, query
        for href, count in links:
            assert listed_total(site, href) == count, (user, href)
    if user != "admin.kominfo":
        return
    page = site.text(site.get("/dashboard"))
    found = kinds(drill_links(page))
    for kind in ("stage=received", "stage=verified", "stage=dispositioned", "stage=closed",
                 "stage=in_progress", "stage=pending", "stage=archived", "stage=returned",
                 "stage=disposition_to_first_answer", "stage=submission_to_closure",
                 "agency", "category", "channel", "classification", "rating=any",
                 "deadline_state=met", "deadline_state=breached", "deadline_state=open",
                 "deadline_state=overdue", "escalation=open", "escalated", "ombudsman"):
        assert kind in found, kind
    # a chosen agency narrows the links to its tree
    page = site.text(site.get("/dashboard?agency=dinas_pupr"))
    links = drill_links(page)
    assert links and all("scope=dinas_pupr" in href for href, _ in links)
    for href, count in links:
        assert listed_total(site, href) == count, href


def test_the_lists_behind_the_counts_hold_the_right_cases(drill):
    site = drill
    site.login("kadis.kominfo")  # Diskominfo's head: the whole regency, unsent reports too
    page = site.text(site.get("/cases?since=2024-01-01&until=2024-12-31&agency=none"
                              "&stage=pending"))
    assert site.numbers["waiting"] in page and "Belum didisposisi" in page
    assert 'id="drill-filters"' in page
    page = site.text(site.get("/cases?since=2024-01-01&until=2024-12-31&escalated="
                              "regency_admin&escalation=open"))
    assert site.numbers["late"] in page and site.numbers["soon"] not in page
    # the filters stay when another is chosen, and in the pages' links
    assert '<input type="hidden" name="escalated" value="regency_admin">' in page
    site.logout()
    site.login("kadis.pupr")  # PUPR's head: PUPR's tree only
    page = site.text(site.get("/cases?deadline=any&deadline_state=overdue"))
    assert site.numbers["unit"] in page and site.numbers["late"] not in page
    assert listed_total(site, "/cases?agency=none") == 0  # not Diskominfo: none unsent
    site.get("/cases?scope=dlh", expect=403)  # another OPD's tree
    site.get("/cases/export.csv?scope=dlh", expect=403)


@pytest.mark.parametrize(("query", "field"), [
    ("stage=late", "stage"), ("deadline=never", "deadline"), ("board=later", "board"),
    ("rating=9", "rating"), ("deadline_state=met", "deadline"), ("scope=nowhere", "scope"),
    ("category=spaceships", "category"), ("rung=top", "rung"),
])
def test_bad_drill_filters_are_named_never_a_500(drill, query, field):
    site = drill
    site.login("admin.kominfo")
    page = site.text(site.get(f"/cases?{query}", expect=422))
    assert f'href="#c-{field}"' in page
    site.get(f"/cases/export.csv?{query}", expect=422)


@pytest.mark.parametrize("user", ["sekda", "kadis.pupr", "kadis.kominfo"])
def test_every_count_of_the_board_equals_the_list_it_links_to(drill, user):
    site = drill
    site.login(user)
    page = site.text(site.get("/board"))
    links = [(html.unescape(href), int(n)) for _, href, n in BOARD_LINK.findall(page)]
    assert links
    for href, count in links:
        assert listed_total(site, href) == count, (user, href)
    found = kinds(links)
    assert "open" in found and "board=overdue" in found
    if user != "kadis.pupr":
        for kind in ("board=due_soon", "board=escalated", "agency", "rung"):
            assert kind in found, kind
        assert any("agency=none" in href for href, _ in links)  # not yet sent


def test_the_case_exports_hold_the_filtered_cases_the_caller_may_see(drill):
    site = drill
    site.get("/cases/export.csv", expect=302)  # sign in first
    site.login("kadis.pupr")
    response = site.get("/cases/export.csv?since=2024-01-01&until=2024-12-31")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="laporan-2024-01-01-2024-12-31.csv"')
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Nomor laporan", "Judul", "Kategori", "Instansi", "Status", "Masuk",
                       "Tenggat saat ini", "Terlambat", "Tingkat eskalasi yang dicapai",
                       "Selesai"]
    numbers = {r[0] for r in rows[1:]}
    assert site.numbers["unit"] in numbers and site.numbers["soon"] in numbers
    assert site.numbers["late"] not in numbers  # DLH's: not PUPR's head's to see
    assert len(rows) - 1 == listed_total(site, "/cases?since=2024-01-01&until=2024-12-31")
    [unit] = [r for r in rows if r[0] == site.numbers["unit"]]
    assert unit[3] == "Dinas Pekerjaan Umum dan Penataan Ruang" and unit[7] == "ya"
    assert unit[6].startswith("2024-06-11")

    site.logout()
    site.login("admin.kominfo")
    site.get("/language/en", expect=302)
    response = site.get("/cases/export.xlsx?since=2024-01-01&until=2024-12-31"
                        "&escalated=any")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book[book.sheetnames[0]]
    found = list(sheet.iter_rows(values_only=True))
    assert found[0][:3] == ("Tracking number", "Title", "Category")
    assert [r[0] for r in found[1:]] == [site.numbers["late"]]
    late = found[1]
    assert late[1] == "Sampah menumpuk" and late[2] == "Waste" and late[3] == (
        "Dinas Lingkungan Hidup") and late[7] == "yes"
    assert late[8] == "OPD head, Regency administrator"  # rungs reached, in order
    assert late[9] is None  # not closed


def test_a_large_export_streams_every_row(drill):
    site = drill
    with site.regency.transaction() as session:
        codes = {a.code: a.id for a in session.scalars(select(Agency))}
        seed = Seeder(session, codes, count=1000)
        for i in range(1203):
            seed.report(wita(2022, 1 + i % 12, 1 + i % 28, 9), "CLOSED", "dlh")
    site.login("kadis.kominfo")
    response = site.get("/cases/export.csv?since=2022-01-01&until=2022-12-31",
                        buffered=False)
    assert response.is_streamed
    text = b"".join(response.response).decode("utf-8")
    assert len(text.strip().splitlines()) == 1 + 1203


def test_the_dashboard_compares_with_the_period_before(drill):
    site = drill
    site.login("admin.kominfo")
    page = site.text(site.get("/dashboard?period=month&year=2024&month=6"))
    # June 2024 to the 14th against May 2024 to the 14th
    assert 'id="previous-period"' in page and "1 Mei 2024" in page and "14 Mei 2024" in page
    received = re.search(r'id="delta-received" data-delta="(-?\d+)"', page)
    with site.regency.transaction() as session:
        june = len([c for c in session.scalars(select(Complaint))
                    if wita(2024, 6, 1, 0) <= c.created_at < wita(2024, 6, 15, 0)])
        may = len([c for c in session.scalars(select(Complaint))
                   if wita(2024, 5, 1, 0) <= c.created_at < wita(2024, 5, 15, 0)])
    assert received and int(received.group(1)) == june - may
    page = site.text(site.get("/dashboard?year=2024"))  # to date: 2023 to 14 June
    assert "14 Jun 2023" in page or "14 Juni 2023" in page
    page = site.text(site.get("/dashboard?year=2000"))  # nothing before
    assert 'id="previous-period"' not in page


def test_the_ranking_explains_itself_on_the_page(drill):
    site = drill
    site.login("admin.kominfo")
    page = site.text(site.get("/dashboard"))
    assert "docs/statistics.md" not in page
    assert 'href="#figures-explained"' in page and 'id="figures-explained"' in page


def test_late_by_a_day_is_late_today(drill):
    """The list's deadline filter reads the clock: what was due soon is overdue later."""
    site = drill
    site.login("kadis.pupr")
    href = "/cases?deadline=follow_up&deadline_state=overdue"
    before = listed_total(site, href)
    site.regency.clock.set(NOW + timedelta(days=4))
    site.login("kadis.pupr")
    assert listed_total(site, href) == before + 1  # the one due on Monday


# --------------------------------------------------------------------------- the map


def seed_positions(site, count: int = 600) -> None:
    """Open reports spread over Penajam, in three kelurahan, some late; and one closed."""
    with site.regency.transaction() as session:
        codes = {a.code: a.id for a in session.scalars(select(Agency))}
        seed = Seeder(session, codes, count=5000)
        kelurahan = ("Nipah-Nipah", "Gunung Seteleng", "Waru")
        for i in range(count):
            agency = ("dinas_pupr", "dlh")[i % 2]
            report = seed.report(wita(2024, 5, 1 + i % 28, 9), "IN_PROGRESS", agency,
                                 latitude=-1.20 - (i % 37) * 0.011,
                                 longitude=116.70 + (i % 41) * 0.0093,
                                 kelurahan=kelurahan[i % 3] if i % 10 else None)
            if i % 4 == 0:
                seed.sla(report, "follow_up", "running", due=wita(2024, 6, 3, 9))
        seed.report(wita(2024, 5, 2, 9), "CLOSED", "dlh", latitude=-1.25, longitude=116.8,
                    kelurahan="Waru")


def test_the_map_counts_squares_and_kelurahan_each_linked_to_its_list(drill):
    site = drill
    seed_positions(site)
    site.get("/board/map", expect=302)  # sign in first
    site.login("penghubung.pupr")
    site.get("/board/map", expect=403)
    site.get("/board/map/cells.json?zoom=12", expect=403)
    site.logout()
    for user, expected in (("kadis.kominfo", 600), ("kadis.pupr", 300)):
        site.login(user)
        page = site.text(site.get("/board/map"))
        assert 'data-case-map' in page and "js/case-map.js" in page
        assert "vendor/leaflet/leaflet.js" in page and "unpkg" not in page
        table = page[page.index('id="table-kelurahan"'):]
        links = drill_links(table[:table.index("</table>")])
        assert len(links) == 6  # three kelurahan, open and late
        for href, count in links:
            assert listed_total(site, href) == count, href
        named = [i for i in range(600) if i % 10 and (user != "kadis.pupr" or i % 2 == 0)]
        assert sum(n for h, n in links if "deadline" not in h) == len(named)
        for zoom in (8, 12, 15):
            grid = site.get(f"/board/map/cells.json?zoom={zoom}").get_json()
            assert grid["open"] == expected and grid["cells"]
            assert grid["late"] == 150  # every fourth, all of them PUPR's
            # a coarse zoom gathers the reports into few squares: never a marker each
            assert len(grid["cells"]) <= (9 if zoom == 8 else expected)
            for cell in grid["cells"][:5]:
                href = f"/cases?open=1&area={cell['area']}"
                assert listed_total(site, href) == cell["open"], href
                assert listed_total(site, href + "&deadline=any&deadline_state=overdue") \
                    == cell["late"]
        # a box narrows the squares, whole squares only
        part = site.get("/board/map/cells.json?zoom=15&bbox=-1.3,116.7,-1.2,116.8").get_json()
        assert 0 < part["open"] < expected
        for cell in part["cells"][:3]:
            assert listed_total(site, f"/cases?open=1&area={cell['area']}") == cell["open"]
        site.logout()
    site.login("admin.kominfo")
    bad = site.get("/board/map/cells.json?zoom=40", expect=422).get_json()
    assert "zoom" in bad["errors"]
    bad = site.get("/board/map/cells.json?zoom=12&bbox=north", expect=422).get_json()
    assert "bbox" in bad["errors"]
    site.get("/cases?area=1,2,3", expect=422)


# --------------------------------------------------------------------------- both databases


def test_the_lists_equal_the_figures_on_both_databases(regency):
    """The drill-down's conditions and the map's grid in SQL of either database (the page
    tests above run on SQLite): each figure's count against its list's total, through the
    use cases."""
    regency.clock.set(NOW)
    with regency.transaction() as session:
        codes = {a.code: a.id for a in session.scalars(select(Agency))}
        seeder = Seeder(session, codes)
        seed_the_drill(seeder)
        for i in range(60):
            report = seeder.report(wita(2024, 5, 1 + i % 28, 9), "IN_PROGRESS", "dlh",
                                   latitude=-1.2 - (i % 7) * 0.01, longitude=116.7 + i * 0.003,
                                   kelurahan=("Waru", "Nipah-Nipah")[i % 2])
            if i % 3 == 0:
                seeder.sla(report, "follow_up", "running", due=wita(2024, 6, 3, 9))
        user = session.scalars(select(User).where(User.username == "kadis.kominfo")).one()
        principal = access.principal_for(session, user)
    domain = regency.domain
    figures = domain.figures.officer(principal, year="2024")

    def total(**filters) -> int:
        return domain.reports.list(principal, filters=CaseFilter(**filters), limit=1,
                                   since=None, until=None)["total"]

    def in_2024(**filters) -> int:
        return domain.reports.list(principal, filters=CaseFilter(**filters), limit=1,
                                   since=date(2024, 1, 1), until=date(2024, 12, 31))["total"]

    totals = figures["totals"]
    for stage in ("received", "verified", "dispositioned", "pending", "in_progress", "closed",
                  "archived", "returned"):
        assert in_2024(stage=stage) == totals[stage], stage
    for row in figures["deadlines"]["classes"]:
        for state in ("met", "breached", "open", "overdue"):
            assert in_2024(deadline=row["key"], deadline_state=state) == row["reports"][state]
    for row in figures["escalations"]["by_rung"]:
        assert in_2024(escalated=row["key"]) == row["reports"]
    assert in_2024(ombudsman=True) == figures["ombudsman"]["total"]
    assert in_2024(agency="none") == next(r["received"] for r in figures["breakdowns"]["agency"]
                                          if r["key"] is None)
    board = domain.supervision.board_page(principal).board
    for row in board["rows"]:
        for state in ("due_soon", "overdue", "escalated"):
            assert total(board=state, agency=row["key"]) == row["total"][state]
        assert total(open=True, agency=row["key"]) == row["open"]
    found = domain.supervision.case_map(principal, zoom=13, bbox=None)
    assert found["grid"]["open"] == 60 and found["grid"]["late"] == 20
    for cell in found["grid"]["cells"]:
        assert total(open=True, area=cell["area"]) == cell["open"]
        assert total(open=True, area=cell["area"], deadline="any",
                     deadline_state="overdue") == cell["late"]
    for row in found["kelurahan"]["rows"]:
        assert total(open=True, kelurahan=row["kelurahan"]) == row["open"]
