"""Statistics with known answers: counts, follow-up, working-day speed, deadlines, ranking,
the public figures and the exports; on SQLite and PostgreSQL.

Long on purpose: the one test module of its subject, each test a sentence about one
behaviour; splitting it would scatter what a reader of the subject wants together.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from openpyxl import load_workbook
from sqlalchemy import create_engine, text, update

import migrations
from engine import Engine, FrozenClock
from tests.regency import build
from workflows import access, demo, readcache, stats, stats_export
from workflows.calendar import WorkingCalendar
from workflows.calendar_admin import set_day
from workflows.config import RegencyConfig
from workflows.models import Agency, CalendarDay, Complaint, Escalation, Setting, SlaRecord
from workflows.workdays import calendar_for, calendar_of

WITA = ZoneInfo("Asia/Makassar")
CONFIG = RegencyConfig()
SECRET_TITLE = "Pungli loket KTP-el oleh oknum XYZ"
SECRET_BODY = "Petugas loket meminta uang Rp50.000 untuk mempercepat KTP-el."
SECRET_REPORTER = "Siti Pelapor Rahasia"


def wita(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WITA)


HOUR = timedelta(hours=1)
# Which timestamps a status implies, when a test does not give them.
REACHED = {
    "SUBMITTED": (), "NEEDS_INFO": (), "ARCHIVED": (),
    "VERIFIED": ("verified",), "POSTPONED": ("verified",), "RETURNED": ("verified",),
    "DISPOSED": ("verified", "disposed"),
    "IN_PROGRESS": ("verified", "disposed", "answered"),
    "RESPONDED": ("verified", "disposed", "answered"),
    "CLOSED": ("verified", "disposed", "answered", "closed"),
}


@dataclass
class Seeder:
    """Inserts reports as they would stand after their lifecycle, with chosen timestamps."""

    session: Any
    agencies: dict[str, int] = field(default_factory=dict)
    count: int = 0

    def report(self, created: datetime, status: str = "CLOSED", agency: str | None = None,
               **given: Any) -> Complaint:
        self.count += 1
        stamps: dict[str, datetime | None] = {}
        previous = created
        for name in ("verified", "disposed", "answered", "closed"):
            if name in given:
                stamps[name] = given.pop(name)
            elif name in REACHED[status]:
                stamps[name] = previous + HOUR
            else:
                stamps[name] = None
            previous = stamps[name] or previous
        if agency is None and stamps["disposed"] is not None:
            agency = "dinas_pupr"
        complaint = Complaint(
            tracking_number=f"PPU-{created.year}-{self.count:06d}", secret_hash="x" * 64,
            classification=given.pop("classification", "pengaduan"),
            misconduct=given.pop("misconduct", False),
            category=given.pop("category", "roads"), title=given.pop("title", "Jalan rusak"),
            body=given.pop("body", "Jalan rusak di depan sekolah."),
            channel=given.pop("channel", "web"), status=status,
            agency_id=self.agencies[agency] if agency else None, created_at=created,
            updated_at=created, verified_at=stamps["verified"],
            disposed_at=stamps["disposed"], first_answer_at=stamps["answered"],
            closed_at=stamps["closed"], **given)
        self.session.add(complaint)
        self.session.flush()
        return complaint

    def sla(self, complaint: Complaint, step: str, state: str, *, due: datetime,
            late_days: float = 0.0, budget: float = 5.0) -> SlaRecord:
        record = SlaRecord(
            complaint_id=complaint.id, step=step, budget_days=budget, holder_rung=1,
            started_at=complaint.created_at, due_at=due, pauses=[], state=state,
            ended_at=None if state in ("running", "paused") else due,
            late_seconds=late_days * 86400 if state == "breached" else
            (0.0 if state == "met" else None), rung=1, reminded_rungs=[])
        self.session.add(record)
        self.session.flush()
        return record

    def escalation(self, complaint: Complaint, record: SlaRecord, rung: int, rung_name: str,
                   status: str = "open") -> None:
        self.session.add(Escalation(
            complaint_id=complaint.id, sla_id=record.id, step=record.step, rung=rung,
            rung_name=rung_name, agency_id=complaint.agency_id, at=record.due_at,
            due_at=record.due_at, status=status))


@pytest.fixture
def db(database_url):
    """A migrated database with the demo regency's agencies, and a seeder."""
    engine = Engine(database_url, clock=FrozenClock(wita(2026, 6, 1)))
    with engine.store.transaction() as session:
        codes = {code: agency.id for code, agency in demo.load_agencies(session).items()}
    yield engine, codes
    engine.dispose()


def figures(engine: Engine, now: datetime, period: stats.Period | None = None,
            **kwargs: Any) -> dict[str, Any]:
    period = period or stats.Period(date(now.year, 1, 1), date(now.year, 12, 31), now.year)
    with engine.store.read() as session:
        return stats.compute(session, CONFIG, period, now, **kwargs)


def row(items: list[dict[str, Any]], key: Any) -> dict[str, Any]:
    found = [i for i in items if i.get("key", i.get("agency", {}).get("code")) == key]
    assert len(found) == 1, (key, items)
    return found[0]


def by_agency(items: list[dict[str, Any]], code: str | None) -> dict[str, Any]:
    found = [i for i in items if i["agency"]["code"] == code]
    assert len(found) == 1, (code, items)
    return found[0]


# --------------------------------------------------------------------------- the seed


def seed_the_article(seed: Seeder) -> None:
    """PPU in the news: 2023, 41 complaints, all resolved; 2024 so far 8, 7 resolved."""
    agencies = ("dinas_pupr", "dlh", "dishub", "dinkes")
    for i in range(41):
        created = wita(2023, i % 12 + 1, 1 + (i // 12) * 7, 9)
        seed.report(created, "CLOSED", agencies[i % 4],
                    category=("roads", "waste", "street_lights", "health")[i % 4],
                    channel=("web", "whatsapp", "sms")[i % 3], rating=4 + i % 2)
    for i in range(8):
        created = wita(2024, i % 5 + 1, 3 + i, 9)
        seed.report(created, "CLOSED" if i < 7 else "IN_PROGRESS", agencies[i % 4])


@pytest.fixture
def article(database_url, tmp_path):
    clock = FrozenClock(wita(2024, 6, 14, 10))
    regency = build(database_url, clock, tmp_path)
    with regency.transaction() as session:
        codes = {a.code: a.id for a in session.query(Agency)}
        seed_the_article(Seeder(session, codes))
    yield regency
    regency.engine.dispose()


def test_the_seed_numbers_show_exactly_in_the_api_and_the_public_api(article):
    year_2023 = article.get("/api/v1/stats?year=2023", as_="admin.kominfo")
    assert {k: year_2023["totals"][k] for k in ("received", "closed", "in_progress")} == {
        "received": 41, "closed": 41, "in_progress": 0}
    assert year_2023["followed_up"] == {"base": 41, "closed": 41, "in_progress": 0,
                                        "pct": 100.0, "pct_closed": 100.0,
                                        "pct_in_progress": 0.0}
    to_date = article.get("/api/v1/stats", as_="admin.kominfo")  # this year: 2024
    assert to_date["period"] == {"year": 2024, "from": "2024-01-01", "to": "2024-12-31"}
    assert {k: to_date["totals"][k] for k in ("received", "closed", "in_progress")} == {
        "received": 8, "closed": 7, "in_progress": 1}
    assert to_date["followed_up"] == {"base": 8, "closed": 7, "in_progress": 1, "pct": 100.0,
                                      "pct_closed": 87.5, "pct_in_progress": 12.5}
    assert to_date["totals"]["by_status"]["IN_PROGRESS"]["count"] == 1
    assert '"agency_id"' not in json.dumps(to_date)  # agencies go by code

    for year, expected in ((2023, (41, 41, 0)), (2024, (8, 7, 1))):
        public = article.get(f"/api/v1/stats/public?year={year}")
        assert (public["totals"]["received"], public["totals"]["closed"],
                public["totals"]["in_progress"]) == expected
    assert article.get("/api/v1/stats/public")["totals"]["received"] == 8

    both = article.get("/api/v1/stats?from=2023-01-01&to=2024-12-31", as_="kadis.kominfo")
    years = [(r["key"], r["received"], r["closed"], r["in_progress"])
             for r in both["breakdowns"]["year"]]
    assert years == [(2023, 41, 41, 0), (2024, 8, 7, 1)]
    months = {r["key"]: r["received"] for r in both["breakdowns"]["month"]}
    assert months["2023-01"] == 4 and months["2024-05"] == 1 and sum(months.values()) == 49
    assert row(both["breakdowns"]["month"], "2023-03")["label"] == {
        "id": "Maret 2023", "en": "March 2023"}
    assert row(year_2023["breakdowns"]["category"], "roads")["received"] == 11
    assert row(year_2023["breakdowns"]["channel"], "whatsapp")["received"] == 14
    assert year_2023["satisfaction"]["regency"]["count"] == 41
    assert year_2023["satisfaction"]["regency"]["distribution"] == {
        "1": 0, "2": 0, "3": 0, "4": 21, "5": 20}


def test_each_officer_sees_the_figures_of_their_scope(article):
    pupr = article.get("/api/v1/stats?year=2023", as_="penghubung.pupr")
    assert pupr["scope"] == {"agency": "dinas_pupr",
                             "name": "Dinas Pekerjaan Umum dan Penataan Ruang"}
    assert pupr["totals"]["received"] == 11  # 41 spread over four OPDs, PUPR first
    assert [r["key"] for r in pupr["breakdowns"]["agency"]] == ["dinas_pupr"]
    assert article.get("/api/v1/stats?year=2023", as_="kadis.pupr")["totals"]["received"] == 11
    for regency_wide in ("admin.kominfo", "kadis.kominfo", "sekda", "admin.kaltim"):
        assert article.get("/api/v1/stats?year=2023",
                           as_=regency_wide)["totals"]["received"] == 41
    dlh = article.get("/api/v1/stats?year=2023&agency=dlh", as_="sekda")
    assert dlh["scope"]["agency"] == "dlh" and dlh["totals"]["received"] == 10
    assert article.get("/api/v1/stats?year=2023&agency=ppu",
                       as_="sekda")["totals"]["received"] == 41
    refused = article.get("/api/v1/stats?agency=dlh", as_="penghubung.pupr", expect=403)
    assert "dinas_pupr" in refused["error"]["message"]
    article.get("/api/v1/stats?agency=pupr_bina_marga", as_="penghubung.pupr")
    article.get("/api/v1/stats", as_="perancang", expect=403)  # a process designer
    assert article.client.get("/api/v1/stats").status_code == 401


@pytest.mark.parametrize(("query", "field"), [
    ("year=abc", "year"), ("year=1999", "year"), ("year=2024&from=2024-01-01", "year"),
    ("from=2024-01-01", "to"), ("to=2024-01-01", "from"), ("from=2024-13-01&to=2024-12-31",
                                                          "from"),
    ("from=2024-06-01&to=2024-05-31", "to"), ("agency=nowhere", "agency"),
])
def test_bad_parameters_get_a_422_that_names_the_field(article, query, field):
    for path in ("/api/v1/stats", "/api/v1/stats/export.csv", "/api/v1/stats/export.xlsx"):
        answer = article.get(f"{path}?{query}", as_="admin.kominfo", expect=422)
        assert field in answer["error"]["field_errors"], answer
    if query.startswith("year=abc"):
        answer = article.get(f"/api/v1/stats/public?{query}", expect=422)
        assert "year" in answer["error"]["field_errors"]


def test_csv_and_xlsx_hold_the_same_numbers(article):
    response = article.client.get("/api/v1/stats/export.csv?year=2024",
                                  headers=article.headers("admin.kominfo"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="statistik-2024.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["bagian", "kunci", "label", "ukuran", "keterangan", "nilai"]
    values = {(r[0], r[1], r[3]): r[5] for r in rows[1:]}
    assert values[("totals", "", "received")] == "8"
    assert values[("followed_up", "", "pct_closed")] == "87.5"
    assert values[("by_month", "2024-01", "received")] == "2"
    assert [rows[5][i] for i in (0, 2, 3, 4)] == ["totals", "Kabupaten", "received",
                                                  "Diterima"]

    response = article.client.get("/api/v1/stats/export.xlsx?year=2024",
                                  headers=article.headers("admin.kominfo"))
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data))["Statistik"]
    xlsx = [["" if v is None else v for v in r]
            for r in sheet.iter_rows(max_col=6, values_only=True)]
    assert len(xlsx) == len(rows) > 100
    for from_csv, from_xlsx in zip(rows, xlsx, strict=True):
        assert from_csv[:5] == [str(v) for v in from_xlsx[:5]]
        if isinstance(from_xlsx[5], int | float):
            assert float(from_csv[5]) == pytest.approx(from_xlsx[5])
        else:
            assert from_csv[5] == from_xlsx[5]
    as_json = article.get("/api/v1/stats?year=2024", as_="admin.kominfo")
    assert float(values[("speed.disposition_to_first_answer", "", "mean_days")]) == (
        as_json["speed"]["disposition_to_first_answer"]["regency"]["mean_days"])


# --------------------------------------------------------------------------- counts


def test_counts_follow_the_status_each_report_reached(db):
    engine, codes = db
    now = wita(2026, 6, 1)
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        for status in ("SUBMITTED", "NEEDS_INFO", "VERIFIED", "ARCHIVED", "RETURNED",
                       "POSTPONED", "DISPOSED", "IN_PROGRESS", "RESPONDED", "CLOSED"):
            seed.report(wita(2026, 3, 2), status)
    totals = figures(engine, now)["totals"]
    assert {k: totals[k] for k in stats.COUNTS} == {
        "received": 10, "verified": 7, "dispositioned": 4, "answered": 3, "pending": 4,
        "archived": 1, "returned": 1, "in_progress": 3, "closed": 1}
    assert figures(engine, now)["followed_up"] == {
        "base": 8, "closed": 1, "in_progress": 3, "pct": 50.0, "pct_closed": 12.5,
        "pct_in_progress": 37.5}


def test_periods_and_months_are_cut_on_the_regency_clock(db):
    engine, codes = db
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        seed.report(wita(2025, 12, 31, 23, 30), "SUBMITTED")  # 15:30 UTC: still 2025
        seed.report(wita(2026, 1, 1, 0, 30), "SUBMITTED")  # 31 Dec 16:30 UTC: 2026
        seed.report(wita(2026, 1, 31, 23, 59), "SUBMITTED", channel="sms")
        seed.report(wita(2026, 2, 1, 0, 1), "SUBMITTED", channel="whatsapp",
                    classification="aspirasi", category="waste")
    now = wita(2026, 6, 1)
    this_year = figures(engine, now)
    assert this_year["totals"]["received"] == 3
    assert [(r["key"], r["received"]) for r in this_year["breakdowns"]["month"]] == [
        ("2026-01", 2), ("2026-02", 1)]
    assert [(r["key"], r["received"]) for r in this_year["breakdowns"]["channel"]] == [
        ("web", 1), ("whatsapp", 1), ("sms", 1)]
    assert [(r["key"], r["received"]) for r in this_year["breakdowns"]["classification"]] == [
        ("pengaduan", 2), ("aspirasi", 1)]
    assert row(this_year["breakdowns"]["category"], "waste")["label"]["id"] == "Sampah"
    assert row(this_year["breakdowns"]["agency"], None)["label"]["id"] == "Belum didisposisi"
    last_year = figures(engine, now, stats.Period(date(2025, 1, 1), date(2025, 12, 31), 2025))
    assert last_year["totals"]["received"] == 1
    one_day = figures(engine, now, stats.Period(date(2026, 1, 31), date(2026, 1, 31)))
    assert one_day["totals"]["received"] == 1


def test_an_agency_scope_counts_its_units_reports(db):
    engine, codes = db
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        seed.report(wita(2026, 3, 2), "DISPOSED", "dinas_pupr")
        unit = seed.report(wita(2026, 3, 2), "DISPOSED", "dinas_pupr")
        unit.unit_id = codes["pupr_bina_marga"]
        seed.report(wita(2026, 3, 2), "DISPOSED", "dlh")
        seed.report(wita(2026, 3, 2), "SUBMITTED")
    with engine.store.read() as session:
        tree = access.subtree(session, codes["dinas_pupr"])
        units = access.subtree(session, codes["pupr_bina_marga"])
    now = wita(2026, 6, 1)
    assert figures(engine, now, scope=stats.Scope(tree))["totals"]["received"] == 2
    assert figures(engine, now, scope=stats.Scope(units))["totals"]["received"] == 1
    assert figures(engine, now)["totals"]["received"] == 4


# --------------------------------------------------------------------------- speed


def test_working_day_means_and_medians_are_right_across_the_nyepi_and_lebaran_holidays(db):
    engine, codes = db
    calendar = WorkingCalendar("Asia/Makassar")
    # (agency, disposed, first answer, working days by hand)
    cases = [
        # Tue 17 Mar 10:00 -> Fri 27 Mar 10:00: 18-24 March are Nyepi, Idul Fitri and
        # cuti bersama, so 14 h of the 17th + the 25th + the 26th + 10 h of the 27th.
        ("dinas_pupr", wita(2026, 3, 17), wita(2026, 3, 27), 3.0),
        ("dinas_pupr", wita(2026, 3, 2, 9), wita(2026, 3, 3, 9), 1.0),  # Mon -> Tue
        ("dlh", wita(2026, 3, 13, 16), wita(2026, 3, 16, 16), 1.0),  # Fri -> Mon
        ("dlh", wita(2026, 3, 18, 8), wita(2026, 3, 25, 12), 0.5),  # from a holiday
        ("dlh", wita(2026, 3, 26, 12), wita(2026, 4, 1, 12), 4.0),  # Thu -> Wed
    ]
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        for agency, disposed, answered, days in cases:
            assert calendar.working_days_between(disposed, answered) == days
            seed.report(disposed - timedelta(days=1), "RESPONDED", agency,
                        verified=disposed - HOUR, disposed=disposed, answered=answered)
        # Submitted Mon 16 Mar 10:00, verified Tue 17 Mar 10:00 (1 day), closed Mon 30 Mar
        # 10:00: 14 h + the 17th + 25th-27th + 10 h = 5 working days.
        seed.report(wita(2026, 3, 16), "CLOSED", "dishub", verified=wita(2026, 3, 17),
                    disposed=wita(2026, 3, 17, 11), answered=wita(2026, 3, 17, 11),
                    closed=wita(2026, 3, 30))
    speed = figures(engine, wita(2026, 6, 1))["speed"]
    follow_up = speed["disposition_to_first_answer"]
    # [3, 1, 1, 0.5, 4, 0]: the dishub answer came at once (0)
    assert follow_up["regency"] == {"count": 6, "mean_days": 1.58, "median_days": 1.0}
    assert by_agency(follow_up["by_agency"], "dinas_pupr") == {
        "agency": {"code": "dinas_pupr", "label": {
            "id": "Dinas Pekerjaan Umum dan Penataan Ruang",
            "en": "Dinas Pekerjaan Umum dan Penataan Ruang"}},
        "count": 2, "mean_days": 2.0, "median_days": 2.0}
    dlh = by_agency(follow_up["by_agency"], "dlh")
    assert (dlh["count"], dlh["mean_days"], dlh["median_days"]) == (3, 1.83, 1.0)
    closure = speed["submission_to_closure"]
    assert closure["regency"] == {"count": 1, "mean_days": 5.0, "median_days": 5.0}
    verification = by_agency(speed["submission_to_verification"]["by_agency"], "dishub")
    assert (verification["mean_days"], verification["median_days"]) == (1.0, 1.0)
    assert follow_up["label"]["id"].startswith("Rata-rata laju tindak lanjut")


def test_a_day_off_added_by_decree_shortens_the_working_time(db):
    engine, codes = db
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        seed.report(wita(2026, 3, 30), "RESPONDED", "dlh", disposed=wita(2026, 3, 30, 10),
                    answered=wita(2026, 4, 2, 10))  # Mon -> Thu: 3 working days
    now = wita(2026, 6, 1)
    assert figures(engine, now)["speed"]["disposition_to_first_answer"]["regency"][
        "mean_days"] == 3.0
    with engine.store.transaction() as session:
        set_day(session, date(2026, 3, 31), "day_off", "Cuti Bersama (contoh)", "sysadmin")
    assert figures(engine, now)["speed"]["disposition_to_first_answer"]["regency"][
        "mean_days"] == 2.0


def test_no_answers_yet_means_no_speed(db):
    engine, codes = db
    with engine.store.transaction() as session:
        Seeder(session, codes).report(wita(2026, 3, 2), "SUBMITTED")
    speed = figures(engine, wita(2026, 6, 1))["speed"]
    assert speed["disposition_to_first_answer"]["regency"] == {
        "count": 0, "mean_days": None, "median_days": None}
    empty = figures(engine, wita(2026, 6, 1), stats.Period(date(2020, 1, 1),
                                                           date(2020, 12, 31), 2020))
    assert empty["totals"]["received"] == 0 and empty["followed_up"]["pct"] is None
    assert empty["ranking"]["items"] == []


# --------------------------------------------------------------------------- deadlines


def test_deadline_classes_overdue_backlog_escalations_and_ombudsman_cases(db):
    engine, codes = db
    now = wita(2026, 6, 1)
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        done = [seed.report(wita(2026, 3, 2), "CLOSED", "dinas_pupr") for _ in range(3)]
        for complaint in done:
            seed.sla(complaint, "verification", "met", due=wita(2026, 3, 5), budget=3)
        late = seed.report(wita(2026, 3, 2), "CLOSED", "dlh")
        seed.sla(late, "verification", "breached", due=wita(2026, 3, 5), late_days=1.5,
                 budget=3)
        seed.sla(done[0], "follow_up", "met", due=wita(2026, 3, 12))
        follow = seed.sla(late, "follow_up", "breached", due=wita(2026, 3, 12), late_days=0.5)
        seed.sla(done[0], "resolution", "met", due=wita(2026, 3, 20), budget=14)
        misconduct = seed.report(wita(2026, 3, 2), "CLOSED", "inspektorat", misconduct=True,
                                 confidential=True, title=SECRET_TITLE)
        seed.sla(misconduct, "resolution", "breached", due=wita(2026, 5, 27), late_days=2,
                 budget=60)
        seed.sla(misconduct, "complainant_window", "breached", due=wita(2026, 5, 27))
        waiting = seed.report(wita(2026, 3, 25), "DISPOSED", "dlh")
        overdue = seed.sla(waiting, "follow_up", "running", due=wita(2026, 4, 1))
        seed.sla(waiting, "resolution", "running", due=wita(2026, 6, 10), budget=14)
        seed.escalation(waiting, overdue, 1, "opd", "acknowledged")
        seed.escalation(waiting, overdue, 2, "regency_admin")
        seed.escalation(late, follow, 1, "opd")
        # the Ombudsman's threshold: 60 calendar days after receipt, still not closed
        old = seed.report(now - timedelta(days=61), "IN_PROGRESS", "dishub",
                          title=SECRET_TITLE, confidential=True)
        seed.report(now - timedelta(days=59), "IN_PROGRESS", "dishub")
        seed.report(now - timedelta(days=100), "ARCHIVED")
        seed.report(now - timedelta(days=100), "CLOSED", "dishub")
    result = figures(engine, now)
    classes = {c["key"]: c for c in result["deadlines"]["classes"]}
    assert list(classes) == ["verification", "follow_up", "resolution.pengaduan",
                             "resolution.pengaduan_berkadar_pengawasan"]
    assert classes["verification"] == {
        "key": "verification", "label": {"id": "verifikasi dan disposisi",
                                         "en": "verification and disposition"},
        "budget_days": 3.0, "met": 3, "breached": 1, "open": 0, "overdue": 0,
        "reports": {"met": 3, "breached": 1, "open": 0, "overdue": 0},
        "on_time_pct": 75.0, "mean_late_days": 1.5}
    assert (classes["follow_up"]["met"], classes["follow_up"]["breached"],
            classes["follow_up"]["open"], classes["follow_up"]["overdue"]) == (1, 1, 1, 1)
    assert classes["follow_up"]["on_time_pct"] == 50.0
    assert classes["resolution.pengaduan"]["open"] == 1
    assert classes["resolution.pengaduan"]["on_time_pct"] == 100.0
    grave = classes["resolution.pengaduan_berkadar_pengawasan"]
    assert (grave["breached"], grave["on_time_pct"], grave["mean_late_days"],
            grave["budget_days"]) == (1, 0.0, 2.0, 60.0)
    assert grave["label"]["id"] == "penyelesaian pengaduan berkadar pengawasan"
    assert by_agency(result["deadlines"]["by_agency"], "dlh")["on_time_pct"] == 0.0
    assert by_agency(result["deadlines"]["by_agency"], "dinas_pupr")["on_time_pct"] == 100.0

    assert result["overdue"]["total"] == 1
    assert result["overdue"]["by_step"] == [{"key": "follow_up", "label": {
        "id": "tindak lanjut", "en": "follow-up"}, "count": 1, "reports": 1}]
    assert by_agency(result["overdue"]["by_agency"], "dlh")["count"] == 1

    escalations = result["escalations"]
    assert (escalations["total"], escalations["open"]) == (3, 2)
    assert [(r["key"], r["total"], r["open"]) for r in escalations["by_rung"]] == [
        ("opd", 2, 1), ("regency_admin", 1, 1)]
    assert escalations["by_rung"][0]["label"]["id"] == "Kepala OPD"
    assert by_agency(escalations["by_agency"], "dlh") == {
        "agency": by_agency(escalations["by_agency"], "dlh")["agency"], "total": 3, "open": 2,
        "reports": 2, "reports_open": 2}  # two reports: one climbed two rungs
    assert (escalations["reports"], escalations["reports_open"]) == (2, 2)
    assert [(r["key"], r["reports"], r["reports_open"]) for r in escalations["by_rung"]] == [
        ("opd", 2, 1), ("regency_admin", 1, 1)]
    assert result["overdue"]["reports"] == 1

    ombudsman = result["ombudsman"]  # the one waiting since 25 March, and the old one
    assert (ombudsman["threshold_days"], ombudsman["total"]) == (60, 2)
    assert [c["tracking_number"] for c in ombudsman["cases"]] == [
        waiting.tracking_number, old.tracking_number]
    assert ombudsman["cases"][1] == {
        "tracking_number": old.tracking_number, "agency": "dishub", "status": "IN_PROGRESS",
        "status_label": {"id": "Sedang Diproses", "en": "In progress"},
        "received_at": "2026-04-01T10:00:00+08:00", "days_open": 61}
    assert [(r["agency"]["code"], r["count"]) for r in ombudsman["by_agency"]] == [
        ("dishub", 1), ("dlh", 1)]
    stricter = RegencyConfig(ombudsman_days=30)
    with engine.store.read() as session:
        again = stats.compute(session, stricter, stats.Period(date(2026, 1, 1),
                                                              date(2026, 12, 31)), now)
    assert again["ombudsman"]["total"] == 3
    assert SECRET_TITLE not in json.dumps(result)


# --------------------------------------------------------------------------- satisfaction


def seed_two_opds(seed: Seeder) -> None:
    """PUPR answers both reports (1 and 3 working days), keeps one deadline of two, is
    rated 5 and 4; DLH answers one of two (6 working days), no deadlines, no ratings."""
    a = seed.report(wita(2026, 3, 2, 9), "CLOSED", "dinas_pupr",
                    disposed=wita(2026, 3, 2, 10), answered=wita(2026, 3, 3, 10),
                    closed=wita(2026, 3, 4, 10), rating=5)
    b = seed.report(wita(2026, 3, 2, 9), "CLOSED", "dinas_pupr",
                    disposed=wita(2026, 3, 2, 10), answered=wita(2026, 3, 5, 10),
                    closed=wita(2026, 3, 6, 10), rating=4)
    seed.sla(a, "follow_up", "met", due=wita(2026, 3, 9, 10))
    seed.sla(b, "follow_up", "breached", due=wita(2026, 3, 4, 10), late_days=1)
    seed.report(wita(2026, 4, 6, 9), "RESPONDED", "dlh", disposed=wita(2026, 4, 6, 10),
                answered=wita(2026, 4, 14, 10))  # Mon -> Tue next week: 6 working days
    waiting = seed.report(wita(2026, 4, 6, 9), "DISPOSED", "dlh",
                          disposed=wita(2026, 4, 6, 10))
    seed.sla(waiting, "follow_up", "running", due=wita(2026, 4, 13, 10))  # long past


def test_satisfaction_per_opd_and_the_ranking_score_by_hand(db):
    engine, codes = db
    with engine.store.transaction() as session:
        seed_two_opds(Seeder(session, codes))
    result = figures(engine, wita(2026, 6, 1))
    satisfaction = result["satisfaction"]
    assert satisfaction["regency"]["count"] == 2 and satisfaction["regency"]["mean"] == 4.5
    pupr = by_agency(satisfaction["by_agency"], "dinas_pupr")
    assert (pupr["count"], pupr["mean"], pupr["distribution"]) == (
        2, 4.5, {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1})
    assert [r["agency"]["code"] for r in satisfaction["by_agency"]] == ["dinas_pupr"]

    ranking = result["ranking"]
    assert ranking["weights"] == {"followed_up": 0.3, "on_time": 0.3, "speed": 0.2,
                                  "satisfaction": 0.2, "speed_reference_days": 10.0,
                                  "min_reports": 1}
    first, second = ranking["items"]
    # PUPR: answered 2/2 = 1, on time 1/2, speed 1 - 2/10 = 0.8, rating (4.5 - 1)/4 = 0.875
    assert first["agency"]["code"] == "dinas_pupr" and first["rank"] == 1
    assert first["components"] == {"followed_up": 1.0, "on_time": 0.5, "speed": 0.8,
                                   "satisfaction": 0.875}
    assert first["score"] == pytest.approx(100 * (0.3 + 0.15 + 0.16 + 0.175))  # 78.5
    # DLH: answered 1/2, speed 1 - 6/10 = 0.4; no deadline closed, no rating: those two
    # weights drop out, so (0.3 * 0.5 + 0.2 * 0.4) / 0.5 = 0.46
    assert second["agency"]["code"] == "dlh" and second["rank"] == 2
    assert second["components"] == {"followed_up": 0.5, "on_time": None, "speed": 0.4,
                                    "satisfaction": None}
    assert second["score"] == 46.0


def test_a_report_still_within_its_deadline_is_no_failure_to_follow_up(db):
    """Disposed minutes ago and not yet due: the OPD is not scored 0 of 100 for it."""
    engine, codes = db
    now = wita(2026, 6, 1, 10)
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        fresh = seed.report(now - timedelta(minutes=30), "DISPOSED", "dlh",
                            disposed=now - timedelta(minutes=5))
        seed.sla(fresh, "follow_up", "running", due=now + timedelta(days=7))
    [item] = figures(engine, now)["ranking"]["items"]
    assert item["agency"]["code"] == "dlh" and item["dispositioned"] == 1
    assert item["components"]["followed_up"] is None
    assert (item["score"], item["rank"]) == (None, None)  # nothing to judge yet, not 0
    # once the deadline passes unanswered, it counts against the OPD
    [item] = figures(engine, now + timedelta(days=8))["ranking"]["items"]
    assert item["components"]["followed_up"] == 0.0 and item["score"] == 0.0


def test_the_ranking_weights_are_the_regencys_setting(db):
    engine, codes = db
    with engine.store.transaction() as session:
        seed_two_opds(Seeder(session, codes))
        session.add(Setting(key=stats.WEIGHTS_SETTING, value={
            "followed_up": 1, "on_time": 0, "speed": 0, "satisfaction": 0, "min_reports": 2}))
    with engine.store.read() as session:
        weights = stats.load_weights(session)
    assert weights == stats.RankingWeights(1, 0, 0, 0, 10.0, 2)
    items = figures(engine, wita(2026, 6, 1), weights=weights)["ranking"]["items"]
    assert [(i["agency"]["code"], i["score"], i["rank"]) for i in items] == [
        ("dinas_pupr", 100.0, 1), ("dlh", 50.0, 2)]
    with pytest.raises(ValueError, match="weights"):
        stats.RankingWeights(0, 0, 0, 0)


# --------------------------------------------------------------------------- public


def test_the_public_figures_never_carry_confidential_content_or_personal_data(db):
    engine, codes = db
    now = wita(2026, 6, 1)
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        secret = seed.report(now - timedelta(days=90), "IN_PROGRESS", "inspektorat",
                             title=SECRET_TITLE, body=SECRET_BODY, misconduct=True,
                             confidential=True, anonymous=True, reporter_name=SECRET_REPORTER,
                             reporter_email="siti@example.org", reporter_phone="+62811111",
                             kelurahan="Nipah-Nipah", address="Jl. Rahasia 1",
                             category="civil_registration", rating=None)
        seed.report(wita(2026, 3, 2), "CLOSED", "dlh", title="Sampah menumpuk di TPS",
                    reporter_name="Ani Terbuka", rating=5, rating_comment="Cepat sekali")
    with engine.store.read() as session:
        public = stats.public_figures(session, CONFIG, now)
    text = json.dumps(public, ensure_ascii=False)
    for private in (SECRET_TITLE, SECRET_BODY, SECRET_REPORTER, "siti@example.org",
                    "+62811111", "Jl. Rahasia", "Nipah", secret.tracking_number,
                    "Sampah menumpuk", "Ani Terbuka", "Cepat sekali", "PPU-"):
        assert private not in text
    assert public["totals"]["received"] == 2  # counted, never shown
    assert row(public["breakdowns"]["category"], "civil_registration")["received"] == 1
    assert public["ombudsman"]["total"] == 1 and "cases" not in public["ombudsman"]
    assert public["scope"] == {"agency": None, "name": "Kabupaten Penajam Paser Utara"}
    rows = stats_export.export_rows(public)
    assert not any(SECRET_TITLE in str(value) for r in rows for value in r)


def test_the_public_api_needs_no_token_and_lists_no_case(article):
    response = article.client.get("/api/v1/stats/public?year=2024")
    assert response.status_code == 200
    body = response.get_json()
    assert "cases" not in body["ombudsman"] and "PPU-" not in response.get_data(as_text=True)
    assert body["ranking"]["items"][0]["rank"] == 1


# --------------------------------------------------------------------------- the real walk


def test_two_reports_walked_through_the_api_show_in_the_figures(database_url, tmp_path):
    clock = FrozenClock(wita(2026, 3, 2, 9))  # Monday
    regency = build(database_url, clock, tmp_path)
    try:
        pothole = regency.submit(photo=True)
        regency.act(pothole["tracking_number"], "verify", as_="admin.kominfo")
        regency.act(pothole["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dinas_pupr")
        clinic = regency.submit(category="health", title="Antrean Puskesmas panjang",
                                body="Antrean di Puskesmas Waru sampai siang hari.")
        regency.act(clinic["tracking_number"], "verify", as_="admin.kominfo")
        regency.act(clinic["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dinkes")
        regency.advance(days=1)  # Tuesday 09:00
        regency.act(pothole["tracking_number"], "respond", as_="penghubung.pupr",
                    answer="Sudah ditambal.")
        regency.act(pothole["tracking_number"], "rate", secret=pothole["secret"], rating=5)
        regency.advance(days=1)  # Wednesday 09:00
        regency.act(clinic["tracking_number"], "respond", as_="penghubung.dinkes",
                    answer="Kami tambah loket.", final=False)

        figures_now = regency.get("/api/v1/stats", as_="admin.kominfo")
        assert {k: figures_now["totals"][k] for k in stats.COUNTS} == {
            "received": 2, "verified": 2, "dispositioned": 2, "answered": 2, "pending": 0,
            "archived": 0, "returned": 0, "in_progress": 1, "closed": 1}
        assert figures_now["followed_up"]["pct_closed"] == 50.0
        follow_up = figures_now["speed"]["disposition_to_first_answer"]
        assert follow_up["regency"] == {"count": 2, "mean_days": 1.5, "median_days": 1.5}
        assert by_agency(follow_up["by_agency"], "dinkes")["mean_days"] == 2.0
        assert by_agency(figures_now["satisfaction"]["by_agency"], "dinas_pupr")["mean"] == 5
        classes = {c["key"]: c for c in figures_now["deadlines"]["classes"]}
        assert classes["verification"]["met"] == 2
        public = regency.get("/api/v1/stats/public")
        assert (public["totals"]["received"], public["totals"]["closed"]) == (2, 1)
        dinkes = regency.get("/api/v1/stats", as_="penghubung.dinkes")
        assert dinkes["totals"]["received"] == 1 and dinkes["totals"]["in_progress"] == 1
    finally:
        regency.engine.dispose()


# --------------------------------------------------------------------------- the cache


def cache_of(engine: Engine) -> readcache.ReadCache:
    with engine.store.read() as session:
        cache = stats.figure_cache(session)
    assert cache is not None, "the migrated database has the triggers"
    return cache


def served(engine: Engine, now: datetime, **kwargs: Any) -> tuple[dict[str, Any], bool]:
    """The figures, and whether the cache answered."""
    cache = cache_of(engine)
    hits = cache.hits
    result = figures(engine, now, **kwargs)
    return result, cache.hits == hits + 1


def test_the_cache_answers_until_the_periods_data_changes_whoever_writes(db):
    engine, codes = db
    now = wita(2026, 6, 1)
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        report = seed.report(wita(2026, 3, 2), "DISPOSED", "dlh")
        record = seed.sla(report, "follow_up", "running", due=wita(2026, 6, 10))
        seed.escalation(report, record, 1, "opd")
        old = seed.report(wita(2025, 3, 2), "CLOSED", "dlh")
    first, hit = served(engine, now)
    assert not hit and first["totals"]["received"] == 1
    again, hit = served(engine, now)
    assert hit and again == first
    # the public page and the officers' figures share the aggregates
    with engine.store.read() as session:
        public = stats.public_figures(session, CONFIG, now)
    assert public["totals"] == first["totals"] and "cases" not in public["ombudsman"]

    # another year's report changes: this year's figures still come from the cache
    with engine.store.transaction() as session:
        session.get(Complaint, old.id).rating = 2
    assert served(engine, now) == (first, True)

    def changed(change: Any) -> dict[str, Any]:
        with engine.store.transaction() as session:
            change(session)
        result, hit = served(engine, now)
        assert not hit
        return result

    # the ORM changes the report: seen at once
    def close(session: Any) -> None:
        row = session.get(Complaint, report.id)
        row.status, row.first_answer_at, row.closed_at = "CLOSED", wita(2026, 3, 3), wita(
            2026, 3, 4)
    assert changed(close)["totals"]["closed"] == 1
    # a hand-written UPDATE of its SLA record, a DELETE of its escalation, an INSERT
    changed(lambda s: s.execute(update(SlaRecord).where(SlaRecord.id == record.id).values(
        state="met", ended_at=wita(2026, 3, 3), late_seconds=0.0)))
    assert figures(engine, now)["deadlines"]["classes"][0]["met"] == 1
    assert changed(lambda s: s.execute(text("DELETE FROM escalation")))["escalations"][
        "total"] == 0
    added = changed(lambda s: s.execute(text(
        "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, started_at, "
        "due_at, pauses, state, rung, reminded_rungs) SELECT id, 'resolution', 14, 1, "
        "created_at, created_at, '[]', 'running', 1, '[]' FROM complaint WHERE id = :id"),
        {"id": report.id}))
    assert added["overdue"]["total"] == 1  # due on receipt, still running
    with engine.store.transaction() as session:
        Seeder(session, codes, count=10).report(wita(2026, 5, 5), "SUBMITTED")
    assert figures(engine, now)["totals"]["received"] == 2
    # every answer is what a fresh computation says
    with engine.store.read() as session:
        fresh = stats.compute(session, CONFIG, stats.Period(date(2026, 1, 1),
                                                            date(2026, 12, 31), 2026),
                              now, cache=False)
    assert served(engine, now) == (fresh, True)


def test_figures_that_depend_on_the_clock_move_with_it_when_cached(db):
    engine, codes = db
    with engine.store.transaction() as session:
        seed = Seeder(session, codes)
        report = seed.report(wita(2026, 4, 10), "DISPOSED", "dlh")  # 60 days: 9 June
        seed.sla(report, "follow_up", "running", due=wita(2026, 6, 3, 10))
    before, _ = served(engine, wita(2026, 6, 1))
    assert (before["overdue"]["total"], before["ombudsman"]["total"]) == (0, 0)
    later, hit = served(engine, wita(2026, 6, 3, 10))  # due at this very instant
    assert hit and later["overdue"]["total"] == 0
    assert later["as_of"] == "2026-06-03T10:00:00+08:00"
    overdue, hit = served(engine, wita(2026, 6, 3, 10, 1))
    assert not hit and overdue["overdue"]["total"] == 1
    assert overdue["deadlines"]["classes"][0]["overdue"] == 1
    assert served(engine, wita(2026, 6, 9, 9))[0]["ombudsman"]["total"] == 0
    late, _ = served(engine, wita(2026, 6, 9, 10))
    assert late["ombudsman"]["total"] == 1 and late["ombudsman"]["cases"][0]["days_open"] == 60
    next_day, hit = served(engine, wita(2026, 6, 10, 10))
    assert hit and next_day["ombudsman"]["cases"][0]["days_open"] == 61
    # an earlier moment is computed again, not served from a later one
    assert served(engine, wita(2026, 6, 1))[0]["overdue"]["total"] == 0


def test_a_change_committed_while_the_figures_were_gathered_is_seen(db):
    engine, codes = db
    now = wita(2026, 6, 1)
    with engine.store.transaction() as session:
        report = Seeder(session, codes).report(wita(2026, 3, 2), "DISPOSED", "dlh")
    with engine.store.transaction() as writer:
        row = writer.get(Complaint, report.id)
        row.status, row.closed_at = "CLOSED", wita(2026, 3, 9)
        writer.flush()  # written, not yet committed: the figures below do not see it
        assert figures(engine, now)["totals"]["closed"] == 0
    assert figures(engine, now)["totals"]["closed"] == 1


def test_a_calendar_change_is_a_different_key(db):
    engine, codes = db
    with engine.store.transaction() as session:
        Seeder(session, codes).report(wita(2026, 3, 30), "RESPONDED", "dlh",
                                      disposed=wita(2026, 3, 30, 10),
                                      answered=wita(2026, 4, 2, 10))
    now = wita(2026, 6, 1)
    speed = "disposition_to_first_answer"
    assert served(engine, now)[0]["speed"][speed]["regency"]["mean_days"] == 3.0
    with engine.store.transaction() as session:
        set_day(session, date(2026, 3, 31), "day_off", "Cuti Bersama (contoh)", "sysadmin")
    result, hit = served(engine, now)
    assert not hit and result["speed"][speed]["regency"]["mean_days"] == 2.0
    with engine.store.transaction() as session:
        rows = session.query(CalendarDay).all()
        assert calendar_of(CONFIG, rows).working_days_between(
            wita(2026, 3, 30), wita(2026, 4, 2)) == calendar_for(
            session, CONFIG).working_days_between(wita(2026, 3, 30), wita(2026, 4, 2)) == 2.0


def test_without_the_triggers_nothing_is_cached(sqlite_url):
    db = create_engine(sqlite_url)
    with db.begin() as connection:
        connection.execute(text("DROP TRIGGER trg_escalation_stats_update"))
    db.dispose()
    engine = Engine(sqlite_url)
    try:
        with engine.store.read() as session:
            assert stats.figure_cache(session) is None
            assert stats.compute(session, CONFIG, stats.Period(
                date(2026, 1, 1), date(2026, 12, 31), 2026), wita(2026, 6, 1))[
                "totals"]["received"] == 0
    finally:
        engine.dispose()


def test_create_schema_installs_the_triggers_too(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        engine.create_schema()
        with engine.store.read() as session:
            assert stats.figure_cache(session) is not None
    finally:
        engine.dispose()


def test_migration_0006_backfills_the_cohort_date_and_goes_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrations.upgrade(url, "0005_login_attempt")
    db = create_engine(url)
    with db.begin() as connection:
        connection.execute(text(
            "INSERT INTO complaint (id, tracking_number, secret_hash, classification, "
            "misconduct, category, severity, title, body, anonymous, confidential, channel, "
            "language, status, created_at, updated_at, version) VALUES (7, 'PPU-2026-000007', "
            "'x', 'pengaduan', 0, 'roads', 'medium', 't', 'b', 0, 0, 'web', 'id', 'DISPOSED', "
            "'2026-03-02 02:00:00.000000', '2026-03-02 02:00:00.000000', 1)"))
        connection.execute(text(
            "INSERT INTO sla_record (id, complaint_id, step, budget_days, holder_rung, "
            "started_at, pauses, state, rung, reminded_rungs) VALUES (1, 7, 'follow_up', 5, "
            "1, '2026-03-02 03:00:00.000000', '[]', 'running', 1, '[]')"))
        connection.execute(text(
            "INSERT INTO escalation (complaint_id, sla_id, step, rung, rung_name, at, due_at, "
            "status) VALUES (7, 1, 'follow_up', 2, 'regency_admin', "
            "'2026-03-09 03:00:00.000000', '2026-03-09 03:00:00.000000', 'open')"))
    migrations.upgrade(url)
    with db.begin() as connection:
        for table in ("sla_record", "escalation"):
            assert connection.execute(text(f"SELECT complaint_created_at FROM {table}")
                                      ).scalar() == "2026-03-02 02:00:00.000000"
        connection.execute(text("UPDATE complaint SET created_at = "
                                "'2026-03-01 02:00:00.000000' WHERE id = 7"))
        assert connection.execute(text(
            "SELECT complaint_created_at FROM sla_record")).scalar().startswith("2026-03-01")
    command.downgrade(migrations.alembic_config(url), "0005_login_attempt")
    with db.begin() as connection:
        assert "complaint_created_at" not in {
            row[1] for row in connection.execute(text("PRAGMA table_info(sla_record)"))}
    db.dispose()
    migrations.upgrade(url)


def test_the_change_log_prunes_rows_older_than_a_day(database_url):
    engine = Engine(database_url)
    postgres = engine.store.postgres
    stamp = "strftime('%Y-%m-%d %H:%M:%f', 'now'{})"
    old = "now() - interval '2 days'" if postgres else stamp.format(", '-2 days'")
    fresh = "now()" if postgres else stamp.format("")
    try:
        with engine.store.transaction() as session:
            session.execute(text("DELETE FROM stats_change"))
            for i in range(1, 4):
                session.execute(text(f"INSERT INTO stats_change (id, at) VALUES ({i}, {old})"))
            session.execute(text(f"INSERT INTO stats_change (id, at) VALUES (4, {fresh})"))
            if postgres:
                session.execute(text("SELECT aduan_stats_prune()"))
            else:  # every 1,000th row prunes
                session.execute(text(f"INSERT INTO stats_change (id, at) VALUES (1000, {fresh})"))
            left = session.scalars(text("SELECT id FROM stats_change ORDER BY id")).all()
        assert left == ([4] if postgres else [4, 1000])
    finally:
        engine.dispose()
