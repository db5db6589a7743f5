"""The supervisors' dashboard, its exports and the public Statistik page, on the figures of the
seed with known answers (tests/test_stats.py: 2023, 41 received and 41 resolved; 2024 to date,
8 received, 7 resolved, 1 in follow-up)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.test_stats import (
    SECRET_BODY,
    SECRET_REPORTER,
    SECRET_TITLE,
    Seeder,
    seed_the_article,
    wita,
)
from web.pages.statistics import public_sentence
from workflows.models import Agency

SENTENCE_ID = ("Pada tahun 2023, 41 pengaduan, semuanya selesai; tahun 2024 sampai saat ini 8, "
               "7 selesai dan 1 dalam tindak lanjut.")
SENTENCE_EN = ("In 2023, 41 complaints, all resolved; in 2024 so far 8, 7 resolved and 1 in "
               "follow-up.")


@pytest.fixture
def seeded(site):
    """The demo regency's pages on 14 June 2024, with the article's reports."""
    site.regency.clock.set(wita(2024, 6, 14, 10))
    with site.regency.transaction() as session:
        codes = {a.code: a.id for a in session.scalars(select(Agency))}
        seed = Seeder(session, codes)
        seed_the_article(seed)
    return site


def figure(page: str, key: str) -> str:
    found = re.search(rf'id="figure-{key}" data-value="([^"]*)"', page)
    assert found, f"figure {key} missing"
    return found.group(1)


def figures(page: str, *keys: str) -> tuple[str, ...]:
    return tuple(figure(page, key) for key in keys)


def table_row(page: str, table: str, key: str) -> list[str]:
    """The data-values of one row (by data-key) of a table of figures."""
    body = page[page.index(f'id="{table}"'):]
    body = body[:body.index("</table>")]
    row = re.search(rf'<tr data-key="{re.escape(key)}">(.*?)</tr>', body, re.S)
    assert row, (table, key)
    return re.findall(r'data-value="([^"]*)"', row.group(1))


def test_the_dashboard_shows_exactly_the_seeds_numbers(seeded):
    site = seeded
    site.login("admin.kominfo")
    page = site.text(site.get("/dashboard"))  # this year: 2024 to date
    assert figures(page, "received", "closed", "in_progress", "pct") == ("8", "7", "1", "100.0")
    # the report still in follow-up was filed in March: past the Ombudsman's 60 days
    assert figure(page, "ombudsman") == "1"
    ombudsman = page[page.index('id="table-ombudsman"'):]
    assert re.search(r'href="/cases/PPU-2024-\d+"', ombudsman[:ombudsman.index("</table>")])
    page = site.text(site.get("/dashboard?year=2023"))
    assert figures(page, "received", "closed", "in_progress", "archived") == (
        "41", "41", "0", "0")
    assert figure(page, "pct") == "100.0"
    # each figure has its table (the chart is drawn from it)
    for table in ("table-month", "table-agency", "table-category", "table-channel",
                  "table-classification", "table-followed-up", "table-speed",
                  "table-deadlines", "table-escalations-rung", "table-satisfaction",
                  "table-ranking"):
        assert f'id="{table}"' in page
    assert page.count("data-chart=") >= 12 and "js/charts.js" in page
    assert "chart.js/chart.umd.min.js" in page
    # received, verified, dispositioned, archived, returned, in follow-up, closed, followed up %
    assert table_row(page, "table-month", "2023-01") == ["4", "4", "4", "0", "0", "0", "4", "100.0"]
    assert table_row(page, "table-agency", "dinas_pupr")[0] == "11"
    assert table_row(page, "table-category", "roads")[0] == "11"
    assert table_row(page, "table-channel", "whatsapp")[0] == "14"
    assert table_row(page, "table-classification", "pengaduan")[0] == "41"
    assert table_row(page, "table-satisfaction", "dinas_pupr")[0] == "11"
    # the same numbers as the JSON API's
    api = site.regency.get("/api/v1/stats?year=2023", as_="admin.kominfo")
    [speed] = [r for r in api["speed"]["disposition_to_first_answer"]["by_agency"]
               if r["agency"]["code"] == "dinas_pupr"]
    assert table_row(page, "table-speed", "dinas_pupr") == [
        str(speed["count"]), str(speed["mean_days"]), str(speed["median_days"])]
    [rated] = [r for r in api["satisfaction"]["by_agency"] if r["agency"]["code"] == "dlh"]
    assert table_row(page, "table-satisfaction", "dlh")[:2] == ["10", str(rated["mean"])]
    assert len(re.findall(r'<tr data-key="[a-z_]+"><th scope="row">',
                          page[page.index('id="table-ranking"'):])) >= 4
    assert 'id="ranking-explained"' in page and "0.3" in page
    assert 'id="export-csv" href="/dashboard/export.csv?period=year&amp;year=2023"' in page
    site.get("/language/en", expect=302)
    page = site.text(site.get("/dashboard?year=2023"))
    assert "Received" in page and "Followed up (%)" in page and "OPD ranking" in page


def test_each_supervisor_sees_their_scope(seeded):
    site = seeded
    site.login("kadis.pupr")
    page = site.text(site.get("/dashboard?year=2023"))
    assert figures(page, "received", "closed") == ("11", "11")
    options = page[page.index('id="f-agency"'):page.index("</select>", page.index('id="f-agency"'))]
    assert "dinas_pupr" in options and "pupr_bina_marga" in options and "dlh" not in options
    site.get("/dashboard?year=2023&agency=dlh", expect=403)
    site.get("/dashboard/export.csv?year=2023&agency=dlh", expect=403)
    site.logout()
    site.login("sekda")
    page = site.text(site.get("/dashboard?year=2023"))
    assert figure(page, "received") == "41"
    page = site.text(site.get("/dashboard?year=2023&agency=dlh"))
    assert figure(page, "received") == "10"


def test_periods_of_a_month_and_a_range(seeded):
    site = seeded
    site.login("kadis.kominfo")
    page = site.text(site.get("/dashboard?period=month&year=2023&month=1"))
    assert figure(page, "received") == "4"
    assert 'value="1" selected' in page  # the form keeps the month
    page = site.text(site.get("/dashboard?period=range&from=2023-01-01&to=2024-12-31"))
    assert figures(page, "received", "closed", "in_progress") == ("49", "48", "1")
    assert table_row(page, "table-month", "2024-05")[0] == "1"


@pytest.mark.parametrize(("query", "field", "words"), [
    ("year=abc", "year", "antara 2000 dan 2100"),
    ("year=1999", "year", "antara 2000 dan 2100"),
    ("period=month&year=2023&month=13", "month", "Pilih bulan"),
    ("period=range&from=2023-02-30&to=2023-03-01", "from", "TTTT-BB-HH"),
    ("period=range&from=2023-03-01", "to", "hari terakhir"),
    ("period=range&from=2023-03-02&to=2023-03-01", "to", "pada atau sesudah"),
    ("period=week", "period", "Pilih tahun, bulan"),
    ("year=2023&agency=nowhere", "agency", "Tidak ada instansi"),
])
def test_bad_filters_are_named_never_a_500(seeded, query, field, words):
    site = seeded
    site.login("admin.kominfo")
    page = site.text(site.get(f"/dashboard?{query}", expect=422))
    summary = page[page.index('id="error-summary"'):page.index("</div>",
                                                               page.index('id="error-summary"'))]
    assert words in summary and f'href="#f-{field}"' in summary
    assert 'id="figure-received"' not in page
    site.get(f"/dashboard/export.csv?{query}", expect=422)


def test_exports_download_the_figures_of_the_filters(seeded):
    site = seeded
    site.get("/dashboard/export.csv", expect=302)  # sign in first
    site.login("admin.kominfo")
    response = site.get("/dashboard/export.csv?year=2023")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="statistik-2023.csv"'
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    # the page's language: sections, rows and measures named in words, the keys last
    assert rows[0] == ["Bagian", "Baris", "Ukuran", "Nilai", "Kunci bagian", "Kunci baris",
                       "Kunci ukuran"]
    values = {(r[4], r[5], r[6]): r[3] for r in rows[1:]}
    assert values[("totals", "", "received")] == "41"
    assert values[("totals", "", "closed")] == "41"
    named = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert named[("Jumlah laporan", "Kabupaten", "Diterima")] == "41"
    assert named[("Per bulan", "Januari 2023", "Diterima")] == "4"
    assert named[("Periode", "Kabupaten", "Dari")] == "2023-01-01"
    assert not any(r[0] in ("totals", "by_month", "period") for r in rows[1:])

    response = site.get("/dashboard/export.csv?year=2023&agency=dlh")
    assert 'filename="statistik-2023-dlh.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert {(r[4], r[5], r[6]): r[3] for r in rows[1:]}[("totals", "", "received")] == "10"

    response = site.get("/dashboard/export.xlsx?period=month&year=2024&month=5")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert 'filename="statistik-2024-05-01_2024-05-31.xlsx"' in response.headers[
        "Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.get_data()))["Statistik"]
    found = {(r[4], r[5] or "", r[6]): r[3] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert found[("period", "from", "from")] == "2024-05-01"
    assert found[("totals", "", "received")] == 1  # 2024: month i % 5 + 1 is 5 for i = 4 only
    site.get("/language/en", expect=302)
    response = site.get("/dashboard/export.xlsx?period=month&year=2024&month=5")
    sheet = load_workbook(io.BytesIO(response.get_data()))["Statistics"]
    found = list(sheet.iter_rows(values_only=True))
    assert found[0][:4] == ("Section", "Row", "Measure", "Value")
    assert ("Totals", "Regency", "Received", 1, "totals", None, "received") in found
    assert any(r[0] == "Follow-up speed: disposition to first answer" for r in found)
    site.get("/language/id", expect=302)
    site.logout()
    site.login("penghubung.pupr")
    site.get("/dashboard/export.xlsx?year=2023", expect=403)
    site.get("/dashboard", expect=403)


def test_the_public_page_publishes_the_figures_and_the_sentence(seeded):
    site = seeded
    assert 'href="/statistik"' in site.text(site.get("/"))
    page = site.text(site.get("/statistik"))  # no sign-in
    sentence = re.search(r'id="public-sentence">([^<]*)<', page).group(1)
    assert sentence == SENTENCE_ID
    assert figures(page, "received", "closed", "in_progress") == ("8", "7", "1")
    assert '<option value="2024" selected>' in page and '<option value="2015">' in page
    for table in ("table-month", "table-category", "table-agency", "table-channel",
                  "table-speed", "table-satisfaction", "table-followed-up"):
        assert f'id="{table}"' in page
    page = site.text(site.get("/statistik?year=2023"))
    assert figures(page, "received", "closed", "in_progress") == ("41", "41", "0")
    assert re.search(r'id="public-sentence">([^<]*)<', page).group(1) == (
        "Pada tahun 2023, 41 pengaduan, semuanya selesai.")
    assert table_row(page, "table-satisfaction", "dlh")[:2] == ["10", "5.0"]  # odd i: 5 stars
    site.get("/language/en", expect=302)
    page = site.text(site.get("/statistik"))
    assert re.search(r'id="public-sentence">([^<]*)<', page).group(1) == SENTENCE_EN
    for bad in ("abc", "1999", "2101"):
        page = site.text(site.get(f"/statistik?year={bad}", expect=422))
        assert 'id="e-year"' in page and 'id="figure-received"' not in page


def test_the_public_page_leaks_no_report_and_no_person(seeded):
    site = seeded
    with site.regency.transaction() as session:
        codes = {a.code: a.id for a in session.scalars(select(Agency))}
        seed = Seeder(session, codes, count=100)
        seed.report(wita(2024, 3, 4), "IN_PROGRESS", "inspektorat", title=SECRET_TITLE,
                    body=SECRET_BODY, misconduct=True, confidential=True, anonymous=True,
                    reporter_name=SECRET_REPORTER, reporter_email="siti@example.org",
                    reporter_phone="+62811111111", address="Jl. Rahasia No. 7")
        seed.report(wita(2024, 3, 5), "CLOSED", "dinas_pupr", title="Jalan rusak Waru",
                    reporter_name="Budi Santoso Terbuka", reporter_email="budi@example.org")
    page = site.text(site.get("/statistik"))
    assert figure(page, "received") == "10"
    for private in (SECRET_TITLE, SECRET_BODY, SECRET_REPORTER, "siti@example.org",
                    "+62811111111", "Jl. Rahasia", "Budi Santoso Terbuka", "budi@example.org",
                    "Jalan rusak Waru", "PPU-2024-", "PPU-2023-"):
        assert private not in page, private
    site.login("admin.kominfo")  # the dashboard names no report's content either
    page = site.text(site.get("/dashboard"))
    assert SECRET_TITLE not in page and SECRET_REPORTER not in page


def test_the_sentence_says_what_became_of_every_report(site):
    from datetime import date

    def year(number, received, closed, in_progress=0, pending=0, archived=0, returned=0):
        return {"period": {"year": number}, "totals": {
            "received": received, "closed": closed, "in_progress": in_progress,
            "pending": pending, "archived": archived, "returned": returned}}

    today = date(2024, 6, 14)
    with site.client.application.test_request_context("/", headers={"Cookie": "aduan_lang=en"}):
        assert public_sentence(None, year(2024, 0, 0), today) == "In 2024 so far, no complaints."
        assert public_sentence(year(2023, 0, 0), year(2024, 3, 3), today) == (
            "In 2024 so far, 3 complaints, all resolved.")
        assert public_sentence(year(2022, 5, 2, 1, 1, 1), year(2023, 4, 0, 4), today) == (
            "In 2022, 5 complaints, 2 resolved, 1 in follow-up, 1 awaiting verification and "
            "1 archived or outside the regency's authority; in 2023, 4, 4 in follow-up.")
        assert public_sentence(year(2023, 2, 1, 0, 0, 0, 1), year(2024, 0, 0), today) == (
            "In 2023, 2 complaints, 1 resolved and 1 archived or outside the regency's "
            "authority; in 2024 so far none.")
