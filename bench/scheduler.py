"""Scheduler benchmark: real `aduan scheduler` processes firing timers on PostgreSQL.

Run from the repository root:

    python bench/scheduler.py            # 1,000,000 timer rows (a few minutes)
    python bench/scheduler.py --quick    # 200,000 timer rows and fewer due ones, within a minute

PostgreSQL only (the scheduler's multi-process sweep is a PostgreSQL feature): give a server
with --postgres-url, or ADUAN_BENCH_POSTGRES_URL, or ADUAN_TEST_POSTGRES_URL. A fresh database
`aduan_schedbench_<random>` is created there and dropped at the end; without a URL the
benchmark is skipped and says so in its JSON.

What is measured, each time with fresh `aduan scheduler` child processes (real, separate
processes with the product's own settings, started before the timers fall due):

1. memory, small: one process fires the due set among 10,000 waiting timers;
2. throughput, one process: the same number of due timers among 1,000,000 timer rows;
3. throughput, two processes: the next due set among the same rows;
4. lateness: timers fall due over a window at about half the one-process throughput; one
   process with the default poll interval fires them as they fall due.

Every due timer belongs to a real instance started by `engine.start`; the far-future waiting
rows beyond a few thousand real ones are bulk copies (as in bench/engine.py).

Real SLA timers (issue 17): the same database also holds real complaints of the deployed
lifecycle, one per stage walked through the use cases and cloned in SQL (bench/web.py's
build_templates, make_plan and clone, imported). Clones at a watched stage (verification,
disposition, postponement, the follow-ups) have their daily SLA watch brought due, in the
timer row and in the cycle's next instant inside the saved state, so firing one runs
`sla_watch`: the reminders and escalations due by then, with their notifications. Then:

5. in this process: a set fired through the engine's sweep with the domain's services, CPU
   and wall per firing, statements (by kind) and commits per firing; then a quarter more
   under cProfile, for the Python function calls a firing makes: like the statements, a
   figure that does not move with the machine's load (the cProfile is kept with --profile);
6. one `aduan scheduler` works off a backlog of real watches: wall time per firing;
7. real watches fall due at 200 a second over a window: lateness to commit, one process;
8. the same again fired by two processes (`scale_out` in the JSON, apart from the targets:
   the issue's lateness target is one process's).

What is waiting meanwhile: the timer table holds `large_timer_rows` rows (1,000,000; 200,000
with --quick), almost all of them copies of the toy process's waiting timer and the real
clones' parked watches; the sweep reads only that table (its due-time index), so they weigh
on it as waiting complaints' watches would. The waiting complaints themselves are only the
clones (REAL_FULL's, REAL_QUICK's `clones`).

In process the firings alternate ways of firing (--ways, instances per transaction: 1 and 8
by default), each way's CPU, wall, statements and commits per firing reported apart; the
`aduan scheduler` children fire as the product's defaults do (ADUAN_TIMER_PER_TRANSACTION 1,
ADUAN_TIMER_THREADS 2), or as --per-transaction N and --threads N say. In process the firings
run one at a time (the cost of one firing); a child's backlog rate is what one process fires a
second with its firing threads.

--real-only runs only these, --toy-only only the toy process. A deferred
trigger on `instance_event` (in the benchmark's own database) records each firing's commit
time with `clock_timestamp()`; each scheduler runs on an offset clock
(ADUAN_CLOCK_OFFSET_SECONDS) so its due set falls due a few seconds after it has started.
Peak memory is the child's VmHWM, read just before it is stopped (not its ru_maxrss, which on
Linux also counts the image it inherited from this process before exec).

Human-readable progress goes to stdout; the LAST line is one JSON object with every figure
and a pass/fail boolean per target (see BENCHMARKS.md).

One file on purpose, though long: a benchmark is read, run and changed as a whole, and
nothing outside bench/ imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# `python bench/scheduler.py` puts bench/ first on sys.path, where bench/engine.py would
# shadow the engine package: the repository root takes its place.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from bench.engine import (  # noqa: E402
    TIMER,
    TIMER_ID,
    PostgresBackend,
    _copy_waiting,
    _driver_url,
    _load_average,
    _version,
    percentile,
    say,
)
from engine import Engine, FrozenClock, SourceFile  # noqa: E402

TARGET_LATENESS_P99_SECONDS = 2.0
TARGET_MEMORY_RATIO = 1.10  # peak RSS among 1,000,000 within 10 % of that among 10,000 ...
TARGET_MEMORY_DELTA_MB = 5.0  # ... or within 5 MB of it
LATENESS_LOAD = 0.5  # the due rate, as a share of the measured one-process throughput
THROUGHPUT_POLL_SECONDS = 0.25  # both processes notice their due set within 0.25 s
DEFAULT_POLL_SECONDS = 1.0  # the product's default (ADUAN_TIMER_POLL_SECONDS)
BATCH = 100  # the product's default (ADUAN_TIMER_BATCH)
GC_LOG = "BENCH_GC_LOG"  # --gc-log: the children's garbage collections (bench/gcwatch)
ROUND = 48  # in-process firings per round, alternating the ways of WAYS (divisible by each)
WAYS = (1, 8)  # instances per transaction compared in process (--ways)
PHASE_GAP = timedelta(days=1)  # between the due sets, so only one set is ever due
WAITING_AFTER = timedelta(days=30)  # the waiting timers, after every due set

FULL = {"large_timer_rows": 1_000_000, "small_waiting": 10_000, "due": 10_000,
        "real_waiting": 2_000, "lateness_window_seconds": 60, "startup_margin_seconds": 6.0}
QUICK = {"large_timer_rows": 200_000, "small_waiting": 10_000, "due": 1_000,
         "real_waiting": 200, "lateness_window_seconds": 6, "startup_margin_seconds": 4.0}

# The commit time of each firing, recorded in the benchmark's database only. A deferred
# constraint trigger runs at COMMIT, after every statement of the firing transaction.
TRIGGER_SQL = [
    "CREATE TABLE bench_due (instance_id bigint PRIMARY KEY, phase text NOT NULL, "
    "due_at timestamptz NOT NULL)",
    "CREATE INDEX ix_bench_due_phase ON bench_due (phase)",
    "CREATE TABLE bench_fired (instance_id bigint NOT NULL, at timestamptz NOT NULL, "
    "committed timestamptz NOT NULL, xact bigint NOT NULL)",
    "CREATE FUNCTION bench_record_fired() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO bench_fired VALUES (NEW.instance_id, NEW.at, clock_timestamp(), "
    "txid_current()); "
    "RETURN NULL; END $$",
    "CREATE CONSTRAINT TRIGGER bench_fired AFTER INSERT ON instance_event "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.action = 'timer_fired') "
    "EXECUTE FUNCTION bench_record_fired()",
]


# --------------------------------------------------------------------------- measuring


def _proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a live process, in MB."""
    found: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return found


def _proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _busy_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return round((after[0] - before[0]) / total, 2) if total else None


def mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def seconds(value: float) -> float:
    return round(value, 4)


# --------------------------------------------------------------------------- processes


def _scheduler_command() -> list[str]:
    script = Path(sys.executable).parent / "aduan"
    if script.exists():
        return [str(script), "scheduler"]
    return [sys.executable, "-m", "web.cli", "scheduler"]


class SchedulerProcess:
    """One `aduan scheduler` child on an offset clock, its log in a file."""

    def __init__(self, url: str, offset: float, poll: float, folder: Path, name: str,
                 settings: dict[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADUAN_")}
        # The code of this tree, not the editable install's (a worktree, a `git archive`);
        # with --gc-log, bench/gcwatch counts the child's garbage collections.
        settings = dict(settings or {})  # else the product's defaults
        watch = [str(HERE / "gcwatch")] if settings.pop(GC_LOG, None) else []
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), *watch, *filter(None, [os.environ.get("PYTHONPATH")])])
        if watch:
            env[GC_LOG] = str(folder / "gc")
        env.update(settings)
        env.update({
            "ADUAN_DATABASE_URL": url,
            "ADUAN_ALLOW_TIME_TRAVEL": "1",
            "ADUAN_CLOCK_OFFSET_SECONDS": repr(offset),
            "ADUAN_TIMER_POLL_SECONDS": str(poll),
            "ADUAN_TIMER_BATCH": str(BATCH),
            "ADUAN_UPLOAD_DIR": str(folder / "uploads"),
        })
        self.log = folder / f"{name}.log"
        self.launched = time.time()
        with open(self.log, "w") as log:  # the child keeps its own handle
            self.popen = subprocess.Popen(_scheduler_command(), env=env, cwd=ROOT,
                                          stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.popen.pid
        self.ready_after: float | None = None
        self.rss_at_ready: float | None = None
        self.peak_rss: float | None = None
        self.max_rss_sampled = 0.0
        self.exit_code: int | None = None

    def sample(self) -> None:
        rss = _proc_status(self.pid).get("VmRSS")
        if rss:
            self.max_rss_sampled = max(self.max_rss_sampled, rss)

    def stop(self, timeout: float = 60.0) -> None:
        """Read the peak (VmHWM) first, then SIGTERM (SIGKILL if it does not exit)."""
        if self.exit_code is not None:
            return
        self.peak_rss = _proc_status(self.pid).get("VmHWM", self.peak_rss)
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(30)
        self.exit_code = self.popen.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --------------------------------------------------------------------------- database


@dataclass
class Bench:
    """The benchmark database, an engine to start real instances, a plain connection pool."""

    url: str
    folder: Path
    sizes: dict[str, Any]
    # Settings of the `aduan scheduler` children (ADUAN_TIMER_PER_TRANSACTION,
    # ADUAN_TIMER_THREADS; those not given: the product's defaults) and the ways compared in
    # process (instances per transaction)
    scheduler_env: dict[str, str] = field(default_factory=dict)
    ways: tuple[int, ...] = WAYS
    engine: Engine = field(init=False)
    db: Any = field(init=False)

    def __post_init__(self) -> None:
        self.engine = Engine(self.url, clock=FrozenClock(datetime.now(UTC)))
        self.db = create_engine(_driver_url(self.url))

    def close(self) -> None:
        self.engine.dispose()
        self.db.dispose()

    def execute(self, sql: str, **params: Any) -> Any:
        with self.db.begin() as connection:
            return connection.execute(text(sql), params)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.db.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def set_up(self) -> None:
        for statement in TRIGGER_SQL:
            self.execute(statement)
        self.engine.deploy([SourceFile(f"{TIMER_ID}.bpmn", TIMER)])
        # What every `aduan scheduler` does first (a no-op once deployed): done here once, so
        # no measured process pays for the first deployment of the complaint lifecycle.
        from web.app import build_domain
        from web.config import Settings

        settings = Settings(database_url=self.url, upload_dir=str(self.folder / "uploads"))
        build_domain(settings, self.engine).install_diagrams(actor="bench")

    def timer_rows(self) -> int:
        return int(self.scalar("SELECT count(*) FROM timer"))

    def start_set(self, phase: str, due: list[datetime]) -> float:
        """Real instances waiting on the given due times; returns ms per engine.start."""
        before = self.scalar("SELECT coalesce(max(id), 0) FROM process_instance")
        began = time.perf_counter()
        for instant in due:
            summary = self.engine.start(TIMER_ID, {"deadline": instant.isoformat()})
            if summary.status != "running":
                raise SystemExit(f"timer instance {summary.id} is {summary.status}, "
                                 "not waiting")
        elapsed = time.perf_counter() - began
        self.execute("INSERT INTO bench_due (instance_id, phase, due_at) "
                     "SELECT t.instance_id, :phase, t.due_at FROM timer t "
                     "WHERE t.instance_id > :before", phase=phase, before=before)
        made = self.scalar("SELECT count(*) FROM bench_due WHERE phase = :p", p=phase)
        if made != len(due):
            raise SystemExit(f"{phase}: {made} timer rows for {len(due)} instances")
        return round(elapsed / max(len(due), 1) * 1000, 3)

    def grow_waiting(self, total_rows: int) -> dict[str, Any]:
        """Bulk-copy a real waiting instance until `total_rows` timer rows exist."""
        missing = total_rows - self.timer_rows()
        if missing <= 0:
            return {"copied": 0}
        template = self.scalar("SELECT max(d.instance_id) FROM bench_due d "
                               "WHERE d.phase = 'waiting'")
        first_due = self.scalar("SELECT max(due_at) FROM bench_due") + timedelta(days=1)
        began = time.perf_counter()
        _copy_waiting(self.engine, int(template), missing, first_due)
        copied = time.perf_counter() - began
        began = time.perf_counter()
        # As a long-lived table would be: visibility map set, statistics current, and no
        # autovacuum of a million fresh rows starting in the middle of a measurement.
        with self.db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE process_instance"))
            connection.execute(text("VACUUM ANALYZE timer"))
        return {"copied": missing, "copy_seconds": round(copied, 1),
                "vacuum_analyze_seconds": round(time.perf_counter() - began, 1)}

    def due_range(self, phase: str) -> tuple[datetime, datetime]:
        with self.db.connect() as connection:
            low, high = connection.execute(text(
                "SELECT min(due_at), max(due_at) FROM bench_due WHERE phase = :p"),
                {"p": phase}).one()
        return low, high

    def remaining(self, low: datetime, high: datetime) -> int:
        """Timer rows of a set not fired yet: a cheap range count on ix_timer_due_at. A row
        disappears in the very transaction that fires it, so gone means committed."""
        return int(self.scalar("SELECT count(*) FROM timer WHERE due_at BETWEEN :low AND :high",
                               low=low, high=high))

    def fired(self, phase: str) -> int:
        return int(self.scalar("SELECT count(*) FROM bench_fired f JOIN bench_due d "
                               "USING (instance_id) WHERE d.phase = :p", p=phase))

    def firings(self, phase: str) -> list[tuple[datetime, datetime, datetime]]:
        """(due_at, event at, commit time) of every firing of the phase's timers."""
        with self.db.connect() as connection:
            return [tuple(r) for r in connection.execute(text(
                "SELECT d.due_at, f.at, f.committed FROM bench_fired f JOIN bench_due d "
                "USING (instance_id) WHERE d.phase = :p ORDER BY f.committed"), {"p": phase})]

    def transactions(self, phase: str) -> int:
        """The transactions that fired the phase's timers (several firings may share one)."""
        return int(self.scalar("SELECT count(DISTINCT f.xact) FROM bench_fired f JOIN bench_due "
                               "d USING (instance_id) WHERE d.phase = :p", p=phase))

    def backend_cpu(self) -> dict[int, float]:
        """CPU seconds of every server process connected to this database so far."""
        with self.db.connect() as connection:
            pids = [int(r[0]) for r in connection.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))]
        found = {pid: _proc_cpu_seconds(pid) for pid in pids}
        return {pid: cpu for pid, cpu in found.items() if cpu is not None}

    def ready_pids(self) -> set[int]:
        with self.db.connect() as connection:
            return {int(r[0]) for r in connection.execute(text(
                "SELECT pid FROM scheduler_heartbeat"))}


# --------------------------------------------------------------------------- phases


@dataclass
class Phase:
    name: str
    due_at: datetime  # when the set falls due (its first timer, for the lateness set)
    count: int
    processes: int
    poll: float
    window: float = 0.0  # lateness: the due times spread over this many seconds


def run_phase(bench: Bench, phase: Phase, margin: float) -> dict[str, Any]:
    """Start the processes, let the set fall due `margin` s later, wait until all fired."""
    began = time.perf_counter()
    rows = bench.timer_rows()
    bench.execute("DELETE FROM scheduler_heartbeat")  # earlier phases' processes are gone
    offset = (phase.due_at - datetime.now(UTC)).total_seconds() - margin
    procs: list[SchedulerProcess] = []
    cpu_window: dict[str, Any] = {}
    complete = False
    try:
        procs = [SchedulerProcess(bench.url, offset, phase.poll, bench.folder,
                                  f"{phase.name}_{i}", bench.scheduler_env)
                 for i in range(phase.processes)]
        # Ready: its first heartbeat row is written just before its jobs start.
        deadline = time.monotonic() + margin + 60
        while any(p.ready_after is None for p in procs) and time.monotonic() < deadline:
            ready = bench.ready_pids()
            for proc in procs:
                if proc.ready_after is None and proc.pid in ready:
                    proc.ready_after = time.time() - proc.launched
                    proc.rss_at_ready = _proc_status(proc.pid).get("VmRSS")
                if proc.popen.poll() is not None:
                    raise SystemExit(f"scheduler {proc.pid} exited: {proc.log_tail()}")
            time.sleep(0.1)
        if any(p.ready_after is None for p in procs):
            raise SystemExit(f"{phase.name}: a scheduler did not start: {procs[0].log_tail()}")
        # Then wait for every timer of the set to fire (or give up after a generous time).
        # The CPU window opens at the first firing seen, and counts the firings after it.
        low, high = bench.due_range(phase.name)
        patience = margin + phase.window + 3 * phase.count / 50 + 60
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            for proc in procs:
                proc.sample()
                if proc.popen.poll() is not None:
                    raise SystemExit(f"scheduler {proc.pid} exited: {proc.log_tail()}")
            fired = phase.count - bench.remaining(low, high)
            if fired and "machine" not in cpu_window:
                cpu_window["machine"] = _machine_cpu()
                cpu_window["procs"] = [_proc_cpu_seconds(p.pid) for p in procs]
                cpu_window["backends"] = bench.backend_cpu()
                cpu_window["at"] = time.perf_counter()
                cpu_window["self"] = time.process_time()
                cpu_window["fired_before"] = fired
                if GC_LOG in bench.scheduler_env:  # count collections from here (gcwatch)
                    for proc in procs:
                        proc.popen.send_signal(signal.SIGUSR1)
            if fired >= phase.count:
                complete = True
                break
            time.sleep(0.1)
        if "machine" in cpu_window:
            cpu_window["fired"] = phase.count - bench.remaining(low, high) - cpu_window[
                "fired_before"]
            cpu_window["machine_busy_share"] = _busy_share(cpu_window["machine"],
                                                           _machine_cpu())
            cpu_window["proc_seconds"] = [
                round(after - before, 2) if after is not None and before is not None else None
                for before, after in zip(cpu_window["procs"],
                                         [_proc_cpu_seconds(p.pid) for p in procs],
                                         strict=True)]
            cpu_window["wall"] = time.perf_counter() - cpu_window["at"]
            cpu_window["self_seconds"] = time.process_time() - cpu_window["self"]
            before = cpu_window["backends"]
            cpu_window["backend_seconds"] = sum(
                cpu - before.get(pid, 0.0) for pid, cpu in bench.backend_cpu().items())
    finally:
        for proc in procs:
            proc.stop()
    figures = phase_figures(bench, phase, procs, rows, offset, margin, complete, cpu_window)
    figures["phase_seconds"] = round(time.perf_counter() - began, 1)
    return figures


def phase_figures(bench: Bench, phase: Phase, procs: list[SchedulerProcess], rows: int,
                  offset: float, margin: float, complete: bool, cpu: dict[str, Any]
                  ) -> dict[str, Any]:
    firings = bench.firings(phase.name)
    shift = timedelta(seconds=offset)  # real time -> the schedulers' clock
    figures: dict[str, Any] = {
        "processes": phase.processes,
        "poll_seconds": phase.poll,
        "batch": BATCH,
        "timer_rows": rows,
        "due": phase.count,
        "waiting": rows - phase.count,
        "fired": len(firings),
        "firing_transactions": bench.transactions(phase.name),
        "complete": complete and len(firings) == phase.count,
        "startup_seconds": [seconds(p.ready_after or 0) for p in procs],
        # Each process was up (heartbeat written) before its clock reached the due time.
        "started_before_due": all((p.ready_after or margin + 1) < margin for p in procs),
        "startup_margin_seconds": round(margin, 2),
        "rss_mb_at_ready": [mb(p.rss_at_ready) for p in procs],
        "rss_mb_max_sampled": [mb(p.max_rss_sampled) for p in procs],
        "peak_rss_mb_vmhwm": [mb(p.peak_rss) for p in procs],
        "exit_codes": [p.exit_code for p in procs],
    }
    if len(firings) >= 2:
        first, last = firings[0][2], firings[-1][2]
        span = (last - first).total_seconds()
        figures["first_to_last_commit_seconds"] = seconds(span)
        figures["timers_per_second"] = round((len(firings) - 1) / span, 1) if span else None
        figures["due_to_first_commit_seconds"] = seconds(
            (first + shift - min(f[0] for f in firings)).total_seconds())
        figures["due_to_last_commit_seconds"] = seconds(
            (last + shift - max(f[0] for f in firings)).total_seconds())
    if cpu.get("proc_seconds") and cpu.get("fired"):
        wall, counted = cpu["wall"], cpu["fired"]
        figures["cpu_window"] = {"seconds": seconds(wall), "timers_fired": counted}
        figures["scheduler_cpu_seconds"] = cpu["proc_seconds"]
        figures["scheduler_cpu_share"] = [round(s / wall, 2) if s is not None else None
                                          for s in cpu["proc_seconds"]]
        figures["machine_cpu_busy_share"] = cpu["machine_busy_share"]
        figures["scheduler_cpu_ms_per_timer"] = round(
            sum(s or 0 for s in cpu["proc_seconds"]) / counted * 1000, 3)
        # The server processes of this database (the schedulers' connections, and this
        # benchmark's polling: ten cheap index range counts per second).
        figures["postgres_backend_cpu_ms_per_timer"] = round(
            cpu["backend_seconds"] / counted * 1000, 3)
        # What other work on the machine took meanwhile: all CPU in use, less the
        # schedulers, their server processes and this benchmark (near 0 on an idle machine).
        ours = sum(s or 0 for s in cpu["proc_seconds"]) + cpu["backend_seconds"] + cpu[
            "self_seconds"]
        if cpu["machine_busy_share"] is not None:
            figures["other_work_cpu_share"] = round(
                cpu["machine_busy_share"] - ours / (wall * (os.cpu_count() or 1)), 2)
    collections = [_collections(bench.folder / "gc" / f"gc-{p.pid}.json", cpu.get("fired"))
                   for p in procs]
    if any(collections):
        figures["garbage_collection"] = collections
    if phase.window and firings:
        late = [(committed + shift - due).total_seconds() for due, _at, committed in firings]
        by_at = [(at - due).total_seconds() for due, at, _committed in firings]
        figures["window_seconds"] = phase.window
        figures["due_rate_per_second"] = round(phase.count / phase.window, 1)
        figures["lateness_to_commit_seconds"] = _distribution(late)
        # The event's `at` is the sweep's `now`, taken when its batch was claimed.
        figures["lateness_to_event_at_seconds"] = _distribution(by_at)
    return figures


def _collections(path: Path, fired: int | None) -> dict[str, Any] | None:
    """A child's garbage collections by generation (bench/gcwatch, --gc-log) from the
    phase's first firing on (the CPU window's), and their time a firing of that window."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if fired:
        found["ms_per_timer"] = round(sum(found["ms"]) / fired, 3)
    return found


def _distribution(values: list[float]) -> dict[str, float]:
    return {"median": seconds(statistics.median(values)), "p95": seconds(percentile(values, 95)),
            "p99": seconds(percentile(values, 99)), "max": seconds(max(values)),
            "min": seconds(min(values))}


def _report(name: str, figures: dict[str, Any]) -> None:
    rate = figures.get("timers_per_second")
    say(f"    {name}: {figures['fired']}/{figures['due']} fired among {figures['timer_rows']:,} "
        f"rows by {figures['processes']} process(es), "
        f"{rate if rate is not None else '-'} timers/s in "
        f"{figures['firing_transactions']} transactions; peak RSS "
        f"{figures['peak_rss_mb_vmhwm']} MB; startup {figures['startup_seconds']} s")
    if "lateness_to_commit_seconds" in figures:
        late = figures["lateness_to_commit_seconds"]
        say(f"    lateness to commit: median {late['median']:.3f} s, p99 {late['p99']:.3f} s, "
            f"max {late['max']:.3f} s at {figures['due_rate_per_second']} due/s")
    for found in filter(None, figures.get("garbage_collection", [])):
        say(f"    garbage collections young/middle/full {found['collections']}, ms "
            f"{found['ms']}, {found.get('ms_per_timer')} ms a firing")


# --------------------------------------------------------------------------- real SLA timers

# The lifecycle's stages whose open task carries an SLA watch (a non-interrupting daily
# timeCycle boundary running `sla_watch`: reminders and escalations): verification,
# disposition and the follow-ups (bench/web.py's STAGES).
WATCHED_STAGES = ("verification", "disposition", "postponed", "follow_up", "unit_follow_up",
                  "in_progress")
REAL_FULL = {"clones": 18_000, "backlog": 3_000, "due_rate": 200, "window_seconds": 30,
             "in_process": 400}
REAL_QUICK = {"clones": 4_000, "backlog": 600, "due_rate": 200, "window_seconds": 6,
              "in_process": 150}
TARGET_REAL_FIRING_MS = 4.0  # wall time per firing of one process working off a backlog
TARGET_REAL_LATENESS_P99_SECONDS = 1.0  # at REAL_FULL's 200 due/s, one process
# The scale-out figure (not the target, which is one process's): the same due rate
# fired by two `aduan scheduler` processes sharing the sweep (claims with SKIP LOCKED).
SCALE_OUT_PROCESSES = 2
# The lifecycle's timer rows not in a measured set move this far ahead, out of every phase.
REAL_PARKED = timedelta(days=90)


def real_set_up(bench: Bench, real: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Real complaints at every stage (bench/web.py: one per stage through the use cases,
    then cloned in SQL); their timer rows are parked far ahead, for real_due_set to bring
    chosen ones due. Returns what was made, with the clones eligible for a due set."""
    from bench import web as webbench
    from tests.regency import build

    began = time.perf_counter()
    clock = FrozenClock(now - timedelta(hours=12))
    regency = build(bench.url, clock, bench.folder)  # the lifecycle, the demo regency
    try:
        templates = webbench.build_templates(regency, clock)
        with regency.engine.store.db.connect() as db:
            webbench.describe_templates(db, templates)
            agencies = {code: (int(i), name) for i, code, name in db.execute(text(
                "SELECT id, code, name FROM agency"))}
    finally:
        regency.engine.dispose()
    # Each watched template's waiting cycle, as its saved state spells the next instant.
    cycles: dict[int, str] = {}
    for t in templates:
        if t.stage not in WATCHED_STAGES:
            continue
        with bench.db.connect() as db:
            due, state = db.execute(text(
                "SELECT t.due_at, p.state FROM timer t JOIN process_instance p "
                "ON p.id = t.instance_id WHERE t.instance_id = :i AND t.kind = 'cycle'"),
                {"i": t.instance_id}).one()
        instant = due.astimezone(UTC).isoformat()
        spelled = next((s for s in (f'"next": "{instant}"', f'"next":"{instant}"')
                        if s in state), None)  # as json or as orjson writes it
        if spelled is None:
            raise SystemExit(f"template {t.stage}: next {instant} not in its saved state")
        cycles[t.instance_id] = spelled
    base = int(bench.scalar("SELECT max(id) FROM process_instance"))
    prefix = templates[0].tracking.rsplit("-", 1)[0] + "-"
    plan = webbench.make_plan(templates, real["clones"] - len(templates), len(templates), now,
                              agencies)
    cloned = webbench.clone(bench.url, templates, plan, now, prefix)
    # A clone's timer row is moved in time, its saved state is the template's: park every
    # lifecycle timer so that none falls due unless a due set rewrites both.
    bench.execute("UPDATE timer SET due_at = due_at + :ahead WHERE instance_id IN "
                  "(SELECT id FROM process_instance WHERE process_id <> :toy)",
                  ahead=REAL_PARKED, toy=TIMER_ID)
    eligible = [(base + row["n"], cycles[row["template"]]) for row in plan
                if row["template"] in cycles]
    random.Random(20261206).shuffle(eligible)
    return {"templates": [t.stage for t in templates], "clones": len(plan),
            "watched_clones": len(eligible), "clone_seconds": cloned.get("clone_seconds"),
            "set_up_seconds": round(time.perf_counter() - began, 1), "eligible": eligible}


def real_due_set(bench: Bench, phase: str, chosen: list[tuple[int, str]],
                 due: list[datetime]) -> None:
    """Bring the chosen clones' watch due at the given instants: the timer row and the cycle's
    next instant inside the saved state, both (the sweep fires what the state says is due)."""
    rows = [{"i": instance_id, "old": spelled, "due": instant,
             "new": spelled.rsplit('"', 2)[0] + f'"{instant.astimezone(UTC).isoformat()}"'}
            for (instance_id, spelled), instant in zip(chosen, due, strict=True)]
    with bench.db.begin() as db:
        db.execute(text("CREATE TEMPORARY TABLE bench_real_due (i bigint PRIMARY KEY, "
                        "old text, due timestamptz, new text) ON COMMIT DROP"))
        db.execute(text("INSERT INTO bench_real_due VALUES (:i, :old, :due, :new)"), rows)
        db.execute(text("UPDATE process_instance p SET state = replace(p.state, d.old, d.new) "
                        "FROM bench_real_due d WHERE p.id = d.i"))
        db.execute(text("UPDATE timer t SET due_at = d.due FROM bench_real_due d "
                        "WHERE t.instance_id = d.i AND t.kind = 'cycle'"))
        db.execute(text("INSERT INTO bench_due (instance_id, phase, due_at) "
                        "SELECT i, :phase, due FROM bench_real_due"), {"phase": phase})
    made = bench.scalar("SELECT count(*) FROM timer t JOIN bench_due d USING (instance_id) "
                        "WHERE d.phase = :p AND t.due_at = d.due_at", p=phase)
    if made != len(rows):
        raise SystemExit(f"{phase}: {made} timer rows due for {len(rows)} clones")


def park_fired(bench: Bench, phase: str) -> None:
    """Park a real phase's watches again: each firing re-armed its daily cycle a day later,
    which would fall due in the next phase (a day on) and be fired with its set."""
    bench.execute("UPDATE timer SET due_at = due_at + :ahead WHERE instance_id IN "
                  "(SELECT instance_id FROM bench_due WHERE phase = :phase)",
                  ahead=REAL_PARKED, phase=phase)


def _domain_outputs(bench: Bench) -> dict[str, int]:
    """Rows a watch writes: escalations, notifications (outbox), report events."""
    return {table: int(bench.scalar(f"SELECT count(*) FROM {table}"))
            for table in ("escalation", "outbox", "complaint_event")}


def _outputs_per_firing(before: dict[str, int], after: dict[str, int], fired: int
                        ) -> dict[str, float]:
    return {f"{table}_per_firing": round((after[table] - before[table]) / max(fired, 1), 3)
            for table in before}


_VERB = re.compile(r"\s*(\w+)")
_TABLE = {"INSERT": re.compile(r"INSERT\s+INTO\s+(\w+)", re.I),
          "UPDATE": re.compile(r"UPDATE\s+(\w+)", re.I),
          "DELETE": re.compile(r"DELETE\s+FROM\s+(\w+)", re.I),
          "SELECT": re.compile(r"\bFROM\s+(\w+)", re.I),
          "WITH": re.compile(r"WITH\s+(\w+)", re.I)}
_INNERMOST = re.compile(r"\([^()]*\)")


def statement_kind(statement: str) -> str:
    """A statement's verb and the table it is about: "SELECT complaint", "INSERT outbox",
    "WITH saved" (the engine's merged save), "SAVEPOINT"."""
    found = _VERB.match(statement)
    verb = found.group(1).upper() if found else "?"
    table = _TABLE.get(verb)
    if verb == "SELECT":  # its own FROM, not a subquery's among its columns
        while _INNERMOST.search(statement):
            statement = _INNERMOST.sub("", statement)
    named = table.search(statement) if table else None
    return f"{verb} {named.group(1)}" if named else verb


def real_in_process(bench: Bench, due_at: datetime, count: int,
                    profile: Path | None) -> dict[str, Any]:
    """Fire `count` real watches in this process, as `aduan scheduler` does (the engine's
    sweep, in batches of BATCH, with the domain's services), on a clock just past their due
    time: CPU and wall per firing, statements (by kind) and commits per firing, the most
    repeated statements; then the last quarter fired under cProfile (not in the timed
    figures): the Python function calls per firing, its profile kept in `profile`."""
    import cProfile
    import pstats

    from sqlalchemy import event

    from web.app import build_domain
    from web.config import Settings
    from web.memory import set_aside_long_lived

    engine = Engine(bench.url, clock=FrozenClock(due_at + timedelta(seconds=1)))
    domain = build_domain(Settings(database_url=bench.url,
                                   upload_dir=str(bench.folder / "uploads")), engine)
    texts: list[str] = []  # every statement, sorted out after the timed firings
    counts = {"statements": 0, "commits": 0}

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counts["statements"] += 1
        texts.append(statement)

    def on_commit(_conn: Any) -> None:
        counts["commits"] += 1

    warm = min(20, count // 5)
    profiled = count // 4  # the last quarter, under cProfile, apart from the measured ones
    core = domain.operations.ctx.engine  # what Operations.fire_due_timers sweeps with
    try:
        core.fire_due_timers(limit=warm)  # connections, caches, the deployed definition
        set_aside_long_lived()  # as `aduan scheduler` does at its start (web/scheduler.py)
        event.listen(engine.store.db, "before_cursor_execute", on_statement)
        event.listen(engine.store.db, "commit", on_commit)
        before = _domain_outputs(bench)
        measured = count - warm - profiled
        fired = failed = 0
        # In alternation, rounds of ROUND firings of each way (instances per transaction,
        # bench.ways): the ways in the same minutes.
        sweep = core.timer_sweep
        default = sweep.per_transaction
        ways = {way: [0.0, 0.0, 0, 0, 0] for way in bench.ways}
        cpu, wall = time.process_time(), time.perf_counter()
        while fired + failed < measured:
            for way, sums in ways.items():
                sweep.per_transaction = way
                before_counts = dict(counts)
                began_cpu, began = time.process_time(), time.perf_counter()
                report = core.fire_due_timers(
                    limit=min(ROUND, max(measured - fired - failed, 0)) or 1)
                sums[0] += time.process_time() - began_cpu
                sums[1] += time.perf_counter() - began
                sums[2] += len(report.fired)
                sums[3] += counts["statements"] - before_counts["statements"]
                sums[4] += counts["commits"] - before_counts["commits"]
                fired, failed = fired + len(report.fired), failed + len(report.failed)
            if all(sums[2] == 0 for sums in ways.values()) or not report.fired:
                break
        sweep.per_transaction = default
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        by_way = {str(way): {
            "fired": sums[2],
            "cpu_ms_per_firing": round(sums[0] / max(sums[2], 1) * 1000, 3),
            "wall_ms_per_firing": round(sums[1] / max(sums[2], 1) * 1000, 3),
            "statements_per_firing": round(sums[3] / max(sums[2], 1), 2),
            "commits_per_firing": round(sums[4] / max(sums[2], 1), 2)}
            for way, sums in ways.items()}
        event.remove(engine.store.db, "before_cursor_execute", on_statement)
        event.remove(engine.store.db, "commit", on_commit)
        outputs = _outputs_per_firing(before, _domain_outputs(bench), fired)
        profiler = cProfile.Profile()
        profiler.enable()
        reports = domain.operations.fire_due_timers(BATCH)  # the rest, profiled
        profiler.disable()
        if profile:
            profiler.dump_stats(str(profile))
        profiled = sum(len(r.fired) for r in reports)
        calls = pstats.Stats(profiler).total_calls / max(profiled, 1)
        failed += sum(len(r.failed) for r in reports)
    finally:
        engine.dispose()
    per = max(fired, 1)
    seen = Counter(" ".join(t.split())[:90] for t in texts)
    kinds = Counter(statement_kind(t) for t in texts)
    return {"due": count, "warm_up": warm, "fired": fired, "failed": failed,
            "rest_fired_after": profiled, "rest_profiled": True,
            "complete": fired + warm + profiled == count and failed == 0,
            "cpu_ms_per_firing": round(cpu / per * 1000, 3),
            "wall_ms_per_firing": round(wall / per * 1000, 3),
            "python_calls_per_firing": round(calls),
            "statements_per_firing": round(counts["statements"] / per, 2),
            "statements_by_kind_per_firing": {k: round(v / per, 2)
                                              for k, v in kinds.most_common()},
            "commits_per_firing": round(counts["commits"] / per, 2),
            "top_statements_per_firing": {k: round(v / per, 2)
                                          for k, v in seen.most_common(12)},
            "by_instances_per_transaction": by_way,
            **outputs, "profile": str(profile) if profile else None}


def bench_real(bench: Bench, real: dict[str, Any], made: dict[str, Any], at: list[datetime],
               margin: float, profile: Path | None) -> tuple[dict[str, Any], float]:
    """The real watches: in this process, then one `aduan scheduler` working off a backlog
    (the cost per firing), then one firing them as they fall due at `due_rate` a second."""
    eligible = made.pop("eligible")
    inproc_at, backlog_at, late_at, late_two_at = at
    need = real["in_process"] + real["backlog"] + 2 * real["due_rate"] * real["window_seconds"]
    if len(eligible) < need:
        raise SystemExit(f"{len(eligible)} watched clones, {need} needed: more --clones")
    chosen = iter(eligible)

    def take(n: int) -> list[tuple[int, str]]:
        return [next(chosen) for _ in range(n)]

    figures: dict[str, Any] = {}
    n = real["in_process"]
    real_due_set(bench, "real_inproc", take(n),
                 [inproc_at - timedelta(microseconds=i) for i in range(n)])
    n = real["backlog"]
    real_due_set(bench, "real_one", take(n),
                 [backlog_at - timedelta(microseconds=i) for i in range(n)])
    window = float(real["window_seconds"])
    n = int(real["due_rate"] * window)
    spread = random.Random(20261206)
    offsets = sorted(spread.uniform(0, window) for _ in range(n))
    real_due_set(bench, "real_late", take(n), [late_at + timedelta(seconds=o) for o in offsets])
    real_due_set(bench, "real_late_two", take(n),
                 [late_two_at + timedelta(seconds=o) for o in offsets])

    say(f"real watches in this process: {real['in_process']} due")
    figures["in_process"] = real_in_process(bench, inproc_at, real["in_process"], profile)
    park_fired(bench, "real_inproc")
    f = figures["in_process"]
    say(f"    {f['fired']} fired: CPU {f['cpu_ms_per_firing']} ms, wall "
        f"{f['wall_ms_per_firing']} ms, {f['statements_per_firing']} statements and "
        f"{f['commits_per_firing']} commits per firing; {f['rest_fired_after']} more "
        f"under cProfile: {f['python_calls_per_firing']:,} Python calls per firing")
    say("    statements per firing: " + ", ".join(
        f"{kind} {n}" for kind, n in f["statements_by_kind_per_firing"].items()))
    for way, w in f["by_instances_per_transaction"].items():
        say(f"    {way} per transaction: {w['fired']} fired, CPU {w['cpu_ms_per_firing']} ms, "
            f"wall {w['wall_ms_per_firing']} ms, {w['commits_per_firing']} commits per firing")

    say(f"real watches: 1 process, backlog of {real['backlog']:,} among "
        f"{bench.timer_rows():,} rows")
    before = _domain_outputs(bench)
    one = run_phase(bench, Phase("real_one", backlog_at, real["backlog"], 1,
                                 THROUGHPUT_POLL_SECONDS), margin)
    one.update(_outputs_per_firing(before, _domain_outputs(bench), one["fired"]))
    if one.get("timers_per_second"):
        one["wall_ms_per_firing"] = round(1000 / one["timers_per_second"], 3)
    _report("real_one", one)
    park_fired(bench, "real_one")
    margin = _next_margin(margin, one)
    figures["backlog_one"] = one

    say(f"real watches: lateness, {n:,} due over {window:.0f} s ({n / window:.0f}/s), "
        f"1 process, poll {DEFAULT_POLL_SECONDS} s")
    before = _domain_outputs(bench)
    late = run_phase(bench, Phase("real_late", late_at, n, 1, DEFAULT_POLL_SECONDS, window),
                     margin)
    late.update(_outputs_per_firing(before, _domain_outputs(bench), late["fired"]))
    _report("real_late", late)
    park_fired(bench, "real_late")
    figures["lateness"] = late
    margin = _next_margin(margin, late)

    say(f"real watches, scale-out: the same {n:,} due over {window:.0f} s, "
        f"{SCALE_OUT_PROCESSES} processes, poll {DEFAULT_POLL_SECONDS} s")
    before = _domain_outputs(bench)
    two = run_phase(bench, Phase("real_late_two", late_two_at, n, SCALE_OUT_PROCESSES,
                                 DEFAULT_POLL_SECONDS, window), margin)
    two.update(_outputs_per_firing(before, _domain_outputs(bench), two["fired"]))
    _report("real_late_two", two)
    figures["lateness_two_processes"] = two
    return figures, _next_margin(margin, two)


# --------------------------------------------------------------------------- the run


def bench_scheduler(server_url: str, sizes: dict[str, Any], real: dict[str, Any] | None,
                    toy: bool = True, profile: Path | None = None,
                    scheduler_env: dict[str, str] | None = None,
                    ways: tuple[int, ...] = WAYS) -> dict[str, Any]:
    backend = PostgresBackend(server_url)
    backend.name = backend.name.replace("aduan_bench_", "aduan_schedbench_", 1)
    result: dict[str, Any] = {"database": backend.name,
                              "postgres": backend.server_version()}
    due_count = sizes["due"]
    margin = float(sizes["startup_margin_seconds"])
    now = datetime.now(UTC).replace(microsecond=0)
    base = now + timedelta(days=1)
    small_at, one_at, two_at, late_at, *real_at = (base + PHASE_GAP * i for i in range(8))

    def backlog(at: datetime) -> list[datetime]:  # every timer due by `at`
        return [at - timedelta(microseconds=i) for i in range(due_count)]

    try:
        with backend.database() as url, tempfile.TemporaryDirectory(
                prefix="aduan_schedbench_") as folder:
            bench = Bench(url, Path(folder), sizes, dict(scheduler_env or {}), ways)
            try:
                say("set-up: migrated; deploying, starting real instances")
                bench.set_up()
                made: dict[str, Any] = {}
                waiting_from = base + WAITING_AFTER
                bench.start_set("waiting", [waiting_from + timedelta(minutes=i)
                                            for i in range(sizes["real_waiting"])])
                if toy:
                    made["start_ms_each"] = bench.start_set("small", backlog(small_at))
                    made["small_copy"] = bench.grow_waiting(due_count + sizes["small_waiting"])

                    say(f"memory, small: 1 process, {due_count:,} due among "
                        f"{sizes['small_waiting']:,} waiting")
                    small = run_phase(bench, Phase("small", small_at, due_count, 1,
                                                   THROUGHPUT_POLL_SECONDS), margin)
                    _report("small", small)
                    result["memory_small"] = small
                    margin = _next_margin(margin, small)

                    say(f"set-up: {2 * due_count:,} more real instances")
                    bench.start_set("one", backlog(one_at))
                    bench.start_set("two", backlog(two_at))
                if real:
                    say(f"set-up: real complaints, {real['clones']:,} cloned (bench/web.py)")
                    made["real"] = real_set_up(bench, real, now)
                    say(f"    {made['real']['watched_clones']:,} clones at a watched stage, "
                        f"set up in {made['real']['set_up_seconds']} s")
                say(f"set-up: bulk copy to {sizes['large_timer_rows']:,} timer rows")
                made["large_copy"] = bench.grow_waiting(sizes["large_timer_rows"])
                say(f"    copied {made['large_copy']['copied']:,} rows in "
                    f"{made['large_copy'].get('copy_seconds', 0)} s, VACUUM ANALYZE "
                    f"{made['large_copy'].get('vacuum_analyze_seconds', 0)} s")
                result["set_up"] = made

                if real:
                    result["real"], margin = bench_real(bench, real, made["real"], real_at,
                                                        margin, profile)
                if toy:
                    say(f"throughput: 1 process, {due_count:,} due among "
                        f"{bench.timer_rows():,} rows")
                    one = run_phase(bench, Phase("one", one_at, due_count, 1,
                                                 THROUGHPUT_POLL_SECONDS), margin)
                    _report("one", one)
                    margin = _next_margin(margin, one)
                    say(f"throughput: 2 processes, {due_count:,} due among "
                        f"{bench.timer_rows():,} rows")
                    two = run_phase(bench, Phase("two", two_at, due_count, 2,
                                                 THROUGHPUT_POLL_SECONDS), margin)
                    _report("two", two)
                    margin = _next_margin(margin, two)

                    window = float(sizes["lateness_window_seconds"])
                    rate = LATENESS_LOAD * (one.get("timers_per_second") or 50.0)
                    count = max(int(rate * window), 10)
                    spread = random.Random(20261128)
                    due = sorted(late_at + timedelta(seconds=spread.uniform(0, window))
                                 for _ in range(count))
                    say(f"lateness: {count:,} timers due over {window:.0f} s "
                        f"({count / window:.0f}/s, {LATENESS_LOAD:.0%} of one process), "
                        f"1 process, poll {DEFAULT_POLL_SECONDS} s")
                    bench.start_set("late", due)
                    late = run_phase(bench, Phase("late", late_at, count, 1,
                                                  DEFAULT_POLL_SECONDS, window), margin)
                    _report("late", late)
                    result.update({"throughput_one": one, "throughput_two": two,
                                   "lateness": late})
                    if one.get("timers_per_second") and two.get("timers_per_second"):
                        result["two_to_one_ratio"] = round(
                            two["timers_per_second"] / one["timers_per_second"], 2)
            finally:
                bench.close()
    finally:
        backend.close()
    return result


def _next_margin(margin: float, figures: dict[str, Any]) -> float:
    """The next processes' time to start: twice the slowest start just seen, plus a second
    (a process that started late would be flagged by started_before_due)."""
    return max(2.0, 2 * max(figures["startup_seconds"], default=0) + 1.0)


def targets(figures: dict[str, Any]) -> dict[str, bool]:
    found: dict[str, bool] = {}
    if "real" in figures:
        real = figures["real"]
        wall = real["backlog_one"].get("wall_ms_per_firing")
        found["real_firing_le_4ms_wall_one_process"] = bool(
            real["backlog_one"]["complete"] and wall is not None
            and wall <= TARGET_REAL_FIRING_MS)
        late = real["lateness"]
        p99 = late.get("lateness_to_commit_seconds", {}).get("p99")
        found["real_lateness_p99_lt_1s_at_200_due_per_s"] = bool(
            late["complete"] and p99 is not None and p99 < TARGET_REAL_LATENESS_P99_SECONDS
            and late["due_rate_per_second"] >= REAL_FULL["due_rate"])
        found["real_all_due_fired_once"] = bool(
            real["in_process"]["complete"] and real["backlog_one"]["complete"]
            and late["complete"] and real["lateness_two_processes"]["complete"])
    if "lateness" not in figures:
        return found
    late, one = figures["lateness"], figures["throughput_one"]
    p99 = late.get("lateness_to_commit_seconds", {}).get("p99")
    found["lateness_p99_lt_2s_below_throughput"] = bool(
        late["complete"] and p99 is not None and p99 < TARGET_LATENESS_P99_SECONDS
        and late["due_rate_per_second"] < (one.get("timers_per_second") or 0))
    small = figures["memory_small"]["peak_rss_mb_vmhwm"][0]
    large = one["peak_rss_mb_vmhwm"][0]
    found["memory_flat_10k_vs_large"] = bool(
        small and large and figures["memory_small"]["complete"] and one["complete"]
        and (large <= small * TARGET_MEMORY_RATIO or large - small <= TARGET_MEMORY_DELTA_MB))
    found["all_due_fired_once_per_phase"] = all(
        figures[k]["complete"] for k in ("memory_small", "throughput_one", "throughput_two",
                                         "lateness"))
    return found


def scale_out(real: dict[str, Any]) -> dict[str, Any]:
    """The two-process lateness against the one-process target (a figure, not a target)."""
    two = real["lateness_two_processes"]
    p99 = two.get("lateness_to_commit_seconds", {}).get("p99")
    return {"processes": SCALE_OUT_PROCESSES, "lateness_p99_seconds": p99,
            "due_rate_per_second": two.get("due_rate_per_second"),
            "lateness_p99_lt_1s": bool(two["complete"] and p99 is not None
                                       and p99 < TARGET_REAL_LATENESS_P99_SECONDS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="200,000 timer rows and fewer due ones, within a minute")
    parser.add_argument("--postgres-url", default=os.environ.get("ADUAN_BENCH_POSTGRES_URL")
                        or os.environ.get("ADUAN_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL; a database is created and dropped there")
    parser.add_argument("--out", type=Path, help="also write the JSON figures to this file")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--real-only", action="store_true",
                       help="only the real complaint SLA watches (not the toy process)")
    which.add_argument("--toy-only", action="store_true",
                       help="only the toy start -> timer -> end process")
    parser.add_argument("--profile", type=Path,
                        help="write a cProfile of the in-process real firings to this file")
    parser.add_argument("--per-transaction", type=int, metavar="N",
                        help="ADUAN_TIMER_PER_TRANSACTION of the scheduler processes "
                             "(default: the product's)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="ADUAN_TIMER_THREADS of the scheduler processes (default: the "
                             "product's)")
    parser.add_argument("--gc-log", action="store_true",
                        help="count and time the scheduler processes' garbage collections "
                             "(bench/gcwatch), by generation, in each phase's figures")
    parser.add_argument("--ways", default=",".join(map(str, WAYS)), metavar="N,N",
                        help="instances per transaction compared in process (1,8)")
    parser.add_argument("--in-process", type=int, metavar="N",
                        help="real watches fired in process (150 with --quick, 400 without)")
    parser.add_argument("--due-rate", type=int, metavar="N",
                        help="real watches falling due a second in the lateness phases "
                             "(200, the target's; lower to see the scheduler's own delay on "
                             "a machine too busy to fire 200 a second)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    real = None if args.toy_only else dict(REAL_QUICK if args.quick else REAL_FULL)
    if real and args.in_process:
        real["in_process"] = args.in_process
    if real and args.due_rate:
        real["due_rate"] = args.due_rate
    ways = tuple(int(way) for way in args.ways.split(","))
    scheduler_env = {name: str(value) for name, value in (
        ("ADUAN_TIMER_PER_TRANSACTION", args.per_transaction),
        ("ADUAN_TIMER_THREADS", args.threads),
        (GC_LOG, args.gc_log or None)) if value is not None}
    began = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "scheduler",
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/scheduler.py", *(argv or sys.argv[1:])]),
        "machine": {
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "spiffworkflow": _version("SpiffWorkflow"),
            "sqlalchemy": sqlalchemy.__version__, "load_average_at_start": _load_average(),
        },
        "code": _git_state(),
        "sizes": sizes,
        "real_sizes": real,
        "scheduler_per_transaction": args.per_transaction,  # None: the product's default
        "scheduler_threads": args.threads,  # None: the product's default
        "ways_in_process": ways,
        "target_thresholds": {
            "real_firing_wall_ms_max": TARGET_REAL_FIRING_MS,
            "real_lateness_p99_seconds_max": TARGET_REAL_LATENESS_P99_SECONDS,
            "lateness_p99_seconds_max": TARGET_LATENESS_P99_SECONDS,
            "lateness_due_rate_share_of_one_process": LATENESS_LOAD,
            "memory_peak_ratio_max": TARGET_MEMORY_RATIO,
            "memory_peak_delta_mb_max": TARGET_MEMORY_DELTA_MB,
        },
    }
    if args.quick:
        result["quick_note"] = (f"quick mode: {QUICK['large_timer_rows']:,} timer rows instead "
                                f"of {FULL['large_timer_rows']:,}, {QUICK['due']:,} due per set "
                                f"instead of {FULL['due']:,}, lateness over "
                                f"{QUICK['lateness_window_seconds']} s, "
                                f"{QUICK['real_waiting']} real waiting instances")
    status = 0
    if not args.postgres_url:
        say("scheduler benchmark skipped: it needs PostgreSQL (--postgres-url, "
            "ADUAN_BENCH_POSTGRES_URL or ADUAN_TEST_POSTGRES_URL)")
        result["skipped"] = ("no PostgreSQL URL given (--postgres-url, ADUAN_BENCH_POSTGRES_URL "
                             "or ADUAN_TEST_POSTGRES_URL)")
        result["targets"] = {}
    else:
        try:
            result["postgres"] = bench_scheduler(args.postgres_url, sizes, real,
                                                 toy=not args.real_only, profile=args.profile,
                                                 scheduler_env=scheduler_env,
                                                 ways=ways)
            checks = targets(result["postgres"])
            result["targets"] = checks
            if "real" in result["postgres"]:
                result["scale_out"] = scale_out(result["postgres"]["real"])
                say(f"scale-out (not a target): {result['scale_out']}")
            result["all_targets_pass"] = all(checks.values())
            for name, passed in checks.items():
                say(f"target {name}: {'PASS' if passed else 'FAIL'}")
        except OperationalError as exc:
            say(f"postgres: cannot be measured: {exc.orig or exc}")
            result["postgres"] = {"error": str(exc.orig or exc).strip()}
            result["targets"] = {}
            status = 1
    result["seconds"] = round(time.perf_counter() - began, 1)
    result["machine"]["load_average_at_end"] = _load_average()
    say(f"finished in {result['seconds']:.1f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, separators=(",", ":")), flush=True)
    return status


def _git_state() -> dict[str, Any]:
    """The commit measured, and the uncommitted edits under engine/, web/ and workflows/."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.rstrip()  # porcelain lines may begin with a space

    changed = git("status", "--porcelain", "--", "engine", "web", "workflows")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_in_engine_web_workflows":
                None if changed is None else [line[3:] for line in changed.splitlines()]}


if __name__ == "__main__":
    sys.exit(main())
