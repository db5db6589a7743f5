"""The engine operation a host service runs in, and the complaint whose instance it moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

from engine import Operation, current_operation
from workflows.models import Complaint

COMPLAINT = "complaint"
# The agency's answer a verb recorded in this operation, for the status message that the
# diagram's services then send (saves reading the history entry back).
ANSWER = "answer"
# `version + n` for the counts an operation makes, built once: building the expression anew
# cost each count about a hundred Python calls. By identity: `==` on an expression is SQL.
_COUNTED = tuple(Complaint.version + n for n in range(1, 9))
_COUNT_OF = {id(expression): n for n, expression in enumerate(_COUNTED, start=1)}


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
    if not isinstance(pending, ClauseElement):
        complaint.version = _COUNTED[0]
        return
    counted = _COUNT_OF.get(id(pending), len(_COUNTED))
    complaint.version = _COUNTED[counted] if counted < len(_COUNTED) else pending + 1


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
    """Queries in the block see the session's unwritten rows of `models` (written first, if
    there are any: unflushed ORM rows, rows staged by `insert_row`) and write nothing else.
    An engine operation's services then write their rows once at its end
    (engine/operation.py, `flush_services`) instead of before each query: a lifecycle
    flushed 19 times for 33 rows (issue 17)."""
    current = current_operation()
    if current is not None and current.session is session and current.staged:
        current.write_staged([model.__table__ for model in models])
    if pending(session, *models):
        session.flush()
    with session.no_autoflush:
        yield


def insert_row(session: Session, model: type, **values: Any) -> None:
    """A new row of an insert-only table (the report's history, a message). Inside an
    engine operation on this session it is staged (engine.Operation.stage): written with
    the operation's other rows of its table by one statement, without the ORM's unit of
    work, which cost a lifecycle more than a tenth of its CPU. Elsewhere it is added to the
    session. Either way it commits or rolls back with the transaction, and nothing reads it
    back as an object: give every column the table's readers need."""
    current = current_operation()
    if current is not None and current.session is session:
        current.stage(model.__table__, values)
    else:
        session.add(model(**values))


def event_row(complaint_id: int, at: datetime, actor: str | None, kind: str, *,
              status_from: str | None = None, status_to: str | None = None,
              text: str | None = None, public: bool = True) -> dict[str, Any]:
    """A `complaint_event` row with every column given (rows staged together share their
    columns, so one statement writes them)."""
    return {"complaint_id": complaint_id, "at": at, "actor": actor, "kind": kind,
            "status_from": status_from, "status_to": status_to, "text": text,
            "public": public}
