"""Candidate groups of tasks: the one place that builds and reads the "role:agency_code" names.

A task of the lifecycle is offered to groups named after the lane's role and, for an agency's
lanes, the agency's code: "regency_admin", "opd_liaison:dinas_pupr",
"technical_unit:pupr_bina_marga", "complainant:PPU-2026-000001". The diagram writes the same
names in its candidateGroupsExpression; the roles are the lane names of diagram_ids.
"""

from __future__ import annotations

from collections.abc import Iterable

from workflows import diagram_ids as ids

REGENCY_ADMIN = ids.LANE_REGENCY_ADMIN
OPD_LIAISON = ids.LANE_OPD_LIAISON
TECHNICAL_UNIT = ids.LANE_TECHNICAL_UNIT
SUPERVISOR = ids.LANE_SUPERVISOR
COMPLAINANT = ids.LANE_COMPLAINANT

# The user role that works the tasks of each group role: who is told of a new task (the
# complainant is told through the report's status, not as a user).
USER_ROLES = {REGENCY_ADMIN: "regency_admin", OPD_LIAISON: "liaison_officer",
              TECHNICAL_UNIT: "technical_officer"}


def group(role: str, code: str | None = None) -> str:
    """The group of a role, for one agency (or report) when it has a code."""
    return f"{role}:{code}" if code else role


def parse(name: str) -> tuple[str, str | None]:
    """(role, agency code or tracking number) of a group name; no code: None."""
    role, _, code = name.partition(":")
    return role, code or None


def agency_codes(names: Iterable[str]) -> list[str]:
    """The agency codes the groups name (the complainant's tracking numbers left out)."""
    found = []
    for name in names:
        role, code = parse(name)
        if code is not None and role != COMPLAINANT:
            found.append(code)
    return found


def is_complainant(name: str) -> bool:
    return parse(name)[0] == COMPLAINANT


def for_complainant(names: Iterable[str]) -> bool:
    """Whether a task with these groups waits for the complainant rather than an officer."""
    return any(is_complainant(name) for name in names)
