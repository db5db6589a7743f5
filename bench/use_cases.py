"""In-process cost of the pages' use cases: what a request does below HTTP, on a small demo.

Run from the repository root:

    python bench/use_cases.py            # 60 reports, 7 rounds of 100 calls each

Each call is what a GET request does under the web app: one shared read unit
(engine.store.Store.shared_reads), the signed-in officer read (Accounts.session_user's
principal), then one use case: Tasks.worklist_page, Reports.case, Supervision.board_page.
The figure is the median of the rounds' mean milliseconds per call, on SQLite, with the
read cache on (as served). For comparing commits on one machine in one sitting; the web
benchmark (bench/web.py) measures the same pages under load through HTTP.

The LAST line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:1] = [str(ROOT)]  # the repository, not bench/, first

import migrations  # noqa: E402
from engine import FrozenClock  # noqa: E402
from tests.regency import build  # noqa: E402


def measure(call: Callable[[], object], rounds: int, calls: int) -> float:
    for _ in range(20):  # warm: caches filled, statements compiled
        call()
    means = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(calls):
            call()
        means.append((time.perf_counter() - began) / calls * 1000)
    return round(statistics.median(means), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aduan-usecases-"))
    url = f"sqlite:///{folder / 'aduan.db'}"
    migrations.upgrade(url)
    regency = build(url, FrozenClock(datetime(2026, 3, 2, 1, tzinfo=UTC)), folder)
    made = [regency.submit(photo=True)["tracking_number"] for _ in range(args.reports)]
    domain = regency.domain
    accounts = domain.accounts
    signed = {name: accounts.sign_in(name, "aduan-demo-2026", "127.0.0.1")
              for name in ("admin.kominfo", "sekda")}

    def request(name: str, use_case: Callable[[object], object]) -> Callable[[], object]:
        def call() -> object:
            with domain.context.shared_reads():
                found = accounts.session_user(signed[name].principal.user_id,
                                              signed[name].fingerprint)
                return use_case(found.principal)
        return call

    tracking = made[len(made) // 2]
    figures = {
        "worklist_page": measure(request("admin.kominfo", lambda who: domain.tasks.worklist_page(
            who)), args.rounds, args.calls),
        "case": measure(request("admin.kominfo", lambda who: domain.reports.case(
            tracking, who)), args.rounds, args.calls),
        "board_page": measure(request("sekda", lambda who: domain.supervision.board_page(
            who)), args.rounds, args.calls),
    }
    for name, value in figures.items():
        print(f"{name}: {value} ms a call (median of {args.rounds} rounds)")
    domain.dispose()
    print(json.dumps({"benchmark": "use_cases", "reports": args.reports,
                      "rounds": args.rounds, "calls": args.calls, "ms_per_call": figures}))


if __name__ == "__main__":
    main()
