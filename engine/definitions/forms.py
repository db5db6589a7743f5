"""Task forms (JSON Schema 2020-12) as the engine checks them: nothing fetched, patterns bounded.

A form is written by whoever deploys a diagram, and the data checked against it by whoever
completes the task, so both sides are hostile input:

- References: a `$ref` (or `$dynamicRef`) may only point inside the form itself (`#...`).
  `reference_problems` reports any other at deploy; the validators' registry retrieves
  nothing, so a form stored before that check existed cannot make the server fetch a URL or
  read a file either (the field's check fails instead, naming the field).
- Patterns: `pattern`, `patternProperties` (and `additionalProperties` beside it) run on the
  `regex` module with a timeout of `PATTERN_TIMEOUT_SECONDS` a match, which releases the GIL
  while matching; Python's `re` would hold it for as long as a catastrophic backtrack takes
  (`^(a|aa)+$` against 60 a's and a '!': forever), stopping every thread of the process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any, Final

import regex
from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

from engine.errors import FIELD_REQUIRED, N_, InvalidInput, Message, schema_message

PATTERN_TIMEOUT_SECONDS: Final = 0.25
_REFERENCE_KEYS: Final = ("$ref", "$dynamicRef")
PATTERN_TOO_SLOW = N_("too long to check against the form's pattern; the form must be changed")
REFERENCE_REFUSED = N_("refers to a schema outside the form, which is not allowed; "
                       "the form must be changed")


def _retrieve_nothing(uri: str) -> Any:
    raise NoSuchResource(ref=uri)


_NO_RETRIEVAL: Final = Registry(retrieve=_retrieve_nothing)  # type: ignore[call-arg]


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)


class _SlowPattern(Exception):
    """A match ran out of its time: the value is refused, never accepted."""


def _search(pattern: str, text: str) -> bool:
    try:
        return _compiled(pattern).search(text, timeout=PATTERN_TIMEOUT_SECONDS) is not None
    except TimeoutError as exc:
        raise _SlowPattern(pattern) from exc


def _slow(instance: Any, pattern: str) -> ValidationError:
    return ValidationError(f"{str(instance)[:40]!r} took too long to check against the "
                           f"pattern {pattern!r}", validator="pattern", validator_value=pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "string"):
        return
    try:
        if not _search(pattern, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")
    except _SlowPattern:
        yield _slow(instance, pattern)


def _pattern_properties(validator: Any, patterns: Mapping[str, Any], instance: Any,
                        schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            try:
                matched = _search(pattern, key)
            except _SlowPattern:
                yield _slow(key, pattern)
                continue
            if matched:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any
                           ) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    declared = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = []
    for key in instance:
        if key in declared:
            continue
        try:
            if any(_search(pattern, key) for pattern in patterns):
                continue
        except _SlowPattern as exc:
            yield _slow(key, str(exc.args[0]))
            continue
        extras.append(key)
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif not additional and extras:
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            listed = ", ".join(repr(k) for k in sorted(extras))
            yield ValidationError(f"{listed} {verb} not match any of the regexes: "
                                  + ", ".join(repr(p) for p in sorted(patterns)))
        else:
            listed = ", ".join(repr(k) for k in extras)
            was = "was" if len(extras) == 1 else "were"
            yield ValidationError(f"Additional properties are not allowed ({listed} {was} "
                                  "unexpected)")


_BoundedValidator = validators.extend(Draft202012Validator, {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
})


class FormValidator:
    """Checks task data against one form; `check` raises InvalidInput naming each field."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._validator = _BoundedValidator(schema, registry=_NO_RETRIEVAL)

    def check(self, data: Mapping[str, Any]) -> None:
        errors: dict[str, str] = {}
        try:
            for error in self._validator.iter_errors(data):
                _add_error(errors, error)
        except Unresolvable:
            errors.update(self._unresolvable_fields(data))
        if errors:
            raise InvalidInput("the form has errors: %(errors)s", errors, errors="; ".join(
                f"{k}: {v}" for k, v in sorted(errors.items())))

    def _unresolvable_fields(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Name the fields whose schema refers outside the form (never the target's text)."""
        names = {path.split("/")[1] for path, _ in reference_problems(self.schema)
                 if path.startswith("properties/")}
        return {name: Message(REFERENCE_REFUSED) for name in sorted(names)} or {
            "(form)": Message(REFERENCE_REFUSED)}


def _add_error(errors: dict[str, str], error: ValidationError) -> None:
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        path = ".".join([*map(str, error.absolute_path), *missing[:1]])
        errors[path or "(form)"] = Message(FIELD_REQUIRED)
        for name in missing[1:]:
            errors[".".join([*map(str, error.absolute_path), name])] = Message(FIELD_REQUIRED)
        return
    path = ".".join(map(str, error.absolute_path)) or "(form)"
    if error.message.endswith("took too long to check against the pattern " +
                              repr(error.validator_value)):
        errors.setdefault(path, Message.worded(error.message, PATTERN_TOO_SLOW))
    else:
        errors.setdefault(path, schema_message(error))


def form_validator(schema: Mapping[str, Any]) -> FormValidator:
    return FormValidator(schema)


def reference_problems(schema: Any) -> list[tuple[str, str]]:
    """(path, problem) for each reference that leaves the form, and each pattern that does
    not compile; [] for a form that needs nothing from outside itself."""
    problems: list[tuple[str, str]] = []
    pending: list[tuple[Any, str]] = [(schema, "")]
    while pending:
        node, path = pending.pop()
        if isinstance(node, dict):
            for key in _REFERENCE_KEYS:
                target = node.get(key)
                if isinstance(target, str) and not target.startswith("#"):
                    problems.append((path or Message("(top level)"), Message(
                        "%(key)s %(target)r points outside the form; only references inside "
                        "it (#/$defs/...) are allowed", key=key, target=target[:80])))
            patterns = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
            if isinstance(node.get("patternProperties"), dict):
                patterns += list(node["patternProperties"])
            for pattern in patterns:
                try:
                    _compiled(pattern)
                except (regex.error, ValueError) as exc:
                    problems.append((path or Message("(top level)"), Message(
                        "pattern %(pattern)r is not a valid regular expression (%(detail)s)",
                        pattern=pattern[:80], detail=str(exc))))
            pending.extend((value, f"{path}/{key}".lstrip("/")) for key, value in node.items())
        elif isinstance(node, list):
            pending.extend((value, f"{path}/{i}".lstrip("/")) for i, value in enumerate(node))
    return sorted(problems)
