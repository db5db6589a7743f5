"""The pages' counts under writes (workflows/readcounts.py): the SLA board keeps every
report's place and recounts only what a write or the clock touched, and what every page
counts (the board, the worklists' counts, the list's totals) equals a count from scratch
after every write, whoever the writer."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select, text

from tests.test_staff_use_cases import open_task, principal_of
from workflows import board, readcache, readcounts
from workflows.models import Agency, Complaint, SlaRecord


def board_of(regency: Any, user: str, **filters: Any) -> dict[str, Any]:
    with regency.reads() as session:
        found = board.sla_board(session, principal_of(regency, user), regency.domain.config,
                                regency.clock.now(), **filters)
    found.pop("counts_key")  # the same counts, in the order they were kept
    return found


def activity(regency: Any) -> dict[str, int]:
    with regency.reads() as session:
        found = readcounts.activity(session)
    assert found is not None, "the migrated database has the change log's triggers"
    return found


def pages(regency: Any) -> dict[Any, Any]:
    """What the officers' and supervisors' pages count, as each would show it now."""
    found: dict[Any, Any] = {}
    for user in ("admin.kominfo", "sekda", "kadis.pupr"):
        found["board", user] = board_of(regency, user)
    found["board overdue"] = board_of(regency, "admin.kominfo", state="overdue")
    found["board escalated"] = board_of(regency, "sekda", state="escalated")
    found["board PUPR"] = board_of(regency, "admin.kominfo", opd="dinas_pupr")
    # short lists: a write past the last listed case keeps the list, one before it does not
    found["board first 2"] = board_of(regency, "admin.kominfo", limit=2)
    found["board PUPR first 1"] = board_of(regency, "kadis.pupr", limit=1)
    for user in ("admin.kominfo", "penghubung.pupr"):
        page = regency.domain.tasks.worklist_page(principal_of(regency, user))
        found["worklist", user] = (page["counts"], page["matching"],
                                   [row["task_id"] for row in page["rows"]])
        late = regency.domain.tasks.worklist_page(principal_of(regency, user), overdue=True)
        found["worklist late", user] = late["matching"]
        for filters in ({}, {"overdue": True}, {"status": "DISPOSED"}):
            listed = regency.domain.reports.list(principal_of(regency, user), **filters)
            found["list", user, tuple(filters)] = (
                listed["total"], [item["tracking_number"] for item in listed["items"]])
    return found


def from_scratch(regency: Any) -> dict[Any, Any]:
    """The same pages with nothing kept: every count made again from the rows."""
    readcounts.ENABLED = readcache.ENABLED = False
    try:
        return pages(regency)
    finally:
        readcounts.ENABLED = readcache.ENABLED = True


def test_every_pages_counts_equal_a_recount_after_every_write(regency):
    """Writes of every kind (the use cases, the timers' sweep, hand-written UPDATEs), in a
    random order, interleaved with reads: after each, every page equals a recount."""
    rng = random.Random(17)
    stages: dict[str, list[str]] = {"SUBMITTED": [], "VERIFIED": [], "DISPOSED": [],
                                    "IN_PROGRESS": []}
    with regency.reads() as session:
        dlh = session.scalar(select(Agency.id).where(Agency.code == "dlh"))

    def submit() -> None:
        stages["SUBMITTED"].append(regency.submit(photo=True)["tracking_number"])

    def verify() -> None:
        tracking = stages["SUBMITTED"].pop(0)
        regency.act(tracking, "verify", as_="admin.kominfo")
        stages["VERIFIED"].append(tracking)

    def dispose() -> None:
        tracking = stages["VERIFIED"].pop(0)
        regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
        stages["DISPOSED"].append(tracking)

    def respond() -> None:
        tracking = stages["DISPOSED"].pop(0)
        regency.act(tracking, "respond", as_="penghubung.pupr", answer="Sedang dikerjakan.",
                    final=False)
        stages["IN_PROGRESS"].append(tracking)

    def archive() -> None:
        tracking = stages["SUBMITTED"].pop()
        regency.act(tracking, "archive", as_="admin.kominfo", reason="Laporan tidak jelas")

    def claim() -> None:
        task = open_task(regency, stages["DISPOSED"][-1])
        regency.domain.tasks.claim(task["id"], principal_of(regency, "penghubung.pupr"))

    def time_passes() -> None:  # deadlines come due and climb (the timers' sweep)
        regency.advance(hours=rng.choice((3, 11, 26, 49)))

    def tick() -> None:  # only the clock: between two sweeps of the timers
        regency.clock.advance(timedelta(hours=rng.choice((2, 7, 20))))

    def moved_by_hand() -> None:  # a hand-written UPDATE: another agency holds a report
        tracking = stages["DISPOSED"].pop()  # PUPR's liaison no longer acts on it
        with regency.engine.store.transaction() as session:
            session.execute(text("UPDATE complaint SET agency_id = :dlh "
                                 "WHERE tracking_number = :t"), {"dlh": dlh, "t": tracking})

    def due_earlier_by_hand() -> None:  # a deadline moved in bulk SQL
        with regency.engine.store.transaction() as session:
            first = session.scalar(select(func.min(SlaRecord.id)).where(
                SlaRecord.state == "running"))
            session.execute(text("UPDATE sla_record SET due_at = :due WHERE id = :id"),
                            {"due": regency.clock.now() - timedelta(hours=5), "id": first})

    for _ in range(4):
        submit()
    verify()
    verify()
    dispose()
    assert pages(regency) == from_scratch(regency)
    writes = {"submit": submit, "verify": verify, "dispose": dispose, "respond": respond,
              "archive": archive, "claim": claim, "time": time_passes, "tick": tick,
              "moved": moved_by_hand, "due": due_earlier_by_hand}
    needs = {"verify": "SUBMITTED", "archive": "SUBMITTED", "dispose": "VERIFIED",
             "respond": "DISPOSED", "claim": "DISPOSED", "moved": "DISPOSED"}
    done: list[str] = []
    while len(done) < 36:
        name = rng.choice(sorted(writes))
        if name in needs and not stages[needs[name]]:
            continue
        if name == "claim" and done and done[-1] == "claim":
            continue
        writes[name]()
        done.append(name)
        kept = pages(regency)
        assert kept == from_scratch(regency), f"after {done}"
    # the board was not counted from scratch after each write: only the touched reports
    seen = activity(regency)
    assert seen["rebuilds"] <= 6 * 2, seen  # each scope's first reading (and its filters')
    assert set(done) >= {"submit", "verify", "dispose", "time", "tick", "moved", "due"}
    with regency.reads() as session:
        late = session.scalar(select(text("count(*)")).select_from(SlaRecord).where(
            SlaRecord.state == "running", SlaRecord.due_at <= regency.clock.now()))
    assert late, "some deadline was late at the end: the overdue counts were exercised"


def test_the_board_is_exact_at_each_instant_without_recounting(regency):
    """Past or due soon is decided at each reading from the kept due times: a deadline
    passing shows at once, with no report recounted and no scope counted again."""
    tracking = regency.submit(photo=True)["tracking_number"]  # Monday 09:00, due Thursday
    found = board_of(regency, "admin.kominfo")
    assert found["totals"]["open"] == 1 and found["cases"] == []
    before = activity(regency)
    regency.clock.advance(timedelta(hours=1))
    assert board_of(regency, "admin.kominfo")["totals"]["total"]["due_soon"] == 0
    assert activity(regency)["recounted"] == before["recounted"]  # nothing touched it

    # Thursday 08:59:30: the deadline came within a working day (the clock brought it)
    regency.clock.advance(timedelta(days=3, seconds=-30 - 3600))
    found = board_of(regency, "admin.kominfo")
    assert found["totals"]["total"] == {"due_soon": 1, "overdue": 0, "escalated": 0}
    assert [c["tracking_number"] for c in found["cases"]] == [tracking]
    after = activity(regency)
    assert after["recounted"] == before["recounted"] + 1
    assert after["rebuilds"] == before["rebuilds"]

    regency.clock.advance(timedelta(seconds=40))  # 09:00:10: late, at once
    found = board_of(regency, "admin.kominfo")
    assert found["totals"]["total"] == {"due_soon": 0, "overdue": 1, "escalated": 0}
    assert found["cases"][0]["state"] == "overdue"
    assert activity(regency)["recounted"] == after["recounted"]

    # a hand-written change of the report: recounted, and its row shows it
    with regency.engine.store.transaction() as session:
        session.execute(text("UPDATE complaint SET title = 'Judul baru' WHERE "
                             "tracking_number = :t"), {"t": tracking})
    assert board_of(regency, "admin.kominfo")["cases"][0]["title"] == "Judul baru"
    assert activity(regency)["recounted"] == after["recounted"] + 1
    # archived: the board forgets it
    regency.act(tracking, "archive", as_="admin.kominfo", reason="Laporan tidak jelas")
    found = board_of(regency, "admin.kominfo")
    assert found["totals"]["open"] == 0 and found["cases"] == []
    assert activity(regency)["rebuilds"] == before["rebuilds"]


def test_a_write_recounts_only_the_reports_it_touched(regency):
    for _ in range(6):
        regency.submit(photo=True)
    board_of(regency, "admin.kominfo")
    before = activity(regency)
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    found = board_of(regency, "admin.kominfo")
    assert found["totals"]["open"] == 7
    after = activity(regency)
    assert (after["recounted"] - before["recounted"], after["rebuilds"]) == (
        1, before["rebuilds"])
    with regency.reads() as session:
        assert session.scalar(select(text("count(*)")).select_from(Complaint)) == 7


def test_the_clock_going_back_counts_again(regency):
    regency.submit(photo=True)
    regency.clock.advance(timedelta(days=3, hours=1))  # late
    assert board_of(regency, "admin.kominfo")["totals"]["total"]["overdue"] == 1
    before = activity(regency)
    regency.clock.advance(timedelta(days=-3))  # a clock set back: the edge went back too
    assert board_of(regency, "admin.kominfo")["totals"]["total"]["overdue"] == 0
    assert activity(regency)["rebuilds"] == before["rebuilds"] + 1


def test_the_boards_list_is_kept_across_writes_that_cannot_change_it(regency):
    """The listed cases are read again only when a recounted report is listed or could
    enter the list (due no later than its last case); a filing far from due keeps it."""
    first = regency.submit(photo=True)["tracking_number"]  # Monday 09:00, due Thursday
    regency.clock.advance(timedelta(days=3, seconds=-30 - 3600))  # Thursday: due soon
    second = regency.submit(photo=True)["tracking_number"]  # due next Wednesday
    listings: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "ORDER BY sla_record.due_at" in statement:
            listings.append(statement)

    database = regency.engine.store.db
    event.listen(database, "before_cursor_execute", note)
    try:
        found = board_of(regency, "admin.kominfo", limit=1)
        assert [c["tracking_number"] for c in found["cases"]] == [first]
        assert len(listings) == 1
        regency.submit(photo=True)  # due next week: cannot come before the listed case
        regency.act(second, "verify", as_="admin.kominfo")  # moves no listed report
        kept = board_of(regency, "admin.kominfo", limit=1)
        assert kept["totals"]["open"] == 3 and kept["cases"] == found["cases"]
        assert len(listings) == 1, "the list was kept, not read again"
        with regency.engine.store.transaction() as session:  # the listed report changed
            session.execute(text("UPDATE complaint SET title = 'Judul baru' WHERE "
                                 "tracking_number = :t"), {"t": first})
        assert board_of(regency, "admin.kominfo", limit=1)["cases"][0]["title"] == "Judul baru"
        assert len(listings) == 2
        with regency.engine.store.transaction() as session:  # one due before it: enters
            session.execute(text(
                "UPDATE sla_record SET due_at = :due WHERE complaint_id = (SELECT id FROM "
                "complaint WHERE tracking_number = :t) AND state = 'running'"),
                {"due": regency.clock.now() - timedelta(hours=5), "t": second})
        again = board_of(regency, "admin.kominfo", limit=1)
        assert [c["tracking_number"] for c in again["cases"]] == [second]
        assert len(listings) == 3
    finally:
        event.remove(database, "before_cursor_execute", note)
    readcounts.ENABLED = readcache.ENABLED = False
    try:
        assert board_of(regency, "admin.kominfo", limit=1) == again
    finally:
        readcounts.ENABLED = readcache.ENABLED = True


def test_a_kept_list_is_read_again_once_the_versions_since_are_forgotten(regency, monkeypatch):
    """A list is kept across versions only while the tally remembers every report they
    recounted (readcounts.JOURNAL): older than that, it is read again, never guessed."""
    regency.submit(photo=True)
    regency.clock.advance(timedelta(days=3, seconds=-30 - 3600))  # due soon: listed
    listings: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "ORDER BY sla_record.due_at" in statement:
            listings.append(statement)

    def versions_read_by_another_list(count: int) -> None:
        for _ in range(count):  # each filing and reading makes a version of the tally
            regency.submit(photo=True)
            board_of(regency, "admin.kominfo", limit=2)

    database = regency.engine.store.db
    event.listen(database, "before_cursor_execute", note)
    try:
        board_of(regency, "admin.kominfo", limit=1)
        versions_read_by_another_list(3)
        read = len(listings)
        board_of(regency, "admin.kominfo", limit=1)
        assert len(listings) == read, "three versions remembered: the list was kept"
        monkeypatch.setattr(readcounts, "JOURNAL", 2)
        versions_read_by_another_list(3)
        read = len(listings)
        board_of(regency, "admin.kominfo", limit=1)
        assert len(listings) == read + 1, "the versions since were forgotten: read again"
    finally:
        event.remove(database, "before_cursor_execute", note)


def test_one_reading_asks_where_the_log_stands_once(regency):
    """The board page's reading (the board's tally and the inbox's, one read session) reads
    the change log's position once for both: an earlier mark only makes more writes count
    as newer. A later reading asks again, and sees a write made in between."""
    regency.submit(photo=True)
    asked: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "pg_current_snapshot" in statement or "max(id), 0) FROM case_change" in statement:
            asked.append(statement)

    event.listen(regency.engine.store.db, "before_cursor_execute", note)
    try:
        supervisor = principal_of(regency, "admin.kominfo")
        first = regency.domain.supervision.board_page(supervisor)
        assert len(asked) == 1
        tracking = regency.submit(photo=True)["tracking_number"]
        regency.act(tracking, "verify", as_="admin.kominfo")
        asked.clear()
        second = regency.domain.supervision.board_page(supervisor)
        assert len(asked) == 1
    finally:
        event.remove(regency.engine.store.db, "before_cursor_execute", note)
    assert (first.board["totals"]["open"], second.board["totals"]["open"]) == (1, 2)


def test_a_tallys_figures_equal_a_count_at_every_instant():
    """_Tally.figures hands the last figures out again while no place changed and neither
    edge reached a due time: at instants moving forward (onto a due time, just before
    it, past several), standing still, and going back, and after places change, the
    figures equal a count over every place."""
    from datetime import UTC, datetime

    rng = random.Random(23)
    start = datetime(2026, 12, 7, tzinfo=UTC)
    dues = [start + timedelta(minutes=rng.randrange(0, 600)) for _ in range(40)]

    def place(report: int) -> readcounts.Place:
        if rng.random() < 0.2:
            return readcounts.Place(group=report % 3)
        return readcounts.Place(group=report % 3, case_group=(report % 3, report % 2),
                                due=rng.choice(dues), flag=rng.random() < 0.3)

    tally = readcounts._Tally()  # noqa: SLF001 - the unit under test
    places = {report: place(report) for report in range(60)}
    tally.rebuild(places, None, start)

    def counted(late: datetime, soon: datetime) -> tuple[Any, ...]:
        groups: dict[Any, list[int]] = {}
        for found in places.values():
            if found.case_group is not None:
                cell = groups.setdefault(found.case_group, [0, 0, 0, 0])
                cell[0] += 1
                cell[1] += found.due <= late
                cell[2] += late < found.due <= soon
                cell[3] += found.flag
        return tuple(sorted((key, *cell) for key, cell in groups.items()))

    late = start
    reused = 0
    for step in range(600):
        choice = rng.random()
        if choice < 0.1:
            reports = rng.sample(sorted(places), 3)
            fresh = {report: place(report) for report in reports if rng.random() < 0.8}
            for report in reports:
                places.pop(report)
            places.update(fresh)
            tally.apply(reports, fresh)
        elif choice < 0.15:
            late -= timedelta(minutes=rng.randrange(1, 90))  # the clock goes back
        elif choice < 0.35:
            late = rng.choice(dues) - timedelta(microseconds=rng.choice((0, 0, 1)))
        elif choice < 0.5:
            pass  # the same instant again
        else:
            late += timedelta(seconds=rng.randrange(0, 300))
        # the edges move together as the product reads them, or apart
        soon = late + timedelta(minutes=120 if rng.random() < 0.7 else rng.randrange(0, 300))
        before = tally.shown
        figures = tally.figures(late, soon)
        reused += before is not None and before[5] is figures
        assert tuple(sorted((c.group, c.cases, c.due_by_late, c.due_by_soon, c.flagged)
                            for c in figures.cases)) == counted(late, soon), step
    assert reused > 100  # the memo is really used


def test_the_boards_cases_count_the_deadline_that_ends_first_at_every_instant():
    """board._case_parts chooses each case's deadline once (kept while the list holds) and
    _at_instant counts its working days left at each reading: at every instant that is the
    fewest working days left among the case's deadlines, with the step of the first
    deadline read among those that end first (weekends and holidays make equals)."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from workflows import access
    from workflows.calendar import WorkingCalendar

    rng = random.Random(31)
    calendar = WorkingCalendar()
    start = datetime(2026, 12, 18, 1, tzinfo=UTC)  # a Friday before Christmas
    records = []
    for record_id in range(200):
        due = start + timedelta(hours=rng.randrange(0, 24 * 20))
        if rng.random() < 0.3:  # several on the same weekend or holiday: equals
            due = datetime(2026, 12, 19 + rng.randrange(0, 2), rng.randrange(0, 24), tzinfo=UTC)
        records.append(SimpleNamespace(
            id=rng.randrange(1, 40), record_id=record_id, step=f"step{record_id}", due_at=due,
            rung=rng.randrange(0, 3), holder_rung=rng.randrange(0, 3),
            tracking_number="PPU", title="Jalan", status="DISPOSED", confidential=False,
            agency_id=None, unit_id=None))
    reader = access.Principal(username="sekda", roles=frozenset({"supervisor"}),
                              regency_wide=True)
    parts = None
    for hours in range(0, 24 * 25, 7):
        now = start + timedelta(hours=hours)
        query = board.BoardQuery(reader, calendar, now, ["opd", "regency_admin", "sekda"], {},
                                 [], None, [], now, now, None, None, None, None, 50)
        parts = parts or board._case_parts(query, records)  # noqa: SLF001 - made once
        cases = board._at_instant(query, parts)  # noqa: SLF001
        for complaint_id, case in cases.items():
            mine = [r for r in records if r.id == complaint_id]
            fewest = min(calendar.working_days_left(now, r.due_at) for r in mine)
            first = next(r for r in mine if calendar.working_days_left(now, r.due_at) == fewest)
            assert case["working_days_left"] == round(fewest, 2)
            assert (case["step"], case["escalated"]) == (
                first.step, any(r.rung > r.holder_rung for r in mine))
            assert case["state"] == ("overdue" if fewest < 0 else "due_soon"
                                     if fewest <= board.DUE_SOON_DAYS else None)


def test_the_boards_kept_cases_follow_a_renamed_agency_and_the_clock(regency):
    """The listed cases' fixed parts are kept per reader while the list, the agency table
    and the calendar hold: a renamed agency shows at once, the working days left move with
    the clock, and each reader keeps their own."""
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.advance(days=4)
    [case] = board_of(regency, "admin.kominfo")["cases"]
    assert case["agency"]["code"] == "dinas_pupr" and case["tracking_number"] == tracking
    with regency.transaction() as session:
        session.execute(Agency.__table__.update().where(Agency.code == "dinas_pupr").values(
            name="Dinas PUPR (baru)"))
    [renamed] = board_of(regency, "admin.kominfo")["cases"]
    assert renamed["agency"]["name"] == "Dinas PUPR (baru)"
    regency.advance(hours=5)
    [later] = board_of(regency, "admin.kominfo")["cases"]
    assert later["working_days_left"] < renamed["working_days_left"]
    assert [c["tracking_number"] for c in board_of(regency, "kadis.pupr")["cases"]] == [
        tracking]
