"""The SLA board and the case page in one process, through the whole Flask app (session,
domain, template) but no HTTP server: CPU time of the serving thread and SQL statements per
request, steady and right after a write (a report filed through the JSON API just before
each request, so that every request finds the counts moved and the read cache discarded).

    python bench/page_cpu.py --database-url sqlite:////tmp/wb/sqlite/aduan.db

Uses a database that bench/web.py set up and kept (--keep); it files `--requests` reports
into it per page and user. CPU time (time.thread_time) rather than wall time: on a shared
machine it barely moves with the load, so two trees can be compared run after run (A/B:
the same command with PYTHONPATH set to each tree). The LAST line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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

import sqlalchemy  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.engine import _load_average, percentile, say  # noqa: E402
from bench.web import open_reports  # noqa: E402
from workflows.demo import DEMO_PASSWORD  # noqa: E402

PAGES = {"board": ("admin.kominfo", "kadis.pupr"), "case": ("admin.kominfo",
                                                           "penghubung.pupr")}
CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')


def _figures(times: list[float], statements: list[int]) -> dict[str, float]:
    ordered = sorted(times)
    return {"cpu_median_ms": round(statistics.median(ordered) * 1000, 2),
            "cpu_p95_ms": round(percentile(ordered, 95) * 1000, 2),
            "statements": round(statistics.mean(statements), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args(argv)
    url = args.database_url
    with tempfile.TemporaryDirectory(prefix="aduan-pagecpu-") as tmp:
        os.environ.update({"ADUAN_DATABASE_URL": url, "ADUAN_SECRET_KEY": "b" * 64,
                           "ADUAN_UPLOAD_DIR": str(Path(tmp) / "uploads"),
                           "ADUAN_COOKIE_SECURE": "0"})
        from web.app import create_app

        app = create_app()
        statements: list[str] = []

        def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", note)
        reports_of = open_reports(url)  # the open reports each officer may open
        writer = app.test_client()
        filed = [0]

        def write() -> None:
            filed[0] += 1
            answer = writer.post("/api/v1/complaints", json={
                "classification": "pengaduan", "category": "other",
                "title": f"Pelayanan lambat (tulisan uji {filed[0]})",
                "body": "Antrean pelayanan sangat lambat, mohon diperbaiki.",
                "reporter_name": "Penulis Uji", "kelurahan": "Nipah-Nipah",
                "kecamatan": "Penajam"})
            if answer.status_code != 201:
                raise SystemExit(f"filing: HTTP {answer.status_code}")

        load_start = _load_average()
        found: dict[str, Any] = {}
        for page, users in PAGES.items():
            for user in users:
                client = app.test_client()
                token = CSRF.search(client.get("/login").data.decode())
                signed = client.post("/login", data={
                    "username": user, "password": DEMO_PASSWORD,
                    "csrf_token": token.group(1) if token else ""})
                if signed.status_code != 302:
                    raise SystemExit(f"sign-in as {user}: HTTP {signed.status_code}")

                reports = reports_of.get(user, [])

                def path(i: int, page: str = page, reports: list[str] = reports) -> str:
                    return "/board" if page == "board" else \
                        f"/cases/{reports[(i * 7919) % len(reports)]}"

                for i in range(5):  # the process's first readings of this scope
                    client.get(path(i))
                for mode in ("steady", "after_a_write"):
                    times: list[float] = []
                    counts: list[int] = []
                    for i in range(args.requests):
                        if mode == "after_a_write":
                            write()
                        statements.clear()
                        began = time.thread_time()
                        answer = client.get(path(i))
                        times.append(time.thread_time() - began)
                        counts.append(len(statements))
                        if answer.status_code != 200:
                            raise SystemExit(f"GET {path(i)}: HTTP {answer.status_code}")
                    found[f"{page} {user} {mode}"] = _figures(times, counts)
                    say(f"{page} as {user}, {mode}: {found[f'{page} {user} {mode}']}")
    result = {"benchmark": "page_cpu", "database": url.split(":")[0],
              "requests": args.requests, "load_average_at_start": load_start,
              "load_average_at_end": _load_average(), "pages": found}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
