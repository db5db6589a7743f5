"""The process designers' studio: processes, versions, deploys, what changed between two
versions (workflows/studio_diff.py), instances, incidents, migrations and their audit log.

Who may do what (docs/designers.md): process designers (`process_designer`) read and change
everything here; regency administrators (`regency_admin`) read it. Every other role is
refused. The use cases that change processes (save drafts, deploy, retry, migrate, and the
migration's dry run, which loads instances under their lock) are for designers only
(`require_designer`). An instance's data is shown masked by the report's access rules
(workflows/studio_data.py). The audit log is the engine's own record: each deployed version
(who, when, its note) and each instance's migrate event (grouped by run).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

import engine as bpm
from engine.definitions import SourceFile, decode_source
from workflows import access, studio_diff
from workflows import diagram_ids as ids
from workflows.context import Context
from workflows.errors import (
    N_,
    BadParameter,
    Conflict,
    Forbidden,
    Invalid,
    Message,
    NotFound,
)
from workflows.models import Complaint
from workflows.studio_data import Mask

DESIGNER = "process_designer"
READERS = (DESIGNER, "regency_admin")


def require_reader(principal: access.Principal) -> None:
    if not principal.has(*READERS):
        raise Forbidden("the studio is for process designers and regency administrators")


def require_designer(principal: access.Principal) -> None:
    if not principal.has(DESIGNER):
        raise Forbidden("only process designers may change processes")


NOTE_MAX_CHARS = 2000
DEPLOY_MAX_FILES = 20
DEPLOY_MAX_FILE_BYTES = 5 * 1024 * 1024
DEPLOY_SUFFIXES = (".bpmn", ".dmn", ".json")
PAGE_SIZE = 50
MAX_PAGE = 100_000
MIGRATE_MAX_SELECTED = 10_000
AUDIT_ENTRIES = 200


class DeployRefused(Invalid):
    """The engine refused the files: `findings` lists each problem as the engine found it
    ({"file", "element_id", "severity", "message"}), to show on the element it names."""

    def __init__(self, findings: list[dict[str, Any]]) -> None:
        super().__init__(N_("the files cannot be deployed: %(count)s problem(s) found"),
                         {"files": Message("%(count)s problem(s) found; see the list",
                                           count=len(findings))}, count=len(findings))
        self.findings = findings


class MigrationRefused(Conflict):
    """Some selected instances cannot move: nothing was migrated; `report` names them."""

    def __init__(self, report: dict[str, Any]) -> None:
        unsafe = [str(i["business_key"] or i["instance_id"]) for i in report["instances"]
                  if not i["safe"]]
        super().__init__(N_("%(count)s instance(s) cannot move to version %(version)s and "
                            "nothing was migrated: %(instances)s"), count=len(unsafe),
                         version=report["to_version"], instances=", ".join(unsafe))
        self.report = report


def engine_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The engine's errors as the domain's (web/ maps only the domain's)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except bpm.InvalidInput as exc:
            raise Invalid(exc.message, exc.field_errors) from exc
        except bpm.Conflict as exc:
            raise Conflict(exc.message) from exc
        except bpm.NotFound as exc:
            raise NotFound(exc.message) from exc

    return wrapper


def _page(page: int | None) -> int:
    if page is None:
        return 1
    if not 1 <= page <= MAX_PAGE:
        raise BadParameter("page must be between 1 and %(max)s",
                           {"page": Message("between 1 and %(max)s", max=MAX_PAGE)},
                           max=MAX_PAGE)
    return page


def _note(note: str | None, errors: dict[str, Any]) -> str:
    text = (note or "").strip()
    if not text:
        errors["note"] = Message("write a change note: what changed and why")
    elif len(text) > NOTE_MAX_CHARS:
        errors["note"] = Message("at most %(limit)s characters", limit=NOTE_MAX_CHARS)
    elif "\x00" in text:
        errors["note"] = Message("the note holds a NUL character; remove it")
    return text


Files = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]


def deployment_files(files: Files, errors: dict[str, Any]) -> list[SourceFile]:
    """The uploaded (or drafted) files as a unit: names without folders, known kinds only,
    bounded in number and size; text decoded as the engine reads files (decode_source)."""
    files = dict(files.items()) if isinstance(files, Mapping) else list(files)
    pairs = list(files.items()) if isinstance(files, dict) else files
    if not files:
        errors["files"] = Message("choose the .bpmn and .dmn files to deploy")
        return []
    if len(files) > DEPLOY_MAX_FILES:
        errors["files"] = Message("at most %(limit)s files", limit=DEPLOY_MAX_FILES)
        return []
    sources = []
    for name, content in pairs:
        base = re.split(r"[/\\]", str(name))[-1].strip()
        if not base.lower().endswith(DEPLOY_SUFFIXES) or "\x00" in base:
            errors["files"] = Message("%(file)s is not a .bpmn, .dmn or .json file",
                                      file=base[:100])
            continue
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        if len(raw) > DEPLOY_MAX_FILE_BYTES:
            errors["files"] = Message("%(file)s is larger than %(mb)s MB", file=base,
                                      mb=DEPLOY_MAX_FILE_BYTES // (1024 * 1024))
            continue
        sources.append(SourceFile(base, decode_source(raw)))
    if len({s.name for s in sources}) != len(sources):
        errors["files"] = Message("two files have the same name; rename one")
    return sources


def main_diagram(files: Mapping[str, str], process_id: str) -> str:
    """The BPMN file of a unit that holds `process_id` (the lifecycle's own file first)."""
    name = main_diagram_file(files, process_id)
    return files[name] if name else ""


def main_diagram_file(files: Mapping[str, str], process_id: str) -> str | None:
    """The name of main_diagram's file, None when the unit has no BPMN file."""
    bpmn = sorted((name, text) for name, text in files.items() if name.endswith(".bpmn"))
    for name, _text in bpmn:
        if name == ids.BPMN_FILE and process_id == ids.PROCESS_ID:
            return name
    for name, text in bpmn:
        if f'id="{process_id}"' in text:
            return name
    return bpmn[0][0] if bpmn else None


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

    # ------------------------------------------------------------------ versions

    def versions(self, process_id: str, principal: access.Principal) -> dict[str, Any]:
        """Every deployed version of a process, newest first: who deployed it, when, its
        note, its files and its open instances."""
        require_reader(principal)
        found = sorted((d for d in self.ctx.engine.definitions()
                        if d["process_id"] == process_id),
                       key=lambda d: d["version"], reverse=True)
        if not found:
            raise NotFound(f"process {process_id} is not deployed")
        return {"process_id": process_id, "name": found[0]["name"], "versions": found,
                "latest": found[0]["version"], "may_change": principal.has(DESIGNER)}

    def version(self, process_id: str, version: int, principal: access.Principal
                ) -> dict[str, Any]:
        """One version with its files (name -> text)."""
        listed = self.versions(process_id, principal)
        entry = next((v for v in listed["versions"] if v["version"] == version), None)
        if entry is None:
            raise NotFound(f"process {process_id} has no version {version}")
        files = self.ctx.engine.definition_files(process_id, version)
        return {**entry, "latest": listed["latest"], "files": dict(sorted(files.items())),
                "may_change": listed["may_change"]}

    def version_file(self, process_id: str, version: int, name: str,
                     principal: access.Principal) -> str:
        files = self.version(process_id, version, principal)["files"]
        if name not in files:
            raise NotFound(f"version {version} of {process_id} has no file {name}")
        return files[name]

    def version_diagram(self, process_id: str, version: int, principal: access.Principal
                        ) -> dict[str, Any]:
        """The version's BPMN diagram, nothing highlighted (static/js/diagram.js)."""
        files = self.version(process_id, version, principal)["files"]
        return {"xml": main_diagram(files, process_id), "completed": [], "current": [],
                "waiting": []}

    @engine_errors
    def deploy(self, files: Files, note: str | None,
               principal: access.Principal, *, process_id: str | None = None
               ) -> dict[str, Any]:
        """Deploy a unit (file name -> text or bytes, or such pairs) as the next version of
        its process, with a change note (required). Invalid names the field; DeployRefused
        carries the engine's findings. Identical content keeps its version (and its first note):
        `created` is then False. New reports start on the newest version; running ones stay
        on theirs until migrated."""
        require_designer(principal)
        errors: dict[str, Any] = {}
        text = _note(note, errors)
        sources = deployment_files(files, errors)
        if errors:
            raise Invalid("the files were not deployed: %(fields)s", errors,
                          fields=", ".join(sorted(errors)))
        try:
            deployment = self.ctx.engine.deploy(sources, process_id=process_id,
                                                deployed_by=principal.username, note=text)
        except bpm.ValidationFailed as exc:
            raise DeployRefused([f.as_dict() for f in exc.findings]) from exc
        return {**deployment.as_dict(), "note": text}

    # ------------------------------------------------------------------ diff

    def diff(self, process_id: str, from_version: int | None, to_version: int | None,
             principal: access.Principal) -> dict[str, Any]:
        """What changed from `from_version` to `to_version` (either way round): each file's
        status, the BPMN elements added, removed, changed (aspect by aspect) and moved, and
        the DMN decisions' columns and rules (workflows/studio_diff.py). An unknown process
        or version is NotFound; a missing version, or the same one twice, is Invalid."""
        old, new = self._diff_sides(process_id, from_version, to_version, principal)
        found = studio_diff.diff_units(old["files"], new["files"])
        facts = ("version", "deployed_at", "deployed_by", "note", "open_instances")
        return {"process_id": process_id, "name": new["name"],
                "from": {k: old.get(k) for k in facts}, "to": {k: new.get(k) for k in facts},
                "versions": old["numbers"], "latest": new["latest"],
                "diagram_file": main_diagram_file(new["files"], process_id)
                or main_diagram_file(old["files"], process_id), **found}

    def diff_diagram(self, process_id: str, from_version: int | None,
                     to_version: int | None, principal: access.Principal) -> dict[str, Any]:
        """Both versions' main diagrams with the ids to colour: on the new one the added,
        changed and moved elements, on the old one the removed and changed ones."""
        old, new = self._diff_sides(process_id, from_version, to_version, principal)
        old_name = main_diagram_file(old["files"], process_id)
        new_name = main_diagram_file(new["files"], process_id)
        old_xml = old["files"][old_name] if old_name else ""
        new_xml = new["files"][new_name] if new_name else ""
        found = studio_diff.diff_bpmn(new_name or old_name or "", old_xml, new_xml)
        changed = [e["id"] for e in found["changed"]]
        return {"file": new_name or old_name,
                "new": {"version": new["version"], "xml": new_xml, "changed": changed,
                        "added": [e["id"] for e in found["added"]],
                        "moved": [e["id"] for e in found["moved"]]},
                "old": {"version": old["version"], "xml": old_xml, "changed": changed,
                        "removed": [e["id"] for e in found["removed"]]}}

    def _diff_sides(self, process_id: str, from_version: int | None, to_version: int | None,
                    principal: access.Principal) -> tuple[dict[str, Any], dict[str, Any]]:
        require_reader(principal)
        errors: dict[str, Any] = {}
        for field, number in (("from", from_version), ("to", to_version)):
            if number is None:
                errors[field] = Message("choose a version to compare")
        if not errors and from_version == to_version:
            errors["to"] = Message("choose a version other than %(version)s",
                                   version=from_version)
        if errors:
            raise Invalid("the versions cannot be compared: %(fields)s", errors,
                          fields=", ".join(sorted(errors)))
        listed = self.versions(process_id, principal)
        numbers = [v["version"] for v in listed["versions"]]
        sides = []
        for number in (from_version, to_version):
            if number not in numbers:
                raise NotFound(f"process {process_id} has no version {number}")
            entry = next(v for v in listed["versions"] if v["version"] == number)
            files = self.ctx.engine.definition_files(process_id, number)
            sides.append({**entry, "files": dict(files), "numbers": numbers,
                          "latest": listed["latest"]})
        return sides[0], sides[1]

    # ------------------------------------------------------------------ instances

    def instances(self, principal: access.Principal, *, process_id: str | None = None,
                  version: int | None = None, q: str | None = None, page: int | None = None
                  ) -> dict[str, Any]:
        """A page of instances, newest first: of a process, of one version, with a business
        key (the report's tracking number) containing `q`."""
        require_reader(principal)
        number = _page(page)
        words = (q or "").strip()[:100] or None
        if words and "\x00" in words:
            raise BadParameter("q holds a NUL character", {"q": Message("remove the NUL")})
        wanted = {"process_id": process_id or None, "version": version, "key_contains": words}
        total = self.ctx.engine.count_instances(**wanted)
        rows = self.ctx.engine.instances(**wanted, limit=PAGE_SIZE,
                                         offset=(number - 1) * PAGE_SIZE)
        return {"instances": rows, "total": total, "page": number,
                "pages": max(1, -(-total // PAGE_SIZE)), **wanted, "q": words or "",
                "processes": sorted({d["process_id"] for d in self.ctx.engine.definitions()})}

    @engine_errors
    def instance(self, instance_id: int, principal: access.Principal) -> dict[str, Any]:
        """One instance: where it is (element states), its open tasks, timers, incident, its
        data and its audit trail masked by the report's access rules (studio_data.Mask)."""
        require_reader(principal)
        doc = self.ctx.engine.instance(instance_id)
        states = self.ctx.engine.element_states(instance_id)
        mask = self._mask(instance_id, principal)
        tasks = [{k: t[k] for k in ("id", "element_id", "title", "lane", "candidate_groups",
                                    "assignee", "created_at", "due_at")} for t in doc["tasks"]]
        return {**{k: doc[k] for k in ("instance_id", "process_id", "definition_version",
                                       "business_key", "status", "version", "created_at",
                                       "updated_at", "ended_at", "timers", "waiting_for",
                                       "incident")},
                "tasks": tasks, "data": mask.data(doc["data"]),
                "events": [mask.event(e) for e in doc["events"]],
                "states": states, "masked": not (mask.content and mask.identity),
                "may_change": principal.has(DESIGNER)}

    @engine_errors
    def instance_diagram(self, instance_id: int, principal: access.Principal
                         ) -> dict[str, Any]:
        """The diagram of the instance's version with its completed, current and waiting
        elements (static/js/diagram.js)."""
        require_reader(principal)
        states = self.ctx.engine.element_states(instance_id)
        files = self.ctx.engine.definition_files(states["process_id"],
                                                 states["definition_version"])
        return {"xml": main_diagram(files, states["process_id"]),
                "completed": states["completed"], "current": states["current"],
                "waiting": states["waiting"]}

    def _mask(self, instance_id: int, principal: access.Principal) -> Mask:
        with self.ctx.reads() as session:
            complaint = session.scalars(select(Complaint).where(
                Complaint.instance_id == instance_id)).first()
            return Mask.for_report(principal, complaint)

    # ------------------------------------------------------------------ incidents

    def incidents(self, principal: access.Principal) -> dict[str, Any]:
        """The instances in error: element, message, line, since when."""
        require_reader(principal)
        return {"incidents": self.ctx.engine.incidents(), "may_change": principal.has(DESIGNER)}

    @engine_errors
    def retry(self, instance_id: int, principal: access.Principal) -> dict[str, Any]:
        """Run an instance's failed task again (after its cause was fixed)."""
        require_designer(principal)
        return self.ctx.engine.retry(instance_id, actor=principal.username).as_dict()

    # ------------------------------------------------------------------ migration

    @engine_errors
    def plan_migration(self, principal: access.Principal, process_id: str, to_version: int,
                       *, from_version: int | None = None,
                       instance_ids: Iterable[int] | None = None) -> dict[str, Any]:
        """A dry run: for each open instance (of `from_version`, or among `instance_ids`),
        whether it can move to `to_version`, its problems, the changed elements and where it
        is now. Nothing changes."""
        require_designer(principal)
        errors: dict[str, Any] = {}
        self._check_versions(process_id, to_version, from_version, principal, errors)
        chosen = self._selection(instance_ids, errors)
        if errors:
            raise Invalid("the migration cannot be planned: %(fields)s", errors,
                          fields=", ".join(sorted(errors)))
        return self.ctx.engine.migrate(process_id, to_version, from_version=from_version,
                                       instance_ids=chosen, dry_run=True,
                                       actor=principal.username)

    @engine_errors
    def migrate(self, principal: access.Principal, process_id: str, to_version: int, *,
                note: str | None, from_version: int | None = None,
                instance_ids: Iterable[int] | None = None) -> dict[str, Any]:
        """Move the chosen open instances to `to_version`. Every one is checked first: if
        any cannot move, none does (MigrationRefused names them). The note is kept in the
        audit log."""
        require_designer(principal)
        errors: dict[str, Any] = {}
        self._check_versions(process_id, to_version, from_version, principal, errors)
        text = _note(note, errors)
        chosen = self._selection(instance_ids, errors)
        if errors:
            raise Invalid("the instances were not migrated: %(fields)s", errors,
                          fields=", ".join(sorted(errors)))
        report = self.ctx.engine.migrate(process_id, to_version, from_version=from_version,
                                         instance_ids=chosen, actor=principal.username,
                                         note=text)
        if report["refused"]:
            raise MigrationRefused(report)
        return report

    def _check_versions(self, process_id: str, to_version: int, from_version: int | None,
                        principal: access.Principal, errors: dict[str, Any]) -> None:
        try:
            known = {v["version"] for v in self.versions(process_id, principal)["versions"]}
        except NotFound:
            errors["process"] = Message("choose a deployed process")
            return
        if to_version not in known:
            errors["to_version"] = Message("choose a deployed version")
        if from_version is not None and from_version not in known:
            errors["from_version"] = Message("choose a deployed version")

    @staticmethod
    def _selection(instance_ids: Iterable[int] | None, errors: dict[str, Any]
                   ) -> list[int] | None:
        if instance_ids is None:
            return None
        chosen = sorted(set(instance_ids))
        if not chosen:
            errors["instances"] = Message("choose at least one instance, or all of a version")
        elif len(chosen) > MIGRATE_MAX_SELECTED:
            errors["instances"] = Message("at most %(limit)s instances at a time",
                                          limit=MIGRATE_MAX_SELECTED)
        return chosen

    # ------------------------------------------------------------------ audit

    def audit(self, principal: access.Principal, process_id: str | None = None
              ) -> dict[str, Any]:
        """Deploys and migrations, newest first: who, when, what, the note."""
        require_reader(principal)
        return self.history(process_id)

    def history(self, process_id: str | None = None, limit: int = AUDIT_ENTRIES
                ) -> dict[str, Any]:
        """The audit's entries for a caller that checked its reader's permission itself
        (`audit`, and the administrators' audit log: workflows/audit_log.py)."""
        return {"entries": self.ctx.engine.history(process_id=process_id or None,
                                                   limit=limit),
                "process_id": process_id or None,
                "processes": sorted({d["process_id"] for d in self.ctx.engine.definitions()})}
