"""The statistics' per-month summaries of complaints (issue 17): `stats_month` and
`stats_month_mark` (workflows/stats_month_models.py): the per-day summaries of migration
0032 (`stats_day`) added up per local month of receipt, kept by triggers of their own on
`complaint`, in the writer's transaction, whoever writes; backfilled from `stats_day`.

A year's counts then read twelve months of rows (a period that starts or ends inside a
month reads those months' days from `stats_day`), as the deadline facts of migration 0035
read `stats_fact_month`. The rows, the columns that move them and the way they are written
are 0032's (its helpers are used from it, so the two cannot drift apart); only the day is
cut to the month's first:

- PostgreSQL: the trigger appends signed delta rows (`base` false) and about one write in
  500 folds every visible delta into the base rows under an advisory lock of its own;
- SQLite (one writer at a time): the triggers add to the base row directly (an upsert).

The triggers live here only; this module's TRIGGERS, DROP and backfill() are also what
bench/stats.py uses after its bulk load (which, like a restore, runs without triggers).

Revision ID: 0040_stats_months
Revises: 0039_stats_running
Create Date: 2026-12-06 19:10:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0040_stats_months"
down_revision = "0039_stats_running"
branch_labels = None
depends_on = None


def _days_migration() -> Any:
    """Migration 0032 as a module: its rows and the columns that move them."""
    path = Path(__file__).with_name("0032_stats_days.py")
    spec = importlib.util.spec_from_file_location("aduan_migration_0032_for_0039", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DAYS = _days_migration()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FOLD_LOCK = 7_320_039  # pg advisory lock key of the folder
KEY, SUMS, COLUMNS = DAYS.KEY, DAYS.SUMS, DAYS.COLUMNS
_KEY = ", ".join(KEY)


def _pg_month(row: str) -> str:
    return (f"date_trunc('month', ({row}.created_at AT TIME ZONE 'UTC') "
            "+ off * interval '1 second')::date")


def _sqlite_month(row: str) -> str:
    return f"date({row}.created_at, z.offset_seconds || ' seconds', 'start of month')"


def _pg_insert(row: str, sign: int) -> str:
    rows = ", ".join(f"(false, {values})" for values in DAYS._values(row, sign, _pg_month(row)))
    return f"INSERT INTO stats_month ({COLUMNS}) VALUES {rows}; "


def _sqlite_upsert(row: str, sign: int) -> str:
    add = ", ".join(f"{c} = {c} + excluded.{c}" for c in SUMS)
    return " ".join(f"INSERT INTO stats_month ({COLUMNS}) SELECT 1, {values} "
                    f"FROM stats_day_zone AS z WHERE z.id = 1 "
                    f"ON CONFLICT ({_KEY}) WHERE base DO UPDATE SET {add};"
                    for values in DAYS._values(row, sign, _sqlite_month(row)))


_PG_ADD = ", ".join(f"{c} = stats_month.{c} + excluded.{c}" for c in SUMS)
TRIGGERS = {
    "postgresql": (
        "CREATE FUNCTION aduan_stats_month_fold() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
        "IF current_setting('transaction_isolation') <> 'read committed' THEN RETURN; END IF; "
        f"IF NOT pg_try_advisory_xact_lock({FOLD_LOCK}) THEN RETURN; END IF; "
        "WITH moved AS (DELETE FROM stats_month WHERE NOT base RETURNING *) "
        f"INSERT INTO stats_month ({COLUMNS}) SELECT true, {_KEY}, "
        + ", ".join(f"sum({c})" for c in SUMS)
        + f" FROM moved GROUP BY {_KEY} ON CONFLICT ({_KEY}) WHERE base DO UPDATE SET "
        f"{_PG_ADD}; END $$",
        "CREATE FUNCTION aduan_stats_month_complaint() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE off integer; BEGIN "
        f"IF TG_OP = 'UPDATE' AND NOT ({DAYS._PG_CHANGED}) THEN RETURN NULL; END IF; "
        "SELECT offset_seconds INTO off FROM stats_day_zone WHERE id = 1; "
        "IF off IS NULL THEN RETURN NULL; END IF; "
        f"IF TG_OP <> 'INSERT' THEN {_pg_insert('OLD', -1)} END IF; "
        f"IF TG_OP <> 'DELETE' THEN {_pg_insert('NEW', 1)} END IF; "
        "IF random() < 0.002 THEN PERFORM aduan_stats_month_fold(); END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER trg_stats_month AFTER INSERT OR UPDATE OR DELETE ON complaint "
        "FOR EACH ROW EXECUTE FUNCTION aduan_stats_month_complaint()",
        "CREATE FUNCTION aduan_stats_month_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM stats_month; RETURN NULL; END $$",
        "CREATE TRIGGER trg_stats_month_truncated AFTER TRUNCATE ON complaint "
        "FOR EACH STATEMENT EXECUTE FUNCTION aduan_stats_month_truncated()",
    ),
    "sqlite": (
        "CREATE TRIGGER trg_stats_month_insert AFTER INSERT ON complaint FOR EACH ROW BEGIN "
        f"{_sqlite_upsert('NEW', 1)} END",
        f"CREATE TRIGGER trg_stats_month_update AFTER UPDATE ON complaint FOR EACH ROW "
        f"WHEN {DAYS._SQLITE_CHANGED} BEGIN "
        f"{_sqlite_upsert('OLD', -1)} {_sqlite_upsert('NEW', 1)} END",
        "CREATE TRIGGER trg_stats_month_delete AFTER DELETE ON complaint FOR EACH ROW BEGIN "
        f"{_sqlite_upsert('OLD', -1)} END",
    ),
}
DROP = {
    "postgresql": (
        "DROP TRIGGER IF EXISTS trg_stats_month_truncated ON complaint",
        "DROP TRIGGER IF EXISTS trg_stats_month ON complaint",
        "DROP FUNCTION IF EXISTS aduan_stats_month_truncated()",
        "DROP FUNCTION IF EXISTS aduan_stats_month_complaint()",
        "DROP FUNCTION IF EXISTS aduan_stats_month_fold()",
    ),
    "sqlite": ("DROP TRIGGER IF EXISTS trg_stats_month_insert",
               "DROP TRIGGER IF EXISTS trg_stats_month_update",
               "DROP TRIGGER IF EXISTS trg_stats_month_delete"),
}


def backfill(connection: Any) -> None:
    """The month rows from the day rows (base and delta alike), from scratch."""
    postgres = connection.dialect.name == "postgresql"
    month = "date_trunc('month', day)::date" if postgres else "date(day, 'start of month')"
    connection.execute(sa.text("DELETE FROM stats_month"))
    connection.execute(sa.text(
        f"INSERT INTO stats_month ({COLUMNS}) SELECT {'true' if postgres else '1'}, {month}, "
        f"{', '.join(KEY[1:])}, {', '.join(f'sum({c})' for c in SUMS)} FROM stats_day "
        f"GROUP BY {month}, {', '.join(KEY[1:])}"))


def upgrade() -> None:
    op.create_table(
        "stats_month_mark",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_month_mark")),
    )
    op.create_table(
        "stats_month",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("base", sa.Boolean(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dim", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in SUMS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_month")),
    )
    op.create_index("ix_stats_month_key", "stats_month", list(KEY), unique=True,
                    postgresql_where=sa.text("base"), sqlite_where=sa.text("base"))
    op.create_index("ix_stats_month_day", "stats_month", ["day"])
    op.execute("INSERT INTO stats_month_mark (id) VALUES (1)")
    connection = op.get_bind()
    for statement in TRIGGERS[connection.dialect.name]:
        op.execute(statement)
    backfill(connection)


def downgrade() -> None:
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_index("ix_stats_month_day", table_name="stats_month")
    op.drop_index("ix_stats_month_key", table_name="stats_month")
    op.drop_table("stats_month")
    op.drop_table("stats_month_mark")
