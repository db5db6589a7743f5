"""Impact preview benchmark: a candidate deadline table replayed over a year of complaints
(workflows/impact.py), on SQLite and PostgreSQL.

Run from the repository root:

    python bench/impact.py             # 100,000 complaints of the last 12 months, 5 runs
    python bench/impact.py --quick     # 20,000 complaints, 3 runs

The complaints are written by bench/stats.py's bulk SQL (populate), over the twelve months
before the benchmark's clock: 95 % finished, 5 % open, with their SLA records (verification,
follow-up, resolution: about three per complaint, met, breached or running) and an
escalation row for each rung a late step reached. The app's domain is built as
tests/regency.py builds it (the lifecycle deployed, demo agencies) on a frozen clock. The
candidate is the deployed deadlines.dmn with verification cut from 3 to 2 working days and
follow-up from 5 to 4. `domain.impact.preview(files, designer)` is timed end to end (the
candidate's check and evaluation, the query, the replay), sequentially after one warm-up,
median and max in seconds.

PostgreSQL is measured when --postgres-url (or ADUAN_BENCH_POSTGRES_URL, or
ADUAN_TEST_POSTGRES_URL) names a server: a fresh database `aduan_bench_<random>` is created
there and dropped at the end. Progress goes to stdout; the LAST line is one JSON object with
every figure and a pass/fail boolean per target (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
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
# `python bench/impact.py` puts bench/ first on sys.path, where bench/engine.py would shadow
# the engine package: the repository root takes its place.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from bench import stats as stats_bench  # noqa: E402
from bench.engine import (  # noqa: E402
    PostgresBackend,
    SqliteBackend,
    _git_state,
    _load_average,
    say,
)
from engine import FrozenClock  # noqa: E402
from tests.regency import build  # noqa: E402
from workflows import diagram_ids as ids  # noqa: E402
from workflows.access import Principal  # noqa: E402

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # Saturday morning in the regency
TARGET_SECONDS = 5.0
DESIGNER = Principal("perancang", frozenset({"process_designer"}))
FULL = {"complaints": 100_000, "runs": 5}
QUICK = {"complaints": 20_000, "runs": 3}
CUTS = {"verification": 2, "follow_up": 4}  # working days (from 3 and 5)


def candidate(deployed: str) -> str:
    """The deployed deadlines.dmn with the budgets of CUTS."""
    text = deployed
    for rule, days in CUTS.items():
        marker = f'<outputEntry id="rule_{rule}_output_budget_days">\n          <text>'
        head, found, tail = text.partition(marker)
        if not found:
            raise SystemExit(f"deadlines.dmn has no rule {rule!r}: update bench/impact.py")
        text = head + marker + str(days) + tail[tail.index("</text>"):]
    return text


def populate(url: str, complaints: int) -> dict[str, Any]:
    """bench/stats.py's complaints, SLA records and escalations, all in the last 12 months:
    finished ones received from 360 to 30 days ago, open ones in the last 90 days."""
    stats_bench.NOW = NOW
    stats_bench.FIRST = NOW - timedelta(days=360)
    stats_bench.CLOSED_UNTIL = NOW - timedelta(days=30)
    stats_bench.OPEN_SINCE = NOW - timedelta(days=90)
    open_ = complaints // 20
    return stats_bench.populate(url, complaints - open_, open_)


def bench_backend(backend: Any, sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    with backend.database() as url:
        regency = build(url, FrozenClock(NOW), folder)
        try:
            say(f"{backend.label}: writing {sizes['complaints']:,} complaints")
            made = populate(url, sizes["complaints"])
            say(f"{backend.label}: populated in {made['seconds']} s: "
                f"{made['complaint']:,} complaints, {made['sla_record']:,} SLA records, "
                f"{made['escalation']:,} escalations")
            deployed = regency.engine.definition_files(ids.PROCESS_ID)["deadlines.dmn"]
            files = {"deadlines.dmn": candidate(deployed)}
            impact = regency.domain.impact
            preview = impact.preview(files, DESIGNER)  # warm-up
            timings = []
            for _ in range(sizes["runs"]):
                began = time.perf_counter()
                preview = impact.preview(files, DESIGNER)
                timings.append(time.perf_counter() - began)
            total = preview.total
            say(f"{backend.label}: preview of {preview.records:,} SLA records: median "
                f"{statistics.median(timings):.2f} s, max {max(timings):.2f} s; late "
                f"{total.before.late:,} -> {total.after.late:,}, escalations "
                f"{total.before.escalations:,} -> {total.after.escalations:,}")
            return {"populated": made, "records": preview.records, "runs": len(timings),
                    "median_seconds": round(statistics.median(timings), 3),
                    "max_seconds": round(max(timings), 3),
                    "rows": len(preview.rows),
                    "total": preview.total.as_dict(),
                    "changes": len(preview.changes)}
        finally:
            regency.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 complaints, 3 runs")
    parser.add_argument("--postgres-url", default=os.environ.get("ADUAN_BENCH_POSTGRES_URL")
                        or os.environ.get("ADUAN_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL; a database is created and dropped there")
    parser.add_argument("--out", type=Path, help="also write the JSON figures to this file")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    began = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "impact",
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/impact.py", *(argv or sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "sqlalchemy": sqlalchemy.__version__,
                    "load_average_at_start": _load_average()},
        "code": _git_state(),
        "sizes": sizes,
        "now": NOW.isoformat(),
        "target_seconds": TARGET_SECONDS,
    }
    status = 0
    with tempfile.TemporaryDirectory(prefix="aduan-impactbench-") as tmp:
        folder = Path(tmp)
        (folder / "sqlite").mkdir()
        result["sqlite"] = bench_backend(SqliteBackend(folder / "sqlite"), sizes,
                                         folder / "sqlite")
        if args.postgres_url:
            backend = PostgresBackend(args.postgres_url)
            try:
                result["postgres_server"] = backend.server_version()
                (folder / "postgres").mkdir()
                result["postgres"] = bench_backend(backend, sizes, folder / "postgres")
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
    checks = {f"{name}_median_lt_{TARGET_SECONDS:.0f}s": result[name]["median_seconds"]
              < TARGET_SECONDS for name in ("sqlite", "postgres")
              if "median_seconds" in result[name]}
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
