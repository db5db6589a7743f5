"""Web benchmark: the officers' and supervisors' pages and the list API over real HTTP, with
100,000 open and 1,000,000 closed complaints, under 20 concurrent clients.

Run from the repository root:

    python bench/web.py            # 100,000 open + 1,000,000 closed on each database
    python bench/web.py --quick    # 5,000 open + 20,000 closed, fewer requests (< 60 s)
    python bench/web.py --quick --writers 0,1,5   # and under 1 and 5 writes a second

Data. The closed complaints are rows only, written by bench/stats.py's `populate` (bulk SQL:
complaints, SLA records, escalations). The open ones are real process instances of the
deployed lifecycle (bpmn/complaint_lifecycle.bpmn): a few are walked through the use cases
(submit, verify, request information, dispose, delegate, postpone, answer), one per stage,
and then cloned by bulk SQL (INSERT ... SELECT over the clone plan: process_instance with
its state, human_task, human_task_group, timer, waiting_event, complaint, sla_record,
complaint_event, attachment). Every clone has its own ids, task and timer ids (replaced
inside its saved state too), business key and tracking number; it is moved to an agency of
the demo regency (agency and unit codes replaced in its state and candidate groups), and
back in time (received a few days to eight weeks ago), with the escalations its late
deadlines would have raised.

Measuring. The app (web.app.create_app over the database, no scheduler) is served by
gunicorn (the project's `server` extra) with the project's settings, web/gunicorn_conf.py:
sync workers, two per core (4 here), each closing its connection after its response. 20
client threads on 127.0.0.1, each with its own HTTP connection (reopened when the server
closes it) and its own signed-in session (POST /login; in --quick the clients of one user
share one session) or bearer token, request one endpoint at a time: warm-up requests (each
server process fills its read cache on first use; their own median and p95 are recorded
too), then the measured ones, back to back; median and p95 latency (whole response read) and
requests per second. Then the same requests from one client at a time (the service time,
without queueing). The machine's cores are shared by the clients, the server and the
database; the JSON records the load average, how busy the machine was and the CPU time per
request of the server's processes, of the clients and of PostgreSQL's processes.

Under writes (--writers 0,1,5). For each rate N above 0 the four pages are measured again
while one more client writes N times a second through the JSON API (real HTTP, open loop:
each write starts at its slot whether or not the ones before came back, at most 10 under
way): it files a report (the public API), verifies it and disposes it to Dinas PUPR
(admin.kominfo's token) and gives an interim answer (PUPR's liaison completes its task),
each write moving the oldest report waiting for that step. After a write commits, a checker
polls every page the write concerns (the list API, the worklist of who now holds the task,
the case page, the SLA board's open total), each by a client of its own, until it shows
the write: recorded per page, the time from the commit to the sending of the request that
first showed it (the target: within 2 s) and to its answer. The checker takes the next
write that commits while it waits (those committed while it polls are not checked). The
JSON gains `with_writers` per database: per rate, the pages' figures and the writer's (rate
achieved, write latency, visibility).

PostgreSQL is measured when --postgres-url (or ADUAN_BENCH_POSTGRES_URL, or
ADUAN_TEST_POSTGRES_URL) names a server: a fresh database `aduan_bench_web_<random>` is
created there and dropped at the end. SQLite always runs, on a file in a temporary
directory.

Human-readable progress goes to stdout; the LAST line is one JSON object with every figure
and a pass/fail boolean per target (see BENCHMARKS.md).

One file on purpose, though long: a benchmark is read, run and changed as a whole (its data,
servers, clients and report together), and nothing outside bench/ imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# `python bench/web.py` puts bench/ first on sys.path, where bench/engine.py would shadow the
# engine package: the repository root takes its place.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

import migrations  # noqa: E402
from bench.engine import (  # noqa: E402
    PostgresBackend,
    SqliteBackend,
    _load_average,
    _version,
    migration,
    percentile,
    say,
)
from bench.stats import populate  # noqa: E402
from engine import FrozenClock  # noqa: E402
from tests.regency import build  # noqa: E402
from web import gunicorn_conf  # noqa: E402
from workflows.config import DEFAULT_LADDER  # noqa: E402
from workflows.demo import DEMO_PASSWORD  # noqa: E402

# The list API's report counts (migration 0036), made again after the bulk load below as
# that migration makes them on upgrade; the clones' stored speeds (0037), filled as it does.
PAGE_COUNTS = migration("0036_page_counts")
STORED_SPEEDS = migration("0041_stats_trigger_plans").STATS_SPEEDS  # 0041's SQLite triggers

TARGET_P95_MS = 150.0
# with one client writing N times a second (--writers): p95 below these, per page
WRITER_TARGET_P95_MS = {1.0: 200.0, 5.0: 400.0}
CLIENTS = 20
ENDPOINTS = ("worklist", "case", "board", "api_list")

# warmup: requests per endpoint before measuring, spread over the clients (each gunicorn
# worker opens its database connection and fills its read cache: 20 per client, so that
# every worker has seen every user); alone: requests from one client at a time, after the
# concurrent ones.
# shared_sessions: in --quick, the clients of one user share one session (6 sign-ins instead
# of 33: each is a deliberately slow argon2 check, seconds of the minute on two busy cores).
FULL = {"open": 100_000, "closed": 1_000_000, "warmup": 400, "requests": 1000, "alone": 30,
        "shared_sessions": False}
QUICK = {"open": 5_000, "closed": 20_000, "warmup": 40, "requests": 100, "alone": 3,
         "shared_sessions": True}

# Stages of the open backlog: (name, share). Each is one real template instance per
# (agency, unit) it is built for; clones are spread over AGENCY_WEIGHTS.
STAGES = {
    "verification": 0.12,  # SUBMITTED: Diskominfo verifies (screen_report, regency_admin)
    "needs_info": 0.03,  # NEEDS_INFO: the complainant is asked (provide_information)
    "disposition": 0.08,  # VERIFIED: Diskominfo disposes (dispose_report)
    "postponed": 0.02,  # POSTPONED: Diskominfo resumes (resume_report)
    "follow_up": 0.43,  # DISPOSED: an OPD's liaison follows up (follow_up, opd_liaison:X)
    "unit_follow_up": 0.15,  # DISPOSED and delegated: a unit follows up (technical_unit:U)
    "in_progress": 0.07,  # IN_PROGRESS: an interim answer given, the OPD follows up again
    "responded": 0.10,  # RESPONDED: the complainant reviews the answer (review_answer)
}
# Where follow-ups go (roads and waste first, as in most regencies).
AGENCY_WEIGHTS = {
    "dinas_pupr": 20, "dlh": 12, "dishub": 8, "disdukcapil": 8, "dinkes": 7, "disdik": 7,
    "dinsos": 5, "dpmptsp": 4, "inspektorat": 2, "perumda_air": 7, "kec_penajam": 5,
    "kec_waru": 4, "kec_babulu": 4, "kec_sepaku": 3, "kel_nipah_nipah": 1,
    "kel_gunung_seteleng": 1, "kel_waru": 1,
}
UNIT_WEIGHTS = {("dinas_pupr", "pupr_bina_marga"): 40, ("dlh", "dlh_kebersihan"): 30,
                ("dishub", "dishub_pju"): 15, ("perumda_air", "air_distribusi"): 15}
TITLES = {
    "dinas_pupr": ("roads", "Jalan berlubang dan tergenang"),
    "dlh": ("waste", "Sampah menumpuk di TPS"),
    "dishub": ("street_lights", "Lampu PJU padam"),
    "disdukcapil": ("civil_registration", "KTP elektronik belum jadi"),
    "dinkes": ("health", "Antrean puskesmas terlalu lama"),
    "disdik": ("education", "Pungutan di sekolah"),
    "dinsos": ("social_aid", "Bantuan sosial tidak tepat sasaran"),
    "dpmptsp": ("permits", "Izin usaha lama diproses"),
    "inspektorat": ("other", "Dugaan pungli di kantor desa"),
    "perumda_air": ("water", "Air PDAM tidak mengalir"),
}
DEFAULT_TITLE = ("other", "Drainase tersumbat di lingkungan")
# Who works where: the liaison officers and technical officers of the demo regency claim
# some of their tasks (the others wait unclaimed in the group).
CLAIMERS = {"opd_liaison:dinas_pupr": "penghubung.pupr", "opd_liaison:dlh": "penghubung.dlh",
            "opd_liaison:dishub": "penghubung.dishub",
            "technical_unit:pupr_bina_marga": "teknis.binamarga",
            "technical_unit:dlh_kebersihan": "teknis.kebersihan"}
CLAIMED_SHARE = 0.3
MEAN_AGE_DAYS = 6  # the open backlog's age: exponential, mean six days...
AGE_DAYS = 56  # ... and at most eight weeks
CITIZEN_AGE_DAYS = 13  # a complainant's 10 working days: older ones would have moved on
CONFIDENTIAL_SHARE = 0.05
WORKING = 5 / 7  # working days per calendar day, roughly (the clones' lateness)


# --------------------------------------------------------------------------- templates


@dataclass
class Template:
    """A real instance at one stage, walked there through the use cases."""

    stage: str
    tracking: str
    agency: str | None = None
    unit: str | None = None
    instance_id: int = 0
    complaint_id: int = 0
    task_ids: list[str] = field(default_factory=list)
    timer_ids: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    status: str = ""
    element: str = ""


def build_templates(regency: Any, clock: FrozenClock) -> list[Template]:
    """One real instance per stage (and per unit for the delegated stage), each step an hour
    after the one before, like a busy officer."""
    admin = "admin.kominfo"
    made: list[Template] = []

    def new(stage: str, category: str = "roads", title: str = "Jalan berlubang dan tergenang",
            **extra: Any) -> Template:
        receipt = regency.submit(photo=True, category=category, title=title,
                                 body=f"{title}. Mohon segera ditindaklanjuti.",
                                 kelurahan="Nipah-Nipah", kecamatan="Penajam",
                                 latitude=-1.2538, longitude=116.8305, **extra)
        template = Template(stage, receipt["tracking_number"])
        made.append(template)
        return template

    def act(template: Template, action: str, as_: str, **payload: Any) -> None:
        clock.advance(timedelta(hours=1))
        regency.act(template.tracking, action, as_=as_, **payload)

    new("verification")
    t = new("needs_info")
    act(t, "request_info", admin, reason="Mohon sebutkan lokasi persisnya.")
    new("disposition")
    act(made[-1], "verify", admin)
    t = new("postponed")
    act(t, "verify", admin)
    act(t, "postpone", admin, reason="Menunggu anggaran perubahan.")
    t = new("follow_up")
    t.agency = "dinas_pupr"
    act(t, "verify", admin)
    act(t, "dispose", admin, agency_code="dinas_pupr")
    t = new("unit_follow_up")
    t.agency, t.unit = "dinas_pupr", "pupr_bina_marga"
    act(t, "verify", admin)
    act(t, "dispose", admin, agency_code="dinas_pupr")
    act(t, "delegate", "penghubung.pupr", unit_code="pupr_bina_marga")
    t = new("in_progress")
    t.agency = "dinas_pupr"
    act(t, "verify", admin)
    act(t, "dispose", admin, agency_code="dinas_pupr")
    act(t, "respond", "penghubung.pupr", answer="Sedang dijadwalkan perbaikan.", final=False)
    t = new("responded")
    t.agency = "dinas_pupr"
    act(t, "verify", admin)
    act(t, "dispose", admin, agency_code="dinas_pupr")
    act(t, "respond", "penghubung.pupr", answer="Jalan sudah ditambal.")
    return made


def describe_templates(db: Any, templates: list[Template]) -> None:
    """Ids, open tasks and timers of each template, read back from the database."""
    for t in templates:
        row = db.execute(text("SELECT id, instance_id, status FROM complaint "
                              "WHERE tracking_number = :t"), {"t": t.tracking}).one()
        t.complaint_id, t.instance_id, t.status = int(row[0]), int(row[1]), row[2]
        tasks = db.execute(text("SELECT id, element_id FROM human_task WHERE instance_id = :i"),
                           {"i": t.instance_id}).all()
        if len(tasks) != 1:
            raise SystemExit(f"template {t.stage} has {len(tasks)} open tasks, not one")
        t.task_ids = [tasks[0][0]]
        t.element = tasks[0][1]
        t.groups = [g for (g,) in db.execute(text(
            "SELECT group_name FROM human_task_group WHERE task_id = :i"), {"i": t.task_ids[0]})]
        t.timer_ids = [i for (i,) in db.execute(text(
            "SELECT id FROM timer WHERE instance_id = :i"), {"i": t.instance_id})]


# --------------------------------------------------------------------------- the clone plan


def _weighted(rng: random.Random, weights: dict[Any, float]) -> Any:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def make_plan(templates: list[Template], count: int, first_number: int, now: datetime,
              agencies: dict[str, tuple[int, str]], seed: int = 7) -> list[dict[str, Any]]:
    """One row per clone: its template, agency, unit, group, claim, title and age, numbered
    in order of receipt (oldest first), as the application numbers reports."""
    rng = random.Random(seed)
    by_stage = {t.stage: t for t in templates}
    rows = []
    for _ in range(count):
        stage = _weighted(rng, STAGES)
        template = by_stage[stage]
        agency, unit = template.agency, template.unit
        if stage == "unit_follow_up":
            agency, unit = _weighted(rng, UNIT_WEIGHTS)
        elif template.agency is not None:
            agency = _weighted(rng, AGENCY_WEIGHTS)
        citizen = template.element in ("provide_information", "review_answer")
        age = (rng.random() * CITIZEN_AGE_DAYS if citizen
               else min(rng.expovariate(1 / MEAN_AGE_DAYS), AGE_DAYS)) * 86_400
        group = template.groups[0]
        if group.startswith("opd_liaison:"):
            group = f"opd_liaison:{agency}"
        elif group.startswith("technical_unit:"):
            group = f"technical_unit:{unit}"
        claimer = CLAIMERS.get(group) if rng.random() < CLAIMED_SHARE else None
        category, title = TITLES.get(agency or "", DEFAULT_TITLE) if agency else (
            "roads", "Jalan berlubang dan tergenang")
        rows.append({
            "template": template.instance_id, "stage": stage,
            "agency_id": agencies[agency][0] if agency else None,
            "unit_id": agencies[unit][0] if unit else None,
            "agency_from": f'"{template.agency}"' if template.agency else "\x01",
            "agency_to": f'"{agency}"' if agency else "\x01",
            "unit_from": f'"{template.unit}"' if template.unit else "\x01",
            "unit_to": f'"{unit}"' if unit else "\x01",
            "name_from": agencies[template.agency][1] if template.agency else "\x01",
            "name_to": agencies[agency][1] if agency else "\x01",
            "unit_name_from": agencies[template.unit][1] if template.unit else "\x01",
            "unit_name_to": agencies[unit][1] if unit else "\x01",
            "group_name": None if group.startswith("complainant:") else group,
            "assignee": claimer, "category": category, "title": title,
            "confidential": rng.random() < CONFIDENTIAL_SHARE,
            "shift": round(age, 3),
        })
    rows.sort(key=lambda r: -r["shift"])
    for n, row in enumerate(rows, start=1):
        row["n"] = n
        row["number"] = first_number + n
    return rows


CLONED_TABLES = ("process_instance", "human_task", "human_task_group", "timer",
                 "waiting_event", "complaint", "sla_record", "escalation", "complaint_event",
                 "attachment", "tracking_counter")
PLAN_COLUMNS = ("n", "number", "template", "stage", "agency_id", "unit_id", "agency_from",
                "agency_to", "unit_from", "unit_to", "name_from", "name_to",
                "unit_name_from", "unit_name_to", "group_name", "assignee", "category",
                "title", "confidential", "shift")


# --------------------------------------------------------------------------- cloning in SQL


class Sql:
    """The few spellings that differ between PostgreSQL and SQLite."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def minus(self, column: str) -> str:
        """A timestamp column moved back by the plan's `shift` seconds (NULL stays NULL)."""
        if self.postgres:
            return f"({column} - p.shift * interval '1 second')"
        return (f"(CASE WHEN {column} IS NULL THEN NULL ELSE "
                f"strftime('%Y-%m-%d %H:%M:%f000', {column}, '-' || p.shift || ' seconds') END)")

    def pad(self, expr: str, width: int) -> str:
        if self.postgres:
            return f"lpad(CAST({expr} AS text), {width}, '0')"
        return f"printf('%0{width}d', {expr})"

    def new_id(self, old: str) -> str:
        """A clone's task or timer id: the template's id with its last 12 digits the clone's
        number (a valid, distinct UUID-shaped string)."""
        return f"substr({old}, 1, 24) || {self.pad('p.n', 12)}"

    def whole(self, expr: str) -> str:
        """The integer part of a non-negative number (PostgreSQL's CAST rounds)."""
        if self.postgres:
            return f"CAST(floor({expr}) AS integer)"
        return f"CAST({expr} AS INTEGER)"

    def as_json(self, expr: str) -> str:
        return f"CAST({expr} AS json)" if self.postgres else expr

    def epoch(self, column: str) -> str:
        if self.postgres:
            return f"extract(epoch from {column})"
        return f"(julianday({column}) - 2440587.5) * 86400.0"

    def stamp(self, epoch: str) -> str:
        if self.postgres:
            return f"to_timestamp({epoch})"
        return f"strftime('%Y-%m-%d %H:%M:%f000', {epoch}, 'unixepoch')"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load_plan(connection: Any, sql: Sql, rows: list[dict[str, Any]]) -> None:
    types = {"n": "INTEGER PRIMARY KEY", "number": "INTEGER", "template": "BIGINT",
             "agency_id": "BIGINT", "unit_id": "BIGINT", "confidential": "BOOLEAN",
             "shift": "DOUBLE PRECISION"}
    columns = ", ".join(f"{c} {types.get(c, 'TEXT')}" for c in PLAN_COLUMNS)
    connection.execute(text(f"CREATE TEMPORARY TABLE bench_clone ({columns})"))
    if sql.postgres:
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                f"COPY bench_clone ({', '.join(PLAN_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in PLAN_COLUMNS])
    else:
        connection.exec_driver_sql(
            f"INSERT INTO bench_clone ({', '.join(PLAN_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in PLAN_COLUMNS)})",
            [tuple(row[c] for c in PLAN_COLUMNS) for row in rows])
    connection.execute(text("CREATE INDEX ix_bench_clone_template ON bench_clone (template)"))


def clone(url: str, templates: list[Template], rows: list[dict[str, Any]], now: datetime,
          prefix: str) -> dict[str, Any]:
    """Copy the templates into the plan's clones, table by table, in SQL."""
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    sql = Sql(engine.dialect.name == "postgresql")
    began = time.perf_counter()
    counts: dict[str, int] = {}
    try:
        with engine.begin() as db:
            # A bulk load, as bench/stats.py writes it: without the triggers (the statistics'
            # change log; complaint_created_at is written here instead). SQLite has no
            # switch: its triggers are dropped and made again, as they were, afterwards.
            triggers: list[str] = []
            if sql.postgres:
                db.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                found = db.execute(text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
                for name, statement in found:
                    db.execute(text(f'DROP TRIGGER "{name}"'))
                    triggers.append(statement)
            load_plan(db, sql, rows)
            base_instance = db.execute(text(
                "SELECT coalesce(max(id), 0) FROM process_instance")).scalar()
            base_complaint = db.execute(text("SELECT coalesce(max(id), 0) FROM complaint")
                                        ).scalar()
            params = {"bi": base_instance, "bc": base_complaint,
                      "now": now if sql.postgres else now.strftime("%Y-%m-%d %H:%M:%S.%f")}
            tracking = f"{_literal(prefix)} || {sql.pad('p.number', 6)}"
            for t in templates:
                # The saved state: the clone's tracking number, agency and unit codes, and
                # its own task and timer ids.
                state = (f"replace(replace(replace(t.state, {_literal(t.tracking)}, "
                         f"{tracking}), p.agency_from, p.agency_to), "
                         "p.unit_from, p.unit_to)")
                for old in [*t.task_ids, *t.timer_ids]:
                    state = f"replace({state}, {_literal(old)}, {sql.new_id(_literal(old))})"
                db.execute(text(
                    "INSERT INTO process_instance (id, definition_id, process_id, business_key, "
                    "status, state, version, created_at, updated_at, ended_at) "
                    f"SELECT :bi + p.n, t.definition_id, t.process_id, {tracking}, t.status, "
                    f"{state}, t.version, {sql.minus('t.created_at')}, "
                    f"{sql.minus('t.updated_at')}, NULL "
                    "FROM bench_clone p JOIN process_instance t ON t.id = p.template "
                    "WHERE p.template = :template"), {**params, "template": t.instance_id})
            db.execute(text(
                "INSERT INTO complaint (id, tracking_number, secret_hash, classification, "
                "misconduct, sub_classification, category, severity, title, body, "
                "incident_date, latitude, longitude, address, kelurahan, kecamatan, road_status, "
                "anonymous, confidential, channel, reporter_name, reporter_email, "
                "reporter_phone, language, status, agency_id, unit_id, instance_id, "
                "duplicate_of_id, rating, rating_comment, created_at, updated_at, verified_at, "
                "disposed_at, first_answer_at, closed_at, version) "
                f"SELECT :bc + p.n, {tracking}, c.secret_hash, c.classification, "
                "c.misconduct, c.sub_classification, p.category, c.severity, p.title, "
                "p.title || '. Mohon segera ditindaklanjuti.', c.incident_date, c.latitude, "
                "c.longitude, c.address, c.kelurahan, c.kecamatan, c.road_status, c.anonymous, "
                "p.confidential, c.channel, c.reporter_name, c.reporter_email, "
                "c.reporter_phone, c.language, c.status, p.agency_id, p.unit_id, :bi + p.n, "
                f"NULL, NULL, NULL, {sql.minus('c.created_at')}, {sql.minus('c.updated_at')}, "
                f"{sql.minus('c.verified_at')}, {sql.minus('c.disposed_at')}, "
                f"{sql.minus('c.first_answer_at')}, NULL, c.version "
                "FROM bench_clone p JOIN complaint c ON c.instance_id = p.template "
                "ORDER BY p.n"), params)
            task_group = f"coalesce(p.group_name, 'complainant:' || {tracking})"
            groups_json = f"'[\"' || {task_group} || '\"]'"
            db.execute(text(
                "INSERT INTO human_task (id, instance_id, element_id, title, lane, "
                "candidate_groups, assignee, form, created_at, due_at) "
                f"SELECT {sql.new_id('h.id')}, :bi + p.n, h.element_id, h.title, h.lane, "
                f"{sql.as_json(groups_json)}, p.assignee, h.form, "
                f"{sql.minus('h.created_at')}, {sql.minus('h.due_at')} "
                "FROM bench_clone p JOIN human_task h ON h.instance_id = p.template "
                "ORDER BY p.n"), params)
            db.execute(text(
                "INSERT INTO human_task_group (task_id, group_name) "
                f"SELECT {sql.new_id('h.id')}, {task_group} "
                "FROM bench_clone p JOIN human_task h ON h.instance_id = p.template"), params)
            # Timers: each watch comes due again at its next daily check, in the future.
            due = sql.minus("m.due_at")
            later = sql.stamp(f"{sql.epoch(':now')} + 3600 + (p.n % 86400)")
            db.execute(text(
                "INSERT INTO timer (id, instance_id, element_id, kind, due_at) "
                f"SELECT {sql.new_id('m.id')}, :bi + p.n, m.element_id, m.kind, "
                f"CASE WHEN {due} > :now THEN {due} ELSE {later} END "
                "FROM bench_clone p JOIN timer m ON m.instance_id = p.template"), params)
            db.execute(text(
                "INSERT INTO waiting_event (instance_id, kind, name, element_id) "
                "SELECT :bi + p.n, w.kind, w.name, w.element_id "
                "FROM bench_clone p JOIN waiting_event w ON w.instance_id = p.template"), params)
            # SLA records: moved back in time; a running officer deadline now past has climbed
            # one rung at its due time and one more every two working days since.
            late_days = f"(({sql.epoch(':now')} - {sql.epoch(sql.minus('s.due_at'))}) / 86400.0)"
            late = (f"(s.state = 'running' AND s.step NOT IN ('info_request', "
                    f"'complainant_window') AND {sql.minus('s.due_at')} < :now)")
            last = len(DEFAULT_LADDER) - 1
            climbed = sql.whole(f"{late_days} * {WORKING} / 2")
            rung = (f"CASE WHEN {late} THEN CASE WHEN s.holder_rung + 1 + {climbed} > {last} "
                    f"THEN {last} ELSE s.holder_rung + 1 + {climbed} END ELSE s.rung END")
            db.execute(text(
                "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, "
                "started_at, due_at, paused_at, pauses, remaining_seconds, state, ended_at, "
                "late_seconds, rung, reminded_rungs, complaint_created_at) "
                "SELECT c.id, s.step, s.budget_days, s.holder_rung, "
                f"{sql.minus('s.started_at')}, {sql.minus('s.due_at')}, "
                f"{sql.minus('s.paused_at')}, s.pauses, s.remaining_seconds, s.state, "
                f"{sql.minus('s.ended_at')}, s.late_seconds, {rung}, s.reminded_rungs, "
                "c.created_at "
                "FROM bench_clone p JOIN complaint t ON t.instance_id = p.template "
                "JOIN sla_record s ON s.complaint_id = t.id "
                "JOIN complaint c ON c.id = :bc + p.n ORDER BY p.n, s.id"), params)
            # Escalations: one per rung climbed above the holder (the last one open, those
            # below acknowledged), to the agency each rung belongs to.
            agency_of = {name: db.execute(text("SELECT id FROM agency WHERE code = :c"),
                                          {"c": code}).scalar()
                         for name, code in (("regency_admin", "diskominfo"),
                                            ("regional_head", "ppu"), ("province", "kaltim"))}
            rungs = " UNION ALL ".join(
                f"SELECT {i} AS rung, '{name}' AS name, "
                f"CAST({agency_of.get(name) or 'NULL'} AS BIGINT) AS agency" for i, name in
                enumerate(DEFAULT_LADDER))
            step_days = f"((r.rung - s.holder_rung - 1) * 2 / {WORKING} * 86400)"
            climbed_at = sql.stamp(f"{sql.epoch('s.due_at')} + {step_days}")
            db.execute(text(
                "INSERT INTO escalation (complaint_id, sla_id, step, rung, rung_name, agency_id, "
                "at, due_at, status, acknowledged_by, acknowledged_at, complaint_created_at) "
                "SELECT s.complaint_id, s.id, s.step, r.rung, r.name, "
                "CASE r.name WHEN 'technical_officer' THEN c.unit_id WHEN 'opd' THEN c.agency_id "
                "ELSE r.agency END, "
                f"{climbed_at}, {climbed_at}, "
                "CASE WHEN r.rung = s.rung THEN 'open' ELSE 'acknowledged' END, "
                "CASE WHEN r.rung = s.rung THEN NULL ELSE 'kadis.kominfo' END, "
                "CASE WHEN r.rung = s.rung THEN NULL ELSE s.due_at END, c.created_at "
                "FROM sla_record s JOIN complaint c ON c.id = s.complaint_id "
                f"JOIN ({rungs}) r ON r.rung > s.holder_rung AND r.rung <= s.rung "
                "WHERE s.complaint_id > :bc AND s.state = 'running' "
                "ORDER BY s.due_at, s.id, r.rung"), params)
            db.execute(text(
                "INSERT INTO complaint_event (complaint_id, at, actor, kind, status_from, "
                "status_to, text, public) "
                f"SELECT :bc + p.n, {sql.minus('e.at')}, e.actor, e.kind, e.status_from, "
                "e.status_to, replace(replace(e.text, p.name_from, p.name_to), "
                "p.unit_name_from, p.unit_name_to), e.public "
                "FROM bench_clone p JOIN complaint t ON t.instance_id = p.template "
                "JOIN complaint_event e ON e.complaint_id = t.id ORDER BY p.n, e.id"), params)
            db.execute(text(
                "INSERT INTO attachment (complaint_id, filename, content_type, size, sha256, "
                "storage_key, kind, uploaded_by, created_at) "
                "SELECT :bc + p.n, a.filename, a.content_type, a.size, a.sha256, "
                f"a.storage_key, a.kind, a.uploaded_by, {sql.minus('a.created_at')} "
                "FROM bench_clone p JOIN complaint t ON t.instance_id = p.template "
                "JOIN attachment a ON a.complaint_id = t.id ORDER BY p.n"), params)
            last_number = max(r["number"] for r in rows)
            db.execute(text("UPDATE tracking_counter SET last = :n"), {"n": last_number})
            db.execute(text("DROP TABLE bench_clone"))
            for statement in triggers:
                db.execute(text(statement))
            PAGE_COUNTS.backfill(db)  # the bulk load ran without the counts' triggers
            # nor the stored speeds' (migration 0037): the clones' measures and the sums
            STORED_SPEEDS.backfill(db, only=f"id > {int(base_complaint)}")
            if sql.postgres:
                for table in ("process_instance", "complaint", "sla_record", "escalation",
                              "complaint_event", "attachment", "waiting_event"):
                    db.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT coalesce(max(id), 1) FROM {table}))"))
        cloned = time.perf_counter() - began
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            if sql.postgres:  # what autovacuum would have done by the time such tables exist
                for table in CLONED_TABLES:
                    db.execute(text(f"VACUUM ANALYZE {table}"))
            else:
                db.execute(text("ANALYZE"))
            for table in ("process_instance", "human_task", "human_task_group", "timer",
                          "complaint", "sla_record", "escalation", "complaint_event",
                          "attachment"):
                counts[table] = int(db.execute(text(f"SELECT count(*) FROM {table}")).scalar())
            counts["open_complaints"] = int(db.execute(text(
                "SELECT count(*) FROM complaint WHERE status NOT IN "
                "('CLOSED', 'ARCHIVED', 'RETURNED')")).scalar())
            counts["open_escalations"] = int(db.execute(text(
                "SELECT count(*) FROM escalation WHERE status = 'open'")).scalar())
            if sql.postgres:
                size = db.execute(text("SELECT pg_database_size(current_database())")).scalar()
                counts["database_mb"] = round(size / 2**20, 1)
            else:
                path = Path(str(make_url(url).database))
                counts["database_mb"] = round(path.stat().st_size / 2**20, 1)
    finally:
        engine.dispose()
    return {**counts, "clone_seconds": round(cloned, 1),
            "seconds": round(time.perf_counter() - began, 1)}


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_gunicorn() -> Path:
    """gunicorn is the project's `server` extra; installed into this environment if absent."""
    found = Path(sys.executable).with_name("gunicorn")
    if not found.exists():
        say("installing the server extra (gunicorn) into this environment")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", ".[server]"],
                       cwd=ROOT, check=True)
    return found


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    workers: int
    threads: int
    log: Path

    def pids(self) -> list[int]:
        """The master and its workers."""
        found = [self.process.pid]
        with suppress(OSError):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            found += [int(p) for p in children.read_text().split()]
        return found


@contextmanager
def serve(url: str, folder: Path, workers: int, threads: int, worker_class: str = "sync"
          ) -> Iterator[Server]:
    """gunicorn over the app with the project's settings (web/gunicorn_conf.py; these
    options on its command line win), create_app reading the ADUAN_* settings."""
    gunicorn = ensure_gunicorn()
    port = _free_port()
    log = folder / "gunicorn.log"
    env = {**os.environ, "ADUAN_DATABASE_URL": url, "ADUAN_SECRET_KEY": secrets.token_hex(32),
           "ADUAN_UPLOAD_DIR": str(folder / "uploads"), "ADUAN_COOKIE_SECURE": "0",
           "PYTHONDONTWRITEBYTECODE": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(gunicorn), "-c", "python:web.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers),
             "--worker-class", worker_class, "--threads", str(threads), "--keep-alive", "60",
             "--backlog", "256", "--timeout", "120", "--log-level", "warning",
             "web.app:create_app()"], cwd=ROOT, env=env, stdout=sink, stderr=sink)
    server = Server(process, port, workers, threads, log)
    try:
        deadline = time.monotonic() + 60
        ready = 0
        while ready < workers:  # every worker answers before anything is measured
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start: {log.read_text()[-2000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    ready += 1
                connection.close()
            except OSError:
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- the clients

COOKIE = re.compile(r"aduan_session=([^;]*)")
CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')


class Client:
    """One keep-alive HTTP connection with one signed-in session (or a bearer token)."""

    def __init__(self, port: int, keep_alive: bool = True) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers: dict[str, str] = {}
        # Without keep-alive every request opens its own connection, as a reverse proxy in
        # front of gunicorn does by default (nginx speaks HTTP/1.0 to its upstream): the
        # kernel hands each one to whichever worker accepts first.
        self.extra = {} if keep_alive else {"Connection": "close"}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
        merged = {**self.headers, **self.extra, **(headers or {})}
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=merged)
                response = self.connection.getresponse()
                return response.status, response.read(), response
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle keep-alive connection: open a new one
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                             timeout=120)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def sign_in(self, username: str) -> None:
        self.headers = {}  # a new visitor: no session yet
        status, body, response = self.request("GET", "/login")
        cookie = COOKIE.search(response.getheader("Set-Cookie") or "")
        token = CSRF.search(body.decode())
        if status != 200 or not cookie or not token:
            raise SystemExit(f"GET /login: HTTP {status}")
        form = urlencode({"username": username, "password": DEMO_PASSWORD,
                          "csrf_token": token.group(1)}).encode()
        status, _body, response = self.request(
            "POST", "/login", form, {"Cookie": f"aduan_session={cookie.group(1)}",
                                     "Content-Type": "application/x-www-form-urlencoded"})
        cookie = COOKIE.search(response.getheader("Set-Cookie") or "")
        if status != 302 or not cookie:
            raise SystemExit(f"POST /login as {username}: HTTP {status}")
        self.headers = {"Cookie": f"aduan_session={cookie.group(1)}"}

    def bearer(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def close(self) -> None:
        self.connection.close()


@dataclass
class Variant:
    """Who asks for what: a user and the paths they request, one after another."""

    name: str
    user: str
    paths: Callable[[random.Random], str]
    api: bool = False


class Clients:
    """CLIENTS keep-alive connections, and a signed-in session of its own for each
    (connection, user) pair, made once and kept for every endpoint that user requests."""

    def __init__(self, port: int, tokens: dict[str, str], shared: bool = False,
                 keep_alive: bool = True) -> None:
        self.clients = [Client(port, keep_alive) for _ in range(CLIENTS)]
        self.tokens = tokens
        # shared (--quick): the clients of one user share one session, signed in once
        self.shared = shared
        self.sessions: dict[tuple[int, str], dict[str, str]] = {}
        self.sign_ins = 0
        self.sign_in_seconds = 0.0

    def assign(self, variants: list[Variant]) -> list[Variant]:
        """Client i works as variants[i % len]; sign in the pairs not signed in yet."""
        chosen = [variants[i % len(variants)] for i in range(CLIENTS)]
        missing = list(dict.fromkeys(
            self._key(i, v.user) for i, v in enumerate(chosen)
            if not v.api and self._key(i, v.user) not in self.sessions))
        began = time.perf_counter()

        def sign_in(index: int, user: str) -> None:
            client = self.clients[index] if index >= 0 else Client(self.clients[0].port)
            client.sign_in(user)
            self.sessions[(index, user)] = client.headers
            if index < 0:
                client.close()

        _in_threads([lambda i=i, u=u: sign_in(i, u) for i, u in missing])
        self.sign_ins += len(missing)
        self.sign_in_seconds += time.perf_counter() - began
        for i, variant in enumerate(chosen):
            if variant.api:
                self.clients[i].bearer(self.tokens[variant.user])
            else:
                self.clients[i].headers = self.sessions[self._key(i, variant.user)]
        return chosen

    def _key(self, index: int, user: str) -> tuple[int, str]:
        return (-1 if self.shared else index, user)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def run_endpoint(clients: Clients, variants: list[Variant], warmup: int, requests: int,
                 seed: int, server: Server | None = None) -> dict[str, Any]:
    """CLIENTS threads at once, each as its variant's user (round robin over the variants):
    `warmup` requests in all, then `requests` in all, measured. With `server`, where the CPU
    time went: the server's processes, the clients (this process) and the machine."""
    chosen = clients.assign(variants)
    rngs = [random.Random(seed * 1000 + i) for i in range(CLIENTS)]
    share = [requests // CLIENTS + (1 if i < requests % CLIENTS else 0) for i in range(CLIENTS)]
    timings: list[list[tuple[str, float, int]]] = [[] for _ in range(CLIENTS)]
    warming: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[str] = []
    start = threading.Barrier(CLIENTS + 1)
    finished: list[float] = [0.0] * CLIENTS

    def work(index: int) -> None:
        client, variant, rng = clients.clients[index], chosen[index], rngs[index]
        try:
            for _ in range(warmup // CLIENTS + (1 if index < warmup % CLIENTS else 0)):
                began = time.perf_counter()
                status, body, _response = client.request("GET", variant.paths(rng))
                warming[index].append(time.perf_counter() - began)
                if status != 200:
                    errors.append(f"{variant.name} warm-up: HTTP {status}: {body[:200]!r}")
            start.wait()
            for _ in range(share[index]):
                path = variant.paths(rng)
                began = time.perf_counter()
                status, body, _response = client.request("GET", path)
                timings[index].append((variant.name, time.perf_counter() - began, len(body)))
                if status != 200:
                    errors.append(f"{variant.name} {path}: HTTP {status}: {body[:200]!r}")
            finished[index] = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - reported, and the run fails
            errors.append(f"{variant.name}: {exc!r}")
            with suppress(threading.BrokenBarrierError):
                start.abort()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    with suppress(threading.BrokenBarrierError):
        start.wait()
    cpu = _cpu_times()
    spent = (_process_cpu(server.pids()) if server else 0.0, time.process_time(),
             _process_cpu(_database_pids()))
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = max(finished) - began if all(finished) else time.perf_counter() - began
    busy = _cpu_times(cpu)
    spent = (_process_cpu(server.pids()) - spent[0] if server else None,
             time.process_time() - spent[1], _process_cpu(_database_pids()) - spent[2])
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, first: {errors[0]}")
    flat = [t for mine in timings for t in mine]
    figures = _figures([t for _, t, _ in flat])
    figures["requests_per_second"] = round(len(flat) / wall, 1)
    figures["wall_seconds"] = round(wall, 2)
    figures["response_kb_median"] = round(statistics.median(b for *_, b in flat) / 1024, 1)
    figures["machine_busy_share"] = busy
    # The warm-up's own figures: each server process fills its read cache on first use.
    figures["warm_up"] = _figures([t for mine in warming for t in mine]) if warmup else None
    if server is not None and spent[0] is not None:
        figures["cpu_ms_per_request"] = {
            "server": round(spent[0] * 1000 / len(flat), 1),
            "clients": round(spent[1] * 1000 / len(flat), 1),
            "postgres": round(spent[2] * 1000 / len(flat), 1),
            "note": "the server's processes, the benchmark's client threads and the "
                    "PostgreSQL server's processes (SQLite runs inside the server's); the "
                    "rest of the machine's busy time is the system's"}
    figures["by_user"] = {
        v.name: {"user": v.user, **_figures([t for name, t, _ in flat if name == v.name])}
        for v in variants}
    return figures



# --------------------------------------------------------------------------- the writer

# The writer's cycle: each write moves one report one step on, the oldest waiting first
# (a filing when none waits for the step): file it (the public API), verify and dispose it
# to Dinas PUPR (admin.kominfo), give an interim answer (PUPR's liaison completes its task).
WRITES = ("file", "verify", "dispose", "respond")
VISIBLE_WITHIN_S = 2.0  # target: a write shows on every page it concerns within this
VISIBILITY_GIVE_UP_S = 30.0
IN_FLIGHT = 10  # the writer's writes under way at once, at most
OPEN_TOTAL = re.compile(r'id="count-all-open"[^>]*>([^<]*)<')


def _open_total(body: bytes) -> int:
    """The board's count of open reports (its table's total), 0 when it shows none."""
    found = OPEN_TOTAL.search(body.decode())
    return int(re.sub(r"\D", "", found.group(1))) if found else 0


@dataclass
class Write:
    kind: str
    tracking: str
    committed: float  # perf_counter when its response came back (committed before)
    filed: int  # filings committed up to this one (the board's open total grows by these)
    disposed: int  # dispositions to PUPR up to this one


class Writer:
    """One client writing `rate` times a second through the JSON API (real HTTP), paced by
    its own schedule (back to back when a write takes longer than its slot), and a checker
    that, after a write commits, polls every page the write concerns until it shows it."""

    def __init__(self, port: int, tokens: dict[str, str], rate: float) -> None:
        self.rate = rate
        self.port = port
        self.tokens = tokens
        self.lock = threading.Lock()
        self.late = 0
        self.pending: dict[str, list[str]] = {"verify": [], "dispose": [], "respond": []}
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.latency: dict[str, list[float]] = {k: [] for k in WRITES}
        self.filed = self.disposed = 0
        self.latest: Write | None = None
        self.news = threading.Condition()
        self.visible: dict[str, list[float]] = {}
        self.given_up: dict[str, int] = {}
        self.checked = 0
        # the checker's own signed-in pages
        self.shown: dict[str, list[float]] = {}
        self.pages = {key: Client(port) for key in (
            ("worklist", "admin.kominfo"), ("case", "admin.kominfo"),
            ("board", "admin.kominfo"), ("worklist", "penghubung.pupr"),
            ("case", "penghubung.pupr"), ("board", "kadis.pupr"))}
        _in_threads([lambda c=client, u=key[1]: c.sign_in(u)
                     for key, client in self.pages.items()])
        self.api = Client(port)
        self.api.bearer(tokens["admin.kominfo"])
        self.base = {"admin": _open_total(self._get(self.pages["board", "admin.kominfo"],
                                                    "/board")),
                     "pupr": _open_total(self._get(self.pages["board", "kadis.pupr"],
                                                   "/board"))}
        self.threads = [threading.Thread(target=self._write_loop, daemon=True),
                        threading.Thread(target=self._check_loop, daemon=True)]
        self.began = self.ended = 0.0

    @staticmethod
    def _get(client: Client, path: str) -> bytes:
        status, body, _response = client.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}: {body[:200]!r}")
        return body

    def start(self) -> None:
        self.began = time.perf_counter()
        for thread in self.threads:
            thread.start()

    def finish(self) -> dict[str, Any]:
        self.stop.set()
        with self.news:
            self.news.notify_all()
        for thread in self.threads:
            thread.join()
        for client in (self.api, *self.pages.values()):
            client.close()
        if self.errors:
            raise SystemExit(f"the writer failed: {self.errors[0]}")
        wall = self.ended - self.began
        count = sum(len(v) for v in self.latency.values())
        return {
            "rate_asked": self.rate, "writes": count, "started_late": self.late,
            "rate_achieved": round(count / wall, 2) if wall else None,
            "by_kind": {k: len(v) for k, v in self.latency.items()},
            "write_ms": _figures([t for v in self.latency.values() for t in v]) if count
            else None,
            "writes_checked": self.checked,
            # per page, after a write committed: the request that first showed it was
            # sent this long after (the target's measure) ...
            "visible_max_s": {page: round(max(times), 3) for page, times in
                              self.visible.items() if times},
            "visible_p95_s": {page: round(percentile(sorted(times), 95), 3)
                              for page, times in self.visible.items() if times},
            # ... and its answer came back this long after (with the request's own wait)
            "shown_max_s": {page: round(max(times), 3) for page, times in
                            self.shown.items() if times},
            "not_visible_within_30s": self.given_up,
        }

    def _write_loop(self) -> None:
        """Open loop: write k starts at began + k / rate on a thread of its own, whether or
        not the writes before have come back (at most IN_FLIGHT at once), as officers act
        whatever the server's queue; a write that starts after its slot is counted late."""
        k = 0
        flying: list[threading.Thread] = []
        try:
            while not self.errors:
                wait = self.began + k / self.rate - time.perf_counter()
                if self.stop.wait(max(wait, 0.0)):
                    break
                flying = [t for t in flying if t.is_alive()]
                while len(flying) >= IN_FLIGHT and not self.stop.is_set():
                    flying[0].join(1.0)
                    flying = [t for t in flying if t.is_alive()]
                if self.stop.is_set():
                    break
                if time.perf_counter() - (self.began + k / self.rate) > 1.0 / self.rate:
                    self.late += 1
                thread = threading.Thread(target=self._write_guarded, args=(k,), daemon=True)
                thread.start()
                flying.append(thread)
                k += 1
        finally:
            for thread in flying:
                thread.join()
            self.ended = time.perf_counter()

    def _write_guarded(self, k: int) -> None:
        try:
            self._write(k)
        except Exception as exc:  # noqa: BLE001 - reported by finish()
            self.errors.append(repr(exc))

    def _post(self, token: str | None, path: str, payload: dict[str, Any], expect: int
              ) -> Any:
        client = Client(self.port)  # one connection per write: writes overlap
        if token:
            client.bearer(token)
        try:
            status, body, _response = client.request(
                "POST", path, json.dumps(payload).encode(),
                {"Content-Type": "application/json"})
        finally:
            client.close()
        if status != expect:
            raise RuntimeError(f"POST {path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    def _write(self, k: int) -> None:
        with self.lock:
            kind = WRITES[k % len(WRITES)]
            if kind != "file" and not self.pending[kind]:
                kind = "file"
            tracking = None if kind == "file" else self.pending[kind].pop(0)
        began = time.perf_counter()
        if tracking is None:
            tracking = self._post(None, "/api/v1/complaints", {
                # a category verified without a photo (a filing stays one small request)
                "classification": "pengaduan", "category": "other",
                "title": f"Pelayanan lambat (tulisan uji {k})",
                "body": "Antrean pelayanan sangat lambat, mohon diperbaiki.",
                "reporter_name": "Penulis Uji", "kelurahan": "Nipah-Nipah",
                "kecamatan": "Penajam"}, 201)["tracking_number"]
            after, counter = "verify", "filed"
        else:
            path = f"/api/v1/complaints/{tracking}/actions/{kind}"
            if kind == "verify":
                self._post(self.tokens["admin.kominfo"], path, {}, 200)
                after, counter = "dispose", None
            elif kind == "dispose":
                self._post(self.tokens["admin.kominfo"], path,
                           {"agency_code": "dinas_pupr"}, 200)
                after, counter = "respond", "disposed"
            else:
                self._post(self.tokens["penghubung.pupr"], path,
                           {"answer": f"Jawaban sementara {tracking}.", "final": False}, 200)
                after, counter = None, None
        done = time.perf_counter()
        with self.lock:
            if after is not None:
                self.pending[after].append(tracking)
            if counter is not None:
                setattr(self, counter, getattr(self, counter) + 1)
            self.latency[kind].append(done - began)
            write = Write(kind, tracking, done, self.filed, self.disposed)
        with self.news:
            self.latest = write
            self.news.notify_all()

    def _checks(self, write: Write) -> dict[str, Callable[[], bool]]:
        """The pages a write concerns, each with the test of whether it shows the write
        (each page through a client of its own: they are polled at once)."""
        t = write.tracking

        def contains(client: Client, path: str, what: str) -> Callable[[], bool]:
            return lambda: what.encode() in self._get(client, path)

        def page(name: str, user: str) -> Client:
            return self.pages[name, user]

        if write.kind == "file":
            return {"api_list": contains(self.api, "/api/v1/complaints", t),
                    "worklist": contains(page("worklist", "admin.kominfo"),
                                         "/tasks?sort=newest", t),
                    "case": contains(page("case", "admin.kominfo"), f"/cases/{t}", t),
                    "board": lambda: _open_total(self._get(page("board", "admin.kominfo"),
                                                           "/board"))
                    >= self.base["admin"] + write.filed}
        if write.kind == "verify":
            return {"api_list": contains(self.api, "/api/v1/complaints?status=VERIFIED", t)}
        if write.kind == "dispose":
            return {"api_list": contains(self.api, "/api/v1/complaints?status=DISPOSED", t),
                    "worklist": contains(page("worklist", "penghubung.pupr"),
                                         "/tasks?sort=newest", t),
                    "board": lambda: _open_total(self._get(page("board", "kadis.pupr"),
                                                           "/board"))
                    >= self.base["pupr"] + write.disposed}
        return {"api_list": contains(self.api, "/api/v1/complaints?status=IN_PROGRESS", t),
                "case": contains(page("case", "penghubung.pupr"), f"/cases/{t}",
                                 f"Jawaban sementara {t}.")}

    def _check_loop(self) -> None:
        """The next write committed while the checker waits (writes made while one is
        checked are skipped), each page it concerns polled by a thread of its own until it
        shows it. Recorded per
        page: when the request that first showed it was sent (``asked``: how long the page
        did not show the write yet; the target) and when its answer came back
        (``shown``: that plus the request's own time in the server's queue)."""
        seen: Write | None = None
        try:
            while True:
                with self.news:
                    while self.latest is seen and not self.stop.is_set():
                        self.news.wait(1.0)
                    if self.latest is seen:
                        return
                    write = seen = self.latest
                assert write is not None
                threads = [threading.Thread(target=self._poll, args=(write, name, shows),
                                            daemon=True)
                           for name, shows in self._checks(write).items()]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                self.checked += 1
                # writes that committed while these were polled are skipped: only a write
                # committed while the checker waits is measured from its commit
                with self.news:
                    seen = self.latest
        except Exception as exc:  # noqa: BLE001 - reported by finish()
            self.errors.append(repr(exc))

    def _poll(self, write: Write, name: str, shows: Callable[[], bool]) -> None:
        try:
            while True:
                asked = time.perf_counter()
                if shows():
                    with self.lock:
                        self.visible.setdefault(name, []).append(asked - write.committed)
                        self.shown.setdefault(name, []).append(
                            time.perf_counter() - write.committed)
                    return
                if time.perf_counter() - write.committed > VISIBILITY_GIVE_UP_S:
                    with self.lock:
                        self.given_up[name] = self.given_up.get(name, 0) + 1
                    return
                if self.stop.wait(0.05):
                    return
        except Exception as exc:  # noqa: BLE001 - reported by finish()
            self.errors.append(repr(exc))


def run_alone(clients: Clients, variants: list[Variant], requests: int, seed: int
              ) -> dict[str, Any]:
    """The same requests from one client at a time: the service time, without queueing."""
    chosen = clients.assign(variants)
    rng = random.Random(seed)
    times = []
    for n in range(requests):
        index = n % len(variants)  # one client per user, the users in turn
        client, variant = clients.clients[index], chosen[index]
        path = variant.paths(rng)
        began = time.perf_counter()
        status, body, _response = client.request("GET", path)
        times.append(time.perf_counter() - began)
        if status != 200:
            raise SystemExit(f"{variant.name} {path}: HTTP {status}: {body[:200]!r}")
    return _figures(times)


def _figures(times: list[float]) -> dict[str, Any]:
    return {"requests": len(times),
            "median_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(percentile(times, 95) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1)}


def _in_threads(jobs: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _process_cpu(pids: list[int]) -> float:
    """CPU seconds (user and system) used so far by these processes, from /proc."""
    total = 0.0
    for pid in pids:
        with suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _database_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (none when it runs elsewhere)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    found.append(int(entry.name))
    return found


def _cpu_times(since: tuple[float, float] | None = None) -> Any:
    """The machine's busy and total jiffies from /proc/stat; with `since`, the busy share."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    busy, total = sum(fields) - idle, sum(fields)
    if since is None:
        return busy, total
    return round((busy - since[0]) / max(total - since[1], 1), 2)


# --------------------------------------------------------------------------- one database


def open_reports(url: str) -> dict[str, list[str]]:
    """Tracking numbers of the open reports each case-page user may see."""
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    open_ = ("instance_id IS NOT NULL AND status NOT IN ('CLOSED', 'ARCHIVED', 'RETURNED')")
    try:
        with engine.connect() as db:
            pupr = ", ".join(str(i) for (i,) in db.execute(text(
                "SELECT a.id FROM agency a LEFT JOIN agency p ON p.id = a.parent_id "
                "WHERE a.code = 'dinas_pupr' OR p.code = 'dinas_pupr'")))
            unit = db.execute(text("SELECT id FROM agency WHERE code = 'pupr_bina_marga'")
                              ).scalar()
            found = {
                "admin.kominfo": f"SELECT tracking_number FROM complaint WHERE {open_}",
                "penghubung.pupr": f"SELECT tracking_number FROM complaint WHERE {open_} "
                                   f"AND (agency_id IN ({pupr}) OR unit_id IN ({pupr}))",
                "teknis.binamarga": f"SELECT tracking_number FROM complaint WHERE {open_} "
                                    f"AND unit_id = {unit}",
            }
            return {user: sorted(t for (t,) in db.execute(text(query)))
                    for user, query in found.items()}
    finally:
        engine.dispose()


def variants_for(reports: dict[str, list[str]]) -> dict[str, list[Variant]]:
    """The users of each page and what they ask for (see BENCHMARKS.md). Client i works as
    the (i mod n)-th user of each list: the regency administrator (Diskominfo), an OPD's
    liaison officer and a unit's technical officer on the worklist and the case page; the
    regency administrator, the Sekda (the whole regency) and an OPD head on the board; the
    administrator and the liaison officer through the API."""

    def fixed(path: str) -> Callable[[random.Random], str]:
        return lambda _rng: path

    def case(user: str) -> Callable[[random.Random], str]:
        found = reports[user]
        if not found:
            raise SystemExit(f"no open report for {user} to open")
        return lambda rng: f"/cases/{rng.choice(found)}"

    def listing(rng: random.Random) -> str:
        return "/api/v1/complaints" + rng.choice(API_QUERIES)

    officers = ("admin.kominfo", "penghubung.pupr", "teknis.binamarga")
    return {
        "worklist": [Variant(u, u, fixed("/tasks")) for u in officers],
        "case": [Variant(u, u, case(u)) for u in officers],
        "board": [Variant(u, u, fixed("/board"))
                  for u in ("admin.kominfo", "sekda", "kadis.pupr")],
        "api_list": [Variant(u, u, listing, api=True)
                     for u in ("admin.kominfo", "penghubung.pupr")],
    }


# What integrations ask the list API for, in turn: the newest page, the next one, the
# reports waiting on an OPD, the late ones.
API_QUERIES = ("", "?offset=50", "?status=DISPOSED", "?overdue=true")


def kept_postgres_name(keep: Path) -> str:
    """The PostgreSQL database a --keep folder keeps: one per folder."""
    folder = str(keep.resolve()).encode()
    return f"aduan_bench_web_kept_{hashlib.sha256(folder).hexdigest()[:12]}"


@contextmanager
def kept_database(backend: Any, keep: Path | None) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """The backend's database, and what an earlier run with the same --keep folder recorded
    of its set-up (None: set it up). Without --keep, a new database dropped at the end; with
    it, the SQLite file and the PostgreSQL database `aduan_bench_web_kept_<digest of the
    folder>` stay for the next run with that folder (which skips the set-up: for profiling,
    not for recorded figures, as the data ages). The name follows the folder, so runs kept in
    different folders (several sessions on one server) never drop each other's database."""
    if keep is None:
        with backend.database() as url:
            yield url, None
        return
    record = keep / f"{backend.label}.json"
    previous = json.loads(record.read_text()) if record.exists() else None
    if backend.label == "sqlite":
        path = keep / "sqlite" / "aduan.db"
        url = f"sqlite:///{path}"
        if previous is None:
            for extra in ("", "-wal", "-shm"):
                Path(f"{path}{extra}").unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
        migrations.upgrade(url)  # a kept database follows the code's schema
    else:
        backend.name = kept_postgres_name(keep)
        url = backend._url(backend.name)
        exists = backend._execute("SELECT count(*) FROM pg_database WHERE datname = :n",
                                  n=backend.name)
        if previous is None or not exists:
            previous = None
            backend._drop(backend.name)
            backend._execute(f'CREATE DATABASE "{backend.name}"')
        migrations.upgrade(url)
    yield url, previous


def set_up(url: str, label: str, sizes: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The closed reports, the template instances and their clones; what was made, with the
    API tokens of the demo officers."""
    began = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    clock = FrozenClock(now - timedelta(hours=12))
    regency = build(url, clock, folder)  # the lifecycle deployed; demo agencies, officers
    try:
        say(f"{label}: writing {sizes['closed']:,} closed complaints (bench/stats.py)")
        made = populate(url, sizes["closed"], 0)
        say(f"{label}: closed complaints written in {made['seconds']} s")
        step = time.perf_counter()
        templates = build_templates(regency, clock)
        template_seconds = time.perf_counter() - step
        with regency.engine.store.db.connect() as db:
            describe_templates(db, templates)
            agencies = {code: (int(i), name) for i, code, name in db.execute(text(
                "SELECT id, code, name FROM agency"))}
        say(f"{label}: {len(templates)} template instances through the use cases in "
            f"{template_seconds:.1f} s; cloning {sizes['open']:,} open complaints")
    finally:
        regency.engine.dispose()
    prefix = templates[0].tracking.rsplit("-", 1)[0] + "-"
    plan = make_plan(templates, sizes["open"] - len(templates), len(templates), now,
                     agencies)
    cloned = clone(url, templates, plan, now, prefix)
    say(f"{label}: {cloned['open_complaints']:,} open of {cloned['complaint']:,} "
        f"complaints, {cloned['human_task']:,} tasks, {cloned['sla_record']:,} SLA "
        f"records, {cloned['open_escalations']:,} open escalations; cloned in "
        f"{cloned['clone_seconds']} s, {cloned['database_mb']} MB")
    return {"closed_populated": made, "templates": [
                {"stage": t.stage, "tracking_number": t.tracking, "status": t.status,
                 "task": t.element, "groups": t.groups} for t in templates],
            "template_seconds": round(template_seconds, 1), "data": cloned,
            "set_up_seconds": round(time.perf_counter() - began, 1),
            "tokens": regency.tokens}


def bench_backend(backend: Any, sizes: dict[str, Any], folder: Path, workers: int,
                  threads: int, keep: Path | None = None, keep_alive: bool = True,
                  worker_class: str = "sync", writers: tuple[float, ...] = (),
                  pages: tuple[str, ...] = ENDPOINTS) -> dict[str, Any]:
    label = backend.label
    if keep is not None:
        folder = keep / label
    folder.mkdir(parents=True, exist_ok=True)
    with kept_database(backend, keep) as (url, previous):
        began = time.perf_counter()
        if previous is None:
            made = set_up(url, label, sizes, folder)
            if keep is not None:
                (keep / f"{label}.json").write_text(json.dumps(made, indent=2) + "\n")
        else:
            say(f"{label}: reusing the database kept in {keep} (set up "
                f"{previous['data']['open_complaints']:,} open reports earlier)")
            made = {**previous, "reused": True}
        tokens = made.pop("tokens")
        variants = variants_for(open_reports(url))
        result: dict[str, Any] = {**made, "endpoints": {}, "one_client": {},
                                  "with_writers": {}}
        step = time.perf_counter()
        with serve(url, folder, workers, threads, worker_class) as server:
            result["server"] = {"software": f"gunicorn {_version('gunicorn')}",
                                "worker_class": worker_class, "workers": workers,
                                "threads": threads, "client_keep_alive": keep_alive,
                                "start_seconds": round(time.perf_counter() - step, 1)}
            clients = Clients(server.port, tokens, shared=sizes["shared_sessions"],
                              keep_alive=keep_alive)
            try:
                for name in pages:
                    index = ENDPOINTS.index(name)  # the same seed whatever --pages
                    figures = run_endpoint(clients, variants[name], sizes["warmup"],
                                           sizes["requests"], index, server)
                    result["endpoints"][name] = figures
                    parts = ", ".join(f"{v} {f['median_ms']}/{f['p95_ms']}"
                                      for v, f in figures["by_user"].items())
                    cpu = figures.get("cpu_ms_per_request", {})
                    warm = figures.get("warm_up") or {}
                    say(f"{label}: {name}: median {figures['median_ms']} ms, p95 "
                        f"{figures['p95_ms']} ms, {figures['requests_per_second']} req/s "
                        f"with {CLIENTS} clients, CPU per request: server "
                        f"{cpu.get('server')} ms, clients {cpu.get('clients')} ms, "
                        f"PostgreSQL {cpu.get('postgres')} ms; warm-up p95 "
                        f"{warm.get('p95_ms')} ms "
                        f"(median/p95 by user: {parts})")
                for name in pages:
                    index = ENDPOINTS.index(name)  # the same seed whatever --pages
                    alone = run_alone(clients, variants[name], sizes["alone"], index)
                    result["one_client"][name] = alone
                    say(f"{label}: {name} with one client at a time: median "
                        f"{alone['median_ms']} ms, p95 {alone['p95_ms']} ms")
                for rate in writers:
                    if rate <= 0:
                        continue
                    writer = Writer(server.port, tokens, rate)
                    writer.start()
                    found: dict[str, Any] = {"endpoints": {}}
                    try:
                        for name in pages:
                            index = ENDPOINTS.index(name)  # the same seed whatever --pages
                            figures = run_endpoint(clients, variants[name], sizes["warmup"],
                                                   sizes["requests"], index, server)
                            found["endpoints"][name] = figures
                    finally:
                        found["writer"] = writer.finish()
                    result["with_writers"][str(rate)] = found
                    seen = found["writer"]
                    say(f"{label}: with {rate} write(s)/s ({seen['rate_achieved']}/s achieved, "
                        f"{seen['writes']} writes, {seen['writes_checked']} checked; visible "
                        f"within max {seen['visible_max_s']} s): " + ", ".join(
                            f"{n} p95 {f['p95_ms']} ms {f['requests_per_second']} req/s"
                            for n, f in found["endpoints"].items()))
                result["sign_ins"] = clients.sign_ins
                result["sign_in_seconds"] = round(clients.sign_in_seconds, 1)
            finally:
                clients.close()
        result["seconds"] = round(time.perf_counter() - began, 1)
        return result


def targets(figures: dict[str, Any]) -> dict[str, bool]:
    found = {}
    for backend in ("postgres", "sqlite"):
        endpoints = figures.get(backend, {}).get("endpoints")
        if not endpoints:
            continue
        for name in ENDPOINTS:
            if name in endpoints:
                found[f"{backend}_{name}_p95_lt_{TARGET_P95_MS:.0f}ms"] = (
                    endpoints[name]["p95_ms"] < TARGET_P95_MS)
        for rate, found_then in figures[backend].get("with_writers", {}).items():
            limit = WRITER_TARGET_P95_MS.get(float(rate))
            for name, page in found_then["endpoints"].items():
                if limit is not None:
                    found[f"{backend}_{name}_p95_lt_{limit:.0f}ms_at_{rate}_writes_s"] = (
                        page["p95_ms"] < limit)
            seen = found_then["writer"]
            found[f"{backend}_visible_within_{VISIBLE_WITHIN_S:.0f}s_at_{rate}_writes_s"] = (
                bool(seen["visible_max_s"]) and not seen["not_visible_within_30s"]
                and max(seen["visible_max_s"].values()) <= VISIBLE_WITHIN_S)
    return found


def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "engine", "workflows", "web", "migrations")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_changes_in_app": None if changed is None else bool(changed)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="5,000 open + 20,000 closed, fewer requests (under a minute)")
    parser.add_argument("--postgres-url", default=os.environ.get("ADUAN_BENCH_POSTGRES_URL")
                        or os.environ.get("ADUAN_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL; a database is created and dropped there")
    parser.add_argument("--workers", type=int, default=gunicorn_conf.workers,
                        help="gunicorn worker processes (default: web/gunicorn_conf.py's, "
                             f"{gunicorn_conf.workers} here)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker (more than 1 needs --worker-class gthread)")
    parser.add_argument("--out", type=Path, help="also write the JSON figures to this file")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the databases (SQLite in DIR, PostgreSQL as "
                             "aduan_bench_web_kept_<digest of DIR>) and reuse them on the "
                             "next run with the same DIR, skipping the set-up (for "
                             "profiling; the data ages)")
    parser.add_argument("--connection", choices=("keep-alive", "close"), default="keep-alive",
                        help="clients keep their connection (default), or open one per "
                             "request as a reverse proxy does")
    parser.add_argument("--worker-class", choices=("sync", "gthread"),
                        default=gunicorn_conf.worker_class,
                        help="gunicorn's worker class (default: web/gunicorn_conf.py's)")
    parser.add_argument("--requests", type=int, metavar="N",
                        help="measured requests per endpoint (default 400, 40 with --quick)")
    parser.add_argument("--writers", default="", metavar="RATES",
                        help="also measure every page while one client writes this many "
                             "times a second, one run per rate (e.g. 0,1,5; 0 is the run "
                             "without a writer, always made)")
    parser.add_argument("--only", choices=("sqlite", "postgres"),
                        help="measure one database only")
    parser.add_argument("--pages", default=",".join(ENDPOINTS), metavar="NAMES",
                        help=f"the pages to measure, of {','.join(ENDPOINTS)} (default: all; "
                             "the writer's checker still polls every page a write concerns)")
    args = parser.parse_args(argv)
    pages = tuple(name.strip() for name in args.pages.split(",") if name.strip())
    if not pages or any(name not in ENDPOINTS for name in pages):
        parser.error(f"--pages takes names of {', '.join(ENDPOINTS)} separated by commas")
    if args.threads > 1 and args.worker_class == "sync":
        parser.error("--threads above 1 needs --worker-class gthread (gunicorn would switch)")
    try:
        writers = tuple(float(r) for r in args.writers.split(",") if r.strip())
    except ValueError:
        parser.error("--writers takes rates per second separated by commas, e.g. 0,1,5")
    sizes = dict(QUICK if args.quick else FULL)
    if args.requests:
        sizes["requests"] = args.requests
    began = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "web",
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/web.py", *(argv or sys.argv[1:])]),
        "machine": {
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__,
            "flask": _version("Flask"), "load_average_at_start": _load_average(),
            "note": "clients, server and database share these cores",
        },
        "code": _git_state(),
        "sizes": sizes,
        "clients": CLIENTS,
        "target_p95_ms": TARGET_P95_MS,
    }
    if args.quick:
        result["quick_note"] = (
            f"quick mode: {QUICK['open']:,} open + {QUICK['closed']:,} closed instead of "
            f"{FULL['open']:,} + {FULL['closed']:,}, {QUICK['requests']} requests per "
            "endpoint: its pass/fail does not speak for the target's size")
    status = 0
    with tempfile.TemporaryDirectory(prefix="aduan-webbench-") as tmp:
        folder = Path(tmp)
        if args.only != "postgres":
            result["sqlite"] = bench_backend(SqliteBackend(folder), sizes, folder / "sqlite",
                                             args.workers, args.threads, args.keep,
                                             args.connection == "keep-alive",
                                             args.worker_class, writers, pages)
        if args.only == "sqlite":
            result["postgres"] = {"skipped": "--only sqlite"}
        elif args.postgres_url:
            backend = PostgresBackend(args.postgres_url)
            backend.name = f"aduan_bench_web_{uuid.uuid4().hex[:12]}"
            try:
                result["postgres_server"] = backend.server_version()
                result["postgres"] = bench_backend(backend, sizes, folder / "postgres",
                                                   args.workers, args.threads, args.keep,
                                             args.connection == "keep-alive",
                                             args.worker_class, writers, pages)
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
    checks = targets(result)
    result["targets"] = checks
    result["all_targets_pass"] = bool(checks) and all(checks.values())
    for name, passed in checks.items():
        say(f"target {name}: {'PASS' if passed else 'FAIL'}")
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
