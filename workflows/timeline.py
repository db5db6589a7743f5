"""A stretch of the working calendar as arrays, for measuring many spans at once.

The impact preview (workflows/impact.py) measures the working time of hundreds of thousands
of SLA records. WorkingCalendar.working_seconds_between is exact but converts each instant
to the local wall clock through the time zone; here the stretch of days the records cover is
laid out once as a table (one flag per local day, and the prefix sums of working days), and
instants are integers (microseconds since the epoch, UTC). The working time between two
instants is then a few integer operations, with the calendar's model unchanged: a working
day is a whole local day, counted 86,400 s (workflows/calendar.py).

That needs the zone's UTC offset to be the same over the whole stretch, which is the case
for the Indonesian zones (no daylight saving time). For a zone where it is not,
`timeline_for` hands out `CalendarTimeline`, which asks the calendar for each span: slower,
the same answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from workflows.calendar import WorkingCalendar

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
EPOCH = date(1970, 1, 1)


class WorkingTimeline:
    """Working time between instants (epoch microseconds) within `first`..`last` (local
    dates, both included), in O(1) each. Instants outside the stretch raise IndexError."""

    __slots__ = ("first_day", "offset_us", "prefix", "size", "working")

    def __init__(self, calendar: WorkingCalendar, first: date, last: date) -> None:
        days = (last - first).days + 1
        if days <= 0:
            raise ValueError(f"the stretch {first}..{last} is empty")
        offsets = {calendar.tzinfo.utcoffset(datetime.combine(first + timedelta(days=i), time()))
                   for i in range(days + 1)}
        if len(offsets) != 1:
            raise ValueError(f"the UTC offset of {calendar.timezone} changes within "
                             f"{first}..{last}")
        offset = offsets.pop()
        self.offset_us = round(offset.total_seconds()) * US_PER_SECOND if offset else 0
        self.first_day = (first - EPOCH).days
        self.size = days
        self.working = bytes(calendar.is_working_day(first + timedelta(days=i))
                             for i in range(days))
        prefix = [0] * (days + 1)
        for i, flag in enumerate(self.working):
            prefix[i + 1] = prefix[i] + flag
        self.prefix = prefix

    def working_us(self, start_us: int, end_us: int) -> int:
        """Microseconds of working time from `start_us` to `end_us`; 0 when end <= start."""
        if end_us <= start_us:
            return 0
        day_a, in_a = divmod(start_us + self.offset_us, US_PER_DAY)
        day_b, in_b = divmod(end_us + self.offset_us, US_PER_DAY)
        i, j = day_a - self.first_day, day_b - self.first_day
        if i < 0 or j >= self.size:
            raise IndexError("an instant lies outside the timeline's stretch of days")
        working = self.working
        if i == j:
            return end_us - start_us if working[i] else 0
        total = (self.prefix[j] - self.prefix[i + 1]) * US_PER_DAY
        if working[i]:
            total += US_PER_DAY - in_a
        if working[j]:
            total += in_b
        return total


class CalendarTimeline:
    """The same answers as WorkingTimeline, from the calendar itself (any zone)."""

    __slots__ = ("calendar",)

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar

    def working_us(self, start_us: int, end_us: int) -> int:
        if end_us <= start_us:
            return 0
        seconds = self.calendar.working_seconds_between(instant(start_us), instant(end_us))
        return round(seconds * US_PER_SECOND)


def instant(epoch_us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=epoch_us)


def epoch_us(moment: datetime) -> int:
    """An aware instant as integer microseconds since the epoch."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def timeline_for(calendar: WorkingCalendar, first_us: int, last_us: int
                 ) -> WorkingTimeline | CalendarTimeline:
    """A timeline covering the instants `first_us`..`last_us` (the fast one whenever the
    zone's offset is constant over them)."""
    zone = calendar.tzinfo
    first = instant(first_us).astimezone(zone).date() - timedelta(days=1)
    last = instant(last_us).astimezone(zone).date() + timedelta(days=1)
    try:
        return WorkingTimeline(calendar, first, last)
    except ValueError:
        return CalendarTimeline(calendar)
