"""Open311 GeoReport v2 (docs/channels.md): the services, service requests and tokens of the
standard over the report use cases, and the API keys of the client applications.

- Services are the report categories, named and described in Indonesian; each takes two
  attributes, `rahasia` (the content is confidential) and `anonim` (the identity is hidden).
- A request is filed through Reports.submit with channel `open311`; its service_request_id
  is the tracking number, and its token (tokens/{token}) is kept in `open311_token`.
- Reads show only what the public may see: never a `rahasia` report, never a reporter's
  name, e-mail or phone (so an `anonim` identity never appears either).
- Every request that carries a key is counted against that key's rate limit, in the database
  (the key's row, locked), so that all web processes share one count.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from workflows import access, categories
from workflows import diagram_ids as ids
from workflows.context import Context
from workflows.errors import BadParameter, Forbidden, Invalid, NotFound, TooManyAttempts
from workflows.models import Agency, Complaint, ComplaintEvent, SlaRecord
from workflows.open311_models import Open311Key, Open311Token
from workflows.reports import Reports

CHANNEL = "open311"
RATE_WINDOW = timedelta(minutes=1)
DEFAULT_WINDOW = timedelta(days=90)  # the standard: the last 90 days when no dates are given
MAX_WINDOW = timedelta(days=90)  # and at most 90 days between start_date and end_date
MAX_RESULTS = 1000
MAX_IDS = 100  # service_request_id values in one query
CLOSED_STATUSES = frozenset({ids.STATUS_CLOSED, ids.STATUS_ARCHIVED, ids.STATUS_RETURNED})
# What the public reads: not `rahasia`, and not archived (an administrator archives spam,
# abuse and reports outside SP4N's scope: they are withdrawn from publication).
PUBLISHED = (Complaint.confidential.is_(False), Complaint.status != ids.STATUS_ARCHIVED)
TRUE_WORDS, FALSE_WORDS = ("true", "ya", "1"), ("false", "tidak", "0", "")

ATTRIBUTES = (  # the service definition's attributes, the same for every service
    {"code": "rahasia", "order": 1,
     "description": "Rahasiakan isi laporan (hanya petugas yang menangani yang membaca)?",
     "datatype_description": "true (ya) atau false (tidak)"},
    {"code": "anonim", "order": 2,
     "description": "Sembunyikan identitas pelapor dari instansi?",
     "datatype_description": "true (ya) atau false (tidak)"},
)
# Report fields -> the standard's parameter names, for the errors of a POST.
PARAMETERS = {"category": "service_code", "body": "description", "title": "description",
              "latitude": "lat", "longitude": "long", "address": "address_string",
              "reporter_name": "first_name", "reporter_email": "email",
              "reporter_phone": "phone", "confidential": "attribute[rahasia]",
              "anonymous": "attribute[anonim]"}


class Open311:
    """The use cases of the Open311 endpoint and of its keys (see the module)."""

    def __init__(self, ctx: Context, reports: Reports) -> None:
        self.ctx = ctx
        self.reports = reports

    # ------------------------------------------------------------------ keys

    def create_key(self, name: str, created_by: str) -> dict[str, Any]:
        """Issue a key; the key itself is in the answer only (it is stored hashed)."""
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise Invalid("the key needs a name", {"name": "give a name of 1 to 100 characters"})
        key = secrets.token_urlsafe(24)
        with self.ctx.transaction() as session:
            row = Open311Key(name=name, key_hash=access.digest(key), created_by=created_by,
                             created_at=self.ctx.now(), window_requests=0)
            session.add(row)
            session.flush()
            return {**_key_document(row), "key": key}

    def list_keys(self) -> list[dict[str, Any]]:
        with self.ctx.reads() as session:
            rows = session.scalars(select(Open311Key).order_by(Open311Key.id))
            return [_key_document(row) for row in rows]

    def revoke_key(self, key_id: int) -> dict[str, Any]:
        """Revoke a key by its id (`list` shows them): its requests are refused from now on."""
        with self.ctx.transaction() as session:
            row = session.get(Open311Key, key_id, with_for_update=True)
            if row is None:
                raise NotFound("no Open311 key %(id)s", id=key_id)
            if row.revoked_at is None:
                row.revoked_at = self.ctx.now()
            return _key_document(row)

    def admit(self, api_key: str | None, *, required: bool) -> int | None:
        """Check a request's key and count it against the key's rate limit; returns the key's
        id (None for a read without a key). Forbidden: unknown or revoked key;
        TooManyAttempts: over the limit in the current minute."""
        if not api_key:
            if required:
                raise Forbidden("api_key: an API key is required to file a request; ask the "
                                "regency's administrator for one")
            return None
        now = self.ctx.now()
        limit = self.ctx.config.open311_requests_per_minute
        with self.ctx.transaction() as session:
            row = session.scalars(select(Open311Key).where(
                Open311Key.key_hash == access.digest(api_key)).with_for_update()).first()
            if row is None or row.revoked_at is not None:
                raise Forbidden("api_key: the key is unknown or revoked; ask the regency's "
                                "administrator for a valid one")
            if row.window_started_at is None or now - row.window_started_at >= RATE_WINDOW:
                row.window_started_at, row.window_requests = now, 0
            if row.window_requests >= limit:
                wait = row.window_started_at + RATE_WINDOW - now
                raise TooManyAttempts("api_key: more than %(limit)s requests in a minute; "
                                      "try again in %(seconds)s seconds", limit=limit,
                                      seconds=max(1, int(wait.total_seconds()) + 1))
            row.window_requests += 1
            return row.id

    # ------------------------------------------------------------------ services

    def services(self) -> list[dict[str, Any]]:
        """The active categories (workflows/categories.py), each a service."""
        return [{"service_code": c.code, "service_name": c.name_id,
                 "description": c.description_id or c.name_id,
                 "metadata": True, "type": "realtime", "keywords": "", "group": ""}
                for c in self._catalog().active]

    def _catalog(self) -> categories.Catalog:
        with self.ctx.reads() as session:
            return categories.catalog(session)

    def service_definition(self, code: str) -> dict[str, Any]:
        if code not in self._catalog().active_codes:
            raise NotFound("service_code: no service %(code)s; see services", code=code)
        return {"service_code": code, "attributes": [
            {"variable": True, "code": a["code"], "datatype": "singlevaluelist",
             "required": False, "datatype_description": a["datatype_description"],
             "order": a["order"], "description": a["description"],
             "values": [{"key": "true", "name": "Ya"}, {"key": "false", "name": "Tidak"}]}
            for a in ATTRIBUTES]}

    # ------------------------------------------------------------------ requests

    def submit(self, api_key: str | None, form: Mapping[str, str]) -> dict[str, Any]:
        """File a service request (the standard's POST requests) as a report."""
        key_id = self.admit(api_key, required=True)
        payload = request_payload(form, self._catalog())
        try:
            receipt = self.reports.submit(payload, channel=CHANNEL,
                                          language="en" if form.get("locale") == "en" else "id")
        except Invalid as exc:
            raise Invalid(str(exc), {PARAMETERS.get(f, f): m
                                     for f, m in exc.field_errors.items()}) from exc
        token = secrets.token_urlsafe(18)
        with self.ctx.transaction() as session:
            session.add(Open311Token(token=token, tracking_number=receipt["tracking_number"],
                                     key_id=key_id, created_at=self.ctx.now()))
        return {"service_request_id": receipt["tracking_number"], "token": token,
                "service_notice": "Laporan diterima; nomor pelacakan "
                                  f"{receipt['tracking_number']}."}

    def requests(self, api_key: str | None, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """The standard's GET requests: by ids, or by service codes, dates and status."""
        self.admit(api_key, required=False)
        now = self.ctx.now()
        stmt = select(Complaint).where(*PUBLISHED)
        if query.get("service_request_id"):
            wanted = [v.strip() for v in query["service_request_id"].split(",") if v.strip()]
            if len(wanted) > MAX_IDS:
                raise BadParameter("at most %(n)s ids", {
                    "service_request_id": f"give at most {MAX_IDS} ids, comma separated"},
                    n=MAX_IDS)
            stmt = stmt.where(Complaint.tracking_number.in_(wanted))
        else:
            stmt = self._filtered(stmt, query, now)
        stmt = stmt.order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(MAX_RESULTS)
        with self.ctx.reads() as session:
            return self._documents(session, list(session.scalars(stmt)))

    def request(self, api_key: str | None, service_request_id: str) -> list[dict[str, Any]]:
        self.admit(api_key, required=False)
        with self.ctx.reads() as session:
            row = session.scalars(select(Complaint).where(
                Complaint.tracking_number == service_request_id, *PUBLISHED)).first()
            if row is None:
                raise NotFound("service_request_id: no public request %(id)s",
                               id=service_request_id)
            return self._documents(session, [row])

    def token(self, api_key: str | None, token: str) -> list[dict[str, Any]]:
        self.admit(api_key, required=False)
        with self.ctx.reads() as session:
            row = session.get(Open311Token, token[:64])
            if row is None:
                raise NotFound("token: no request was filed with this token")
            return [{"service_request_id": row.tracking_number, "token": row.token}]

    def _filtered(self, stmt: Any, query: Mapping[str, str], now: datetime) -> Any:
        codes = _listed(query, "service_code", tuple(self._catalog().by_code))
        if codes:
            stmt = stmt.where(Complaint.category.in_(codes))
        statuses = _listed(query, "status", ("open", "closed"))
        if len(statuses) == 1:
            closed = Complaint.status.in_(CLOSED_STATUSES)
            stmt = stmt.where(closed if statuses == ["closed"] else ~closed)
        start = self._instant(query, "start_date")
        end = self._instant(query, "end_date")
        if start and end and end - start > MAX_WINDOW:
            raise BadParameter("at most 90 days", {
                "end_date": "start_date and end_date may be at most 90 days apart"})
        if start and end and end < start:
            raise BadParameter("end before start", {"end_date": "give a date after start_date"})
        if start is None:
            start = (end or now) - DEFAULT_WINDOW
        if end is None:
            end = start + MAX_WINDOW
        return stmt.where(Complaint.created_at >= start, Complaint.created_at <= end)

    def _instant(self, query: Mapping[str, str], name: str) -> datetime | None:
        text = (query.get(name) or "").strip()
        if not text:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise BadParameter("bad date", {
                name: "write a W3C date and time, e.g. 2026-01-31T08:00:00+08:00"}) from None
        return value if value.tzinfo else value.replace(tzinfo=self.ctx.config.tzinfo)

    def _documents(self, session: Any, rows: list[Complaint]) -> list[dict[str, Any]]:
        if not rows:
            return []
        by_id = {row.id: row for row in rows}
        agencies = dict(session.execute(select(Agency.id, Agency.name)).all())
        due: dict[int, datetime] = {}
        for complaint_id, due_at in session.execute(
                select(SlaRecord.complaint_id, SlaRecord.due_at)
                .where(SlaRecord.complaint_id.in_(by_id), SlaRecord.state == "running",
                       SlaRecord.due_at.is_not(None)).order_by(SlaRecord.started_at)):
            due[complaint_id] = due_at  # the latest running step's deadline wins
        notes: dict[int, str] = {}
        for complaint_id, text in session.execute(
                select(ComplaintEvent.complaint_id, ComplaintEvent.text)
                .where(ComplaintEvent.complaint_id.in_(by_id), ComplaintEvent.public.is_(True),
                       ComplaintEvent.text.is_not(None)).order_by(ComplaintEvent.at)):
            notes[complaint_id] = text
        tz = self.ctx.config.tzinfo
        known = categories.catalog(session)
        return [{
            "service_request_id": row.tracking_number,
            "status": "closed" if row.status in CLOSED_STATUSES else "open",
            "status_notes": notes.get(row.id) or ids.STATUS_LABELS[row.status]["id"],
            "service_name": known.label(row.category)["id"],
            "service_code": row.category,
            "description": row.body,
            "agency_responsible": agencies.get(row.agency_id),
            "service_notice": None,
            "requested_datetime": _w3c(row.created_at, tz),
            "updated_datetime": _w3c(row.updated_at, tz),
            "expected_datetime": _w3c(due.get(row.id), tz),
            "address": row.address,
            "address_id": None,
            "zipcode": None,
            "lat": row.latitude,
            "long": row.longitude,
            "media_url": None,
        } for row in rows]


def request_payload(form: Mapping[str, str], known: categories.Catalog) -> dict[str, Any]:
    """A report submission from the standard's POST parameters; Invalid names the parameter."""
    errors: dict[str, str] = {}
    description = (form.get("description") or "").strip()
    code = (form.get("service_code") or "").strip()
    if not code:
        errors["service_code"] = "required: one of the service codes (see services)"
    elif code not in known.active_codes:
        errors["service_code"] = "unknown service code: use one from services"
    if not description:
        errors["description"] = "required: describe the problem (at least 10 characters)"
    payload: dict[str, Any] = {"classification": "pengaduan", "category": code,
                               "body": description,
                               "title": _title(description, known.label(code)["id"])}
    lat, lon = form.get("lat"), form.get("long")
    if lat or lon:
        for name, value in (("lat", lat), ("long", lon)):
            try:
                payload["latitude" if name == "lat" else "longitude"] = float(value or "")
            except ValueError:
                errors[name] = "give both lat and long as decimal degrees (WGS84)"
    address = (form.get("address_string") or "").strip()
    if address:
        payload["address"] = address
    if not (lat or lon) and not address:
        errors["lat"] = "give a location: lat and long, or address_string"
    name = " ".join(p.strip() for p in (form.get("first_name") or "", form.get("last_name") or "")
                    if p.strip())
    for field, value in (("email", form.get("email")), ("phone", form.get("phone"))):
        if value and value.strip():
            payload["reporter_" + field] = value.strip()
    for attribute, field in (("rahasia", "confidential"), ("anonim", "anonymous")):
        word = (form.get(f"attribute[{attribute}]") or "").strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            errors[f"attribute[{attribute}]"] = "give true or false"
        payload[field] = word in TRUE_WORDS
    if name:
        payload["reporter_name"] = name
    else:
        payload["anonymous"] = True  # no name given: the report is filed anonymously
    if errors:
        raise Invalid("the service request has errors", errors)
    return payload


def _title(description: str, name: str) -> str:
    """A report title from the description's first line, cut at a word (a request has none)."""
    first = description.splitlines()[0].strip() if description else ""
    if len(first) > 80:
        first = first[:80].rsplit(" ", 1)[0] + "..."
    if len(first) < 5:
        first = f"{name or 'Laporan'}: {first}".strip()
    return first


def _listed(query: Mapping[str, str], name: str, choices: tuple[str, ...]) -> list[str]:
    values = [v.strip() for v in (query.get(name) or "").split(",") if v.strip()]
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise BadParameter("unknown %(name)s", {name: f"use some of {', '.join(choices)}, "
                                                      "comma separated"}, name=name)
    return values


def _w3c(value: datetime | None, tz: Any) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else None


def _key_document(row: Open311Key) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_by": row.created_by,
            "created_at": row.created_at.isoformat(timespec="seconds"),
            "revoked_at": row.revoked_at.isoformat(timespec="seconds") if row.revoked_at
            else None}
