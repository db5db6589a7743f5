"""The worklist, the case page, the SLA board and the list API in one process, through the
whole Flask app (session, sign-in, CSRF, hooks, domain, template, response) but no HTTP
server: CPU time of the serving thread, SQL statements and Python function calls per
request, steady and right after a write (a report filed through the JSON API just before
each request, so that every request finds the counts moved).

    python bench/page_cpu.py --keep /tmp/wb                 # the databases bench/web.py kept
    python bench/page_cpu.py --database-url sqlite:////tmp/wb/sqlite/aduan.db --tokens \
        /tmp/wb/sqlite.json

Uses a database that bench/web.py set up and kept (--keep DIR: SQLite in DIR/sqlite, and the
PostgreSQL database it names after DIR when --postgres-url is given); the API's bearer
tokens come from the set-up's record (DIR/<label>.json). Each page and user: five requests
to warm the process, then `--calls` requests under cProfile (with `--profile-after-write`,
each right after a filing; Python function calls a request: a figure that does not move with
the machine's load or speed, for comparing two
trees), then `--requests` timed steady ones, then (unless --steady-only) as many each right
after a filing. CPU time (time.thread_time) rather than wall time: on a shared machine it
barely moves with the load. A/B: the same command with PYTHONPATH set to each tree, in
turn. `--top N` prints each page's N functions of most own time (where the CPU goes; with
`--sort cumulative`, of most time including what they call). The
LAST line is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.engine import _load_average, percentile, say  # noqa: E402
from bench.web import API_QUERIES, kept_postgres_name, open_reports  # noqa: E402
from workflows.demo import DEMO_PASSWORD  # noqa: E402

# The users of each page, as bench/web.py's clients (the first of its lists, and one more).
PAGES = {"worklist": ("admin.kominfo", "penghubung.pupr"),
         "case": ("admin.kominfo", "penghubung.pupr"),
         "board": ("admin.kominfo", "kadis.pupr"),
         "api_list": ("admin.kominfo", "penghubung.pupr")}
CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')
CASES_CHOSEN_FROM = 1000  # the first open reports (by tracking number): a set the writes keep


def _figures(times: list[float], statements: list[int]) -> dict[str, float]:
    ordered = sorted(times)
    return {"cpu_median_ms": round(statistics.median(ordered) * 1000, 2),
            "cpu_p95_ms": round(percentile(ordered, 95) * 1000, 2),
            "statements": round(statistics.mean(statements), 1)}


def _top(profile: cProfile.Profile, count: int, order: str = "tottime") -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(order).print_stats(count)
    return out.getvalue()


def measure(url: str, tokens: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aduan-pagecpu-") as tmp:
        os.environ.update({"ADUAN_DATABASE_URL": url, "ADUAN_SECRET_KEY": "b" * 64,
                           "ADUAN_UPLOAD_DIR": str(Path(tmp) / "uploads"),
                           "ADUAN_COOKIE_SECURE": "0"})
        from web.app import create_app

        app = create_app()
        statements: list[str] = []
        sent: list[tuple[Any, str, Any]] = []  # with --explain: each statement's parameters

        def note(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any
                 ) -> None:
            statements.append(statement)
            if args.explain:
                sent.append((conn, statement, parameters))

        event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", note)
        reports_of = {user: found[:CASES_CHOSEN_FROM]
                      for user, found in open_reports(url).items()}
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

        found: dict[str, Any] = {}
        chosen = [p.strip() for p in args.pages.split(",") if p.strip()]
        for page in chosen:
            for user in PAGES[page]:
                client = app.test_client()
                headers: dict[str, str] = {}
                if page == "api_list":
                    headers = {"Authorization": f"Bearer {tokens[user]}",
                               "Accept": "application/json"}
                else:
                    token = CSRF.search(client.get("/login").data.decode())
                    signed = client.post("/login", data={
                        "username": user, "password": DEMO_PASSWORD,
                        "csrf_token": token.group(1) if token else ""})
                    if signed.status_code != 302:
                        raise SystemExit(f"sign-in as {user}: HTTP {signed.status_code}")
                reports = reports_of.get(user, [])
                path: Callable[[int], str] = {
                    "worklist": lambda i: "/tasks",
                    "board": lambda i: "/board",
                    "case": lambda i, r=reports: f"/cases/{r[(i * 7919) % len(r)]}",
                    "api_list": lambda i: "/api/v1/complaints" + API_QUERIES[
                        i % len(API_QUERIES)],
                }[page]

                def get(i: int, client: Any = client, headers: dict[str, str] = headers,
                        path: Callable[[int], str] = path) -> None:
                    answer = client.get(path(i), headers=headers)
                    if answer.status_code != 200:
                        raise SystemExit(f"GET {path(i)}: HTTP {answer.status_code}")

                for i in range(5):  # the process's first readings of this scope
                    get(i)
                # timed by the thread's CPU, as the requests are: waiting for the database is
                # not the page's cost
                profile = cProfile.Profile(time.thread_time)
                for i in range(args.calls):
                    if args.profile_after_write:
                        write()
                    profile.enable()
                    get(i)
                    profile.disable()
                calls = pstats.Stats(profile).total_calls / max(1, args.calls)
                if args.top:
                    say(f"--- {page} as {user}: the {args.top} functions of most "
                        f"{'own ' if args.sort == 'tottime' else ''}time")
                    say(_top(profile, args.top, args.sort))
                if args.statements:
                    statements.clear()
                    get(args.calls)
                    say(f"--- {page} as {user}: the {len(statements)} statements of one "
                        f"steady request")
                    for statement in statements:
                        say("  " + " ".join(statement.split())[:args.statements])
                if args.explain:
                    sent.clear()
                    get(args.calls)
                    say(f"--- {page} as {user}: the database's own time for each statement "
                        f"of one steady request (EXPLAIN ANALYZE)")
                    say(_explained(list(sent), args.statements or 100))
                modes = ("steady",) if args.steady_only else ("steady", "after_a_write")
                for mode in modes:
                    times: list[float] = []
                    counts: list[int] = []
                    for i in range(args.requests):
                        if mode == "after_a_write":
                            write()
                        statements.clear()
                        began = time.thread_time()
                        get(i)
                        times.append(time.thread_time() - began)
                        counts.append(len(statements))
                    figures = _figures(times, counts)
                    if mode == "steady":
                        figures["python_calls"] = round(calls)
                    found[f"{page} {user} {mode}"] = figures
                    say(f"{page} as {user}, {mode}: {figures}")
        event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", note)
        return found


def _explained(sent: list[tuple[Any, str, Any]], width: int) -> str:
    """Each SELECT sent again under EXPLAIN ANALYZE on its own connection's database, with
    the parameters it was sent with: the server's planning and execution time and the plan's
    first line, so that a statement the database works hard for stands out (PostgreSQL's
    EXPLAIN; SQLite's EXPLAIN QUERY PLAN has no times and is skipped)."""
    lines = []
    for conn, statement, parameters in sent:
        if conn.dialect.name != "postgresql" or not statement.lstrip().upper().startswith(
                ("SELECT", "WITH")):
            continue
        raw = conn.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            plan = cursor.fetchone()[0][0]
            raw.rollback()
        finally:
            raw.close()
        top = plan["Plan"]
        lines.append(f"  {plan['Planning Time']:7.3f} + {plan['Execution Time']:7.3f} ms "
                     f"{top['Node Type']} rows={top.get('Actual Rows')}: "
                     + " ".join(statement.split())[:width])
    return "\n".join(lines)


def _without(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """The command line without these options (each with its value, either spelling)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in options)):
            kept.append(arg)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="one database to measure (with --tokens)")
    parser.add_argument("--tokens", type=Path,
                        help="the set-up's record with the API tokens (DIR/<label>.json)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="the folder bench/web.py --keep DIR kept its databases in")
    parser.add_argument("--postgres-url",
                        help="with --keep: also the PostgreSQL database kept on this server")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--calls", type=int, default=10,
                        help="requests per page and user under cProfile")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--steady-only", action="store_true",
                        help="no filing before requests (the database is left as it was)")
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--explain", action="store_true",
                        help="PostgreSQL: each statement of one steady request per page and "
                             "user again under EXPLAIN ANALYZE, with its planning and "
                             "execution time")
    parser.add_argument("--statements", type=int, default=0, metavar="WIDTH",
                        help="print the SQL statements of one steady request per page and "
                             "user, each cut to WIDTH characters")
    parser.add_argument("--profile-after-write", action="store_true",
                        help="the profiled requests (--calls, --top) each right after a filing")
    parser.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime",
                        help="--top's order: own time, or time including the callees'")
    args = parser.parse_args(argv)
    targets: list[tuple[str, str, Path]] = []
    if args.database_url:
        if not args.tokens:
            parser.error("--database-url needs --tokens")
        label = "sqlite" if args.database_url.startswith("sqlite") else "postgres"
        targets.append((label, args.database_url, args.tokens))
    elif args.keep:
        if args.only != "postgres":
            targets.append(("sqlite", f"sqlite:///{args.keep.resolve()}/sqlite/aduan.db",
                            args.keep / "sqlite.json"))
        if args.postgres_url and args.only != "sqlite":
            base = args.postgres_url.rsplit("/", 1)[0]
            targets.append(("postgres", f"{base}/{kept_postgres_name(args.keep)}",
                            args.keep / "postgres.json"))
    else:
        parser.error("give --keep DIR or --database-url with --tokens")
    load_start = _load_average()
    results = {}
    for label, url, record in targets:
        if len(targets) > 1:  # one process per database: the pages keep counts per process
            say(f"== {label}")
            rest = [a for a in (argv if argv is not None else sys.argv[1:])]
            child = subprocess.run(
                [sys.executable, __file__, "--database-url", url, "--tokens", str(record),
                 *_without(rest, ("--keep", "--postgres-url", "--only"))],
                stdout=subprocess.PIPE, text=True, check=True)
            lines = child.stdout.strip().splitlines()
            print("\n".join(lines[:-1]), flush=True)
            results[label] = json.loads(lines[-1])["databases"][label]
            continue
        tokens = json.loads(record.read_text())["tokens"]
        if url.startswith("postgresql://"):
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        say(f"== {label}")
        results[label] = measure(url, tokens, args)
    result = {"benchmark": "page_cpu", "requests": args.requests, "calls": args.calls,
              "load_average_at_start": load_start, "load_average_at_end": _load_average(),
              "databases": results}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
