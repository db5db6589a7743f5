"""workflows/referrals.py: the routing table's suggestion kept once, beside a referral."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from workflows import referrals
from workflows.lifecycle_models import ComplaintRouting
from workflows.models import Complaint

SUGGESTED = {"authority": "provincial", "handler_level": "opd", "agency_code": "dinas_pupr"}
OTHER = {"authority": "regency", "handler_level": "unit", "agency_code": "dishub"}


def filed(regency) -> int:
    tracking = regency.submit()["tracking_number"]
    with regency.reads() as session:
        return session.scalar(select(Complaint.id).where(
            Complaint.tracking_number == tracking))


def routing(regency, complaint_id: int) -> dict:
    with regency.reads() as session:
        row = session.get(ComplaintRouting, complaint_id)
        return {"suggestion": (row.authority, row.handler_level, row.agency_code),
                "suggested_at": row.suggested_at, "refer_to": row.refer_to}


def test_a_suggestion_is_kept_once_and_never_replaced(regency):
    complaint_id = filed(regency)
    first = regency.clock.now()
    with regency.transaction() as session:
        referrals.keep_suggestion(session, complaint_id, SUGGESTED, first)
    with regency.transaction() as session:  # a later wait for the disposition
        referrals.keep_suggestion(session, complaint_id, OTHER, first + timedelta(days=1))
    assert routing(regency, complaint_id) == {
        "suggestion": ("provincial", "opd", "dinas_pupr"), "suggested_at": first,
        "refer_to": None}


def test_a_suggestion_joins_a_referral_read_in_the_same_session_or_kept_before(regency):
    now = regency.clock.now()
    held, kept = filed(regency), filed(regency)
    with regency.transaction() as session:  # the referral's row is in the session
        referrals.keep_referral(session, held, "BPJN Kaltim", now)
        referrals.keep_suggestion(session, held, SUGGESTED, now)
        referrals.keep_suggestion(session, held, OTHER, now)
    with regency.transaction() as session:
        referrals.keep_referral(session, kept, "BPJN Kaltim", now)
    with regency.transaction() as session:  # the row is only in the database
        referrals.keep_suggestion(session, kept, {"authority": "", "agency_code": "x" * 99},
                                  now)
    assert routing(regency, held) == {
        "suggestion": ("provincial", "opd", "dinas_pupr"), "suggested_at": now,
        "refer_to": "BPJN Kaltim"}
    assert routing(regency, kept) == {
        "suggestion": (None, None, "x" * 60), "suggested_at": now, "refer_to": "BPJN Kaltim"}
