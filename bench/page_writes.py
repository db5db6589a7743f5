"""The worklist, the list API and the escalation inbox right after a write, in one process (no
HTTP, no other client): what each page's domain work costs when a report was filed just
before the request, with the counts kept (workflows/worklist_counts.py,
workflows/list_counts.py) and counted from scratch in the database every request (what the
read cache did after every write, before issue 17).

    python bench/page_writes.py --database-url sqlite:////tmp/wb/sqlite/aduan.db

Uses a database that bench/web.py set up and kept (--keep: 100,000 open reports); it files
`--rounds` reports into it per mode. The two modes alternate round by round, so that the
machine's load falls on both alike. Per mode and page: median and p95 right after a filing,
and the same with no write before (steady). The LAST line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))


from bench.engine import _load_average, say  # noqa: E402
from bench.in_process import domain_over, figures  # noqa: E402
from workflows import escalations, readcounts  # noqa: E402

USERS = ("admin.kominfo", "penghubung.pupr", "kadis.pupr")
MODES = ("kept", "from_scratch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    with domain_over(args.database_url, USERS, "aduan-pagebench-") as (domain, who):
        def inbox(user: str) -> None:
            with domain.context.reads() as session:
                now = domain.context.now()
                escalations.count_escalations(session, who[user], now)
                escalations.list_escalations(session, who[user], now, limit=25)

        pages: dict[str, Callable[[], Any]] = {
            "worklist admin.kominfo": lambda: domain.tasks.worklist_page(
                who["admin.kominfo"]),
            "worklist admin.kominfo late": lambda: domain.tasks.worklist_page(
                who["admin.kominfo"], overdue=True),
            "worklist penghubung.pupr": lambda: domain.tasks.worklist_page(
                who["penghubung.pupr"]),
            "list admin.kominfo": lambda: domain.reports.list(who["admin.kominfo"]),
            "list admin.kominfo DISPOSED": lambda: domain.reports.list(
                who["admin.kominfo"], status="DISPOSED"),
            "list admin.kominfo late": lambda: domain.reports.list(
                who["admin.kominfo"], overdue=True),
            "list penghubung.pupr": lambda: domain.reports.list(who["penghubung.pupr"]),
            "inbox kadis.pupr": lambda: inbox("kadis.pupr"),
            "inbox admin.kominfo": lambda: inbox("admin.kominfo"),
        }
        times: dict[str, dict[str, dict[str, list[float]]]] = {
            m: {p: {"after_write": [], "steady": []} for p in pages} for m in MODES}

        def timed(page: str) -> float:
            began = time.perf_counter()
            pages[page]()
            return time.perf_counter() - began

        first: dict[str, dict[str, float]] = {}
        for mode in MODES:  # each mode's first reading (a whole count) is reported apart
            readcounts.ENABLED = mode == "kept"
            first[mode] = {page: round(timed(page) * 1000, 1) for page in pages}
        for n in range(args.rounds):
            for mode in MODES:
                readcounts.ENABLED = mode == "kept"
                for page in pages:
                    domain.reports.submit({
                        "classification": "pengaduan", "category": "other",
                        "title": f"Pelayanan lambat (uji halaman {mode} {n})",
                        "body": "Antrean pelayanan sangat lambat, mohon diperbaiki.",
                        "reporter_name": "Penulis Uji"}, [], channel="api")
                    times[mode][page]["after_write"].append(timed(page))
                    times[mode][page]["steady"].append(timed(page))
        readcounts.ENABLED = True
    result: dict[str, Any] = {"benchmark": "page_writes", "rounds": args.rounds,
                              "load_average": _load_average(), "first_reading_ms": first,
                              "modes": {}}
    for mode in MODES:
        result["modes"][mode] = {p: {k: figures(v) for k, v in by.items()}
                                 for p, by in times[mode].items()}
        for page, by in result["modes"][mode].items():
            say(f"{mode}: {page}: after a write {by['after_write']}, steady {by['steady']}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
