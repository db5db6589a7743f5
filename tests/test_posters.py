"""QR posters (workflows/posters.py, web/pages/posters.py): staff create them, the QR code
reads back as the report form's address, a scan prefills the form, scans and filings are
counted per poster and in the statistics by channel; who may, CSRF and bad input."""

from __future__ import annotations

import io
import re

import segno
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from tests.test_pages_public import REPORT, fresh_browser, stored
from workflows import access
from workflows.models import User
from workflows.poster_models import Poster

PLACE = "Loket Puskesmas Waru"


def create_poster(site, agency: str = "dinkes", place: str | None = PLACE,
                  lat: str = "-1,4379", lon: str = "116.6321") -> str:
    response = site.post("/posters", {"agency_code": agency, "place_name": place or "",
                                      "latitude": lat, "longitude": lon}, expect=303)
    found = re.fullmatch(r"/posters/([a-z0-9]+)", response.headers["Location"])
    assert found, response.headers["Location"]
    return found.group(1)


def poster_row(site, code: str) -> Poster:
    with site.regency.reads() as db:
        row = db.scalars(select(Poster).where(Poster.code == code)).one()
        db.expunge(row)
        return row


def poster_count(site) -> int:
    with site.regency.reads() as db:
        return db.scalar(select(func.count()).select_from(Poster))


def test_an_administrator_creates_a_poster_whose_qr_codes_read_as_the_form_address(site):
    site.login("admin.kominfo")
    page = site.text(site.get("/tasks"))
    assert 'href="/posters"' in page and "Poster QR" in page  # the navigation
    code = create_poster(site)
    expected = f"http://localhost/lapor?poster={code}"
    page = site.text(site.get(f"/posters/{code}"))
    assert "Dinas Kesehatan" in page and PLACE in page and expected in page
    # The PNG, read back by a real QR decoder (zxing-cpp).
    png = site.get(f"/posters/{code}.png")
    assert png.mimetype == "image/png"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert [(r.format.name, r.text) for r in found] == [("QRCode", expected)]
    # The SVG: the same modules as the QR code of that address (segno's matrix).
    svg = site.get(f"/posters/{code}.svg")
    assert svg.mimetype == "image/svg+xml"
    out = io.BytesIO()
    segno.make(expected, error="m", micro=False).save(out, kind="svg", scale=10,
                                                      title=expected)
    assert svg.data == out.getvalue()
    wrong = io.BytesIO()
    segno.make(expected + "x", error="m", micro=False).save(wrong, kind="svg", scale=10,
                                                            title=expected)
    assert svg.data != wrong.getvalue()
    # The printable A4 page: instructions in Bahasa Indonesia, then in English.
    sheet = site.text(site.get(f"/posters/{code}/print"))
    assert "Laporkan di sini" in sheet and "kamera" in sheet and expected in sheet
    assert "<svg" in sheet and "poster-print.css" in sheet
    site.get("/language/en", expect=None)
    sheet = site.text(site.get(f"/posters/{code}/print"))
    assert "Report it here" in sheet and "camera" in sheet


def test_a_scan_prefills_the_form_and_scans_and_filings_are_counted(site):
    site.login("admin.kominfo")
    code = create_poster(site)
    citizen = fresh_browser(site)
    page = site.text(citizen.get(f"/lapor?poster={code}"))
    assert 'id="poster-agency"' in page and "Dinas Kesehatan" in page
    assert f'name="poster" value="{code}"' in page
    assert f'value="{PLACE}"' in page  # the address field
    assert 'value="-1.437900"' in page and 'value="116.632100"' in page
    assert 'id="qr-notice"' in page and 'name="via" value="qr"' in page
    assert (poster_row(site, code).scan_count, poster_row(site, code).report_count) == (1, 0)
    # A filing through the form: channel qr, counted on the poster.
    data = {**REPORT, "via": "qr", "poster": code, "address": PLACE,
            "latitude": "-1.437900", "longitude": "116.632100"}
    response = citizen.post("/lapor", data, content_type="multipart/form-data", expect=303)
    tracking = response.headers["Location"].rsplit("/", 1)[1]
    assert stored(site, tracking).channel == "qr"
    # A refused filing counts nothing.
    citizen.post("/lapor", {**data, "title": ""}, content_type="multipart/form-data",
                 expect=422)
    row = poster_row(site, code)
    assert (row.scan_count, row.report_count) == (1, 1)
    listing = site.text(site.get("/posters"))
    found = re.search(rf'id="poster-{code}">.*?data-scans>(\d+)<.*?data-reports>(\d+)<',
                      listing, re.S)
    assert found and found.groups() == ("1", "1")
    # The statistics by channel count it as a QR code report.
    figures = site.regency.get("/api/v1/stats?year=2026", as_="admin.kominfo")
    channels = {r["key"]: r["received"] for r in figures["breakdowns"]["channel"]}
    assert channels.get("qr") == 1


def test_the_location_notice_shows_only_when_the_location_is_filled(site):
    page = site.text(site.get("/lapor?via=qr"))
    assert 'id="qr-notice"' not in page and 'name="via" value="qr"' in page
    # Only an address: the form says so, and does not claim the map shows the place.
    page = site.text(site.get("/lapor?via=qr&alamat=Pasar+Induk"))
    assert 'id="qr-notice"' not in page and 'id="qr-address-notice"' in page
    page = site.text(site.get("/lapor?via=qr&lat=-1.25&lon=116.83"))
    assert 'id="qr-notice"' in page and 'id="qr-address-notice"' not in page
    # A refused filing comes back with the citizen's own place: no poster filled it.
    page = site.text(site.post("/lapor", {"via": "qr", "latitude": "-1.25",
                                          "longitude": "116.83", "address": "Pasar Induk"},
                               content_type="multipart/form-data", expect=422))
    assert 'name="via" value="qr"' in page and "qr-notice" not in page
    assert "qr-address-notice" not in page
    site.login("admin.kominfo")
    code = create_poster(site, place=None, lat="", lon="")
    page = site.text(fresh_browser(site).get(f"/lapor?poster={code}"))
    assert 'id="poster-agency"' in page and 'id="qr-notice"' not in page
    # An unknown poster: the form opens empty, with a word, and counts nothing.
    page = site.text(site.get("/lapor?poster=zzzzzzzzzz"))
    assert "tidak dikenal" in page and 'name="poster"' not in page


def test_a_liaison_officer_makes_posters_for_their_own_agency_only(site):
    site.login("admin.kominfo")
    other = create_poster(site, agency="dlh")
    site.logout()
    site.login("penghubung.dinkes")
    page = site.text(site.get("/posters"))
    assert 'href="/posters"' in page
    assert re.findall(r'<option value="([a-z_]+)"', page) == ["dinkes"]
    assert other not in page
    before = poster_count(site)
    refused = site.text(site.post("/posters", {"agency_code": "dlh", "place_name": "x"},
                                  expect=422))
    assert "Pilih instansi dari daftar" in refused and poster_count(site) == before
    site.get(f"/posters/{other}", expect=404)
    site.get(f"/posters/{other}.png", expect=404)
    mine = create_poster(site, agency="dinkes")
    site.get(f"/posters/{mine}/print")


def test_other_officers_get_403_and_see_no_link(site):
    site.login("admin.kominfo")
    code = create_poster(site)
    site.logout()
    site.login("teknis.binamarga")
    assert 'href="/posters"' not in site.text(site.get("/tasks"))
    for path in ("/posters", f"/posters/{code}", f"/posters/{code}.svg",
                 f"/posters/{code}.png", f"/posters/{code}/print"):
        site.get(path, expect=403)
    before = poster_count(site)
    site.post("/posters", {"agency_code": "dinkes"}, expect=403)
    assert poster_count(site) == before
    site.logout()
    response = site.get("/posters", expect=302)
    assert response.headers["Location"].startswith("/login")


def test_creating_a_poster_needs_the_csrf_token(site):
    site.login("admin.kominfo")
    site.get("/posters")
    before = poster_count(site)
    site.post("/posters", {"agency_code": "dinkes"}, csrf=False, expect=400)
    site.post("/posters", {"agency_code": "dinkes", "csrf_token": "forged"}, csrf=False,
              expect=400)
    assert poster_count(site) == before


def test_bad_coordinates_and_places_are_refused_by_field(site):
    site.login("admin.kominfo")
    before = poster_count(site)
    page = site.text(site.post("/posters", {"agency_code": "dinkes", "latitude": "-1.2"},
                               expect=422))
    assert 'id="e-longitude"' in page and "Isi bujur" in page
    page = site.text(site.post("/posters", {"agency_code": "dinkes", "latitude": "utara",
                                            "longitude": "999"}, expect=422))
    assert 'id="e-latitude"' in page and 'id="e-longitude"' in page
    assert 'value="utara"' in page  # the typed values are kept
    page = site.text(site.post("/posters", {"agency_code": "dinkes",
                                            "place_name": "x" * 201}, expect=422))
    assert 'id="e-place_name"' in page
    assert poster_count(site) == before


def test_posters_count_on_both_databases(regency):
    """The use cases themselves, on SQLite and PostgreSQL: a poster's scans and filings."""
    domain = regency.domain
    with regency.reads() as db:
        user = db.scalars(select(User).where(User.username == "penghubung.dinkes")).one()
        principal = access.principal_for(db, user)
    made = domain.posters.create(principal, {"agency_code": "dinkes", "place_name": PLACE,
                                             "latitude": "-1.5", "longitude": "116.7"})
    assert domain.posters.scan(made.code.upper()).place_name == PLACE
    assert domain.posters.scan("not a code") is None
    payload = {"classification": "pengaduan", "category": "health",
               "title": "Antrian terlalu lama", "body": "Antrian di loket lebih dari 3 jam.",
               "reporter_name": "Siti"}
    domain.reports.submit(payload, [], channel="qr", poster=made.code)
    domain.reports.submit(payload, [], channel="qr", poster="zzzzzzzzzz")  # unknown: filed
    seen = domain.posters.get(made.code, principal)
    assert (seen.scans, seen.reports) == (1, 1)
    assert [p.code for p in domain.posters.page(principal).posters] == [made.code]
