"""The guards RestrictedPython's rewritten diagram code calls: operators, attributes, writes."""

from __future__ import annotations

import operator
import types
from collections.abc import Callable, Mapping
from typing import Any, Final

from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_,
    safer_getattr,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from engine.sandbox.budget import checkpoint
from engine.sandbox.errors import refuse
from engine.sandbox.limits import (
    MAX_TEXT,
    check_concat,
    check_count,
    check_division,
    check_format_spec,
    check_lshift,
    check_mod,
    check_mul,
    check_pow,
    check_text,
)

# --------------------------------------------------------------------------- operators


def _guarded_binop(check: Callable[[Any, Any], None], op: Callable[[Any, Any], Any]) -> Any:
    def guarded(a: Any, b: Any) -> Any:
        check(a, b)
        return op(a, b)

    return guarded


_INPLACE: Final[dict[str, tuple[Callable[[Any, Any], None] | None, Callable[[Any, Any], Any]]]] = {
    "+=": (check_concat, operator.iadd),
    "-=": (None, operator.isub),
    "*=": (check_mul, operator.imul),
    "/=": (None, operator.itruediv),
    "//=": (check_division, operator.ifloordiv),
    "%=": (check_mod, operator.imod),
    "**=": (check_pow, operator.ipow),
    "<<=": (check_lshift, operator.ilshift),
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
        check_text(value)
        value = _CONVERSIONS[conversion](value)
    check_format_spec(spec)
    if not spec:
        check_text(value)
    return format(value, spec)


# --------------------------------------------------------------------------- attribute guard


def _width_arg(position: int, name: str, default: int) -> Callable[..., None]:
    def check(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        width = args[position] if len(args) > position else kwargs.get(name, default)
        if isinstance(width, int) and width > MAX_TEXT:
            raise refuse(f"asked for a text or byte string of {width:,} characters")

    return check


def _check_expandtabs(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    size = args[0] if args else kwargs.get("tabsize", 8)
    if isinstance(owner, str | bytes) and isinstance(size, int):
        tab = "\t" if isinstance(owner, str) else b"\t"
        check_count(len(owner) + owner.count(tab) * max(size, 0), "a text")


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
    check_count(len(owner) + count * (len(new) - len(old)), "a text")


def _check_translate(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if not isinstance(owner, str) or not args:
        return
    table = args[0]
    if isinstance(table, dict):
        values: Any = table.values()
    elif isinstance(table, list | tuple):
        values = table
    else:
        raise refuse("may only translate with a dict, list or tuple table")
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    check_count(len(owner) * max(longest, 1), "a text")


def _check_join(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if not isinstance(owner, str | bytes) or len(args) != 1:
        return args
    items = list(args[0])
    size = sum(len(item) for item in items if isinstance(item, str | bytes))
    check_count(size + len(owner) * max(len(items) - 1, 0), "a joined text")
    return (items,)


def _check_extend(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if isinstance(owner, list) and args and hasattr(args[0], "__len__"):
        check_count(len(owner) + len(args[0]), "a list")


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
        raise refuse(f"may not read the attribute {name!r}")
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
            check_count(len(self.target) - removed + len(value), "a list")
        self.target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.target[key]

    def __setattr__(self, name: str, value: Any) -> None:
        raise refuse(f"may not set the attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        raise refuse(f"may not delete the attribute {name!r}")


def _write(target: Any) -> Any:
    if isinstance(target, dict):
        return target
    if isinstance(target, list):
        return _ListWriter(target)
    raise refuse(f"may only change items of dicts and lists, not of a {type(target).__name__}")


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


# --------------------------------------------------------------------------- str


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
        check_text(args[0])
    return str(*args, **kwargs)


SafeStr = _GuardedTypeMeta("str", (), {"wrapped": str, "construct": staticmethod(_construct_str)})


# --------------------------------------------------------------------------- the names

# The names RestrictedPython's rewritten code calls, plus our own guards.
GUARDS: Final[Mapping[str, Any]] = types.MappingProxyType(
    {
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
        "_mul_": _guarded_binop(check_mul, operator.mul),
        "_add_": _guarded_binop(check_concat, operator.add),
        "_pow_": _guarded_binop(check_pow, operator.pow),
        "_lshift_": _guarded_binop(check_lshift, operator.lshift),
        "_mod_": _guarded_binop(check_mod, operator.mod),
        "_floordiv_": _guarded_binop(check_division, operator.floordiv),
        "_format_": _format,
        "_checkpoint_": checkpoint,
    }
)
