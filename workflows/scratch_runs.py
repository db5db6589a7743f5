"""Scratch runs on disk: one directory per run, its lock, its state file, its database.

A run lives in `<scratch dir>/<run id>/`:

    scratch.db    a SQLite database of its own (the whole schema, by the migrations)
    run.json      who made it and when, its scratch clock, its test complaints, a version
    lock          taken (flock) for the length of each use case on the run
    uploads/      the test complaints' evidence

The live database is never opened for writing here: the run's database is a new file, and
what it copies of the live regency (agencies, the working calendar) is read by the caller
and handed in. A use case that changes a run takes the lock exclusively, waiting up to
WRITE_WAIT_SECONDS for the request before it (the page's own diagram fetch, say, or another
change: that one then finds the run's version moved and is refused, HTTP 409), never
interleaved; a run still busy after that is refused too. Readers take it shared, waiting a
little for a writer to finish. Runs idle for `IDLE_HOURS` (by the
live clock) are removed by the next `sweep`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from workflows.errors import Conflict, NotFound

DATABASE = "scratch.db"
STATE = "run.json"
LOCK = "lock"
UPLOADS = "uploads"
IDLE_HOURS = 24
READ_WAIT_SECONDS = 5.0
WRITE_WAIT_SECONDS = 5.0  # a change waits this long for the request holding the run
RUN_ID = re.compile(r"^[0-9a-f]{16}$")
# Alembic's command API keeps its context in module state: one migration at a time.
_migrating = threading.Lock()


@dataclass(frozen=True)
class ScratchRun:
    """A scratch run as its state file says: the candidate's files, its scratch clock, its
    test complaints (tracking numbers, newest last), and the version its changes counted."""

    id: str
    owner: str
    created_at: datetime
    used_at: datetime
    clock: datetime
    files: tuple[str, ...]
    source: str  # "upload" (a candidate's files) or "deployed" (the live lifecycle's)
    complaints: tuple[str, ...]
    version: int

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ScratchRun:
        return cls(state["id"], state["owner"], datetime.fromisoformat(state["created_at"]),
                   datetime.fromisoformat(state["used_at"]),
                   datetime.fromisoformat(state["clock"]), tuple(state["files"]),
                   state["source"], tuple(state["complaints"]), int(state["version"]))

    def as_state(self) -> dict[str, Any]:
        return {"id": self.id, "owner": self.owner, "created_at": self.created_at.isoformat(),
                "used_at": self.used_at.isoformat(), "clock": self.clock.isoformat(),
                "files": list(self.files), "source": self.source,
                "complaints": list(self.complaints), "version": self.version}


class RunDirectory:
    """The scratch directory: make, find, lock, save and remove runs (see the module)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, run_id: str) -> Path:
        """The run's directory; NotFound for anything that is not a run id (never a path
        outside the scratch directory) or a run that does not exist."""
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise NotFound(f"scratch run {run_id!r} does not exist")
        folder = self.root / run_id
        if not (folder / STATE).is_file():
            raise NotFound(f"scratch run {run_id!r} does not exist")
        return folder

    def database_url(self, run_id: str) -> str:
        return f"sqlite:///{self.root / run_id / DATABASE}"

    def uploads(self, run_id: str) -> Path:
        return self.root / run_id / UPLOADS

    def migrate(self, run_id: str) -> None:
        import migrations

        with _migrating:
            migrations.upgrade(self.database_url(run_id))

    def load(self, run_id: str) -> ScratchRun:
        folder = self.path(run_id)
        return ScratchRun.from_state(json.loads((folder / STATE).read_text("utf-8")))

    def save(self, run: ScratchRun) -> None:
        """Write the state file whole (a new file renamed over the old one)."""
        folder = self.root / run.id
        temporary = folder / f".{STATE}.{os.getpid()}.{threading.get_ident()}"
        temporary.write_text(json.dumps(run.as_state(), indent=1), "utf-8")
        os.replace(temporary, folder / STATE)

    def remove(self, run_id: str) -> None:
        shutil.rmtree(self.root / run_id, ignore_errors=True)

    def runs(self) -> list[ScratchRun]:
        found = []
        if not self.root.is_dir():
            return found
        for folder in sorted(self.root.iterdir()):
            if RUN_ID.match(folder.name) and (folder / STATE).is_file():
                with contextlib.suppress(OSError, ValueError, KeyError):
                    found.append(self.load(folder.name))
        return sorted(found, key=lambda r: r.created_at, reverse=True)

    @contextlib.contextmanager
    def locked(self, run_id: str, *, shared: bool = False) -> Iterator[Path]:
        """Hold the run's lock for the block: exclusive (refused with Conflict when another
        request still holds it after WRITE_WAIT_SECONDS) or shared (waits up to
        READ_WAIT_SECONDS for a writer)."""
        folder = self.path(run_id)
        with _flock(folder, run_id, shared=shared):
            if not (folder / STATE).is_file():  # deleted while we waited
                raise NotFound(f"scratch run {run_id!r} does not exist")
            yield folder

    @contextlib.contextmanager
    def creating(self) -> Iterator[str]:
        """A new run directory, locked until its state file is written (`save`); removed
        again if the block fails."""
        self.root.mkdir(parents=True, exist_ok=True)
        run_id = secrets.token_hex(8)
        folder = self.root / run_id
        folder.mkdir(mode=0o700)
        try:
            with _flock(folder, run_id, shared=False):
                yield run_id
        except BaseException:
            self.remove(run_id)
            raise

    def sweep(self, now: datetime, idle_hours: float = IDLE_HOURS) -> list[str]:
        """Remove the runs nobody used for `idle_hours` (by the live clock, `now`), and
        directories a crash left half-made for as long; a run in use is left alone."""
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        limit = now - timedelta(hours=idle_hours)
        for folder in self.root.iterdir():
            if not RUN_ID.match(folder.name):
                continue
            try:
                if (folder / STATE).is_file():
                    idle = self.load(folder.name).used_at < limit
                else:  # never finished: its last change on disk, against the same `now`
                    idle = folder.stat().st_mtime < limit.timestamp()
            except (OSError, ValueError, KeyError, NotFound):
                continue
            if not idle:
                continue
            with contextlib.suppress(Conflict, OSError):
                with _flock(folder, folder.name, shared=False):
                    self.remove(folder.name)
                removed.append(folder.name)
        return removed


@contextlib.contextmanager
def _flock(folder: Path, run_id: str, *, shared: bool) -> Iterator[None]:
    descriptor = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + (READ_WAIT_SECONDS if shared else WRITE_WAIT_SECONDS)
        while True:
            try:
                fcntl.flock(descriptor, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Conflict("scratch run %(run)s is busy with another request; wait "
                                   "for it to finish and try again", run=run_id) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)
