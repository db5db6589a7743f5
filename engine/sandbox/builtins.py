"""The builtins diagram code sees: curated ones, size-checked ones, refusals, and the guards."""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from engine.sandbox.errors import refuse
from engine.sandbox.guards import GUARDS, SafeStr
from engine.sandbox.limits import MAX_INT_BITS, MAX_ITEMS, SEQUENCES, check_count, check_division


def _range(*args: int) -> range:
    result = range(*args)
    try:
        length = len(result)
    except OverflowError:
        length = MAX_ITEMS + 1
    check_count(length, "a range")
    return result


def _sum(iterable: Any, /, start: Any = 0) -> Any:
    if isinstance(start, SEQUENCES):
        raise refuse("may only sum numbers; join texts with ''.join(...)")
    return sum(iterable, start)


def _round(number: Any, ndigits: int | None = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > MAX_INT_BITS:
        raise refuse(f"asked round() for {ndigits:,} digits")
    return round(number, ndigits)


def _divmod(a: Any, b: Any) -> Any:
    check_division(a, b)
    return divmod(a, b)


# C code such as datetime.strftime imports helper modules through the current frame's
# __builtins__. Diagram code itself can never name __import__ (names starting with '_' do
# not compile), so this only serves those C-level imports.
_C_LEVEL_IMPORTS: Final = frozenset({"time", "_strptime", "calendar", "locale", "unicodedata"})


def _c_level_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] = (),
    level: int = 0,
) -> types.ModuleType:
    if level == 0 and (name in _C_LEVEL_IMPORTS or name.startswith("encodings")):
        return __import__(name, globals, locals, fromlist, level)
    raise refuse("imports are not allowed in diagram code")


def _unavailable(name: str) -> Callable[..., Any]:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise refuse(f"called {name}(), which is not available in diagram code")

    unavailable.__name__ = name
    return unavailable


_EXCEPTIONS: Final = (
    ArithmeticError, AssertionError, AttributeError, Exception, IndexError, KeyError,
    LookupError, NameError, NotImplementedError, OverflowError, RecursionError,
    RuntimeError, StopIteration, TypeError, UnboundLocalError, ValueError, ZeroDivisionError,
)  # fmt: skip
_UNAVAILABLE: Final = (
    "breakpoint", "bytearray", "classmethod", "compile", "delattr", "dir", "eval", "exec",
    "exit", "getattr", "globals", "hasattr", "help", "input", "locals", "memoryview",
    "object", "open", "property", "quit", "setattr", "staticmethod", "super", "type", "vars",
)  # fmt: skip

BUILTINS: Final[Mapping[str, Any]] = types.MappingProxyType(
    {
        "None": None,
        "True": True,
        "False": False,
        "abs": abs,
        "all": all,
        "any": any,
        "bool": bool,
        "dict": dict,
        "divmod": _divmod,
        "enumerate": enumerate,
        "filter": filter,
        "float": float,
        "int": int,
        "isinstance": isinstance,
        "len": len,
        "list": list,
        "map": map,
        "max": max,
        "min": min,
        "range": _range,
        "reversed": reversed,
        "round": _round,
        "set": set,
        "sorted": sorted,
        "str": SafeStr,
        "sum": _sum,
        "tuple": tuple,
        "zip": zip,
        **{cls.__name__: cls for cls in _EXCEPTIONS},
        **{name: _unavailable(name) for name in _UNAVAILABLE},
        "__import__": _c_level_import,
        **GUARDS,
    }
)
