"""The Sandbox object: evaluates and executes diagram code (BPMN/DMN) with host helpers.

The parts it puts together, one job each:
- `compiler`: the static side; RestrictedPython's policy with our guards, compiled and cached.
- `guards`, `builtins`, `limits`: what guarded code calls at run time, and the size bounds.
- `budget`: the time budget, a line tracer that stops diagram code at its limit.
- `errors`: the sandbox's errors and the diagram line they came from.
"""

from __future__ import annotations

import keyword
import types
from collections.abc import Callable, Mapping
from typing import Any

from engine.sandbox import compiler
from engine.sandbox.budget import run_within_budget
from engine.sandbox.builtins import BUILTINS
from engine.sandbox.errors import (
    DIAGRAM_FILENAME,
    SandboxCompileError,
    SandboxError,
    SandboxTimeout,
    SandboxViolation,
    diagram_line,
)
from engine.sandbox.limits import check_handed_back, check_storable

__all__ = [
    "DIAGRAM_FILENAME",
    "Sandbox",
    "SandboxCompileError",
    "SandboxError",
    "SandboxTimeout",
    "SandboxViolation",
    "diagram_line",
]

# The compile cache, under the name tests read its statistics by.
_compile = compiler.compile_code


def _is_usable(name: str) -> bool:
    return name.isidentifier() and not name.startswith("_")


class Sandbox:
    """Compiles and runs diagram code with curated builtins, host helpers and a time budget."""

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        *,
        time_limit_seconds: float = 1.0,
    ) -> None:
        if not time_limit_seconds > 0:
            raise SandboxError("the sandbox time limit must be a positive number of seconds")
        self.time_limit_seconds = float(time_limit_seconds)
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
        namespace = self._namespace(data, extra)
        result = run_within_budget(code, namespace, self.time_limit_seconds)
        check_handed_back(result, "a result")
        return result

    def execute(
        self, source: str, data: dict[str, Any], extra: Mapping[str, Any] | None = None
    ) -> None:
        """Run script `source` on task data, writing its top-level variables back into `data`."""
        code = self._code("exec", source)
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
