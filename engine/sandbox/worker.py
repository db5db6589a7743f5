"""The sandbox worker process: runs diagram code that is not provably cheap, under hard limits.

Started by engine/sandbox/pool.py from multiprocessing's fork server, which preloads this
module (so a new worker is a fork of a warm interpreter, not a fresh one). In the worker:
- the address space is capped (RLIMIT_AS) at what it uses after start-up plus the memory
  limit, and core dumps are off (RLIMIT_CORE 0);
- before each call the CPU limit (RLIMIT_CPU) is set to the CPU time used so far plus the
  call's allowance: past it the kernel sends SIGXCPU, whose default action ends the process;
- the code itself runs in the ordinary in-process sandbox (compiler, guards, line-tracer
  budget), so every rule of the language is the same wherever it runs;
- the worker dies with its parent: the kernel kills it when the fork server exits
  (PR_SET_PDEATHSIG, Linux), and it leaves its loop when the parent closes the pipe.
The parent kills it (SIGKILL) when it overruns the wall-clock limit.

Requests and replies are pickled tuples (see pool.py); a reply asks the parent to retire the
worker after a MemoryError or once it has grown past half its memory allowance.
"""

from __future__ import annotations

import ctypes
import math
import os
import pickle
import resource
import signal
from multiprocessing.connection import Connection
from typing import Any

from engine.sandbox import Sandbox
from engine.sandbox.errors import SandboxError, diagram_line, refuse

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF ends the loop instead
        pass


def _address_space() -> int | None:
    """Bytes of address space this process uses now (Linux), or None where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _limit_memory(memory_bytes: int) -> int:
    """Cap the address space; returns the size past which the worker asks to be retired."""
    base = _address_space() or 0
    cap = base + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return base + memory_bytes // 2


def _limit_cpu(seconds: float) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _memory_error_in(exc: BaseException) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 20:
        if isinstance(current, MemoryError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _run(request: tuple[Any, ...]) -> Any:
    mode, source, data, extra, helpers, time_limit, cpu_seconds = request
    _limit_cpu(cpu_seconds)
    sandbox = Sandbox(helpers, time_limit_seconds=time_limit)
    if mode == "eval":
        return sandbox.evaluate(source, data, extra)
    sandbox.execute(source, data, extra)
    return data


def _dump(reply: tuple[Any, ...]) -> bytes:
    return pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)


def _error(exc: BaseException, retire: bool) -> bytes:
    """('error', exception, diagram line, hit the memory limit, retire me), pickled."""
    memory = _memory_error_in(exc)
    line = diagram_line(exc)
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    try:
        return _dump(("error", exc, line, memory, retire or memory))
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text does
        text = f"{type(exc).__name__}: {exc}"[:2000]
        return _dump(("error", SandboxError(text), line, memory, retire or memory))


def _reply(request: tuple[Any, ...], retire_at: int) -> bytes:
    try:
        value = _run(request)
    except BaseException as exc:  # noqa: BLE001 - every failure is the caller's to see
        return _error(exc, (_address_space() or 0) > retire_at)
    retire = (_address_space() or 0) > retire_at
    try:
        return _dump(("ok", value, None, False, retire))
    except Exception as exc:  # noqa: BLE001 - e.g. a lazy map over a diagram lambda
        return _error(refuse(f"handed back a value that cannot leave the sandbox ({exc})"),
                      retire)


def serve(conn: Connection, memory_bytes: int) -> None:
    """The worker's loop: one request in, one reply out, until the parent closes the pipe."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    retire_at = _limit_memory(memory_bytes)
    while True:
        try:
            request = pickle.loads(conn.recv_bytes())  # noqa: S301 - from the engine
        except (EOFError, OSError):
            return
        try:
            reply = _reply(request, retire_at)
        except MemoryError:  # even the error could not be written
            reply = _dump(("error", None, None, True, True))
        try:
            conn.send_bytes(reply)
        except (EOFError, OSError):
            return
