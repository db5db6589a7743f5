"""The deadline and escalation facts (migration 0035) kept from the changed row alone
(issue 17: the complaint lifecycle's cost).

Migration 0035's triggers work out a report's facts twice per written SLA record or
escalation, before and after the change, each time from all of the report's rows (eight
such computations per row on SQLite: a difference each way, for the day's and the month's
sums), and the whole report's facts again when a report is answered. Measured in the
complaint lifecycle on SQLite (bench/lifecycle.py), they were half of the time spent inside
SQLite (about 4.5 ms a lifecycle).

Here each fact is added from the row that changed:

- *sums over rows* (`records`: per step, state and budget, how many and their lateness;
  `esc`: per rung and status, how many): the old row's contribution taken away, the new
  row's added;
- *facts a report has or not* (`step`, `own`, `unanswered`, `esc_rung`, `esc_any`): the old
  row's fact is taken away when no other row of the report still gives it, the new row's
  added when no other row gave it already (when the old and the new row give the same
  fact, the two cancel out). "Other rows" are the report's rows without the changed one,
  found through the report's index; they are the same whether the trigger runs before the
  change (PostgreSQL) or after it (SQLite).
- A report answered or dispositioned without any of its keys changing (day of receipt,
  agency, unit, classification, misconduct) moves only its `unanswered` fact, when it has a
  breached follow-up record; when a key changes, its facts are computed once from its rows
  and moved from the old keys to the new ones.

The facts, their keys and the tables are 0035's: what is counted does not change;
tests/test_stats_facts.py and tests/test_stats_fact_rows.py compare the sums with a recount
after every kind of write, on both databases. The statements below are 0035's trigger
functions and triggers for SLA records, escalations and complaints made again; 0035's fold,
TRUNCATE handling, report lock and backfill stay. The downgrade puts 0035's back.

TRIGGERS and DROP (0035's with these in place of its three) are what bench/stats.py installs
after its bulk load.

Revision ID: 0038_stats_fact_rows
Revises: 0037_stats_speeds
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from alembic import op

revision = "0038_stats_fact_rows"
down_revision = "0037_stats_speeds"
branch_labels = None
depends_on = None


def _frozen(stem: str) -> Any:
    """An earlier migration's module, as it stands (its SQL is frozen with it)."""
    spec = importlib.util.spec_from_file_location(
        f"aduan_migration_{stem}", Path(__file__).with_name(f"{stem}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FACTS = _frozen("0035_stats_facts")
CITIZEN, OWN = FACTS.CITIZEN, FACTS.OWN
OPEN_STATES = "('running', 'paused')"
COUNTED_STATES = "('met', 'breached', 'running', 'paused')"


def _yes(condition: str) -> str:
    """``condition`` as true or false, never NULL (a NULL column makes a fact false)."""
    return f"(CASE WHEN {condition} THEN 1 ELSE 0 END = 1)"


class Fact:
    """One kind of fact a row gives: when it gives it (``when``), its ``k1`` and ``k2``,
    and either its ``late`` (a sum over rows: every row adds 1 and its lateness) or none (a
    fact the report has or not: the row gives it once). Each text names the row
    ``$r``."""

    def __init__(self, kind: str, when: str, k1: str, k2: str, late: str | None = None,
                 budget: str = "0", summed: bool = False) -> None:
        self.kind, self.when, self.k1, self.k2 = kind, when, k1, k2
        self.late, self.budget, self.summed = late or "0", budget, summed

    def of(self, text: str, row: str) -> str:
        return text.replace("$r", row)


SLA_FACTS = (
    Fact("records", f"$r.step NOT IN {CITIZEN}", "$r.step", "$r.state",
         late="coalesce($r.late_seconds, 0)", budget="coalesce($r.budget_days, 0)",
         summed=True),
    Fact("step", f"$r.step NOT IN {CITIZEN} AND $r.state IN {COUNTED_STATES}", "$r.step",
         f"CASE WHEN $r.state IN {OPEN_STATES} THEN 'open' ELSE $r.state END"),
    Fact("own", f"$r.step IN {OWN} AND $r.state IN ('met', 'breached')", "''", "$r.state"),
    Fact("unanswered", "$r.step = 'follow_up' AND $r.state = 'breached'", "''", "''"),
)
ESC_FACTS = (
    Fact("esc", "1 = 1", "$r.rung_name", "$r.status", summed=True),
    Fact("esc_rung", "1 = 1", "$r.rung_name", "''"),
    Fact("esc_rung", "$r.status = 'open'", "$r.rung_name", "'open'"),
    Fact("esc_any", "1 = 1", "''", "''"),
    Fact("esc_any", "$r.status = 'open'", "''", "'open'"),
)
TABLES = {"sla": ("sla_record", SLA_FACTS, FACTS.SLA_WATCHED),
          "esc": ("escalation", ESC_FACTS, FACTS.ESCALATION_WATCHED)}


def _same(postgres: bool, a: str, b: str) -> str:
    return f"{a} IS NOT DISTINCT FROM {b}" if postgres else f"{a} IS {b}"


def _parts(postgres: bool, table: str, facts: tuple[Fact, ...], report: str,
           old: bool, new: bool) -> str:
    """The changed row's facts for the report ``report`` as signed rows (kind, k1, k2,
    budget, n, late): OLD's taken away and NEW's added, each only when it belongs to that
    report (a row moved to another report leaves one and joins the other)."""
    rows = {"OLD": old, "NEW": new}
    ids = " AND ".join(f"s.id <> {row}.id" for row, present in rows.items() if present)
    parts = []
    for fact in facts:
        for row, present in rows.items():
            if not present:
                continue
            sign = "-" if row == "OLD" else ""
            mine = _yes(fact.of(fact.when, row))
            if f"{row}.complaint_id" != report:  # it belongs to the report
                mine = f"{_same(postgres, f'{row}.complaint_id', report)} AND {mine}"
            select = (f"SELECT CAST('{fact.kind}' AS TEXT) AS kind, "
                      f"CAST({fact.of(fact.k1, row)} AS TEXT) AS k1, "
                      f"CAST({fact.of(fact.k2, row)} AS TEXT) AS k2, "
                      f"CAST({fact.of(fact.budget, row)} AS FLOAT) AS budget, "
                      f"{sign}1 AS n, CAST({sign}({fact.of(fact.late, row)}) AS FLOAT) AS late")
            if fact.summed:
                parts.append(f"{select} WHERE {mine}")
                continue
            # given once: counted when no other row of the report gives the same fact (when
            # OLD and NEW give the same, the two cancel out in the sum)
            same_key = (f"{_same(postgres, fact.of(fact.k1, 's'), fact.of(fact.k1, row))} AND "
                        f"{_same(postgres, fact.of(fact.k2, 's'), fact.of(fact.k2, row))}")
            given = ("NOT EXISTS (SELECT 1 FROM "  # noqa: S608
                     f"{table} AS s WHERE s.complaint_id = {report} AND {ids} AND "
                     f"{_yes(fact.of(fact.when, 's'))} AND {same_key})")
            parts.append(f"{select} WHERE {mine} AND {given}")
    return " UNION ALL ".join(parts)


def _month(postgres: bool, day: str) -> str:
    return f"date_trunc('month', {day})::date" if postgres else f"date({day}, 'start of month')"


def _key_columns(postgres: bool, row: str, sign: str) -> str:
    """A report's keys from the row ``row`` (the day of receipt, and the month's first
    day for the month's sums), whether it counts as unanswered, and ``sign``."""
    day = FACTS._day(postgres, f"{row}.created_at")
    return (f"{day} AS day, {_month(postgres, day)} AS month, "
            f"coalesce({row}.agency_id, 0) AS agency_id, coalesce({row}.unit_id, 0) AS "
            f"unit_id, {row}.classification AS classification, CASE WHEN {row}.misconduct "
            f"THEN 1 ELSE 0 END AS misconduct, {row}.disposed_at AS disposed_at, "
            f"{row}.first_answer_at AS first_answer_at, {sign} AS sign")


def _keys(postgres: bool, report: str | None) -> str:
    """The keys of the report ``report`` (one row, none without the report or the zone
    row), or with None an updated report's keys as they were (``sign`` -1) and as they are
    (1): its facts leave the first and join the second."""
    if report is not None:
        return (f"SELECT {_key_columns(postgres, 'k', '1')} FROM "  # noqa: S608
                f"complaint AS k CROSS JOIN stats_fact_zone AS z WHERE k.id = {report} "
                "AND z.id = 1")
    return " UNION ALL ".join(
        f"SELECT {_key_columns(postgres, row, sign)} FROM stats_fact_zone AS z "  # noqa: S608
        "WHERE z.id = 1" for row, sign in (("OLD", "-1"), ("NEW", "1")))


UNANSWERED_ONLY_IF = ("f.kind <> 'unanswered' OR (k.disposed_at IS NOT NULL AND "
                      "k.first_answer_at IS NULL)")


def _add(postgres: bool, report: str | None, signed: str,
         where: str = UNANSWERED_ONLY_IF) -> str:
    """Add the signed fact rows ``signed`` of the report ``report`` (None: the updated
    report's facts moved from its old keys to its new ones) to the day's and the month's
    sums: PostgreSQL appends delta rows (folded later, as 0035) in one statement that
    works the rows out once, SQLite upserts with one statement per table."""
    others = ", ".join(f"k.{c}" for c in FACTS.KEY[1:5]) + ", f.kind, f.k1, f.k2, f.budget"
    sums = "sum(k.sign * f.n), sum(k.sign * f.late)"
    having = "HAVING sum(k.sign * f.n) <> 0 OR sum(k.sign * f.late) <> 0"
    columns = f"(base, {FACTS.COLUMNS})"
    if postgres:  # d: the signed rows with their keys, summed per table
        grouped = ", ".join(FACTS.KEY[1:])
        per = "sum(sign * n), sum(sign * late) FROM d GROUP BY"
        kept = "HAVING sum(sign * n) <> 0 OR sum(sign * late) <> 0"
        return (f"WITH k AS ({_keys(True, report)}), f AS ({signed}), "  # noqa: S608
                f"d AS (SELECT k.day, k.month, {others}, k.sign, f.n, f.late FROM k CROSS "
                f"JOIN f WHERE {where}), days AS (INSERT INTO stats_fact_day {columns} "
                f"SELECT false, day, {grouped}, {per} day, {grouped} {kept}) "
                f"INSERT INTO stats_fact_month {columns} SELECT false, month, {grouped}, "
                f"{per} month, {grouped} {kept};")
    statements = []
    for table, day in (("stats_fact_day", "k.day"), ("stats_fact_month", "k.month")):
        statements.append(
            f"INSERT INTO {table} {columns} SELECT 1, {day}, {others}, {sums} "  # noqa: S608
            f"FROM ({_keys(False, report)}) AS k CROSS JOIN ({signed}) AS f WHERE {where} "
            f"GROUP BY {day}, {others} {having} ON CONFLICT ({FACTS._KEY}) WHERE base "
            f"DO UPDATE SET {FACTS._SQLITE_ADD};")
    return " ".join(statements)


def _row_delta(postgres: bool, table: str, case: str) -> str:
    name, facts, _ = TABLES[table]
    if case == "insert":
        return _add(postgres, "NEW.complaint_id",
                    _parts(postgres, name, facts, "NEW.complaint_id", False, True))
    if case == "delete":
        return _add(postgres, "OLD.complaint_id",
                    _parts(postgres, name, facts, "OLD.complaint_id", True, False))
    if case == "update":  # the report the row belongs to now (OLD counted if it was there)
        return _add(postgres, "NEW.complaint_id",
                    _parts(postgres, name, facts, "NEW.complaint_id", True, True))
    # moved: the report it left
    return _add(postgres, "OLD.complaint_id",
                _parts(postgres, name, facts, "OLD.complaint_id", True, True))


# A report's keys: a change of one moves all its facts.
_KEYS = ("id", "created_at", "agency_id", "unit_id", "classification", "misconduct")


def _moved(postgres: bool) -> str:
    """A report whose keys changed: all of its facts (from its rows, once) taken away
    under its old keys and added under its new ones (0035 worked out the whole difference
    from the facts computed eight times)."""
    return _add(postgres, None, FACTS._arms(FACTS._sla("NEW.id"), FACTS._esc("NEW.id")))


def _unanswered(row: str) -> str:
    return (f"CASE WHEN {row}.disposed_at IS NOT NULL AND {row}.first_answer_at IS NULL "
            "THEN 1 ELSE 0 END")


def _unanswered_delta(postgres: bool) -> str:
    """A report whose keys stay and whose `unanswered` condition changed: only that fact
    moves, when the report has a breached follow-up record."""
    signed = (f"SELECT CAST('unanswered' AS TEXT) AS kind, CAST('' AS TEXT) AS k1, "  # noqa: S608
              "CAST('' AS TEXT) AS k2, CAST(0 AS FLOAT) AS budget, "
              f"{_unanswered('NEW')} - {_unanswered('OLD')} AS n, CAST(0 AS FLOAT) AS late "
              "WHERE EXISTS (SELECT 1 FROM sla_record AS s WHERE s.complaint_id = NEW.id AND "
              "s.step = 'follow_up' AND s.state = 'breached')")
    # the keys are read from the stored row: NEW's (SQLite: AFTER) or OLD's (PostgreSQL:
    # BEFORE), which have the same keys; the condition is in `signed` itself
    return _add(postgres, "NEW.id", signed, where="1 = 1")


def _pg_keys_changed() -> str:
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _KEYS)


def _sqlite_keys_changed() -> str:
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _KEYS)


_PG_RETURN = "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW;"
_FOLD = "IF random() < 0.002 THEN PERFORM aduan_stats_fact_fold(); END IF; "
_ZONE = ("IF NOT EXISTS (SELECT 1 FROM stats_fact_zone WHERE id = 1) THEN "  # noqa: S608
         f"{_PG_RETURN} END IF; ")


def _pg_functions() -> tuple[str, ...]:
    functions = []
    for table, (_, _, watched) in TABLES.items():
        functions.append(
            f"CREATE OR REPLACE FUNCTION aduan_stats_fact_{table}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_ZONE}"
            f"IF TG_OP = 'INSERT' THEN {FACTS._lock('NEW.complaint_id')} "
            f"{_row_delta(True, table, 'insert')} "
            "ELSIF TG_OP = 'UPDATE' THEN "
            f"IF NOT ({FACTS._pg_changed(watched)}) THEN RETURN NEW; END IF; "
            f"{FACTS._lock('NEW.complaint_id')} {_row_delta(True, table, 'update')} "
            "IF NEW.complaint_id IS DISTINCT FROM OLD.complaint_id THEN "
            f"{FACTS._lock('OLD.complaint_id')} {_row_delta(True, table, 'moved')} END IF; "
            f"ELSE {FACTS._lock('OLD.complaint_id')} {_row_delta(True, table, 'delete')} "
            f"END IF; {_FOLD}{_PG_RETURN} END $$")
    gone = FACTS._pg_delta(*FACTS._changes(True)["complaint_delete"])
    functions.append(
        "CREATE OR REPLACE FUNCTION aduan_stats_fact_complaint() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN {_ZONE}"
        "IF TG_OP = 'UPDATE' THEN "
        f"IF NOT ({FACTS._PG_COMPLAINT_CHANGED}) THEN RETURN NEW; END IF; "
        f"{FACTS._lock('NEW.id')} "
        f"IF {_pg_keys_changed()} THEN {_moved(True)} ELSE {_unanswered_delta(True)} "
        "END IF; "
        f"ELSE {FACTS._lock('OLD.id')} {gone} END IF; {_FOLD}{_PG_RETURN} END $$")
    return tuple(functions)


def _sqlite_triggers() -> tuple[str, ...]:
    triggers = []
    for table, (name, _, watched) in TABLES.items():
        triggers += [
            f"CREATE TRIGGER trg_stats_fact_{table}_insert AFTER INSERT ON {name} "
            f"FOR EACH ROW BEGIN {_row_delta(False, table, 'insert')} END",
            f"CREATE TRIGGER trg_stats_fact_{table}_update AFTER UPDATE ON {name} "
            f"FOR EACH ROW WHEN {FACTS._sqlite_changed(watched)} BEGIN "
            f"{_row_delta(False, table, 'update')} END",
            f"CREATE TRIGGER trg_stats_fact_{table}_moved AFTER UPDATE ON {name} "
            "FOR EACH ROW WHEN NEW.complaint_id IS NOT OLD.complaint_id BEGIN "
            f"{_row_delta(False, table, 'moved')} END",
            f"CREATE TRIGGER trg_stats_fact_{table}_delete AFTER DELETE ON {name} "
            f"FOR EACH ROW BEGIN {_row_delta(False, table, 'delete')} END",
        ]
    triggers += [
        "CREATE TRIGGER trg_stats_fact_complaint_update AFTER UPDATE ON complaint "
        f"FOR EACH ROW WHEN {_sqlite_keys_changed()} BEGIN {_moved(False)} END",
        "CREATE TRIGGER trg_stats_fact_complaint_answered AFTER UPDATE ON complaint "
        f"FOR EACH ROW WHEN NOT ({_sqlite_keys_changed()}) AND "
        f"{_unanswered('NEW')} <> {_unanswered('OLD')} BEGIN {_unanswered_delta(False)} END",
    ]
    return tuple(triggers)


# The SQLite triggers this migration makes again (0035's complaint_delete stays).
_SQLITE_REPLACED = ("trg_stats_fact_sla_insert", "trg_stats_fact_sla_update",
                    "trg_stats_fact_sla_moved", "trg_stats_fact_sla_delete",
                    "trg_stats_fact_esc_insert", "trg_stats_fact_esc_update",
                    "trg_stats_fact_esc_moved", "trg_stats_fact_esc_delete",
                    "trg_stats_fact_complaint_update", "trg_stats_fact_complaint_answered")


def _replacing(statements: tuple[str, ...], dialect: str) -> tuple[str, ...]:
    """0035's statements with this migration's in place of the ones it makes again."""
    if dialect == "postgresql":
        mine = {s.split("FUNCTION ", 1)[1].split("(", 1)[0]: s for s in _pg_functions()}
        kept = tuple(s for s in statements if not (
            s.startswith("CREATE FUNCTION") and s.split()[2].split("(")[0] in mine))
        # functions before the triggers that call them
        return (*(s for s in kept if s.startswith("CREATE FUNCTION")), *mine.values(),
                *(s for s in kept if not s.startswith("CREATE FUNCTION")))
    kept = tuple(s for s in statements if s.split()[2] not in _SQLITE_REPLACED)
    return (*kept, *_sqlite_triggers())


TRIGGERS = {dialect: _replacing(statements, dialect)
            for dialect, statements in FACTS.TRIGGERS.items()}
DROP = {"postgresql": FACTS.DROP["postgresql"],
        "sqlite": (*FACTS.DROP["sqlite"], "DROP TRIGGER IF EXISTS "
                   "trg_stats_fact_complaint_answered")}
backfill = FACTS.backfill


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _pg_functions():
            op.execute(statement)
        return
    for name in _SQLITE_REPLACED:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in FACTS.TRIGGERS["postgresql"]:
            if statement.startswith("CREATE FUNCTION aduan_stats_fact_") and \
                    "RETURNS trigger" in statement and "truncated" not in statement:
                op.execute(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
        return
    for name in _SQLITE_REPLACED:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in FACTS.TRIGGERS["sqlite"]:
        if statement.split()[2] in _SQLITE_REPLACED:
            op.execute(statement)
