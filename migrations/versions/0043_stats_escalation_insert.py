"""A new escalation's statistics facts worked out with one look at the report's other
escalations, on PostgreSQL (issue 17: the real timer firing's database share).

An SLA watch that escalates inserts an escalation; its row trigger (`aduan_stats_fact_esc`,
migration 0038's) then took the report's lock, checked the zone row in a statement of its
own, and ran one statement of five UNION ALL branches, four of them a NOT EXISTS over the
report's other escalations, grouped and summed for the day's and the month's facts: about
0.19 ms of the server a call, most of it PL/pgSQL's and the executor's work per statement
and per sub-plan rather than rows (BENCHMARKS.md, Issue 17, ninth round).

For an INSERT the function now takes the report's lock in the statement that finds the zone
row (no zone row, no facts: as before), then reads the report's other escalations once (an
aggregate: any with this rung, with this rung and open, any at all, any open) and writes the
new row's facts, each once, with no grouping (every fact of one row has its own key). What
is counted does not change: `esc` (rung, status) always; `esc_rung` (rung, '') and (rung,
'open'), `esc_any` ('', '') and ('', 'open') when no other escalation of the report gives
them already (migration 0038's rule). An UPDATE or DELETE runs 0038's statements, unchanged.
SQLite's triggers are 0038's (made again by 0041) and stay: tests/test_stats_fact_rows.py
compares both databases' sums with a recount after every kind of write.

STATS_FACTS is 0041's with this function in place of 0038's (what bench/stats.py installs
after its bulk load). The downgrade makes 0038's function again.

Revision ID: 0043_stats_escalation_insert
Revises: 0042_state_lz4
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from alembic import op

revision = "0043_stats_escalation_insert"
down_revision = "0042_state_lz4"
branch_labels = None
depends_on = None


def _frozen(stem: str) -> Any:
    """An earlier migration's module, as it stands (its SQL is frozen with it)."""
    spec = importlib.util.spec_from_file_location(
        f"aduan_migration_{stem}_for_0043", Path(__file__).with_name(f"{stem}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLANS = _frozen("0041_stats_trigger_plans")
ROWS = PLANS.FACTS  # 0038
FACTS = ROWS.FACTS  # 0035
_FUNCTION = "CREATE OR REPLACE FUNCTION aduan_stats_fact_esc() "
EARLIER = next(s for s in PLANS.STATS_FACTS.TRIGGERS["postgresql"] if s.startswith(_FUNCTION))


def _inserted() -> str:
    """The facts of an inserted escalation, one statement: the report's keys (none without
    the zone row), what its other escalations give already, the row's facts not given."""
    day = FACTS._day(True, "k.created_at")
    keys = (f"SELECT {day} AS day, {ROWS._month(True, day)} AS month, "  # noqa: S608
            "coalesce(k.agency_id, "
            "0) AS agency_id, coalesce(k.unit_id, 0) AS unit_id, k.classification AS "
            "classification, CASE WHEN k.misconduct THEN 1 ELSE 0 END AS misconduct FROM "
            "complaint AS k CROSS JOIN stats_fact_zone AS z WHERE k.id = NEW.complaint_id "
            "AND z.id = 1")
    same_rung = "s.rung_name IS NOT DISTINCT FROM NEW.rung_name"
    given = (f"SELECT coalesce(bool_or({same_rung}), false) AS rung, "  # noqa: S608
             f"coalesce(bool_or({same_rung} AND s.status = 'open'), false) AS rung_open, "
             "count(*) > 0 AS any, coalesce(bool_or(s.status = 'open'), false) AS open "
             "FROM escalation AS s WHERE s.complaint_id = NEW.complaint_id AND s.id <> NEW.id")
    opened = "NEW.status = 'open'"
    facts = ("SELECT v.kind, v.k1, v.k2 FROM o CROSS JOIN LATERAL (VALUES "  # noqa: S608
             "(CAST('esc' AS TEXT), CAST(NEW.rung_name AS TEXT), CAST(NEW.status AS TEXT), "
             "true), ('esc_rung', NEW.rung_name, '', NOT o.rung), "
             f"('esc_rung', NEW.rung_name, 'open', {opened} AND NOT o.rung_open), "
             "('esc_any', '', '', NOT o.any), "
             f"('esc_any', '', 'open', {opened} AND NOT o.open)) AS v (kind, k1, k2, given) "
             "WHERE v.given")
    columns = f"(base, {FACTS.COLUMNS})"
    rows = ("k.agency_id, k.unit_id, k.classification, k.misconduct, f.kind, f.k1, f.k2, 0, "
            "1, 0 FROM k CROSS JOIN f")
    return (f"WITH k AS ({keys}), o AS ({given}), f AS ({facts}), "
            f"days AS (INSERT INTO stats_fact_day {columns} SELECT false, k.day, {rows}) "
            f"INSERT INTO stats_fact_month {columns} SELECT false, k.month, {rows};")


def _mine() -> str:
    lock = FACTS._lock("NEW.complaint_id").rstrip().removesuffix(";")
    assert lock.startswith("PERFORM "), lock
    insert = (f"IF TG_OP = 'INSERT' THEN {lock} FROM stats_fact_zone WHERE id = 1; "
              f"IF NOT FOUND THEN RETURN NEW; END IF; {_inserted()} {ROWS._FOLD}"
              "RETURN NEW; END IF; ")
    head = "$$ BEGIN "
    assert EARLIER.count(head) == 1, EARLIER[:200]
    # 0038's INSERT branch further on is not reached any more (PL/pgSQL plans a statement
    # when it first runs it); its UPDATE and DELETE branches run as before
    return EARLIER.replace(head, head + insert, 1)


MINE = _mine()


class Summaries:
    """0041's STATS_FACTS with this migration's function in place of 0038's."""

    revision = revision

    def __init__(self, earlier: Any) -> None:
        self.earlier = earlier
        self.TRIGGERS = {"postgresql": tuple(MINE if s == EARLIER else s
                                             for s in earlier.TRIGGERS["postgresql"]),
                         "sqlite": earlier.TRIGGERS["sqlite"]}
        self.DROP = earlier.DROP

    def backfill(self, connection: Any, **kwargs: Any) -> None:
        self.earlier.backfill(connection, **kwargs)


STATS_FACTS = Summaries(PLANS.STATS_FACTS)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(MINE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(EARLIER)
