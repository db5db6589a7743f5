"""The statistics as rows for CSV and XLSX exports: the same rows in both.

Two layouts: the API's (``language`` None: machine keys first, labels in Indonesian, the
header `bagian, kunci, label, ukuran, keterangan, nilai`), and the pages' (``language``
"id" or "en": every word in that language, the section named rather than keyed, the keys
last for those who process the file)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from workflows import diagram_ids as ids
from workflows.stats import COUNTS, LABELS, MEASURE_LABELS, REGENCY

EXPORT_HEADER = ("bagian", "kunci", "label", "ukuran", "keterangan", "nilai")
BREAKDOWN_METRICS = (*COUNTS, "followed_up_pct")
# The pages' layout: its header, and the sections' and period rows' names.
PAGE_HEADER = {
    "id": ("Bagian", "Baris", "Ukuran", "Nilai", "Kunci bagian", "Kunci baris",
           "Kunci ukuran"),
    "en": ("Section", "Row", "Measure", "Value", "Section key", "Row key", "Measure key"),
}
SECTION_LABELS = {
    "period": {"id": "Periode", "en": "Period"},
    "totals": {"id": "Jumlah laporan", "en": "Totals"},
    "followed_up": {"id": "Persentase ditindaklanjuti", "en": "Followed up"},
    "by_year": {"id": "Per tahun", "en": "By year"},
    "by_month": {"id": "Per bulan", "en": "By month"},
    "by_agency": {"id": "Per instansi", "en": "By agency"},
    "by_category": {"id": "Per kategori", "en": "By category"},
    "by_channel": {"id": "Per kanal", "en": "By channel"},
    "by_classification": {"id": "Per klasifikasi", "en": "By classification"},
    "deadlines": {"id": "Tenggat per jenis", "en": "Deadlines by class"},
    "deadlines.by_agency": {"id": "Tenggat per instansi", "en": "Deadlines by agency"},
    "overdue": {"id": "Tunggakan lewat tenggat", "en": "Overdue backlog"},
    "overdue.by_step": {"id": "Tunggakan per tahap", "en": "Overdue backlog by step"},
    "overdue.by_agency": {"id": "Tunggakan per instansi", "en": "Overdue backlog by agency"},
    "escalations": {"id": "Eskalasi", "en": "Escalations"},
    "escalations.by_rung": {"id": "Eskalasi per tingkat", "en": "Escalations by rung"},
    "escalations.by_agency": {"id": "Eskalasi per instansi", "en": "Escalations by agency"},
    "ombudsman": {"id": "Melewati batas Ombudsman", "en": "Past the Ombudsman's threshold"},
    "ombudsman.by_agency": {"id": "Melewati batas Ombudsman per instansi",
                            "en": "Past the Ombudsman's threshold by agency"},
    "satisfaction": {"id": "Kepuasan pelapor", "en": "Satisfaction"},
    "ranking": {"id": "Peringkat OPD", "en": "OPD ranking"},
}
PERIOD_LABELS = {"from": {"id": "Dari", "en": "From"}, "to": {"id": "Sampai", "en": "To"},
                 "as_of": {"id": "Keadaan per", "en": "As of"},
                 "scope": {"id": "Cakupan", "en": "Scope"}}


def section_label(section: str, lang: str) -> str:
    """A section's name: 'speed.<measure>' by its measure's label."""
    if section.startswith("speed."):
        return MEASURE_LABELS.get(section[6:], {}).get(lang, section)
    return SECTION_LABELS.get(section, {}).get(lang, section)


def export_rows(figures: Mapping[str, Any], language: str | None = None
                ) -> list[tuple[Any, ...]]:
    """The figures as rows (section, key, label, metric, metric label, value), the same in
    CSV and XLSX; labels in ``language`` (None: the API's, Indonesian, the period's rows
    keyed only)."""
    rows: list[tuple[Any, ...]] = []
    lang = language or "id"

    def add(section: str, key: Any, label: Any, metrics: Mapping[str, Any],
            names: Iterable[str]) -> None:
        text = label.get(lang, label.get("id", "")) if isinstance(label, Mapping) else label
        for name in names:
            rows.append((section, "" if key is None else str(key), text, name,
                         LABELS.get(name, {}).get(lang, name), metrics.get(name)))

    period, scope = figures["period"], figures["scope"]
    # the regency, in the export's language; an agency or a regency by its own name
    scope_name = REGENCY if scope["name"] == REGENCY["id"] else scope["name"]
    for name, value in (("from", period["from"]), ("to", period["to"]),
                        ("as_of", figures["as_of"]), ("scope", scope["agency"] or "")):
        rows.append(("period", name, scope_name if isinstance(scope_name, str)
                     else scope_name[lang], name,
                     PERIOD_LABELS[name][lang] if language else name, value))
    totals = figures["totals"]
    add("totals", None, scope_name, totals, COUNTS)
    add("totals", None, scope_name,
        {f"status_{s}": v["count"] for s, v in totals["by_status"].items()},
        [f"status_{s}" for s in ids.STATUSES])
    add("followed_up", None, scope_name, figures["followed_up"],
        ("base", "closed", "in_progress", "pct", "pct_closed", "pct_in_progress"))
    for dimension, items in figures["breakdowns"].items():
        for item in items:
            add(f"by_{dimension}", item["key"], item["label"], item, BREAKDOWN_METRICS)
    for measure, doc in figures["speed"].items():
        add(f"speed.{measure}", None, REGENCY, doc["regency"],
            ("count", "mean_days", "median_days"))
        for item in doc["by_agency"]:
            add(f"speed.{measure}", item["agency"]["code"], item["agency"]["label"], item,
                ("count", "mean_days", "median_days"))
    for item in figures["deadlines"]["classes"]:
        add("deadlines", item["key"], item["label"], item,
            ("budget_days", "met", "breached", "open", "overdue", "on_time_pct",
             "mean_late_days"))
    for item in figures["deadlines"]["by_agency"]:
        add("deadlines.by_agency", item["agency"]["code"], item["agency"]["label"], item,
            ("met", "breached", "on_time_pct"))
    overdue = figures["overdue"]
    add("overdue", None, REGENCY, {"total": overdue["total"]}, ("total",))
    for item in overdue["by_step"]:
        add("overdue.by_step", item["key"], item["label"], item, ("count",))
    for item in overdue["by_agency"]:
        add("overdue.by_agency", item["agency"]["code"], item["agency"]["label"], item,
            ("count",))
    escalations = figures["escalations"]
    add("escalations", None, REGENCY, escalations, ("total", "open"))
    for item in escalations["by_rung"]:
        add("escalations.by_rung", item["key"], item["label"], item, ("total", "open"))
    for item in escalations["by_agency"]:
        add("escalations.by_agency", item["agency"]["code"], item["agency"]["label"],
            item, ("total", "open"))
    ombudsman = figures["ombudsman"]
    days = ombudsman["threshold_days"]
    add("ombudsman", None, {"id": f"Lebih dari {days} hari belum selesai",
                            "en": f"Not finished after {days} days"}, ombudsman, ("total",))
    for item in ombudsman["by_agency"]:
        add("ombudsman.by_agency", item["agency"]["code"], item["agency"]["label"], item,
            ("count",))
    satisfaction = figures["satisfaction"]
    rating_metrics = ("count", "mean", *(f"rating_{k}" for k in ids.RATINGS))

    def flat(doc: Mapping[str, Any]) -> dict[str, Any]:
        return {**doc, **{f"rating_{k}": v for k, v in doc["distribution"].items()}}

    add("satisfaction", None, REGENCY, flat(satisfaction["regency"]), rating_metrics)
    for item in satisfaction["by_agency"]:
        add("satisfaction", item["agency"]["code"], item["agency"]["label"], flat(item),
            rating_metrics)
    for item in figures["ranking"]["items"]:
        add("ranking", item["agency"]["code"], item["agency"]["label"],
            {**item["components"], "rank": item["rank"], "score": item["score"],
             "dispositioned": item["dispositioned"]},
            ("rank", "score", "dispositioned", "followed_up", "on_time", "speed",
             "satisfaction"))
    return rows


def laid_out(figures: Mapping[str, Any], language: str | None
             ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The header and rows of an export: the API's layout (``language`` None) or the
    pages' in that language (see the module)."""
    if language is None:
        return EXPORT_HEADER, export_rows(figures)
    lang = language if language in PAGE_HEADER else "id"
    return PAGE_HEADER[lang], [
        (section_label(section, lang), label, measure_label, value, section, key, measure)
        for section, key, label, measure, measure_label, value in export_rows(figures,
                                                                               lang)]


def to_csv(figures: Mapping[str, Any], language: str | None = None) -> str:
    """UTF-8 CSV (with a byte-order mark, so spreadsheets read the Indonesian text)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    header, rows = laid_out(figures, language)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


def to_xlsx(figures: Mapping[str, Any], language: str | None = None) -> bytes:
    """The same rows as the CSV, in one sheet *Statistik* (*Statistics* in English)."""
    from openpyxl import Workbook  # imported here: only exports need it

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Statistics" if language == "en" else "Statistik")
    header, rows = laid_out(figures, language)
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def export_name(figures: Mapping[str, Any], extension: str) -> str:
    period = figures["period"]
    span = str(period["year"]) if period["year"] else f"{period['from']}_{period['to']}"
    agency = figures["scope"]["agency"]
    return f"statistik-{span}{'-' + agency if agency else ''}.{extension}"
