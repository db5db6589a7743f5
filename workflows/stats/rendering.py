"""The figures' document from the gathered rows: each section's numbers, labels and order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from workflows import diagram_ids as ids
from workflows.config import RUNG_LABELS, RegencyConfig
from workflows.sla import BREACHED, MET, PAUSED, RUNNING, STEP_LABELS
from workflows.stats.cohort import Period, Scope
from workflows.stats.labels import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CLASSIFICATION_LABELS,
    MEASURE_LABELS,
    NO_AGENCY,
    class_label,
    month_label,
)
from workflows.stats.localtime import DAY_SECONDS
from workflows.stats.queries import MEASURES, Gathered
from workflows.stats.ranking import RankingWeights, rank
from workflows.validation import CHANNELS, CLASSIFICATIONS

# Statuses by what they mean for the figures.
PENDING = (ids.STATUS_SUBMITTED, ids.STATUS_NEEDS_INFO, ids.STATUS_VERIFIED,
           ids.STATUS_POSTPONED)
IN_PROGRESS = (ids.STATUS_DISPOSED, ids.STATUS_IN_PROGRESS, ids.STATUS_RESPONDED)
COUNTS = ("received", "verified", "dispositioned", "answered", "pending", "archived",
          "returned", "in_progress", "closed")


def render(gathered: Gathered, config: RegencyConfig, period: Period, now: datetime,
           scope: Scope, weights: RankingWeights, agencies: Mapping[int, Any], *,
           public: bool) -> dict[str, Any]:
    """The figures' document: labels, percentages, ranking; nothing here reads the database."""
    tz = ZoneInfo(config.timezone)
    by_month = gathered.by_month
    totals = _sum(by_month.values())
    breakdowns = _breakdowns(by_month, gathered.by_kind, agencies)
    speed = _speeds_doc(gathered.speeds, agencies)
    deadlines, on_time_by_agency, overdue = _deadlines_doc(gathered.deadlines, agencies,
                                                           gathered.reports)
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
        "escalations": _escalations_doc(gathered.escalations, agencies, config,
                                        gathered.reports["escalations"]),
        "ombudsman": _ombudsman_doc(gathered, now, config, agencies, list_cases=not public),
        "satisfaction": _satisfaction(totals, by_month, agencies),
    }
    figures["ranking"] = rank(breakdowns["agency"], on_time_by_agency,
                              speed["disposition_to_first_answer"]["by_agency"],
                              figures["satisfaction"]["by_agency"], weights,
                              gathered.unanswered_late)
    if public:
        figures["scope"] = {"agency": None, "name": config.name}
    # Database ids joined the figures above; callers get agency codes.
    for rows in (breakdowns["agency"], on_time_by_agency, figures["satisfaction"]["by_agency"],
                 *(measure["by_agency"] for measure in speed.values())):
        for row in rows:
            row.pop("agency_id", None)
    return figures


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


def _unlisted(group: str, key: Any) -> dict[str, str]:
    """The label of a key the shipped labels do not know: a category an administrator
    added (workflows/categories.py) is shown as `other`, with its code."""
    if group == "category" and "other" in CATEGORY_LABELS:
        return {lang: f"{text} ({key})" for lang, text in CATEGORY_LABELS["other"].items()}
    return {"id": str(key), "en": str(key)}


def _agency_doc(agencies: Mapping[int, Any], agency_id: int | None) -> dict[str, Any]:
    row = agencies.get(agency_id) if agency_id is not None else None
    if row is None:
        return {"code": None, "label": dict(NO_AGENCY)}
    return {"code": row.code, "label": {"id": row.name, "en": row.name}}


def _breakdowns(by_month: Mapping[tuple, Mapping[str, int]],
                by_kind: Mapping[str, Mapping[Any, Mapping[str, int]]],
                agencies: Mapping[int, Any]
                ) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, dict[Any, list[Mapping[str, int]]]] = {
        name: defaultdict(list) for name in ("year", "month", "agency", "category", "channel",
                                             "classification")}
    for (month, agency_id), cell in by_month.items():
        groups["year"][int(month[:4])].append(cell)
        groups["month"][month].append(cell)
        groups["agency"][agency_id].append(cell)
    for kind, cells in by_kind.items():  # category, channel, classification
        for key, cell in cells.items():
            groups[kind][key].append(cell)

    def row(key: Any, label: dict[str, str], cells: list[Mapping[str, int]]) -> dict[str, Any]:
        total = _sum(cells)
        return {"key": key, "label": label, **_counts(total),
                "followed_up_pct": _followed_up(total)["pct"]}

    def labelled(name: str, labels: Mapping[str, dict[str, str]], order: tuple[str, ...]
                 ) -> list[dict[str, Any]]:
        keys = sorted(groups[name], key=lambda k: (order.index(k) if k in order
                                                   else len(order), str(k)))
        return [row(k, labels.get(k) or _unlisted(name, k), groups[name][k]) for k in keys]

    by_agency = []
    for agency_id, cells in groups["agency"].items():
        doc = _agency_doc(agencies, agency_id)
        by_agency.append({**row(doc["code"], doc["label"], cells), "agency_id": agency_id})
    by_agency.sort(key=lambda r: (r["key"] is None, -r["received"], r["label"]["id"]))
    return {
        "year": [row(y, {"id": str(y), "en": str(y)}, groups["year"][y])
                 for y in sorted(groups["year"])],
        "month": [row(m, month_label(m), groups["month"][m]) for m in sorted(groups["month"])],
        "agency": by_agency,
        "category": labelled("category", CATEGORY_LABELS, tuple(CATEGORY_LABELS)),
        "channel": labelled("channel", CHANNEL_LABELS, CHANNELS),
        "classification": labelled("classification", CLASSIFICATION_LABELS, CLASSIFICATIONS),
    }


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


def _days(seconds: float) -> float:
    return round(seconds / DAY_SECONDS, 2)


def _deadline_class(step: str, classification: str, misconduct: bool) -> str:
    if step != ids.STEP_RESOLUTION:
        return step
    if classification == "pengaduan" and misconduct:
        return "resolution.pengaduan_berkadar_pengawasan"
    return f"resolution.{classification}"


def _deadlines_doc(found: list[tuple], agencies: Mapping[int, Any],
                   reports: Mapping[str, Any]) -> tuple[list, list, dict[str, Any]]:
    """On-time shares per deadline class and per agency; the overdue backlog. Each count of
    steps carries the number of reports behind it (``reports``: a report is counted once)."""
    class_reports: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (step, classification, misconduct, state), n in reports["classes"].items():
        class_reports[_deadline_class(step, classification, misconduct)][state] += n
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
        rows.append({"key": key, "label": class_label(key), "budget_days": cell["budget_days"],
                     "met": cell["met"], "breached": cell["breached"], "open": cell["open"],
                     "overdue": cell["overdue"],
                     "reports": {name: class_reports[key].get(name, 0)
                                 for name in ("met", "breached", "open", "overdue")},
                     "on_time_pct": _pct(cell["met"], cell["met"] + cell["breached"]),
                     "mean_late_days": _days(cell["late_seconds"] / cell["breached"])
                     if cell["breached"] else None})
    own = reports["by_agency"]
    agency_rows = [{"agency": _agency_doc(agencies, g), "agency_id": g, "met": c[MET],
                    "breached": c[BREACHED], "on_time_pct": _pct(c[MET], c[MET] + c[BREACHED]),
                    "reports": {"met": own["met"].get(g, 0),
                                "breached": own["breached"].get(g, 0)}}
                   for g, c in by_agency.items()]
    agency_rows.sort(key=lambda r: (r["agency"]["code"] is None, r["agency"]["label"]["id"]))
    late = reports["overdue"]
    overdue = {"total": sum(overdue_steps.values()), "reports": late["total"],
               "by_step": [{"key": step, "label": STEP_LABELS.get(step, {"id": step,
                                                                         "en": step}),
                            "count": n, "reports": late["by_step"].get(step, 0)}
                           for step, n in sorted(overdue_steps.items())],
               "by_agency": sorted(({"agency": _agency_doc(agencies, g), "count": n,
                                     "reports": late["by_agency"].get(g, 0)}
                                    for g, n in overdue_agency.items()),
                                   key=lambda r: (-r["count"], str(r["agency"]["code"])))}
    return rows, agency_rows, overdue


def _escalations_doc(found: list[tuple], agencies: Mapping[int, Any],
                     config: RegencyConfig, reports: Mapping[str, Any]) -> dict[str, Any]:
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
        # the reports behind the counts (a report may climb several rungs)
        "reports": reports["total"], "reports_open": reports["open"],
        "by_rung": [{"key": r, "label": RUNG_LABELS.get(r, {"id": r, "en": r}), **rungs[r],
                     "reports": reports["by_rung"].get(r, 0),
                     "reports_open": reports["by_rung_open"].get(r, 0)}
                    for r in sorted(rungs, key=lambda r: (ladder.index(r) if r in ladder
                                                          else 99, r))],
        "by_agency": sorted(({"agency": _agency_doc(agencies, g), **c,
                              "reports": reports["by_agency"].get(g, 0),
                              "reports_open": reports["by_agency_open"].get(g, 0)}
                             for g, c in per_agency.items()),
                            key=lambda r: (-r["total"], str(r["agency"]["code"]))),
    }


def _ombudsman_doc(gathered: Gathered, now: datetime, config: RegencyConfig,
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
