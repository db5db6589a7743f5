"""Dates and deadlines on the pages (web/i18n.py): one format per kind of page (lists short,
one report's page long), deadlines as the end of the last working day ("paling lambat Rabu,
9 Des 2026", never the next day's 00.00), local times named after the configured zone."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from engine import FrozenClock
from tests.pages import Site
from tests.regency import PHOTO, attach
from web.i18n import COOKIE, format_day, format_deadline, format_when
from workflows.config import RegencyConfig

# 10 Dec 2026 00:00 in Jakarta (UTC+7) and 01:00 in Makassar (UTC+8).
MIDNIGHT_WIB = datetime(2026, 12, 9, 17, 0, tzinfo=UTC)


def in_zone(zone: str, language: str) -> Any:
    app = Flask(__name__)
    app.extensions["aduan.domain"] = SimpleNamespace(config=RegencyConfig(timezone=zone))
    return app.test_request_context("/", headers={"Cookie": f"{COOKIE}={language}"})


@pytest.mark.parametrize(("language", "long", "short"), [
    ("id", "paling lambat Rabu, 9 Des 2026", "paling lambat 9 Des 2026"),
    ("en", "by Wednesday, 9 Dec 2026", "by 9 Dec 2026"),
])
def test_a_deadline_at_midnight_is_the_end_of_the_day_before(language, long, short):
    with in_zone("Asia/Jakarta", language):
        assert format_deadline(MIDNIGHT_WIB, "long") == long
        assert format_deadline(MIDNIGHT_WIB, "short") == short
        assert format_deadline(MIDNIGHT_WIB.isoformat()) == short  # lists by default
        assert long.endswith(format_deadline(MIDNIGHT_WIB, "long", by=False))
        assert format_deadline(MIDNIGHT_WIB, "long", by=False).startswith(("Rabu", "Wed"))


def test_a_deadline_at_another_time_keeps_its_time_and_the_configured_zones_name():
    # The same instant is 01:00 on Thursday in Makassar: not a day's end, so its time shows.
    with in_zone("Asia/Makassar", "id"):
        assert format_deadline(MIDNIGHT_WIB, "long") == (
            "paling lambat Kamis, 10 Des 2026 01.00 WITA")
    with in_zone("Asia/Makassar", "en"):
        assert format_deadline(MIDNIGHT_WIB) == "by 10 Dec 2026 01:00 WITA"
    with in_zone("Asia/Jayapura", "id"):  # UTC+9: 02:00
        assert format_deadline(MIDNIGHT_WIB) == "paling lambat 10 Des 2026 02.00 WIT"
    with in_zone("Europe/Amsterdam", "en"):  # elsewhere, the zone's own abbreviation
        assert format_deadline(MIDNIGHT_WIB) == "by 9 Dec 2026 18:00 CET"
    assert format_deadline(None) == "" and format_deadline("not a time") == ""


def test_times_and_days_have_a_short_and_a_long_form_without_seconds():
    moment = datetime(2026, 12, 9, 3, 5, 59, tzinfo=UTC)
    with in_zone("Asia/Jakarta", "id"):
        assert format_when(moment) == "9 Des 2026 10.05 WIB"
        assert format_when(moment, "long") == "Rabu, 9 Des 2026 10.05 WIB"
        assert format_day(moment, "long") == "Rabu, 9 Des 2026"
        assert format_day(date(2026, 12, 9)) == "9 Des 2026"
        assert format_when(moment, "medium") == "9 Des 2026 10.05 WIB"  # unknown: short
    with in_zone("Asia/Jakarta", "en"):
        assert format_when(moment, "long") == "Wednesday, 9 Dec 2026 10:05 WIB"
        assert format_day(moment) == "9 Dec 2026"


# --------------------------------------------------------------------------- the pages

SATURDAY = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)  # Saturday 7 March 2026, 10:00 WIB


@pytest.fixture
def jakarta(demo_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Any:
    """The demo regency configured in Asia/Jakarta, on a Saturday morning."""
    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = attach(f"sqlite:///{tmp_path / 'aduan.db'}", FrozenClock(SATURDAY), tmp_path,
                     tokens, config=RegencyConfig(timezone="Asia/Jakarta"))
    yield Site(regency)
    regency.engine.dispose()


REPORT = {
    "classification": "pengaduan", "category": "waste",
    "title": "Sampah menumpuk di pasar Waru",
    "body": "Sampah tidak diangkut sejak seminggu, baunya sampai ke sekolah.",
    "latitude": "-1.4379", "longitude": "116.6321", "address": "Pasar Waru",
    "reporter_name": "Siti", "reporter_email": "siti@example.org",
}


def file(site: Site) -> tuple[str, str]:
    response = site.post("/lapor", {**REPORT, "attachments": [(io.BytesIO(PHOTO), "a.jpg")]},
                         content_type="multipart/form-data", expect=303)
    receipt = site.text(site.get(response.headers["Location"]))
    return response.headers["Location"].rsplit("/", 1)[1], receipt


NO_MIDNIGHT = re.compile(r"00[.:]00([.:]00)? WI")


def test_the_pages_say_a_weekend_reports_deadline_as_the_last_working_day(jakarta: Site):
    """Filed on Saturday: the three working days of the verification are Monday to
    Wednesday, so it is due by Wednesday 11 March (00:00 WIB on Thursday, never shown)."""
    tracking, receipt = file(jakarta)
    assert "paling lambat Rabu, 11 Mar 2026" in receipt
    page = jakarta.text(jakarta.get(f"/lacak/{tracking}"))
    assert "Batas waktu verifikasi dan disposisi: paling lambat Rabu, 11 Mar 2026" in page
    assert "menurut WIB" in page and "WITA" not in page
    assert "Sabtu, 7 Mar 2026 10.00 WIB" in page  # one report's page: the long form
    assert not NO_MIDNIGHT.search(page), NO_MIDNIGHT.search(page)
    jakarta.get("/language/en", expect=302)
    page = jakarta.text(jakarta.get(f"/lacak/{tracking}"))
    assert "by Wednesday, 11 Mar 2026" in page and "in WIB" in page

    staff = Site(jakarta.regency).login("admin.kominfo")
    case = staff.text(staff.get(f"/cases/{tracking}"))
    assert "paling lambat Rabu, 11 Mar 2026" in case
    assert "Batas waktu: paling lambat Rabu, 11 Mar 2026" in case
    assert "masuk Sabtu, 7 Mar 2026 10.00 WIB" in case
    assert not NO_MIDNIGHT.search(case) and "WITA" not in case
    worklist = staff.text(staff.get("/tasks"))  # a list: the short form
    assert "paling lambat 11 Mar 2026" in worklist and "Rabu" not in worklist
    assert not NO_MIDNIGHT.search(worklist)


def test_messages_say_deadlines_as_the_last_day_in_the_readers_language():
    from zoneinfo import ZoneInfo

    from workflows.notify import deadline_words, render

    wita = ZoneInfo("Asia/Makassar")
    midnight = datetime(2026, 12, 10, 0, 0, tzinfo=wita)  # the end of Wednesday 9 December
    assert deadline_words(midnight, wita, "WITA", "id") == "Rabu, 9 Des 2026"
    assert deadline_words(midnight, wita, "WITA", "en") == "Wednesday, 9 Dec 2026"
    morning = datetime(2026, 12, 10, 10, 5, tzinfo=wita)
    assert deadline_words(morning, wita, "WITA", "id") == "Kamis, 10 Des 2026 10.05 WITA"
    payload = {"tracking_number": "PPU-2026-000001", "due_local": "10-12-2026 00:00",
               "due_at": midnight.isoformat(), "zone": "Asia/Makassar", "zone_name": "WITA"}
    subject, _ = render("sla_reminder", "id", payload)
    assert subject == "Pengingat: PPU-2026-000001 jatuh tempo Rabu, 9 Des 2026"
    # A row queued before deadlines carried their instant keeps its old words.
    old = {k: v for k, v in payload.items() if k not in ("due_at", "zone", "zone_name")}
    assert render("sla_reminder", "en", old)[0].endswith("is due 10-12-2026 00:00")
