"""What storing a report's saved state costs PostgreSQL, by the column's compression.

Run from the repository root:

    python bench/state_storage.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres

Real saved states are made first: one report filed, verified and disposed through the use
cases (the demo regency on SQLite, as bench/state_growth.py does), then left at follow-up while
a frozen clock moves a day at a time and its SLA watch fires; its state is kept each day
(about 10 to 21 KB of JSON). Then, for each way of storing `process_instance.state` (pglz,
PostgreSQL's default; lz4, migration 0042; uncompressed out of line, `STORAGE EXTERNAL`), a
scratch database `aduan_storage_<random>` holds one row per state, and one connection reads
a row's state and writes another state in its place, one transaction each, as a firing does:
the backend's CPU per read and write (from /proc, so the server must run on this machine),
the WAL bytes of one such UPDATE (`EXPLAIN (ANALYZE, WAL)`: a figure the load does not move),
and the table's size. The ways are run in alternation, ROUNDS times.

The LAST line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:1] = [str(ROOT)]  # the repository, not bench/, first

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

import migrations  # noqa: E402
from bench.engine import _load_average, say  # noqa: E402
from bench.state_growth import at_follow_up  # noqa: E402
from engine import FrozenClock  # noqa: E402
from tests.regency import build  # noqa: E402

WAYS = {"pglz": "SET COMPRESSION pglz", "lz4": "SET COMPRESSION lz4",
        "external": "SET STORAGE EXTERNAL"}
ROUNDS = 2


def saved_states(days: int) -> list[str]:
    """A report's saved state at the end of each day at follow-up (its watch firing daily)."""
    folder = Path(tempfile.mkdtemp(prefix="aduan-storage-"))
    url = f"sqlite:///{folder / 'states.db'}"
    migrations.upgrade(url)
    clock = FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # a Monday, 10:00 WITA
    regency = build(url, clock, folder)
    states = []
    try:
        instance_id = at_follow_up(regency)
        for _ in range(days):
            clock.advance(timedelta(days=1))
            regency.domain.operations.fire_due_timers(100)
            with regency.engine.store.read() as session:
                states.append(session.execute(text(
                    "SELECT state FROM process_instance WHERE id = :i"),
                    {"i": instance_id}).scalar_one())
    finally:
        regency.engine.dispose()
    return states


def _backend_cpu(conn: psycopg.Connection) -> float:
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: str, way: str, states: list[str], writes: int) -> dict:
    name = f"aduan_storage_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(server.rsplit("/", 1)[0] + "/" + name) as conn:
            conn.execute("CREATE TABLE state_row (id int PRIMARY KEY, version int, state text)")
            conn.execute(f"ALTER TABLE state_row ALTER COLUMN state {WAYS[way]}")
            for i, state in enumerate(states):
                conn.execute("INSERT INTO state_row VALUES (%s, 1, %s)", (i, state))
            conn.commit()
            plan = conn.execute(
                "EXPLAIN (ANALYZE, WAL, FORMAT JSON) UPDATE state_row SET state = %s, "
                "version = version + 1 WHERE id = 0", (states[-1],)).fetchone()[0][0]["Plan"]
            conn.commit()
            pick = random.Random(20261207)
            cpu, wall = _backend_cpu(conn), time.perf_counter()
            for n in range(writes):
                i = pick.randrange(len(states))
                conn.execute("SELECT state FROM state_row WHERE id = %s", (i,)).fetchone()
                conn.execute("UPDATE state_row SET state = %s, version = version + 1 "
                             "WHERE id = %s", (states[(i + n) % len(states)], i))
                conn.commit()
            cpu, wall = _backend_cpu(conn) - cpu, time.perf_counter() - wall
            size, stored = conn.execute("SELECT pg_total_relation_size('state_row'), "
                                        "avg(pg_column_size(state)) FROM state_row").fetchone()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
    return {"way": way, "backend_cpu_ms_per_read_and_write": round(cpu / writes * 1000, 3),
            "wall_ms_per_read_and_write": round(wall / writes * 1000, 3),
            "wal_bytes_per_update": plan.get("WAL Bytes"), "table_bytes": size,
            "stored_bytes_per_state": round(float(stored))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get("ADUAN_BENCH_POSTGRES_URL")
                        or os.environ.get("ADUAN_TEST_POSTGRES_URL"), required=False)
    parser.add_argument("--days", type=int, default=30, help="states kept, one a day")
    parser.add_argument("--writes", type=int, default=1500, help="reads and writes per way")
    args = parser.parse_args()
    if not args.postgres_url:
        raise SystemExit("give --postgres-url (or ADUAN_BENCH_POSTGRES_URL)")
    server = args.postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    began, load_before = time.perf_counter(), _load_average()
    states = saved_states(args.days)
    say(f"{len(states)} states, {min(map(len, states)):,} to {max(map(len, states)):,} bytes")
    runs = []
    for _ in range(ROUNDS):
        for way in WAYS:
            runs.append(measure(server, way, states, args.writes))
            say(json.dumps(runs[-1]))
    medians = {way: statistics.median(r["backend_cpu_ms_per_read_and_write"]
                                      for r in runs if r["way"] == way) for way in WAYS}
    print(json.dumps({"benchmark": "state_storage", "states": len(states),
                      "state_bytes": [min(map(len, states)), max(map(len, states))],
                      "runs": runs, "backend_cpu_ms_median": medians,
                      "load_average_before": load_before, "load_average_after": _load_average(),
                      "seconds": round(time.perf_counter() - began, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
