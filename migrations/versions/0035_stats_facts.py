"""The statistics' per-day summaries of deadlines and escalations (issue 17): `stats_fact_day`,
`stats_fact_month` and `stats_fact_zone` (workflows/stats_fact_models.py), the triggers that
keep them in the writer's transaction, their backfill from the rows already stored, and an
index of SLA records by state and date of receipt (the steps overdue now).

A report's *facts* are what the figures of deadlines and escalations count about it, each
with its report's keys (local day of receipt at the offset in `stats_fact_zone`, agency,
unit, classification, misconduct):

- `records`: its SLA records of the government's steps per step, state and budget: how many,
  and their lateness (seconds) summed;
- `step`: the steps it has a met / breached / open (running or paused) record of, once each;
- `own`: whether it has a met / breached record of the OPD's own steps (follow-up,
  resolution);
- `esc`: its escalations per rung and status, how many;
- `esc_rung`: the rungs it was escalated to, and those with an escalation still open;
- `esc_any`: whether it was escalated at all, and whether one is still open;
- `unanswered`: dispositioned, not answered, and its follow-up deadline breached.

Every INSERT, UPDATE (of a column a fact depends on) and DELETE of an SLA record, an
escalation or a complaint works out the report's facts before and after the change (from
the report's rows, found by `complaint_id`, with the changed row as it was) and adds the
difference to `stats_fact_day` and `stats_fact_month` (the same sums per month of receipt,
its first day in `day`). What depends on `now` (steps running past their due time) is
not a fact: the statistics read it from the running records of the period (a new index,
`ix_sla_record_state_received`: state, date of receipt, due time).

- PostgreSQL: the trigger appends signed delta rows (`base` false); now and then (about one
  write in 500) it folds every visible delta into the base rows, under a transaction-level
  advisory lock, as migration 0032 does: writers never update a shared summary row. Writers
  of one report's rows take that report's advisory lock (see _lock).
- SQLite (one writer at a time): the triggers add to the base rows directly (an upsert).

The triggers live here only; this module's TRIGGERS, DROP and backfill() are also what
bench/stats.py uses after its bulk load (which, like a restore, runs without triggers).

Revision ID: 0035_stats_facts
Revises: 0034_account_revision
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0035_stats_facts"
down_revision = "0034_account_revision"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMEZONE_VARIABLE = "ADUAN_TIMEZONE"  # as migration 0032: the offset the local day is cut at
DEFAULT_TIMEZONE = "Asia/Makassar"
FOLD_LOCK = 7_320_034  # pg advisory lock key of the folder
KEY = ("day", "agency_id", "unit_id", "classification", "misconduct", "kind", "k1", "k2",
       "budget")
SUMS = ("n", "late")
COLUMNS = ", ".join((*KEY, *SUMS))
CITIZEN = "('info_request', 'complainant_window')"  # workflows.sla.CITIZEN_STEPS
OWN = "('follow_up', 'resolution')"
# The complaint's columns the facts depend on, and the SLA record's and escalation's.
COMPLAINT_COLUMNS = ("id", "created_at", "agency_id", "unit_id", "classification",
                     "misconduct", "disposed_at", "first_answer_at")
SLA_WATCHED = ("complaint_id", "step", "state", "budget_days", "late_seconds")
ESCALATION_WATCHED = ("complaint_id", "rung_name", "status")


SLA_ARMS, ESC_ARMS = (0, 1, 2, 8), (3, 4, 5, 6, 7)  # which facts each table's rows make


def _arms(sla: str, esc: str, only: tuple[int, ...] = (*SLA_ARMS, *ESC_ARMS)) -> str:
    """The facts of one report without its keys, from its SLA records ``sla`` (a derived
    table with step, state, budget_days, late_seconds) and escalations ``esc`` (rung_name,
    status); ``only`` those numbered (a write to SLA records changes only theirs)."""
    arms = (
        "SELECT CAST('records' AS TEXT) AS kind, s.step AS k1, s.state AS k2, "
        "coalesce(s.budget_days, 0) AS budget, count(*) AS n, "
        f"coalesce(sum(s.late_seconds), 0) AS late FROM {sla} AS s WHERE s.step NOT IN "
        f"{CITIZEN} GROUP BY s.step, s.state, coalesce(s.budget_days, 0)",
        "SELECT DISTINCT 'step', s.step, CASE WHEN s.state IN ('running', 'paused') "
        f"THEN 'open' ELSE s.state END, 0, 1, 0 FROM {sla} AS s WHERE s.step NOT IN {CITIZEN} "
        "AND s.state IN ('met', 'breached', 'running', 'paused')",
        f"SELECT DISTINCT 'own', '', s.state, 0, 1, 0 FROM {sla} AS s WHERE s.step IN {OWN} "
        "AND s.state IN ('met', 'breached')",
        f"SELECT 'esc', e.rung_name, e.status, 0, count(*), 0 FROM {esc} AS e "
        "GROUP BY e.rung_name, e.status",
        f"SELECT DISTINCT 'esc_rung', e.rung_name, '', 0, 1, 0 FROM {esc} AS e",
        f"SELECT DISTINCT 'esc_rung', e.rung_name, 'open', 0, 1, 0 FROM {esc} AS e "
        "WHERE e.status = 'open'",
        f"SELECT 'esc_any', '', '', 0, 1, 0 WHERE EXISTS (SELECT 1 FROM {esc} AS e)",
        "SELECT 'esc_any', '', 'open', 0, 1, 0 WHERE EXISTS (SELECT 1 FROM "
        f"{esc} AS e WHERE e.status = 'open')",
        "SELECT 'unanswered', '', '', 0, 1, 0 WHERE EXISTS (SELECT 1 FROM "
        f"{sla} AS s WHERE s.step = 'follow_up' AND s.state = 'breached')",
    )
    chosen = [arms[i] for i in sorted(only)]
    # the first arm names the columns and fixes their types (PostgreSQL)
    head = ("SELECT CAST(kind AS TEXT) AS kind, k1, k2, CAST(budget AS FLOAT) AS budget, "
            "n, CAST(late AS FLOAT) AS late FROM (SELECT 'x' AS kind, '' AS k1, '' AS k2, "
            "0.0 AS budget, 0 AS n, 0.0 AS late) AS t WHERE 1 = 0")
    return " UNION ALL ".join((head, *chosen))


def _day(postgres: bool, column: str) -> str:
    if postgres:
        return (f"(({column} AT TIME ZONE 'UTC') + z.offset_seconds * interval '1 second')"
                "::date")
    return f"date({column}, z.offset_seconds || ' seconds')"


def _keyed(postgres: bool, report: str, sla: str, esc: str,
           only: tuple[int, ...] = (*SLA_ARMS, *ESC_ARMS)) -> str:
    """The facts of the report ``report`` (a derived table with COMPLAINT_COLUMNS; no row,
    no facts) with its keys: one SELECT."""
    return (f"SELECT {_day(postgres, 'k.created_at')} AS day, coalesce(k.agency_id, 0) AS "
            "agency_id, coalesce(k.unit_id, 0) AS unit_id, k.classification AS "
            "classification, CASE WHEN k.misconduct THEN 1 ELSE 0 END AS misconduct, "
            "f.kind AS kind, f.k1 AS k1, f.k2 AS k2, f.budget AS budget, f.n AS n, "
            f"f.late AS late FROM {report} AS k CROSS JOIN stats_fact_zone AS z "
            f"CROSS JOIN ({_arms(sla, esc, only)}) AS f WHERE z.id = 1 AND (f.kind <> 'unanswered' "
            "OR (k.disposed_at IS NOT NULL AND k.first_answer_at IS NULL))")


def _stored(complaint: str) -> str:
    return (f"(SELECT {', '.join(COMPLAINT_COLUMNS)} FROM complaint "
            f"WHERE id = {complaint})")


def _row(row: str) -> str:
    return "(SELECT " + ", ".join(f"{row}.{c} AS {c}" for c in COMPLAINT_COLUMNS) + ")"


def _sla(complaint: str, skip: str | None = None, add: str | None = None) -> str:
    """The SLA records of ``complaint`` in the table now, without the row ``skip`` and with
    the row ``add`` when it belongs to it (NEW or OLD: see :func:`_changes`)."""
    rows = ("SELECT step, state, budget_days, late_seconds FROM sla_record "
            f"WHERE complaint_id = {complaint}" + (f" AND id <> {skip}.id" if skip else ""))
    if add:
        rows += (f" UNION ALL SELECT {add}.step, {add}.state, {add}.budget_days, "
                 f"{add}.late_seconds WHERE {add}.complaint_id = {complaint}")
    return f"({rows})"


def _esc(complaint: str, skip: str | None = None, add: str | None = None) -> str:
    rows = ("SELECT rung_name, status FROM escalation "
            f"WHERE complaint_id = {complaint}" + (f" AND id <> {skip}.id" if skip else ""))
    if add:
        rows += (f" UNION ALL SELECT {add}.rung_name, {add}.status "
                 f"WHERE {add}.complaint_id = {complaint}")
    return f"({rows})"


def _pg_delta(before: str, after: str) -> str:
    """Append what changed between two sets of keyed facts as signed delta rows, to the
    day's rows and the month's."""
    keys = ", ".join(f"d.{c}" for c in KEY)
    month = ", ".join("date_trunc('month', d.day)::date" if c == "day" else f"d.{c}"
                      for c in KEY)
    return (f"WITH b AS ({before}), a AS ({after}), "
            f"d AS (SELECT {', '.join(KEY)}, -n AS n, -late AS late FROM (SELECT * FROM b "
            "EXCEPT SELECT * FROM a) AS gone UNION ALL SELECT * FROM (SELECT * FROM a EXCEPT "
            "SELECT * FROM b) AS came), "
            f"days AS (INSERT INTO stats_fact_day (base, {COLUMNS}) "
            f"SELECT false, {keys}, d.n, d.late FROM d) "
            f"INSERT INTO stats_fact_month (base, {COLUMNS}) "
            f"SELECT false, {month}, d.n, d.late FROM d; ")


_SQLITE_ADD = ", ".join(f"{c} = {c} + excluded.{c}" for c in SUMS)
_KEY = ", ".join(KEY)


def _sqlite_delta(before: str, after: str) -> str:
    month = ", ".join("date(day, 'start of month')" if c == "day" else c for c in KEY)

    def add(first: str, second: str, sign: str) -> str:
        return " ".join(
            f"INSERT INTO {table} (base, {COLUMNS}) SELECT 1, {keys}, {sign}n, "
            f"{sign}late FROM ({first} EXCEPT {second}) WHERE true "
            f"ON CONFLICT ({_KEY}) WHERE base DO UPDATE SET {_SQLITE_ADD};"
            for table, keys in (("stats_fact_day", _KEY), ("stats_fact_month", month)))
    return f"{add(before, after, '-')} {add(after, before, '')}"


def _changes(postgres: bool) -> dict[str, tuple[str, str]]:
    """(before, after) keyed facts of each kind of write, per trigger case.

    SQLite's row triggers run AFTER each row's change, which the table already holds: the
    rows as they were are the rows now without NEW and with OLD. PostgreSQL's run BEFORE it
    (an AFTER row trigger there runs at the end of the statement, when a statement that
    changed several rows of one report shows all of them changed to each row's trigger):
    the rows as they will be are the rows now without OLD and with NEW. Either way each
    row's trigger sees the rows of the statement before it changed, so the differences add
    up to the statement's.
    """
    cases = {}
    for table, source in (("sla", _sla), ("esc", _esc)):
        other = _esc if table == "sla" else _sla

        def facts(complaint: str, changed: str, oth: Any = other, t: str = table) -> str:
            # only the facts this table's rows make: the others are the same before and after
            sla, esc = (changed, oth(complaint)) if t == "sla" else (oth(complaint), changed)
            return _keyed(postgres, _stored(complaint), sla, esc,
                          SLA_ARMS if t == "sla" else ESC_ARMS)

        for case, complaint, old, new in (("insert", "NEW", None, "NEW"),
                                          ("update", "NEW", "OLD", "NEW"),
                                          ("moved", "OLD", "OLD", "NEW"),
                                          ("delete", "OLD", "OLD", None)):
            x = f"{complaint}.complaint_id"
            if postgres:  # the table holds the rows before the change
                cases[f"{table}_{case}"] = (facts(x, source(x)),
                                            facts(x, source(x, skip=old, add=new)))
            else:  # the table holds the rows after it
                cases[f"{table}_{case}"] = (facts(x, source(x, skip=new, add=old)),
                                            facts(x, source(x)))
    cases["complaint_update"] = (_keyed(postgres, _row("OLD"), _sla("NEW.id"), _esc("NEW.id")),
                                 _keyed(postgres, _row("NEW"), _sla("NEW.id"), _esc("NEW.id")))
    nothing = "(SELECT * FROM complaint WHERE 1 = 0)"
    cases["complaint_delete"] = (_keyed(postgres, _row("OLD"), _sla("OLD.id"), _esc("OLD.id")),
                                 _keyed(postgres, nothing, _sla("OLD.id"), _esc("OLD.id")))
    return cases


def _pg_changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)


def _sqlite_changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


# What an UPDATE of a complaint must change for its facts to move: its keys, and whether it
# is dispositioned and not answered (the `unanswered` fact).
_COMPLAINT_KEYS = ("id", "created_at", "agency_id", "unit_id", "classification", "misconduct")
_PG_COMPLAINT_CHANGED = (_pg_changed(_COMPLAINT_KEYS) + " OR (NEW.disposed_at IS NULL) <> "
                         "(OLD.disposed_at IS NULL) OR (NEW.first_answer_at IS NULL) <> "
                         "(OLD.first_answer_at IS NULL)")
_SQLITE_COMPLAINT_CHANGED = (_sqlite_changed(_COMPLAINT_KEYS) + " OR (NEW.disposed_at IS "
                             "NULL) <> (OLD.disposed_at IS NULL) OR (NEW.first_answer_at IS "
                             "NULL) <> (OLD.first_answer_at IS NULL)")


# PostgreSQL's triggers run BEFORE the row changes (see _changes): they hand the row on.
_PG_RETURN = "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW;"
REPORT_LOCK = 7_320_035  # pg advisory lock class of one report's facts (with its id)


def _lock(complaint: str) -> str:
    """Take the report's lock until the transaction ends. A report's facts are not a sum of
    its rows (a step breached twice is one breached step), so two transactions writing rows
    of one report must not each work out the difference from what they alone see: the
    second waits for the first, then (READ COMMITTED: a new snapshot per statement) sees its
    rows. Writes to one report already queue on its process instance; writers of different
    reports never wait here."""
    return (f"PERFORM pg_advisory_xact_lock({REPORT_LOCK}, "
            f"({complaint} % 2147483647)::integer);")


def _pg_functions() -> tuple[str, ...]:
    pg = _changes(True)

    def delta(case: str) -> str:
        return _pg_delta(*pg[case])

    def fold(table: str) -> str:
        add = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in SUMS)
        return (f"WITH moved AS (DELETE FROM {table} WHERE NOT base RETURNING *) "
                f"INSERT INTO {table} (base, {COLUMNS}) SELECT true, {_KEY}, sum(n), "
                f"sum(late) FROM moved GROUP BY {_KEY} ON CONFLICT ({_KEY}) WHERE base "
                f"DO UPDATE SET {add}; ")

    functions = [
        "CREATE FUNCTION aduan_stats_fact_fold() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
        "IF current_setting('transaction_isolation') <> 'read committed' THEN RETURN; END IF; "
        f"IF NOT pg_try_advisory_xact_lock({FOLD_LOCK}) THEN RETURN; END IF; "
        f"{fold('stats_fact_day')} {fold('stats_fact_month')} END $$",
    ]
    for table, name, watched in (("sla", "sla_record", SLA_WATCHED),
                                 ("esc", "escalation", ESCALATION_WATCHED)):
        functions.append(
            f"CREATE FUNCTION aduan_stats_fact_{table}() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN "
            f"IF NOT EXISTS (SELECT 1 FROM stats_fact_zone WHERE id = 1) THEN {_PG_RETURN} "
            "END IF; "
            f"IF TG_OP = 'INSERT' THEN {_lock('NEW.complaint_id')} "
            f"{delta(f'{table}_insert')} "
            f"ELSIF TG_OP = 'UPDATE' THEN "
            f"IF NOT ({_pg_changed(watched)}) THEN RETURN NEW; END IF; "
            f"{_lock('NEW.complaint_id')} {delta(f'{table}_update')} "
            f"IF NEW.complaint_id IS DISTINCT FROM OLD.complaint_id THEN "
            f"{_lock('OLD.complaint_id')} {delta(f'{table}_moved')} END IF; "
            f"ELSE {_lock('OLD.complaint_id')} {delta(f'{table}_delete')} END IF; "
            "IF random() < 0.002 THEN PERFORM aduan_stats_fact_fold(); END IF; "
            f"{_PG_RETURN} END $$")
        functions.append(
            f"CREATE TRIGGER trg_stats_fact_{table} BEFORE INSERT OR UPDATE OR DELETE ON "
            f"{name} FOR EACH ROW EXECUTE FUNCTION aduan_stats_fact_{table}()")
    functions += [
        "CREATE FUNCTION aduan_stats_fact_complaint() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM stats_fact_zone WHERE id = 1) THEN "
        f"{_PG_RETURN} END IF; "
        "IF TG_OP = 'UPDATE' THEN "
        f"IF NOT ({_PG_COMPLAINT_CHANGED}) THEN RETURN NEW; END IF; "
        f"{_lock('NEW.id')} {delta('complaint_update')} "
        f"ELSE {_lock('OLD.id')} {delta('complaint_delete')} END IF; "
        "IF random() < 0.002 THEN PERFORM aduan_stats_fact_fold(); END IF; "
        f"{_PG_RETURN} END $$",
        "CREATE TRIGGER trg_stats_fact_complaint BEFORE UPDATE OR DELETE ON complaint "
        "FOR EACH ROW EXECUTE FUNCTION aduan_stats_fact_complaint()",
        # TRUNCATE of any of the three: count again from what is left
        "CREATE FUNCTION aduan_stats_fact_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM stats_fact_day; DELETE FROM stats_fact_month; "
        f"{'; '.join(_backfill_statements(True))}; "
        "RETURN NULL; END $$",
        *(f"CREATE TRIGGER trg_stats_fact_truncated AFTER TRUNCATE ON {name} "
          "FOR EACH STATEMENT EXECUTE FUNCTION aduan_stats_fact_truncated()"
          for name in ("complaint", "sla_record", "escalation")),
    ]
    return tuple(functions)


def _sqlite_triggers() -> tuple[str, ...]:
    lite = _changes(False)
    triggers = []
    for table, name, watched in (("sla", "sla_record", SLA_WATCHED),
                                 ("esc", "escalation", ESCALATION_WATCHED)):
        triggers += [
            f"CREATE TRIGGER trg_stats_fact_{table}_insert AFTER INSERT ON {name} "
            f"FOR EACH ROW BEGIN {_sqlite_delta(*lite[f'{table}_insert'])} END",
            f"CREATE TRIGGER trg_stats_fact_{table}_update AFTER UPDATE ON {name} "
            f"FOR EACH ROW WHEN {_sqlite_changed(watched)} BEGIN "
            f"{_sqlite_delta(*lite[f'{table}_update'])} END",
            f"CREATE TRIGGER trg_stats_fact_{table}_moved AFTER UPDATE ON {name} "
            "FOR EACH ROW WHEN NEW.complaint_id IS NOT OLD.complaint_id BEGIN "
            f"{_sqlite_delta(*lite[f'{table}_moved'])} END",
            f"CREATE TRIGGER trg_stats_fact_{table}_delete AFTER DELETE ON {name} "
            f"FOR EACH ROW BEGIN {_sqlite_delta(*lite[f'{table}_delete'])} END",
        ]
    triggers += [
        "CREATE TRIGGER trg_stats_fact_complaint_update AFTER UPDATE ON complaint "
        f"FOR EACH ROW WHEN {_SQLITE_COMPLAINT_CHANGED} BEGIN "
        f"{_sqlite_delta(*lite['complaint_update'])} END",
        "CREATE TRIGGER trg_stats_fact_complaint_delete AFTER DELETE ON complaint "
        f"FOR EACH ROW BEGIN {_sqlite_delta(*lite['complaint_delete'])} END",
    ]
    return tuple(triggers)


def _backfill_statements(postgres: bool) -> list[str]:
    """The base rows of every report stored, from scratch: each kind of fact counted over
    all reports at once (grouped by its keys), the same facts the triggers work out one
    report at a time."""
    base = "true" if postgres else "1"
    keys = (f"{_day(postgres, 'k.created_at')}, coalesce(k.agency_id, 0), "
            "coalesce(k.unit_id, 0), k.classification, "
            "CASE WHEN k.misconduct THEN 1 ELSE 0 END")
    group = "1, 2, 3, 4, 5, 6, 7, 8, 9"
    zone = "CROSS JOIN stats_fact_zone AS z"
    insert = f"INSERT INTO stats_fact_day (base, {COLUMNS}) SELECT {base}, "
    month = ("date_trunc('month', day)::date" if postgres else "date(day, 'start of month')")

    def per_report(kind: str, k1: str, k2: str, rows: str) -> str:
        """Kinds counted once per report: ``rows`` says (complaint_id, k1, k2) distinct."""
        return (f"{insert}* FROM (SELECT {keys}, '{kind}', d.k1, d.k2, 0, count(*), 0 "
                f"FROM (SELECT DISTINCT complaint_id, {k1} AS k1, {k2} AS k2 {rows}) AS d "
                f"JOIN complaint AS k ON k.id = d.complaint_id {zone} WHERE z.id = 1 "
                f"GROUP BY {group}) AS t")

    return [
        f"{insert}* FROM (SELECT {keys}, 'records', s.step, s.state, "
        "coalesce(s.budget_days, 0), count(*), coalesce(sum(s.late_seconds), 0) "
        f"FROM sla_record AS s JOIN complaint AS k ON k.id = s.complaint_id {zone} "
        f"WHERE z.id = 1 AND s.step NOT IN {CITIZEN} GROUP BY {group}) AS t",
        per_report("step", "step", "CASE WHEN state IN ('running', 'paused') THEN 'open' "
                   "ELSE state END", f"FROM sla_record WHERE step NOT IN {CITIZEN} "
                   "AND state IN ('met', 'breached', 'running', 'paused')"),
        per_report("own", "''", "state", f"FROM sla_record WHERE step IN {OWN} "
                   "AND state IN ('met', 'breached')"),
        f"{insert}* FROM (SELECT {keys}, 'esc', e.rung_name, e.status, 0, count(*), 0 "
        f"FROM escalation AS e JOIN complaint AS k ON k.id = e.complaint_id {zone} "
        f"WHERE z.id = 1 GROUP BY {group}) AS t",
        per_report("esc_rung", "rung_name", "''", "FROM escalation"),
        per_report("esc_rung", "rung_name", "'open'", "FROM escalation WHERE status = 'open'"),
        per_report("esc_any", "''", "''", "FROM escalation"),
        per_report("esc_any", "''", "'open'", "FROM escalation WHERE status = 'open'"),
        f"{insert}* FROM (SELECT {keys}, 'unanswered', '', '', 0, count(*), 0 "
        "FROM complaint AS k CROSS JOIN stats_fact_zone AS z WHERE z.id = 1 "
        "AND k.disposed_at IS NOT NULL AND k.first_answer_at IS NULL AND EXISTS (SELECT 1 "
        "FROM sla_record AS s WHERE s.complaint_id = k.id AND s.step = 'follow_up' "
        f"AND s.state = 'breached') GROUP BY {group}) AS t",
        f"INSERT INTO stats_fact_month (base, {COLUMNS}) SELECT {base}, {month}, "
        f"{', '.join(KEY[1:])}, sum(n), sum(late) FROM stats_fact_day "
        f"GROUP BY {month}, {', '.join(KEY[1:])}",
    ]


TRIGGERS = {"postgresql": _pg_functions(), "sqlite": _sqlite_triggers()}
DROP = {
    "postgresql": (
        *(f"DROP TRIGGER IF EXISTS trg_stats_fact_truncated ON {name}"
          for name in ("complaint", "sla_record", "escalation")),
        "DROP TRIGGER IF EXISTS trg_stats_fact_complaint ON complaint",
        "DROP TRIGGER IF EXISTS trg_stats_fact_esc ON escalation",
        "DROP TRIGGER IF EXISTS trg_stats_fact_sla ON sla_record",
        "DROP FUNCTION IF EXISTS aduan_stats_fact_truncated()",
        "DROP FUNCTION IF EXISTS aduan_stats_fact_complaint()",
        "DROP FUNCTION IF EXISTS aduan_stats_fact_esc()",
        "DROP FUNCTION IF EXISTS aduan_stats_fact_sla()",
        "DROP FUNCTION IF EXISTS aduan_stats_fact_fold()",
    ),
    "sqlite": tuple(f"DROP TRIGGER IF EXISTS {statement.split()[2]}"
                    for statement in _sqlite_triggers()),
}


def backfill(connection: Any) -> None:
    """The summaries of every report stored, from scratch (base rows only)."""
    if connection.dialect.name == "sqlite":
        # SQLite plans the joins by guesswork without statistics (never gathered unless
        # asked): a database never analyzed filled three to eight times slower.
        for table in ("complaint", "sla_record", "escalation"):
            connection.execute(sa.text(f"ANALYZE {table}"))
    connection.execute(sa.text("DELETE FROM stats_fact_day"))
    connection.execute(sa.text("DELETE FROM stats_fact_month"))
    for statement in _backfill_statements(connection.dialect.name == "postgresql"):
        connection.execute(sa.text(statement))


def upgrade() -> None:
    op.create_table(
        "stats_fact_zone",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_fact_zone")),
    )
    for table in ("stats_fact_day", "stats_fact_month"):
        op.create_table(
            table,
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("base", sa.Boolean(), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("agency_id", sa.Integer(), nullable=False),
            sa.Column("unit_id", sa.Integer(), nullable=False),
            sa.Column("classification", sa.String(length=30), nullable=False),
            sa.Column("misconduct", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(length=20), nullable=False),
            sa.Column("k1", sa.String(length=40), nullable=False),
            sa.Column("k2", sa.String(length=20), nullable=False),
            sa.Column("budget", sa.Float(), nullable=False),
            sa.Column("n", sa.BigInteger(), nullable=False),
            sa.Column("late", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        op.create_index(f"ix_{table}_key", table, list(KEY), unique=True,
                        postgresql_where=sa.text("base"), sqlite_where=sa.text("base"))
        op.create_index(f"ix_{table}_day", table, ["day"])
    # The running records of a period of receipt: the steps overdue now, which are not kept.
    op.create_index("ix_sla_record_state_received", "sla_record",
                    ["state", "complaint_created_at", "due_at"],
                    postgresql_include=["complaint_id", "step"])
    zone = ZoneInfo(os.environ.get(TIMEZONE_VARIABLE) or DEFAULT_TIMEZONE)
    offset = zone.utcoffset(datetime(2000, 1, 1))
    assert offset is not None
    op.execute(f"INSERT INTO stats_fact_zone (id, offset_seconds) "
               f"VALUES (1, {int(offset.total_seconds())})")
    connection = op.get_bind()
    for statement in TRIGGERS[connection.dialect.name]:
        op.execute(statement)
    backfill(connection)


def downgrade() -> None:
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_index("ix_sla_record_state_received", table_name="sla_record")
    for table in ("stats_fact_month", "stats_fact_day"):
        op.drop_index(f"ix_{table}_day", table_name=table)
        op.drop_index(f"ix_{table}_key", table_name=table)
        op.drop_table(table)
    op.drop_table("stats_fact_zone")
