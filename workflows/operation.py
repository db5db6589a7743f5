"""The engine operation a host service runs in, and the complaint whose instance it moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

from engine import Operation, current_operation
from workflows.models import Complaint

COMPLAINT = "complaint"


def running_operation() -> Operation:
    """The engine operation running now (host services run only inside one)."""
    found = current_operation()
    if found is None:
        raise RuntimeError("called outside an engine operation")
    return found


def complaint_of(current: Operation, required: bool = True) -> Complaint | None:
    """The complaint of the operation's instance (in the operation's transaction), read once
    per operation: its services and listeners share the session's object."""
    complaint = current.memo.get(COMPLAINT)
    if complaint is None:
        complaint = current.session.scalars(select(Complaint).where(
            Complaint.instance_id == current.instance_id)).first()
        if complaint is not None:
            current.memo[COMPLAINT] = complaint
    if complaint is None and required:
        raise LookupError(f"no complaint belongs to instance {current.instance_id}")
    return complaint


def count_change(complaint: Complaint) -> None:
    """One more change to the report (its `version`), counted by the database at the flush
    (`version = version + 1`): a writer that did not lock the instance (linking a duplicate)
    may have counted since this session read the row. Two counts before a flush add up."""
    pending = complaint.__dict__.get("version")
    complaint.version = (pending if isinstance(pending, ClauseElement)
                         else Complaint.version) + 1


def keep_complaint(current: Operation, complaint: Complaint) -> None:
    """The operation's complaint, as its hook loaded or created it (saves the services a
    query)."""
    current.memo[COMPLAINT] = complaint


def pending(session: Session, *models: type) -> bool:
    """Whether the session holds unflushed changes to rows of `models`."""
    return any(isinstance(row, models)
               for rows in (session.new, session.dirty, session.deleted) for row in rows)


@contextmanager
def reading(session: Session, *models: type) -> Iterator[None]:
    """Queries in the block see the session's unflushed rows of `models` (flushed first, if
    there are any) and flush nothing else. An engine operation's services then write their
    rows in one flush at its end (engine/transaction.py) instead of one before each query:
    a lifecycle flushed 19 times for 33 rows (issue 17)."""
    if pending(session, *models):
        session.flush()
    with session.no_autoflush:
        yield
