"""Nearby open reports on the report form and "me too" (workflows/nearby.py,
web/pages/nearby.py): what a citizen sees near the place they chose, counted once per
citizen, followers told of status changes, bad input refused with 400 naming the field."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.pages import Site
from workflows import nearby, notify
from workflows.metoo_models import MeToo
from workflows.models import Complaint, Outbox

LAT, LON = -1.4379, 116.6321
METRE = 1 / 111_320  # of latitude


def filed(site: Site, title: str, north_metres: float = 0, **fields) -> str:
    body = {"latitude": LAT + north_metres * METRE, "longitude": LON, "title": title,
            **fields}
    return site.regency.submit(**body)["tracking_number"]


def lookup(site: Site, expect: int = 200, **params) -> dict:
    query = {"lat": str(LAT), "lon": str(LON), "category": "roads", **params}
    response = site.get("/lapor/nearby", expect=expect, query_string=query)
    return response.get_json()


def test_haversine_measures_a_degree_of_latitude() -> None:
    assert abs(nearby.distance_metres(0, 0, 1, 0) - 111_195) < 5
    assert abs(nearby.distance_metres(LAT, LON, LAT + 100 * METRE, LON) - 100) < 1


def test_nearby_finds_the_report_100_m_away_and_nothing_else(site: Site) -> None:
    near = filed(site, "Jalan berlubang dekat SD 012", 100)
    filed(site, "Jalan berlubang jauh", 2000)
    filed(site, "Sampah menumpuk dekat SD 012", 50, category="health")
    filed(site, "Jalan rusak, laporan rahasia", 30, confidential=True)
    found = lookup(site)["reports"]
    assert [r["tracking_number"] for r in found] == [near]
    report = found[0]
    assert set(report) == {"tracking_number", "title", "status", "status_label",
                           "distance_m", "me_too"}
    assert report["title"] == "Jalan berlubang dekat SD 012"
    assert 95 <= report["distance_m"] <= 105
    assert "Budi" not in str(found) and "budi@example.org" not in str(found)


def test_nearby_lists_at_most_ten_nearest_first(site: Site) -> None:
    for metres in range(12, 0, -1):
        filed(site, f"Lubang {metres * 30} m", metres * 30)
    found = lookup(site)["reports"]
    assert [r["distance_m"] for r in found] == sorted(r["distance_m"] for r in found)
    assert len(found) == nearby.MAX_RESULTS and found[0]["title"] == "Lubang 30 m"


def test_closed_and_duplicate_reports_are_not_listed(site: Site) -> None:
    original = filed(site, "Lubang asli", 40)
    other = filed(site, "Lubang yang sama", 60)
    with site.regency.transaction() as session:
        rows = {c.tracking_number: c for c in session.scalars(select(Complaint))}
        rows[other].duplicate_of_id = rows[original].id
    assert [r["tracking_number"] for r in lookup(site)["reports"]] == [original]
    with site.regency.transaction() as session:
        session.scalars(select(Complaint).where(
            Complaint.tracking_number == original)).one().status = "CLOSED"
    assert lookup(site)["reports"] == []


def test_bad_parameters_are_refused_naming_the_field(site: Site) -> None:
    answer = lookup(site, 400, lat="utara", lon="200", category="kopi")
    assert set(answer["error"]["field_errors"]) == {"lat", "lon", "category"}
    answer = lookup(site, 400, lat="")
    assert set(answer["error"]["field_errors"]) == {"lat"}
    assert "latitude" in answer["error"]["field_errors"]["lat"].lower() or \
        "lintang" in answer["error"]["field_errors"]["lat"].lower()


def test_lookups_are_limited_per_address(site: Site) -> None:
    for _ in range(nearby.LOOKUPS_PER_WINDOW):
        lookup(site)
    response = site.get("/lapor/nearby", expect=429, query_string={
        "lat": str(LAT), "lon": str(LON), "category": "roads"})
    assert response.headers["Retry-After"] == str(nearby.WINDOW_MINUTES * 60)
    other = site.client.get("/lapor/nearby", environ_base={"REMOTE_ADDR": "10.9.9.9"},
                            query_string={"lat": str(LAT), "lon": str(LON),
                                          "category": "roads"})
    assert other.status_code == 200


def me_too(site: Site, tracking: str, expect: int = 200, **form) -> dict:
    site.get("/lapor")  # the form's CSRF token
    response = site.post(f"/lapor/nearby/{tracking}/me-too", form)
    assert response.status_code == expect, site.text(response)
    return response.get_json()


def test_me_too_counts_each_citizen_once(site: Site) -> None:
    tracking = filed(site, "Lubang di depan pasar", 20)
    assert me_too(site, tracking, phone="0812 1111 2222")["counted"] is True
    again = me_too(site, tracking, phone="+62 812-1111-2222")  # the same phone, written apart
    assert again == {"tracking_number": tracking, "me_too": 1, "counted": False,
                     "following": True}
    assert me_too(site, tracking, email="sari@example.org")["me_too"] == 2
    assert me_too(site, tracking)["me_too"] == 3  # this browser, no contact given
    assert me_too(site, tracking)["counted"] is False  # the same browser again
    assert lookup(site)["reports"][0]["me_too"] == 3
    document = site.regency.client.get(f"/api/v1/complaints/{tracking}",
                                       headers=site.regency.headers("admin.kominfo"))
    assert document.get_json()["me_too"] == 3


def test_me_too_refuses_confidential_closed_and_unknown_reports(site: Site) -> None:
    secret = filed(site, "Rahasia", 20, confidential=True)
    me_too(site, secret, 404)
    me_too(site, "PPU-2026-999999", 404)


def test_me_too_bad_contact_is_refused_naming_the_field(site: Site) -> None:
    tracking = filed(site, "Lubang", 20)
    answer = me_too(site, tracking, 400, phone="satu dua", email="bukan-alamat",
                    channel="merpati")
    assert set(answer["error"]["field_errors"]) == {"phone", "email", "channel"}
    assert me_too(site, tracking)["me_too"] == 1  # nothing counted by the refused one


def test_me_too_needs_the_csrf_token(site: Site) -> None:
    tracking = filed(site, "Lubang", 20)
    response = site.post(f"/lapor/nearby/{tracking}/me-too", {}, csrf=False)
    assert response.status_code == 400
    assert me_too(site, tracking)["me_too"] == 1  # the refused post counted nothing


def test_followers_are_told_of_status_changes(site: Site) -> None:
    tracking = filed(site, "Lampu jalan mati", 20, category="health")  # no photo needed
    me_too(site, tracking, phone="0813 5555 6666", channel="whatsapp",
           email="rina@example.org")
    me_too(site, tracking)  # no contact: counted, told nothing
    site.regency.act(tracking, "verify", as_="admin.kominfo")
    with site.regency.reads() as session:
        rows = session.scalars(select(Outbox).where(
            Outbox.template == "followed_status_changed").order_by(Outbox.id)).all()
        sent = [(r.channel, r.recipient, r.payload["status"]) for r in rows]
        subject, body = notify.render(rows[0].template, rows[0].language, rows[0].payload)
    assert sent == [("whatsapp", "0813 5555 6666", "VERIFIED"),
                    ("email", "rina@example.org", "VERIFIED")]
    assert tracking in subject and "Lampu jalan mati" in body and "Terverifikasi" in body
    assert "budi" not in body.lower()


def test_a_follower_stops_the_news_by_the_link_of_their_e_mails(site: Site) -> None:
    tracking = filed(site, "Lampu jalan mati", 20, category="health")
    me_too(site, tracking, phone="0813 5555 6666", channel="sms", email="rina@example.org")
    site.regency.act(tracking, "verify", as_="admin.kominfo")
    with site.regency.reads() as session:
        payloads = list(session.scalars(select(Outbox.payload).where(
            Outbox.template == "followed_status_changed").order_by(Outbox.id)))
        token = session.scalar(select(MeToo.stop_token))
    body = notify.render("followed_status_changed", "id", payloads[0])[1]
    assert f"Balas BERHENTI {tracking}" in body
    # In an e-mail the link (with ADUAN_PUBLIC_URL): /lapor/berhenti/<the follower's key>.
    line = notify.stop_following_line("email", "id", Complaint(tracking_number=tracking), token,
                                      "https://aduan.ppu.go.id")
    assert line.endswith(f"https://aduan.ppu.go.id/lapor/berhenti/{token}")
    assert payloads[1]["stop"] == ""  # no ADUAN_PUBLIC_URL here: no link to give
    asked = site.get(f"/lapor/berhenti/{token}")
    assert tracking in site.text(asked) and 'id="stop-form"' in site.text(asked)
    stopped = site.post(f"/lapor/berhenti/{token}", {})
    assert 'id="stopped"' in site.text(stopped)
    assert site.get(f"/lapor/berhenti/{token}", expect=404)
    site.regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinkes")
    with site.regency.reads() as session:
        assert session.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.template == "followed_status_changed")) == 2  # nothing more
        assert session.scalar(select(MeToo.citizen)) is not None  # still counted
    assert me_too(site, tracking)["me_too"] == 2


def test_staff_case_page_shows_the_count(site: Site) -> None:
    tracking = filed(site, "Lubang", 20)
    me_too(site, tracking, phone="0812 7777 8888")
    page = site.login("admin.kominfo").get(f"/cases/{tracking}")
    assert 'id="me-too-count"' in site.text(page)


def test_the_form_carries_the_nearby_box_and_its_script(site: Site) -> None:
    page = site.text(site.get("/lapor"))
    assert 'id="nearby"' in page and "js/nearby.js" in page
    assert "<script>" not in page  # no inline script (CSP)


def test_nearby_and_me_too_on_every_backend(regency) -> None:
    """The bounding box, the haversine filter and the unique citizen on SQLite and, when
    configured, PostgreSQL."""
    near = regency.submit(title="Lubang dekat sekolah", latitude=LAT + 100 * METRE, longitude=LON)
    regency.submit(title="Lubang jauh dari sekolah", latitude=LAT + 2000 * METRE, longitude=LON)
    found = regency.domain.nearby.find(LAT, LON, "roads", "192.0.2.1")
    assert [r["tracking_number"] for r in found] == [near["tracking_number"]]
    first = regency.domain.nearby.me_too(near["tracking_number"], {"email": "A@x.id"}, "")
    again = regency.domain.nearby.me_too(near["tracking_number"], {"email": "a@x.id"}, "")
    assert (first["counted"], again["counted"], again["me_too"]) == (True, False, 1)
