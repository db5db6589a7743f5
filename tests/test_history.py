"""engine/history.py: a report left at follow-up while its SLA watch fires day after day
keeps a bounded task tree, and nothing it does or shows differs from a workflow that kept
every branch (the same run, pruning switched off)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import engine.transaction as engine_transaction
from engine import FrozenClock
from tests.regency import PHOTO, attach
from workflows import access
from workflows.models import Complaint, Escalation, Outbox
from workflows.storage import Upload

REPORT = {"classification": "pengaduan", "category": "roads",
          "title": "Jalan berlubang di depan pasar",
          "body": "Lubang besar di Jalan Propinsi depan pasar, sudah dua motor jatuh.",
          "reporter_name": "Budi", "reporter_email": "budi@example.org"}
DAYS = 14


# Continuations after the report reached follow-up: ("days", n) lets the watch fire n days;
# (verb, body, who) acts as that officer ("complainant": the reporter).
SCENARIOS = {
    "answered late": [("days", DAYS), ("respond", {"answer": "Sudah ditambal."}, "liaison"),
                      ("days", 2), ("rate", {"rating": 5, "comment": "Terima kasih"},
                                    "complainant")],
    "interim, then final": [
        ("days", 8), ("respond", {"answer": "Sedang dikerjakan.", "final": False}, "liaison"),
        ("days", DAYS), ("respond", {"answer": "Selesai ditambal."}, "liaison"),
        ("reply", {"comment": "Belum rapi"}, "complainant"), ("days", 6)],
    "delegated to a unit": [
        ("days", 6), ("delegate", {"unit_code": "pupr_bina_marga"}, "liaison"),
        ("days", DAYS), ("respond", {"answer": "Ditambal oleh Bina Marga."}, "unit"),
        ("days", 1)],
}
WHO = {"liaison": "penghubung.pupr", "unit": "teknis.binamarga"}


def _at_follow_up(folder: Path, demo_template) -> tuple:
    """A copy of the demo regency with one report filed, verified and disposed to an agency
    on a Monday: (regency, clock, tokens, tracking number, instance id)."""
    template, tokens = demo_template
    folder.mkdir(exist_ok=True)
    target = folder / "aduan.db"
    shutil.copyfile(template, target)
    clock = FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    regency = attach(f"sqlite:///{target}", clock, folder, tokens)
    domain = regency.domain
    admin = domain.accounts.authenticate_token(tokens["admin.kominfo"])
    number = domain.reports.submit(REPORT, [Upload("lubang.jpg", PHOTO)],
                                   channel="web")["tracking_number"]
    domain.reports.act(number, "verify", {}, admin)
    domain.reports.act(number, "dispose", {"agency_code": "dinas_pupr"}, admin)
    with regency.engine.store.read() as session:
        instance_id = session.scalar(select(Complaint.instance_id).where(
            Complaint.tracking_number == number))
    return regency, clock, tokens, number, instance_id


def _run(folder: Path, demo_template, steps: list, *, prune: bool, monkeypatch) -> dict:
    """File, verify and dispose a report, then the scenario's steps; what could be seen after
    each step."""
    if not prune:
        monkeypatch.setattr(engine_transaction, "prune_repeated_branches", lambda wf: 0)
    regency, clock, tokens, number, instance_id = _at_follow_up(folder, demo_template)
    seen: dict = {"steps": []}
    try:
        domain, core = regency.domain, regency.engine
        admin = domain.accounts.authenticate_token(tokens["admin.kominfo"])
        for step in steps:
            if step[0] == "days":
                for _ in range(step[1]):
                    clock.advance(timedelta(days=1))
                    for report in domain.operations.fire_due_timers(100):
                        assert not report.failed
            else:
                verb, body, who = step
                clock.advance(timedelta(hours=1))
                principal = access.complainant(number) if who == "complainant" else \
                    domain.accounts.authenticate_token(tokens[WHO[who]])
                domain.reports.act(number, verb, body, principal)
            detail = core.instance(instance_id)
            seen["steps"].append({
                "status": detail["status"], "data": detail["data"],
                "tasks": sorted((t["element_id"], t["assignee"] or "")
                                for t in detail["tasks"]),
                "timers": sorted((t["element_id"], t["due_at"]) for t in detail["timers"]),
                "completed_elements": detail["completed_elements"],
                "element_states": core.element_states(instance_id),
                "actions": [e["action"] for e in detail["events"]],
                "report": domain.reports.get(number, admin)["status"]})
        with core.store.read() as session:
            seen["escalations"] = session.scalar(select(func.count()).select_from(Escalation))
            seen["outbox"] = session.scalar(select(func.count()).select_from(Outbox))
            seen["state_bytes"] = session.scalar(select(func.max(func.length(
                engine_transaction.INSTANCES.c.state))))
    finally:
        regency.engine.dispose()
        monkeypatch.undo()
    return seen


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_pruned_watch_branches_change_nothing_but_the_size(scenario, tmp_path, demo_template,
                                                           monkeypatch):
    steps = SCENARIOS[scenario]
    kept = _run(tmp_path / "kept", demo_template, steps, prune=False, monkeypatch=monkeypatch)
    pruned = _run(tmp_path / "pruned", demo_template, steps, prune=True,
                  monkeypatch=monkeypatch)
    assert kept["escalations"] >= 1 and kept["outbox"] > 0  # the watch did fire and climb
    for n, (a, b) in enumerate(zip(kept["steps"], pruned["steps"], strict=True)):
        for key in a:
            assert b[key] == a[key], (n, steps[n], key)
    assert (pruned["escalations"], pruned["outbox"]) == (kept["escalations"], kept["outbox"])
    assert pruned["state_bytes"] < kept["state_bytes"]


def test_only_finished_repeated_branches_go(tmp_path, demo_template, monkeypatch):
    """Unit view: in a workflow restored after many firings, every branch left under a
    waiting non-interrupting boundary event is the first finished one of its path or not
    finished, one join at most waits there; and pruning it again drops nothing."""
    from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
    from SpiffWorkflow.util.task import TaskState

    from engine.history import _branch_if_done, prune_repeated_branches

    regency, clock, _tokens, _number, _instance = _at_follow_up(tmp_path, demo_template)
    try:
        domain, core = regency.domain, regency.engine
        for _ in range(DAYS):
            clock.advance(timedelta(days=1))
            domain.operations.fire_due_timers(100)
        with core.store.read() as session:
            row = session.execute(select(engine_transaction.INSTANCES.c.definition_id,
                                         engine_transaction.INSTANCES.c.state)).first()
            definition = core._deployments.get(session, row.definition_id)
        workflow = core._instances.transaction.restore(definition, row.state, clock.now())
        events = [t for t in workflow.tasks.values() if t.state == TaskState.WAITING
                  and isinstance(t.task_spec, BoundaryEvent)
                  and not t.task_spec.cancel_activity]
        assert events
        for event in events:
            finished = [c for c in event._children
                        if _branch_if_done(workflow, workflow, c) is not None]
            names = [workflow.tasks[c].task_spec.name for c in finished]
            assert len(names) == len(set(names))  # at most the first of each path
            joins = [c for c in event.children if c.state == TaskState.WAITING
                     and c.task_spec.name.endswith("BoundaryEventJoin")]
            assert len(joins) <= 1
        assert prune_repeated_branches(workflow) == 0
    finally:
        regency.engine.dispose()
