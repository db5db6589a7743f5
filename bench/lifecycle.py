"""The real complaint lifecycle through the use-case layer: filing, verifying, disposing,
answering and rating a report, as the web app's handlers call them (no HTTP).

Run from the repository root:

    python bench/lifecycle.py            # 40 lifecycles with 0 and 100,000 complaints stored
    python bench/lifecycle.py --quick    # 10 lifecycles with 0 and 5,000 stored (< 2 min)

Each lifecycle: `Reports.submit` (a roads report with a photo, as the web form sends it),
then `Reports.act` with `verify` and `dispose` (the regency administrator), `respond` (the
agency's liaison officer, a final answer) and `rate` (the complainant, with the report's
secret); the frozen clock moves an hour between steps. Measured per lifecycle: the wall and
the process's CPU time (the database server's own CPU on PostgreSQL is not in it) and each
step's time. Then ten more lifecycles run under cProfile to count the Python function calls
a lifecycle makes: a figure that does not move with the machine's load or speed, for
comparing two trees on a noisy machine; on SQLite, ten more count the instructions SQLite's
virtual machine runs for them (statements and triggers), the work inside the database, as
steady; on PostgreSQL, the server's time in the triggers' functions (`track_functions`),
which the client's CPU time does not include. Ten more, last, count the SQL statements and
transactions the database was sent (SQLAlchemy's cursor and begin events) and the
SAVEPOINT/RELEASE pairs, and list the statements most repeated, to show where rows are read
again and again: last, because their listeners would tax every statement after them
(`Counting`).

"Stored": the reports already in the database before measuring, written by bench/web.py's
set-up (the demo regency, 80 % closed rows by bulk SQL, 20 % open process instances cloned
from real ones).

PostgreSQL is measured when --postgres-url (or ADUAN_BENCH_POSTGRES_URL, or
ADUAN_TEST_POSTGRES_URL) names a server: a fresh database per size, dropped at the end.
SQLite always runs, on files in a temporary folder.

The LAST line is one JSON object with every figure and a pass/fail boolean per target
(BENCHMARKS.md, "Complaint lifecycle").
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:1] = [str(ROOT)]  # the repository, not bench/, first

from sqlalchemy import event  # noqa: E402

from bench.engine import PostgresBackend, SqliteBackend, _load_average, say  # noqa: E402
from engine import FrozenClock  # noqa: E402
from tests.regency import PHOTO, attach, build  # noqa: E402
from web.memory import set_aside_long_lived  # noqa: E402
from workflows import access  # noqa: E402
from workflows.storage import Upload  # noqa: E402

STEPS = ("submit", "verify", "dispose", "respond", "rate")
# Issue 17's targets: 3x the throughput measured at abb3190 (11 a CPU-second on SQLite,
# 7 on PostgreSQL), at most 80 statements in 12 transactions on PostgreSQL.
TARGET_PER_CPU_SECOND = {"sqlite": 33, "postgres": 21}
TARGET_STATEMENTS = 80
TARGET_TRANSACTIONS = 12
CALL_COUNTED = 10  # lifecycles run under cProfile to count Python function calls
VM_TICK = 100  # SQLite calls the progress handler every VM_TICK virtual machine instructions
_NUMBERS = re.compile(r"\b\d+\b")
_PARAMS = re.compile(r"(%\(\w+\)s(::[\w ]+?(?= |,|\)|$))?|\$\d+|\?)")


class Counting:
    """SQL statements and transactions (read or write: each BEGIN, implicit on PostgreSQL)
    on one engine, by kind; the shapes are worked out at the end (`shapes`).

    Its listeners stay on the engine once attached, and any connection listener makes
    SQLAlchemy dispatch its execution events around every statement (about 3,400 Python
    calls a lifecycle): `measure` attaches it last, for lifecycles of their own, so that
    neither the timed lifecycles nor the counted calls pay for the measuring. SQLite's
    BEGIN (engine/store.py: a writer's is sent by the dialect, not as a cursor's statement)
    is counted with its transaction, one statement each, whichever way it was sent."""

    def __init__(self, db: Any) -> None:
        self.statements = 0
        self.commits = 0
        self.savepoints = 0
        self.texts: list[str] = []
        self.sqlite = db.dialect.name == "sqlite"
        event.listen(db, "before_cursor_execute", self._statement)
        event.listen(db, "begin", self._commit)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.sqlite and statement.startswith("BEGIN"):
            return  # counted with its transaction (_commit)
        self.statements += 1
        self.texts.append(statement)
        if statement.startswith("SAVEPOINT"):
            self.savepoints += 1

    def _commit(self, conn: Any) -> None:
        self.commits += 1
        if self.sqlite:
            self.statements += 1
            self.texts.append("BEGIN")

    def snapshot(self) -> tuple[int, int, int]:
        return self.statements, self.commits, self.savepoints

    def shapes(self) -> Counter[str]:
        """The statements kept, by shape (numbers and parameters taken out)."""
        return Counter(_NUMBERS.sub("N", _PARAMS.sub("?", " ".join(text.split())))[:160]
                       for text in self.texts)


def lifecycle(regency: Any, principals: dict[str, Any], times: dict[str, list[float]]
              ) -> None:
    domain, clock = regency.domain, regency.clock
    payload = {"classification": "pengaduan", "category": "roads",
               "title": "Jalan berlubang di depan pasar",
               "body": "Lubang besar di Jalan Propinsi depan pasar, sudah dua motor jatuh.",
               "reporter_name": "Budi", "reporter_email": "budi@example.org",
               "latitude": -1.2538, "longitude": 116.8305, "kelurahan": "Nipah-Nipah",
               "kecamatan": "Penajam"}
    began = time.perf_counter()
    receipt = domain.reports.submit(payload, [Upload("lubang.jpg", PHOTO)], channel="web")
    times["submit"].append(time.perf_counter() - began)
    number, secret = receipt["tracking_number"], receipt["secret"]
    steps = (("verify", {}, principals["admin"]),
             ("dispose", {"agency_code": "dinas_pupr"}, principals["admin"]),
             ("respond", {"answer": "Sudah ditambal kemarin."}, principals["liaison"]),
             ("rate", {"rating": 5, "comment": "Terima kasih"},
              access.complainant(number)))
    for verb, body, who in steps:
        clock.advance(timedelta(hours=1))
        began = time.perf_counter()
        domain.reports.act(number, verb, body, who)
        times[verb].append(time.perf_counter() - began)
    assert secret


def measure(regency: Any, count: int, warmup: int) -> dict[str, Any]:
    tokens = regency.tokens
    accounts = regency.domain.accounts
    principals = {"admin": accounts.authenticate_token(tokens["admin.kominfo"]),
                  "liaison": accounts.authenticate_token(tokens["penghubung.pupr"])}
    scratch: dict[str, list[float]] = {step: [] for step in STEPS}
    for _ in range(warmup):
        lifecycle(regency, principals, scratch)
    # as a web worker (web/gunicorn_conf.py) or `aduan scheduler` does once warm: what the
    # process keeps for good is set aside from the garbage collector (web/memory.py)
    set_aside_long_lived()
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    walls, cpus = [], []
    for _ in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        lifecycle(regency, principals, times)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    cpu_total = sum(cpus)
    # Python function calls a lifecycle makes (cProfile, after the timed ones): unlike CPU
    # time it does not move with the machine's load, so two trees compare run after run.
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(CALL_COUNTED):
        lifecycle(regency, principals, scratch)
    profile.disable()
    calls = pstats.Stats(profile).total_calls / CALL_COUNTED
    instructions = sqlite_instructions(regency, principals, scratch)
    trigger_ms = postgres_trigger_ms(regency, principals, scratch)
    counting = Counting(regency.engine.store.db)  # last: see Counting
    statements, commits, savepoints = [], [], []
    for _ in range(CALL_COUNTED):
        before = counting.snapshot()
        lifecycle(regency, principals, scratch)
        after = counting.snapshot()
        statements.append(after[0] - before[0])
        commits.append(after[1] - before[1])
        savepoints.append(after[2] - before[2])
    return {
        "python_calls": round(calls),
        "sqlite_instructions": instructions,
        "postgres_trigger_ms": trigger_ms,
        "lifecycles": count,
        "wall_median_ms": round(statistics.median(walls) * 1000, 1),
        "cpu_median_ms": round(statistics.median(cpus) * 1000, 1),
        "per_cpu_second": round(count / cpu_total, 1),
        "per_wall_second": round(count / sum(walls), 1),
        "statements": round(statistics.median(statements)),
        "transactions": round(statistics.median(commits)),
        "savepoints": round(statistics.median(savepoints)),
        "step_median_ms": {step: round(statistics.median(values) * 1000, 2)
                           for step, values in times.items()},
        "most_repeated": [{"per_lifecycle": round(n / CALL_COUNTED, 1), "statement": shape}
                          for shape, n in counting.shapes().most_common(12)],
    }


def _on_new_connections(regency: Any, principals: dict[str, Any],
                        scratch: dict[str, list[float]], connected: Any,
                        each: Any = None) -> None:
    """CALL_COUNTED lifecycles on new connections, each set up by `connected` (a pool
    "connect" listener) first; the pool is emptied before and after. `each`, if given, is
    called after every lifecycle."""
    db = regency.engine.store.db
    event.listen(db, "connect", connected)
    db.dispose()
    try:
        for _ in range(CALL_COUNTED):
            lifecycle(regency, principals, scratch)
            if each is not None:
                each()
    finally:
        event.remove(db, "connect", connected)
        db.dispose()


def sqlite_instructions(regency: Any, principals: dict[str, Any],
                        scratch: dict[str, list[float]]) -> dict[str, int] | None:
    """SQLite's virtual machine instructions a lifecycle runs (its statements and their
    triggers; counted by a progress handler, to VM_TICK), over CALL_COUNTED lifecycles:
    the work inside SQLite, which like the calls does not move with the machine's load.
    The mean, and the median lifecycle's: the change logs' triggers prune their tables at
    every thousandth row (migration 0031), a few tens of thousands of instructions that
    land in one lifecycle or another as the rows' ids fall, and move the mean of ten by
    thousands between two trees that write a different number of log rows. None on
    PostgreSQL (its server's work is not in the process's CPU time)."""
    db = regency.engine.store.db
    if db.dialect.name != "sqlite":
        return None
    ticks = [0]
    each: list[int] = []

    def tick() -> int:
        ticks[0] += 1
        return 0  # go on

    def counted(connection: Any, record: Any) -> None:
        connection.set_progress_handler(tick, VM_TICK)

    def lifecycle_done() -> None:
        each.append(ticks[0] - sum(each))

    _on_new_connections(regency, principals, scratch, counted, lifecycle_done)
    return {"mean": ticks[0] * VM_TICK // CALL_COUNTED,
            "median": round(statistics.median(each) * VM_TICK)}


def _function_times(url: str, column: str = "self_time") -> dict[str, float]:
    """Self time (ms) per PL/pgSQL function so far (or another column of
    pg_stat_user_functions: `calls`), from PostgreSQL's statistics (flushed by the
    connections that ran them before they closed)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        return {name: float(value) for name, value in connection.execute(
            f"SELECT funcname, {column} FROM pg_stat_user_functions")}


def postgres_trigger_ms(regency: Any, principals: dict[str, Any],
                        scratch: dict[str, list[float]]) -> dict[str, float] | None:
    """The server's time in the triggers' functions per lifecycle (`track_functions`, over
    CALL_COUNTED lifecycles), in all and per function: the part of a write's cost that
    the client's CPU time does not show; and how many times they were called (`calls`, a
    figure the load does not move). None on SQLite."""
    db = regency.engine.store.db
    if db.dialect.name != "postgresql":
        return None

    def tracked(connection: Any, record: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET track_functions = 'pl'")
        connection.commit()

    url = db.url.render_as_string(hide_password=False)
    db.dispose()  # statistics are flushed when the connections close
    before, calls_before = _function_times(url), _function_times(url, "calls")
    _on_new_connections(regency, principals, scratch, tracked)
    time.sleep(0.5)  # a closing backend's statistics reach the shared counters
    after, calls_after = _function_times(url), _function_times(url, "calls")
    spent = {name: round((ms - before.get(name, 0.0)) / CALL_COUNTED, 3)
             for name, ms in after.items() if ms > before.get(name, 0.0)}
    calls = sum(n - calls_before.get(name, 0.0) for name, n in calls_after.items())
    return {"all": round(sum(spent.values()), 3), "calls": round(calls / CALL_COUNTED, 1),
            **dict(sorted(spent.items(), key=lambda item: -item[1]))}


def run(backend: Any, stored: int, count: int, warmup: int, folder: Path) -> dict[str, Any]:
    from bench.web import set_up

    with backend.database() as url:
        clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
        if stored:
            made = set_up(url, f"{backend.label}/{stored:,}",
                          {"open": stored // 5, "closed": stored - stored // 5}, folder)
            regency = attach(url, clock, folder, made["tokens"])
        else:
            regency = build(url, clock, folder)
        try:
            say(f"{backend.label}, {stored:,} stored: {count} lifecycles")
            figures = measure(regency, count, warmup)
        finally:
            regency.engine.dispose()
    say(f"    {figures['per_cpu_second']} a CPU-second, {figures['wall_median_ms']} ms wall, "
        f"{figures['python_calls']:,} Python calls, "
        f"{(figures['sqlite_instructions'] or {}).get('mean', 0):,} SQLite instructions "
        f"(median lifecycle {(figures['sqlite_instructions'] or {}).get('median', 0):,}), "
        f"{(figures['postgres_trigger_ms'] or {}).get('all', 0)} ms in PostgreSQL's triggers "
        f"({(figures['postgres_trigger_ms'] or {}).get('calls', 0)} calls), "
        f"{figures['statements']} statements in {figures['transactions']} transactions "
        f"({figures['savepoints']} savepoints); steps {figures['step_median_ms']}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "ADUAN_BENCH_POSTGRES_URL") or os.environ.get("ADUAN_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--lifecycles", type=int)
    args = parser.parse_args()
    count = args.lifecycles or (10 if args.quick else 40)
    sizes = (0, 5_000) if args.quick else (0, 100_000)
    folder = Path(tempfile.mkdtemp(prefix="aduan-lifecycle-"))
    labels: list[str] = []
    if args.only != "postgres":
        labels.append("sqlite")
    if args.postgres_url and args.only != "sqlite":
        labels.append("postgres")
    results: dict[str, Any] = {"load_average_before": _load_average(),
                               "quick": args.quick, "figures": {}, "targets": {}}
    try:
        _measure(args, labels, sizes, count, folder, results)
    finally:  # the SQLite files and uploads (about 46 MB a run)
        shutil.rmtree(folder, ignore_errors=True)
    results["load_average_after"] = _load_average()
    print(json.dumps(results))
    return 0


def _measure(args: argparse.Namespace, labels: list[str], sizes: tuple[int, ...], count: int,
             folder: Path, results: dict[str, Any]) -> None:
    for label in labels:
        for stored in sizes:
            place = folder / f"{label}-{stored}"
            place.mkdir()
            # A database of its own for each size: a new file, or a new PostgreSQL database.
            backend = SqliteBackend(place) if label == "sqlite" else \
                PostgresBackend(args.postgres_url)
            figures = run(backend, stored, count, 3, place)
            results["figures"][f"{backend.label}.{stored}"] = figures
            key = f"{backend.label}.{stored}"
            results["targets"][f"{key}.per_cpu_second"] = \
                figures["per_cpu_second"] >= TARGET_PER_CPU_SECOND[backend.label]
            if backend.label == "postgres":
                results["targets"][f"{key}.statements"] = \
                    figures["statements"] <= TARGET_STATEMENTS
                results["targets"][f"{key}.transactions"] = \
                    figures["transactions"] <= TARGET_TRANSACTIONS


if __name__ == "__main__":
    raise SystemExit(main())
