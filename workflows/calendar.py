"""The working-day calendar that SLA deadlines are counted on.

Model
-----
A *working day* is a whole local calendar day (00:00 to 24:00 on the wall clock of the
calendar's time zone) that is not a day off. Days off are the weekend days, the Indonesian
public holidays known to the ``holidays`` library, optionally its *cuti bersama* (the
``government`` category), and the days an administrator adds by decree; days an
administrator declares working (``working_overrides``) are working whatever the rules say.

The working time between two instants is the length of their overlap with working days, and
a budget of N working days is N * 24 hours of working time. So Monday 10:00 + 3 working days
is Thursday 10:00, Friday 10:00 + 1 is Monday 10:00 and Saturday 10:00 + 1 is Tuesday 00:00
(all of Monday counts). Fractional budgets are allowed.

Time is measured on the local wall clock: every working day counts as exactly 86,400 s. The
Indonesian zones (WIB, WITA, WIT) have no daylight saving time, so this is also elapsed time
there; in a zone with DST a skipped or repeated hour does not change the count.

Instants are timezone-aware datetimes (a naive datetime raises ``ValueError``); results are
aware datetimes in the calendar's zone. Internally everything is integer microseconds, and
each year is turned once into a table of working days with prefix sums, so adding 60 working
days or measuring a span of months costs a few binary searches, not a loop over days.

The working days left until a deadline are the difference of two *working positions*
(working microseconds from the first year a calendar is asked about), and a calendar keeps
the positions of the instants it was asked about: pages ask for the same deadlines at every
reading (the SLA board's fifty cases, the worklist's rows), so each costs a lookup.

The calendar is immutable after construction and safe to share between threads: the only
mutable state is the lazily filled per-year cache (filled under a lock) and the positions
kept (the same value whoever computes it).
"""

from __future__ import annotations

import math
import numbers
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = ["WEEKDAY_NAMES", "WorkingCalendar"]

#: Indonesian names of the weekdays, Monday first (``date.weekday()`` order).
WEEKDAY_NAMES = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")

DEFAULT_EXTRA_DAY_NAME = "Cuti Bersama"

_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
_POSITIONS_KEPT = 16_384  # instants whose working position a calendar keeps (about 2.5 MB)
_MIN_ORDINAL = date.min.toordinal()
_MAX_ORDINAL = date.max.toordinal()


@lru_cache(maxsize=512)
def _library_days_off(year: int, include_cuti_bersama: bool) -> Mapping[date, str]:
    """Indonesian holidays of one year from the ``holidays`` library, names in Indonesian.

    Shared by all calendars; each call builds its own library object, so nothing mutable
    is shared between threads.
    """
    categories = ("public", "government") if include_cuti_bersama else ("public",)
    found = holidays.country_holidays("ID", years=year, categories=categories, language="id")
    return MappingProxyType({day: str(name) for day, name in found.items() if day.year == year})


@dataclass(frozen=True, slots=True)
class _Year:
    """One year of the calendar: working flags and prefix sums of working days."""

    year: int
    first: int  # ordinal of 1 January
    working: bytes  # working[i] == 1 when day first + i is a working day
    prefix: tuple[int, ...]  # prefix[i] == working days among the first i days of the year
    reasons: Mapping[date, str]  # why each day off is off

    @property
    def size(self) -> int:
        return len(self.working)

    @property
    def total(self) -> int:
        return self.prefix[-1]


class WorkingCalendar:
    """Working days of one regency: weekends, Indonesian holidays and local decrees.

    ``weekend`` uses ``date.weekday()`` numbers (Monday 0 ... Sunday 6). ``extra_days_off``
    maps days an administrator adds (for example a *cuti bersama* set by decree) to their
    name; ``working_overrides`` are days declared working although the rules say off (for
    example a cancelled *cuti bersama*, or a Saturday worked in exchange for a bridge day).
    ``include_cuti_bersama`` takes the library's ``government`` category into account.
    """

    __slots__ = (
        "_extra",
        "_include_cuti_bersama",
        "_lock",
        "_offsets",
        "_overrides",
        "_positions",
        "_timezone",
        "_tz",
        "_weekend",
        "_years",
    )

    def __init__(
        self,
        timezone: str = "Asia/Makassar",
        *,
        weekend: Iterable[int] = (5, 6),
        extra_days_off: Mapping[date, str] | None = None,
        working_overrides: Iterable[date] = (),
        include_cuti_bersama: bool = True,
    ) -> None:
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown time zone {timezone!r}") from exc

        weekend_days = frozenset(weekend)
        for day in weekend_days:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ValueError(
                    f"weekend days are weekday numbers 0 (Monday) to 6 (Sunday), got {day!r}"
                )
        if len(weekend_days) == 7:
            raise ValueError("the weekend cannot cover all seven days of the week")

        extra: dict[date, str] = {}
        for day, name in (extra_days_off or {}).items():
            _check_date(day, "extra_days_off")
            if not isinstance(name, str):
                raise TypeError(f"the name of extra day off {day} must be a string, got {name!r}")
            extra[day] = name.strip() or DEFAULT_EXTRA_DAY_NAME

        overrides = frozenset(working_overrides)
        for day in overrides:
            _check_date(day, "working_overrides")
        clash = sorted(overrides & extra.keys())
        if clash:
            listed = ", ".join(day.isoformat() for day in clash)
            raise ValueError(f"days both added as days off and declared working: {listed}")

        setattr_ = object.__setattr__
        setattr_(self, "_timezone", timezone)
        setattr_(self, "_tz", tz)
        setattr_(self, "_weekend", weekend_days)
        setattr_(self, "_extra", MappingProxyType(extra))
        setattr_(self, "_overrides", overrides)
        setattr_(self, "_include_cuti_bersama", bool(include_cuti_bersama))
        setattr_(self, "_years", {})
        setattr_(self, "_lock", threading.RLock())  # _offset builds year tables under it
        # working days before 1 January of each year asked, counted from the first year
        # asked (see _position_us), and the positions of instants asked (bounded)
        setattr_(self, "_offsets", {})
        setattr_(self, "_positions", {})

    # -- immutability ------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._timezone!r}, weekend={tuple(sorted(self._weekend))}, "
            f"extra_days_off={len(self._extra)} day(s), "
            f"working_overrides={len(self._overrides)} day(s), "
            f"include_cuti_bersama={self._include_cuti_bersama})"
        )

    # -- configuration -----------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        """The IANA name of the calendar's time zone."""
        return self._timezone

    @property
    def tzinfo(self) -> ZoneInfo:
        return self._tz

    @property
    def weekend(self) -> frozenset[int]:
        return self._weekend

    @property
    def extra_days_off(self) -> Mapping[date, str]:
        return self._extra

    @property
    def working_overrides(self) -> frozenset[date]:
        return self._overrides

    @property
    def include_cuti_bersama(self) -> bool:
        return self._include_cuti_bersama

    # -- days --------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a date, or an aware datetime taken in the calendar's zone) works."""
        day = self._as_local_date(day)
        table = self._year(day.year)
        return table.working[day.toordinal() - table.first] == 1

    def day_off_reason(self, day: date) -> str | None:
        """Why ``day`` is off (holiday or decree name, or "Sabtu"/"Minggu"); None if working.

        A holiday falling on a weekend is reported by its name rather than the weekday's.
        """
        day = self._as_local_date(day)
        return self._year(day.year).reasons.get(day)

    def days_off(self, start: date, end: date) -> list[tuple[date, str]]:
        """The days off from ``start`` to ``end``, both included, with their reasons."""
        start = self._as_local_date(start)
        end = self._as_local_date(end)
        found: list[tuple[date, str]] = []
        for year in range(start.year, end.year + 1):
            reasons = self._year(year).reasons
            found.extend((day, reasons[day]) for day in sorted(reasons) if start <= day <= end)
        return found

    # -- instants ----------------------------------------------------------------------------

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """The instant ``days`` working days (of 24 h of working time) after ``start``.

        A negative budget counts backwards. The earliest such instant is returned going
        forwards (a budget that ends at midnight after Friday gives Saturday 00:00), the
        latest going backwards.
        """
        return self._add_us(start, _budget_us(days, _US_PER_DAY, "days"))

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` seconds of working time after ``start`` (see above)."""
        return self._add_us(start, _budget_us(seconds, _US_PER_SECOND, "seconds"))

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of working time from ``start`` to ``end``; 0 when ``end <= start``."""
        return self._between_us(start, end) / _US_PER_SECOND

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Working days (24 h of working time each) from ``start`` to ``end``."""
        return self._between_us(start, end) / _US_PER_DAY

    def working_days_left(self, now: datetime, due: datetime) -> float:
        """Working days from ``now`` until ``due``; negative (the working time since ``due``)
        when overdue."""
        return (self._position_us(due, "due") - self._position_us(now, "now")) / _US_PER_DAY

    # -- internals: conversions --------------------------------------------------------------

    def _as_local_date(self, day: date) -> date:
        if isinstance(day, datetime):
            ordinal, _ = self._wall(day, "day")
            return date.fromordinal(ordinal)
        if not isinstance(day, date):
            raise TypeError(f"expected a date, got {type(day).__name__}")
        return day

    def _wall(self, instant: datetime, what: str) -> tuple[int, int]:
        """(local day ordinal, microseconds since local midnight) of an aware instant."""
        if not isinstance(instant, datetime):
            raise TypeError(f"{what} must be a datetime, got {type(instant).__name__}")
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(
                f"{what} must be a timezone-aware datetime, got naive {instant.isoformat()}; "
                f"attach a zone (for example {self._timezone}) or use UTC"
            )
        local = instant.astimezone(self._tz)
        micros = (
            (local.hour * 60 + local.minute) * 60 + local.second
        ) * _US_PER_SECOND + local.microsecond
        return local.toordinal(), micros

    def _position_us(self, instant: datetime, what: str) -> int:
        """The working microseconds from the start of the first year this calendar was
        asked about up to ``instant`` (negative before it): the working time between two
        instants is the difference of their positions (_span_us's sum, day by day). Kept
        per instant: pages ask for the same deadlines' working days left at every reading."""
        found = self._positions.get(instant)
        if found is not None:
            return found
        ordinal, micros = self._wall(instant, what)
        table = self._year(date.fromordinal(ordinal).year)
        i = ordinal - table.first
        found = (self._offset(table.year) + table.prefix[i]) * _US_PER_DAY + (
            micros if table.working[i] else 0)
        if len(self._positions) >= _POSITIONS_KEPT:
            self._positions.clear()
        self._positions[instant] = found
        return found

    def _offset(self, year: int) -> int:
        """Working days from 1 January of the first year asked to 1 January of ``year``."""
        found = self._offsets.get(year)
        if found is not None:
            return found
        with self._lock:
            offsets = self._offsets
            if not offsets:
                offsets[year] = 0
            nearest = min(offsets, key=lambda known: abs(known - year))
            days = offsets[nearest]
            for step in range(nearest, year):  # later years: add the years between
                days += self._year(step).total
                offsets[step + 1] = days
            for step in range(nearest - 1, year - 1, -1):  # earlier: take them away
                days -= self._year(step).total
                offsets[step] = days
            return offsets[year]

    def _instant(self, ordinal: int, micros: int) -> datetime:
        ordinal += micros // _US_PER_DAY
        micros %= _US_PER_DAY
        if not _MIN_ORDINAL <= ordinal <= _MAX_ORDINAL:
            raise OverflowError("the result falls outside the supported date range")
        midnight = datetime.combine(date.fromordinal(ordinal), time(), tzinfo=self._tz)
        return midnight + timedelta(microseconds=micros)

    # -- internals: the year tables ----------------------------------------------------------

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            if not date.min.year <= year <= date.max.year:
                raise OverflowError("the computation runs outside the supported date range")
            with self._lock:
                table = self._years.get(year)
                if table is None:
                    table = self._build_year(year)
                    self._years[year] = table
        return table

    def _build_year(self, year: int) -> _Year:
        library = _library_days_off(year, self._include_cuti_bersama)
        first = date(year, 1, 1).toordinal()
        size = date(year, 12, 31).toordinal() - first + 1
        working = bytearray(size)
        prefix = [0] * (size + 1)
        reasons: dict[date, str] = {}
        for i in range(size):
            day = date.fromordinal(first + i)
            reason = self._extra.get(day) or library.get(day)
            if reason is None and day.weekday() in self._weekend:
                reason = WEEKDAY_NAMES[day.weekday()]
            if reason is None or day in self._overrides:
                working[i] = 1
            else:
                reasons[day] = reason
            prefix[i + 1] = prefix[i] + working[i]
        return _Year(year, first, bytes(working), tuple(prefix), MappingProxyType(reasons))

    def _is_working(self, ordinal: int) -> bool:
        table = self._year(date.fromordinal(ordinal).year)
        return table.working[ordinal - table.first] == 1

    def _count(self, start: int, end: int) -> int:
        """Working days among the days with ordinals in [start, end)."""
        count = 0
        while start < end:
            table = self._year(date.fromordinal(start).year)
            stop = min(end, table.first + table.size)
            count += table.prefix[stop - table.first] - table.prefix[start - table.first]
            start = stop
        return count

    def _forward(self, start: int, count: int) -> int:
        """The smallest ordinal j >= start with exactly ``count`` working days in [start, j)."""
        table = self._year(date.fromordinal(start).year)
        i = start - table.first
        while table.total - table.prefix[i] < count:
            count -= table.total - table.prefix[i]
            table = self._year(table.year + 1)
            i = 0
        return table.first + bisect_left(table.prefix, table.prefix[i] + count, lo=i)

    def _backward(self, end: int, count: int) -> int:
        """The largest ordinal j <= end with exactly ``count`` working days in [j, end)."""
        table = self._year(date.fromordinal(end - 1).year)
        i = end - table.first  # 1 <= i <= table.size
        while table.prefix[i] < count:
            count -= table.prefix[i]
            table = self._year(table.year - 1)
            i = table.size
        return table.first + bisect_right(table.prefix, table.prefix[i] - count, hi=i + 1) - 1

    # -- internals: arithmetic ---------------------------------------------------------------

    def _between_us(self, start: datetime, end: datetime) -> int:
        start_ord, start_us = self._wall(start, "start")
        end_ord, end_us = self._wall(end, "end")
        if (end_ord, end_us) <= (start_ord, start_us):
            return 0
        return self._span_us(start_ord, start_us, end_ord, end_us)

    def _span_us(self, start_ord: int, start_us: int, end_ord: int, end_us: int) -> int:
        """Working microseconds between two ordered wall-clock positions."""
        if start_ord == end_ord:
            return end_us - start_us if self._is_working(start_ord) else 0
        total = self._count(start_ord + 1, end_ord) * _US_PER_DAY
        if self._is_working(start_ord):
            total += _US_PER_DAY - start_us
        if self._is_working(end_ord):
            total += end_us
        return total

    def _add_us(self, start: datetime, budget: int) -> datetime:
        ordinal, micros = self._wall(start, "start")
        if budget == 0:
            return self._instant(ordinal, micros)
        if budget > 0:
            if self._is_working(ordinal):
                available = _US_PER_DAY - micros
                if budget <= available:
                    return self._instant(ordinal, micros + budget)
                budget -= available
            whole, rest = divmod(budget, _US_PER_DAY)
            if rest == 0:
                return self._instant(self._forward(ordinal + 1, whole), 0)
            last = self._forward(ordinal + 1, whole + 1) - 1  # the day the budget runs out in
            return self._instant(last, rest)
        budget = -budget
        if self._is_working(ordinal):
            if budget <= micros:
                return self._instant(ordinal, micros - budget)
            budget -= micros
        whole, rest = divmod(budget, _US_PER_DAY)
        if rest == 0:
            return self._instant(self._backward(ordinal, whole), 0)
        first = self._backward(ordinal, whole + 1)  # the day the budget runs out in
        return self._instant(first, _US_PER_DAY - rest)


def _check_date(day: object, what: str) -> None:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"{what} takes dates (not datetimes), got {day!r}")


def _budget_us(amount: float, unit_us: int, what: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"{what} must be a number, got {amount!r}")
    if isinstance(amount, int):
        return amount * unit_us
    amount = float(amount)
    if not math.isfinite(amount):
        raise ValueError(f"{what} must be a finite number, got {amount!r}")
    return round(amount * unit_us)
