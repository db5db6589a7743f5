"""The statistics' working calendar laid out per day for SQL (:class:`DayTable`): the
regency's calendar (workflows.workdays.calendar_of, built from the calendar_day rows the
figure cache keys on) as a table of days that SQL measures working time against."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ARRAY, Integer, bindparam, cast, column, literal, select, text

from workflows.calendar import WorkingCalendar

EPOCH = date(1970, 1, 1)


class DayTable:
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
