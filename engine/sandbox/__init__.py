"""The restricted, time- and size-bounded sandbox in which all diagram code (BPMN/DMN) runs."""

from __future__ import annotations

import ast
import functools
import keyword
import math
import operator
import re
import sys
import textwrap
import threading
import time
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_,
    safer_getattr,
)
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    RestrictingNodeTransformer,
    copy_locations,
)

from engine.errors import EngineError

DIAGRAM_FILENAME: Final = "<diagram>"
MAX_ITEMS: Final = 1_000_000  # longest sequence or string diagram code may build in one step
MAX_INT_BITS: Final = 10_000  # largest integer result of *, ** and <<
MAX_TEXT: Final = 1_000_000  # longest text str(), f-strings and % formatting may produce
MAX_DATA: Final = 10_000_000  # rough size (as text) of what a call may hand back to the engine
CLOCK_EVERY: Final = 4  # line events between two looks at the clock
CACHE_SIZE: Final = 2048


class SandboxError(EngineError):
    """Diagram code could not be run safely; str() says what to change in the diagram."""


class SandboxCompileError(SandboxError):
    """Diagram code that does not compile or uses something the sandbox refuses."""

    def __init__(self, errors: Sequence[tuple[int | None, str]]) -> None:
        self.errors = list(errors)
        self.line = self.errors[0][0] if self.errors else None
        problems = "; ".join(
            f"line {line}: {message}" if line else message for line, message in self.errors
        )
        super().__init__(f"diagram code cannot be run ({problems}); the diagram must be changed")


class SandboxViolation(SandboxError):
    """Diagram code tried something forbidden at run time (an escape or a huge value)."""


class SandboxTimeout(SandboxError):
    """Diagram code used up its time budget and was stopped."""


def diagram_line(exc: BaseException) -> int | None:
    """The line of diagram code where `exc` was raised, if it came from diagram code."""
    line = getattr(exc, "line", None) if isinstance(exc, SandboxCompileError) else None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == DIAGRAM_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _refuse(message: str) -> SandboxViolation:
    return SandboxViolation(f"diagram code {message}; the diagram must be changed")


# --------------------------------------------------------------------------- time budget

_local = threading.local()


class _Budget:
    """The time budget of one evaluate/execute call, enforced by a per-thread tracer."""

    __slots__ = ("countdown", "deadline", "expired", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = time.perf_counter() + limit
        self.countdown = CLOCK_EVERY
        self.expired = False

    def check(self) -> None:
        if self.expired or time.perf_counter() > self.deadline:
            self.expired = True
            raise SandboxTimeout(
                f"diagram code ran longer than {self.limit:g} s and was stopped; "
                "simplify the expression or script in the diagram"
            )

    def trace_call(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        # Only diagram frames are traced line by line; host helpers are trusted code.
        if frame.f_code.co_filename != DIAGRAM_FILENAME:
            return None
        self.check()
        return self.trace_line

    def trace_line(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        self.countdown -= 1
        if self.countdown <= 0:
            self.countdown = CLOCK_EVERY
            self.check()
        return self.trace_line


def _budgets() -> list[_Budget]:
    stack: list[_Budget] | None = getattr(_local, "budgets", None)
    if stack is None:
        stack = _local.budgets = []
    return stack


def _checkpoint() -> None:
    """Injected at the top of every except/finally block of diagram code.

    CPython switches a tracer off when it raises (SandboxTimeout, or a RecursionError or
    MemoryError inside the tracer itself), so code that catches that exception would run on
    untraced. Every handler therefore re-checks the budget and re-installs the tracer.
    """
    stack = _budgets()
    if not stack:
        raise _refuse("ran outside of a sandbox call")
    budget = stack[-1]
    budget.check()
    if sys.gettrace() != budget.trace_call:
        sys.settrace(budget.trace_call)
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename == DIAGRAM_FILENAME:
            frame.f_trace = budget.trace_line
            frame = frame.f_back


# --------------------------------------------------------------------------- size guards

_SEQUENCES: Final = (str, bytes, list, tuple)
# Containers whose text form shows every element (dict views included).
_CONTAINERS: Final = (
    list, tuple, set, frozenset, type({}.keys()), type({}.values()), type({}.items()),
)  # fmt: skip


_WALKED: Final = (*_CONTAINERS, dict, BaseException)


class _Leave:
    """A marker on _estimate's stack: the walk has finished the container `key`."""

    __slots__ = ("key",)

    def __init__(self, key: int) -> None:
        self.key = key


def _estimate(value: Any, budget: int, *, handed_back: bool = False) -> int:
    """Rough length of `value` as text, counting shared references each time they occur.

    Stops as soon as `budget` is exceeded or too many elements were visited, and at once
    when a container holds itself (directly or deeper down: it never ends as text), so the
    cost stays bounded.
    """
    total = 0
    pending: list[Any] = [value]
    inside: set[int] = set()  # the containers on the path from `value` to the current item
    visits = 0
    while pending:
        item = pending.pop()
        if type(item) is _Leave:
            inside.discard(item.key)
            continue
        visits += 1
        if visits > 2 * MAX_ITEMS:
            return budget + 1
        if isinstance(item, str | bytes):
            total += len(item) + 1
        elif isinstance(item, bool) or item is None:
            total += 1
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, _WALKED):
            if id(item) in inside:
                return budget + 1
            if isinstance(item, dict):
                total += 1 + 2 * len(item)
                children: Any = (*item.keys(), *item.values()) if total <= budget else ()
            elif isinstance(item, BaseException):  # its text shows its arguments
                total += 8 + len(item.args)
                children = item.args
            else:
                total += 1 + len(item)
                children = item
            if total <= budget:
                inside.add(id(item))
                pending.append(_Leave(id(item)))
                pending.extend(children)
        else:
            if handed_back and (
                isinstance(item, types.GeneratorType)
                or (
                    isinstance(item, types.FunctionType)
                    and item.__code__.co_filename == DIAGRAM_FILENAME
                )
            ):
                raise _refuse("cannot hand functions or generators back to the engine")
            total += 8
        if total > budget:
            break
    return total


def _check_handed_back(value: Any, what: str) -> None:
    if _estimate(value, MAX_DATA, handed_back=True) > MAX_DATA:
        raise _refuse(f"produced {what} too large to keep (over about {MAX_DATA:,} characters)")


def _check_text(value: Any) -> None:
    if not isinstance(value, str) and _estimate(value, MAX_TEXT) > MAX_TEXT:
        raise _refuse(f"tried to turn a value into text longer than {MAX_TEXT:,} characters")


def _check_count(count: int, what: str) -> None:
    if count > MAX_ITEMS:
        raise _refuse(f"tried to build {what} of about {count:,} items (limit {MAX_ITEMS:,})")


def _check_int_bits(bits: float, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise _refuse(f"tried to compute {what} of about {bits:,.0f} bits (limit {MAX_INT_BITS:,})")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        _check_int_bits(a.bit_length() + b.bit_length(), "a product")
        return
    if isinstance(b, _SEQUENCES) and isinstance(a, int):
        a, b = b, a
    if isinstance(a, _SEQUENCES) and isinstance(b, int) and b > 1:
        _check_count(len(a) * b, "a repeated sequence")
        # [big] * n copies references only, but str(), sorting or storing the result does not.
        if isinstance(a, list | tuple) and a and _estimate(a, MAX_DATA // b) * b > MAX_DATA:
            raise _refuse(f"tried to repeat a large sequence {b:,} times")


def _check_concat(a: Any, b: Any) -> None:
    if isinstance(a, _SEQUENCES) and hasattr(b, "__len__"):
        _check_count(len(a) + len(b), "a sequence")


def _check_pow(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 1 and abs(a) > 1:
        _check_int_bits(b if b > MAX_INT_BITS else b * math.log2(abs(a)), "a power")


def _check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        _check_int_bits(a.bit_length() + b, "a shift")


def _check_division(a: Any, b: Any) -> None:
    # Long division is quadratic and runs in C, out of reach of the time budget.
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and min(a.bit_length(), b.bit_length()) > MAX_INT_BITS
    ):
        raise _refuse(f"tried to divide two integers of more than {MAX_INT_BITS:,} bits")


_PERCENT_SPEC: Final = re.compile(
    r"%(?:\(([^)]*)\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]"
)


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 9 else MAX_TEXT + 1


def _check_mod(a: Any, b: Any) -> None:
    if not isinstance(a, str | bytes):
        _check_division(a, b)
        return
    text = a if isinstance(a, str) else a.decode("latin-1")
    total, star, keys = len(text), False, []
    for match in _PERCENT_SPEC.finditer(text):
        key, width, precision = match.groups()
        for part in (width, precision):
            if part == "*":
                star = True
            elif part:
                total += _number(part)
        if key is not None:
            keys.append(key)
    if star and isinstance(b, tuple):
        total += sum(n for n in b if isinstance(n, int) and n > 0)
    if keys and isinstance(b, dict):
        for key in keys:
            total += _estimate(b.get(key), MAX_TEXT)
            if total > MAX_TEXT:
                break
    else:
        total += _estimate(b, MAX_TEXT)
    if total > MAX_TEXT:
        raise _refuse(f"tried to %-format a text longer than {MAX_TEXT:,} characters")


def _check_format_spec(spec: str) -> None:
    for digits in re.findall(r"\d+", spec):
        if _number(digits) > MAX_TEXT:
            raise _refuse(f"used a format width or precision over {MAX_TEXT:,}")


def _guarded_binop(check: Callable[[Any, Any], None], op: Callable[[Any, Any], Any]) -> Any:
    def guarded(a: Any, b: Any) -> Any:
        check(a, b)
        return op(a, b)

    return guarded


_INPLACE: Final[dict[str, tuple[Callable[[Any, Any], None] | None, Callable[[Any, Any], Any]]]] = {
    "+=": (_check_concat, operator.iadd),
    "-=": (None, operator.isub),
    "*=": (_check_mul, operator.imul),
    "/=": (None, operator.itruediv),
    "//=": (_check_division, operator.ifloordiv),
    "%=": (_check_mod, operator.imod),
    "**=": (_check_pow, operator.ipow),
    "<<=": (_check_lshift, operator.ilshift),
    ">>=": (None, operator.irshift),
    "|=": (None, operator.ior),
    "^=": (None, operator.ixor),
    "&=": (None, operator.iand),
    "@=": (None, operator.imatmul),
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    check, apply = _INPLACE[op]
    if check is not None:
        check(target, value)
    return apply(target, value)


_CONVERSIONS: Final[dict[int, Callable[[Any], str]]] = {
    ord("s"): str,
    ord("r"): repr,
    ord("a"): ascii,
}


def _format(value: Any, conversion: int, spec: str) -> str:
    """f-string fields: the same text limits as str() and % formatting."""
    if conversion != -1:
        _check_text(value)
        value = _CONVERSIONS[conversion](value)
    _check_format_spec(spec)
    if not spec:
        _check_text(value)
    return format(value, spec)


# --------------------------------------------------------------------------- attribute guard


def _width_arg(position: int, name: str, default: int) -> Callable[..., None]:
    def check(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        width = args[position] if len(args) > position else kwargs.get(name, default)
        if isinstance(width, int) and width > MAX_TEXT:
            raise _refuse(f"asked for a text or byte string of {width:,} characters")

    return check


def _check_expandtabs(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    size = args[0] if args else kwargs.get("tabsize", 8)
    if isinstance(owner, str | bytes) and isinstance(size, int):
        tab = "\t" if isinstance(owner, str) else b"\t"
        _check_count(len(owner) + owner.count(tab) * max(size, 0), "a text")


def _check_replace(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if len(args) < 2 or not isinstance(owner, str | bytes):
        return
    old, new = args[0], args[1]
    if not (isinstance(old, str | bytes) and isinstance(new, str | bytes)):
        return
    count = owner.count(old) if old else len(owner) + 1
    limit = args[2] if len(args) > 2 else kwargs.get("count", -1)
    if isinstance(limit, int) and limit >= 0:
        count = min(count, limit)
    _check_count(len(owner) + count * (len(new) - len(old)), "a text")


def _check_translate(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if not isinstance(owner, str) or not args:
        return
    table = args[0]
    if isinstance(table, dict):
        values: Any = table.values()
    elif isinstance(table, list | tuple):
        values = table
    else:
        raise _refuse("may only translate with a dict, list or tuple table")
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    _check_count(len(owner) * max(longest, 1), "a text")


def _check_join(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if not isinstance(owner, str | bytes) or len(args) != 1:
        return args
    items = list(args[0])
    size = sum(len(item) for item in items if isinstance(item, str | bytes))
    _check_count(size + len(owner) * max(len(items) - 1, 0), "a joined text")
    return (items,)


def _check_extend(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if isinstance(owner, list) and args and hasattr(args[0], "__len__"):
        _check_count(len(owner) + len(args[0]), "a list")


def _check_to_bytes(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _width_arg(0, "length", 1)(owner, args, kwargs)


_METHOD_GUARDS: Final[dict[str, Callable[..., Any]]] = {
    "ljust": _width_arg(0, "width", 0),
    "rjust": _width_arg(0, "width", 0),
    "center": _width_arg(0, "width", 0),
    "zfill": _width_arg(0, "width", 0),
    "expandtabs": _check_expandtabs,
    "replace": _check_replace,
    "translate": _check_translate,
    "join": _check_join,
    "extend": _check_extend,
    "to_bytes": _check_to_bytes,
}
_GUARDED_OWNERS: Final = (str, bytes, list, int)
_BLOCKED_ATTRIBUTES: Final = frozenset({"format", "format_map", "mro"})


def _guard_method(owner: Any, name: str, method: Any) -> Any:
    guard = _METHOD_GUARDS[name]
    if isinstance(owner, type) and issubclass(owner, _GUARDED_OWNERS):

        def unbound(instance: Any, *args: Any, **kwargs: Any) -> Any:
            args = guard(instance, args, kwargs) or args
            return method(instance, *args, **kwargs)

        return unbound
    if isinstance(owner, _GUARDED_OWNERS):

        def bound(*args: Any, **kwargs: Any) -> Any:
            args = guard(owner, args, kwargs) or args
            return method(*args, **kwargs)

        return bound
    return method


def _getattr(owner: Any, name: str) -> Any:
    if type(owner) is _GuardedTypeMeta:
        owner = owner.wrapped
    if name.startswith("_") or name in INSPECT_ATTRIBUTES or name in _BLOCKED_ATTRIBUTES:
        raise _refuse(f"may not read the attribute {name!r}")
    value = safer_getattr(owner, name, raise_)
    if name in _METHOD_GUARDS:
        return _guard_method(owner, name, value)
    return value


class _ListWriter:
    """What `_write_` hands out for a list: item writes pass, growth is bounded."""

    __slots__ = ("target",)

    def __init__(self, target: list[Any]) -> None:
        object.__setattr__(self, "target", target)

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            value = value if hasattr(value, "__len__") else list(value)
            start, stop, step = key.indices(len(self.target))
            removed = len(range(start, stop, step))
            _check_count(len(self.target) - removed + len(value), "a list")
        self.target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.target[key]

    def __setattr__(self, name: str, value: Any) -> None:
        raise _refuse(f"may not set the attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        raise _refuse(f"may not delete the attribute {name!r}")


def _write(target: Any) -> Any:
    if isinstance(target, dict):
        return target
    if isinstance(target, list):
        return _ListWriter(target)
    raise _refuse(f"may only change items of dicts and lists, not of a {type(target).__name__}")


def _getitem(container: Any, key: Any) -> Any:
    return container[key]


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


class _DiscardedPrint:
    """print() in diagram code goes nowhere (and `printed` is always empty)."""

    def __init__(self, getattr_: Any = None) -> None:
        pass

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        return None

    def __call__(self) -> str:
        return ""


# --------------------------------------------------------------------------- builtins


class _GuardedTypeMeta(type):
    """Stand-in for a built-in type whose constructor needs a size check.

    isinstance() still works against it; calling it goes through `construct`.
    """

    wrapped: type
    construct: Callable[..., Any]

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.wrapped)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls.wrapped)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.construct(*args, **kwargs)

    def __repr__(cls) -> str:
        return repr(cls.wrapped)


def _construct_str(*args: Any, **kwargs: Any) -> str:
    if len(args) == 1 and not kwargs:
        _check_text(args[0])
    return str(*args, **kwargs)


_SafeStr = _GuardedTypeMeta("str", (), {"wrapped": str, "construct": staticmethod(_construct_str)})


def _range(*args: int) -> range:
    result = range(*args)
    try:
        length = len(result)
    except OverflowError:
        length = MAX_ITEMS + 1
    _check_count(length, "a range")
    return result


def _sum(iterable: Any, /, start: Any = 0) -> Any:
    if isinstance(start, _SEQUENCES):
        raise _refuse("may only sum numbers; join texts with ''.join(...)")
    return sum(iterable, start)


def _round(number: Any, ndigits: int | None = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > MAX_INT_BITS:
        raise _refuse(f"asked round() for {ndigits:,} digits")
    return round(number, ndigits)


def _divmod(a: Any, b: Any) -> Any:
    _check_division(a, b)
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
    raise _refuse("imports are not allowed in diagram code")


def _unavailable(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise _refuse(f"called {name}(), which is not available in diagram code")

    refuse.__name__ = name
    return refuse


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
        "str": _SafeStr,
        "sum": _sum,
        "tuple": tuple,
        "zip": zip,
        **{cls.__name__: cls for cls in _EXCEPTIONS},
        **{name: _unavailable(name) for name in _UNAVAILABLE},
        "__import__": _c_level_import,
        # The names RestrictedPython's rewritten code calls, plus our own guards.
        "_getattr_": _getattr,
        "_getitem_": _getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": _write,
        "_inplacevar_": _inplacevar,
        "_apply_": _apply,
        "_print_": _DiscardedPrint,
        "_print": _DiscardedPrint(),
        "_mul_": _guarded_binop(_check_mul, operator.mul),
        "_add_": _guarded_binop(_check_concat, operator.add),
        "_pow_": _guarded_binop(_check_pow, operator.pow),
        "_lshift_": _guarded_binop(_check_lshift, operator.lshift),
        "_mod_": _guarded_binop(_check_mod, operator.mod),
        "_floordiv_": _guarded_binop(_check_division, operator.floordiv),
        "_format_": _format,
        "_checkpoint_": _checkpoint,
    }
)


# --------------------------------------------------------------------------- compiling

_GUARDED_BINOPS: Final[dict[type[ast.operator], str]] = {
    ast.Mult: "_mul_",
    ast.Add: "_add_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
    ast.FloorDiv: "_floordiv_",
}


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, where)
    return node


def _is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float | complex)


def _harmless_with_number(node: ast.BinOp) -> bool:
    """`x + 1` and `n // 2` cannot grow out of bounds: spare them the guard call.

    (`s % 7` is not harmless: s may be a format string with a huge width.)
    """
    if isinstance(node.op, ast.Add):
        return _is_number(node.left) or _is_number(node.right)
    return isinstance(node.op, ast.FloorDiv) and _is_number(node.right)


class _DiagramPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus size guards, budget checkpoints and clearer refusals."""

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, "imports are not allowed in diagram code")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, "imports are not allowed in diagram code")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed in diagram code")
        return node

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        # A suspended generator's finally block could run later, outside any time budget.
        self.error(node, "generators (yield) are not allowed in diagram code")
        return node

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        self.error(node, "generators (yield from) are not allowed in diagram code")
        return node

    def visit_Constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, int) and node.value.bit_length() > MAX_INT_BITS:
            self.error(node, f"integer literals may have at most {MAX_INT_BITS:,} bits")
        return super().visit_Constant(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        if guard is None or _harmless_with_number(node):
            return node
        return _call(guard, [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant("")
        node.value = _call("_format_", [node.value, ast.Constant(node.conversion), spec], node)
        node.conversion = -1
        node.format_spec = None
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = super().visit_ExceptHandler(node)
        node.body.insert(0, ast.Expr(_call("_checkpoint_", [], node)))
        copy_locations(node.body[0], node)
        if node.type is not None:  # `except f():` would run f before the body's checkpoint
            checked = ast.BoolOp(op=ast.Or(), values=[_call("_checkpoint_", [], node), node.type])
            copy_locations(checked, node.type)
            node.type = checked
        return node

    def visit_While(self, node: ast.While) -> Any:
        node = super().visit_While(node)
        # `while True: pass` compiles to a jump onto itself, which emits no line events;
        # a name load at the top of the body gives the tracer a line to stop on.
        marker = ast.Expr(ast.Name("_checkpoint_", ast.Load()))
        copy_locations(marker, node)
        node.body.insert(0, marker)
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        node = super().visit_Try(node)
        if node.finalbody:
            node.finalbody.insert(0, ast.Expr(_call("_checkpoint_", [], node.finalbody[0])))
            copy_locations(node.finalbody[0], node.finalbody[1])
        return node


_Compiled = tuple[types.CodeType | None, tuple[tuple[int | None, str], ...]]


def _parse_error(text: str) -> tuple[int | None, str]:
    match = re.match(r"Line (\d+|None): (.*)", text, re.DOTALL)
    if match is None:
        return None, text
    line = match.group(1)
    return (int(line) if line.isdigit() else None), match.group(2)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile(mode: str, source: str) -> _Compiled:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=DIAGRAM_FILENAME, policy=_DiagramPolicy)
    except (RecursionError, MemoryError):
        return None, ((None, "the code is nested too deeply"),)
    except SyntaxError as exc:  # raised by compile() itself, e.g. 'return' outside a function
        return None, ((exc.lineno, exc.msg),)
    except ValueError as exc:
        return None, ((None, str(exc)),)
    if result.errors or result.code is None:
        return None, tuple(_parse_error(error) for error in result.errors) or (
            (None, "the code does not compile"),
        )
    return result.code, ()


def _prepare(mode: str, source: str) -> _Compiled:
    if not isinstance(source, str):
        return None, ((None, f"diagram code must be text, not {type(source).__name__}"),)
    return _compile(mode, source.strip() if mode == "eval" else textwrap.dedent(source))


def _shorten_exception(exc: BaseException) -> None:
    """Keep messages of diagram exceptions small: the engine turns them into incidents."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if not isinstance(current, SandboxError) and _estimate(current.args, MAX_TEXT) > MAX_TEXT:
            current.args = ("(message too large to show)",)
        current = current.__cause__ or current.__context__
        seen += 1


# --------------------------------------------------------------------------- the sandbox


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
        return list(_prepare("eval", source)[1])

    def check_script(self, source: str) -> list[tuple[int | None, str]]:
        """Problems that keep `source` from compiling as a script; [] when it is fine."""
        return list(_prepare("exec", source)[1])

    def evaluate(
        self, source: str, data: Mapping[str, Any], extra: Mapping[str, Any] | None = None
    ) -> Any:
        """The value of expression `source`, with task data (and `extra`) as variables."""
        code = self._code("eval", source)
        namespace = self._namespace(data, extra)
        result = self._run(code, namespace)
        _check_handed_back(result, "a result")
        return result

    def execute(
        self, source: str, data: dict[str, Any], extra: Mapping[str, Any] | None = None
    ) -> None:
        """Run script `source` on task data, writing its top-level variables back into `data`."""
        code = self._code("exec", source)
        namespace = self._namespace(data, extra)
        exposed = {name for name in data if name in namespace}
        self._run(code, namespace)
        updates: dict[str, Any] = {}
        for name, value in namespace.items():
            if name.startswith("_") or name in self._helpers:
                continue
            if extra is not None and name in extra and name not in exposed:
                continue
            if callable(value) or isinstance(value, types.ModuleType):
                continue
            updates[name] = value
        _check_handed_back(updates, "task data")
        removed = [
            name
            for name in exposed
            if name not in updates and (name not in namespace or namespace[name] is not data[name])
        ]
        data.update(updates)
        for name in removed:
            del data[name]

    def _code(self, mode: str, source: str) -> types.CodeType:
        code, errors = _prepare(mode, source)
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

    def _run(self, code: types.CodeType, namespace: dict[str, Any]) -> Any:
        budget = _Budget(self.time_limit_seconds)
        budgets = _budgets()
        previous = sys.gettrace()
        budgets.append(budget)
        sys.settrace(budget.trace_call)
        try:
            return eval(code, namespace)  # noqa: S307 - compiled by RestrictedPython above
        except SandboxError:
            raise
        except BaseException as exc:
            _shorten_exception(exc)
            raise
        finally:
            sys.settrace(previous)
            budgets.pop()
