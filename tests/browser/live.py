"""The whole application served over real HTTP for browser tests, on a clock the test moves.

`live_app` (a fixture in tests/browser/conftest.py) copies the demo regency's SQLite file
(the session's `demo_template`), builds the app over it with a FrozenClock and serves it
from a thread with werkzeug's threaded server on 127.0.0.1. The test drives pages in
Chromium and, between steps, may move time with `live_app.advance(days=...)`, which fires
the due timers as the scheduler would (the scheduler's own tests cover the real process).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from tests.regency import Regency


@dataclass
class LiveApp:
    regency: Regency
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def advance(self, **delta: float) -> dict[str, Any]:
        return self.regency.advance(**delta)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.regency.engine.dispose()


def serve(regency: Regency) -> LiveApp:
    app = regency.client.application
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    return LiveApp(regency, server, thread)
