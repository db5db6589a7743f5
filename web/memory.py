"""Long-lived objects set aside from the garbage collector, for the web and scheduler
processes.

A process holds a few hundred thousand objects that live as long as it does (the modules of
Flask, SQLAlchemy, SpiffWorkflow, Jinja and Babel, the app, compiled templates and
statements, the deployed diagrams' specs); each full collection walks them all, 50-70 ms
during which the process does nothing else, and a timer firing or a request allocates
enough to set one off every few dozen. gc.freeze() moves the objects alive now to a
generation the collector never walks; objects made later are collected as usual, frozen
ones are freed only by reference counting. Measured on the scheduler's real SLA watches:
garbage collection fell from about 1.1 ms to 0.1 ms a firing (BENCHMARKS.md, *Scheduler*).
"""

from __future__ import annotations

import gc
import threading
from typing import Any

# Requests a web process serves before what it keeps for good (compiled templates and
# statements, the translations, the read cache's structures) is set aside as well.
WARM_REQUESTS = 200
# A dedicated scheduler's oldest generation: collected after this many middle collections
# (Python's default is 10). See `collect_oldest_seldom`.
SCHEDULER_OLDEST_THRESHOLD = 100


def set_aside_long_lived() -> None:
    """Collect once, then freeze what is alive: call once the process is loaded, and again
    when what fills on first use (caches, compiled statements) has filled."""
    gc.collect()
    gc.freeze()


def collect_oldest_seldom() -> None:
    """Consider a full collection ten times less often: for a process that has set aside
    what it keeps (the dedicated scheduler). Python runs one at every tenth middle
    collection once the objects promoted since the last exceed a quarter of those that
    survived it; after a freeze few objects survive unfrozen, so a firing in progress
    during a middle collection (its workflow's few hundred objects) met that rule about
    every hundred firings, and each full collection walked the unfrozen rest for 15-75 ms
    (BENCHMARKS.md, issue 17, tenth round). The young and middle generations, where a
    firing's garbage now dies, are collected as usual."""
    young, middle, _oldest = gc.get_threshold()
    gc.set_threshold(young, middle, SCHEDULER_OLDEST_THRESHOLD)


class WarmUp:
    """A web process's requests counted, to set its long-lived objects aside once it is
    loaded (``loaded``) and once more after WARM_REQUESTS requests (``served``), when what
    fills on first use has filled: gunicorn's workers (web/gunicorn_conf.py) and the
    single-node server of `aduan run`."""

    def __init__(self, warm_requests: int = WARM_REQUESTS) -> None:
        self.warm_requests = warm_requests
        self.served_count = 0
        self._lock = threading.Lock()

    def loaded(self) -> None:
        set_aside_long_lived()

    def install(self, app: Any) -> None:
        """For a server of one process and several threads (`aduan run`): count the Flask
        app's requests, and set aside what is alive now."""
        def counted(response: Any) -> Any:
            self.served()
            return response

        app.after_request(counted)
        self.loaded()

    def served(self) -> None:
        with self._lock:
            self.served_count += 1
            due = self.served_count == self.warm_requests
        if due:
            set_aside_long_lived()
