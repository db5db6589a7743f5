"""Display copies of photos: upright, bounded, and without location or other metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from workflows import images
from workflows.storage import Storage, Upload

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def phone_photo(width: int = 400, height: int = 200, orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it: stored sideways, with an orientation tag and GPS."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, width // 2, height))  # left half blue, right half red
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "S", 2: (1.0, 15.0, 13.7), 3: "E", 4: (116.0, 49.0, 50.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_the_original_really_carries_gps_and_orientation():
    original = Image.open(io.BytesIO(phone_photo()))
    assert original.getexif()[ORIENTATION] == 6
    assert original.getexif().get_ifd(GPS_IFD)


def test_display_copy_is_upright_and_has_no_metadata():
    data, content_type = images.display_copy(phone_photo())
    assert content_type == "image/jpeg"
    shown = Image.open(io.BytesIO(data))
    # Orientation 6 means "rotate 90 degrees clockwise to view": 400x200 becomes 200x400.
    assert shown.size == (200, 400)
    assert not shown.getexif() and "exif" not in shown.info
    assert b"PhoneMaker" not in data and b"GPS" not in data
    # After the rotation the blue (left) half is on top.
    top = shown.getpixel((100, 50))
    bottom = shown.getpixel((100, 350))
    assert top[2] > 150 > top[0] and bottom[0] > 150 > bottom[2]


def test_large_photos_are_scaled_down():
    data, _ = images.display_copy(phone_photo(4000, 3000, orientation=1))
    assert max(Image.open(io.BytesIO(data)).size) == images.DISPLAY_EDGE


def test_transparent_png_stays_png_without_text_chunks():
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    out = io.BytesIO()
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Location", "-1.25,116.83")
    image.save(out, "PNG", pnginfo=info)
    data, content_type = images.display_copy(out.getvalue())
    assert content_type == "image/png" and b"116.83" not in data


def test_not_a_photo_and_bombs_are_refused():
    with pytest.raises(images.NotAPhoto):
        images.display_copy(b"\xff\xd8\xff not really a jpeg")
    huge = Image.new("1", (9000, 9000))
    out = io.BytesIO()
    huge.save(out, "PNG")
    with pytest.raises(images.NotAPhoto):
        images.display_copy(out.getvalue())


def test_the_upload_stores_the_display_copies_beside_the_original(tmp_path):
    storage = Storage(tmp_path, 10 * 1024 * 1024)
    upload = Upload("lubang.jpg", phone_photo())
    [stored] = storage.check([upload])
    storage.save([upload], [stored])
    folder = (tmp_path / stored.storage_key).parent
    assert sorted(p.name.split(".", 1)[1] for p in folder.glob("*.*")) == [
        "clean", "display1600.jpg", "display320.jpg"]
    first = storage.display(stored.storage_key, "image/jpeg")
    assert first == stored.renditions[images.DISPLAY_EDGE]
    assert storage.open(stored.storage_key) == upload.content  # the evidence is unchanged
