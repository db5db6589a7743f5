"""The statistics' triggers on SQLite look a report's rows up by the report, and the
working-time measures are written back only when they change (issue 17: the complaint
lifecycle's cost).

The triggers of migrations 0035, 0038 and 0039 read the changed report's other SLA records
and escalations (`WHERE complaint_id = ... AND s.state = ...`). Without statistics (SQLite
gathers none unless asked, and migration 0035's ANALYZE ran on empty tables in a new
database) SQLite's planner took the index by state (`ix_sla_record_state_due`,
`ix_escalation_status`) for several of them: every SLA record's state change then walked
every record of the same state in the database (all met records, all running ones), and
the lifecycle's cost grew with the reports stored: +140 SQLite instructions a lifecycle for
every lifecycle run before it in bench/lifecycle.py, and, in a regency with a million
closed reports, millions of index entries a write.

Here the same triggers are made again with the state and status columns of those lookups
written `+s.state` (SQLite's unary plus: the same value, but no index can serve the term),
so that the report's own index (`ix_sla_record_complaint_step`,
`ix_escalation_complaint_id`) is the only one left. What the triggers count does not change;
the statements are the earlier migrations' own, with that one rewrite. PostgreSQL plans
with the statistics autovacuum keeps: unchanged here.

The working-time measures' triggers of migration 0037 (SQLite: AFTER triggers that write
the three measures back with an UPDATE of the report) ran their UPDATE after every INSERT
and after every UPDATE naming one of the times, changed or not; that UPDATE runs every
other trigger of an updated complaint (the change logs write a row each). Here the UPDATE
works each measure out once and writes only when one differs from the stored value (a
value written by hand is still replaced, a NULL written still recomputes all three, as
0037 has it), and a new report without any time the measures end at (verification, first
answer, closure) or a measure of its own is left alone: its measures are all NULL.

STATS_FACTS, STATS_RUNNING and STATS_SPEEDS are 0038's, 0039's and 0037's TRIGGERS, DROP and
backfill with these triggers in place of theirs (what bench/stats.py and bench/web.py
install after their bulk loads). The downgrade makes the earlier ones again.

Revision ID: 0041_stats_trigger_plans
Revises: 0040_stats_months
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0041_stats_trigger_plans"
down_revision = "0040_stats_months"
branch_labels = None
depends_on = None


def _frozen(stem: str) -> Any:
    """An earlier migration's module, as it stands (its SQL is frozen with it)."""
    spec = importlib.util.spec_from_file_location(
        f"aduan_migration_{stem}_for_0041", Path(__file__).with_name(f"{stem}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FACTS = _frozen("0038_stats_fact_rows")
RUNNING = _frozen("0039_stats_running")
SPEEDS = _frozen("0037_stats_speeds")
DAYS = _frozen("0032_stats_days")
MONTHS = _frozen("0040_stats_months")
# A state or status read through an alias of sla_record or escalation (s, b, e), not
# already written with a plus; NEW.state and OLD.state are the changed row's, not a lookup.
_LOOKUP = re.compile(r"(?<![\w.+])([sbe])\.(state|status)\b")


def _by_report(statement: str) -> str:
    """``statement`` with every state/status term of its lookups kept off the indexes."""
    return _LOOKUP.sub(r"+\1.\2", statement)


def _name(statement: str) -> str:
    return statement.split()[2]


def _work_measures() -> tuple[str, ...]:
    """0037's SQLite triggers of the working-time measures, writing them back only when one
    of them changes, and on INSERT only when the new report has a time they measure to (or
    a measure written by hand): their UPDATE of the report otherwise changed nothing but
    still ran every other trigger of an updated complaint (the change logs' inserts among
    them). The measures are 0037's expressions, worked out once each."""
    computed = ", ".join(f"{SPEEDS._sqlite_measure(start, end)} AS {column}"
                         for column, start, end in SPEEDS.MEASURES)
    sets = ", ".join(f"{column} = m.{column}" for column in SPEEDS.WORK)
    differs = " OR ".join(f"complaint.{column} IS NOT m.{column}" for column in SPEEDS.WORK)
    body = (f"BEGIN UPDATE complaint SET {sets} FROM (SELECT {computed}) AS m "  # noqa: S608
            f"WHERE complaint.id = NEW.id AND ({differs}); END")
    # every measure is NULL while its end is: without these, all three stay NULL
    given = " OR ".join(f"NEW.{column} IS NOT NULL" for column in (
        "verified_at", "first_answer_at", "closed_at", *SPEEDS.WORK))
    return (f"CREATE TRIGGER trg_work_measures_insert AFTER INSERT ON complaint FOR EACH ROW "
            f"WHEN {given} {body}",
            f"CREATE TRIGGER trg_work_measures_update AFTER UPDATE OF {SPEEDS._OF} "
            f"ON complaint FOR EACH ROW {body}")


def _mine() -> dict[str, str]:
    """This migration's SQLite triggers by name (each replaces an earlier one)."""
    mine = {_name(s): _by_report(s) for module in (FACTS, RUNNING)
            for s in module.TRIGGERS["sqlite"] if _LOOKUP.search(s)}
    mine.update((_name(s), s) for s in _work_measures())
    return mine


MINE = _mine()
# the earlier statements of the same triggers
EARLIER = {_name(s): s for module in (FACTS, RUNNING, SPEEDS) for s in module.TRIGGERS["sqlite"]
           if _name(s) in MINE}


# PostgreSQL: row triggers whose function returns at once for an UPDATE that changes none
# of the columns it counts (an SLA record's rung or reminders, a report's version): each
# split in two, the same function called for INSERT/DELETE as before and for UPDATE only
# WHEN a counted column changed. An AFTER trigger's event is then not even queued, a
# BEFORE trigger's function not called (0035's functions also looked the zone row up
# first). (module, trigger, table, the WHEN of its UPDATE)
_SPLIT = (
    (DAYS, "trg_stats_day", "complaint", DAYS._PG_CHANGED),
    (MONTHS, "trg_stats_month", "complaint", DAYS._PG_CHANGED),
    (FACTS, "trg_stats_fact_complaint", "complaint", FACTS.FACTS._PG_COMPLAINT_CHANGED),
    (FACTS, "trg_stats_fact_sla", "sla_record",
     FACTS.FACTS._pg_changed(FACTS.FACTS.SLA_WATCHED)),
    (FACTS, "trg_stats_fact_esc", "escalation",
     FACTS.FACTS._pg_changed(FACTS.FACTS.ESCALATION_WATCHED)),
)
_EVENTS = re.compile(r"^(CREATE TRIGGER \w+ (?:BEFORE|AFTER) )([A-Z ]+?)( ON .*)$", re.S)


def _split(statement: str, table: str, when: str) -> tuple[str, str]:
    """An earlier ``CREATE TRIGGER`` without UPDATE among its events, and its UPDATE
    trigger with ``when``."""
    found = _EVENTS.match(statement)
    assert found is not None, statement
    events = [e for e in found.group(2).split(" OR ") if e != "UPDATE"]
    name = _name(statement)
    timing = found.group(1).split()[-1]
    function = statement.split("EXECUTE FUNCTION ", 1)[1]
    return (f"{found.group(1)}{' OR '.join(events)}{found.group(3)}",
            f"CREATE TRIGGER {name}_update {timing} UPDATE ON {table} FOR EACH ROW "
            f"WHEN ({when}) EXECUTE FUNCTION {function}")


def _pg(module: Any, name: str) -> str:
    return next(s for s in module.TRIGGERS["postgresql"] if s.startswith(f"CREATE TRIGGER {name} "))


PG_EARLIER = {name: _pg(module, name) for module, name, _, _ in _SPLIT}
PG_MINE = {name: _split(PG_EARLIER[name], table, when) for _, name, table, when in _SPLIT}
PG_TABLE = {name: table for _, name, table, _ in _SPLIT}


class Summaries:
    """An earlier migration's summaries (TRIGGERS, DROP, backfill) with this migration's
    triggers in place of its own: what bench/stats.py and bench/web.py install."""

    def __init__(self, module: Any) -> None:
        self.module = module
        postgres: list[str] = []
        for statement in module.TRIGGERS["postgresql"]:
            split = PG_MINE.get(_name(statement)) if statement.startswith("CREATE TRIGGER") \
                else None
            postgres.extend(split or (statement,))
        self.TRIGGERS = {"postgresql": tuple(postgres),
                         "sqlite": tuple(MINE.get(_name(s), s)
                                         for s in module.TRIGGERS["sqlite"])}
        # the UPDATE triggers go first: the earlier DROP ends with their function
        self.DROP = {"postgresql": (
            *(f"DROP TRIGGER IF EXISTS {name}_update ON {PG_TABLE[name]}"
              for name in PG_MINE if PG_EARLIER[name] in module.TRIGGERS["postgresql"]),
            *module.DROP["postgresql"]), "sqlite": module.DROP["sqlite"]}

    def backfill(self, connection: Any, **kwargs: Any) -> None:
        """The module's backfill; on SQLite this migration's triggers made again after it
        (0037's backfill makes its own again)."""
        self.module.backfill(connection, **kwargs)
        if connection.dialect.name == "sqlite":
            for statement in self.TRIGGERS["sqlite"]:
                if _name(statement) in MINE:
                    connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {_name(statement)}"))
                    connection.execute(sa.text(statement))


STATS_FACTS, STATS_RUNNING, STATS_SPEEDS = (Summaries(FACTS), Summaries(RUNNING),
                                            Summaries(SPEEDS))
STATS_DAYS, STATS_MONTHS = Summaries(DAYS), Summaries(MONTHS)


def _swap(old: dict[str, str], new: dict[str, str]) -> None:
    for name in old:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in new.values():
        op.execute(statement)


def _pg_swap(mine: bool) -> None:
    for name, table in PG_TABLE.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}_update ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for statement in PG_MINE[name] if mine else (PG_EARLIER[name],):
            op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _swap(EARLIER, MINE)
    else:
        _pg_swap(True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _swap(MINE, EARLIER)
    else:
        _pg_swap(False)
