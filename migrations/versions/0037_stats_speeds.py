"""Each report's working-time measures stored, and what the statistics' medians read (issue 17).

- `work_zone` (one row: the regency's time zone and its UTC offset) and `work_day` (one row
  per local day from 2015 to 2040, periods beyond it are computed from the times: `day` the
  days since 1970-01-01, `p` the working days before it counted from the table's first day,
  `w` 1 when it works): the regency's working calendar (workflows/calendar.py with the
  administrator's `calendar_day` changes) laid out for SQL. Laid out here from the calendar
  as it stands at the upgrade; afterwards by the calendar's writes
  (workflows/stats/speeds.py relay()), in their transaction.
- `complaint.work_answer_s`, `work_verify_s`, `work_close_s`: the working seconds from
  disposition to first answer, from receipt to verification and from receipt to closure
  (the statistics' MEASURES, workflows/stats/queries.py), NULL while either end is unset.
  A BEFORE trigger works them out from `work_day` whenever a statement names one of the
  five times or one of the three columns, whoever writes (the ORM, bulk SQL, psql): a value
  written by hand is replaced by the computed one, and writing NULL to one recomputes all
  three (what relay() does for the reports a calendar change touches). The arithmetic is
  the statistics' live one exactly (whole local seconds, working days as whole local days).
- `stats_speed_year`: per local year of receipt, agency (0: none), measure (0, 1, 2 in the
  order above) and bucket (whole working hours: the value // 3600) how many reports have
  the measure (`n`) and its sum in seconds (`total`); kept by triggers in the writer's
  transaction like `stats_day` (PostgreSQL appends signed delta rows folded now and then
  under an advisory lock, SQLite upserts the base row). The statistics of a year sum these
  for counts and means, and find in them the working hour that holds each median; the
  exact median is then read from the reports of that hour alone, through the measure's
  own index `ix_complaint_work_answer` (`_verify`, `_close`: the hour, the date of receipt,
  the agency, the value). Other periods read `ix_complaint_work` (date of receipt, agency,
  the three measures).

The calendar is laid out with workflows.calendar (the live calendar: the layout must equal
it, and the statistics check that it does for the days they measure before they use the
stored values). The trigger statements live here only; TRIGGERS, DROP and backfill() are
also what bench/stats.py uses after its bulk load (which, like a restore, runs without
triggers).

Revision ID: 0037_stats_speeds
Revises: 0036_page_counts
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0037_stats_speeds"
down_revision = "0036_page_counts"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMEZONE_VARIABLE = "ADUAN_TIMEZONE"  # as migration 0032: web/config.py's time zone
DEFAULT_TIMEZONE = "Asia/Makassar"
FIRST_DAY, LAST_DAY = date(2015, 1, 1), date(2040, 12, 31)
EPOCH = date(1970, 1, 1)
FOLD_LOCK = 7_320_037  # pg advisory lock key of the folder
BUCKET = 3600  # seconds of working time per bucket
# (column, start, end) in the order of the statistics' MEASURES
MEASURES = (("work_answer_s", "disposed_at", "first_answer_at"),
            ("work_verify_s", "created_at", "verified_at"),
            ("work_close_s", "created_at", "closed_at"))
WORK = tuple(column for column, _, _ in MEASURES)
STAMPS = ("created_at", "verified_at", "disposed_at", "first_answer_at", "closed_at")
KEY = ("year", "agency_id", "measure", "bucket")
COLUMNS = "base, year, agency_id, measure, bucket, n, total"


def _sqlite_measure(start: str, end: str) -> str:
    """The working seconds from NEW.start to NEW.end (SQLite), as the statistics' live SQL
    counts them: NULL if either is NULL or a day is not laid out, 0 if end <= start."""
    return (
        "(SELECT CASE WHEN t.e <= t.s THEN 0 ELSE (b.p - a.p) * 86400 - a.w * (t.s % 86400) "
        "+ b.w * (t.e % 86400) END FROM (SELECT "
        f"CAST(strftime('%s', NEW.{start}) AS INTEGER) + z.offset_seconds AS s, "
        f"CAST(strftime('%s', NEW.{end}) AS INTEGER) + z.offset_seconds AS e "
        "FROM work_zone AS z WHERE z.id = 1) AS t "
        "LEFT JOIN work_day AS a ON a.day = t.s / 86400 "
        "LEFT JOIN work_day AS b ON b.day = t.e / 86400)")


_SQLITE_SET = ", ".join(f"{column} = {_sqlite_measure(start, end)}"
                        for column, start, end in MEASURES)
_PG_SET = " ".join(f"NEW.{column} := aduan_work_seconds(NEW.{start}, NEW.{end}, off);"
                   for column, start, end in MEASURES)
_OF = ", ".join((*STAMPS, *WORK))
_PG_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}"
                          for c in ("created_at", "agency_id", *WORK))
_SQLITE_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ("created_at", "agency_id",
                                                                    *WORK))


def _rows(row: str, sign: int, year: str) -> str:
    """SELECT of the summary rows of complaint ``row`` (NEW or OLD) times ``sign``: one
    per measure it has."""
    s = "" if sign > 0 else "-"
    values = ", ".join(f"({i}, {row}.{column})" for i, (column, _, _) in enumerate(MEASURES))
    return (f"SELECT {year}, coalesce({row}.agency_id, 0), m.k, m.v / {BUCKET}, {s}1, {s}m.v "
            f"FROM (VALUES {values}) AS m(k, v) WHERE m.v IS NOT NULL")


def _pg_year(row: str) -> str:
    return (f"date_part('year', ({row}.created_at AT TIME ZONE 'UTC') "
            "+ off * interval '1 second')::integer")


_ADD = "n = stats_speed_year.n + excluded.n, total = stats_speed_year.total + excluded.total"
_SQLITE_ADD = "n = n + excluded.n, total = total + excluded.total"


def _sqlite_upsert(row: str, sign: int) -> str:
    s = "" if sign > 0 else "-"
    year = f"CAST(strftime('%Y', {row}.created_at, z.offset_seconds || ' seconds') AS INTEGER)"
    return " ".join(
        f"INSERT INTO stats_speed_year ({COLUMNS}) SELECT 1, {year}, "
        f"coalesce({row}.agency_id, 0), {i}, {row}.{column} / {BUCKET}, {s}1, {s}{row}.{column} "
        f"FROM work_zone AS z WHERE z.id = 1 AND {row}.{column} IS NOT NULL "
        f"ON CONFLICT ({', '.join(KEY)}) WHERE base DO UPDATE SET {_SQLITE_ADD};"
        for i, (column, _, _) in enumerate(MEASURES))


TRIGGERS = {
    "postgresql": (
        "CREATE FUNCTION aduan_work_seconds(a timestamptz, b timestamptz, off integer) "
        "RETURNS bigint LANGUAGE plpgsql STABLE AS $$ DECLARE s bigint; e bigint; "
        "ps bigint; ws bigint; pe bigint; we bigint; BEGIN "
        "IF a IS NULL OR b IS NULL OR off IS NULL THEN RETURN NULL; END IF; "
        "s := floor(date_part('epoch', a))::bigint + off; "
        "e := floor(date_part('epoch', b))::bigint + off; "
        "IF e <= s THEN RETURN 0; END IF; "
        "SELECT p, w INTO ps, ws FROM work_day WHERE day = s / 86400; "
        "SELECT p, w INTO pe, we FROM work_day WHERE day = e / 86400; "
        "RETURN (pe - ps) * 86400 - ws * (s % 86400) + we * (e % 86400); END $$",
        "CREATE FUNCTION aduan_work_measures() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE off integer; BEGIN "
        "SELECT offset_seconds INTO off FROM work_zone WHERE id = 1; "
        f"{_PG_SET} RETURN NEW; END $$",
        f"CREATE TRIGGER trg_work_measures BEFORE INSERT OR UPDATE OF {_OF} ON complaint "
        "FOR EACH ROW EXECUTE FUNCTION aduan_work_measures()",
        # Folds what this statement sees (READ COMMITTED only, as stats_day's folder).
        "CREATE FUNCTION aduan_stats_speed_fold() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
        "IF current_setting('transaction_isolation') <> 'read committed' THEN RETURN; END IF; "
        f"IF NOT pg_try_advisory_xact_lock({FOLD_LOCK}) THEN RETURN; END IF; "
        "WITH moved AS (DELETE FROM stats_speed_year WHERE NOT base RETURNING *) "
        f"INSERT INTO stats_speed_year ({COLUMNS}) SELECT true, {', '.join(KEY)}, sum(n), "
        f"sum(total) FROM moved GROUP BY {', '.join(KEY)} "
        f"ON CONFLICT ({', '.join(KEY)}) WHERE base DO UPDATE SET {_ADD}; END $$",
        "CREATE FUNCTION aduan_stats_speed() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE off integer; BEGIN "
        "SELECT offset_seconds INTO off FROM work_zone WHERE id = 1; "
        "IF off IS NULL THEN RETURN NULL; END IF; "
        f"IF TG_OP <> 'INSERT' THEN INSERT INTO stats_speed_year ({COLUMNS}) "
        f"SELECT false, r.* FROM ({_rows('OLD', -1, _pg_year('OLD'))}) AS r; END IF; "
        f"IF TG_OP <> 'DELETE' THEN INSERT INTO stats_speed_year ({COLUMNS}) "
        f"SELECT false, r.* FROM ({_rows('NEW', 1, _pg_year('NEW'))}) AS r; END IF; "
        "IF random() < 0.002 THEN PERFORM aduan_stats_speed_fold(); END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER trg_stats_speed_insert AFTER INSERT ON complaint FOR EACH ROW "
        "WHEN (NEW.work_answer_s IS NOT NULL OR NEW.work_verify_s IS NOT NULL "
        "OR NEW.work_close_s IS NOT NULL) EXECUTE FUNCTION aduan_stats_speed()",
        f"CREATE TRIGGER trg_stats_speed_update AFTER UPDATE ON complaint FOR EACH ROW "
        f"WHEN ({_PG_CHANGED}) EXECUTE FUNCTION aduan_stats_speed()",
        "CREATE TRIGGER trg_stats_speed_delete AFTER DELETE ON complaint FOR EACH ROW "
        "EXECUTE FUNCTION aduan_stats_speed()",
        "CREATE FUNCTION aduan_stats_speed_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM stats_speed_year; RETURN NULL; END $$",
        "CREATE TRIGGER trg_stats_speed_truncated AFTER TRUNCATE ON complaint "
        "FOR EACH STATEMENT EXECUTE FUNCTION aduan_stats_speed_truncated()",
    ),
    "sqlite": (
        # The measures: an AFTER trigger writes them back (SQLite's triggers cannot change
        # NEW); its own UPDATE names the measures but does not fire it again (SQLite runs a
        # trigger recursively only with PRAGMA recursive_triggers, off by default).
        "CREATE TRIGGER trg_work_measures_insert AFTER INSERT ON complaint FOR EACH ROW "
        f"BEGIN UPDATE complaint SET {_SQLITE_SET} WHERE id = NEW.id; END",
        f"CREATE TRIGGER trg_work_measures_update AFTER UPDATE OF {_OF} ON complaint "
        f"FOR EACH ROW BEGIN UPDATE complaint SET {_SQLITE_SET} WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_stats_speed_insert AFTER INSERT ON complaint FOR EACH ROW BEGIN "
        f"{_sqlite_upsert('NEW', 1)} END",
        f"CREATE TRIGGER trg_stats_speed_update AFTER UPDATE ON complaint FOR EACH ROW "
        f"WHEN {_SQLITE_CHANGED} BEGIN {_sqlite_upsert('OLD', -1)} "
        f"{_sqlite_upsert('NEW', 1)} END",
        "CREATE TRIGGER trg_stats_speed_delete AFTER DELETE ON complaint FOR EACH ROW BEGIN "
        f"{_sqlite_upsert('OLD', -1)} END",
    ),
}
DROP = {
    "postgresql": (
        "DROP TRIGGER IF EXISTS trg_stats_speed_truncated ON complaint",
        "DROP TRIGGER IF EXISTS trg_stats_speed_delete ON complaint",
        "DROP TRIGGER IF EXISTS trg_stats_speed_update ON complaint",
        "DROP TRIGGER IF EXISTS trg_stats_speed_insert ON complaint",
        "DROP TRIGGER IF EXISTS trg_work_measures ON complaint",
        "DROP FUNCTION IF EXISTS aduan_stats_speed_truncated()",
        "DROP FUNCTION IF EXISTS aduan_stats_speed()",
        "DROP FUNCTION IF EXISTS aduan_stats_speed_fold()",
        "DROP FUNCTION IF EXISTS aduan_work_measures()",
        "DROP FUNCTION IF EXISTS aduan_work_seconds(timestamptz, timestamptz, integer)",
    ),
    "sqlite": tuple(f"DROP TRIGGER IF EXISTS {name}" for name in (
        "trg_stats_speed_delete", "trg_stats_speed_update", "trg_stats_speed_insert",
        "trg_work_measures_update", "trg_work_measures_insert")),
}


def lay_out(connection: Any) -> None:
    """`work_zone` and `work_day` from scratch: the regency's calendar as it stands (its
    time zone, weekends, the holiday library and the `calendar_day` changes)."""
    from workflows.calendar import WorkingCalendar  # the live calendar: the layout equals it

    timezone = os.environ.get(TIMEZONE_VARIABLE) or DEFAULT_TIMEZONE
    offset = ZoneInfo(timezone).utcoffset(datetime(2000, 1, 1))
    assert offset is not None
    rows = connection.execute(sa.text("SELECT day, kind, name FROM calendar_day")).all()

    def day(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])

    calendar = WorkingCalendar(
        timezone, extra_days_off={day(r[0]): r[2] for r in rows if r[1] == "day_off"},
        working_overrides=[day(r[0]) for r in rows if r[1] == "working"])
    connection.execute(sa.text("DELETE FROM work_zone"))
    connection.execute(sa.text("INSERT INTO work_zone (id, timezone, offset_seconds) "
                               "VALUES (1, :tz, :off)"),
                       {"tz": timezone, "off": int(offset.total_seconds())})
    connection.execute(sa.text("DELETE FROM work_day"))
    values, p, current = [], 0, FIRST_DAY
    while current <= LAST_DAY:
        w = 1 if calendar.is_working_day(current) else 0
        values.append({"d": (current - EPOCH).days, "p": p, "w": w})
        p += w
        current += timedelta(days=1)
    connection.execute(sa.text("INSERT INTO work_day (day, p, w) VALUES (:d, :p, :w)"), values)


def backfill(connection: Any, only: str | None = None) -> None:
    """Every stored report's measures (or those of the reports matching the SQL condition
    ``only``: a bulk load's new rows), then the yearly sums, from scratch (base rows)."""
    postgres = connection.dialect.name == "postgresql"
    which = "" if only is None else f" WHERE {only}"
    if postgres:
        # Only the measures change: the other triggers on complaint (change log, summaries)
        # have nothing to do, and this one computes what the BEFORE trigger would.
        connection.execute(sa.text("ALTER TABLE complaint DISABLE TRIGGER USER"))
        off = "(SELECT offset_seconds FROM work_zone WHERE id = 1)"
        connection.execute(sa.text("UPDATE complaint SET " + ", ".join(
            f"{column} = aduan_work_seconds({start}, {end}, {off})"
            for column, start, end in MEASURES) + which))
        connection.execute(sa.text("ALTER TABLE complaint ENABLE TRIGGER USER"))
    else:
        # SQLite cannot switch triggers off: its own go while the measures are written
        # (the change log's stay: they log the statement's rows)
        for statement in DROP["sqlite"]:
            connection.execute(sa.text(statement))
        sets = _SQLITE_SET.replace("NEW.", "complaint.")
        connection.execute(sa.text(f"UPDATE complaint SET {sets}{which}"))
        for statement in TRIGGERS["sqlite"]:
            connection.execute(sa.text(statement))
    connection.execute(sa.text("DELETE FROM stats_speed_year"))
    if postgres:
        year = ("date_part('year', (c.created_at AT TIME ZONE 'UTC') "
                "+ z.offset_seconds * interval '1 second')::integer")
    else:
        year = "CAST(strftime('%Y', c.created_at, z.offset_seconds || ' seconds') AS INTEGER)"
    base = "true" if postgres else "1"
    for i, (column, _, _) in enumerate(MEASURES):
        connection.execute(sa.text(
            f"INSERT INTO stats_speed_year ({COLUMNS}) SELECT {base}, {year}, "
            f"coalesce(c.agency_id, 0), {i}, c.{column} / {BUCKET}, count(*), sum(c.{column}) "
            "FROM complaint AS c CROSS JOIN work_zone AS z "
            f"WHERE z.id = 1 AND c.{column} IS NOT NULL GROUP BY 2, 3, 5"))


def upgrade() -> None:
    op.create_table(
        "work_zone",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("timezone", sa.String(length=60), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_zone")),
    )
    op.create_table(
        "work_day",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("p", sa.Integer(), nullable=False),
        sa.Column("w", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_work_day")),
    )
    op.create_table(
        "stats_speed_year",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("base", sa.Boolean(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_speed_year")),
    )
    op.create_index("ix_stats_speed_year_key", "stats_speed_year", list(KEY), unique=True,
                    postgresql_where=sa.text("base"), sqlite_where=sa.text("base"))
    op.create_index("ix_stats_speed_year_year", "stats_speed_year", ["year"])
    for column in WORK:
        op.add_column("complaint", sa.Column(column, sa.BigInteger(), nullable=True))
    # Other periods read the cohort's measures from this index alone; a year's medians
    # read the values of a few working hours from each measure's own (hour, date of receipt).
    op.create_index("ix_complaint_work", "complaint",
                    ["created_at", "agency_id", *WORK])
    for column in WORK:
        op.create_index(f"ix_complaint_{column[:-2]}", "complaint",
                        [sa.text(f"({column} / {BUCKET})"), "created_at", "agency_id", column],
                        postgresql_where=sa.text(f"{column} IS NOT NULL"),
                        sqlite_where=sa.text(f"{column} IS NOT NULL"))
    connection = op.get_bind()
    lay_out(connection)
    for statement in TRIGGERS[connection.dialect.name]:
        op.execute(statement)
    backfill(connection)


def downgrade() -> None:
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    for column in WORK:
        op.drop_index(f"ix_complaint_{column[:-2]}", table_name="complaint")
    op.drop_index("ix_complaint_work", table_name="complaint")
    for column in WORK:  # SQLite 3.35+ drops a column in place (no copy of the table)
        op.drop_column("complaint", column)
    op.drop_index("ix_stats_speed_year_year", table_name="stats_speed_year")
    op.drop_index("ix_stats_speed_year_key", table_name="stats_speed_year")
    op.drop_table("stats_speed_year")
    op.drop_table("work_day")
    op.drop_table("work_zone")
