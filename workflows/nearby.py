"""Nearby open reports on the citizen's report form, and "saya juga mengalami ini" (me too).

After the citizen chooses a location, the form asks for the open reports of the same
category nearby (`Nearby.find`): at most MAX_RESULTS within RADIUS_METRES, found with a
bounding box on latitude and longitude (an index-friendly range query) and then measured
exactly with the haversine formula. Only what anyone may read: tracking number, title,
status and distance; never a `rahasia` (confidential) report, never a reporter's identity,
never a report marked as a duplicate (the citizen should follow the original).

Lookups are counted per address in the database (`nearby_lookup`), so every process agrees:
past LOOKUPS_PER_WINDOW within WINDOW_MINUTES, TooManyAttempts.

A citizen who has the same problem says "me too" on one of them (`Nearby.me_too`): counted
once per citizen (their phone, else their e-mail, else their browser session). With a phone
or an e-mail they become a follower, told of the report's status changes like its
complainant (workflows/notify.py, `to_followers`).
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from workflows import categories
from workflows import diagram_ids as ids
from workflows.channels import same_phone
from workflows.context import Context
from workflows.errors import Invalid, Message, NotFound, TooManyAttempts
from workflows.metoo_models import MeToo, NearbyLookup
from workflows.models import Complaint

RADIUS_METRES = 500
MAX_RESULTS = 10
LOOKUPS_PER_WINDOW = 60
WINDOW_MINUTES = 10
EARTH_RADIUS_METRES = 6_371_000
METRES_PER_DEGREE = 111_320  # of latitude; of longitude times cos(latitude)
CLOSED = (ids.STATUS_CLOSED, ids.STATUS_ARCHIVED, ids.STATUS_RETURNED)
PHONE_SHAPE = re.compile(r"^\+?[0-9 -]{6,20}$")
EMAIL_SHAPE = re.compile(r"^[^@\s]{1,100}@[^@\s]+\.[^@\s]+$")
SESSION_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
FOLLOW_CHANNELS = ("sms", "whatsapp")


def distance_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(h)))


def check_query(lat: float | None, lon: float | None, category: str,
                known: Collection[str]) -> None:
    """The lookup's parameters, every wrong one named at once."""
    errors: dict[str, Message] = {}
    if lat is None or not -90 <= lat <= 90:
        errors["lat"] = Message("give the latitude as a number from -90 to 90")
    if lon is None or not -180 <= lon <= 180:
        errors["lon"] = Message("give the longitude as a number from -180 to 180")
    if category not in known:
        errors["category"] = Message("choose one of the report categories")
    if errors:
        raise Invalid("the nearby lookup needs lat, lon and category", errors)


def open_to_follow(complaint: Complaint | None) -> bool:
    """Whether anyone may see the report in the nearby list and say "me too" on it."""
    return (complaint is not None and not complaint.confidential
            and complaint.status not in CLOSED and complaint.duplicate_of_id is None)


class Nearby:
    """The use cases of nearby reports (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def find(self, lat: float | None, lon: float | None, category: str, address: str,
             language: str = "id") -> list[dict[str, Any]]:
        """Open reports of `category` within RADIUS_METRES of the point, nearest first."""
        with self.ctx.reads() as session:
            known = categories.catalog(session).by_code
        check_query(lat, lon, category, known)
        assert lat is not None and lon is not None
        lang = language if language in ("id", "en") else "id"
        now = self.ctx.now()
        since = now - timedelta(minutes=WINDOW_MINUTES)
        with self.ctx.transaction() as session:
            session.execute(delete(NearbyLookup).where(NearbyLookup.at < since))
            used = session.scalar(select(func.count()).select_from(NearbyLookup).where(
                NearbyLookup.address == address, NearbyLookup.at >= since)) or 0
            if used >= LOOKUPS_PER_WINDOW:
                refused = True
            else:
                refused = False
                session.add(NearbyLookup(address=address, at=now))
        if refused:
            raise TooManyAttempts("too many nearby lookups from this address; try again in "
                                  "%(minutes)s minutes", retry_minutes=WINDOW_MINUTES,
                                  minutes=WINDOW_MINUTES)
        dlat = RADIUS_METRES / METRES_PER_DEGREE
        dlon = RADIUS_METRES / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat))))
        with self.ctx.reads() as session:
            rows = session.execute(select(
                Complaint.id, Complaint.tracking_number, Complaint.title, Complaint.status,
                Complaint.latitude, Complaint.longitude).where(
                Complaint.category == category, Complaint.confidential.is_(False),
                Complaint.status.not_in(CLOSED), Complaint.duplicate_of_id.is_(None),
                Complaint.latitude.between(lat - dlat, lat + dlat),
                Complaint.longitude.between(lon - dlon, lon + dlon),
            ).order_by(Complaint.id.desc()).limit(500)).all()
            found = sorted(
                ((distance_metres(lat, lon, r.latitude, r.longitude), r) for r in rows),
                key=lambda pair: pair[0])
            found = [(d, r) for d, r in found if d <= RADIUS_METRES][:MAX_RESULTS]
            counts = self._counts(session, [r.id for _, r in found])
        return [{"tracking_number": r.tracking_number, "title": r.title, "status": r.status,
                 "status_label": ids.STATUS_LABELS.get(r.status, {}).get(lang, r.status),
                 "distance_m": round(d), "me_too": counts.get(r.id, 0)} for d, r in found]

    @staticmethod
    def _counts(session: Any, complaint_ids: list[int]) -> dict[int, int]:
        if not complaint_ids:
            return {}
        return dict(session.execute(select(MeToo.complaint_id, func.count()).where(
            MeToo.complaint_id.in_(complaint_ids)).group_by(MeToo.complaint_id)).all())

    def me_too(self, tracking_number: str, form: Mapping[str, Any], session_token: str,
               language: str = "id") -> dict[str, Any]:
        """Count a citizen once on an open, non-confidential report; with a phone or e-mail
        they follow it. Returns the count, whether this call counted, whether they follow."""
        phone = (form.get("phone") or "").strip() or None
        email = (form.get("email") or "").strip() or None
        channel = (form.get("channel") or "").strip() or None
        errors: dict[str, Message] = {}
        if phone and not PHONE_SHAPE.match(phone):
            errors["phone"] = Message("write the phone number with digits only, e.g. "
                                      "0812 3456 7890")
        if email and (len(email) > 200 or not EMAIL_SHAPE.match(email)):
            errors["email"] = Message("write the e-mail address like nama@contoh.id")
        if channel is not None and channel not in FOLLOW_CHANNELS:
            errors["channel"] = Message("choose sms or whatsapp")
        if not phone and not email and not SESSION_SHAPE.match(session_token or ""):
            errors["session"] = Message("give a phone number or an e-mail address, or allow "
                                        "the site's cookie")
        if errors:
            raise Invalid("the me-too form has errors", errors)
        if phone:
            citizen = "phone:" + re.sub(r"[^0-9]", "", phone).removeprefix("62").lstrip("0")
        elif email:
            citizen = "email:" + email.lower()
        else:
            citizen = "session:" + session_token
        now = self.ctx.now()
        counted = True
        try:
            with self.ctx.transaction() as session:
                complaint = session.scalars(select(Complaint).where(
                    Complaint.tracking_number == tracking_number)).first()
                if not open_to_follow(complaint):
                    raise NotFound(f"report {tracking_number} does not exist")
                assert complaint is not None
                if session.scalar(select(MeToo.id).where(
                        MeToo.complaint_id == complaint.id, MeToo.citizen == citizen)):
                    counted = False
                else:
                    session.add(MeToo(
                        complaint_id=complaint.id, citizen=citizen, phone=phone, email=email,
                        channel=(channel or "sms") if phone else ("email" if email else None),
                        language=language if language in ("id", "en") else "id",
                        created_at=now,
                        stop_token=secrets.token_urlsafe(24) if phone or email else None))
        except IntegrityError:  # the same citizen at the same moment, from another process
            counted = False
        with self.ctx.reads() as session:
            complaint_id = session.scalar(select(Complaint.id).where(
                Complaint.tracking_number == tracking_number))
            count = self._counts(session, [complaint_id]).get(complaint_id, 0)
        return {"tracking_number": tracking_number, "me_too": count, "counted": counted,
                "following": bool(phone or email)}


def _stop(row: MeToo) -> None:
    row.phone = row.email = row.channel = row.stop_token = None


class Following:
    """Followers who want no more news: by the link of their e-mails, or by a phone reply
    (`BERHENTI <number>` on SMS or WhatsApp). Their "me too" still counts."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def followed_by_token(self, token: str) -> str:
        """The tracking number the link's follower follows; NotFound when the link is not
        (or no longer) one."""
        with self.ctx.reads() as session:
            found = session.execute(select(Complaint.tracking_number).join(
                MeToo, MeToo.complaint_id == Complaint.id).where(
                MeToo.stop_token == token)).scalar()
        if not token or found is None:
            raise NotFound("no follower with this link")
        return found

    def stop_by_token(self, token: str) -> str:
        with self.ctx.transaction() as session:
            row = session.scalars(select(MeToo).where(MeToo.stop_token == token)
                                  .with_for_update()).first() if token else None
            if row is None:
                raise NotFound("no follower with this link")
            number = session.scalar(select(Complaint.tracking_number).where(
                Complaint.id == row.complaint_id))
            _stop(row)
            return number

    def stop_by_phone(self, tracking_number: str, phone: str) -> bool:
        """Stop the news of a report to this phone (E.164 digits); False if it follows
        nothing there."""
        stopped = False
        with self.ctx.transaction() as session:
            for row in session.scalars(select(MeToo).join(
                    Complaint, Complaint.id == MeToo.complaint_id).where(
                    Complaint.tracking_number == tracking_number,
                    MeToo.phone.is_not(None)).with_for_update()):
                if same_phone(row.phone, phone):
                    _stop(row)
                    stopped = True
        return stopped
