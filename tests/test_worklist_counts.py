"""The worklist's kept counts, order and rows (workflows/worklist_counts.py), the list API's kept
totals (workflows/list_counts.py), the escalation inbox's count and the board's kept inbox
pages (workflows/escalations.inbox_page): after every write of
every kind (claims, releases, hand-overs, group changes, tasks completed, bulk SQL, the
timers' sweep) what each shows equals a count and a ranking from scratch in the database."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tests.test_staff_use_cases import open_task, principal_of
from workflows import escalations, readcounts, worklist_counts
from workflows.models import SlaRecord
from workflows.worklist import WORKLIST_SHOWS

OFFICERS = ("admin.kominfo", "penghubung.pupr", "teknis.binamarga", "penghubung.dlh")


def worklist(regency: Any, user: str, **filters: Any) -> tuple[Any, ...]:
    page = regency.domain.tasks.worklist_page(principal_of(regency, user), **filters)
    # the rows whole: what each shows is kept with the places too (ReadRows)
    return (page["counts"], page["kinds"], page["kind"], page["matching"], page["rows"])


def pages(regency: Any) -> dict[Any, Any]:
    """Every worklist choice, the list's totals and the inbox's count, as shown now."""
    found: dict[Any, Any] = {}
    for user in OFFICERS:
        first = worklist(regency, user, show="all")
        found[user, "all"] = first
        for show in WORKLIST_SHOWS:
            found[user, show] = worklist(regency, user, show=show)
            found[user, show, "late"] = worklist(regency, user, show=show, overdue=True)
        for kind in (*first[1], "no_such_kind"):
            found[user, kind] = worklist(regency, user, show="all", kind=kind)
        found[user, "newest"] = worklist(regency, user, show="all", sort="newest")
        found[user, "newest late"] = worklist(regency, user, sort="newest", overdue=True)
        found[user, "page 2"] = worklist(regency, user, show="all", limit=2, offset=2)
        found[user, "late page"] = worklist(regency, user, show="all", overdue=True, limit=1,
                                            offset=1)
    for user in ("admin.kominfo", "penghubung.pupr", "teknis.binamarga"):
        for filters in ({}, {"status": "DISPOSED"}, {"status": "SUBMITTED"},
                        {"overdue": True}, {"overdue": False}, {"agency_code": "dinas_pupr"},
                        {"agency_code": "dlh", "overdue": True}, {"agency_code": "nowhere"},
                        {"status": "IN_PROGRESS", "overdue": False}):
            listed = regency.domain.reports.list(principal_of(regency, user), **filters)
            found["list", user, tuple(sorted(filters.items()))] = (
                listed["total"], [item["tracking_number"] for item in listed["items"]])
    for user in ("admin.kominfo", "sekda", "kadis.pupr"):
        with regency.reads() as session:
            principal = principal_of(regency, user)
            now = regency.clock.now()
            found["inbox", user] = (
                escalations.count_escalations(session, principal, now),
                [e["id"] for e in escalations.list_escalations(session, principal, now)])
            for status, page, size in (("open", 1, 25), (None, 1, 25), ("open", 2, 1)):
                # the board's page of it, kept (escalations.inbox_page): documents whole
                found["inbox page", user, status, page, size] = escalations.inbox_page(
                    session, principal, now, status=status, page=page, page_size=size)
    return found


def from_scratch(regency: Any) -> dict[Any, Any]:
    readcounts.ENABLED = False  # the worklist and the list count in the database
    try:
        return pages(regency)
    finally:
        readcounts.ENABLED = True


def kept_activity(regency: Any) -> dict[str, int]:
    with regency.reads() as session:
        return worklist_counts.activity(session)


def test_every_worklist_count_order_and_total_equals_a_recount_after_every_write(regency):
    rng = random.Random(34)
    stages: dict[str, list[str]] = {"SUBMITTED": [], "VERIFIED": [], "DISPOSED": [],
                                    "IN_PROGRESS": []}
    admin = principal_of(regency, "admin.kominfo")

    def submit() -> None:
        stages["SUBMITTED"].append(regency.submit(photo=True)["tracking_number"])

    def verify() -> None:  # a task completed, the next one opened
        tracking = stages["SUBMITTED"].pop(0)
        regency.act(tracking, "verify", as_="admin.kominfo")
        stages["VERIFIED"].append(tracking)

    def dispose() -> None:  # a task handed to another agency's group
        tracking = stages["VERIFIED"].pop(0)
        regency.act(tracking, "dispose", as_="admin.kominfo",
                    agency_code=rng.choice(("dinas_pupr", "dlh")))
        stages["DISPOSED"].append(tracking)

    def respond() -> None:
        for tracking in stages["DISPOSED"]:
            task = open_task(regency, tracking)
            user = ("penghubung.pupr" if "dinas_pupr" in task["candidate_groups"][0]
                    else "penghubung.dlh")
            if task["assignee"] not in (None, user):
                continue
            regency.act(tracking, "respond", as_=user, answer="Sedang dikerjakan.",
                        final=False)
            stages["DISPOSED"].remove(tracking)
            stages["IN_PROGRESS"].append(tracking)
            return

    def claim() -> None:
        tracking = rng.choice(stages["SUBMITTED"] + stages["VERIFIED"])
        task = open_task(regency, tracking)
        if task["assignee"] is None:
            regency.domain.tasks.claim(task["id"], admin)

    def release() -> None:
        for tracking in stages["SUBMITTED"] + stages["VERIFIED"]:
            task = open_task(regency, tracking)
            if task["assignee"] == "admin.kominfo":
                regency.domain.tasks.release(task["id"], admin)
                return

    def regroup() -> None:  # a task's candidate groups changed (a reassignment)
        tracking = rng.choice(stages["SUBMITTED"] + stages["VERIFIED"])
        task = open_task(regency, tracking)
        groups = ["opd_liaison:dinas_pupr"] if "regency_admin" in task["candidate_groups"] \
            else ["regency_admin"]
        regency.engine.set_candidate_groups(task["id"], groups, actor="admin.kominfo")

    def someone_else() -> None:  # a hand-written UPDATE: another officer holds a task
        with regency.engine.store.transaction() as session:
            session.execute(text(
                "UPDATE human_task SET assignee = 'staf.lain' WHERE id = (SELECT min(id) "
                "FROM human_task WHERE assignee IS NULL)"))

    def bulk_release() -> None:  # one statement over every task
        with regency.engine.store.transaction() as session:
            session.execute(text("UPDATE human_task SET assignee = NULL"))

    def group_by_hand() -> None:  # a candidate group row rewritten in SQL
        with regency.engine.store.transaction() as session:
            session.execute(text(
                "UPDATE human_task_group SET group_name = 'technical_unit:pupr_bina_marga' "
                "WHERE task_id = (SELECT min(task_id) FROM human_task_group "
                "WHERE group_name = 'opd_liaison:dinas_pupr')"))

    def due_by_hand() -> None:  # a deadline moved: the order by deadline changes
        with regency.engine.store.transaction() as session:
            chosen = session.scalar(select(func.max(SlaRecord.id)).where(
                SlaRecord.state == "running"))
            session.execute(text("UPDATE sla_record SET due_at = :due WHERE id = :id"),
                            {"due": regency.clock.now() - timedelta(hours=rng.choice((1, 30))),
                             "id": chosen})

    def time_passes() -> None:
        regency.advance(hours=rng.choice((5, 26, 49)))

    def tick() -> None:
        regency.clock.advance(timedelta(hours=rng.choice((3, 20))))

    for _ in range(5):
        submit()
    verify()
    verify()
    dispose()
    assert pages(regency) == from_scratch(regency)
    writes = {"submit": submit, "verify": verify, "dispose": dispose, "respond": respond,
              "claim": claim, "release": release, "regroup": regroup,
              "someone_else": someone_else, "bulk_release": bulk_release,
              "group_by_hand": group_by_hand, "due": due_by_hand, "time": time_passes,
              "tick": tick}
    needs = {"verify": ("SUBMITTED",), "dispose": ("VERIFIED",), "respond": ("DISPOSED",),
             "claim": ("SUBMITTED", "VERIFIED"), "regroup": ("SUBMITTED", "VERIFIED")}
    done: list[str] = []
    order = sorted(writes) * 2  # every kind of write twice, in a random order
    rng.shuffle(order)
    for name in order:
        if name in needs and not any(stages[s] for s in needs[name]):
            continue
        writes[name]()
        done.append(name)
        assert pages(regency) == from_scratch(regency), f"after {done}"
    assert set(done) >= {"submit", "verify", "dispose", "claim", "release", "regroup",
                         "someone_else", "bulk_release", "due", "time"}, done
    seen = kept_activity(regency)
    # each scope counted once from scratch, then only the reports the writes touched
    assert seen["rebuilds"] <= len(OFFICERS), seen
    assert seen["recounted"] > 0, seen
    late = from_scratch(regency)["admin.kominfo", "all", "late"][3] + from_scratch(regency)[
        "list", "admin.kominfo", (("overdue", True),)][0]
    assert late, "some task or report was late: the late filters were exercised"


def test_a_claim_recounts_one_report_and_moves_the_task_between_the_choices(regency):
    trackings = [regency.submit(photo=True)["tracking_number"] for _ in range(4)]
    admin = principal_of(regency, "admin.kominfo")
    page = regency.domain.tasks.worklist_page(admin)
    assert (page["counts"], page["matching"]) == (
        {"": 4, "mine": 0, "unclaimed": 4, "all": 4}, 4)
    before = kept_activity(regency)
    task = open_task(regency, trackings[2])
    regency.domain.tasks.claim(task["id"], admin)
    mine = regency.domain.tasks.worklist_page(admin, show="mine")
    assert mine["counts"] == {"": 4, "mine": 1, "unclaimed": 3, "all": 4}
    assert [row["task_id"] for row in mine["rows"]] == [task["id"]]
    after = kept_activity(regency)
    assert (after["recounted"] - before["recounted"], after["rebuilds"]) == (
        1, before["rebuilds"])
    # completed: gone from the worklist's verification kind, a disposition task instead
    regency.act(trackings[2], "verify", as_="admin.kominfo")
    page = regency.domain.tasks.worklist_page(admin, show="all")
    assert page["kinds"] == ["dispose_report", "screen_report"]
    assert regency.domain.tasks.worklist_page(admin, show="all", kind="dispose_report")[
        "matching"] == 1


def test_a_task_handed_to_another_group_leaves_one_worklist_for_the_other(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    admin = principal_of(regency, "admin.kominfo")
    liaison = principal_of(regency, "penghubung.pupr")
    assert regency.domain.tasks.worklist_page(admin)["matching"] == 1
    assert regency.domain.tasks.worklist_page(liaison)["matching"] == 0
    task = open_task(regency, tracking)
    regency.engine.set_candidate_groups(task["id"], ["opd_liaison:dinas_pupr"])
    assert regency.domain.tasks.worklist_page(admin)["matching"] == 0
    page = regency.domain.tasks.worklist_page(liaison)
    assert [row["task_id"] for row in page["rows"]] == [task["id"]]


def test_the_late_filter_follows_the_clock_without_recounting(regency):
    regency.submit(photo=True)  # verification: due in 3 working days
    admin = principal_of(regency, "admin.kominfo")
    assert regency.domain.tasks.worklist_page(admin, overdue=True)["matching"] == 0
    assert regency.domain.reports.list(admin, overdue=True)["total"] == 0
    before = kept_activity(regency)
    regency.clock.advance(timedelta(days=4))  # Monday 09:00 -> Friday: past the deadline
    page = regency.domain.tasks.worklist_page(admin, overdue=True)
    assert page["matching"] == 1 and len(page["rows"]) == 1
    assert regency.domain.reports.list(admin, overdue=True)["total"] == 1
    assert regency.domain.reports.list(admin, overdue=False)["total"] == 0
    assert kept_activity(regency)["recounted"] == before["recounted"]


def test_many_reports_written_at_once_count_the_scope_again(regency, monkeypatch):
    for _ in range(4):
        regency.submit(photo=True)
    admin = principal_of(regency, "admin.kominfo")
    assert regency.domain.tasks.worklist_page(admin)["matching"] == 4
    before = kept_activity(regency)
    monkeypatch.setattr(readcounts, "MAX_DELTA", 2)
    with regency.engine.store.transaction() as session:  # a bulk write of every task
        session.execute(text("UPDATE human_task SET assignee = 'admin.kominfo'"))
    page = regency.domain.tasks.worklist_page(admin, show="mine")
    assert page["counts"]["mine"] == 4 and page["matching"] == 4
    assert kept_activity(regency)["rebuilds"] == before["rebuilds"] + 1


@pytest.mark.parametrize("table", ["human_task_group", "human_task"])
def test_a_truncated_task_table_counts_the_scope_again(regency, table):
    regency.submit(photo=True)
    admin = principal_of(regency, "admin.kominfo")
    assert regency.domain.tasks.worklist_page(admin)["matching"] == 1
    with regency.engine.store.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"TRUNCATE {table} CASCADE"))
        else:
            session.execute(text(f"DELETE FROM {table}"))
    assert regency.domain.tasks.worklist_page(admin)["matching"] == 0


def test_a_large_late_worklist_counted_in_the_database_walks_the_deadlines(regency,
                                                                           monkeypatch):
    """The database's own ranking (no kept counts) of a worklist larger than WALK_FROM with
    the late filter: the deadline walk joins the deadlines beside the late condition."""
    from workflows import worklist as worklist_module

    for _ in range(3):
        regency.submit(photo=True)
    regency.clock.advance(timedelta(days=4))  # every verification late
    admin = principal_of(regency, "admin.kominfo")
    kept = regency.domain.tasks.worklist_page(admin, overdue=True)
    monkeypatch.setattr(worklist_module, "WALK_FROM", 0)
    monkeypatch.setattr(readcounts, "ENABLED", False)
    counted = regency.domain.tasks.worklist_page(admin, overdue=True, limit=2)
    assert counted["matching"] == kept["matching"] == 3
    assert [r["task_id"] for r in counted["rows"]] == [r["task_id"] for r in kept["rows"]][:2]
