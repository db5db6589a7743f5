"""The citizen's pages: the report form, the receipt, tracking, and answering an agency.

Long on purpose: the one test module of its subject, each test a sentence about one
behaviour; splitting it would scatter what a reader of the subject wants together.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from PIL import Image
from sqlalchemy import select

from tests.regency import PHOTO
from workflows import places, throttle
from workflows.models import Agency, Attachment, Complaint

GPS_IFD = 0x8825


def phone_photo() -> bytes:
    """A JPEG as a phone writes it: sideways, with the maker and where it was taken."""
    image = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "S", 2: (1.0, 15.0, 13.7), 3: "E", 4: (116.0, 49.0, 50.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


REPORT = {
    "classification": "pengaduan", "category": "roads",
    "title": "Jalan berlubang di Jl. Provinsi km 5",
    "body": "Lubang sekitar 1 m di depan SD 012 Waru, motor sering jatuh saat hujan.",
    "incident_date": "2026-02-27", "latitude": "-1,4379", "longitude": "116.6321",
    "address": "Jl. Provinsi km 5", "kelurahan": "Waru", "kecamatan": "Waru",
    "reporter_name": "Budi Santoso", "reporter_email": "budi@example.org",
    "reporter_phone": "0812-3456-7890",
}


class Form(HTMLParser):
    """The controls and labels of a page, to check that every input is labelled."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, Any]] = []
        self.labels: set[str] = set()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        if tag == "label" and found.get("for"):
            self.labels.add(found["for"])
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.controls.append({"tag": tag, **found})


def parse(html: str) -> Form:
    form = Form()
    form.feed(html)
    return form


def file_report(site, fields: dict[str, Any] | None = None, files: list | None = None,
                query: str = "", expect: int = 303) -> Any:
    data = {**REPORT, **(fields or {})}
    data = {k: v for k, v in data.items() if v is not None}
    if files is not None:
        data["attachments"] = files
    return site.post("/lapor" + query, data, content_type="multipart/form-data",
                     expect=expect)


def filed(site, **kwargs: Any) -> tuple[str, str]:
    """File a report through the form; (tracking number, secret) from the receipt."""
    response = file_report(site, **kwargs)
    tracking = response.headers["Location"].rsplit("/", 1)[1]
    page = site.text(site.get(response.headers["Location"]))
    secret = re.search(r'id="secret-code">([^<]+)<', page).group(1)
    return tracking, secret


def stored(site, tracking: str) -> Complaint:
    with site.regency.reads() as db:
        complaint = db.scalars(select(Complaint).where(
            Complaint.tracking_number == tracking)).one()
        db.expunge(complaint)
        return complaint


def fresh_browser(site) -> Any:
    """Another visitor: a new cookie jar on the same site."""
    from tests.pages import Site

    return Site(site.regency)


# --------------------------------------------------------------------------- the form


def test_the_form_labels_every_input_and_offers_the_regency_places(site):
    page = site.text(site.get("/lapor"))
    form = parse(page)
    assert len(form.controls) >= 18
    unlabelled = [c for c in form.controls if c.get("id") not in form.labels]
    assert unlabelled == []
    assert {"f-classification-pengaduan", "f-classification-aspirasi",
            "f-classification-permintaan_informasi", "f-misconduct", "f-category", "f-title",
            "f-body", "f-incident_date", "f-latitude", "f-longitude", "f-address",
            "f-kelurahan", "f-kecamatan", "f-attachments", "f-anonymous", "f-confidential",
            "f-reporter_name", "f-reporter_email", "f-reporter_phone"} <= form.ids
    # in Indonesian, with the limits and the privacy explained
    assert "Buat laporan" in page and "Pengaduan" in page and "Aspirasi" in page
    assert "5 berkas" in page and "10 MB" in page
    assert "hanya admin kabupaten" in page.lower()
    # kelurahan and kecamatan from the agency tree, without their prefix
    assert '<option value="Nipah-Nipah">' in page and '<option value="Penajam">' in page
    # the map widget's contract and the multipart form
    assert 'data-map-picker data-lat-input="f-latitude" data-lon-input="f-longitude"' in page
    assert "js/report-map.js" in page and 'enctype="multipart/form-data"' in page
    assert 'name="via" value="web"' in page


def test_places_come_from_the_agency_tree(site):
    with site.regency.transaction() as db:
        parent = db.scalars(select(Agency).where(Agency.code == "kec_sepaku")).one()
        db.add(Agency(code="desa_bumi_harapan", name="Desa Bumi Harapan", kind="desa",
                      parent_id=parent.id, active=True))
        db.add(Agency(code="kel_old", name="Kelurahan Lama", kind="kelurahan",
                      parent_id=parent.id, active=False))
    with site.regency.reads() as db:
        found = places.regency_places(db)
    assert [p.name for p in found.kecamatan] == ["Babulu", "Penajam", "Sepaku", "Waru"]
    assert places.Place("Bumi Harapan", "Sepaku") in found.kelurahan
    assert places.Place("Nipah-Nipah", "Penajam") in found.kelurahan
    assert "Lama" not in [p.name for p in found.kelurahan]


def test_a_filing_with_a_photo_gives_the_secret_once_and_the_private_link_opens_it(site):
    response = file_report(site, files=[(io.BytesIO(phone_photo()), "lubang.jpg")])
    receipt_url = response.headers["Location"]
    assert re.fullmatch(r"/lapor/terima/PPU-2026-\d{6}", receipt_url)
    tracking = receipt_url.rsplit("/", 1)[1]
    # The receipt: number, secret and private link, said to be shown once.
    receipt = site.get(receipt_url)
    assert receipt.headers["Referrer-Policy"] == "no-referrer"
    page = site.text(receipt)
    secret = re.search(r'id="secret-code">([^<]+)<', page).group(1)
    assert tracking in page and "hanya ditampilkan sekali" in page
    assert f"http://localhost/lacak/{tracking}?k={secret}" in page
    assert "3 hari kerja" in page
    # The secret is not in the redirect, and a reload no longer shows it.
    assert secret not in receipt_url
    again = site.text(site.get(receipt_url))
    assert tracking in again and secret not in again and 'id="secret-code"' not in again
    # What was stored: the fields converted, the photo, the channel and the language.
    complaint = stored(site, tracking)
    assert (complaint.channel, complaint.language) == ("web", "id")
    assert complaint.latitude == -1.4379 and complaint.longitude == 116.6321
    assert complaint.incident_date.isoformat() == "2026-02-27"
    assert complaint.reporter_phone == "0812-3456-7890"
    assert not complaint.anonymous and not complaint.confidential and not complaint.misconduct
    # Another browser opens the private link: it lands on the clean URL.
    other = fresh_browser(site)
    response = other.get(f"/lacak/{tracking}?k={secret}", expect=303)
    assert response.headers["Location"] == f"/lacak/{tracking}"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    tracking_page = other.get(f"/lacak/{tracking}")
    assert tracking_page.headers["Referrer-Policy"] == "no-referrer"
    page = other.text(tracking_page)
    assert "Jalan berlubang di Jl. Provinsi km 5" in page
    assert "Belum Terverifikasi" in page and "verifikasi dan disposisi" in page
    assert "5 Mar 2026" in page and "WITA" in page  # due Thu 5 March, 09:00
    assert "sisa 3 hari kerja" in page
    assert "Laporan diterima" in page  # the history
    assert secret not in page


def test_invalid_input_keeps_the_values_and_names_each_field(site):
    response = file_report(site, {
        "title": "abc", "body": "", "latitude": "utara", "reporter_name": "",
        "reporter_email": "bukan-email", "incident_date": "2030-01-01", "category": None},
        files=[(io.BytesIO(PHOTO), "foto.jpg")], expect=422)
    page = site.text(response)
    assert 'id="error-summary"' in page
    expected = {
        "title": "Tulis judul singkat",
        "body": "Ceritakan apa yang terjadi",
        "category": "Pilih kategori",
        "latitude": "Isi garis lintang",
        "reporter_name": "Tulis nama Anda",
        "reporter_email": "Isi alamat e-mail",
        "incident_date": "tidak di masa depan",
    }
    for name, words in expected.items():
        assert f'href="#f-{name}"' in page, name
        assert re.search(rf'id="e-{name}">[^<]*{words}', page), name
    # what was typed is kept; files must be chosen again, and the page says so
    assert 'value="abc"' in page and 'value="utara"' in page and 'value="bukan-email"' in page
    assert 'value="pengaduan" required' in page and "checked" in page
    assert 'id="files-again"' in page
    with site.regency.reads() as db:
        assert db.scalars(select(Complaint)).all() == []


def test_too_large_and_wrong_files_are_refused_by_name(site):
    big = PHOTO + b"\0" * (10 * 1024 * 1024)
    response = file_report(site, files=[(io.BytesIO(PHOTO), "ok.jpg"),
                                        (io.BytesIO(big), "besar.jpg")], expect=422)
    assert re.search(r'id="e-attachments">[^<]*besar\.jpg lebih besar dari 10 MB',
                     site.text(response))
    # the test client spooled the large request body to a temporary file: close it
    response.request.input_stream.close()
    response = file_report(site, files=[(io.BytesIO(b"GIF89a fake"), "anim.gif")],
                           expect=422)
    assert re.search(r'id="e-attachments">[^<]*anim\.gif bukan foto', site.text(response))
    six = [(io.BytesIO(PHOTO), f"f{n}.jpg") for n in range(6)]
    response = file_report(site, files=six, expect=422)
    assert "Lampirkan paling banyak 5 berkas" in site.text(response)
    # A field error and a bad file are both said at once.
    response = file_report(site, {"title": "x"}, files=[(io.BytesIO(b"nope"), "a.exe")],
                           expect=422)
    page = site.text(response)
    assert 'id="e-title"' in page and "a.exe bukan foto" in page


def attributes(page: str, element_id: str) -> dict[str, str]:
    """The attributes of the element with this id (html.parser unescapes them)."""
    found: dict[str, str] = {}

    class Find(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if dict(attrs).get("id") == element_id:
                found.update({k: v or "" for k, v in attrs})

    Find().feed(page)
    return found


def test_the_file_inputs_carry_the_servers_upload_limits_and_texts(site):
    import dataclasses

    page = site.text(site.get("/lapor"))
    files = attributes(page, "f-attachments")
    assert (files["data-max-files"], files["data-max-file-bytes"],
            files["data-max-total-bytes"]) == ("5", str(10 * 1024 * 1024), str(50 * 1024 * 1024))
    assert files["data-upload-message"] == "f-attachments-limit"
    assert "f-attachments-limit" in files["aria-describedby"].split()
    assert attributes(page, "f-attachments-limit")["aria-live"] == "assertive"
    assert "js/upload-check.js" in page
    # In Indonesian, naming the field, the limit per file and in total; {file} and {size}
    # are filled in by the script.
    assert files["data-text-file-too-large"] == (
        "Foto, dokumen PDF, atau video pendek: “{file}” berukuran {size} MB, padahal setiap "
        "berkas paling besar 10 MB (dan seluruh berkas 50 MB). Pilih berkas yang lebih kecil. "
        "Belum ada yang terkirim.")
    assert "{count} berkas" in files["data-text-too-many"]
    assert "{size} MB" in files["data-text-total-too-large"]
    # The limits are the regency's settings, not numbers written into the page or the script.
    context = site.regency.domain.context
    context.config = dataclasses.replace(context.config, max_attachments=3,
                                         max_attachment_bytes=2 * 1024 * 1024)
    files = attributes(site.text(site.get("/lapor")), "f-attachments")
    assert (files["data-max-files"], files["data-max-file-bytes"],
            files["data-max-total-bytes"]) == ("3", str(2 * 1024 * 1024), str(6 * 1024 * 1024))
    assert "paling besar 2 MB (dan seluruh berkas 6 MB)" in files["data-text-file-too-large"]
    site.get("/language/en", expect=302)
    files = attributes(site.text(site.get("/lapor")), "f-attachments")
    assert files["data-text-too-many"].startswith(
        "Photos, PDF documents or short videos: you chose {count} files, but at most 3")


def test_the_request_limit_follows_the_attachment_settings(site):
    from web.app import max_request_bytes

    config = site.regency.domain.config
    assert max_request_bytes(config) == 55 * 1024 * 1024
    assert site.client.application.config["MAX_CONTENT_LENGTH"] == 55 * 1024 * 1024


def too_large_body(site) -> list:
    size = site.client.application.config["MAX_CONTENT_LENGTH"] + 1
    return [(io.BytesIO(b"\0" * size), "video.mp4")]


def test_an_upload_over_the_request_limit_gets_a_page_that_keeps_the_way_back(site):
    response = file_report(site, files=too_large_body(site), expect=413)
    response.request.input_stream.close()
    page = site.text(response)
    assert '<html lang="id">' in page and 'id="upload-too-large"' in page
    assert "Berkas terlalu besar: tidak ada yang terkirim" in page
    assert ("paling banyak 5 berkas, masing-masing paling besar 10 MB, dan seluruhnya paling "
            "besar 50 MB") in page
    assert "Tekan tombol Kembali pada peramban Anda" in page  # Back keeps the typed text
    back = attributes(page, "back-to-form")
    assert back["href"] == "/lapor" and "data-back" in back
    with site.regency.reads() as db:
        assert db.scalars(select(Complaint)).all() == []

    # The tracking page's upload form: the same page, back to the report.
    tracking, _ = filed(site)
    response = site.post(f"/lacak/{tracking}/aksi/provide_info", {
        "information": "Foto terlampir.", "attachments": too_large_body(site)},
        content_type="multipart/form-data", expect=413)
    response.request.input_stream.close()
    assert attributes(site.text(response), "back-to-form")["href"] == f"/lacak/{tracking}"

    # In English when switched.
    site.get("/language/en", expect=302)
    response = file_report(site, files=too_large_body(site), expect=413)
    response.request.input_stream.close()
    page = site.text(response)
    assert '<html lang="en">' in page and "The files are too large: nothing was sent" in page
    assert "at most 5 files, each at most 10 MB, and at most 50 MB in total" in page
    assert "Press your browser's Back button" in page


def test_the_api_keeps_its_own_answer_to_a_request_over_the_limit(site):
    size = site.client.application.config["MAX_CONTENT_LENGTH"] + 1
    response = site.client.post("/api/v1/complaints", data=b"{" + b" " * size + b"}",
                                content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": {
        "message": "the request is too large: at most 5 attachments of 10 MB"}}


def test_anonymous_confidential_report_from_a_qr_poster(site):
    page = site.text(site.get("/lapor?via=qr&lat=-1.25&lon=116.83&alamat=Pasar%20Induk"))
    assert 'name="via" value="qr"' in page and 'id="qr-notice"' in page
    assert 'value="-1.250000"' in page and 'value="116.830000"' in page
    assert 'value="Pasar Induk"' in page
    bad = site.text(site.get("/lapor?via=qr&lat=abc&lon=116"))
    assert "Tempat pada kode QR tidak terbaca" in bad and 'value="116' not in bad
    tracking, _secret = filed(site, fields={
        "via": "qr", "anonymous": "1", "confidential": "1", "reporter_name": "",
        "classification": "pengaduan", "misconduct": "1", "category": "civil_registration",
        "title": "Pungli di loket", "body": "Petugas loket meminta uang Rp50.000 untuk KTP-el."})
    complaint = stored(site, tracking)
    assert complaint.channel == "qr"
    assert complaint.anonymous and complaint.confidential and complaint.misconduct
    assert complaint.reporter_name is None
    # the agency in charge sees neither who nor what; the regency administrator knows who
    site.regency.act(tracking, "verify", as_="admin.kominfo")
    site.regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    seen = site.regency.report(tracking, as_="penghubung.pupr")
    assert seen["reporter"] is None


def test_misconduct_is_dropped_for_other_types_than_complaints(site):
    tracking, _ = filed(site, fields={"classification": "aspirasi", "misconduct": "1",
                                      "category": "other"})
    assert not stored(site, tracking).misconduct


# --------------------------------------------------------------------------- tracking


def test_wrong_codes_get_one_neutral_answer_and_are_throttled(site):
    tracking, secret = filed(site, files=[(io.BytesIO(PHOTO), "a.jpg")])
    other = fresh_browser(site)
    neutral = "Tidak ada laporan dengan nomor dan kode rahasia ini"
    wrong = other.get(f"/lacak/{tracking}?k=not-the-secret", expect=404)
    assert neutral in other.text(wrong)
    unknown = other.get("/lacak/PPU-2026-999999?k=" + secret, expect=404)
    assert neutral in other.text(unknown)
    garbage = other.get("/lacak/%3Cscript%3E?k=x", expect=404)
    assert neutral in other.text(garbage) and "<script>" not in other.text(garbage)
    response = other.post("/lacak", {"tracking_number": tracking, "secret": "nope"},
                          expect=404)
    assert neutral in other.text(response)
    # Empty or malformed fields are named instead.
    response = other.post("/lacak", {"tracking_number": "12", "secret": ""}, expect=422)
    assert 'id="e-tracking_number"' in other.text(response)
    assert 'id="e-secret"' in other.text(response)
    # Nothing was opened.
    other.get(f"/lacak/{tracking}", expect=302)
    for _ in range(throttle.TRACK_FAILURES_PER_ADDRESS - 3):
        other.get(f"/lacak/{tracking}?k=guess", expect=404)
    throttled = other.get(f"/lacak/{tracking}?k={secret}", expect=429)
    assert "Terlalu banyak percobaan" in other.text(throttled)
    site.regency.clock.advance(timedelta(minutes=throttle.TRACK_WINDOW_MINUTES + 1))
    other.get(f"/lacak/{tracking}?k={secret}", expect=303)


def test_the_tracking_form_opens_the_report_and_accepts_a_pasted_link(site):
    tracking, secret = filed(site)
    other = fresh_browser(site)
    response = other.get(f"/lacak/{tracking}", expect=302)
    assert response.headers["Location"] == f"/lacak?nomor={tracking}"
    page = other.text(other.get(response.headers["Location"]))
    assert f'value="{tracking}"' in page
    assert not [c for c in parse(page).controls if c.get("id") not in parse(page).labels]
    response = other.post("/lacak", {"tracking_number": tracking.lower(), "secret": secret},
                          expect=303)
    assert response.headers["Location"] == f"/lacak/{tracking}"
    other.get(f"/lacak/{tracking}")
    third = fresh_browser(site)
    third.post("/lacak", {"tracking_number": "", "secret": f"https://x/lacak/{tracking}?k="
                                                            f"{secret}"}, expect=303)
    third.get(f"/lacak/{tracking}")
    # Closing it on a shared device forgets it.
    third.post(f"/lacak/{tracking}/tutup", {}, expect=303)
    third.get(f"/lacak/{tracking}", expect=302)


def test_photos_are_shown_without_gps_and_never_as_the_original(site):
    original = phone_photo()
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
    tracking, _ = filed(site, files=[(io.BytesIO(original), "rumah.jpg"),
                                     (io.BytesIO(pdf), "surat.pdf")])
    page = site.text(site.get(f"/lacak/{tracking}"))
    with site.regency.reads() as db:
        rows = {a.filename: a.id for a in db.scalars(select(Attachment))}
    photo, document = rows["rumah.jpg"], rows["surat.pdf"]
    assert f"/lacak/{tracking}/foto/{photo}/kecil" in page
    assert f'href="/lacak/{tracking}/foto/{photo}"' in page
    assert f"/lacak/{tracking}/berkas/{document}" in page
    assert "/api/v1/complaints" not in page and f"/berkas/{photo}" not in page
    for path in (f"/lacak/{tracking}/foto/{photo}", f"/lacak/{tracking}/foto/{photo}/kecil"):
        response = site.get(path)
        assert response.mimetype == "image/jpeg"
        data = response.get_data()
        assert data != original and b"PhoneMaker" not in data
        shown = Image.open(io.BytesIO(data))
        assert not shown.getexif() and shown.size == (20, 40)  # upright
    # The original photo is never served by the pages; the document downloads as uploaded.
    site.get(f"/lacak/{tracking}/berkas/{photo}", expect=404)
    response = site.get(f"/lacak/{tracking}/berkas/{document}")
    assert response.get_data() == pdf and "attachment" in response.headers[
        "Content-Disposition"]
    site.get(f"/lacak/{tracking}/foto/{document}", expect=404)
    for bad in ("abc", "99999999999999999999", "999"):
        site.get(f"/lacak/{tracking}/foto/{bad}", expect=404)


def test_another_citizens_secret_cannot_open_or_act_on_a_report(site):
    mine, my_secret = filed(site, files=[(io.BytesIO(PHOTO), "a.jpg")])
    theirs, _ = filed(fresh_browser(site), files=[(io.BytesIO(PHOTO), "b.jpg")])
    site.regency.act(theirs, "request_info", as_="admin.kominfo", reason="Mohon detail.")
    me = fresh_browser(site)
    me.get(f"/lacak/{mine}?k={my_secret}", expect=303)
    me.get(f"/lacak/{theirs}?k={my_secret}", expect=404)
    me.get(f"/lacak/{theirs}", expect=302)
    me.get(f"/lapor/terima/{theirs}", expect=404)
    me.post(f"/lacak/{theirs}/aksi/provide_info", {"information": "bukan laporan saya"},
            expect=404)
    with site.regency.reads() as db:
        photo = db.scalars(select(Attachment.id).join(Complaint).where(
            Complaint.tracking_number == theirs)).one()
    me.get(f"/lacak/{theirs}/foto/{photo}", expect=404)
    assert stored(site, theirs).status == "NEEDS_INFO"


# --------------------------------------------------------------------------- answering


def test_information_reply_rating_and_reopening_through_the_page(site):
    regency = site.regency
    tracking, _ = filed(site)  # a road without a photo: the administrator asks for one
    regency.act(tracking, "request_info", as_="admin.kominfo",
                reason="Mohon lampirkan foto lubang.")
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Perlu Informasi" in page and "Mohon lampirkan foto lubang." in page
    assert 'id="provide-info-form"' in page and "sisa 10 hari kerja" in page
    assert not [c for c in parse(page).controls if c.get("id") not in parse(page).labels]
    # An empty answer is refused, naming the field.
    response = site.post(f"/lacak/{tracking}/aksi/provide_info", {"information": " "},
                         content_type="multipart/form-data", expect=422)
    assert 'id="info-e-information"' in site.text(response)
    response = site.post(f"/lacak/{tracking}/aksi/provide_info", {
        "information": "Foto terlampir, lubang di sisi kiri jalan.",
        "attachments": [(io.BytesIO(PHOTO), "lubang.jpg")]},
        content_type="multipart/form-data", expect=303)
    assert response.headers["Location"] == f"/lacak/{tracking}"
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Terima kasih: informasi Anda sudah ditambahkan." in page
    assert "Belum Terverifikasi" in page and "Foto terlampir" in page
    regency.act(tracking, "verify", as_="admin.kominfo")  # the photo made this possible
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Dinas Pekerjaan Umum dan Penataan Ruang" in page
    # Rating before there is an answer: the state changed, one clear 409.
    response = site.post(f"/lacak/{tracking}/aksi/rate", {"rating": "5"}, expect=409)
    assert 'id="action-conflict"' in site.text(response)
    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Lubang sudah ditambal.")
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Lubang sudah ditambal." in page and 'id="answers"' in page
    assert 'id="rate-form"' in page and 'id="reply-form"' in page
    assert 'type="radio" name="rating" value="5" id="rate-rating-5"' in page
    assert 'for="rate-rating-5"' in page
    # Not solved: the comment is required, then the report goes back to the agency.
    response = site.post(f"/lacak/{tracking}/aksi/reply", {"comment": ""}, expect=422)
    assert 'id="reply-e-comment"' in site.text(response)
    site.post(f"/lacak/{tracking}/aksi/reply", {"comment": "Masih berlubang di sisi kanan."},
              expect=303)
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Sedang Diproses" in page and "Masih berlubang di sisi kanan." in page
    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Sisi kanan ditambal.")
    # A rating out of range keeps the comment and names the field.
    response = site.post(f"/lacak/{tracking}/aksi/rate", {"rating": "7",
                                                          "comment": "Cepat"}, expect=422)
    assert 'id="rate-e-rating"' in site.text(response) and ">Cepat</textarea>" in site.text(
        response)
    site.post(f"/lacak/{tracking}/aksi/rate", {"rating": "4", "comment": "Cepat"}, expect=303)
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Selesai" in page and "4 dari 5" in page and 'id="reopen-form"' in page
    assert stored(site, tracking).rating == 4
    site.post(f"/lacak/{tracking}/aksi/reopen", {"reason": "Lubang muncul lagi."},
              expect=303)
    complaint = stored(site, tracking)
    assert complaint.status == "IN_PROGRESS"
    site.post(f"/lacak/{tracking}/aksi/nothing", {}, expect=404)


def test_reopening_ends_after_thirty_days(site):
    regency = site.regency
    tracking, _ = filed(site, fields={"classification": "aspirasi", "category": "other"})
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Usul diterima.")
    site.post(f"/lacak/{tracking}/aksi/rate", {"rating": "5"}, expect=303)
    regency.advance(days=31)
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert 'id="reopen-form"' not in page and 'id="reopen-ended"' in page
    response = site.post(f"/lacak/{tracking}/aksi/reopen", {"reason": "Lagi."}, expect=409)
    assert "30 hari" in site.text(response)


def test_the_pages_speak_english_when_switched(site):
    site.get("/language/en", expect=302)
    page = site.text(site.get("/lapor"))
    assert '<html lang="en">' in page and "File a report" in page
    assert "Report anonymously (anonim)" in page
    response = file_report(site, {"title": "x"}, expect=422)
    assert "Write a short title of 5 to 200 characters." in site.text(response)
    tracking, _secret = filed(site)
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Not yet verified" in page and "working days left" in page
    assert stored(site, tracking).language == "en"
    other = fresh_browser(site)
    other.get("/language/en", expect=302)
    assert "We found no report" in other.text(other.get(f"/lacak/{tracking}?k=x", expect=404))


def test_filing_tracking_and_throttling_on_every_database(regency):
    """The `regency` fixture runs on PostgreSQL too when ADUAN_TEST_POSTGRES_URL is set."""
    from tests.pages import Site

    site = Site(regency)
    assert '<option value="Gunung Seteleng">' in site.text(site.get("/lapor"))
    tracking, secret = filed(site, files=[(io.BytesIO(phone_photo()), "a.jpg")])
    other = fresh_browser(site)
    other.get(f"/lacak/{tracking}?k=wrong", expect=404)
    other.get(f"/lacak/{tracking}?k={secret}", expect=303)
    regency.act(tracking, "request_info", as_="admin.kominfo", reason="Detail lokasi?")
    other.post(f"/lacak/{tracking}/aksi/provide_info", {"information": "Depan SD 012."},
               content_type="multipart/form-data", expect=303)
    page = other.text(other.get(f"/lacak/{tracking}"))
    assert "Depan SD 012." in page and "Belum Terverifikasi" in page
    photo = re.search(rf"/lacak/{tracking}/foto/(\d+)/kecil", page).group(1)
    assert not Image.open(io.BytesIO(other.get(
        f"/lacak/{tracking}/foto/{photo}").get_data())).getexif()
