"""The Sandbox object: evaluates and executes diagram code (BPMN/DMN) with host helpers.

The parts it puts together, one job each:
- `compiler`: the static side; RestrictedPython's policy with our guards, compiled and cached.
- `guards`, `builtins`, `limits`: what guarded code calls at run time, and the size bounds.
- `budget`: the time budget, a line tracer that stops diagram code at its limit.
- `cheap`: the static check that says which code is provably cheap.
- `pool`, `worker`: the worker processes with hard limits that run all other code.
- `errors`: the sandbox's errors and the diagram line they came from.

With a pool, code that `cheap.is_cheap` proves cheap runs here, under the line tracer, as
fast as ever; anything else runs in a worker process (pool.py says what is guaranteed).
Without a pool everything runs here: that bounds Python-level loops but neither memory nor a
single long C-level call, so hosts that run diagrams they do not fully trust pass a pool.
"""

from __future__ import annotations

import functools
import keyword
import pickle
import types
from collections.abc import Callable, Mapping
from typing import Any

from engine.sandbox import compiler
from engine.sandbox.budget import run_within_budget
from engine.sandbox.builtins import BUILTINS
from engine.sandbox.cheap import is_cheap
from engine.sandbox.errors import (
    DIAGRAM_FILENAME,
    SandboxCompileError,
    SandboxError,
    SandboxLimitExceeded,
    SandboxTimeout,
    SandboxViolation,
    diagram_line,
)
from engine.sandbox.limits import check_handed_back, check_storable
from engine.sandbox.pool import Limits, WorkerPool, make_pool

__all__ = [
    "DIAGRAM_FILENAME",
    "Limits",
    "Sandbox",
    "SandboxCompileError",
    "SandboxError",
    "SandboxLimitExceeded",
    "SandboxTimeout",
    "SandboxViolation",
    "WorkerPool",
    "diagram_line",
    "make_pool",
]

# The compile cache, under the name tests read its statistics by.
_compile = compiler.compile_code


def _is_usable(name: str) -> bool:
    return name.isidentifier() and not name.startswith("_")


@functools.lru_cache(maxsize=256)
def _raiser(line: int) -> types.CodeType:
    return compile("\n" * (line - 1) + "raise error", DIAGRAM_FILENAME, "exec")


def _raise_at(error: BaseException, line: int | None) -> None:
    """Raise an error a worker sent back from a frame of diagram code at its line, so that
    diagram_line and tracebacks point at the diagram exactly as for code run here."""
    if line and line > 0:
        exec(_raiser(line), {"error": error, "__builtins__": {}})  # noqa: S102 - fixed text
    raise error


def _by_reference(name: str, fn: Callable[..., Any]) -> None:
    """Helpers reach worker processes by reference (module and name): check that works."""
    try:
        same = pickle.loads(pickle.dumps(fn)) is fn  # noqa: S301 - our own bytes
    except Exception:  # noqa: BLE001 - lambdas, closures, bound methods of local objects
        same = False
    if not same:
        raise SandboxError(
            f"helper {name!r} must be a function defined at the top level of a module (not a "
            "lambda, closure or method), so that sandbox worker processes can import it")


class Sandbox:
    """Compiles and runs diagram code with curated builtins, host helpers and a time budget."""

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        *,
        time_limit_seconds: float = 1.0,
        pool: WorkerPool | None = None,
    ) -> None:
        if not time_limit_seconds > 0:
            raise SandboxError("the sandbox time limit must be a positive number of seconds")
        self.time_limit_seconds = float(time_limit_seconds)
        if pool is not None:
            pool.limits.check(self.time_limit_seconds)
        self.pool = pool
        self._helpers: dict[str, Callable[..., Any]] = {}
        self._builtins: dict[str, Any] = dict(BUILTINS)
        for name, fn in (helpers or {}).items():
            self.register(name, fn)

    def register(self, name: str, fn: Callable[..., Any]) -> None:
        """Make a host function callable from diagram code under `name`."""
        if not (isinstance(name, str) and name.isidentifier()) or keyword.iskeyword(name):
            raise SandboxError(f"helper name {name!r} is not a Python identifier")
        if name.startswith("_"):
            raise SandboxError(f"helper name {name!r} must not start with '_'")
        if name in BUILTINS:
            raise SandboxError(f"helper name {name!r} is already a sandbox builtin")
        if not callable(fn):
            raise SandboxError(f"helper {name!r} is not callable")
        if self.pool is not None:
            _by_reference(name, fn)
        self._helpers[name] = fn
        self._builtins = {**BUILTINS, **self._helpers}

    def check_expression(self, source: str) -> list[tuple[int | None, str]]:
        """Problems that keep `source` from compiling as an expression; [] when it is fine."""
        return compiler.check_expression(source)

    def check_script(self, source: str) -> list[tuple[int | None, str]]:
        """Problems that keep `source` from compiling as a script; [] when it is fine."""
        return compiler.check_script(source)

    def evaluate(
        self, source: str, data: Mapping[str, Any], extra: Mapping[str, Any] | None = None
    ) -> Any:
        """The value of expression `source`, with task data (and `extra`) as variables."""
        code = self._code("eval", source)
        if self.pool is not None and not is_cheap("eval", source):
            result = self._in_worker("eval", source, data, extra)
            check_handed_back(result, "a result")
            return result
        namespace = self._namespace(data, extra)
        result = run_within_budget(code, namespace, self.time_limit_seconds)
        check_handed_back(result, "a result")
        return result

    def execute(
        self, source: str, data: dict[str, Any], extra: Mapping[str, Any] | None = None
    ) -> None:
        """Run script `source` on task data, writing its top-level variables back into `data`."""
        code = self._code("exec", source)
        if self.pool is not None and not is_cheap("exec", source):
            after = self._in_worker("exec", source, data, extra)
            check_handed_back(after, "task data")
            check_storable(after)
            removed = [name for name in data if name not in after]
            data.update(after)
            for name in removed:
                del data[name]
            return
        namespace = self._namespace(data, extra)
        exposed = {name for name in data if name in namespace}
        run_within_budget(code, namespace, self.time_limit_seconds)
        updates: dict[str, Any] = {}
        for name, value in namespace.items():
            if name.startswith("_") or name in self._helpers:
                continue
            if extra is not None and name in extra and name not in exposed:
                continue
            if callable(value) or isinstance(value, types.ModuleType):
                continue
            updates[name] = value
        check_handed_back(updates, "task data")
        check_storable(updates)
        removed = [
            name
            for name in exposed
            if name not in updates and (name not in namespace or namespace[name] is not data[name])
        ]
        data.update(updates)
        for name in removed:
            del data[name]

    def close(self) -> None:
        """Stop the worker processes; code that is not cheap cannot run here afterwards."""
        if self.pool is not None:
            self.pool.close()

    def _in_worker(
        self, mode: str, source: str, data: Mapping[str, Any], extra: Mapping[str, Any] | None
    ) -> Any:
        assert self.pool is not None
        request = (mode, source, dict(data), dict(extra) if extra else None, self._helpers,
                   self.time_limit_seconds, self.pool.limits.cpu_seconds)
        status, value, line, _, _ = self.pool.call(request)
        if status != "ok":
            _raise_at(value, line)
        return value

    def _code(self, mode: str, source: str) -> types.CodeType:
        code, errors = compiler.prepare(mode, source)
        if code is None:
            raise SandboxCompileError(errors)
        return code

    def _namespace(
        self, data: Mapping[str, Any], extra: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        namespace = {**extra, **data} if extra else dict(data)
        keys = namespace.keys()
        if self._helpers and not keys.isdisjoint(self._helpers):
            key = sorted(keys & self._helpers.keys())[0]
            raise SandboxError(
                f"task data key {key!r} has the name of a helper function; "
                "rename the data field in the diagram or form"
            )
        # Names starting with '_' cannot be written in diagram code, and must never replace
        # __builtins__ or a guard such as _getattr_. This runs per call: keep the check in C.
        try:
            joined = "\n" + "\n".join(keys)  # identifiers hold no newline
            clean = "\n_" not in joined and all(map(str.isidentifier, keys))
        except TypeError:  # a key that is not a string
            clean = False
        if not clean:
            for key in [k for k in keys if not isinstance(k, str) or not _is_usable(k)]:
                del namespace[key]
        namespace["__builtins__"] = self._builtins
        return namespace
