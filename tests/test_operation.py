"""workflows/operation.py: the report's version counted in an operation's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from workflows.models import Complaint
from workflows.operation import count_change


@pytest.mark.parametrize("counts", [1, 2, 8, 9, 12])
def test_every_count_of_a_change_adds_one_to_the_version(regency, counts):
    tracking = regency.submit()["tracking_number"]
    with regency.transaction() as session:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == tracking)).one()
        before = complaint.version
        for _ in range(counts):
            count_change(complaint)
        session.flush()
        complaint_id = complaint.id
    with regency.reads() as session:
        assert session.get(Complaint, complaint_id).version == before + counts


def test_counts_flushed_apart_add_up(regency):
    tracking = regency.submit()["tracking_number"]
    with regency.transaction() as session:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == tracking)).one()
        before = complaint.version
        count_change(complaint)
        count_change(complaint)
        session.flush()
        count_change(complaint)
        session.flush()
        assert complaint.version == before + 3  # (read back after the flush)
