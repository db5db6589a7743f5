"""Figures of complaint handling for a period: counts, follow-up, speed, deadlines, ranking.

The use cases (:func:`officer_figures`, :func:`public_figures`, :func:`compute`) and the
names other packages use; docs/statistics.md says in plain words what each figure means.
The work is split by job:

- ``cohort``: which reports count (the period, the scope);
- ``localtime`` and ``calendar_sql``: the regency's clock and working calendar in SQL;
- ``queries``: what is asked of the database, gathered into one value;
- ``speeds``: the speeds from each report's stored working times, and keeping those in
  step with the calendar (``relay_speeds``, which a calendar change calls);
- ``cache``: when a gathered value may answer again (the figure cache);
- ``rendering``, ``labels`` and ``ranking``: the document made of it.

What the database says about a period is kept in memory per process (:func:`figure_cache`)
and used again for as long as the database's change log (table ``stats_change``, written
by triggers for every change to a complaint, an SLA record or an escalation) shows no
change to that period, and the clock has not moved past a deadline or the Ombudsman's
threshold: a cached answer is always the one a fresh computation would give.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from workflows import access, readcache
from workflows.config import RegencyConfig
from workflows.stats.cache import figure_cache, figure_key
from workflows.stats.cohort import MAX_YEAR, MIN_YEAR, Period, Scope, parse_period, resolve_scope
from workflows.stats.labels import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CLASSIFICATION_LABELS,
    LABELS,
    MEASURE_LABELS,
    REGENCY,
    class_label,
)
from workflows.stats.localtime import LocalClock
from workflows.stats.queries import (
    MEASURES,
    Gathered,
    agency_rows,
    calendar_days,
    gather,
    tune_transaction,
)
from workflows.stats.ranking import WEIGHTS_SETTING, RankingWeights, load_weights
from workflows.stats.rendering import COUNTS, IN_PROGRESS, PENDING, render
from workflows.stats.speeds import relay as relay_speeds
from workflows.workdays import calendar_of

__all__ = [
    "CATEGORY_LABELS",
    "CHANNEL_LABELS",
    "CLASSIFICATION_LABELS",
    "COUNTS",
    "IN_PROGRESS",
    "LABELS",
    "MAX_YEAR",
    "MEASURES",
    "MEASURE_LABELS",
    "MIN_YEAR",
    "PENDING",
    "REGENCY",
    "USE_CACHE",
    "WEIGHTS_SETTING",
    "Period",
    "RankingWeights",
    "Scope",
    "class_label",
    "compute",
    "figure_cache",
    "load_weights",
    "officer_figures",
    "parse_period",
    "public_figures",
    "relay_speeds",
    "resolve_scope",
]

USE_CACHE = True  # the benchmark turns it off to measure the database's work alone


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
    local = LocalClock(session, config.timezone, period.start.year, _today(now, config).year)
    if local.postgres:
        tune_transaction(session)
    calendar_rows = calendar_days(session)
    # Every timestamp of the cohort lies between the period's start and now.
    days = (period.start - timedelta(days=1),
            max(period.end, _today(now, config)) + timedelta(days=1))
    key = figure_key(first, after, scope, config, days, calendar_rows)

    def gather_now() -> tuple[Gathered, Callable[[datetime], bool]]:
        gathered = gather(session, config, period, now, scope, local, first, after, days,
                          calendar_of(config, calendar_rows))
        return gathered, lambda later: later < gathered.valid_until

    store = figure_cache(session) if cache and USE_CACHE else None
    if store is None:
        gathered = gather_now()[0]
    else:  # exact: no lag behind the clock (the figures name the moment they are for)
        gathered = store.read(session, key, now, (readcache.STATS,), gather_now,
                              received=(first, after), tolerance=timedelta(0))
    return render(gathered, config, period, now, scope, weights, agency_rows(session),
                  public=public)


def _today(now: datetime, config: RegencyConfig) -> date:
    return now.astimezone(ZoneInfo(config.timezone)).date()
