"""The statistics' per-day summaries of complaints (issue 17): `stats_day` and
`stats_day_zone` (workflows/stats_models.py), the triggers that keep them in the writer's
transaction, and their backfill from the complaints already stored.

Every INSERT, UPDATE (of a column the figures count) and DELETE of a complaint moves the
report's contribution (one received; verified, dispositioned, answered when the time is set;
its rating) from its old keys to its new ones: local day of receipt (at the offset in
`stats_day_zone`) and status, by agency and unit (dim 'agency'), and regency-wide by
category, by channel and by classification (dim the breakdown, value its key).

- PostgreSQL: the trigger appends signed delta rows (`base` false); now and then (about one
  write in 500) it folds every visible delta into the base rows, under a transaction-level
  advisory lock so that one folder runs at a time. Writers never update a shared row, so a
  busy day's reports never queue behind each other nor deadlock over a summary.
- SQLite (one writer at a time): the triggers add to the base row directly (an upsert).

The triggers live here only; this module's TRIGGERS, DROP and backfill() are also what
bench/stats.py uses after its bulk load (which, like a restore, runs without triggers).

Revision ID: 0032_stats_days
Revises: 0031_read_counts
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0032_stats_days"
down_revision = "0031_read_counts"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The local day is cut at the regency's UTC offset: the time zone the application reads
# (ADUAN_TIMEZONE, web/config.py; Asia/Makassar, WITA, by default) when the migration runs.
TIMEZONE_VARIABLE = "ADUAN_TIMEZONE"
DEFAULT_TIMEZONE = "Asia/Makassar"
FOLD_LOCK = 7_320_017  # pg advisory lock key of the folder
KEY = ("day", "dim", "value", "agency_id", "unit_id", "status")
KINDS = ("category", "channel", "classification")
SUMS = ("received", "verified", "dispositioned", "answered", "rating_sum", "rating_count",
        "rating_1", "rating_2", "rating_3", "rating_4", "rating_5")
COLUMNS = ", ".join(("base", *KEY, *SUMS))
# What an UPDATE must change for the summaries to move.
WATCHED = ("created_at", "agency_id", "unit_id", "status", "category", "channel",
           "classification", "verified_at", "disposed_at", "first_answer_at", "rating")


def _values(row: str, sign: int, day: str) -> list[str]:
    """The four summary rows of complaint ``row`` (NEW or OLD), times ``sign``: by agency
    and unit, then by category, channel and classification."""
    s = "" if sign > 0 else "-"

    def flag(condition: str) -> str:
        return f"{s}(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    sums = ", ".join((
        f"{s}1", flag(f"{row}.verified_at IS NOT NULL"),
        flag(f"{row}.disposed_at IS NOT NULL"), flag(f"{row}.first_answer_at IS NOT NULL"),
        f"{s}coalesce({row}.rating, 0)", flag(f"{row}.rating IS NOT NULL"),
        *(flag(f"{row}.rating = {k}") for k in range(1, 6))))
    by_agency = (f"{day}, 'agency', '', coalesce({row}.agency_id, 0), "
                 f"coalesce({row}.unit_id, 0), {row}.status, {sums}")
    return [by_agency, *(f"{day}, '{kind}', {row}.{kind}, 0, 0, {row}.status, {sums}"
                         for kind in KINDS)]


def _pg_day(row: str) -> str:
    return f"(({row}.created_at AT TIME ZONE 'UTC') + off * interval '1 second')::date"


def _sqlite_day(row: str) -> str:
    return f"date({row}.created_at, z.offset_seconds || ' seconds')"


_ADD = ", ".join(f"{c} = stats_day.{c} + excluded.{c}" for c in SUMS)
_SQLITE_ADD = ", ".join(f"{c} = {c} + excluded.{c}" for c in SUMS)
_PG_CHANGED = " OR ".join(
    f"(NEW.{c} IS NULL) <> (OLD.{c} IS NULL)" if c.endswith("_at") and c != "created_at"
    else f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in WATCHED)
_SQLITE_CHANGED = " OR ".join(
    f"(NEW.{c} IS NULL) <> (OLD.{c} IS NULL)" if c.endswith("_at") and c != "created_at"
    else f"NEW.{c} IS NOT OLD.{c}" for c in WATCHED)
_KEY = ", ".join(KEY)


def _sqlite_upsert(row: str, sign: int) -> str:
    return " ".join(f"INSERT INTO stats_day ({COLUMNS}) SELECT 1, {values} "
                    f"FROM stats_day_zone AS z WHERE z.id = 1 "
                    f"ON CONFLICT ({_KEY}) WHERE base DO UPDATE SET {_SQLITE_ADD};"
                    for values in _values(row, sign, _sqlite_day(row)))


def _pg_insert(row: str, sign: int) -> str:
    rows = ", ".join(f"(false, {values})" for values in _values(row, sign, _pg_day(row)))
    return f"INSERT INTO stats_day ({COLUMNS}) VALUES {rows}; "


TRIGGERS = {
    "postgresql": (
        # Folds what this statement sees. Only at READ COMMITTED: a REPEATABLE READ snapshot
        # may still see deltas a folder that committed since has deleted (and would fail).
        "CREATE FUNCTION aduan_stats_day_fold() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
        "IF current_setting('transaction_isolation') <> 'read committed' THEN RETURN; END IF; "
        f"IF NOT pg_try_advisory_xact_lock({FOLD_LOCK}) THEN RETURN; END IF; "
        "WITH moved AS (DELETE FROM stats_day WHERE NOT base RETURNING *) "
        f"INSERT INTO stats_day ({COLUMNS}) SELECT true, {_KEY}, "
        + ", ".join(f"sum({c})" for c in SUMS)
        + f" FROM moved GROUP BY {_KEY} ON CONFLICT ({_KEY}) WHERE base DO UPDATE SET {_ADD}; "
        "END $$",
        "CREATE FUNCTION aduan_stats_day_complaint() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE off integer; BEGIN "
        f"IF TG_OP = 'UPDATE' AND NOT ({_PG_CHANGED}) THEN RETURN NULL; END IF; "
        "SELECT offset_seconds INTO off FROM stats_day_zone WHERE id = 1; "
        "IF off IS NULL THEN RETURN NULL; END IF; "
        f"IF TG_OP <> 'INSERT' THEN {_pg_insert('OLD', -1)} END IF; "
        f"IF TG_OP <> 'DELETE' THEN {_pg_insert('NEW', 1)} END IF; "
        "IF random() < 0.002 THEN PERFORM aduan_stats_day_fold(); END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER trg_stats_day AFTER INSERT OR UPDATE OR DELETE ON complaint "
        "FOR EACH ROW EXECUTE FUNCTION aduan_stats_day_complaint()",
        # TRUNCATE complaint leaves no report to sum
        "CREATE FUNCTION aduan_stats_day_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM stats_day; RETURN NULL; END $$",
        "CREATE TRIGGER trg_stats_day_truncated AFTER TRUNCATE ON complaint "
        "FOR EACH STATEMENT EXECUTE FUNCTION aduan_stats_day_truncated()",
    ),
    "sqlite": (
        "CREATE TRIGGER trg_stats_day_insert AFTER INSERT ON complaint FOR EACH ROW BEGIN "
        f"{_sqlite_upsert('NEW', 1)} END",
        f"CREATE TRIGGER trg_stats_day_update AFTER UPDATE ON complaint FOR EACH ROW "
        f"WHEN {_SQLITE_CHANGED} BEGIN "
        f"{_sqlite_upsert('OLD', -1)} {_sqlite_upsert('NEW', 1)} END",
        "CREATE TRIGGER trg_stats_day_delete AFTER DELETE ON complaint FOR EACH ROW BEGIN "
        f"{_sqlite_upsert('OLD', -1)} END",
    ),
}
DROP = {
    "postgresql": (
        "DROP TRIGGER IF EXISTS trg_stats_day_truncated ON complaint",
        "DROP TRIGGER IF EXISTS trg_stats_day ON complaint",
        "DROP FUNCTION IF EXISTS aduan_stats_day_truncated()",
        "DROP FUNCTION IF EXISTS aduan_stats_day_complaint()",
        "DROP FUNCTION IF EXISTS aduan_stats_day_fold()",
    ),
    "sqlite": ("DROP TRIGGER IF EXISTS trg_stats_day_insert",
               "DROP TRIGGER IF EXISTS trg_stats_day_update",
               "DROP TRIGGER IF EXISTS trg_stats_day_delete"),
}


def backfill(connection: Any) -> None:
    """The summaries of every complaint stored, from scratch (base rows only)."""
    postgres = connection.dialect.name == "postgresql"
    connection.execute(sa.text("DELETE FROM stats_day"))
    if postgres:
        day = ("((c.created_at AT TIME ZONE 'UTC') + z.offset_seconds * interval '1 second')"
               "::date")
    else:
        day = "date(c.created_at, z.offset_seconds || ' seconds')"

    def count(condition: str) -> str:
        return f"count(CASE WHEN {condition} THEN 1 END)"

    sums = ("count(*), count(c.verified_at), count(c.disposed_at), count(c.first_answer_at), "
            "coalesce(sum(c.rating), 0), count(c.rating), "
            + ", ".join(count(f"c.rating = {k}") for k in range(1, 6)))
    base = "true" if postgres else "1"
    source = "FROM complaint AS c CROSS JOIN stats_day_zone AS z WHERE z.id = 1"
    connection.execute(sa.text(
        f"INSERT INTO stats_day ({COLUMNS}) SELECT {base}, {day}, 'agency', '', "
        f"coalesce(c.agency_id, 0), coalesce(c.unit_id, 0), c.status, {sums} {source} "
        "GROUP BY 2, 5, 6, 7"))
    for kind in KINDS:
        connection.execute(sa.text(
            f"INSERT INTO stats_day ({COLUMNS}) SELECT {base}, {day}, '{kind}', c.{kind}, 0, 0, "
            f"c.status, {sums} {source} GROUP BY 2, 4, 7"))


def upgrade() -> None:
    op.create_table(
        "stats_day_zone",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_day_zone")),
    )
    op.create_table(
        "stats_day",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("base", sa.Boolean(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dim", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in SUMS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_day")),
    )
    op.create_index("ix_stats_day_key", "stats_day", list(KEY), unique=True,
                    postgresql_where=sa.text("base"), sqlite_where=sa.text("base"))
    op.create_index("ix_stats_day_day", "stats_day", ["day"])
    zone = ZoneInfo(os.environ.get(TIMEZONE_VARIABLE) or DEFAULT_TIMEZONE)
    offset = zone.utcoffset(datetime(2000, 1, 1))
    assert offset is not None
    op.execute(f"INSERT INTO stats_day_zone (id, offset_seconds) "
               f"VALUES (1, {int(offset.total_seconds())})")
    connection = op.get_bind()
    for statement in TRIGGERS[connection.dialect.name]:
        op.execute(statement)
    backfill(connection)


def downgrade() -> None:
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_index("ix_stats_day_day", table_name="stats_day")
    op.drop_index("ix_stats_day_key", table_name="stats_day")
    op.drop_table("stats_day")
    op.drop_table("stats_day_zone")
