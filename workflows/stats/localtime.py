"""The regency's wall clock in SQL: the local month, day and time of day of a timestamp column."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, BigInteger, DateTime, Integer, bindparam, cast, func
from sqlalchemy.orm import Session

from workflows.stats.cohort import Period

DAY_SECONDS = 86_400


class LocalClock:
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
