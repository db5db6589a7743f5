"""The floor a durable commit puts under a persisted completion on PostgreSQL.

Run from the repository root:

    python bench/commit_floor.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres

A one-row INSERT and its COMMIT, again and again on one connection, in a scratch table of a
fresh database (`aduan_commitfloor_<random>`, dropped at the end): the time of each, with the
server's `synchronous_commit` (on by default: the COMMIT waits for its WAL flush) and, to
show the flush's share, with it off in this session only. The difference is what the disk's
flush costs a commit, which no change in Aduan's code removes; `pg_test_fsync` (PostgreSQL's
own tool, `/usr/lib/postgresql/15/bin/pg_test_fsync`) measures the same flush without the
server. Rounds alternate on and off so both see the same load.

Human-readable progress goes to stdout; the LAST line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:1] = [str(ROOT)]  # the repository, not bench/, first

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402


def _server(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def measure(url: str, commits: int, rounds: int) -> dict[str, Any]:
    """Median and p90 of an INSERT + COMMIT per round, synchronous_commit on and off."""
    found: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    with psycopg.connect(url) as connection:
        connection.execute("CREATE TABLE commit_probe (id bigserial PRIMARY KEY, "
                           "at timestamptz NOT NULL)")
        connection.commit()
        for _ in range(rounds):
            for mode in ("on", "off"):
                connection.execute(sql.SQL("SET synchronous_commit = {}").format(
                    sql.Literal(mode)))
                connection.commit()
                times = []
                for _ in range(commits):
                    began = time.perf_counter()
                    connection.execute("INSERT INTO commit_probe (at) VALUES (now())")
                    connection.commit()
                    times.append(time.perf_counter() - began)
                times.sort()
                found[mode].append({
                    "median_ms": round(statistics.median(times) * 1000, 3),
                    "p90_ms": round(times[int(len(times) * 0.9)] * 1000, 3)})
                print(f"synchronous_commit={mode}: median {found[mode][-1]['median_ms']} ms, "
                      f"p90 {found[mode][-1]['p90_ms']} ms", flush=True)
    medians = {mode: statistics.median(r["median_ms"] for r in runs)
               for mode, runs in found.items()}
    return {"rounds": found, "median_ms": medians,
            "flush_ms": round(medians["on"] - medians["off"], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get("ADUAN_BENCH_POSTGRES_URL")
                        or os.environ.get("ADUAN_TEST_POSTGRES_URL"))
    parser.add_argument("--commits", type=int, default=400, help="commits per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each setting")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"benchmark": "commit_floor", "load_average_at_start":
                              [round(x, 2) for x in os.getloadavg()]}
    if not args.postgres_url:
        print("commit floor skipped: it needs PostgreSQL (--postgres-url)")
        result["skipped"] = "no PostgreSQL URL"
        print(json.dumps(result))
        return 0
    server = _server(args.postgres_url)
    name = f"aduan_commitfloor_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        result["synchronous_commit"] = admin.execute("SHOW synchronous_commit").fetchone()[0]
        result["wal_sync_method"] = admin.execute("SHOW wal_sync_method").fetchone()[0]
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        base = server.rsplit("/", 1)[0]
        result.update(measure(f"{base}/{name}", args.commits, args.rounds))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"a durable commit: median {result['median_ms']['on']} ms, of which the WAL flush "
          f"{result['flush_ms']} ms")
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
