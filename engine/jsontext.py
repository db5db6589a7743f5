"""A workflow's saved state as JSON text: orjson where it reads and writes what `json` would."""
from __future__ import annotations

import json
from typing import Any

import orjson

# Dates, dataclasses and subclasses of the plain types go to `default`, as with `json`.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS \
    | orjson.OPT_PASSTHROUGH_SUBCLASS


_SCALARS = frozenset({str, int, bool, type(None)})


def plain(value: Any, besides: str | None = None) -> bool:
    """Whether orjson writes `value` as `json` does without a `default`: dicts with text
    keys, lists, text, whole numbers, True, False, None and finite floats, nested (of a dict,
    the item under `besides` is not looked at; nested too deep for Python: not plain)."""
    if besides is not None:
        try:
            return all(key.__class__ is str and (key == besides or plain(item))
                       for key, item in value.items())
        except RecursionError:
            return False
    kind = value.__class__
    if kind in _SCALARS:
        return True
    if kind is float:
        return value - value == 0  # not NaN nor an infinity
    if kind is dict:  # (loops, not all(): a scalar item takes no call)
        for key, item in value.items():
            if key.__class__ is not str or (item.__class__ not in _SCALARS
                                            and not plain(item)):
                return False
        return True
    if kind is list:
        for item in value:  # noqa: SIM110 (all() would make a call per item)
            if item.__class__ not in _SCALARS and not plain(item):
                return False
        return True
    return False


def dumps(value: Any, encoder: type[json.JSONEncoder], vouched: bool = False) -> str:
    """`value` as `json.dumps(value, cls=encoder)` writes it, give or take its white space
    and its escapes (the same value when read).

    orjson writes the state about fourteen times as fast, but writes what `json` would not
    for a few values: NaN and infinities as `null`, a UUID or an enum member as its value.
    So its text is kept only when the caller `vouched` that `value` is `plain`, or else when
    it reads back equal to `value` (each of those would read back as something else, and so
    would whatever `default` converted); anything else, and anything orjson refuses (an
    integer beyond 64 bits, a lone surrogate, a key that is not text), is written by
    `json`, with its errors."""
    try:
        text = orjson.dumps(value, default=encoder().default, option=_OPTIONS)
    except (orjson.JSONEncodeError, RecursionError):
        pass
    else:
        if vouched or orjson.loads(text) == value:
            return text.decode()
    return json.dumps(value, cls=encoder)


def loads(text: str) -> Any:
    """What `json.loads(text)` reads, through orjson for text that `dumps` wrote with it.

    orjson reads an integer beyond 64 bits as a float where `json` keeps it whole; `dumps`
    never writes one with orjson, whose text is told by its first key: followed by `":`
    and no space, where `json.dumps` writes `": `. Other text (states saved before, or by
    `json`) is read by `json`, as is what orjson refuses (NaN, a lone surrogate, ...)."""
    end = text.find('"', 2)
    if text.startswith('{"') and end > 0 and text[end - 1] != "\\" \
            and text.startswith(":", end + 1) and not text.startswith(" ", end + 2):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
