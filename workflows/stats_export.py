"""The statistics as rows for CSV and XLSX exports: the same rows in both."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from workflows import diagram_ids as ids
from workflows.stats import COUNTS, LABELS, REGENCY

EXPORT_HEADER = ("bagian", "kunci", "label", "ukuran", "keterangan", "nilai")
BREAKDOWN_METRICS = (*COUNTS, "followed_up_pct")


def export_rows(figures: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The figures as rows (section, key, label, metric, metric label, value), the same in
    CSV and XLSX; labels are Indonesian."""
    rows: list[tuple[Any, ...]] = []

    def add(section: str, key: Any, label: str, metrics: Mapping[str, Any],
            names: Iterable[str]) -> None:
        for name in names:
            rows.append((section, "" if key is None else str(key), label, name,
                         LABELS.get(name, {}).get("id", name), metrics.get(name)))

    period, scope = figures["period"], figures["scope"]
    for name, value in (("from", period["from"]), ("to", period["to"]),
                        ("as_of", figures["as_of"]), ("scope", scope["agency"] or "")):
        rows.append(("period", name, scope["name"], name, name, value))
    totals = figures["totals"]
    add("totals", None, scope["name"], totals, COUNTS)
    add("totals", None, scope["name"],
        {f"status_{s}": v["count"] for s, v in totals["by_status"].items()},
        [f"status_{s}" for s in ids.STATUSES])
    add("followed_up", None, scope["name"], figures["followed_up"],
        ("base", "closed", "in_progress", "pct", "pct_closed", "pct_in_progress"))
    for dimension, items in figures["breakdowns"].items():
        for item in items:
            add(f"by_{dimension}", item["key"], item["label"]["id"], item, BREAKDOWN_METRICS)
    for measure, doc in figures["speed"].items():
        add(f"speed.{measure}", None, REGENCY["id"], doc["regency"],
            ("count", "mean_days", "median_days"))
        for item in doc["by_agency"]:
            add(f"speed.{measure}", item["agency"]["code"], item["agency"]["label"]["id"], item,
                ("count", "mean_days", "median_days"))
    for item in figures["deadlines"]["classes"]:
        add("deadlines", item["key"], item["label"]["id"], item,
            ("budget_days", "met", "breached", "open", "overdue", "on_time_pct",
             "mean_late_days"))
    for item in figures["deadlines"]["by_agency"]:
        add("deadlines.by_agency", item["agency"]["code"], item["agency"]["label"]["id"], item,
            ("met", "breached", "on_time_pct"))
    overdue = figures["overdue"]
    add("overdue", None, REGENCY["id"], {"total": overdue["total"]}, ("total",))
    for item in overdue["by_step"]:
        add("overdue.by_step", item["key"], item["label"]["id"], item, ("count",))
    for item in overdue["by_agency"]:
        add("overdue.by_agency", item["agency"]["code"], item["agency"]["label"]["id"], item,
            ("count",))
    escalations = figures["escalations"]
    add("escalations", None, REGENCY["id"], escalations, ("total", "open"))
    for item in escalations["by_rung"]:
        add("escalations.by_rung", item["key"], item["label"]["id"], item, ("total", "open"))
    for item in escalations["by_agency"]:
        add("escalations.by_agency", item["agency"]["code"], item["agency"]["label"]["id"],
            item, ("total", "open"))
    ombudsman = figures["ombudsman"]
    add("ombudsman", None, f"Lebih dari {ombudsman['threshold_days']} hari belum selesai",
        ombudsman, ("total",))
    for item in ombudsman["by_agency"]:
        add("ombudsman.by_agency", item["agency"]["code"], item["agency"]["label"]["id"], item,
            ("count",))
    satisfaction = figures["satisfaction"]
    rating_metrics = ("count", "mean", *(f"rating_{k}" for k in ids.RATINGS))

    def flat(doc: Mapping[str, Any]) -> dict[str, Any]:
        return {**doc, **{f"rating_{k}": v for k, v in doc["distribution"].items()}}

    add("satisfaction", None, REGENCY["id"], flat(satisfaction["regency"]), rating_metrics)
    for item in satisfaction["by_agency"]:
        add("satisfaction", item["agency"]["code"], item["agency"]["label"]["id"], flat(item),
            rating_metrics)
    for item in figures["ranking"]["items"]:
        add("ranking", item["agency"]["code"], item["agency"]["label"]["id"],
            {**item["components"], "rank": item["rank"], "score": item["score"],
             "dispositioned": item["dispositioned"]},
            ("rank", "score", "dispositioned", "followed_up", "on_time", "speed",
             "satisfaction"))
    return rows


def to_csv(figures: Mapping[str, Any]) -> str:
    """UTF-8 CSV (with a byte-order mark, so spreadsheets read the Indonesian text)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    for row in export_rows(figures):
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


def to_xlsx(figures: Mapping[str, Any]) -> bytes:
    """The same rows as the CSV, in one sheet *Statistik*."""
    from openpyxl import Workbook  # imported here: only exports need it

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Statistik")
    sheet.append(list(EXPORT_HEADER))
    for row in export_rows(figures):
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def export_name(figures: Mapping[str, Any], extension: str) -> str:
    period = figures["period"]
    span = str(period["year"]) if period["year"] else f"{period['from']}_{period['to']}"
    agency = figures["scope"]["agency"]
    return f"statistik-{span}{'-' + agency if agency else ''}.{extension}"
