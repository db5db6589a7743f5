"""What the officers' pages share: the signed-in officer, the tasks' names, typed text, and
the agency pickers of their forms and filters."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import request

from web import auth
from web.i18n import N_, gettext
from workflows import access
from workflows import diagram_ids as ids

SEARCH_MAX = 100
DISPOSE_KINDS = ("opd", "bumd", "kecamatan", "kelurahan")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Task names in both languages (the diagram names them in Indonesian).
TASK_NAMES = {
    ids.SCREEN_REPORT: N_("Verify the report"),
    ids.DISPOSE_REPORT: N_("Dispose the report"),
    ids.RESUME_REPORT: N_("Resume the postponed report"),
    ids.FOLLOW_UP: N_("Follow up the report"),
    ids.UNIT_FOLLOW_UP: N_("Follow up the report (unit)"),
    ids.PROVIDE_INFORMATION: N_("Complainant adds information"),
    ids.REVIEW_ANSWER: N_("Complainant reviews the answer"),
}


def officer() -> access.Principal:
    """The signed-in officer of the request (the view is login_required)."""
    principal = auth.current_user()
    assert principal is not None  # login_required ran first
    return principal


def task_name(element_id: str, title: str | None = None) -> str:
    text = TASK_NAMES.get(element_id)
    return gettext(text) if text else (title or element_id)


def htmx() -> bool:
    return request.headers.get("HX-Request") == "true"



def clean(text: str) -> str:
    """Typed text without control characters (a NUL byte is refused by PostgreSQL)."""
    return CONTROL.sub("", text)


def scoped_agencies(principal: access.Principal, agencies: list[dict[str, Any]],
                    kinds: Iterable[str]) -> list[dict[str, Any]]:
    """The agencies of these kinds within the officer's reach."""
    wanted = set(kinds)
    return [a for a in agencies if a["kind"] in wanted and principal.reaches(a["id"])]


def grouped(choices: list[dict[str, Any]], agencies: list[dict[str, Any]]
             ) -> list[tuple[str, list[tuple[str, str]]]]:
    """Options for a <select> with <optgroup>s: each agency under its parent's name."""
    names = {a["code"]: a["name"] for a in agencies}
    groups: dict[str, list[tuple[str, str]]] = {}
    for agency in choices:
        parent = names.get(agency["parent"] or "", "")
        groups.setdefault(parent, []).append((agency["code"], agency["name"]))
    return list(groups.items())


def units_under_their_agency(choices: list[dict[str, Any]], agencies: list[dict[str, Any]]
                              ) -> list[tuple[str, list[tuple[str, str]]]]:
    """Agencies that follow reports up, each with its units under it (one optgroup each)."""
    codes = {a["code"] for a in choices}
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for agency in agencies:
        if agency["kind"] not in DISPOSE_KINDS:
            continue
        options = [(agency["code"], agency["name"])] if agency["code"] in codes else []
        options += [(u["code"], u["name"]) for u in agencies
                    if u["parent"] == agency["code"] and u["kind"] == "unit"
                    and u["code"] in codes]
        if options:
            groups.append((agency["name"], options))
    return groups

