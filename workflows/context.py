"""What every use case works with: the engine, the regency's configuration, evidence storage,
password hashing and the clock; and the units of work it opens."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from engine import Clock, Engine
from workflows.config import RegencyConfig
from workflows.storage import Storage
from workflows.users import Passwords


@dataclass
class Context:
    """One per process, shared by the use cases. A use case opens its own units of work
    (`transaction` to write, `reads` to read) and takes the time from `now()`: callers
    (web/, the CLI, the scheduler) hand it what they parsed, never a session or an instant."""

    engine: Engine
    config: RegencyConfig
    storage: Storage
    passwords: Passwords = field(default_factory=Passwords)

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    def now(self) -> datetime:
        return self.engine.clock.now()

    def today(self) -> date:
        """Today's date in the regency's time zone."""
        return self.now().astimezone(self.config.tzinfo).date()

    def transaction(self) -> AbstractContextManager[Session]:
        """A unit of work that may write: commits at the end of the block, or rolls back."""
        return self.engine.store.transaction()

    def reads(self) -> AbstractContextManager[Session]:
        """A read-only unit (never waits for a writer on SQLite; shared by a GET request's
        reads, engine.store.Store.shared_reads)."""
        return self.engine.store.read()

    def shared_reads(self) -> AbstractContextManager[None]:
        """Every read unit opened in the block is one session and one snapshot."""
        return self.engine.store.shared_reads()
