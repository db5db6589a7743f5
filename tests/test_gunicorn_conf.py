"""web/gunicorn_conf.py: the web processes' settings, and the garbage collector's freeze
(web/memory.py), in web workers and in a dedicated scheduler."""

from __future__ import annotations

import gc
import http.client
import importlib
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from web import gunicorn_conf, memory

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def unfrozen():
    """Leave the test process's collector as it was."""
    gc.unfreeze()
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_a_worker_freezes_what_it_holds_when_loaded_and_again_once_warm(unfrozen):
    worker = SimpleNamespace()
    gc.unfreeze()
    gunicorn_conf.post_worker_init(worker)
    loaded = gc.get_freeze_count()
    assert loaded > 1000  # the modules, the app: everything alive now
    kept = [[i] for i in range(5000)]  # what fills on first use (lists: the GC tracks them)
    for _ in range(memory.WARM_REQUESTS - 1):
        gunicorn_conf.post_request(worker, None, None, None)
    # not yet warm: nothing more frozen (a frozen object freed meanwhile, by the test
    # runner's own threads, may lower the count)
    assert gc.get_freeze_count() <= loaded
    gunicorn_conf.post_request(worker, None, None, None)
    assert gc.get_freeze_count() >= loaded + len(kept)
    frozen = gc.get_freeze_count()
    gunicorn_conf.post_request(worker, None, None, None)  # once only
    assert gc.get_freeze_count() <= frozen


def test_sync_workers_two_per_core_unless_told(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert importlib.reload(gunicorn_conf).workers == 6
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    settings = importlib.reload(gunicorn_conf)
    assert settings.workers == 5 and settings.worker_class == "sync"
    monkeypatch.undo()
    importlib.reload(gunicorn_conf)


def test_gunicorn_serves_the_app_with_these_settings(tmp_path, sqlite_url):
    """The command of README.md, on a migrated database: the pages answer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ADUAN_DATABASE_URL": sqlite_url, "ADUAN_SECRET_KEY": "k" * 64,
           "ADUAN_UPLOAD_DIR": str(tmp_path / "uploads"), "WEB_CONCURRENCY": "2"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "-c", "python:web.gunicorn_conf", "-b", f"127.0.0.1:{port}",
         "web.app:create_app()"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        # gunicorn says when its socket listens; a request queued before a worker is ready
        # waits for it in the kernel's backlog
        deadline = time.monotonic() + 30
        said = b""
        while b"Listening at" not in said:
            left = deadline - time.monotonic()
            assert left > 0 and server.poll() is None, said.decode(errors="replace")
            if select.select([server.stdout], [], [], left)[0]:
                said += server.stdout.readline()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/login")
        response = connection.getresponse()
        assert response.status == 200 and b"csrf" in response.read()
        # sync workers close each connection after its response
        assert response.getheader("Connection") == "close"
    finally:
        server.terminate()
        server.wait(timeout=20)
        server.stdout.close()


def test_a_dedicated_scheduler_freezes_at_start_and_once_warm(unfrozen, monkeypatch):
    """web/scheduler.py: `aduan scheduler` (blocking) sets aside what it holds when it
    starts (from then on considering the oldest generation less often:
    web/memory.collect_oldest_seldom) and once more after WARM_FIRINGS timers; an embedded
    one leaves the web's process alone."""
    from web import scheduler as scheduling
    from web.config import Settings

    domain = SimpleNamespace(operations=SimpleNamespace(beat=lambda *a, **k: None))
    embedded = scheduling.Scheduler(domain, Settings(database_url="unused"))
    oldest = gc.get_threshold()[2]
    embedded._settle(scheduling.WARM_FIRINGS * 2)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold()[2] == oldest  # the web's collector is left as it is
    dedicated = scheduling.Scheduler(domain, Settings(database_url="unused"), blocking=True)
    monkeypatch.setattr(dedicated.scheduler, "start", lambda: None)  # no blocking loop
    dedicated.start()
    loaded = gc.get_freeze_count()
    assert loaded > 1000
    # from its start, the oldest generation is considered ten times less often
    assert gc.get_threshold()[2] == memory.SCHEDULER_OLDEST_THRESHOLD > oldest
    kept = [[i] for i in range(5000)]
    dedicated._settle(scheduling.WARM_FIRINGS - 1)
    # not yet warm: nothing more frozen (a frozen object freed meanwhile, by the test
    # runner's own threads, may lower the count)
    assert gc.get_freeze_count() <= loaded
    dedicated._settle(1)
    assert gc.get_freeze_count() >= loaded + len(kept)
    frozen = gc.get_freeze_count()
    dedicated._settle(scheduling.WARM_FIRINGS)  # once only
    assert gc.get_freeze_count() <= frozen


def test_the_single_node_server_freezes_when_loaded_and_again_once_warm(unfrozen):
    """`aduan run` serves with Flask's threaded server: the same two settings aside, after
    its own count of requests (web/memory.WarmUp.install)."""
    from flask import Flask

    app = Flask("warm-up")
    app.add_url_rule("/", "home", lambda: "ok")
    warm_up = memory.WarmUp(warm_requests=5)
    warm_up.install(app)
    loaded = gc.get_freeze_count()
    assert loaded > 1000
    client = app.test_client()
    kept = [[i] for i in range(5000)]
    for _ in range(4):
        assert client.get("/").status_code == 200
    assert gc.get_freeze_count() <= loaded and warm_up.served_count == 4
    client.get("/")
    assert gc.get_freeze_count() >= loaded + len(kept)
