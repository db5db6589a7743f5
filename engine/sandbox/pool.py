"""The pool of sandbox worker processes that runs diagram code which is not provably cheap.

Why processes: a single built-in call (hashing a deeply shared tuple, `sum(map(...))` over a
huge range, a membership test over a huge list) runs in C while holding the GIL, out of reach
of the line tracer, and stalls every thread of the process; and nothing in one interpreter
bounds the memory a loop allocates. A worker process can be given hard limits by the kernel
and killed. The guarantees:

- every call ends within `wall_seconds` (plus the time to kill a worker): the parent waits on
  the pipe that long, then SIGKILLs the worker and raises SandboxLimitExceeded("wall");
- a worker's address space is capped (`memory_mb` above its start-up size): a MemoryError
  there becomes SandboxLimitExceeded("memory") and the worker is retired;
- a worker's CPU time per call is capped (`cpu_seconds`, RLIMIT_CPU, whole seconds): past it
  the kernel ends the worker, SandboxLimitExceeded("cpu");
- a killed or retired worker is replaced by a fresh one at the next call; workers start
  lazily, one at a time, up to `size`; a process that never runs such code starts none;
- callers beyond `size` wait up to `wall_seconds` for a free worker (each busy one frees
  within its own wall limit), then get SandboxLimitExceeded("workers");
- workers are forked by this process's zygote (zygote.py: safe in a threaded web or
  scheduler process, unlike forking it), die with the process that started them, and are
  stopped by close(), at interpreter exit, and when the pool is garbage-collected; a forked
  child (os.fork after the pool started) never uses its parent's workers: it starts its own.

What crosses the pipe is pickled. The reply comes from a process that ran untrusted code, so
it is unpickled with an allow-list of classes (plain data, dates, decimals, exceptions).
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import io
import json
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Final

from engine.errors import Message
from engine.sandbox.errors import SandboxError, SandboxLimitExceeded

MIB: Final = 1024 * 1024

_ALLOWED: Final[dict[str, frozenset[str]]] = {
    "datetime": frozenset({"date", "datetime", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "zoneinfo": frozenset({"ZoneInfo", "ZoneInfo._unpickle"}),
    "collections": frozenset({"OrderedDict"}),
    "engine.errors": frozenset({"Message"}),  # the text of engine errors
    "builtins": frozenset({"range", "slice", "complex", "set", "frozenset"}),
    "engine.sandbox.errors": frozenset({
        "SandboxError", "SandboxCompileError", "SandboxViolation", "SandboxTimeout",
        "SandboxLimitExceeded"}),
}


class _ReplyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        if module == "builtins":
            found = getattr(builtins, name, None)
            if isinstance(found, type) and issubclass(found, BaseException):
                return found
        raise SandboxError(
            f"diagram code handed back a value of type {module}.{name}; hand back plain "
            "data only (numbers, text, lists, dicts, dates)")


def _load_reply(payload: bytes) -> tuple[Any, ...]:
    return _ReplyUnpickler(io.BytesIO(payload)).load()


@dataclass(frozen=True)
class Limits:
    """The hard limits of one worker call, and how many workers may run at once."""

    workers: int = 2
    memory_mb: int = 512
    cpu_seconds: float = 2.0
    wall_seconds: float = 5.0

    def check(self, time_limit_seconds: float) -> None:
        if self.workers < 1:
            raise SandboxError("the sandbox needs at least one worker process")
        if self.memory_mb < 64:
            raise SandboxError("the sandbox memory limit must be at least 64 MiB")
        if not self.cpu_seconds > 0:
            raise SandboxError("the sandbox CPU limit must be a positive number of seconds")
        if not self.wall_seconds > time_limit_seconds:
            raise SandboxError(
                f"the sandbox wall-clock limit ({self.wall_seconds:g} s) must be longer than "
                f"the script time limit ({time_limit_seconds:g} s)")


# (setting, default) named in the message of each limit, so an operator knows what to change.
SETTINGS: Final = {
    "memory": "ADUAN_SANDBOX_MEMORY_MB",
    "cpu": "ADUAN_SANDBOX_CPU_SECONDS",
    "wall": "ADUAN_SANDBOX_WALL_SECONDS",
    "workers": "ADUAN_SANDBOX_WORKERS",
    "crash": "ADUAN_SANDBOX_MEMORY_MB",
}


def _exceeded(limit: str, limits: Limits) -> SandboxLimitExceeded:
    cpu, wall = f"{limits.cpu_seconds:g}", f"{limits.wall_seconds:g}"
    what = {
        "memory": Message("used more than %(mib)s MiB of memory", mib=limits.memory_mb),
        "cpu": Message("used more than %(seconds)s s of CPU time", seconds=cpu),
        "wall": Message("ran longer than %(seconds)s s", seconds=wall),
        "workers": Message("waited %(seconds)s s for a free sandbox worker (all %(workers)s "
                           "busy)", seconds=wall, workers=limits.workers),
        "crash": Message("made its sandbox worker crash (most likely out of memory)"),
    }[limit]
    if limit == "workers":
        message = Message("diagram code %(what)s (limit: %(limit)s, setting %(setting)s); "
                          "simplify the expression or script in the diagram",
                          what=what, limit=limit, setting=SETTINGS[limit])
    else:
        message = Message("diagram code %(what)s and was stopped (limit: %(limit)s, setting "
                          "%(setting)s); simplify the expression or script in the diagram",
                          what=what, limit=limit, setting=SETTINGS[limit])
    return SandboxLimitExceeded(message, limit)


class _Zygote:
    """This process's fork server of workers (zygote.py), started with fork+exec."""

    def __init__(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", "from engine.sandbox.zygote import main; main()",
             json.dumps(sys.path), str(child.fileno())],
            pass_fds=[child.fileno()], stdin=subprocess.DEVNULL)
        child.close()
        parent.settimeout(60)  # the first answer waits for the zygote's imports
        self.control = parent
        self.owner = os.getpid()
        self.lock = threading.Lock()

    def _ask(self, message: bytes, fds: list[int] | None = None) -> int:
        with self.lock:
            try:
                if fds:
                    socket.send_fds(self.control, [message], fds)
                else:
                    self.control.send(message)
                answer = self.control.recv(16)
            except OSError as exc:
                raise SandboxError(f"the sandbox fork server does not answer ({exc})") from None
        if len(answer) != 9:
            raise SandboxError("the sandbox fork server stopped; see the log for why")
        return int(struct.unpack("!q", answer[1:9])[0])

    def start(self, memory_bytes: int) -> tuple[int, Connection]:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = self._ask(b"S" + struct.pack("!q", memory_bytes), [theirs.fileno()])
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        return pid, Connection(mine.detach())

    def reap(self, pid: int) -> int | None:
        try:
            return self._ask(b"R" + struct.pack("!q", pid))
        except SandboxError:
            return None

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None


_zygote_lock = threading.Lock()
_zygote: _Zygote | None = None


def _fork_server() -> _Zygote:
    global _zygote
    with _zygote_lock:
        if _zygote is None or not _zygote.alive():
            if _zygote is not None and _zygote.owner != os.getpid():
                _zygote.control.close()  # our copy of our parent's: let it see its EOF
            _zygote = _Zygote()
        return _zygote


@atexit.register
def _stop_fork_server() -> None:
    """Close our end of the fork server's socket at exit, so that it and its workers end now
    (not when the garbage collector finds the Popen of a process still running)."""
    global _zygote
    with _zygote_lock:
        zygote, _zygote = _zygote, None
    if zygote is None or zygote.owner != os.getpid():
        return
    zygote.control.close()
    try:
        zygote.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        zygote.process.kill()
        zygote.process.wait()


class _Worker:
    __slots__ = ("conn", "dead", "pid", "zygote")

    def __init__(self, memory_mb: int) -> None:
        self.zygote = _fork_server()
        self.pid, self.conn = self.zygote.start(memory_mb * MIB)
        self.dead: int | None = None

    def kill(self) -> int:
        """SIGKILL the worker and reap it; its exit code (negative: the signal), once."""
        if self.dead is None:
            self.dead = 0
            with contextlib.suppress(ProcessLookupError):  # a zombie until reaped: still ours
                os.kill(self.pid, signal.SIGKILL)
            self.conn.close()
            self.dead = self.zygote.reap(self.pid) or 0
        return self.dead

    def death(self) -> str:
        """Which limit the worker died of, once its pipe closed."""
        code = self.kill()
        if code == -signal.SIGXCPU:
            return "cpu"
        # The kernel's OOM killer, or C code that met the address-space cap head-on.
        return "memory" if code == -signal.SIGKILL else "crash"


def _kill_all(workers: list[_Worker], owner: list[int]) -> None:
    if owner[0] != os.getpid():  # a forked child must not kill its parent's workers
        return
    for worker in workers:
        worker.kill()
    workers.clear()


class WorkerPool:
    """Runs sandbox requests in worker processes with hard limits; thread-safe."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.started = 0  # workers started so far, replacements included
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._owner = [os.getpid()]
        self._closed = False
        # Kill the workers with the pool, or at exit, whichever comes first.
        self._finalizer = weakref.finalize(self, _kill_all, self._all, self._owner)
        self._finalizer.atexit = True

    def call(self, request: tuple[Any, ...]) -> tuple[Any, ...]:
        """Send one request; the worker's reply (status, value, line, memory, retire)."""
        try:
            payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - a value the worker could not receive
            raise SandboxError(
                f"task data cannot be handed to a sandbox worker ({exc}); keep task data to "
                "plain values (numbers, text, lists, dicts, dates)") from None
        worker = self._acquire()
        healthy = False
        try:
            worker.conn.send_bytes(payload)
            if not worker.conn.poll(self.limits.wall_seconds):
                raise _exceeded("wall", self.limits)
            try:
                raw = worker.conn.recv_bytes()
            except (EOFError, OSError):
                raise _exceeded(worker.death(), self.limits) from None
            reply = _load_reply(raw)
            if reply[3]:  # a MemoryError in the worker
                raise _exceeded("memory", self.limits)
            healthy = not reply[4]
            return reply
        finally:
            self._release(worker, healthy)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers, self._idle = list(self._all), []
            self._all.clear()
            self._cond.notify_all()
        _kill_all(workers, self._owner)

    # ------------------------------------------------------------------ workers

    def _acquire(self) -> _Worker:
        deadline = time.monotonic() + self.limits.wall_seconds
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("the sandbox worker pool is closed")
                if self._owner[0] != os.getpid():  # a forked child: those are its parent's
                    self._owner[0], self._idle = os.getpid(), []
                    self._all.clear()
                if self._idle:
                    return self._idle.pop()
                if len(self._all) < self.limits.workers:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _exceeded("workers", self.limits)
                self._cond.wait(remaining)
            placeholder = _Placeholder()
            self._all.append(placeholder)  # type: ignore[arg-type]
        try:
            worker = _Worker(self.limits.memory_mb)
        except BaseException:
            with self._cond:
                self._all.remove(placeholder)  # type: ignore[arg-type]
                self._cond.notify()
            raise
        with self._cond:
            self._all[self._all.index(placeholder)] = worker  # type: ignore[arg-type]
            self.started += 1
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            known = worker in self._all
            if healthy and known and not self._closed:
                self._idle.append(worker)
            elif known:
                self._all.remove(worker)
            self._cond.notify()
        if not healthy:
            worker.kill()


class _Placeholder:
    """Holds a worker's place in the pool while it starts, outside the lock."""

    def kill(self) -> None:
        pass


def make_pool(limits: Limits | None, time_limit_seconds: float) -> WorkerPool | None:
    if limits is None or limits.workers == 0:
        return None
    limits.check(time_limit_seconds)
    return WorkerPool(limits)

