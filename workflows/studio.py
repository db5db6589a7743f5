"""The process designers' studio: the deployed processes, their versions and incidents.

Who may do what (docs/designers.md): process designers (`process_designer`) read and change
everything here; regency administrators (`regency_admin`) read it. Every other role is
refused. The use cases that change processes (save drafts, deploy, retry, migrate) are for
designers only (`require_designer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflows import access
from workflows.context import Context
from workflows.errors import Forbidden

DESIGNER = "process_designer"
READERS = (DESIGNER, "regency_admin")


def require_reader(principal: access.Principal) -> None:
    if not principal.has(*READERS):
        raise Forbidden("the studio is for process designers and regency administrators")


def require_designer(principal: access.Principal) -> None:
    if not principal.has(DESIGNER):
        raise Forbidden("only process designers may change processes")


@dataclass(frozen=True)
class Overview:
    """The studio's home: each deployed process with its versions, and the open incidents."""

    processes: list[dict[str, Any]]
    incidents: int
    may_change: bool


class Studio:
    """The studio's read side (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def overview(self, principal: access.Principal) -> Overview:
        require_reader(principal)
        engine = self.ctx.engine
        processes: dict[str, dict[str, Any]] = {}
        for definition in engine.definitions():
            entry = processes.setdefault(definition["process_id"], {
                "process_id": definition["process_id"], "name": definition.get("name"),
                "versions": []})
            entry["versions"].append(definition)
        for entry in processes.values():
            entry["versions"].sort(key=lambda d: d["version"], reverse=True)
            entry["latest"] = entry["versions"][0]
        return Overview(sorted(processes.values(), key=lambda p: p["process_id"]),
                        len(engine.incidents()), principal.has(DESIGNER))
