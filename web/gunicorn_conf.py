"""gunicorn's settings for Aduan's web processes:

    gunicorn -c python:web.gunicorn_conf -b 0.0.0.0:8000 'web.app:create_app()'

Options on the command line win over these. See README.md, *Several web and scheduler
processes*, and BENCHMARKS.md, *Web pages*, for how they were chosen.
"""

from __future__ import annotations

import os
from typing import Any

from web.memory import WarmUp

# Sync workers: one request at a time per process, each process taking the next connection
# only when it is free, so the kernel's queue of connections serves requests in the order
# they came and no request waits behind a busy process while another is idle. Put a
# reverse proxy in front (it buffers slow clients, which would otherwise hold a worker).
worker_class = "sync"
# Two per core unless WEB_CONCURRENCY says otherwise: on two cores, 4 measured better than
# gunicorn's own advice of 5 (BENCHMARKS.md, *Web pages*).
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))
timeout = 120


def post_worker_init(worker: Any) -> None:
    """Keep the garbage collector from walking the application's long-lived objects
    (web/memory.py): once the app is loaded, and once more after memory.WARM_REQUESTS
    requests, when what fills on first use has filled."""
    worker.aduan_warm_up = WarmUp()
    worker.aduan_warm_up.loaded()


def post_request(worker: Any, _req: Any, _environ: Any, _resp: Any) -> None:
    warm_up = getattr(worker, "aduan_warm_up", None)
    if warm_up is None:
        warm_up = worker.aduan_warm_up = WarmUp()
    warm_up.served()
