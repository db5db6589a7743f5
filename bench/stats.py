"""Statistics benchmark: the dashboard's and the public page's figures for a year, through
the real Flask app, on a large PostgreSQL database and a regency-sized SQLite one.

Run from the repository root:

    python bench/stats.py            # PostgreSQL 1,000,000 closed + 50,000 open; SQLite 100,000
    python bench/stats.py --quick    # PostgreSQL 100,000 closed + 5,000 open, fewer requests
    python bench/stats.py --uncached # only without the cache, 20 requests, time per part
    python bench/stats.py --write-cost  # what the per-day summaries' triggers add to a write

The complaints are written by bulk SQL (INSERT ... SELECT over generate_series on PostgreSQL,
a recursive CTE on SQLite): six years of reports over the demo regency's OPDs, categories,
channels and classifications, with verification, disposition, first answer and closure
times, ratings, SLA records (verification, follow-up, resolution) and escalations of the late
ones. Rows are written in the order the application writes them (ids follow the date of
receipt, SLA records their start), and without the statistics' triggers, as a restore
would (the load fills `complaint_created_at` itself). The app is built as tests/regency.py
builds it (demo agencies, officers and tokens) on a frozen clock. Then
`GET /api/v1/stats?year=Y` (as the Sekda, who sees the whole regency) and
`GET /api/v1/stats/public?year=Y` are timed, sequentially, median and p95 in ms: first with
the statistics cache off (every request asks the database: what the first request after a
change to the period costs), then as served (warm-up requests first; the cache answers
while nothing changes, which is the case during the benchmark). The two answers are
checked to be the same. Y is the last full year (2025) and the current one (2026, which
also holds the open backlog).

PostgreSQL is measured when --postgres-url (or ADUAN_BENCH_POSTGRES_URL, or
ADUAN_TEST_POSTGRES_URL) names a server: a fresh database `aduan_bench_<random>` is created
there and dropped at the end. SQLite always runs, on a file in a temporary directory.

Long on purpose: one benchmark whose data load and three modes (as served and without the
cache; --uncached, timing each part of the computation; --write-cost) share the dialect
helpers, the data's constants and the summaries' migration; split, each part would import
the others.

Human-readable progress goes to stdout; the LAST line is one JSON object with every figure
and a pass/fail boolean per target, as served (`targets`) and without the cache
(`targets_uncached`) (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# `python bench/stats.py` puts bench/ first on sys.path, where bench/engine.py would shadow
# the engine package: the repository root takes its place.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))


import sqlalchemy  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from bench.engine import (  # noqa: E402
    PostgresBackend,
    SqliteBackend,
    _git_state,
    _load_average,
    _version,
    migration,
    percentile,
    say,
)
from engine import FrozenClock  # noqa: E402
from engine.store import make_db_engine  # noqa: E402
from tests.regency import build  # noqa: E402
from web.memory import set_aside_long_lived  # noqa: E402
from workflows import stats  # noqa: E402
from workflows.models import STATS_TRIGGERS  # noqa: E402

# The per-day summaries (0032), the deadline and escalation facts (0035, their triggers as
# 0038 made them again), each report's working-time measures and their yearly sums (0037):
# triggers and backfills as installed (as 0041 made some of them again, and 0043 the
# escalation facts' function on PostgreSQL).
STATS_PLANS = migration("0041_stats_trigger_plans")
STATS_DAYS = STATS_PLANS.STATS_DAYS
STATS_FACTS = migration("0043_stats_escalation_insert").STATS_FACTS
STATS_SPEEDS = STATS_PLANS.STATS_SPEEDS
STATS_RUNNING = STATS_PLANS.STATS_RUNNING  # the copy of the running steps
STATS_MONTHS = STATS_PLANS.STATS_MONTHS  # the per-day summaries added up per month
SUMMARIES = (STATS_DAYS, STATS_FACTS, STATS_SPEEDS, STATS_RUNNING, STATS_MONTHS)

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # Saturday morning in the regency
FIRST = datetime(2021, 1, 1, tzinfo=UTC)  # the oldest report
CLOSED_UNTIL = datetime(2026, 10, 15, tzinfo=UTC)  # the newest finished report
OPEN_SINCE = datetime(2026, 6, 1, tzinfo=UTC)  # the open backlog: June to now
YEARS = (2025, 2026)  # the last full year, and the current one
TARGET_P95_MS = 300.0
SUPERVISOR = "sekda"  # a regency-level supervisor: the whole regency's figures

FULL = {"postgres_closed": 1_000_000, "postgres_open": 50_000, "sqlite_closed": 95_000,
        "sqlite_open": 5_000, "warmup": 3, "requests": 30, "uncached_requests": 10}
QUICK = {"postgres_closed": 100_000, "postgres_open": 5_000, "sqlite_closed": 95_000,
         "sqlite_open": 5_000, "warmup": 2, "requests": 8, "uncached_requests": 2}
UNCACHED_REQUESTS = 20  # --uncached: requests per figure (after one warm-up)
# The parts of one computation timed by --uncached (workflows.stats.queries' functions, when
# present): where a request's time goes.
PARTS = ("_tally", "_day_tallies", "_speed_rows", "_deadline_rows", "_escalation_rows",
         "_ombudsman_rows", "_unanswered_late", "report_counts", "fact_sums", "running_late",
         "running_now")

CATEGORIES = ("roads", "waste", "street_lights", "water", "civil_registration", "health",
              "education", "permits", "social_aid", "other")
CHANNELS = ("web", "qr", "whatsapp", "sms", "api")
CLASSIFICATIONS = ("pengaduan", "aspirasi", "permintaan_informasi")
OPEN_STATUSES = ("SUBMITTED", "NEEDS_INFO", "VERIFIED", "DISPOSED", "IN_PROGRESS",
                 "RESPONDED")
DAY = 86_400


# --------------------------------------------------------------------------- populating


class Dialect:
    """The few SQL spellings that differ between PostgreSQL and SQLite."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def series(self, count: int) -> str:
        """FROM-clause rows with one column g = 1..count."""
        if self.postgres:
            return f"generate_series(1, {count}) AS s(g)"
        return (f"(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s "
                f"WHERE g < {count}) SELECT g FROM s) AS s")

    def random(self) -> str:
        """A uniform number in [0, 1)."""
        if self.postgres:
            return "random()"
        return "((random() & 1073741823) / 1073741824.0)"

    def stamp(self, epoch: str) -> str:
        """An instant from epoch seconds, as the app stores it (NULL stays NULL)."""
        if self.postgres:
            return f"to_timestamp({epoch})"
        # SQLAlchemy's SQLite format: 'YYYY-MM-DD HH:MM:SS.ffffff', naive UTC
        return f"(datetime(CAST({epoch} AS INTEGER), 'unixepoch') || '.000000')"

    def pick(self, values: tuple[str, ...], r: str) -> str:
        """One of ``values`` by the uniform number r."""
        whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
        return f"(CASE CAST({self.floor(f'{r} * {len(values)}')} AS INTEGER) {whens} END)"

    def floor(self, expr: str) -> str:
        return f"floor({expr})" if self.postgres else f"CAST({expr} AS INTEGER)"


def populate(url: str, closed: int, open_: int) -> dict[str, Any]:
    """Bulk SQL: seed rows, then complaints, SLA records and escalations; then statistics."""
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    sql = Dialect(engine.dialect.name == "postgresql")
    began = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        with engine.begin() as db:
            agencies = [row[0] for row in db.execute(text(
                "SELECT id FROM agency WHERE kind IN ('opd', 'bumd', 'kecamatan', 'kelurahan') "
                "ORDER BY id"))]
            units = dict(db.execute(text(
                "SELECT p.id, min(u.id) FROM agency u JOIN agency p ON p.id = u.parent_id "
                "WHERE u.kind = 'unit' GROUP BY p.id")).all())
        total = closed + open_
        r = sql.random
        first, closed_span = FIRST.timestamp(), CLOSED_UNTIL.timestamp() - FIRST.timestamp()
        open_from, open_span = OPEN_SINCE.timestamp(), NOW.timestamp() - OPEN_SINCE.timestamp()
        agency_case = " ".join(f"WHEN {i} THEN {a}" for i, a in enumerate(agencies))
        unit_case = " ".join(f"WHEN {a} THEN {u}" for a, u in units.items()) or "WHEN 0 THEN 0"
        step = time.perf_counter()
        with engine.begin() as db:
            # A bulk load, as a restore does it: without the statistics' triggers (their
            # change log is for changes after figures were computed, and the load writes
            # complaint_created_at itself); SQLite has no switch: they are dropped and made
            # again after the load.
            if sql.postgres:
                db.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                for statement in STATS_TRIGGERS["sqlite"]:
                    db.execute(text(f"DROP TRIGGER {statement.split()[2]}"))
                for module in SUMMARIES:
                    for statement in module.DROP["sqlite"]:
                        db.execute(text(statement))
            temp = "TEMPORARY " if not sql.postgres else "UNLOGGED "
            # 1. random draws, one row per complaint (each column drawn once)
            db.execute(text(
                f"CREATE {temp}TABLE bench_draw AS SELECT g, {r()} AS r_time, "
                f"{r()} AS r_status, {r()} AS r_agency, {r()} AS r_cat, {r()} AS r_chan, "
                f"{r()} AS r_class, {r()} AS r_ver, {r()} AS r_disp, {r()} AS r_ans, "
                f"{r()} AS r_close, {r()} AS r_rating, {r()} AS r_misc FROM {sql.series(total)}"))
            # 2. the complaint's shape: status and epoch seconds of each step (NULL if not yet)
            is_open = f"g > {closed}"
            created = (f"(CASE WHEN {is_open} THEN {open_from} + r_time * {open_span} "
                       f"ELSE {first} + r_time * {closed_span} END)")
            status = (f"(CASE WHEN {is_open} THEN "
                      f"{sql.pick(OPEN_STATUSES, 'r_status')} "
                      "WHEN r_status < 0.05 THEN 'ARCHIVED' WHEN r_status < 0.08 THEN 'RETURNED' "
                      "ELSE 'CLOSED' END)")
            db.execute(text(
                f"CREATE {temp}TABLE bench_shape AS SELECT g, {status} AS status, "
                f"{created} AS c, r_agency, r_cat, r_chan, r_class, r_rating, r_misc, "
                f"{created} + 1800 + r_ver * r_ver * 5 * {DAY} AS v, "
                f"r_disp * 1.5 * {DAY} + 600 AS dd, "
                f"r_ans * r_ans * 9 * {DAY} + 3600 AS da, "
                f"r_close * 12 * {DAY} + 3600 AS dz FROM bench_draw"))
            timings["draws_seconds"] = round(time.perf_counter() - step, 1)
            step = time.perf_counter()
            # 3. complaints: ids 1..total in order of receipt, as the application assigns
            #    them (a year's reports then lie together on disk, as they do in production)
            verified = "CASE WHEN status IN ('SUBMITTED', 'NEEDS_INFO') THEN NULL ELSE v END"
            disposed = ("CASE WHEN status IN ('SUBMITTED', 'NEEDS_INFO', 'VERIFIED', "
                        "'ARCHIVED', 'RETURNED') THEN NULL ELSE v + dd END")
            answered = ("CASE WHEN status IN ('RESPONDED', 'CLOSED') THEN v + dd + da END")
            closed_at = ("CASE WHEN status = 'CLOSED' THEN v + dd + da + dz "
                         "WHEN status IN ('ARCHIVED', 'RETURNED') THEN v + 600 END")
            agency = (f"(CASE WHEN status IN ('SUBMITTED', 'NEEDS_INFO', 'VERIFIED', "
                      f"'ARCHIVED', 'RETURNED') THEN NULL ELSE "
                      f"CASE CAST({sql.floor(f'r_agency * {len(agencies)}')} AS INTEGER) "
                      f"{agency_case} END END)")
            db.execute(text(
                "INSERT INTO complaint (id, tracking_number, secret_hash, classification, "
                "misconduct, category, severity, title, body, anonymous, confidential, channel, "
                "language, status, agency_id, unit_id, rating, created_at, updated_at, "
                "verified_at, disposed_at, first_answer_at, closed_at, version) "
                "SELECT n, 'BENCH-' || n, 'x', "
                f"{sql.pick(CLASSIFICATIONS, 'r_class')}, "
                "CASE WHEN r_misc < 0.05 THEN TRUE ELSE FALSE END, "
                f"{sql.pick(CATEGORIES, 'r_cat')}, 'medium', 'Laporan', 'Isi laporan', "
                "FALSE, FALSE, "
                f"{sql.pick(CHANNELS, 'r_chan')}, 'id', status, agency, "
                f"CASE WHEN r_misc > 0.6 THEN CASE agency {unit_case} END END, "
                "CASE WHEN status = 'CLOSED' AND r_rating < 0.7 THEN "
                f"1 + CAST({sql.floor('r_rating / 0.14')} AS INTEGER) END, "
                f"{sql.stamp('c')}, {sql.stamp('coalesce(z, a, d, ver, c)')}, "
                f"{sql.stamp('ver')}, {sql.stamp('d')}, {sql.stamp('a')}, {sql.stamp('z')}, 1 "
                f"FROM (SELECT row_number() OVER (ORDER BY c, g) AS n, status, c, r_class, "
                f"r_misc, r_cat, r_chan, r_rating, "
                f"{agency} AS agency, {verified} AS ver, {disposed} AS d, {answered} AS a, "
                f"{closed_at} AS z FROM bench_shape) AS shaped ORDER BY n"))
            timings["complaints_seconds"] = round(time.perf_counter() - step, 1)
            step = time.perf_counter()
            # 4. SLA records: verification for all, follow-up and resolution once
            #    dispositioned; written in the order the steps started, as they are created
            now = NOW.timestamp()
            specs = [
                ("verification", 3.0, "created_at", "verified_at", "verified_at IS NULL"),
                ("follow_up", 5.0, "disposed_at", "first_answer_at", "disposed_at IS NULL"),
                ("resolution", 14.0, "disposed_at", "closed_at", "disposed_at IS NULL"),
            ]
            epoch = ("extract(epoch from {})" if sql.postgres
                     else "CAST(strftime('%s', {}) AS REAL)")
            selects = []
            for step_name, budget, start, end, skip in specs:
                start_e, end_e = epoch.format(start), epoch.format(end)
                due = f"{start_e} + {budget * 7 / 5 * DAY}"  # working days as calendar days
                selects.append(
                    f"SELECT id AS complaint_id, created_at AS complaint_created_at, "
                    f"'{step_name}' AS step, {budget} AS budget, "
                    f"{start} AS started_at, {sql.stamp(due)} AS due_at, "
                    f"CASE WHEN {end} IS NULL THEN 'running' WHEN {end_e} <= {due} THEN 'met' "
                    "ELSE 'breached' END AS state, "
                    f"{end} AS ended_at, CASE WHEN {end} IS NOT NULL AND {end_e} > {due} "
                    f"THEN ({end_e} - {due}) * 5 / 7 END AS late_seconds, "
                    f"CASE WHEN coalesce({end_e}, {now}) > {due} + {2 * DAY} THEN 2 "
                    f"WHEN coalesce({end_e}, {now}) > {due} THEN 1 ELSE 0 END AS rung "
                    f"FROM complaint WHERE NOT ({skip}) "
                    "AND status NOT IN ('ARCHIVED', 'RETURNED')")
            db.execute(text(
                "INSERT INTO sla_record (complaint_id, complaint_created_at, step, "
                "budget_days, holder_rung, started_at, due_at, pauses, state, ended_at, "
                "late_seconds, rung, reminded_rungs) "
                "SELECT complaint_id, complaint_created_at, step, budget, 0, started_at, "
                "due_at, '[]', state, ended_at, late_seconds, rung, '[]' "
                f"FROM ({' UNION ALL '.join(selects)}) AS steps "
                "ORDER BY started_at, complaint_id, step"))
            timings["sla_seconds"] = round(time.perf_counter() - step, 1)
            step = time.perf_counter()
            # 5. escalations: each rung a late step reached (rung 1 'opd', rung 2 regency),
            #    in the order they happened
            db.execute(text(
                "INSERT INTO escalation (complaint_id, complaint_created_at, sla_id, step, "
                "rung, rung_name, agency_id, at, due_at, status) "
                "SELECT s.complaint_id, c.created_at, s.id, s.step, r.rung, r.name, "
                "c.agency_id, "
                "s.due_at, s.due_at, CASE WHEN s.state = 'running' THEN 'open' "
                "ELSE 'resolved' END "
                "FROM sla_record s JOIN complaint c ON c.id = s.complaint_id "
                "JOIN (SELECT 1 AS rung, 'opd' AS name UNION ALL "
                "SELECT 2, 'regency_admin') AS r ON s.rung >= r.rung "
                "ORDER BY s.due_at, s.id, r.rung"))
            timings["escalations_seconds"] = round(time.perf_counter() - step, 1)
            db.execute(text("DROP TABLE bench_draw"))
            db.execute(text("DROP TABLE bench_shape"))
            if not sql.postgres:
                for statement in STATS_TRIGGERS["sqlite"]:
                    db.execute(text(statement))
                for module in SUMMARIES:
                    for statement in module.TRIGGERS["sqlite"]:
                        db.execute(text(statement))
        # 6. the per-day summaries of what was loaded: what migration 0032 does on upgrade
        step = time.perf_counter()
        with engine.begin() as db:
            if db.execute(text("SELECT count(*) FROM stats_day_zone")).scalar():
                STATS_DAYS.backfill(db)
        timings["stats_day_backfill_seconds"] = round(time.perf_counter() - step, 1)
        step = time.perf_counter()
        with engine.begin() as db:  # what migration 0039 does on upgrade
            if db.execute(text("SELECT count(*) FROM stats_month_mark")).scalar():
                STATS_MONTHS.backfill(db)
        timings["stats_month_backfill_seconds"] = round(time.perf_counter() - step, 1)
        # each report's working-time measures and their yearly sums: what migration 0037
        # does on upgrade (before the VACUUM: it writes every complaint row again)
        step = time.perf_counter()
        with engine.begin() as db:
            if db.execute(text("SELECT count(*) FROM work_zone")).scalar():
                STATS_SPEEDS.backfill(db)
        timings["stats_speed_backfill_seconds"] = round(time.perf_counter() - step, 1)
        with engine.begin() as db:
            if sql.postgres:
                for table in ("complaint", "sla_record", "escalation"):
                    db.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT max(id) FROM {table}))"))
        step = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            if sql.postgres:
                db.execute(text("VACUUM ANALYZE stats_day"))
                db.execute(text("VACUUM ANALYZE complaint"))
                db.execute(text("VACUUM ANALYZE sla_record"))
                db.execute(text("VACUUM ANALYZE escalation"))
            else:
                db.execute(text("ANALYZE"))
        timings["analyze_seconds"] = round(time.perf_counter() - step, 1)
        # 7. the per-day summaries of deadline and escalation facts: what migration 0035 does
        # on upgrade (on tables with their planner statistics, as a database in use has them)
        step = time.perf_counter()
        with engine.begin() as db:
            if db.execute(text("SELECT count(*) FROM stats_fact_zone")).scalar():
                STATS_FACTS.backfill(db)
        timings["stats_fact_backfill_seconds"] = round(time.perf_counter() - step, 1)
        # the copy of the running steps: what migration 0038 does on upgrade
        step = time.perf_counter()
        with engine.begin() as db:
            if db.execute(text("SELECT count(*) FROM stats_running_mark")).scalar():
                STATS_RUNNING.backfill(db)
        timings["stats_running_backfill_seconds"] = round(time.perf_counter() - step, 1)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            for table in ("stats_fact_day", "stats_fact_month", "stats_speed_year",
                          "stats_running", "stats_month"):
                db.execute(text(f"VACUUM ANALYZE {table}" if sql.postgres
                                else f"ANALYZE {table}"))
        with engine.connect() as db:
            counts = {table: int(db.execute(text(f"SELECT count(*) FROM {table}")).scalar())
                      for table in ("complaint", "sla_record", "escalation", "stats_day",
                                    "stats_fact_day", "stats_fact_month", "stats_speed_year",
                                      "stats_running", "stats_month")}
            counts["by_year"] = {str(year): int(db.execute(text(
                "SELECT count(*) FROM complaint WHERE created_at >= :a AND created_at < :b"),
                {"a": datetime(year, 1, 1, tzinfo=UTC), "b": datetime(year + 1, 1, 1,
                                                                      tzinfo=UTC)}).scalar())
                for year in YEARS} if sql.postgres else None
            if sql.postgres:
                size = db.execute(text("SELECT pg_database_size(current_database())")).scalar()
                counts["database_mb"] = round(size / 2**20, 1)
    finally:
        engine.dispose()
    return {"closed": closed, "open": open_, "agencies": len(agencies), **counts, **timings,
            "seconds": round(time.perf_counter() - began, 1)}


# --------------------------------------------------------------------------- measuring


def measure(client: Any, path: str, headers: dict[str, str], warmup: int, requests: int,
            *, cache: bool = True) -> tuple[dict[str, Any], Any]:
    """Sequential requests after a warm-up: median and p95 in ms; the figures' size. With
    ``cache`` False the statistics cache is off: every request asks the database."""
    body: Any = None
    stats.USE_CACHE = cache
    try:
        for _ in range(warmup):
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}: "
                                 f"{response.get_data()[:300]}")
            body = response.get_json()
        timings = []
        for _ in range(requests):
            began = time.perf_counter()
            response = client.get(path, headers=headers)
            timings.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            body = response.get_json()
    finally:
        stats.USE_CACHE = True
    return {**_request_figures(requests, timings, body),
            "response_kb": round(len(json.dumps(body)) / 1024, 1) if body else None}, body


def _request_figures(requests: int, timings: list[float], body: Any) -> dict[str, Any]:
    """Median, p95 and max of one figure's request times, and the year's received count."""
    return {"requests": requests,
            "median_ms": round(statistics.median(timings) * 1000, 1),
            "p95_ms": round(percentile(timings, 95) * 1000, 1),
            "max_ms": round(max(timings) * 1000, 1),
            "received": body["totals"]["received"] if body else None}


class PartTimer:
    """Times the parts of the statistics' computation (PARTS) while it is installed: the
    total per part for each request, then median per part over the requests."""

    def __init__(self) -> None:
        from workflows.stats import queries

        self.module = queries
        self.saved = {name: getattr(queries, name) for name in PARTS if hasattr(queries, name)}
        self.current: dict[str, float] = {}
        self.requests: list[dict[str, float]] = []

    def __enter__(self) -> PartTimer:
        for name, function in self.saved.items():
            setattr(self.module, name, self._timed(name, function))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, function in self.saved.items():
            setattr(self.module, name, function)

    def _timed(self, name: str, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.current[name] = self.current.get(name, 0.0) + time.perf_counter() - began
        return timed

    def request_done(self) -> None:
        self.requests.append(self.current)
        self.current = {}

    def medians(self) -> dict[str, float]:
        return {name: round(statistics.median(r.get(name, 0.0) for r in self.requests)
                            * 1000, 1) for name in self.saved}


class GcTimer:
    """The garbage collector's collections while installed: how many per generation and
    the milliseconds they took (gc.callbacks)."""

    def __init__(self) -> None:
        self.began = 0.0
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.began = time.perf_counter()
        else:
            self.counts[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self.began

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def figures(self, requests: int) -> dict[str, Any]:
        return {"collections": self.counts,
                "ms_per_request": [round(t * 1000 / requests, 1) for t in self.seconds]}


# --freeze: set the process's long-lived objects aside from the garbage collector once the
# app is built and again after the warm-up request, as a gunicorn worker does
# (web/gunicorn_conf.py, web/memory.py); without it nothing is frozen.
FREEZE = False


def measure_uncached(client: Any, path: str, headers: dict[str, str], requests: int
                     ) -> dict[str, Any]:
    """--uncached: one warm-up, then ``requests`` requests with the cache off, each part of
    the computation timed (median ms per part), and the garbage collector's share."""
    stats.USE_CACHE = False
    timer = PartTimer()
    collector = GcTimer()
    try:
        with timer, collector:
            timings, body = [], None
            for i in range(requests + 1):
                began = time.perf_counter()
                response = client.get(path, headers=headers)
                elapsed = time.perf_counter() - began
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
                body = response.get_json()
                if i:
                    timings.append(elapsed)
                    timer.request_done()
                else:
                    timer.current = {}
                    if FREEZE:
                        set_aside_long_lived()
                    collector.counts, collector.seconds = [0, 0, 0], [0.0, 0.0, 0.0]
    finally:
        stats.USE_CACHE = True
    return {**_request_figures(requests, timings, body),
            "parts_median_ms": timer.medians(), "gc": collector.figures(requests)}


def bench_backend(backend: Any, closed: int, open_: int, sizes: dict[str, Any],
                  folder: Path, *, uncached_only: bool = False) -> dict[str, Any]:
    with backend.database() as url:
        clock = FrozenClock(NOW)
        regency = build(url, clock, folder)  # demo agencies, officers, tokens; the app
        if FREEZE:
            set_aside_long_lived()
        try:
            say(f"{backend.label}: writing {closed:,} closed + {open_:,} open complaints")
            made = populate(url, closed, open_)
            say(f"{backend.label}: populated in {made['seconds']} s: "
                f"{made['complaint']:,} complaints, {made['sla_record']:,} SLA records, "
                f"{made['escalation']:,} escalations")
            headers = regency.headers(SUPERVISOR)
            result: dict[str, Any] = {"populated": made, "requests": {},
                                      "requests_uncached": {}}
            for year in YEARS:
                for name, path, who in (("stats", f"/api/v1/stats?year={year}", headers),
                                        ("public", f"/api/v1/stats/public?year={year}", {})):
                    if uncached_only:
                        cold = measure_uncached(regency.client, path, who, UNCACHED_REQUESTS)
                        result["requests_uncached"][f"{name}_{year}"] = cold
                        say(f"{backend.label}: GET {path} without the cache: median "
                            f"{cold['median_ms']} ms, p95 {cold['p95_ms']} ms "
                            f"({cold['received']:,} received); parts "
                            f"{cold['parts_median_ms']}; gc {cold['gc']}")
                        continue
                    # The database's work alone (what the first request after a change to
                    # the period costs), then as served: from the cache while nothing
                    # changes. Both must say the same.
                    cold, fresh = measure(regency.client, path, who, 1,
                                          sizes["uncached_requests"], cache=False)
                    warm, served = measure(regency.client, path, who, sizes["warmup"],
                                           sizes["requests"])
                    if served != fresh:
                        raise SystemExit(f"{path}: the cached figures differ from a fresh "
                                         "computation")
                    result["requests_uncached"][f"{name}_{year}"] = cold
                    result["requests"][f"{name}_{year}"] = warm
                    say(f"{backend.label}: GET {path}: median {warm['median_ms']} ms, "
                        f"p95 {warm['p95_ms']} ms; without the cache median "
                        f"{cold['median_ms']} ms, p95 {cold['p95_ms']} ms "
                        f"({warm['received']:,} received)")
            with regency.engine.store.read() as session:
                cache = stats.figure_cache(session)
            result["cache"] = ({"hits": cache.hits, "misses": cache.misses} if cache
                               else None)
            return result
        finally:
            regency.engine.dispose()


WRITE_OPS = 2_000  # --write-cost: reports filed, then status changes, per round
WRITE_ROUNDS = 3


def write_cost(backend: Any, summaries: tuple[Any, ...] = SUMMARIES) -> dict[str, Any]:
    """--write-cost: what the statistics' per-day summaries' triggers (migrations 0032 and
    0035) add to a write. WRITE_OPS reports filed (one INSERT a transaction), then as many
    status changes (one UPDATE of one report a transaction), then an SLA record started for
    each (one INSERT) and met (one UPDATE of its state), with the summaries' triggers and
    without them (dropped), alternating rounds on one database; every other trigger (the
    change log, the copy of the date of receipt) stays. Median of the rounds' mean
    microseconds per write."""
    insert = text(
        "INSERT INTO complaint (tracking_number, secret_hash, classification, misconduct, "
        "category, severity, title, body, anonymous, confidential, channel, language, status, "
        "created_at, updated_at, version) VALUES (:t, 'x', 'pengaduan', :f, :c, 'medium', "
        "'Laporan', 'Isi', :f, :f, 'web', 'id', 'SUBMITTED', :at, :at, 1) RETURNING id")
    update = text("UPDATE complaint SET status = :s, verified_at = :at, updated_at = :at, "
                  "version = version + 1 WHERE id = :id")
    start = text(
        "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, started_at, "
        "due_at, pauses, state, rung, reminded_rungs) VALUES (:id, 'follow_up', 5, 0, :at, "
        ":at, '[]', 'running', 0, '[]') RETURNING id")
    meet = text("UPDATE sla_record SET state = 'met', ended_at = :at WHERE id = :id")
    statements = {"insert": insert, "update": update, "sla_insert": start, "sla_update": meet}
    ops = tuple(statements)
    found: dict[str, dict[str, list[float]]] = {mode: {op: [] for op in ops}
                                                for mode in ("with", "without")}
    with backend.database() as url:
        engine = make_db_engine(url)  # as the application connects (SQLite: WAL)
        dialect = engine.dialect.name
        serial = 0
        try:
            for _ in range(WRITE_ROUNDS):
                for mode in ("with", "without"):
                    if mode == "without":
                        with engine.begin() as db:
                            for module in summaries:
                                for statement in module.DROP[dialect]:
                                    db.execute(text(statement))
                    for op, seconds in _write_round(engine, statements, serial).items():
                        found[mode][op].append(seconds)
                    serial += WRITE_OPS
                    if mode == "without":
                        with engine.begin() as db:
                            for module in summaries:
                                for statement in module.TRIGGERS[dialect]:
                                    db.execute(text(statement))
                                module.backfill(db)
        finally:
            engine.dispose()
    result: dict[str, Any] = {"writes_per_round": WRITE_OPS, "rounds": WRITE_ROUNDS}
    for mode, by_op in found.items():
        for op, values in by_op.items():
            result[f"{op}_{mode}_us"] = round(statistics.median(values) * 1e6, 1)
    for op in ops:
        result[f"{op}_added_us"] = round(result[f"{op}_with_us"] - result[f"{op}_without_us"],
                                         1)
    say(f"{backend.label}: write cost: {result}")
    return result


def _write_round(engine: Any, statements: dict[str, Any], serial: int) -> dict[str, float]:
    """One round of --write-cost: WRITE_OPS writes of each statement in order, one a
    transaction (each statement's i-th write uses what the earlier ones made); the mean
    seconds per write of each."""
    at = NOW
    made: dict[str, list[Any]] = {}

    def parameters(op: str, i: int) -> dict[str, Any]:
        if op == "insert":
            return {"t": f"W-{serial + i}", "f": False, "c": CATEGORIES[i % 10],
                    "at": at + timedelta(seconds=i)}
        if op == "update":
            return {"s": "VERIFIED", "id": made["insert"][i],
                    "at": at + timedelta(hours=1, seconds=i)}
        if op == "sla_insert":
            return {"id": made["insert"][i], "at": at + timedelta(hours=2)}
        return {"id": made["sla_insert"][i], "at": at + timedelta(hours=3)}

    means = {}
    for op, statement in statements.items():
        made[op] = []
        began = time.perf_counter()
        for i in range(WRITE_OPS):
            with engine.begin() as db:
                result = db.execute(statement, parameters(op, i))
                made[op].append(result.scalar() if op.endswith("insert") else None)
        means[op] = (time.perf_counter() - began) / WRITE_OPS
    return means


def targets(figures: dict[str, Any], runs_key: str = "requests") -> dict[str, bool]:
    found = {}
    for backend in ("postgres", "sqlite"):
        runs = figures.get(backend, {}).get(runs_key)
        if not runs:
            continue
        for name in ("stats", "public"):
            found[f"{backend}_{name}_p95_lt_{TARGET_P95_MS:.0f}ms"] = all(
                run["p95_ms"] < TARGET_P95_MS for key, run in runs.items()
                if key.startswith(f"{name}_"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="PostgreSQL 100,000 closed + 5,000 open, fewer requests")
    parser.add_argument("--postgres-url", default=os.environ.get("ADUAN_BENCH_POSTGRES_URL")
                        or os.environ.get("ADUAN_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL; a database is created and dropped there")
    parser.add_argument("--uncached", action="store_true",
                        help=f"only without the cache: {UNCACHED_REQUESTS} requests per figure, "
                             "each part of the computation timed (the first request after a "
                             "write to the year)")
    parser.add_argument("--write-cost", action="store_true",
                        help="only what the per-day summaries' triggers add to a write "
                             f"({WRITE_OPS:,} filings, status changes, SLA records started "
                             "and met, with and without)")
    parser.add_argument("--only-speeds", action="store_true",
                        help="--write-cost: toggle only the stored speeds' triggers "
                             "(migration 0037), not every summary's")
    parser.add_argument("--only-running", action="store_true",
                        help="--write-cost: toggle only the triggers of this round "
                             "(migrations 0038 and 0039: the running steps, the month rows)")
    parser.add_argument("--freeze", action="store_true",
                        help="--uncached: freeze the long-lived objects out of the garbage "
                             "collector as a gunicorn worker does (web/memory.py)")
    parser.add_argument("--out", type=Path, help="also write the JSON figures to this file")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    global FREEZE
    FREEZE = args.freeze
    began = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "stats",
        "mode": ("quick" if args.quick else "full") + (" uncached" if args.uncached else "")
        + (" frozen" if args.freeze else ""),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/stats.py", *(argv or sys.argv[1:])]),
        "machine": {
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__,
            "flask": _version("Flask"), "load_average_at_start": _load_average(),
        },
        "code": _git_state(),
        "sizes": sizes,
        "now": NOW.isoformat(),
        "years": list(YEARS),
        "target_p95_ms": TARGET_P95_MS,
    }
    if args.quick:
        result["quick_note"] = (
            f"quick mode: PostgreSQL {QUICK['postgres_closed']:,} closed + "
            f"{QUICK['postgres_open']:,} open instead of {FULL['postgres_closed']:,} + "
            f"{FULL['postgres_open']:,} (its pass/fail does not speak for the target's size); "
            f"{QUICK['requests']} requests per figure instead of {FULL['requests']} "
            f"({QUICK['uncached_requests']} instead of {FULL['uncached_requests']} "
            "without the cache)")
    status = 0
    if args.write_cost:
        result["mode"] = "write cost"
        with tempfile.TemporaryDirectory(prefix="aduan-statsbench-") as tmp:
            toggled = ((STATS_SPEEDS,) if args.only_speeds else (STATS_RUNNING, STATS_MONTHS)
                       if args.only_running else SUMMARIES)
            result["summaries_toggled"] = [  # a migration, or one's summaries (0041, 0043)
                getattr(module, "revision", None) or module.module.revision
                for module in toggled]
            result["sqlite"] = write_cost(SqliteBackend(Path(tmp)), toggled)
            if args.postgres_url:
                backend = PostgresBackend(args.postgres_url)
                try:
                    result["postgres"] = write_cost(backend, toggled)
                finally:
                    backend.close()
        result["machine"]["load_average_at_end"] = _load_average()
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result, separators=(",", ":")), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="aduan-statsbench-") as tmp:
        folder = Path(tmp)
        result["sqlite"] = bench_backend(SqliteBackend(folder), sizes["sqlite_closed"],
                                         sizes["sqlite_open"], sizes, folder / "sqlite",
                                         uncached_only=args.uncached)
        if args.postgres_url:
            backend = PostgresBackend(args.postgres_url)
            try:
                result["postgres_server"] = backend.server_version()
                result["postgres"] = bench_backend(backend, sizes["postgres_closed"],
                                                   sizes["postgres_open"], sizes,
                                                   folder / "postgres",
                                                   uncached_only=args.uncached)
            except OperationalError as exc:
                say(f"postgres: cannot be measured: {exc.orig or exc}")
                result["postgres"] = {"error": str(exc.orig or exc).strip()}
                status = 1
            finally:
                backend.close()
        else:
            say("postgres: skipped (no --postgres-url, ADUAN_BENCH_POSTGRES_URL or "
                "ADUAN_TEST_POSTGRES_URL)")
            result["postgres"] = {"skipped": "no PostgreSQL URL given"}
    checks = {} if args.uncached else targets(result)
    result["targets"] = checks
    result["all_targets_pass"] = bool(checks) and all(checks.values())
    # The same targets without the cache: what a request costs when its period changed
    # since the last one (the figures say nothing changed during the benchmark).
    result["targets_uncached"] = targets(result, "requests_uncached")
    if args.uncached:
        result["all_targets_pass"] = bool(result["targets_uncached"]) and all(
            result["targets_uncached"].values())
    for name, passed in (result["targets_uncached"] if args.uncached else checks).items():
        uncached = result["targets_uncached"].get(name)
        say(f"target {name}: {'PASS' if passed else 'FAIL'} (without the cache: "
            f"{'PASS' if uncached else 'FAIL'})")
    result["seconds"] = round(time.perf_counter() - began, 1)
    result["machine"]["load_average_at_end"] = _load_average()
    say(f"finished in {result['seconds']:.1f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, separators=(",", ":")), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
