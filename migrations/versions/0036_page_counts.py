"""What the worklist and the list API keep their counts by (issue 17).

- `case_change` (0031) also names the report of every row written of `human_task` or
  `human_task_group` (source 't'): the worklist (workflows/worklist_counts.py) keeps each
  task's place per scope like the SLA board keeps each report's, and recounts after a write
  only the reports the log names. One log for every page, keyed by report: the old task
  log `task_change` (0008; a row per statement, naming nothing, read only by the worklist's
  read cache) is dropped with its triggers.
- `report_count` (workflows/page_count_models.py): how many reports there are per status,
  agency and unit (0: none), kept by the triggers below in the writer's transaction: the
  list API's total for its unfiltered and status/agency-filtered pages is a sum over a few
  hundred rows instead of a count over a million. PostgreSQL: the trigger appends signed
  delta rows (`base` false) and now and then folds them into the base rows under an
  advisory lock, so writers never queue on a shared row; SQLite (one writer at a time):
  an upsert of the base row.

The trigger statements live here only; backfill() is also what bench/web.py runs after its
bulk load (which, like a restore, runs without triggers).

Revision ID: 0036_page_counts
Revises: 0035_stats_facts
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0036_page_counts"
down_revision = "0035_stats_facts"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FOLD_LOCK = 7_320_034  # pg advisory lock key of the folder
_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
KEY = "status, agency_id, unit_id"


def _key(row: str) -> str:
    return f"{row}.status, coalesce({row}.agency_id, 0), coalesce({row}.unit_id, 0)"


# --- the task rows in the change log ---------------------------------------------------

_PG_TASKS = (
    # a task's report: the complaint its instance runs
    "CREATE FUNCTION aduan_case_task_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP <> 'DELETE' THEN PERFORM aduan_case_change_log(c.id, 't') FROM complaint c "
    "WHERE c.instance_id = NEW.instance_id; END IF; "
    "IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.instance_id IS DISTINCT FROM "
    "NEW.instance_id) THEN PERFORM aduan_case_change_log(c.id, 't') FROM complaint c "
    "WHERE c.instance_id = OLD.instance_id; END IF; RETURN NULL; END $$",
    # a candidate group's report: its task's (gone with the task: the task's row said it)
    "CREATE FUNCTION aduan_case_task_group_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "IF TG_OP <> 'DELETE' THEN PERFORM aduan_case_change_log(c.id, 't') FROM human_task t "
    "JOIN complaint c ON c.instance_id = t.instance_id WHERE t.id = NEW.task_id; END IF; "
    "IF TG_OP <> 'INSERT' THEN PERFORM aduan_case_change_log(c.id, 't') FROM human_task t "
    "JOIN complaint c ON c.instance_id = t.instance_id WHERE t.id = OLD.task_id; END IF; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER trg_human_task_case_change AFTER INSERT OR UPDATE OR DELETE ON human_task "
    "FOR EACH ROW EXECUTE FUNCTION aduan_case_task_changed()",
    "CREATE TRIGGER trg_human_task_group_case_change AFTER INSERT OR UPDATE OR DELETE "
    "ON human_task_group FOR EACH ROW EXECUTE FUNCTION aduan_case_task_group_changed()",
    "CREATE TRIGGER trg_human_task_case_truncated AFTER TRUNCATE ON human_task "
    "FOR EACH STATEMENT EXECUTE FUNCTION aduan_case_truncated('t')",
    "CREATE TRIGGER trg_human_task_group_case_truncated AFTER TRUNCATE ON human_task_group "
    "FOR EACH STATEMENT EXECUTE FUNCTION aduan_case_truncated('t')",
)


def _sqlite_task(row: str) -> str:
    return ("INSERT INTO case_change (complaint_id, source, at) "  # noqa: S608
            f"SELECT c.id, 't', {_NOW} FROM complaint c WHERE c.instance_id = {row}.instance_id;")


def _sqlite_group(row: str) -> str:
    return ("INSERT INTO case_change (complaint_id, source, at) "  # noqa: S608
            f"SELECT c.id, 't', {_NOW} FROM human_task t JOIN complaint c "
            f"ON c.instance_id = t.instance_id WHERE t.id = {row}.task_id;")


_SQLITE_TASKS = (
    "CREATE TRIGGER trg_human_task_case_insert AFTER INSERT ON human_task FOR EACH ROW BEGIN "
    + _sqlite_task("NEW") + " END",
    "CREATE TRIGGER trg_human_task_case_update AFTER UPDATE ON human_task FOR EACH ROW BEGIN "
    + _sqlite_task("NEW") + " " + _sqlite_task("OLD").replace(
        ";", " AND OLD.instance_id IS NOT NEW.instance_id;") + " END",
    "CREATE TRIGGER trg_human_task_case_delete AFTER DELETE ON human_task FOR EACH ROW BEGIN "
    + _sqlite_task("OLD") + " END",
    "CREATE TRIGGER trg_human_task_group_case_insert AFTER INSERT ON human_task_group "
    "FOR EACH ROW BEGIN " + _sqlite_group("NEW") + " END",
    "CREATE TRIGGER trg_human_task_group_case_update AFTER UPDATE ON human_task_group "
    "FOR EACH ROW BEGIN " + _sqlite_group("NEW") + " " + _sqlite_group("OLD") + " END",
    "CREATE TRIGGER trg_human_task_group_case_delete AFTER DELETE ON human_task_group "
    "FOR EACH ROW BEGIN " + _sqlite_group("OLD") + " END",
)

# --- the reports' counts per status, agency and unit -------------------------------------
# (the statements below are fixed text: no input is ever part of them)

_PG_CHANGED = ("NEW.status IS DISTINCT FROM OLD.status OR NEW.agency_id IS DISTINCT FROM "
               "OLD.agency_id OR NEW.unit_id IS DISTINCT FROM OLD.unit_id")
_SQLITE_CHANGED = ("NEW.status IS NOT OLD.status OR NEW.agency_id IS NOT OLD.agency_id "
                   "OR NEW.unit_id IS NOT OLD.unit_id")

_PG_COUNTS = (
    # Folds what this statement sees. Only at READ COMMITTED: a REPEATABLE READ snapshot may
    # still see deltas a folder that committed since has deleted.
    "CREATE FUNCTION aduan_report_count_fold() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
    "IF current_setting('transaction_isolation') <> 'read committed' THEN RETURN; END IF; "
    f"IF NOT pg_try_advisory_xact_lock({FOLD_LOCK}) THEN RETURN; END IF; "
    "WITH moved AS (DELETE FROM report_count WHERE NOT base RETURNING *) "
    f"INSERT INTO report_count (base, {KEY}, n) SELECT true, {KEY}, sum(n) FROM moved "
    f"GROUP BY {KEY} ON CONFLICT ({KEY}) WHERE base DO UPDATE SET "
    "n = report_count.n + excluded.n; END $$",
    "CREATE FUNCTION aduan_report_count_complaint() RETURNS trigger LANGUAGE plpgsql AS $$ "  # noqa: S608
    "BEGIN "
    f"IF TG_OP = 'UPDATE' AND NOT ({_PG_CHANGED}) THEN RETURN NULL; END IF; "
    f"IF TG_OP <> 'INSERT' THEN INSERT INTO report_count (base, {KEY}, n) "
    f"VALUES (false, {_key('OLD')}, -1); END IF; "
    f"IF TG_OP <> 'DELETE' THEN INSERT INTO report_count (base, {KEY}, n) "
    f"VALUES (false, {_key('NEW')}, 1); END IF; "
    "IF random() < 0.002 THEN PERFORM aduan_report_count_fold(); END IF; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER trg_report_count AFTER INSERT OR UPDATE OR DELETE ON complaint "
    "FOR EACH ROW EXECUTE FUNCTION aduan_report_count_complaint()",
    "CREATE FUNCTION aduan_report_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN DELETE FROM report_count; RETURN NULL; END $$",
    "CREATE TRIGGER trg_report_count_truncated AFTER TRUNCATE ON complaint "
    "FOR EACH STATEMENT EXECUTE FUNCTION aduan_report_count_truncated()",
)


def _sqlite_add(row: str, sign: int) -> str:
    return (f"INSERT INTO report_count (base, {KEY}, n) VALUES (1, {_key(row)}, {sign}) "  # noqa: S608
            f"ON CONFLICT ({KEY}) WHERE base DO UPDATE SET n = n + excluded.n;")


_SQLITE_COUNTS = (
    "CREATE TRIGGER trg_report_count_insert AFTER INSERT ON complaint FOR EACH ROW BEGIN "
    + _sqlite_add("NEW", 1) + " END",
    f"CREATE TRIGGER trg_report_count_update AFTER UPDATE ON complaint FOR EACH ROW "
    f"WHEN {_SQLITE_CHANGED} BEGIN " + _sqlite_add("OLD", -1) + " " + _sqlite_add("NEW", 1)
    + " END",
    "CREATE TRIGGER trg_report_count_delete AFTER DELETE ON complaint FOR EACH ROW BEGIN "
    + _sqlite_add("OLD", -1) + " END",
)

TRIGGERS = {"postgresql": (*_PG_TASKS, *_PG_COUNTS), "sqlite": (*_SQLITE_TASKS, *_SQLITE_COUNTS)}
POSTGRES_TRIGGERS = (("trg_human_task_case_change", "human_task"),
                     ("trg_human_task_group_case_change", "human_task_group"),
                     ("trg_human_task_case_truncated", "human_task"),
                     ("trg_human_task_group_case_truncated", "human_task_group"),
                     ("trg_report_count", "complaint"),
                     ("trg_report_count_truncated", "complaint"))
POSTGRES_FUNCTIONS = ("aduan_case_task_changed()", "aduan_case_task_group_changed()",
                      "aduan_report_count_fold()", "aduan_report_count_complaint()",
                      "aduan_report_count_truncated()")
SQLITE_TRIGGERS = tuple(statement.split()[2] for statement in TRIGGERS["sqlite"])


# The task log of 0008 that the case log replaces: its triggers and function.
_OLD_TASK_TRIGGERS = {
    "postgresql": (("trg_human_task_change", "human_task"),
                   ("trg_human_task_group_change", "human_task_group")),
    "sqlite": tuple((f"trg_human_task{group}_change_{op}", None) for group in ("", "_group")
                    for op in ("insert", "update", "delete")) + (("trg_task_change_prune", None),),
}


def _drop_old_task_log() -> None:
    dialect = op.get_bind().dialect.name
    for name, table in _OLD_TASK_TRIGGERS.get(dialect, ()):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if table else ""))
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS aduan_task_changed()")
    op.drop_index("ix_task_change_xid", table_name="task_change")
    op.drop_table("task_change")


def _restore_old_task_log() -> None:
    """The task log as 0008 made it (its own frozen statements, read from that revision)."""
    op.create_table(
        "task_change",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_change")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_task_change_xid", "task_change", ["xid"])
    path = Path(__file__).with_name("0008_task_change.py")
    spec = importlib.util.spec_from_file_location("aduan_migration_0008", path)
    assert spec is not None and spec.loader is not None
    frozen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(frozen)
    for statement in frozen.TASK_TRIGGERS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def backfill(connection: Any) -> None:
    """The counts of the reports stored, from scratch (the upgrade; a bulk load)."""
    connection.execute(sa.text("DELETE FROM report_count"))
    connection.execute(sa.text(
        f"INSERT INTO report_count (base, {KEY}, n) SELECT true, status, "  # noqa: S608
        "coalesce(agency_id, 0), coalesce(unit_id, 0), count(*) FROM complaint "
        "GROUP BY status, coalesce(agency_id, 0), coalesce(unit_id, 0)"))


def upgrade() -> None:
    op.create_table(
        "report_count",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("base", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_count")),
    )
    op.create_index("ix_report_count_key", "report_count", ["status", "agency_id", "unit_id"],
                    unique=True, postgresql_where=sa.text("base"),
                    sqlite_where=sa.text("base"))
    backfill(op.get_bind())
    dialect = op.get_bind().dialect.name
    for statement in TRIGGERS.get(dialect, ()):
        op.execute(statement)
    _drop_old_task_log()


def downgrade() -> None:
    _restore_old_task_log()
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, table in POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    elif dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_report_count_key", table_name="report_count")
    op.drop_table("report_count")
