"""The JSON API over a demo regency: submit, act, read, errors, and the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.regency import build


@pytest.fixture
def regency(database_url, clock, tmp_path):
    regency = build(database_url, clock, tmp_path)
    yield regency
    regency.engine.dispose()


def test_a_pothole_report_goes_from_submission_to_closure(regency):
    receipt = regency.submit(photo=True, title="Jalan berlubang di Jl. Provinsi km 5",
                             body="Lubang ±1 m depan SD 012 Waru, motor sering jatuh.",
                             kelurahan="Waru", kecamatan="Waru", latitude=-1.42,
                             longitude=116.6)
    tracking, secret = receipt["tracking_number"], receipt["secret"]
    assert tracking.startswith("PPU-2026-") and receipt["status"] == "SUBMITTED"
    report = regency.report(tracking)
    assert report["status_label"]["id"] == "Belum Terverifikasi"
    assert report["sla"]["step"] == "verification"
    assert report["available_actions"][:3] == ["verify", "archive", "request_info"]

    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    assert report["status"] == "DISPOSED" and report["agency"]["code"] == "dinas_pupr"
    tasks = regency.get("/api/v1/tasks", as_="penghubung.pupr")
    assert [t["tracking_number"] for t in tasks] == [tracking]
    assert regency.get("/api/v1/tasks", as_="penghubung.dlh") == []

    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Sudah ditambal.")
    public = regency.get(f"/api/v1/complaints/{tracking}", secret=secret)
    assert public["status"] == "RESPONDED"
    assert "slas" not in public and "open_tasks" not in public
    assert public["available_actions"] == ["reply", "rate"]
    closed = regency.act(tracking, "rate", secret=secret, rating=5, comment="Terima kasih")
    assert closed["status"] == "CLOSED" and closed["rating"] == 5
    statuses = [h["status_to"] for h in closed["history"] if h["kind"] == "status"]
    assert statuses == ["VERIFIED", "DISPOSED", "RESPONDED", "CLOSED"]
