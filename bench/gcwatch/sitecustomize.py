"""The garbage collector's work in a benchmark's child process (`bench/scheduler.py
--gc-log`): with BENCH_GC_LOG naming a folder, every collection is counted and timed by
generation, and written at exit to `<folder>/gc-<pid>.json`. SIGUSR1 starts the count
again (the benchmark sends it at its phase's first firing, leaving out the start-up's
collections). Python imports this module at start-up when its folder is on PYTHONPATH; it
does nothing without BENCH_GC_LOG."""

from __future__ import annotations

import atexit
import gc
import json
import os
import signal
import time
from pathlib import Path

_FOLDER = os.environ.get("BENCH_GC_LOG")


def _watch(folder: Path) -> None:
    counts, seconds, collected = [0, 0, 0], [0.0, 0.0, 0.0], [0, 0, 0]
    started = [0.0]

    def on_collection(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        generation = info["generation"]
        counts[generation] += 1
        seconds[generation] += time.perf_counter() - started[0]
        collected[generation] += info["collected"]

    def write() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"gc-{os.getpid()}.json").write_text(json.dumps({
            "collections": counts, "ms": [round(s * 1000, 1) for s in seconds],
            "collected": collected, "thresholds": list(gc.get_threshold()),
            "frozen": gc.get_freeze_count()}))

    def again(_signum: int, _frame: object) -> None:
        counts[:], seconds[:], collected[:] = [0, 0, 0], [0.0, 0.0, 0.0], [0, 0, 0]

    gc.callbacks.append(on_collection)
    signal.signal(signal.SIGUSR1, again)
    atexit.register(write)


if _FOLDER:
    _watch(Path(_FOLDER))
