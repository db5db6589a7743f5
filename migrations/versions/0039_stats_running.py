"""The statistics' copy of the running steps (issue 17): `stats_running` and
`stats_running_mark` (workflows/stats_running_models.py), the triggers that keep it in the
writer's transaction, and its backfill from the SLA records already stored.

The steps overdue *now* depend on the clock, so they cannot be summed ahead like the facts
of migration 0035; but the set of running records changes only by writes, and a running
record becomes overdue only when its due time passes. `stats_running` holds one row per
running SLA record of a government step (the complainant's windows are left out, as the
figures leave them out) with its report's keys (date of receipt, agency, unit,
classification, misconduct) and three flags worked out over the report's running records:
`first_of_step` and `first_of_report` (the record that comes due first, of its step and of
the report: due time, then id, a record without a due time last) and `unanswered` (the
report is dispositioned, not answered, and has no breached follow-up record). The figures
then count a period's overdue steps and the reports behind them with one aggregate over this
table (the open backlog), comparing `due_at` with their own `now`.

Every write that can change a report's rows here recomputes them all from its SLA records
and its complaint row (a few rows: DELETE, then INSERT ... SELECT), in the writer's
transaction, whoever writes: an SLA record inserted, deleted, or updated in its report,
step, state or due time when it is or was running or a breached follow-up; a complaint
updated in its date of receipt, agency, unit, classification, misconduct, or whether it is
dispositioned or answered; a complaint deleted. Other writes cost the trigger's WHEN.

- PostgreSQL: AFTER row triggers (they run at the end of the statement, when the report's
  rows are as the statement leaves them; a recomputation is not a difference, so it is
  right whatever the statement changed). The writer takes the report's advisory lock (the
  one migration 0035 takes) before recomputing, so two transactions writing one report's
  rows recompute one after the other, the second seeing the first's rows. A TRUNCATE of
  `sla_record` or `complaint` fills the table again from what is left.
- SQLite (one writer at a time): AFTER row triggers, each recomputing from the rows as they
  are after its row changed; the last one of a report in a statement sees its final rows.

The triggers live here only; this module's TRIGGERS, DROP and backfill() are also what
bench/stats.py uses after its bulk load (which, like a restore, runs without triggers).

Revision ID: 0039_stats_running
Revises: 0038_stats_fact_rows
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0039_stats_running"
down_revision = "0038_stats_fact_rows"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CITIZEN = "('info_request', 'complainant_window')"  # workflows.sla.CITIZEN_STEPS
REPORT_LOCK = 7_320_035  # migration 0035's advisory lock class of one report (with its id)
COLUMNS = ("sla_id, complaint_id, received_at, step, due_at, agency_id, unit_id, "
           "classification, misconduct, unanswered, first_of_step, first_of_report")
DUE_ORDER = "ORDER BY s.due_at IS NULL, s.due_at, s.id"
# The SLA record's columns the rows depend on, and the complaint's.
SLA_WATCHED = ("complaint_id", "step", "state", "due_at")
COMPLAINT_KEYS = ("id", "created_at", "agency_id", "unit_id", "classification", "misconduct")


def _rows(where: str) -> str:
    """INSERT of the running records' rows of the reports ``where`` picks (SQL on ``s``)."""
    return (
        f"INSERT INTO stats_running ({COLUMNS}) SELECT s.id, s.complaint_id, c.created_at, "
        "s.step, s.due_at, c.agency_id, c.unit_id, c.classification, c.misconduct, "
        "(c.disposed_at IS NOT NULL AND c.first_answer_at IS NULL AND NOT EXISTS (SELECT 1 "
        "FROM sla_record AS b WHERE b.complaint_id = c.id AND b.step = 'follow_up' "
        "AND b.state = 'breached')), "
        f"row_number() OVER (PARTITION BY s.complaint_id, s.step {DUE_ORDER}) = 1, "
        f"row_number() OVER (PARTITION BY s.complaint_id {DUE_ORDER}) = 1 "
        "FROM sla_record AS s JOIN complaint AS c ON c.id = s.complaint_id "
        f"WHERE s.state = 'running' AND s.step NOT IN {CITIZEN} AND {where}")


def _recompute(reports: str) -> str:
    """The rows of the reports whose ids are ``reports`` (an SQL list), from scratch."""
    return (f"DELETE FROM stats_running WHERE complaint_id IN ({reports}); "
            f"{_rows(f's.complaint_id IN ({reports})')};")


def _relevant(row: str) -> str:
    """Whether an SLA record's row bears on the table: running (a government step), or a
    breached follow-up (the reports' ``unanswered`` flag)."""
    return (f"(({row}.state = 'running' AND {row}.step NOT IN {CITIZEN}) OR "
            f"({row}.step = 'follow_up' AND {row}.state = 'breached'))")


def _changed(columns: tuple[str, ...], postgres: bool) -> str:
    differ = "IS DISTINCT FROM" if postgres else "IS NOT"
    return " OR ".join(f"NEW.{c} {differ} OLD.{c}" for c in columns)


def _complaint_changed(postgres: bool) -> str:
    return (f"{_changed(COMPLAINT_KEYS, postgres)} OR (NEW.disposed_at IS NULL) <> "
            "(OLD.disposed_at IS NULL) OR (NEW.first_answer_at IS NULL) <> "
            "(OLD.first_answer_at IS NULL)")


def _sla_update_when(postgres: bool) -> str:
    return (f"({_relevant('OLD')} OR {_relevant('NEW')}) AND "
            f"({_changed(SLA_WATCHED, postgres)})")


def _lock(complaint: str) -> str:
    return (f"PERFORM pg_advisory_xact_lock({REPORT_LOCK}, "
            f"({complaint} % 2147483647)::integer);")


def _pg_recompute(old: str | None, new: str | None) -> str:
    """Lock each report (in id order, so two writers never wait for each other in a
    circle over these two), then recompute them."""
    if old is None or new is None:
        one = old or new
        return f"{_lock(one)} {_recompute(one)}"
    return (f"{_lock(f'least({old}, {new})')} {_lock(f'greatest({old}, {new})')} "
            f"{_recompute(f'{old}, {new}')}")


def _pg_functions() -> tuple[str, ...]:
    sla = ("CREATE FUNCTION aduan_stats_running_sla() RETURNS trigger LANGUAGE plpgsql AS $$ "
           "BEGIN "
           f"IF TG_OP = 'INSERT' THEN {_pg_recompute(None, 'NEW.complaint_id')} "
           f"ELSIF TG_OP = 'DELETE' THEN {_pg_recompute('OLD.complaint_id', None)} "
           "ELSIF NEW.complaint_id = OLD.complaint_id THEN "
           f"{_pg_recompute(None, 'NEW.complaint_id')} "
           f"ELSE {_pg_recompute('OLD.complaint_id', 'NEW.complaint_id')} END IF; "
           "RETURN NULL; END $$")
    complaint = ("CREATE FUNCTION aduan_stats_running_complaint() RETURNS trigger "
                 "LANGUAGE plpgsql AS $$ BEGIN "
                 f"IF TG_OP = 'DELETE' THEN {_pg_recompute('OLD.id', None)} "
                 f"ELSIF NEW.id = OLD.id THEN {_pg_recompute(None, 'NEW.id')} "
                 f"ELSE {_pg_recompute('OLD.id', 'NEW.id')} END IF; "
                 "RETURN NULL; END $$")
    truncated = ("CREATE FUNCTION aduan_stats_running_truncated() RETURNS trigger "
                 "LANGUAGE plpgsql AS $$ BEGIN "
                 f"DELETE FROM stats_running; {_rows('true')}; RETURN NULL; END $$")
    watched = ", ".join(SLA_WATCHED)
    return (
        sla, complaint, truncated,
        "CREATE TRIGGER trg_stats_running_sla_insert AFTER INSERT ON sla_record "
        f"FOR EACH ROW WHEN ({_relevant('NEW')}) "
        "EXECUTE FUNCTION aduan_stats_running_sla()",
        f"CREATE TRIGGER trg_stats_running_sla_update AFTER UPDATE OF {watched} "
        f"ON sla_record FOR EACH ROW WHEN ({_sla_update_when(True)}) "
        "EXECUTE FUNCTION aduan_stats_running_sla()",
        "CREATE TRIGGER trg_stats_running_sla_delete AFTER DELETE ON sla_record "
        f"FOR EACH ROW WHEN ({_relevant('OLD')}) "
        "EXECUTE FUNCTION aduan_stats_running_sla()",
        f"CREATE TRIGGER trg_stats_running_complaint_update AFTER UPDATE OF "
        f"{', '.join((*COMPLAINT_KEYS, 'disposed_at', 'first_answer_at'))} ON complaint "
        f"FOR EACH ROW WHEN ({_complaint_changed(True)}) "
        "EXECUTE FUNCTION aduan_stats_running_complaint()",
        "CREATE TRIGGER trg_stats_running_complaint_delete AFTER DELETE ON complaint "
        "FOR EACH ROW EXECUTE FUNCTION aduan_stats_running_complaint()",
        *(f"CREATE TRIGGER trg_stats_running_truncated AFTER TRUNCATE ON {name} "
          "FOR EACH STATEMENT EXECUTE FUNCTION aduan_stats_running_truncated()"
          for name in ("complaint", "sla_record")),
    )


def _sqlite_triggers() -> tuple[str, ...]:
    watched = ", ".join(SLA_WATCHED)
    return (
        "CREATE TRIGGER trg_stats_running_sla_insert AFTER INSERT ON sla_record "
        f"FOR EACH ROW WHEN {_relevant('NEW')} BEGIN {_recompute('NEW.complaint_id')} END",
        f"CREATE TRIGGER trg_stats_running_sla_update AFTER UPDATE OF {watched} "
        f"ON sla_record FOR EACH ROW WHEN {_sla_update_when(False)} BEGIN "
        f"{_recompute('OLD.complaint_id, NEW.complaint_id')} END",
        "CREATE TRIGGER trg_stats_running_sla_delete AFTER DELETE ON sla_record "
        f"FOR EACH ROW WHEN {_relevant('OLD')} BEGIN {_recompute('OLD.complaint_id')} END",
        "CREATE TRIGGER trg_stats_running_complaint_update AFTER UPDATE OF "
        f"{', '.join((*COMPLAINT_KEYS, 'disposed_at', 'first_answer_at'))} ON complaint "
        f"FOR EACH ROW WHEN {_complaint_changed(False)} BEGIN "
        f"{_recompute('OLD.id, NEW.id')} END",
        "CREATE TRIGGER trg_stats_running_complaint_delete AFTER DELETE ON complaint "
        f"FOR EACH ROW BEGIN {_recompute('OLD.id')} END",
    )


TRIGGERS = {"postgresql": _pg_functions(), "sqlite": _sqlite_triggers()}
DROP = {
    "postgresql": (
        *(f"DROP TRIGGER IF EXISTS trg_stats_running_truncated ON {name}"
          for name in ("complaint", "sla_record")),
        "DROP TRIGGER IF EXISTS trg_stats_running_complaint_delete ON complaint",
        "DROP TRIGGER IF EXISTS trg_stats_running_complaint_update ON complaint",
        "DROP TRIGGER IF EXISTS trg_stats_running_sla_delete ON sla_record",
        "DROP TRIGGER IF EXISTS trg_stats_running_sla_update ON sla_record",
        "DROP TRIGGER IF EXISTS trg_stats_running_sla_insert ON sla_record",
        "DROP FUNCTION IF EXISTS aduan_stats_running_truncated()",
        "DROP FUNCTION IF EXISTS aduan_stats_running_complaint()",
        "DROP FUNCTION IF EXISTS aduan_stats_running_sla()",
    ),
    "sqlite": tuple(f"DROP TRIGGER IF EXISTS {statement.split()[2]}"
                    for statement in _sqlite_triggers()),
}


def backfill(connection: Any) -> None:
    """The rows of every running record stored, from scratch."""
    connection.execute(sa.text("DELETE FROM stats_running"))
    connection.execute(sa.text(_rows("1 = 1")))


def upgrade() -> None:
    op.create_table(
        "stats_running_mark",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_running_mark")),
    )
    op.create_table(
        "stats_running",
        sa.Column("sla_id", ID, autoincrement=False, nullable=False),
        sa.Column("complaint_id", ID, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.String(length=30), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agency_id", ID, nullable=True),
        sa.Column("unit_id", ID, nullable=True),
        sa.Column("classification", sa.String(length=30), nullable=False),
        sa.Column("misconduct", sa.Boolean(), nullable=False),
        sa.Column("unanswered", sa.Boolean(), nullable=False),
        sa.Column("first_of_step", sa.Boolean(), nullable=False),
        sa.Column("first_of_report", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("sla_id", name=op.f("pk_stats_running")),
    )
    op.create_index("ix_stats_running_received", "stats_running", ["received_at", "due_at"])
    op.create_index("ix_stats_running_complaint", "stats_running", ["complaint_id"])
    op.execute("INSERT INTO stats_running_mark (id) VALUES (1)")
    connection = op.get_bind()
    for statement in TRIGGERS[connection.dialect.name]:
        op.execute(statement)
    backfill(connection)


def downgrade() -> None:
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_index("ix_stats_running_complaint", table_name="stats_running")
    op.drop_index("ix_stats_running_received", table_name="stats_running")
    op.drop_table("stats_running")
    op.drop_table("stats_running_mark")
