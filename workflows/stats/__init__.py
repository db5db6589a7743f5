"""Figures of complaint handling for a period: counts, follow-up, speed, deadlines, ranking.

Every figure is about a *cohort*: the reports received (``created_at``) in the period, in the
regency's time zone, within a scope (the whole regency, or an agency and everything below
it), as they stand at ``now``. docs/statistics.md says in plain words what each one means.

All queries aggregate in the database (GROUP BY, ordered-set functions); none returns a
row per complaint, except SQLite's speed scan (SQLite runs in this process), whose medians
are taken here. Working days are measured in SQL against the calendar of
:class:`~workflows.calendar.WorkingCalendar` laid out per day (working or not, and the
working days before it), so means and medians are exact to the second; the three speed
measures cost one scan of the cohort together, the counts two more.

What the database says about a period is kept in memory per process (:func:`figure_cache`)
and used again for as long as the database's change log (table ``stats_change``, written
by triggers for every change to a complaint, an SLA record or an escalation) shows no
change to that period, and the clock has not moved past a deadline or the Ombudsman's
threshold: a cached answer is always the one a fresh computation would give.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Integer,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from workflows import access, readcache
from workflows import diagram_ids as ids
from workflows.calendar import WorkingCalendar
from workflows.config import RUNG_LABELS, RegencyConfig
from workflows.errors import Forbidden, Invalid
from workflows.models import (
    OPEN_PREDICATE,
    Agency,
    CalendarDay,
    Complaint,
    Escalation,
    Setting,
    SlaRecord,
)
from workflows.sla import BREACHED, CITIZEN_STEPS, MET, PAUSED, RUNNING, STEP_LABELS
from workflows.validation import CATEGORIES, CHANNELS, CLASSIFICATIONS

MIN_YEAR, MAX_YEAR = 2000, 2100
DAY_SECONDS = 86_400
EPOCH = date(1970, 1, 1)
CASES_LISTED = 100  # Ombudsman cases listed by tracking number for officers
WEIGHTS_SETTING = "stats.ranking_weights"

# Statuses by what they mean for the figures.
PENDING = (ids.STATUS_SUBMITTED, ids.STATUS_NEEDS_INFO, ids.STATUS_VERIFIED,
           ids.STATUS_POSTPONED)
IN_PROGRESS = (ids.STATUS_DISPOSED, ids.STATUS_IN_PROGRESS, ids.STATUS_RESPONDED)
NOT_OURS = (ids.STATUS_ARCHIVED, ids.STATUS_RETURNED)
FINISHED = (ids.STATUS_CLOSED, *NOT_OURS)
OPD_KINDS = ("opd", "bumd", "kecamatan", "kelurahan")

COUNTS = ("received", "verified", "dispositioned", "answered", "pending", "archived",
          "returned", "in_progress", "closed")
MEASURES = {  # name -> (start column, end column)
    "disposition_to_first_answer": (Complaint.disposed_at, Complaint.first_answer_at),
    "submission_to_verification": (Complaint.created_at, Complaint.verified_at),
    "submission_to_closure": (Complaint.created_at, Complaint.closed_at),
}

LABELS: dict[str, dict[str, str]] = {
    "received": {"id": "Diterima", "en": "Received"},
    "verified": {"id": "Terverifikasi", "en": "Verified"},
    "dispositioned": {"id": "Terdisposisi", "en": "Dispositioned"},
    "answered": {"id": "Dijawab OPD", "en": "Answered by the agency"},
    "pending": {"id": "Menunggu verifikasi/disposisi", "en": "Awaiting verification"},
    "archived": {"id": "Arsip", "en": "Archived"},
    "returned": {"id": "Bukan Wewenang", "en": "Not our authority"},
    "in_progress": {"id": "Dalam proses tindak lanjut", "en": "In follow-up"},
    "closed": {"id": "Selesai", "en": "Closed"},
    "base": {"id": "Laporan kewenangan daerah", "en": "Reports the regency handles"},
    "pct": {"id": "Persentase ditindaklanjuti (%)", "en": "Followed up (%)"},
    "pct_closed": {"id": "Persentase selesai (%)", "en": "Closed (%)"},
    "pct_in_progress": {"id": "Persentase dalam proses (%)", "en": "In follow-up (%)"},
    "followed_up_pct": {"id": "Persentase ditindaklanjuti (%)", "en": "Followed up (%)"},
    "count": {"id": "Jumlah", "en": "Count"},
    "mean_days": {"id": "Rata-rata (hari kerja)", "en": "Mean (working days)"},
    "median_days": {"id": "Median (hari kerja)", "en": "Median (working days)"},
    "met": {"id": "Tepat waktu", "en": "On time"},
    "breached": {"id": "Terlambat", "en": "Late"},
    "open": {"id": "Masih berjalan", "en": "Still running"},
    "overdue": {"id": "Lewat tenggat sekarang", "en": "Overdue now"},
    "on_time_pct": {"id": "Persentase tepat waktu (%)", "en": "On time (%)"},
    "mean_late_days": {"id": "Rata-rata keterlambatan (hari kerja)",
                       "en": "Mean lateness (working days)"},
    "budget_days": {"id": "Tenggat (hari kerja)", "en": "Budget (working days)"},
    "total": {"id": "Jumlah", "en": "Total"},
    "mean": {"id": "Rata-rata penilaian (1-5)", "en": "Mean rating (1-5)"},
    "rank": {"id": "Peringkat", "en": "Rank"},
    "score": {"id": "Nilai (0-100)", "en": "Score (0-100)"},
    "followed_up": {"id": "Komponen tindak lanjut (0-1)", "en": "Follow-up component (0-1)"},
    "on_time": {"id": "Komponen ketepatan waktu (0-1)", "en": "On-time component (0-1)"},
    "speed": {"id": "Komponen kecepatan (0-1)", "en": "Speed component (0-1)"},
    "satisfaction": {"id": "Komponen kepuasan (0-1)", "en": "Satisfaction component (0-1)"},
    **{f"rating_{k}": {"id": f"Penilaian {k}", "en": f"Rating {k}"} for k in ids.RATINGS},
    **{f"status_{s}": {"id": f"Status: {v['id']}", "en": f"Status: {v['en']}"}
       for s, v in ids.STATUS_LABELS.items()},
}
CATEGORY_LABELS = {
    "roads": {"id": "Jalan", "en": "Roads"},
    "waste": {"id": "Sampah", "en": "Waste"},
    "street_lights": {"id": "Penerangan jalan umum", "en": "Street lights"},
    "water": {"id": "Air bersih", "en": "Water"},
    "civil_registration": {"id": "Kependudukan dan pencatatan sipil",
                           "en": "Civil registration"},
    "health": {"id": "Kesehatan", "en": "Health"},
    "education": {"id": "Pendidikan", "en": "Education"},
    "permits": {"id": "Perizinan", "en": "Permits"},
    "social_aid": {"id": "Bantuan sosial", "en": "Social aid"},
    "other": {"id": "Lainnya", "en": "Other"},
}
CHANNEL_LABELS = {
    "web": {"id": "Situs web", "en": "Web"},
    "qr": {"id": "Kode QR", "en": "QR code"},
    "whatsapp": {"id": "WhatsApp", "en": "WhatsApp"},
    "sms": {"id": "SMS", "en": "SMS"},
    "api": {"id": "API", "en": "API"},
}
CLASSIFICATION_LABELS = {
    "pengaduan": {"id": "Pengaduan", "en": "Complaint"},
    "aspirasi": {"id": "Aspirasi", "en": "Suggestion"},
    "permintaan_informasi": {"id": "Permintaan informasi", "en": "Information request"},
}
MEASURE_LABELS = {
    "disposition_to_first_answer": {
        "id": "Rata-rata laju tindak lanjut: disposisi sampai jawaban pertama",
        "en": "Follow-up speed: disposition to first answer"},
    "submission_to_verification": {"id": "Pengiriman sampai verifikasi",
                                   "en": "Submission to verification"},
    "submission_to_closure": {"id": "Pengiriman sampai selesai",
                              "en": "Submission to closure"},
}
MONTHS = {"id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
                 "September", "Oktober", "November", "Desember"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August",
                 "September", "October", "November", "December")}
NO_AGENCY = {"id": "Belum didisposisi", "en": "Not yet dispositioned"}
REGENCY = {"id": "Kabupaten", "en": "Regency"}


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Period:
    """Local calendar days from ``start`` to ``end``, both included."""

    start: date
    end: date
    year: int | None = None

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as UTC instants [from, to)."""
        first = datetime.combine(self.start, time(0), tz).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(UTC)
        return first, after

    def document(self) -> dict[str, Any]:
        return {"year": self.year, "from": self.start.isoformat(), "to": self.end.isoformat()}


def parse_period(year: str | int | None, date_from: str | None, date_to: str | None,
                 today: date) -> Period:
    """A year, or ``from`` and ``to`` (ISO dates, both included); this year when none."""
    year = None if year in (None, "") else year
    date_from, date_to = date_from or None, date_to or None
    if year is not None and (date_from or date_to):
        raise Invalid("give either a year or a from/to range, not both",
                      {"year": "leave out year when you give from and to"})
    if year is not None:
        try:
            number = int(year)
        except (TypeError, ValueError) as exc:
            raise Invalid("year must be a whole number", {"year": "write a year, e.g. 2024"}
                          ) from exc
        if not MIN_YEAR <= number <= MAX_YEAR:
            raise Invalid("year out of range",
                          {"year": f"a year between {MIN_YEAR} and {MAX_YEAR}"})
        return Period(date(number, 1, 1), date(number, 12, 31), number)
    if date_from is None and date_to is None:
        return Period(date(today.year, 1, 1), date(today.year, 12, 31), today.year)
    if date_from is None or date_to is None:
        missing = "from" if date_from is None else "to"
        raise Invalid("from and to go together", {missing: "give both from and to"})
    errors: dict[str, str] = {}
    parsed: dict[str, date] = {}
    for name, value in (("from", date_from), ("to", date_to)):
        try:
            parsed[name] = date.fromisoformat(value)
        except ValueError:
            errors[name] = "write a date as YYYY-MM-DD"
            continue
        if not MIN_YEAR <= parsed[name].year <= MAX_YEAR:
            errors[name] = f"a date between {MIN_YEAR} and {MAX_YEAR}"
    if errors:
        raise Invalid("the period's dates are not valid", errors)
    if parsed["from"] > parsed["to"]:
        raise Invalid("the period ends before it starts", {"to": "on or after from"})
    return Period(parsed["from"], parsed["to"])


@dataclass(frozen=True)
class Scope:
    """Which reports count: the whole regency (``agency_ids`` None) or an agency tree."""

    agency_ids: frozenset[int] | None = None
    agency_code: str | None = None
    agency_name: str | None = None

    def document(self) -> dict[str, Any]:
        return {"agency": self.agency_code, "name": self.agency_name or REGENCY["id"]}


def resolve_scope(session: Session, principal: access.Principal, config: RegencyConfig,
                  agency_code: str | None) -> Scope:
    """The officer's scope: the regency for Diskominfo and regency-level supervisors, their
    own agency tree for everyone else; ``agency_code`` narrows it."""
    if not principal.is_officer:
        raise Forbidden("the full statistics are for officers; anyone may read "
                        "/stats/public")
    agencies = access.agency_table(session)
    regency = next((a for a in agencies.values() if a.code == config.regency_code), None)
    regency_wide = principal.sees_everything or (
        principal.has("supervisor") and (principal.agency_code == config.admin_agency_code
                                         or (regency is not None
                                             and regency.id in principal.agency_ids)))
    if agency_code:
        agency = next((a for a in agencies.values() if a.code == agency_code), None)
        if agency is None:
            raise Invalid(f"unknown agency {agency_code!r}",
                          {"agency": f"no agency has the code {agency_code!r}; see /agencies"})
        if not regency_wide and agency.id not in principal.agency_ids:
            raise Forbidden(f"your figures cover {principal.agency_code or 'no agency'} "
                            f"and its units, not {agency_code}")
        tree = access.subtree(session, agency.id)
        if regency is not None and regency.id in tree:
            return Scope()
        return Scope(tree, agency.code, agency.name)
    if regency_wide:
        return Scope()
    if principal.agency_id is None:
        raise Forbidden("your account belongs to no agency, so it has no figures")
    own = agencies.get(principal.agency_id)
    return Scope(principal.agency_ids, own.code if own else None, own.name if own else None)


@dataclass(frozen=True)
class RankingWeights:
    """How the OPD ranking weighs its four components (each 0..1); see docs/statistics.md."""

    followed_up: float = 0.3
    on_time: float = 0.3
    speed: float = 0.2
    satisfaction: float = 0.2
    speed_reference_days: float = 10.0  # a mean answer this slow (or slower) scores 0
    min_reports: int = 1  # fewer dispositioned reports than this: not ranked

    def __post_init__(self) -> None:
        parts = (self.followed_up, self.on_time, self.speed, self.satisfaction)
        if any(w < 0 for w in parts) or sum(parts) <= 0:
            raise ValueError("ranking weights are non-negative and not all zero")
        if self.speed_reference_days <= 0 or self.min_reports < 1:
            raise ValueError("speed_reference_days must be positive, min_reports at least 1")


def load_weights(session: Session) -> RankingWeights:
    """The regency's weights from the ``stats.ranking_weights`` setting, else the defaults."""
    row = session.get(Setting, WEIGHTS_SETTING)
    if row is None or not isinstance(row.value, dict):
        return RankingWeights()
    known = {f.name for f in fields(RankingWeights)}
    return RankingWeights(**{k: v for k, v in row.value.items() if k in known})


# --------------------------------------------------------------------------- use cases


def officer_figures(session: Session, principal: access.Principal, config: RegencyConfig,
                    now: datetime, *, year: str | None = None, date_from: str | None = None,
                    date_to: str | None = None, agency: str | None = None) -> dict[str, Any]:
    """The full figures of the caller's scope (raises Invalid for bad parameters)."""
    scope = resolve_scope(session, principal, config, agency)
    period = parse_period(year, date_from, date_to, _today(now, config))
    return compute(session, config, period, now, scope=scope, weights=load_weights(session))


def public_figures(session: Session, config: RegencyConfig, now: datetime, *,
                   year: str | None = None) -> dict[str, Any]:
    """The figures anyone may read: aggregates of the whole regency, no report named."""
    period = parse_period(year, None, None, _today(now, config))
    return compute(session, config, period, now, weights=load_weights(session), public=True)


def compute(session: Session, config: RegencyConfig, period: Period, now: datetime, *,
            scope: Scope | None = None, weights: RankingWeights | None = None,
            public: bool = False, cache: bool = True) -> dict[str, Any]:
    """The figures of ``period`` within ``scope`` as they stand at ``now``.

    The aggregates come from the database, or from this process's cache when the database
    says provably that nothing they depend on changed (see :func:`figure_cache`); labels,
    the ranking and anything else that depends on settings or on the clock are worked out
    on every call.
    """
    scope = scope or Scope()
    weights = weights or RankingWeights()
    tz = ZoneInfo(config.timezone)
    first, after = period.bounds(tz)
    local = _LocalClock(session, config.timezone, period.start.year, _today(now, config).year)
    if local.postgres:
        # For this transaction only: these few large sorts and aggregates lose more to JIT
        # compilation (hundreds of ms) than it saves, and a year of reports sorts in memory.
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '32MB'"))
    calendar_rows = session.scalars(select(CalendarDay)).all()
    # Every timestamp of the cohort lies between the period's start and now.
    days = (period.start - timedelta(days=1),
            max(period.end, _today(now, config)) + timedelta(days=1))
    key = ("figures", first, after,
           None if scope.agency_ids is None else tuple(sorted(scope.agency_ids)),
           config.timezone, config.ombudsman_days, days,
           tuple(sorted((row.day, row.kind) for row in calendar_rows)))

    def gather() -> tuple[_Gathered, Callable[[datetime], bool]]:
        gathered = _gather(session, config, period, now, scope, local, first, after, days,
                           calendar_with(config, calendar_rows))
        return gathered, lambda later: later < gathered.valid_until

    store = figure_cache(session) if cache and USE_CACHE else None
    if store is None:
        gathered = gather()[0]
    else:  # exact: no lag behind the clock (the figures name the moment they are for)
        gathered = store.read(session, key, now, (readcache.STATS,), gather,
                              received=(first, after), tolerance=timedelta(0))
    agencies = {row.id: row for row in session.execute(
        select(Agency.id, Agency.code, Agency.name, Agency.kind))}
    return _render(gathered, config, period, now, scope, weights, agencies, public=public)


@dataclass(frozen=True)
class _Gathered:
    """What the database said about one cohort at one moment; keyed by agency id."""

    by_month: dict[tuple[str, int | None], dict[str, int]]
    by_kind: dict[tuple, dict[str, int]]
    speeds: list[tuple]
    deadlines: list[tuple]
    escalations: list[tuple]
    ombudsman_counts: list[tuple]
    ombudsman_cases: list[tuple]
    # The figures that depend on the clock (overdue steps, reports past the Ombudsman's
    # threshold) stay as they are until this instant (excluded), if the data does not change.
    valid_until: datetime


def _gather(session: Session, config: RegencyConfig, period: Period, now: datetime,
            scope: Scope, local: _LocalClock, first: datetime, after: datetime,
            days: tuple[date, date], calendar: WorkingCalendar) -> _Gathered:
    where = [Complaint.created_at >= first, Complaint.created_at < after]
    if scope.agency_ids is not None:
        ids_ = sorted(scope.agency_ids) or [-1]
        where.append(or_(Complaint.agency_id.in_(ids_), Complaint.unit_id.in_(ids_)))
    month, month_name = local.months(Complaint.created_at, period)
    by_month = {(month_name(m), g): dict(cell) for (m, g), cell in _tally(
        session, where, {"month": month, "agency_id": Complaint.agency_id},
        ratings=True).items()}
    by_kind = {k: dict(cell) for k, cell in _tally(
        session, where, {"category": Complaint.category, "channel": Complaint.channel,
                         "classification": Complaint.classification}).items()}
    speeds = _speed_rows(session, where, local, calendar, days)
    # SLA records and escalations carry their complaint's created_at: the period picks
    # them from their own index, the join to the cohort adds agency and classification.
    children = {model: [model.complaint_created_at >= first,
                        model.complaint_created_at < after] for model in (SlaRecord, Escalation)}
    deadlines, next_due = _deadline_rows(session, [*where, *children[SlaRecord]], now)
    escalations = _escalation_rows(session, [*where, *children[Escalation]])
    counts, cases, next_late = _ombudsman_rows(session, where, now, config)
    horizons = [datetime.max.replace(tzinfo=UTC)]
    if next_due is not None:  # a running step due at d is not overdue until after d
        horizons.append(next_due + timedelta(microseconds=1))
    if next_late is not None:
        horizons.append(next_late + timedelta(days=config.ombudsman_days))
    return _Gathered(by_month, by_kind, speeds, deadlines, escalations, counts, cases,
                     min(horizons))


def _render(gathered: _Gathered, config: RegencyConfig, period: Period, now: datetime,
            scope: Scope, weights: RankingWeights, agencies: Mapping[int, Any], *,
            public: bool) -> dict[str, Any]:
    """The figures' document: labels, percentages, ranking; nothing here reads the database."""
    tz = ZoneInfo(config.timezone)
    by_month = gathered.by_month
    totals = _sum(by_month.values())
    breakdowns = _breakdowns(by_month, gathered.by_kind, agencies)
    speed = _speeds_doc(gathered.speeds, agencies)
    deadlines, on_time_by_agency, overdue = _deadlines_doc(gathered.deadlines, agencies)
    figures: dict[str, Any] = {
        "period": period.document(),
        "as_of": now.astimezone(tz).isoformat(),
        "timezone": config.timezone,
        "scope": scope.document(),
        "totals": {**_counts(totals), "by_status": {
            s: {"label": ids.STATUS_LABELS[s], "count": totals.get(f"status_{s}", 0)}
            for s in ids.STATUSES}},
        "followed_up": _followed_up(totals),
        "breakdowns": breakdowns,
        "speed": speed,
        "deadlines": {"classes": deadlines, "by_agency": on_time_by_agency},
        "overdue": overdue,
        "escalations": _escalations_doc(gathered.escalations, agencies, config),
        "ombudsman": _ombudsman_doc(gathered, now, config, agencies, list_cases=not public),
        "satisfaction": _satisfaction(totals, by_month, agencies),
    }
    figures["ranking"] = _ranking(breakdowns["agency"], on_time_by_agency,
                                  speed["disposition_to_first_answer"]["by_agency"],
                                  figures["satisfaction"]["by_agency"], weights)
    if public:
        figures["scope"] = {"agency": None, "name": config.name}
    # Database ids joined the figures above; callers get agency codes.
    for rows in (breakdowns["agency"], on_time_by_agency, figures["satisfaction"]["by_agency"],
                 *(measure["by_agency"] for measure in speed.values())):
        for row in rows:
            row.pop("agency_id", None)
    return figures


# --------------------------------------------------------------------------- the cache

USE_CACHE = True  # the benchmark turns it off to measure the database's work alone


def figure_cache(session: Session) -> readcache.ReadCache | None:
    """The read cache of the session's database (workflows/readcache.py), or None when the
    database lacks the statistics' triggers that make it safe.

    A period's aggregates are kept there and answer a later request only when all of these
    hold, so they never say other than a fresh computation would: the same key (period
    bounds, scope, time zone, Ombudsman threshold, calendar days and the administrator's
    calendar changes); no row in ``stats_change`` newer than the moment they were read for a
    complaint received in the period (or without a date); ``now`` within [that moment, their
    ``valid_until``), so no running step became overdue and no open report crossed the
    Ombudsman's threshold in between (no tolerance: the figures are exact); younger than
    ``readcache.MAX_AGE``. Settings (ranking weights), agency names and the clock's own
    fields (``as_of``, days open) are applied on every call."""
    cache = readcache.read_cache(session)
    return cache if cache is not None and readcache.STATS in cache.usable else None


def calendar_with(config: RegencyConfig, rows: Iterable[CalendarDay]) -> WorkingCalendar:
    """The regency's calendar from rows of ``calendar_day`` already read (as
    :func:`workflows.sla.calendar_for` builds it): the cache keys on the same rows."""
    rows = list(rows)
    return WorkingCalendar(
        config.timezone,
        extra_days_off={r.day: r.name for r in rows if r.kind == "day_off"},
        working_overrides=[r.day for r in rows if r.kind == "working"],
    )


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite, when an aggregate loses the column's type
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _today(now: datetime, config: RegencyConfig) -> date:
    return now.astimezone(ZoneInfo(config.timezone)).date()


# --------------------------------------------------------------------------- local time in SQL


class _LocalClock:
    """SQL for the regency's wall clock: month keys, local days and seconds since midnight.

    Local time is UTC plus the zone's offset, in integer seconds since the epoch: cheap on
    both backends, and exact because the Indonesian zones (WIB, WITA, WIT) keep one offset
    all year; a zone that changes offset within the years asked for is refused.
    """

    def __init__(self, session: Session, timezone: str, first_year: int, last_year: int
                 ) -> None:
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.timezone = timezone
        zone = ZoneInfo(timezone)
        offsets = {zone.utcoffset(datetime(y, m, 1)) for y in
                   range(first_year - 1, max(first_year, last_year) + 1) for m in (1, 4, 7, 10)}
        if len(offsets) > 1:
            raise ValueError(f"the statistics need a time zone without daylight saving time; "
                             f"{timezone} changes offset")
        self.offset = int(next(iter(offsets)).total_seconds())

    def epoch(self, col: Any) -> Any:
        """Local wall-clock seconds since 1970-01-01 00:00 (days are // 86,400, the time of
        day % 86,400)."""
        if self.postgres:
            # date_part is double precision arithmetic; extract() would be numeric, slower
            return cast(func.floor(func.date_part("epoch", col)), BigInteger) + self.offset
        return cast(func.strftime("%s", col), Integer) + self.offset

    def months(self, col: Any, period: Period) -> tuple[Any, Callable[[Any], str]]:
        """An expression telling the local month of ``col`` within ``period``, and how to
        turn its values into 'YYYY-MM'.

        PostgreSQL places the instant among the months' first instants (``width_bucket``,
        a binary search; formatting each row's date costs three times as much); SQLite
        formats the shifted date.
        """
        if not self.postgres:
            return func.strftime("%Y-%m", col, f"{self.offset:+d} seconds"), str
        zone = ZoneInfo(self.timezone)
        starts, names = [], []
        month = period.start
        while month <= period.end:
            starts.append(datetime.combine(month, time(0), zone).astimezone(UTC))
            names.append(f"{month.year:04d}-{month.month:02d}")
            month = (month.replace(day=1) + timedelta(days=32)).replace(day=1)
        bounds = cast(bindparam("month_starts", starts, type_=ARRAY(DateTime(timezone=True))),
                      ARRAY(DateTime(timezone=True)))
        return func.width_bucket(col, bounds), lambda bucket: names[bucket - 1]


# --------------------------------------------------------------------------- counts


def _tally(session: Session, where: list[Any], keys: Mapping[str, Any], *,
           ratings: bool = False) -> dict[tuple, dict[str, int]]:
    """Counts of the cohort grouped by ``keys`` (and status): one scan, one row per group."""
    inner = select(*(expr.label(name) for name, expr in keys.items()), Complaint.status,
                   Complaint.rating, Complaint.verified_at, Complaint.disposed_at,
                   Complaint.first_answer_at).where(*where).subquery()
    group = [inner.c[name] for name in keys] + [inner.c.status]
    extra = [func.coalesce(func.sum(inner.c.rating), 0), func.count(inner.c.rating),
             *[func.sum(case((inner.c.rating == k, 1), else_=0)) for k in ids.RATINGS]
             ] if ratings else []
    query = select(*group, func.count(), func.count(inner.c.verified_at),
                   func.count(inner.c.disposed_at), func.count(inner.c.first_answer_at),
                   *extra).group_by(*group)
    tally: dict[tuple, dict[str, int]] = {}
    width = len(keys)
    for row in session.execute(query):
        key, status = tuple(row[:width]), row[width]
        received, verified, disposed, answered, *rest = row[width + 1:]
        cell = tally.setdefault(key, defaultdict(int))
        cell["received"] += received
        cell["verified"] += verified
        cell["dispositioned"] += disposed
        cell["answered"] += answered
        cell[f"status_{status}"] += received
        if ratings:
            cell["rating_sum"] += int(rest[0])
            cell["rating_count"] += rest[1]
            for k, n in zip(ids.RATINGS, rest[2:], strict=True):
                cell[f"rating_{k}"] += int(n or 0)
    return tally


def _sum(cells: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for cell in cells:
        for key, value in cell.items():
            total[key] += value
    return total


def _counts(cell: Mapping[str, int]) -> dict[str, int]:
    status = {s: cell.get(f"status_{s}", 0) for s in ids.STATUSES}
    return {
        "received": cell.get("received", 0),
        "verified": cell.get("verified", 0),
        "dispositioned": cell.get("dispositioned", 0),
        "answered": cell.get("answered", 0),
        "pending": sum(status[s] for s in PENDING),
        "archived": status[ids.STATUS_ARCHIVED],
        "returned": status[ids.STATUS_RETURNED],
        "in_progress": sum(status[s] for s in IN_PROGRESS),
        "closed": status[ids.STATUS_CLOSED],
    }


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _followed_up(cell: Mapping[str, int]) -> dict[str, Any]:
    counts = _counts(cell)
    base = counts["received"] - counts["archived"] - counts["returned"]
    return {"base": base, "closed": counts["closed"], "in_progress": counts["in_progress"],
            "pct": _pct(counts["closed"] + counts["in_progress"], base),
            "pct_closed": _pct(counts["closed"], base),
            "pct_in_progress": _pct(counts["in_progress"], base)}


def _agency_doc(agencies: Mapping[int, Any], agency_id: int | None) -> dict[str, Any]:
    row = agencies.get(agency_id) if agency_id is not None else None
    if row is None:
        return {"code": None, "label": dict(NO_AGENCY)}
    return {"code": row.code, "label": {"id": row.name, "en": row.name}}


def _breakdowns(by_month: Mapping[tuple, Mapping[str, int]],
                by_kind: Mapping[tuple, Mapping[str, int]], agencies: Mapping[int, Any]
                ) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, dict[Any, list[Mapping[str, int]]]] = {
        name: defaultdict(list) for name in ("year", "month", "agency", "category", "channel",
                                             "classification")}
    for (month, agency_id), cell in by_month.items():
        groups["year"][int(month[:4])].append(cell)
        groups["month"][month].append(cell)
        groups["agency"][agency_id].append(cell)
    for (category, channel, classification), cell in by_kind.items():
        groups["category"][category].append(cell)
        groups["channel"][channel].append(cell)
        groups["classification"][classification].append(cell)

    def row(key: Any, label: dict[str, str], cells: list[Mapping[str, int]]) -> dict[str, Any]:
        total = _sum(cells)
        return {"key": key, "label": label, **_counts(total),
                "followed_up_pct": _followed_up(total)["pct"]}

    def labelled(name: str, labels: Mapping[str, dict[str, str]], order: tuple[str, ...]
                 ) -> list[dict[str, Any]]:
        keys = sorted(groups[name], key=lambda k: (order.index(k) if k in order
                                                   else len(order), str(k)))
        return [row(k, labels.get(k, {"id": k, "en": k}), groups[name][k]) for k in keys]

    by_agency = []
    for agency_id, cells in groups["agency"].items():
        doc = _agency_doc(agencies, agency_id)
        by_agency.append({**row(doc["code"], doc["label"], cells), "agency_id": agency_id})
    by_agency.sort(key=lambda r: (r["key"] is None, -r["received"], r["label"]["id"]))
    return {
        "year": [row(y, {"id": str(y), "en": str(y)}, groups["year"][y])
                 for y in sorted(groups["year"])],
        "month": [row(m, _month_label(m), groups["month"][m]) for m in sorted(groups["month"])],
        "agency": by_agency,
        "category": labelled("category", CATEGORY_LABELS, CATEGORIES),
        "channel": labelled("channel", CHANNEL_LABELS, CHANNELS),
        "classification": labelled("classification", CLASSIFICATION_LABELS, CLASSIFICATIONS),
    }


def _month_label(key: str) -> dict[str, str]:
    year, month = int(key[:4]), int(key[5:7])
    return {lang: f"{names[month - 1]} {year}" for lang, names in MONTHS.items()}


# --------------------------------------------------------------------------- speed


class _DayTable:
    """The working-day calendar in SQL: for a local day d, P(d), the working days before it
    (from the table's first day), and W(d), 1 when d works.

    PostgreSQL gets the prefix sums as one integer array indexed by day (no join); SQLite
    gets a CTE of (day, P, W) rows written inline, outer-joined on the day (SQLite indexes
    it on the fly).
    """

    def __init__(self, calendar: WorkingCalendar, first: date, last: date, postgres: bool
                 ) -> None:
        self.first = (first - EPOCH).days
        self.postgres = postgres
        prefix, day = [0], first
        while day <= last:
            prefix.append(prefix[-1] + (1 if calendar.is_working_day(day) else 0))
            day += timedelta(days=1)
        if postgres:
            working = [b - a for a, b in itertools.pairwise(prefix)]
            self.table = select(*(
                cast(bindparam(f"calendar_{name}", values, type_=ARRAY(Integer)),
                     ARRAY(Integer)).label(name)
                for name, values in (("p", prefix[:-1]), ("w", working)))).cte("cal")
        else:
            rows = ", ".join(f"({self.first + i}, {prefix[i]}, {prefix[i + 1] - prefix[i]})"
                             for i in range(len(prefix) - 1))
            self.table = text("VALUES " + rows).columns(
                column("column1", Integer), column("column2", Integer),
                column("column3", Integer)).cte("cal")

    def join(self, query: Any, days: Mapping[str, Any]) -> tuple[Any, dict[str, tuple]]:
        """``query`` joined to what it needs, and (P, W) expressions for each named day."""
        found: dict[str, tuple] = {}
        if self.postgres:
            for name, day in days.items():
                index = day - (self.first - 1)  # arrays count from 1
                found[name] = (self.table.c.p[index], self.table.c.w[index])
            return query.join(self.table, literal(True)), found
        for name, day in days.items():
            alias = self.table.alias(f"cal_{name}")
            query = query.outerjoin(alias, alias.c.column1 == day)
            found[name] = (alias.c.column2, alias.c.column3)
        return query, found


def _speed_rows(session: Session, where: list[Any], local: _LocalClock,
                calendar: WorkingCalendar, days: tuple[date, date]) -> list[tuple]:
    """Count, sum and median working seconds of each measure, per agency and overall (one
    scan): rows of (agency, is_total, then count, sum, median of each measure).

    Working time between two instants on days s <= e is (P(e) - P(s)) days - W(s) * (time
    of day at start) + W(e) * (time of day at end), where P counts the working days before
    a day and W says whether it works (the model of workflows/calendar.py).
    """
    table = _DayTable(calendar, *days, postgres=local.postgres)
    stamps = {col.key for pair in MEASURES.values() for col in pair}
    # Each timestamp's local seconds, computed once (OFFSET 0 keeps PostgreSQL from pasting
    # the expression into every use of it).
    local_seconds = select(Complaint.agency_id.label("g"), *(
        local.epoch(getattr(Complaint, name)).label(name) for name in sorted(stamps))
    ).where(*where).offset(0).subquery()
    query, lookup = table.join(select(local_seconds.c.g).select_from(local_seconds), {
        name: local_seconds.c[name] // DAY_SECONDS for name in stamps})
    for name, (start_col, end_col) in MEASURES.items():
        start, end = local_seconds.c[start_col.key], local_seconds.c[end_col.key]
        (p_start, w_start), (p_end, w_end) = lookup[start_col.key], lookup[end_col.key]
        value = case((start.is_(None) | end.is_(None), None), (end <= start, 0),
                     else_=(p_end - p_start) * DAY_SECONDS - w_start * (start % DAY_SECONDS)
                     + w_end * (end % DAY_SECONDS))
        query = query.add_columns(value.label(name))
    values = query.subquery()
    return (_medians_postgres if local.postgres else _medians_sqlite)(session, values)


def _speeds_doc(rows: list[tuple], agencies: Mapping[int, Any]) -> dict[str, Any]:
    """Mean and median working days of each measure, per agency and overall."""
    result = {}
    for i, name in enumerate(MEASURES):
        by_agency = []
        overall = {"count": 0, "mean_days": None, "median_days": None}
        for g, is_total, *figures in rows:
            count, total, median = figures[3 * i:3 * i + 3]
            if not count:
                continue
            doc = {"count": count, "mean_days": _days(float(total) / count),
                   "median_days": _days(float(median))}
            if is_total:
                overall = doc
            else:
                by_agency.append({"agency": _agency_doc(agencies, g), "agency_id": g, **doc})
        by_agency.sort(key=lambda r: (r["agency"]["code"] is None, r["agency"]["label"]["id"]))
        result[name] = {"label": MEASURE_LABELS[name], "regency": overall,
                        "by_agency": by_agency}
    return result


def _medians_postgres(session: Session, values: Any) -> list[tuple]:
    """(agency, is_total, then count, sum, median of each measure): ordered-set aggregates
    over the agencies and the whole cohort (GROUPING SETS)."""
    columns = []
    for name in MEASURES:
        v = values.c[name]
        columns += [func.count(v), func.sum(v), func.percentile_cont(0.5).within_group(v)]
    query = select(values.c.g, func.grouping(values.c.g), *columns).group_by(
        func.grouping_sets(values.c.g, tuple_()))
    return [tuple(row) for row in session.execute(query)]


def _medians_sqlite(session: Session, values: Any) -> list[tuple]:
    """The same from the scan's values, summed and sorted here: SQLite runs inside this
    process, so its rows cross no network, and sorting a year's values in Python costs a
    fraction of SQLite's window sorts (two per median)."""
    width = len(MEASURES)
    found: dict[int | None, list[list[int]]] = defaultdict(lambda: [[] for _ in MEASURES])
    for g, *measured in session.execute(select(values.c.g, *(values.c[n] for n in MEASURES))):
        lists = found[g]
        for i, value in enumerate(measured):
            if value is not None:
                lists[i].append(value)

    def figures(lists: list[list[int]]) -> list[Any]:
        cells: list[Any] = []
        for measured in lists:
            measured.sort()
            n = len(measured)
            median = None if not n else (
                measured[n // 2] if n % 2 else (measured[n // 2 - 1] + measured[n // 2]) / 2)
            cells += [n, sum(measured), median]
        return cells

    overall = [[value for lists in found.values() for value in lists[i]] for i in range(width)]
    return [*((g, 0, *figures(lists)) for g, lists in found.items()),
            (None, 1, *figures(overall))]


def _days(seconds: float) -> float:
    return round(seconds / DAY_SECONDS, 2)


# --------------------------------------------------------------------------- deadlines


def _deadline_class(step: str, classification: str, misconduct: bool) -> str:
    if step != ids.STEP_RESOLUTION:
        return step
    if classification == "pengaduan" and misconduct:
        return "resolution.pengaduan_berkadar_pengawasan"
    return f"resolution.{classification}"


def _class_label(key: str) -> dict[str, str]:
    step, _, kind = key.partition(".")
    base = STEP_LABELS.get(step, {"id": step, "en": step})
    if not kind:
        return dict(base)
    if kind == "pengaduan_berkadar_pengawasan":
        return {"id": f"{base['id']} pengaduan berkadar pengawasan",
                "en": f"{base['en']} of complaints alleging misconduct"}
    label = CLASSIFICATION_LABELS.get(kind, {"id": kind, "en": kind})
    return {"id": f"{base['id']} {label['id'].lower()}", "en": f"{base['en']} of "
            f"{label['en'].lower()}s"}


def _deadline_rows(session: Session, where: list[Any], now: datetime
                   ) -> tuple[list[tuple], datetime | None]:
    """SLA records of the cohort by agency, step, classification and state: count, how many
    are past due now, lateness, budget; and the earliest due time still ahead of ``now`` of
    a running step (until then no step becomes overdue).

    Only the government's own steps count; the complainant's windows measure the citizen.
    """
    ahead = case(((SlaRecord.state == RUNNING) & (SlaRecord.due_at >= now),
                  SlaRecord.due_at), else_=None)
    query = (select(Complaint.agency_id, SlaRecord.step, Complaint.classification,
                    Complaint.misconduct, SlaRecord.state, func.count(),
                    func.sum(case((SlaRecord.due_at < now, 1), else_=0)),
                    func.coalesce(func.sum(SlaRecord.late_seconds), 0.0),
                    func.max(SlaRecord.budget_days), func.min(ahead))
             .join(Complaint, Complaint.id == SlaRecord.complaint_id)
             .where(*where, SlaRecord.step.not_in(sorted(CITIZEN_STEPS)))
             .group_by(Complaint.agency_id, SlaRecord.step, Complaint.classification,
                       Complaint.misconduct, SlaRecord.state))
    rows, next_due = [], None
    for *row, due in session.execute(query):
        rows.append(tuple(row))
        if due is not None:
            due = _utc(due)
            next_due = due if next_due is None else min(next_due, due)
    return rows, next_due


def _deadlines_doc(found: list[tuple], agencies: Mapping[int, Any]
                   ) -> tuple[list, list, dict[str, Any]]:
    """On-time shares per deadline class and per agency; the overdue backlog."""
    classes: dict[str, dict[str, Any]] = {}
    by_agency: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    overdue_steps: dict[str, int] = defaultdict(int)
    overdue_agency: dict[int | None, int] = defaultdict(int)
    for agency_id, step, classification, misconduct, state, n, past_due, late, budget in found:
        key = _deadline_class(step, classification, bool(misconduct))
        cell = classes.setdefault(key, {"met": 0, "breached": 0, "open": 0, "overdue": 0,
                                        "late_seconds": 0.0, "budget_days": budget})
        cell["budget_days"] = max(cell["budget_days"] or 0, budget or 0)
        if state == MET:
            cell["met"] += n
        elif state == BREACHED:
            cell["breached"] += n
            cell["late_seconds"] += float(late)
        elif state in (RUNNING, PAUSED):
            cell["open"] += n
        if state == RUNNING and past_due:
            cell["overdue"] += int(past_due)
            overdue_steps[step] += int(past_due)
            overdue_agency[agency_id] += int(past_due)
        if step in (ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION) and state in (MET, BREACHED):
            by_agency[agency_id][state] += n
    order = [ids.STEP_VERIFICATION, ids.STEP_FOLLOW_UP, *(
        f"resolution.{c}" for c in ("pengaduan", "pengaduan_berkadar_pengawasan", "aspirasi",
                                    "permintaan_informasi"))]
    rows = []
    for key in sorted(classes, key=lambda k: (order.index(k) if k in order else 99, k)):
        cell = classes[key]
        rows.append({"key": key, "label": _class_label(key), "budget_days": cell["budget_days"],
                     "met": cell["met"], "breached": cell["breached"], "open": cell["open"],
                     "overdue": cell["overdue"],
                     "on_time_pct": _pct(cell["met"], cell["met"] + cell["breached"]),
                     "mean_late_days": _days(cell["late_seconds"] / cell["breached"])
                     if cell["breached"] else None})
    agency_rows = [{"agency": _agency_doc(agencies, g), "agency_id": g, "met": c[MET],
                    "breached": c[BREACHED], "on_time_pct": _pct(c[MET], c[MET] + c[BREACHED])}
                   for g, c in by_agency.items()]
    agency_rows.sort(key=lambda r: (r["agency"]["code"] is None, r["agency"]["label"]["id"]))
    overdue = {"total": sum(overdue_steps.values()),
               "by_step": [{"key": step, "label": STEP_LABELS.get(step, {"id": step,
                                                                         "en": step}),
                            "count": n} for step, n in sorted(overdue_steps.items())],
               "by_agency": sorted(({"agency": _agency_doc(agencies, g), "count": n}
                                    for g, n in overdue_agency.items()),
                                   key=lambda r: (-r["count"], str(r["agency"]["code"])))}
    return rows, agency_rows, overdue


def _escalation_rows(session: Session, where: list[Any]) -> list[tuple]:
    query = (select(Complaint.agency_id, Escalation.rung_name, Escalation.status, func.count())
             .join(Complaint, Complaint.id == Escalation.complaint_id).where(*where)
             .group_by(Complaint.agency_id, Escalation.rung_name, Escalation.status))
    return [tuple(row) for row in session.execute(query)]


def _escalations_doc(found: list[tuple], agencies: Mapping[int, Any],
                     config: RegencyConfig) -> dict[str, Any]:
    rungs: dict[str, dict[str, int]] = defaultdict(lambda: {"total": 0, "open": 0})
    per_agency: dict[int | None, dict[str, int]] = defaultdict(lambda: {"total": 0, "open": 0})
    for agency_id, rung, status, n in found:
        for cell in (rungs[rung], per_agency[agency_id]):
            cell["total"] += n
            cell["open"] += n if status == "open" else 0
    ladder = list(config.ladder)
    return {
        "total": sum(c["total"] for c in rungs.values()),
        "open": sum(c["open"] for c in rungs.values()),
        "by_rung": [{"key": r, "label": RUNG_LABELS.get(r, {"id": r, "en": r}), **rungs[r]}
                    for r in sorted(rungs, key=lambda r: (ladder.index(r) if r in ladder
                                                          else 99, r))],
        "by_agency": sorted(({"agency": _agency_doc(agencies, g), **c}
                             for g, c in per_agency.items()),
                            key=lambda r: (-r["total"], str(r["agency"]["code"]))),
    }


def _ombudsman_rows(session: Session, where: list[Any], now: datetime, config: RegencyConfig
                    ) -> tuple[list[tuple], list[tuple], datetime | None]:
    """Reports still not closed (nor archived or returned) more than N calendar days after
    they were received, when the Ombudsman may take them over: the count per agency, the
    oldest ones, and the receipt of the next open report to cross the threshold.

    The open reports have their own (partial) index; its condition is written out as it
    stands in the index so that both databases see the query matches it.
    """
    threshold = now - timedelta(days=config.ombudsman_days)
    still_open = [*where, text(OPEN_PREDICATE)]
    late = [*still_open, Complaint.created_at <= threshold]
    counts = [tuple(row) for row in session.execute(
        select(Complaint.agency_id, func.count()).where(*late).group_by(Complaint.agency_id))]
    # The oldest ids first, from the index alone, then their rows: asked in one go,
    # PostgreSQL walks the whole period in date order and filters on the status.
    oldest = (select(Complaint.id).where(*late).order_by(Complaint.created_at, Complaint.id)
              .limit(CASES_LISTED).scalar_subquery())
    cases = [tuple(row) for row in session.execute(
        select(Complaint.tracking_number, Complaint.agency_id, Complaint.status,
               Complaint.created_at).where(Complaint.id.in_(oldest))
        .order_by(Complaint.created_at, Complaint.id))]
    following = session.scalar(select(func.min(Complaint.created_at)).where(
        *still_open, Complaint.created_at > threshold))
    return counts, cases, None if following is None else _utc(following)


def _ombudsman_doc(gathered: _Gathered, now: datetime, config: RegencyConfig,
                   agencies: Mapping[int, Any], *, list_cases: bool) -> dict[str, Any]:
    counts = gathered.ombudsman_counts
    result: dict[str, Any] = {
        "threshold_days": config.ombudsman_days,
        "total": sum(n for _, n in counts),
        "by_agency": sorted(({"agency": _agency_doc(agencies, g), "count": n}
                             for g, n in counts),
                            key=lambda r: (-r["count"], str(r["agency"]["code"]))),
    }
    if list_cases:
        tz = ZoneInfo(config.timezone)
        result["cases"] = [{"tracking_number": t, "agency": _agency_doc(agencies, g)["code"],
                            "status": s, "status_label": ids.STATUS_LABELS.get(s, {}),
                            "received_at": c.astimezone(tz).isoformat(),
                            "days_open": (now - c).days}
                           for t, g, s, c in gathered.ombudsman_cases]
    return result


# --------------------------------------------------------------------------- satisfaction


def _rating_doc(cell: Mapping[str, int]) -> dict[str, Any]:
    count = cell.get("rating_count", 0)
    return {"count": count,
            "mean": round(cell.get("rating_sum", 0) / count, 2) if count else None,
            "distribution": {str(k): cell.get(f"rating_{k}", 0) for k in ids.RATINGS}}


def _satisfaction(totals: Mapping[str, int], by_month: Mapping[tuple, Mapping[str, int]],
                  agencies: Mapping[int, Any]) -> dict[str, Any]:
    per_agency: dict[int | None, list[Mapping[str, int]]] = defaultdict(list)
    for key, cell in by_month.items():
        per_agency[key[1]].append(cell)
    rows = [{"agency": _agency_doc(agencies, g), "agency_id": g, **_rating_doc(_sum(cells))}
            for g, cells in per_agency.items()]
    rows = [r for r in rows if r["count"]]
    rows.sort(key=lambda r: (r["agency"]["code"] is None, r["agency"]["label"]["id"]))
    return {"regency": _rating_doc(totals), "by_agency": rows}


# --------------------------------------------------------------------------- ranking


def _ranking(by_agency: list[dict[str, Any]], on_time: list[dict[str, Any]],
             speed: list[dict[str, Any]], satisfaction: list[dict[str, Any]],
             weights: RankingWeights) -> dict[str, Any]:
    """OPDs (and BUMD, kecamatan, kelurahan) scored 0-100; see docs/statistics.md."""
    on_time_of = {r["agency_id"]: r["on_time_pct"] for r in on_time}
    speed_of = {r["agency_id"]: r["mean_days"] for r in speed}
    rating_of = {r["agency_id"]: r["mean"] for r in satisfaction}
    items = []
    for row in by_agency:
        g = row["agency_id"]
        if g is None or row["dispositioned"] < weights.min_reports:
            continue
        mean_days = speed_of.get(g)
        rating = rating_of.get(g)
        components = {
            "followed_up": min(1.0, row["answered"] / row["dispositioned"]),
            "on_time": None if on_time_of.get(g) is None else on_time_of[g] / 100.0,
            "speed": None if mean_days is None else max(
                0.0, 1.0 - mean_days / weights.speed_reference_days),
            "satisfaction": None if rating is None else (rating - 1.0) / 4.0,
        }
        weight = {name: getattr(weights, name) for name in components}
        present = [n for n, c in components.items() if c is not None and weight[n] > 0]
        total = sum(weight[n] for n in present)
        score = round(100.0 * sum(weight[n] * components[n] for n in present) / total, 2) \
            if total else None
        items.append({"agency": {"code": row["key"], "label": row["label"]},
                      "dispositioned": row["dispositioned"], "score": score,
                      "components": {n: None if c is None else round(c, 4)
                                     for n, c in components.items()}})
    items.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), -r["dispositioned"],
                              r["agency"]["code"]))
    previous, rank = None, 0
    for position, item in enumerate(items, start=1):
        if item["score"] is None:
            item["rank"] = None
            continue
        if item["score"] != previous:
            rank, previous = position, item["score"]
        item["rank"] = rank
    return {"weights": asdict(weights), "items": items}
