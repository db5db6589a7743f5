"""How an open report's saved state grows while its SLA watch fires, day after day.

Run from the repository root:

    python bench/state_growth.py             # 60 days
    python bench/state_growth.py --days 20

One real report (the demo regency on SQLite, through the use cases) is filed, verified and
disposed to an agency, then left at follow-up while a frozen clock moves a day at a time
and the timer sweep fires what is due (the diagram's non-interrupting `follow_up_watch`
cycle: reminders, then escalations, once a day). At the days listed the saved state's size,
its task count, the Python calls of restoring and of dumping the state once, and the CPU
time (median of 30, process time) of the engine's own part of a firing are reported:
restore the workflow from the saved state, take the projection snapshot, refresh the timers
and run the engine steps, snapshot again and dump the state (no database, no services; each
restore as a firing's, with task ids the process has not seen: engine/taskcodec.py).
SpiffWorkflow keeps every task a workflow ever had, and each cycle firing adds a branch to
the tree, so the work grows with the report's age.

The LAST line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:1] = [str(ROOT)]  # the repository, not bench/, first

from sqlalchemy import text  # noqa: E402

import migrations  # noqa: E402
from bench.engine import _load_average, say  # noqa: E402
from engine import FrozenClock  # noqa: E402
from engine import projections as proj  # noqa: E402
from engine.runtime import dump_state, load_state  # noqa: E402

try:  # each load as a firing's: its task ids not yet seen by the process
    from engine.taskcodec import forget as forget_ids
except ImportError:  # a tree from before engine/taskcodec.py (an A/B base)
    def forget_ids() -> None:
        pass
from tests.regency import PHOTO, build  # noqa: E402
from workflows.storage import Upload  # noqa: E402

REPORT = {"classification": "pengaduan", "category": "roads",
          "title": "Jalan berlubang di depan pasar",
          "body": "Lubang besar di Jalan Propinsi depan pasar, sudah dua motor jatuh.",
          "reporter_name": "Budi", "reporter_email": "budi@example.org"}
SHOWN = (1, 3, 5, 10, 20, 30, 40, 50, 60, 90, 120)


def at_follow_up(regency) -> int:
    """File a report through the use cases, verify it and dispose it to an agency (its
    follow-up watch then fires daily); its process instance's id."""
    admin = regency.domain.accounts.authenticate_token(regency.tokens["admin.kominfo"])
    number = regency.domain.reports.submit(REPORT, [Upload("lubang.jpg", PHOTO)],
                                           channel="web")["tracking_number"]
    regency.domain.reports.act(number, "verify", {}, admin)
    regency.domain.reports.act(number, "dispose", {"agency_code": "dinas_pupr"}, admin)
    with regency.engine.store.read() as session:
        return session.execute(text(
            "SELECT instance_id FROM complaint WHERE tracking_number = :n"),
            {"n": number}).scalar_one()


def engine_part(regency, instance_id: int, now: datetime) -> dict:
    engine = regency.engine
    with engine.store.read() as session:
        row = session.execute(text("SELECT definition_id, state FROM process_instance "
                                   "WHERE id = :id"), {"id": instance_id}).one()
        definition = engine._deployments.get(session, row.definition_id)
    script_engine = engine._instances.transaction.script_engine(now)
    times = []
    for _ in range(30):
        forget_ids()
        began = time.process_time()
        workflow = load_state(row.state, definition.spec, definition.subprocess_specs,
                              script_engine)
        proj.snapshot(workflow)
        workflow.refresh_timers()
        workflow.do_engine_steps()
        proj.snapshot(workflow)
        dump_state(workflow)
        times.append(time.process_time() - began)
    # the Python calls of restoring and dumping it once more: figures the load does not move
    forget_ids()
    calls = {}
    for part, run in (("load", lambda: load_state(row.state, definition.spec,
                                                   definition.subprocess_specs, script_engine)),
                      ("dump", lambda: dump_state(workflow))):
        profile = cProfile.Profile()
        profile.runcall(run)
        calls[f"{part}_python_calls"] = pstats.Stats(profile).total_calls
    return {"state_bytes": len(row.state), "tasks": len(workflow.tasks),
            "engine_part_ms": round(statistics.median(times) * 1000, 3), **calls}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aduan-growth-"))
    url = f"sqlite:///{folder / 'growth.db'}"
    migrations.upgrade(url)
    clock = FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # a Monday, 10:00 WITA
    regency = build(url, clock, folder)
    started = time.perf_counter()
    load_before = _load_average()
    try:
        instance_id = at_follow_up(regency)
        rows = [{"day": 0, "fired": 0, **engine_part(regency, instance_id, clock.now())}]
        fired = 0
        for day in range(1, args.days + 1):
            clock.advance(timedelta(days=1))
            fired += sum(len(r.fired) for r in regency.domain.operations.fire_due_timers(100))
            if day in SHOWN or day == args.days:
                rows.append({"day": day, "fired": fired,
                             **engine_part(regency, instance_id, clock.now())})
                say(f"day {day:3}: {fired:3} firings, {rows[-1]['tasks']} tasks, "
                    f"{rows[-1]['state_bytes']:,} bytes, engine part "
                    f"{rows[-1]['engine_part_ms']} ms, Python calls: load "
                    f"{rows[-1]['load_python_calls']:,}, dump {rows[-1]['dump_python_calls']:,}")
    finally:
        regency.engine.dispose()
    print(json.dumps({"benchmark": "state_growth", "days": args.days, "rows": rows,
                      "load_average_before": load_before,
                      "load_average_after": _load_average(),
                      "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
