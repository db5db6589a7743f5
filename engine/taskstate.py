"""Spiff's task state changes, without building log details nobody reads.

SpiffWorkflow's `Task._set_state` builds a log record's details at every state change (a
dictionary of nine entries, the state's and the workflow's names, two clock readings) and
hands them to `logger.info` of the `spiff.task` logger, which drops them unless INFO is
enabled there; a state set again unchanged goes to `logger.debug` the same way. A daily SLA
watch's firing changes about twenty states: about 190 of its Python calls (BENCHMARKS.md,
issue 17, eighth round). `set_state` does what Spiff's does, and hands the change to Spiff's
own method, details and all, whenever the logger would emit its record. `install` puts it
in Spiff's place once, when the engine is imported (engine/runtime.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from SpiffWorkflow import task as spiff_task

_LOGGER = spiff_task.logger
_SPIFF_SET_STATE = spiff_task.Task._set_state


def set_state(self: Any, value: int) -> None:
    """Force the task's state to `value` (Spiff's `Task._set_state`)."""
    if value != self._state:
        if _LOGGER.isEnabledFor(logging.INFO):
            _SPIFF_SET_STATE(self, value)
            return
        # Spiff's own field, set by the wall clock as Spiff sets it (it times its log
        # records' "elapsed"); no domain time: deadlines and timers use the engine's clock.
        self.last_state_change = time.time()
        self._state = value
    elif _LOGGER.isEnabledFor(logging.DEBUG):
        _SPIFF_SET_STATE(self, value)


def install() -> None:
    spiff_task.Task._set_state = set_state
