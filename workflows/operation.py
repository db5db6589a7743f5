"""The engine operation a host service runs in, and the complaint whose instance it moves."""

from __future__ import annotations

from sqlalchemy import select

from engine import Operation, current_operation
from workflows.models import Complaint


def running_operation() -> Operation:
    """The engine operation running now (host services run only inside one)."""
    found = current_operation()
    if found is None:
        raise RuntimeError("called outside an engine operation")
    return found


def complaint_of(current: Operation, required: bool = True) -> Complaint | None:
    """The complaint of the operation's instance (in the operation's transaction)."""
    complaint = current.session.scalars(select(Complaint).where(
        Complaint.instance_id == current.instance_id)).first()
    if complaint is None and required:
        raise LookupError(f"no complaint belongs to instance {current.instance_id}")
    return complaint
