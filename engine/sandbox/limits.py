"""Size bounds on what diagram code builds: the limits, a bounded size estimate, the checks."""

from __future__ import annotations

import math
import re
import types
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from engine.sandbox.errors import DIAGRAM_FILENAME, SandboxError, refuse

MAX_ITEMS: Final = 1_000_000  # longest sequence or string diagram code may build in one step
MAX_INT_BITS: Final = 10_000  # largest integer result of *, ** and <<
MAX_TEXT: Final = 1_000_000  # longest text str(), f-strings and % formatting may produce
MAX_DATA: Final = 10_000_000  # rough size (as text) of what a call may hand back to the engine
MAX_DEPTH: Final = 100  # deepest nesting of lists and objects a script may leave in task data

SEQUENCES: Final = (str, bytes, list, tuple)
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
                raise refuse("cannot hand functions or generators back to the engine")
            total += 8
        if total > budget:
            break
    return total


def check_handed_back(value: Any, what: str) -> None:
    if _estimate(value, MAX_DATA, handed_back=True) > MAX_DATA:
        raise refuse(f"produced {what} too large to keep (over about {MAX_DATA:,} characters)")


# What the engine's serializer stores and restores (engine/runtime.py): JSON's types, plus
# these with a typename. A set or tuple is stored as a list.
_STORABLE_LEAVES: Final = (str, int, float, type(None), datetime, date, timedelta, Decimal, UUID)
_STORABLE_KEYS: Final = (str, int, float, bool, type(None))


def check_storable(updates: dict[str, Any]) -> None:
    """Refuse task data a script leaves behind that could not be saved with its instance.

    Saving would fail later, outside the script (a RecursionError on a list nested 100,000
    deep, a TypeError on a range), and fail the whole transaction; refused here, the script's
    element gets an incident that names the variable. The walk is iterative, and only runs
    after check_handed_back has bounded the data's size.
    """
    for name, value in updates.items():
        pending: list[tuple[Any, int]] = [(value, 0)]
        while pending:
            item, depth = pending.pop()
            if isinstance(item, _STORABLE_LEAVES):
                continue
            if isinstance(item, list | tuple | set | dict):
                if depth >= MAX_DEPTH:
                    raise refuse(f"left variable {name!r} nested deeper than {MAX_DEPTH} "
                                 "levels of lists or objects; task data must be flatter")
                if isinstance(item, dict):
                    bad = next((k for k in item if not isinstance(k, _STORABLE_KEYS)), None)
                    if bad is not None:
                        raise refuse(f"left variable {name!r} with an object key of type "
                                     f"{type(bad).__name__}; keys must be texts")
                    pending.extend((v, depth + 1) for v in item.values())
                else:
                    pending.extend((v, depth + 1) for v in item)
                continue
            raise refuse(f"left variable {name!r} holding a {type(item).__name__}, which "
                         "cannot be stored with the instance; convert it to a text, number, "
                         "list or object (for example list(...)), or delete it (del)")


def check_text(value: Any) -> None:
    if not isinstance(value, str) and _estimate(value, MAX_TEXT) > MAX_TEXT:
        raise refuse(f"tried to turn a value into text longer than {MAX_TEXT:,} characters")


def check_count(count: int, what: str) -> None:
    if count > MAX_ITEMS:
        raise refuse(f"tried to build {what} of about {count:,} items (limit {MAX_ITEMS:,})")


def _check_int_bits(bits: float, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise refuse(f"tried to compute {what} of about {bits:,.0f} bits (limit {MAX_INT_BITS:,})")


def check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        _check_int_bits(a.bit_length() + b.bit_length(), "a product")
        return
    if isinstance(b, SEQUENCES) and isinstance(a, int):
        a, b = b, a
    if isinstance(a, SEQUENCES) and isinstance(b, int) and b > 1:
        check_count(len(a) * b, "a repeated sequence")
        # [big] * n copies references only, but str(), sorting or storing the result does not.
        if isinstance(a, list | tuple) and a and _estimate(a, MAX_DATA // b) * b > MAX_DATA:
            raise refuse(f"tried to repeat a large sequence {b:,} times")


def check_concat(a: Any, b: Any) -> None:
    if isinstance(a, SEQUENCES) and hasattr(b, "__len__"):
        check_count(len(a) + len(b), "a sequence")


def check_pow(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 1 and abs(a) > 1:
        _check_int_bits(b if b > MAX_INT_BITS else b * math.log2(abs(a)), "a power")


def check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        _check_int_bits(a.bit_length() + b, "a shift")


def check_division(a: Any, b: Any) -> None:
    # Long division is quadratic and runs in C, out of reach of the time budget.
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and min(a.bit_length(), b.bit_length()) > MAX_INT_BITS
    ):
        raise refuse(f"tried to divide two integers of more than {MAX_INT_BITS:,} bits")


_PERCENT_SPEC: Final = re.compile(
    r"%(?:\(([^)]*)\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]"
)


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 9 else MAX_TEXT + 1


def check_mod(a: Any, b: Any) -> None:
    if not isinstance(a, str | bytes):
        check_division(a, b)
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
        raise refuse(f"tried to %-format a text longer than {MAX_TEXT:,} characters")


def check_format_spec(spec: str) -> None:
    for digits in re.findall(r"\d+", spec):
        if _number(digits) > MAX_TEXT:
            raise refuse(f"used a format width or precision over {MAX_TEXT:,}")


def shorten_exception(exc: BaseException) -> None:
    """Keep messages of diagram exceptions small: the engine turns them into incidents."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if not isinstance(current, SandboxError) and _estimate(current.args, MAX_TEXT) > MAX_TEXT:
            current.args = ("(message too large to show)",)
        current = current.__cause__ or current.__context__
        seen += 1
