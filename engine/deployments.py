"""Deployed definition versions: validate and store units, find versions, cache their specs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.definitions import ParsedUnit, SourceFile, coerce_files, parse_unit
from engine.definitions.forms import FormValidator
from engine.errors import Finding, Message, NotFound, ValidationFailed
from engine.runtime import dump_specs, load_specs
from engine.sandbox import Sandbox
from engine.store import ProcessDefinition, Store

# A host's judgement of a parsed unit of one process: its findings (none when it is fine).
UnitCheck = Callable[[ParsedUnit], Iterable[Finding]]


@dataclass(frozen=True)
class Deployment:
    process_id: str
    version: int
    hash: str
    created: bool
    definition_id: int

    def as_dict(self) -> dict[str, Any]:
        return {"process_id": self.process_id, "version": self.version, "hash": self.hash,
                "created": self.created}


@dataclass
class DeployedDefinition:
    """One deployed version with its specs restored, shared by every instance that runs it."""

    id: int
    process_id: str
    version: int
    spec: Any
    subprocess_specs: dict[str, Any]
    task_meta: dict[str, dict[str, Any]]
    validators: dict[str, FormValidator] = field(default_factory=dict)

    def validator(self, key: str) -> FormValidator | None:
        schema = (self.task_meta.get(key) or {}).get("form")
        if schema is None:
            return None
        if key not in self.validators:
            self.validators[key] = FormValidator(schema)
        return self.validators[key]


@dataclass(eq=False)
class Deployments:
    """Stores each valid unit once per content as the next version of its process.

    Specs are restored once per process and version and kept for the engine's life: a
    deployed version never changes.
    """

    store: Store
    clock: Clock
    sandbox: Sandbox
    _checks: dict[str, list[UnitCheck]] = field(default_factory=dict, init=False, repr=False)
    _cache: dict[int, DeployedDefinition] = field(default_factory=dict, init=False, repr=False)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def add_check(self, process_id: str, check: UnitCheck) -> None:
        """Have `check(unit)` judge every unit of `process_id` at validate and deploy."""
        self._checks.setdefault(process_id, []).append(check)

    def validate(self, files: Iterable[SourceFile | str | Path], process_id: str | None = None
                 ) -> list[Finding]:
        return self.parse(files, process_id).findings

    def deploy(self, files: Iterable[SourceFile | str | Path], *, process_id: str | None = None,
               deployed_by: str | None = None, note: str | None = None) -> Deployment:
        unit = self.parse(files, process_id)
        if not unit.valid:
            raise ValidationFailed([f for f in unit.findings if f.severity == "error"])
        digest = unit.content_hash
        with self.store.transaction() as session:
            existing = session.execute(
                select(ProcessDefinition.id, ProcessDefinition.version).where(
                    ProcessDefinition.process_id == unit.process_id,
                    ProcessDefinition.content_hash == digest,
                )
            ).first()
            if existing is not None:
                return Deployment(unit.process_id, existing.version, digest, False, existing.id)
            latest = session.scalar(
                select(func.max(ProcessDefinition.version)).where(
                    ProcessDefinition.process_id == unit.process_id
                )
            )
            row = ProcessDefinition(
                process_id=unit.process_id,
                version=(latest or 0) + 1,
                name=unit.process_name,
                content_hash=digest,
                files={f.name: f.content for f in unit.files},
                specs=dump_specs(unit.spec, unit.subprocess_specs),
                task_meta=unit.task_meta,
                deployed_at=self.clock.now(),
                deployed_by=deployed_by,
                note=note,
            )
            session.add(row)
            session.flush()
            return Deployment(unit.process_id, row.version, digest, True, row.id)

    def parse(self, files: Iterable[SourceFile | str | Path], process_id: str | None
              ) -> ParsedUnit:
        """The parsed unit with the engine's findings, then those of the host's checks of
        its process (run once the unit's process is known, whatever else was found)."""
        unit = parse_unit(coerce_files(files), self.sandbox, process_id, now=self.clock.now())
        for check in self._checks.get(unit.process_id or "", ()):
            try:
                unit.findings.extend(check(unit))
            except Exception as exc:  # noqa: BLE001 - a host's bug must still reach the deployer
                where = unit.files[0].name if unit.files else "(no files)"
                unit.findings.append(Finding(where, None, "error", Message(
                    "the host's check of process %(process)r failed (%(error)s: %(detail)s); "
                    "this is a bug in the host application, please report it with the files",
                    process=unit.process_id, error=type(exc).__name__, detail=str(exc))))
        return unit

    @staticmethod
    def find(session: Session, process_id: str, version: int | None) -> Any:
        """The id and version of a deployed version, the latest without `version` (not its
        files: they are large)."""
        table = ProcessDefinition.__table__
        query = select(table.c.id, table.c.version).where(table.c.process_id == process_id)
        if version is None:
            query = query.order_by(table.c.version.desc()).limit(1)
        else:
            query = query.where(table.c.version == version)
        row = session.connection().execute(query).first()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFound(f"process {process_id!r} has no deployed {which}; deploy it first")
        return row

    def get(self, session: Session, definition_id: int) -> DeployedDefinition:
        """The definition with its specs, from the cache or read once from `session`."""
        cached = self._cache.get(definition_id)
        if cached is not None:
            return cached
        row = session.get(ProcessDefinition, definition_id)
        if row is None:
            raise NotFound(f"definition {definition_id} does not exist")
        spec, subprocess_specs = load_specs(row.specs)
        cached = DeployedDefinition(row.id, row.process_id, row.version, spec, subprocess_specs,
                                    row.task_meta)
        with self._cache_lock:
            self._cache.setdefault(definition_id, cached)
        return self._cache[definition_id]
