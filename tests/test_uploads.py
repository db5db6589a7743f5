"""Uploads checked whole, photos decoded within a memory budget, files served as what they
are, and an anonim reporter's photos given to agencies without their metadata."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.pages import Site
from tests.regency import PHOTO

GPS_IFD = 0x8825
MAKE, MODEL = 0x010F, 0x0110
ROOT = Path(__file__).resolve().parent.parent
REPORT = {"classification": "pengaduan", "category": "roads", "title": "Jalan berlubang",
          "body": "Lubang besar di jalan, berbahaya.", "reporter_name": "Budi"}


def phone_photo() -> bytes:
    """A JPEG as a phone writes it: sideways, with maker, model and where it was taken."""
    image = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[MAKE] = "PhoneMaker"
    exif[MODEL] = "Model X9"
    exif.get_ifd(GPS_IFD).update({1: "S", 2: (1.0, 15.0, 13.7), 3: "E", 4: (116.0, 49.0, 50.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue()


def png(size: tuple[int, int] = (30, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


def file_report(regency, files, **fields):
    response = regency.client.post("/api/v1/complaints", data={
        "data": json.dumps({**REPORT, **fields}),
        "attachments": [(io.BytesIO(content), name) for name, content in files]},
        content_type="multipart/form-data")
    return response


def refused(regency, name: str, content: bytes) -> str:
    response = file_report(regency, [(name, content)])
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert list(error["field_errors"]) == ["attachments[0]"]
    assert name in error["message"]
    return error["message"]


def probe(tmp_path: Path, *args: str) -> dict:
    """tests/upload_memory.py in a process of its own: its peak memory is the upload's."""
    found = subprocess.run(
        [sys.executable, "-m", "tests.upload_memory", str(tmp_path / "probe"), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- memory


def test_four_7700_pixel_pngs_are_refused_by_their_header_without_decoding(tmp_path):
    """The issue's case: four 243 kB 7700x7700 PNGs, filed and opened at once, took the
    server from 240 MB to 2 GB. Now each is refused, naming the file and the limit, before
    a decoder allocates anything."""
    found = probe(tmp_path, "refused")
    assert found["png_kb"] < 300
    assert found["filed"] == ["photo.png is 59 megapixels; the limit is 40"] * 4
    assert found["growth_mb"] < 20, found


def test_four_uploads_at_once_decode_at_most_the_slots_allowance(tmp_path):
    """A 16 MP RGBA PNG decodes to 64 MB. With a limit of 16 MP, four such uploads at once
    take one decode's memory with one slot and two decodes' with two: never four."""
    decoded_mb = 4000 * 4000 * 4 / 2**20
    one = probe(tmp_path, "slots", "1")
    two = probe(tmp_path, "slots", "2")
    assert one["errors"] == [] and two["errors"] == []
    # One decode: the pixels and a reduced copy (a quarter); nothing copied whole.
    assert one["growth_mb"] < decoded_mb * 1.5, one
    assert two["growth_mb"] < 2 * decoded_mb * 1.5, two
    assert two["growth_mb"] < 3 * decoded_mb, two


def test_the_pixel_limit_is_a_setting_within_pillows_own_bomb_limit():
    from workflows.images import Decoder

    assert Decoder().max_megapixels == 40 and Decoder().slots == 2
    with pytest.raises(ValueError, match="1 to 89 megapixels"):
        Decoder(max_megapixels=500)
    with pytest.raises(ValueError, match="at least one decode"):
        Decoder(slots=0)


def test_a_jpeg_is_decoded_already_reduced():
    """A 6000x4000 JPEG shown at 1600 pixels is decoded at a quarter of its size (draft)."""
    out = io.BytesIO()
    Image.new("RGB", (6000, 4000), (90, 90, 90)).save(out, "JPEG")
    from workflows import images

    made, _orientation = images.decode(out.getvalue(), "image/jpeg", (6000, 4000), 1600)
    assert made.size == (3000, 2000)  # libjpeg's 1/2: the smallest scale at least 1600


# --------------------------------------------------------------------------- whole files


def test_a_png_followed_by_html_is_refused_whatever_its_name(regency):
    evil = png() + b"<html><script>alert(document.cookie)</script></html>"
    message = refused(regency, "evil.html", evil)
    assert message == "evil.html carries other data after the end of the picture"
    jpeg = refused(regency, "foto.jpg", PHOTO + b"<html>")
    assert "after the end" in jpeg
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "WEBP")
    assert "after the end" in refused(regency, "foto.webp", out.getvalue() + b"<html>")


def test_damaged_photos_are_refused_with_what_to_do(regency):
    cut = phone_photo()[:-40]
    assert refused(regency, "cut.jpg", cut).startswith("cut.jpg is damaged")
    broken = bytearray(png())
    broken[40] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    assert refused(regency, "rusak.png", bytes(broken)).startswith("rusak.png is damaged")
    response = file_report(regency, [("cut.jpg", cut)])
    assert "save or export it again" in response.get_json()["error"]["field_errors"][
        "attachments[0]"]


def test_a_photo_over_the_pixel_limit_is_refused_naming_the_file_and_the_limit(regency):
    from tests.upload_memory import big_png

    message = refused(regency, "besar.png", big_png(7700, 7700, 1))
    assert message == "besar.png is 59 megapixels; the limit is 40"


def pdf(body: bytes) -> bytes:
    return b"%PDF-1.7\n" + body + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def object_stream(objects: bytes) -> bytes:
    packed = zlib.compress(objects)
    return (b"5 0 obj<</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length "
            + str(len(packed)).encode() + b">>stream\n" + packed + b"\nendstream endobj")


@pytest.mark.parametrize(("body", "named"), [
    (b"1 0 obj<</OpenAction 2 0 R>>endobj 2 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj",
     "/JS, /JavaScript, /OpenAction"),
    (b"2 0 obj<</S/J#61vaScript/J#53 (app.alert(1))>>endobj", "/JS, /JavaScript"),
    (b"3 0 obj<</S/Launch/F(cmd.exe)>>endobj", "/Launch"),
    (b"4 0 obj<</Type/EmbeddedFile>>endobj", "/EmbeddedFile"),
    (b"1 0 obj<</AcroForm<</XFA 9 0 R>>>>endobj", "/XFA"),
    (object_stream(b"2 0 <</S/JavaScript/JS(app.alert(1))>>"), "/JS, /JavaScript"),
])
def test_a_pdf_with_active_content_is_refused(regency, body, named):
    message = refused(regency, "surat.pdf", pdf(body))
    assert message == f"surat.pdf is refused: it holds active content ({named})"


def test_a_passive_pdf_is_accepted_even_opening_at_a_page(regency):
    plain = pdf(b"1 0 obj<</Type/Catalog/OpenAction [3 0 R /Fit]>>endobj")
    packed = pdf(object_stream(b"2 0 <</Type/Page>>"))
    response = file_report(regency, [("a.pdf", plain), ("b.pdf", packed)])
    assert response.status_code == 201, response.get_json()
    assert refused(regency, "potong.pdf", plain[:-10]).startswith("potong.pdf is damaged")
    unreadable = pdf(b"5 0 obj<</Type/ObjStm/Filter/LZWDecode>>stream\nxxxx\nendstream")
    assert "cannot be read" in refused(regency, "lzw.pdf", unreadable)


def mp4(*boxes: tuple[bytes, bytes]) -> bytes:
    return b"".join((8 + len(body)).to_bytes(4, "big") + kind + body for kind, body in boxes)


def test_an_mp4_must_be_boxes_from_end_to_end(regency):
    video = mp4((b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41"), (b"moov", b"\x00" * 16),
                (b"mdat", b"\x01" * 64))
    assert file_report(regency, [("video.mp4", video)]).status_code == 201
    assert refused(regency, "video.mp4", video + b"<html>").startswith("video.mp4 is damaged")
    no_movie = mp4((b"ftyp", b"isom\x00\x00\x02\x00"), (b"mdat", b"\x01" * 8))
    assert refused(regency, "x.mp4", no_movie).startswith("x.mp4 is damaged")


# --------------------------------------------------------------------------- served files


def test_files_are_served_as_attachments_named_by_their_detected_type(site):
    regency = site.regency
    document = pdf(b"1 0 obj<</Type/Catalog>>endobj")
    response = file_report(regency, [("evil.html", png()), ("surat.html", document)],
                           reporter_email="ani@example.org")
    receipt = response.get_json()
    tracking = receipt["tracking_number"]
    photo, paper = (a["id"] for a in regency.report(tracking)["attachments"])
    api = f"/api/v1/complaints/{tracking}/attachments"
    for path, headers in ((f"{api}/{photo}", regency.headers("admin.kominfo")),
                          (f"{api}/{photo}", regency.headers(secret=receipt["secret"]))):
        served = regency.client.get(path, headers=headers)
        assert served.status_code == 200
        assert served.headers["Content-Disposition"] == 'attachment; filename="evil.png"'
        assert served.headers["Content-Type"] == "image/png"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
    served = regency.client.get(f"{api}/{paper}", headers=regency.headers("admin.kominfo"))
    assert served.headers["Content-Disposition"] == 'attachment; filename="surat.pdf"'
    assert served.headers["Content-Type"] == "application/pdf" and served.data == document
    site.login("admin.kominfo")
    download = site.get(f"/cases/{tracking}/attachments/{photo}/download")
    assert download.headers["Content-Disposition"] == 'attachment; filename="evil.png"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.data == png()
    shown = site.get(f"/cases/{tracking}/attachments/{photo}/photo")
    assert shown.headers["Content-Disposition"] == 'inline; filename="evil.jpg"'
    assert shown.headers["Content-Type"] == "image/jpeg"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    # The complainant's tracking page: the document as an attachment named by its type.
    me = Site(regency)
    me.post("/lacak", {"tracking_number": tracking, "secret": receipt["secret"]}, expect=303)
    paper_file = me.get(f"/lacak/{tracking}/berkas/{paper}")
    assert paper_file.headers["Content-Disposition"] == 'attachment; filename="surat.pdf"'
    assert paper_file.headers["X-Content-Type-Options"] == "nosniff"
    thumb = me.get(f"/lacak/{tracking}/foto/{photo}/kecil")
    assert thumb.headers["Content-Disposition"] == 'inline; filename="evil.jpg"'


def test_showing_a_photo_reads_its_stored_copy_and_decodes_nothing(site, tmp_path):
    regency = site.regency
    tracking = file_report(regency, [("lubang.jpg", phone_photo())]).get_json()[
        "tracking_number"]
    attachment = regency.report(tracking)["attachments"][0]
    original = next((tmp_path / "uploads").glob(f"*/{attachment['sha256']}"))
    copies = sorted(p.name.split(".", 1)[1] for p in original.parent.iterdir()
                    if p != original)
    assert copies == ["clean", "display1600.jpg", "display320.jpg"]
    original.write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)  # no longer decodable
    site.login("admin.kominfo")
    shown = site.get(f"/cases/{tracking}/attachments/{attachment['id']}/photo")
    assert Image.open(io.BytesIO(shown.data)).size == (20, 40)


def test_a_photo_stored_before_copies_were_made_gets_them_once(site, tmp_path):
    regency = site.regency
    tracking = file_report(regency, [("lubang.jpg", phone_photo())]).get_json()[
        "tracking_number"]
    attachment = regency.report(tracking)["attachments"][0]
    original = next((tmp_path / "uploads").glob(f"*/{attachment['sha256']}"))
    for copy in original.parent.glob("*.*"):
        copy.unlink()
    site.login("admin.kominfo")
    shown = site.get(f"/cases/{tracking}/attachments/{attachment['id']}/photo?size=thumb")
    assert Image.open(io.BytesIO(shown.data)).size == (20, 40)
    assert sorted(p.name.split(".", 1)[1] for p in original.parent.glob("*.*")) == [
        "display1600.jpg", "display320.jpg"]


# --------------------------------------------------------------------------- anonim


def without_metadata(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    assert not exif.get_ifd(GPS_IFD) and MAKE not in exif and MODEL not in exif, dict(exif)
    assert b"PhoneMaker" not in data and b"Model X9" not in data
    assert b"taken at home" not in data
    return image


def test_agencies_get_an_anonim_reporters_photo_without_its_metadata(site):
    """Of an anonim report, agencies (liaison, head, unit, Diskominfo's head, the system
    administrator) download the photo without GPS, maker or model: the same picture,
    byte for byte in its image data. Only the regency administrator gets the original."""
    regency = site.regency
    original = phone_photo()
    response = file_report(regency, [("rumah.jpg", original)], anonymous=True,
                           reporter_name="Siti", title="Pungli di loket")
    receipt = response.get_json()
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "delegate", as_="penghubung.pupr", unit_code="pupr_bina_marga")
    attachment = regency.report(tracking)["attachments"][0]
    path = f"/api/v1/complaints/{tracking}/attachments/{attachment['id']}"
    # The picture itself is the original's: same size, orientation kept, same pixels.
    reference = Image.open(io.BytesIO(original))
    for username in ("penghubung.pupr", "kadis.pupr", "teknis.binamarga", "kadis.kominfo",
                     "sysadmin"):
        served = regency.client.get(path, headers=regency.headers(username))
        assert served.status_code == 200, username
        assert served.data != original
        image = without_metadata(served.data)
        assert image.getexif().get(0x0112) == 6
        assert image.size == reference.size and image.tobytes() == reference.tobytes()
        assert regency.report(tracking, as_=username)["attachments"][0]["original"] is False
        officer = Site(regency).login(username)
        page = officer.text(officer.get(f"/cases/{tracking}"))
        assert 'id="photos-without-metadata"' in page and "Tanpa metadata" in page
        without_metadata(officer.get(
            f"/cases/{tracking}/attachments/{attachment['id']}/download").data)
    # The regency administrator keeps the evidence as uploaded.
    admin = regency.client.get(path, headers=regency.headers("admin.kominfo"))
    assert admin.data == original
    assert Image.open(io.BytesIO(admin.data)).getexif().get_ifd(GPS_IFD)
    page = Site(regency).login("admin.kominfo")
    assert "Berkas asli" in page.text(page.get(f"/cases/{tracking}"))
    # The complainant gets the copy too; the public nothing.
    own = regency.client.get(path, headers=regency.headers(secret=receipt["secret"]))
    without_metadata(own.data)
    assert regency.client.get(path).status_code in (401, 404)
    assert regency.client.get(path, headers=regency.headers("penghubung.dlh")
                              ).status_code == 404


def test_agencies_handling_a_named_report_still_get_the_original(regency):
    original = phone_photo()
    tracking = file_report(regency, [("lubang.jpg", original)]).get_json()["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    attachment = regency.report(tracking)["attachments"][0]["id"]
    served = regency.client.get(f"/api/v1/complaints/{tracking}/attachments/{attachment}",
                                headers=regency.headers("penghubung.pupr"))
    assert served.data == original


def test_the_photo_limits_are_read_from_the_environment(tmp_path):
    from web.app import build_domain
    from web.config import Settings

    settings = Settings.from_env({"ADUAN_PHOTO_MAX_MEGAPIXELS": "20",
                                  "ADUAN_PHOTO_DECODE_SLOTS": "3",
                                  "ADUAN_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
                                  "ADUAN_UPLOAD_DIR": str(tmp_path / "uploads")})
    domain = build_domain(settings)
    decoder = domain.context.storage.decoder
    assert (decoder.max_megapixels, decoder.slots) == (20, 3)
    domain.context.engine.dispose()
