"""The list's kept late reports (workflows/list_counts._Late): after any mix of changed,
new and finished reports and readings at instants that move forward and back, its count
and every page equal what a walk over all the kept reports finds."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from workflows.list_counts import LatePlace, _Late

START = datetime(2026, 3, 2, 8, 0)
KEYS = [(status, agency, unit) for status in ("VERIFIED", "DISPOSED", "IN_PROGRESS")
        for agency, unit in ((None, None), (3, None), (3, 31), (5, None), (5, 52))]


def _place(rng: random.Random) -> LatePlace:
    filed = START + timedelta(minutes=rng.randrange(0, 20_000))
    # deadlines often equal: several reports share one instant
    return LatePlace(rng.choice(KEYS), filed + timedelta(hours=rng.randrange(1, 200)), filed)


def _walked(places: dict[int, LatePlace], late: datetime, shown) -> list[int]:
    """Every late shown report, the newest filed first (equal instants: the higher id)."""
    found = [(p.created_at, r) for r, p in places.items() if p.due <= late and shown(p.key)]
    return [report for _, report in sorted(found, reverse=True)]


def test_counts_and_pages_equal_a_walk_over_every_report():
    rng = random.Random(1741)
    truth = {report: _place(rng) for report in range(1, 400)}
    kept = _Late()
    kept.rebuild(truth, None)
    scopes = [lambda key: True, lambda key: key[1] == 3,
              lambda key: key[0] == "DISPOSED" and key[1] in (None, 5),
              lambda key: key[2] == 52]
    instant = START + timedelta(hours=100)
    next_id = 400
    late_seen = 0
    for step in range(300):
        changed: dict[int, LatePlace] = {}
        for _ in range(rng.randrange(0, 6)):
            roll = rng.random()
            if roll < 0.3:  # a new report with a deadline
                next_id += 1
                changed[next_id] = _place(rng)
            elif truth:  # a deadline or holder changed, or its deadlines stopped
                # often one due at the last reading's instant: the edge of being late
                edge = sorted(r for r, p in truth.items() if p.due == instant)
                report = rng.choice(edge if edge and rng.random() < 0.5 else sorted(truth))
                changed[report] = _place(rng) if roll < 0.6 else None  # type: ignore
        for report, place in changed.items():
            if place is not None and rng.random() < 0.2:  # due at the last reading's instant
                changed[report] = place = LatePlace(place.key, instant, place.created_at)
            if place is None:
                truth.pop(report, None)
            else:
                truth[report] = place
        kept.apply(sorted(changed), {r: p for r, p in changed.items() if p is not None})
        # mostly forward, sometimes back (another process's clock, a test's clock)
        instant += timedelta(minutes=rng.choice((-900, -5, 0, 1, 30, 240, 600)))
        if step % 97 == 0:
            instant = START + timedelta(hours=rng.randrange(0, 400))
        for shown in scopes:
            expected = _walked(truth, instant, shown)
            late_seen += len(expected)
            assert kept.count(instant, shown) == len(expected), step
            for offset, limit in ((0, 5), (3, 7), (len(expected) - 2, 10), (0, 1000)):
                offset = max(0, offset)
                assert kept.page(instant, shown, limit, offset) == \
                    expected[offset:offset + limit], (step, offset, limit)
    assert late_seen > 1000, "readings found late reports"
    assert set(kept.places) == set(truth)
