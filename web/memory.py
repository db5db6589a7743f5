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


def set_aside_long_lived() -> None:
    """Collect once, then freeze what is alive: call once the process is loaded, and again
    when what fills on first use (caches, compiled statements) has filled."""
    gc.collect()
    gc.freeze()
