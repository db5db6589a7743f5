"""The SLA board right after a write, in one process (no HTTP, no other client): what the
board's domain work costs when a report was filed just before each request, with its counts
kept per report (workflows/readcounts.py) and counted from scratch every request (what the
read cache did after every write, before issue 17).

    python bench/board_writes.py --database-url sqlite:////tmp/wb/sqlite/aduan.db

Uses a database that bench/web.py set up and kept (--keep: 100,000 open reports); it files
`--rounds` reports into it per mode. The two modes alternate round by round, so that the
machine's load falls on both alike. Per mode and user: median and p95 of
Supervision.board_page (the board's counts and list, and the inbox) right after a filing,
and the same with no write before (a steady board). The LAST line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.engine import _load_average, percentile, say  # noqa: E402
from engine import Engine  # noqa: E402
from workflows import access, readcounts  # noqa: E402
from workflows.config import RegencyConfig  # noqa: E402
from workflows.domain import Domain  # noqa: E402
from workflows.models import User  # noqa: E402
from workflows.storage import Storage  # noqa: E402
from workflows.users import Passwords  # noqa: E402

USERS = ("admin.kominfo", "kadis.pupr")
MODES = ("kept", "from_scratch")


def _figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(percentile(ordered, 95) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aduan-boardbench-") as tmp:
        engine = Engine(args.database_url)
        config = RegencyConfig()
        domain = Domain(engine, config, Storage(Path(tmp), config.max_attachment_bytes),
                        Passwords.fast())
        with domain.context.reads() as session:
            principals = {u: access.principal_for(session, session.scalars(
                select(User).where(User.username == u)).one()) for u in USERS}
        times: dict[str, dict[str, dict[str, list[float]]]] = {
            m: {u: {"after_write": [], "steady": []} for u in USERS} for m in MODES}

        def board(user: str) -> float:
            began = time.perf_counter()
            domain.supervision.board_page(principals[user])
            return time.perf_counter() - began

        for mode in MODES:  # each mode's first reading (a whole count) is not measured
            readcounts.ENABLED = mode == "kept"
            for user in USERS:
                board(user)
        for n in range(args.rounds):
            for mode in MODES:
                readcounts.ENABLED = mode == "kept"
                for user in USERS:
                    domain.reports.submit({
                        "classification": "pengaduan", "category": "other",
                        "title": f"Pelayanan lambat (uji papan {mode} {n})",
                        "body": "Antrean pelayanan sangat lambat, mohon diperbaiki.",
                        "reporter_name": "Penulis Uji"}, [], channel="api")
                    times[mode][user]["after_write"].append(board(user))
                    times[mode][user]["steady"].append(board(user))
        readcounts.ENABLED = True
        engine.dispose()
    result: dict[str, Any] = {"benchmark": "board_writes", "rounds": args.rounds,
                              "load_average": _load_average(), "modes": {}}
    for mode in MODES:
        result["modes"][mode] = {u: {k: _figures(v) for k, v in by.items()}
                                 for u, by in times[mode].items()}
        for user, by in result["modes"][mode].items():
            say(f"{mode}: {user}: after a write {by['after_write']}, steady {by['steady']}")
    # the pages' target under writes (bench/web.py: p95 < 200 ms at one write a second,
    # over HTTP with 20 clients), here the board's own work alone, kept per report
    result["targets"] = {f"kept_{u}_after_write_p95_lt_200ms":
                         result["modes"]["kept"][u]["after_write"]["p95_ms"] < 200.0
                         for u in USERS}
    result["all_targets_pass"] = all(result["targets"].values())
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
