"""Drafts in the studio: diagrams a process designer works on, saved on the server as a unit.

A draft is several files (.bpmn diagrams, .dmn decision tables, .json form schemas) opened
from the shipped lifecycle, from a deployed version, or uploaded from another modeler. Every
save counts up the draft's `version`; a save names the version it started from, and when
someone saved in between it is refused (Conflict, HTTP 409): of two concurrent saves one
wins, the other is told and loses nothing it can not reload. The check is the UPDATE's own
WHERE clause, so it holds on SQLite and PostgreSQL alike without holding a lock.

Every file that comes in (upload or save) is checked before it is stored: its name and type,
its size (MAX_FILE_BYTES, and MAX_DRAFT_BYTES and MAX_FILES for the draft), text a database
stores the same (no NUL, no lone surrogate), and for XML the engine's safe reading (no DTD, no
entities, no network; engine/definitions/files.py) and a depth limit. Whether the files make a
deployable process is `validate`: the engine's findings, element by element.

Process designers write; regency administrators read (workflows/studio.py).
"""

from __future__ import annotations

import inspect
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from lxml import etree
from sqlalchemy import delete, select, update

import engine as bpm
from engine.definitions import SourceFile, decode_source
from engine.definitions.files import BPMN_NS, read_xml
from workflows import access
from workflows import diagram_ids as ids
from workflows.context import Context
from workflows.draft_models import StudioDraft
from workflows.errors import Conflict, Invalid, Message, NotFound
from workflows.lifecycle import SERVICE_DOCS, shipped_files
from workflows.studio import Studio, require_designer, require_reader
from workflows.validation import MAX_DEPTH as MAX_JSON_DEPTH
from workflows.validation import MAX_ID, UNSTORABLE, nesting_depth

MAX_FILE_BYTES = 2 * 1024 * 1024  # one file; the largest MIWG export is 0.5 MB
MAX_DRAFT_BYTES = 8 * 1024 * 1024  # all files of a draft
MAX_FILES = 20
MAX_XML_DEPTH = 50  # levels of elements; real exports nest at most 11 (MIWG corpus)
MAX_NAME = 200
FILE_TYPES = (".bpmn", ".dmn", ".json")
_FILE_NAME = re.compile(r"[\w][\w .()+-]{0,98}")
_MIMETYPES = {".bpmn": "application/xml", ".dmn": "application/xml",
              ".json": "application/json"}


@dataclass(frozen=True)
class Draft:
    """A draft as the pages and the modeler see it."""

    id: int
    name: str
    process_id: str
    version: int
    based_on_version: int | None
    created_by: str
    created_at: datetime
    saved_by: str
    saved_at: datetime
    files: dict[str, str]

    @property
    def file_names(self) -> list[str]:
        return sorted(self.files)

    @property
    def size(self) -> int:
        return sum(len(text.encode("utf-8")) for text in self.files.values())

    def as_dict(self) -> dict[str, Any]:
        """The modeler's `draft` object (without the files)."""
        return {"id": self.id, "name": self.name, "process_id": self.process_id,
                "version": self.version, "based_on_version": self.based_on_version,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "saved_by": self.saved_by, "saved_at": self.saved_at.isoformat(),
                "files": self.file_names}


@dataclass(frozen=True)
class Download:
    filename: str
    content: bytes
    mimetype: str


def _draft(row: StudioDraft) -> Draft:
    return Draft(row.id, row.name, row.process_id, row.version, row.based_on_version,
                 row.created_by, row.created_at, row.saved_by, row.saved_at, dict(row.files))


class Drafts:
    """The studio's drafts (see the module)."""

    def __init__(self, ctx: Context, studio: Studio) -> None:
        self.ctx = ctx
        self.studio = studio

    # ------------------------------------------------------------------ reads

    def list(self, principal: access.Principal) -> list[Draft]:
        require_reader(principal)
        with self.ctx.reads() as session:
            rows = session.scalars(select(StudioDraft).order_by(
                StudioDraft.saved_at.desc(), StudioDraft.id.desc())).all()
            return [_draft(row) for row in rows]

    def get(self, principal: access.Principal, draft_id: int) -> Draft:
        require_reader(principal)
        with self.ctx.reads() as session:
            return _draft(self._row(session, draft_id))

    def sources(self, principal: access.Principal) -> list[dict[str, Any]]:
        """What a new draft may start from: the shipped lifecycle, then each deployed
        version (newest first)."""
        require_reader(principal)
        found = [{"process_id": ids.PROCESS_ID, "version": None, "name": None}]
        for definition in sorted(self.ctx.engine.definitions(),
                                 key=lambda d: (d["process_id"], -d["version"])):
            found.append({"process_id": definition["process_id"],
                          "version": definition["version"], "name": definition.get("name")})
        return found

    def download(self, principal: access.Principal, draft_id: int,
                 filename: str | None = None) -> Download:
        """One file of the draft, or (without `filename`) all of them as a .zip."""
        draft = self.get(principal, draft_id)
        if filename is not None:
            if filename not in draft.files:
                raise NotFound("draft %(draft)s has no file %(file)s", draft=draft_id,
                               file=filename)
            return Download(filename, draft.files[filename].encode("utf-8"),
                            _MIMETYPES.get(PurePosixPath(filename).suffix.lower(),
                                           "text/plain"))
        buffer = io.BytesIO()
        stamp = draft.saved_at.timetuple()[:6]
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in draft.file_names:
                archive.writestr(zipfile.ZipInfo(name, stamp), draft.files[name].encode("utf-8"),
                                 zipfile.ZIP_DEFLATED)
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", draft.name).strip("-")[:60] or "draft"
        return Download(f"{slug}-{draft.id}-v{draft.version}.zip", buffer.getvalue(),
                        "application/zip")

    def services(self, principal: access.Principal) -> list[dict[str, Any]]:
        """The host's registered services with their documented parameters (SERVICE_DOCS;
        a service without an entry is described by its function's signature)."""
        require_reader(principal)
        found = []
        for name, fn in sorted(self.ctx.engine.services.items()):
            documented = SERVICE_DOCS.get(name)
            if documented is not None:
                parameters = [{"name": p.name, "doc": p.doc, "required": p.required}
                              for p in documented.parameters]
                doc = documented.doc
            else:
                parameters = [{"name": p.name, "doc": "", "required": p.default is p.empty}
                              for p in inspect.signature(fn).parameters.values()
                              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
                doc = inspect.getdoc(fn) or ""
            found.append({"name": name, "doc": doc, "parameters": parameters})
        return found

    def deploy(self, principal: access.Principal, draft_id: int, note: str | None
               ) -> dict[str, Any]:
        """Deploy the draft's saved files as the next version of its process, with a change
        note (Studio.deploy: designers only; DeployRefused carries the findings). The draft
        stays: a designer may go on from it."""
        draft = self.get(principal, draft_id)
        return self.studio.deploy(draft.files, note, principal,
                                  process_id=draft.process_id or None)

    def validate(self, principal: access.Principal, *, draft_id: int | None = None,
                 files: dict[str, Any] | None = None) -> list[bpm.Finding]:
        """The engine's findings on the draft's files (or on `files`, not yet saved); none
        means the draft could be deployed as it is."""
        require_reader(principal)
        if files is None:
            if draft_id is None:
                raise Invalid("nothing to validate",
                              {"files": Message("send the files or a draft")})
            files = self.get(principal, draft_id).files
        else:
            files = checked_files(files)
        return self.ctx.engine.validate([SourceFile(n, t) for n, t in sorted(files.items())])

    # ------------------------------------------------------------------ writes

    def create(self, principal: access.Principal, *, name: str | None = None,
               process_id: str = ids.PROCESS_ID, from_version: int | None = None) -> Draft:
        """A draft of the shipped lifecycle (no `from_version`) or of a deployed version."""
        require_designer(principal)
        if not isinstance(process_id, str) or len(process_id) > 200 or UNSTORABLE.search(
                process_id):
            raise Invalid("choose a process from the list",
                          {"process_id": Message("a process id of at most 200 characters")})
        if from_version is None:
            if process_id != ids.PROCESS_ID:
                raise Invalid("only the complaint lifecycle is shipped",
                              {"process_id": Message("use %(process)s or choose a version",
                                                     process=ids.PROCESS_ID)})
            files = shipped_files()
            default_name = Message("%(process)s as shipped", process=process_id)
        else:
            try:
                files = self.ctx.engine.definition_files(process_id, from_version)
            except bpm.NotFound as exc:
                raise NotFound(exc.message) from exc
            default_name = Message("%(process)s version %(version)s", process=process_id,
                                   version=from_version)
        return self._insert(principal, checked_name(name, str(default_name)), process_id,
                            from_version, files)

    def upload(self, principal: access.Principal, uploads: list[tuple[str, bytes]], *,
               name: str | None = None, draft_id: int | None = None,
               version: int | None = None) -> Draft:
        """Files from another modeler: a new draft of them, or added to (replacing files of
        the same name in) draft `draft_id`; `version`, when given, must be the draft's."""
        require_designer(principal)
        if not uploads:
            raise Invalid("choose at least one file",
                          {"files": Message("choose .bpmn, .dmn or .json files")})
        incoming: dict[str, str] = {}
        errors: dict[str, Any] = {}
        for filename, raw in uploads:
            try:
                named = checked_file_name(filename)
            except Invalid as exc:
                errors.update(exc.field_errors)
                continue
            if len(raw) > MAX_FILE_BYTES:
                errors[f"files.{named}"] = too_large(named)
                continue
            incoming[named] = decode_source(raw)
        if errors:
            raise Invalid("some files cannot be taken: %(names)s", errors,
                          names=", ".join(sorted(errors)))
        if draft_id is None:
            files = checked_files(incoming)
            first = sorted(files)[0]
            return self._insert(principal, checked_name(name, first), process_of(files), None,
                                files)
        return self._change(principal, draft_id, version,
                            lambda current: {**current, **incoming})

    def save(self, principal: access.Principal, draft_id: int, version: int,
             files: dict[str, Any]) -> Draft:
        """Replace the draft's files, if nobody saved since `version` (else Conflict)."""
        require_designer(principal)
        if not isinstance(version, int) or isinstance(version, bool):
            raise Invalid("the draft's version is missing",
                          {"version": Message("send the version you opened (a whole "
                                              "number)")})
        return self._change(principal, draft_id, version, lambda _current: files)

    def remove_file(self, principal: access.Principal, draft_id: int, filename: str,
                    version: int | None = None) -> Draft:
        require_designer(principal)

        def without(current: dict[str, str]) -> dict[str, str]:
            if filename not in current:
                raise NotFound("draft %(draft)s has no file %(file)s", draft=draft_id,
                               file=filename)
            if len(current) == 1:
                raise Invalid("a draft keeps at least one file", {
                    f"files.{filename}": Message("add another file first, or delete the "
                                                 "draft")})
            return {n: t for n, t in current.items() if n != filename}

        return self._change(principal, draft_id, version, without)

    def rename(self, principal: access.Principal, draft_id: int, name: str) -> Draft:
        require_designer(principal)
        named = checked_name(name, None)
        with self.ctx.transaction() as session:
            row = self._row(session, draft_id)
            row.name = named
            session.flush()
            return _draft(row)

    def delete(self, principal: access.Principal, draft_id: int) -> None:
        require_designer(principal)
        with self.ctx.transaction() as session:
            removed = session.execute(delete(StudioDraft).where(StudioDraft.id == draft_id)) \
                if 1 <= draft_id <= MAX_ID else None
            if removed is None or removed.rowcount == 0:
                raise NotFound("draft %(draft)s does not exist", draft=draft_id)

    # ------------------------------------------------------------------ helpers

    def _insert(self, principal: access.Principal, name: str, process_id: str,
                based_on: int | None, files: dict[str, str]) -> Draft:
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            row = StudioDraft(process_id=process_id[:200], name=name, files=files,
                              based_on_version=based_on, version=1,
                              created_by=principal.username, created_at=now,
                              saved_by=principal.username, saved_at=now)
            session.add(row)
            session.flush()
            return _draft(row)

    def _change(self, principal: access.Principal, draft_id: int, version: int | None,
                change: Any) -> Draft:
        """Write `change(current files)` as the next version, in one UPDATE whose WHERE holds
        the version read: a save in between makes it match no row (Conflict)."""
        with self.ctx.transaction() as session:
            row = self._row(session, draft_id)
            expected = row.version if version is None else version
            if expected != row.version:
                raise stale(row, version)
            files = checked_files(change(dict(row.files)))
            session.expunge(row)
            changed = session.execute(
                update(StudioDraft).where(StudioDraft.id == draft_id,
                                          StudioDraft.version == expected)
                .values(files=files, version=expected + 1, saved_by=principal.username,
                        saved_at=self.ctx.now()))
            if changed.rowcount != 1:
                raise stale(self._row(session, draft_id), expected)
            return _draft(self._row(session, draft_id))

    @staticmethod
    def _row(session: Any, draft_id: int) -> StudioDraft:
        row = session.get(StudioDraft, draft_id, populate_existing=True) \
            if 1 <= draft_id <= MAX_ID else None
        if row is None:
            raise NotFound("draft %(draft)s does not exist", draft=draft_id)
        return row


def stale(row: StudioDraft, version: int | None) -> Conflict:
    return Conflict("%(who)s saved this draft after you opened it (version %(yours)s, now "
                    "%(theirs)s); reload it, then make your change again",
                    who=row.saved_by, yours=version, theirs=row.version)


# --------------------------------------------------------------------------- checks


def too_large(filename: str) -> Message:
    return Message("%(file)s is larger than %(limit)s MB; save a smaller file",
                   file=filename, limit=MAX_FILE_BYTES // (1024 * 1024))


def checked_name(name: str | None, default: str | None) -> str:
    text = (name or "").strip() or (default or "")
    if not text:
        raise Invalid("the draft needs a name", {"name": Message("type a name")})
    if len(text) > MAX_NAME or UNSTORABLE.search(text):
        raise Invalid("the draft's name cannot be stored", {
            "name": Message("at most %(limit)s characters, without NUL characters",
                            limit=MAX_NAME)})
    return text


def checked_file_name(filename: Any) -> str:
    """The file's own name (any folder dropped), if it is a plain name of a known type."""
    if not isinstance(filename, str):
        raise Invalid("a file name is missing", {"files": Message("every file needs a name")})
    named = re.split(r"[\\/]", filename)[-1].strip()
    suffix = PurePosixPath(named).suffix.lower()
    field = f"files.{named or '(no name)'}"
    if suffix not in FILE_TYPES:
        raise Invalid("%(file)s is not a .bpmn, .dmn or .json file", {field: Message(
            "a draft holds .bpmn, .dmn and .json files; this one is %(kind)s",
            kind=suffix or "(no extension)")}, file=named)
    if not _FILE_NAME.fullmatch(named):
        raise Invalid("%(file)s is not a usable file name", {field: Message(
            "use letters, digits, spaces and . _ - ( ) + (at most 100 characters)")},
            file=named[:100])
    return named


def checked_files(files: Any) -> dict[str, str]:
    """The files if every one may be stored (see the module), else Invalid naming each."""
    if not isinstance(files, dict) or not files:
        raise Invalid("the draft has no files",
                      {"files": Message("send at least one .bpmn file")})
    if len(files) > MAX_FILES:
        raise Invalid("a draft holds at most %(limit)s files", {
            "files": Message("at most %(limit)s files", limit=MAX_FILES)}, limit=MAX_FILES)
    errors: dict[str, Any] = {}
    checked: dict[str, str] = {}
    total = 0
    for filename, text in files.items():
        try:
            named = checked_file_name(filename)
        except Invalid as exc:
            errors.update(exc.field_errors)
            continue
        field = f"files.{named}"
        if named != filename:
            errors[field] = Message("a file name may not name a folder")
            continue
        if not isinstance(text, str):
            errors[field] = Message("the file's content must be text")
            continue
        size = len(text.encode("utf-8", errors="surrogatepass"))
        total += size
        if size > MAX_FILE_BYTES:
            errors[field] = too_large(named)
        elif UNSTORABLE.search(text):
            errors[field] = Message("the file holds a NUL character or a lone surrogate; save "
                                    "it again as UTF-8 text")
        else:
            problem = content_problem(named, text)
            if problem:
                errors[field] = problem
            else:
                checked[named] = text
    if not errors and total > MAX_DRAFT_BYTES:
        errors["files"] = Message("all files of a draft hold at most %(limit)s MB together",
                                  limit=MAX_DRAFT_BYTES // (1024 * 1024))
    if errors:
        raise Invalid("some files cannot be taken: %(names)s", errors,
                      names=", ".join(sorted(errors)))
    return checked


def content_problem(filename: str, text: str) -> str | None:
    """Why the file cannot be read safely, or None: XML by the engine's safe reader (no DTD,
    no entities) within MAX_XML_DEPTH; JSON as an object within the API's depth."""
    if filename.lower().endswith(".json"):
        try:
            value = json.loads(text)
        except RecursionError:
            value, depth = None, MAX_JSON_DEPTH + 1
        except ValueError as exc:
            return Message("not valid JSON: %(reason)s", reason=str(exc))
        else:
            depth = nesting_depth(value)
        if depth > MAX_JSON_DEPTH:
            return Message("nested more than %(limit)s levels deep", limit=MAX_JSON_DEPTH)
        if not isinstance(value, dict):
            return Message("a form schema is a JSON object")
        return None
    findings: list[bpm.Finding] = []
    tree = read_xml(SourceFile(filename, text), findings.append)
    if tree is None:
        return findings[0].message if findings else Message("cannot be read as XML")
    depth = deepest = 0
    for event, _node in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_XML_DEPTH:
            return Message("elements nested more than %(limit)s levels deep; export the file "
                           "again from the modeler", limit=MAX_XML_DEPTH)
    return None


def process_of(files: dict[str, str]) -> str:
    """The id of the first executable process of the files (else of the first process), to
    name the draft's process; the engine decides which one a deploy takes."""
    found: list[tuple[bool, str]] = []
    for name in sorted(files):
        if not name.lower().endswith(".bpmn"):
            continue
        tree = read_xml(SourceFile(name, files[name]), lambda _finding: None)
        if tree is None:
            continue
        for process in tree.iter(f"{{{BPMN_NS}}}process"):
            if process.get("id"):
                found.append((process.get("isExecutable") != "true", process.get("id")))
    executable = [pid for later, pid in found if not later]
    return (executable or [pid for _, pid in found] or [""])[0]
