"""The statistics' triggers on SQLite look a report's rows up by the report (issue 17: the
complaint lifecycle's cost).

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

TRIGGERS and DROP are 0038's and 0039's with these triggers in place of theirs (what
bench/stats.py installs after its bulk load). The downgrade makes the earlier ones again.

Revision ID: 0041_stats_trigger_plans
Revises: 0040_stats_months
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

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
# A state or status read through an alias of sla_record or escalation (s, b, e), not
# already written with a plus; NEW.state and OLD.state are the changed row's, not a lookup.
_LOOKUP = re.compile(r"(?<![\w.+])([sbe])\.(state|status)\b")


def _by_report(statement: str) -> str:
    """``statement`` with every state/status term of its lookups kept off the indexes."""
    return _LOOKUP.sub(r"+\1.\2", statement)


def _name(statement: str) -> str:
    return statement.split()[2]


def _sqlite(module: Any) -> tuple[str, ...]:
    """The module's SQLite triggers that read a report's rows by state, made again."""
    return tuple(_by_report(s) for s in module.TRIGGERS["sqlite"] if _LOOKUP.search(s))


def _replacing(module: Any) -> dict[str, tuple[str, ...]]:
    mine = {_name(s): s for s in _sqlite(module)}
    return {"postgresql": module.TRIGGERS["postgresql"],
            "sqlite": tuple(mine.get(_name(s), s) for s in module.TRIGGERS["sqlite"])}


class Summaries:
    """An earlier migration's summaries (TRIGGERS, DROP, backfill) with this migration's
    triggers in place of its own: what bench/stats.py installs."""

    def __init__(self, module: Any) -> None:
        self.TRIGGERS = _replacing(module)
        self.DROP = module.DROP
        self.backfill = module.backfill


STATS_FACTS, STATS_RUNNING = Summaries(FACTS), Summaries(RUNNING)


def _swap(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    for statement in old:
        op.execute(f"DROP TRIGGER IF EXISTS {_name(statement)}")
    for statement in new:
        op.execute(statement)


def _changed() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the earlier triggers, this migration's) on SQLite."""
    old = tuple(s for module in (FACTS, RUNNING) for s in module.TRIGGERS["sqlite"]
                if _LOOKUP.search(s))
    return old, tuple(_by_report(s) for s in old)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    old, new = _changed()
    _swap(old, new)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    old, new = _changed()
    _swap(new, old)
