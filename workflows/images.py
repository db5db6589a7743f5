"""Photos as the pages show them: upright, bounded in size, and without metadata, made
once at upload within a memory budget.

The uploaded file is kept unchanged as evidence (its sha256 is on record). What a page shows
is a display copy: EXIF orientation applied, scaled down to at most DISPLAY_EDGE pixels on
its long side (and a THUMBNAIL_EDGE thumbnail), re-encoded without EXIF, GPS, XMP or
comments, so a citizen's home location in a phone photo never leaks through a page.

Memory: decoding is the only step that costs memory in proportion to a photo's pixels, so
a Decoder bounds it four ways.

- The pixel limit is checked on the size the file's header declares (workflows/containers.py
  reads it), before any decoder allocates: "photo.png is 59 megapixels; the limit is 40".
- A JPEG is decoded already reduced (Pillow's draft: libjpeg scales by 1/2, 1/4 or 1/8
  while decoding) to the smallest size at least the display edge; PNG and WebP have no such
  mode and are decoded whole.
- At most `slots` decodes run at once in a process: they run on a pool of `slots` threads
  (the pool's queue is the semaphore); the others wait.
- The image is reduced and converted a strip of rows at a time (`reduced`), never copied
  whole (Pillow's own reduce of an RGBA image makes a full premultiplied copy first).

So one decode holds at most max_megapixels x 4 bytes (RGBA; a JPEG far less) and a small
reduced copy (measured: 184 MB for a 40 MP RGBA PNG), and a process at most `slots` of
them: about 370 MB with the defaults, whatever the number of uploads at once; showing a
photo decodes nothing (the copies are stored at upload). docs/security.md: Uploads and
images; tests/test_uploads.py measures it.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from workflows import containers

DISPLAY_EDGE = 1600
THUMBNAIL_EDGE = 320
EDGES = (DISPLAY_EDGE, THUMBNAIL_EDGE)
DEFAULT_MAX_MEGAPIXELS = 40
DEFAULT_DECODE_SLOTS = 2
# Pillow warns of a "decompression bomb" above its own limit; ours must stay below it.
LARGEST_LIMIT_MEGAPIXELS = Image.MAX_IMAGE_PIXELS // 1_000_000 if Image.MAX_IMAGE_PIXELS else 89
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
ORIENTATION = 0x0112
# EXIF orientation -> the transposition that makes the picture upright.
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
           6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}


class NotAPhoto(ValueError):
    """The content cannot be decoded as a photo."""


class TooManyPixels(NotAPhoto):
    """The photo declares more pixels than the limit."""

    def __init__(self, megapixels: int, limit: int) -> None:
        super().__init__(f"{megapixels} megapixels; the limit is {limit}")
        self.megapixels = megapixels
        self.limit = limit


@dataclass(frozen=True)
class Rendition:
    """A display copy: encoded bytes and their type (image/jpeg, or image/png when the
    photo has transparency)."""

    data: bytes
    content_type: str

    @property
    def extension(self) -> str:
        return ".png" if self.content_type == "image/png" else ".jpg"


class Decoder:
    """Decodes photos within the memory budget of the module; one per process (the app's
    Storage holds it)."""

    def __init__(self, max_megapixels: int = DEFAULT_MAX_MEGAPIXELS,
                 slots: int = DEFAULT_DECODE_SLOTS) -> None:
        if not 1 <= max_megapixels <= LARGEST_LIMIT_MEGAPIXELS:
            raise ValueError(f"the photo limit must be 1 to {LARGEST_LIMIT_MEGAPIXELS} "
                             f"megapixels, not {max_megapixels}")
        if slots < 1:
            raise ValueError(f"at least one decode at a time, not {slots}")
        self.max_megapixels = max_megapixels
        self.slots = slots
        # The decodes run on these threads only: at most `slots` at once, and the memory a
        # decode frees stays with a thread that reuses it (the C allocator keeps an arena
        # per thread; a decode on every request thread would grow one arena per thread).
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="aduan-decode")

    def check_pixels(self, content: bytes, content_type: str) -> tuple[int, int]:
        """The photo's declared size; TooManyPixels past the limit, NotAPhoto if the
        header cannot be read. Nothing is decoded."""
        try:
            width, height = containers.dimensions(content, content_type)
        except containers.Malformed as exc:
            raise NotAPhoto(str(exc)) from exc
        if width * height > self.max_megapixels * 1_000_000:
            raise TooManyPixels(round(width * height / 1_000_000), self.max_megapixels)
        if not width or not height:
            raise NotAPhoto("the photo has no pixels")
        return width, height

    def renditions(self, content: bytes, content_type: str, edges: tuple[int, ...] = EDGES
                   ) -> dict[int, Rendition]:
        """Display copies of a photo at each edge, from one bounded decode; decoding the
        whole file is also the check that it is a photo (NotAPhoto otherwise)."""
        width, height = self.check_pixels(content, content_type)
        return self._pool.submit(_render, content, content_type, (width, height),
                                 edges).result()


def _render(content: bytes, content_type: str, size: tuple[int, int],
            edges: tuple[int, ...]) -> dict[int, Rendition]:
    """Decode, reduce, turn upright and encode at each edge: all of a photo's pixel work,
    on one of a Decoder's threads."""
    picture, orientation = decode(content, content_type, size, max(edges))
    if orientation in UPRIGHT:
        picture = picture.transpose(UPRIGHT[orientation])
    found = {}
    for edge in sorted(edges, reverse=True):
        picture.thumbnail((edge, edge))
        found[edge] = encode(picture)
    return found


def decode(content: bytes, content_type: str, size: tuple[int, int], edge: int
            ) -> tuple[Image.Image, int | None]:
    """The photo decoded and reduced to at least `edge` on its long side (RGB, or RGBA
    with transparency), and its EXIF orientation. Runs on one of a Decoder's threads."""
    width, height = size
    try:
        with Image.open(io.BytesIO(content), formats=[FORMATS[content_type]]) as image:
            orientation = image.getexif().get(ORIENTATION)
            scale = min(1.0, edge / max(width, height))
            image.draft(None, (max(1, int(width * scale)), max(1, int(height * scale))))
            image.load()  # the whole file: a damaged one fails here
            return reduced(image, edge), orientation
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:
        raise NotAPhoto(str(exc) or "the photo cannot be decoded") from exc


def reduced(image: Image.Image, edge: int, rows: int = 64) -> Image.Image:
    """The image shrunk by a whole factor to at least `edge` on its long side, converted to
    RGB (RGBA with transparency) a strip of rows at a time: Pillow's own reduce and convert
    copy the whole image first (RGBA is premultiplied in a full-size copy), which would
    double the memory of the decode."""
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in image.info) else "RGB"
    factor = max(1, max(image.size) // edge)
    width, height = image.size
    small = Image.new(mode, (-(-width // factor), -(-height // factor)))
    step = rows * factor
    for top in range(0, height, step):
        strip = image.crop((0, top, width, min(height, top + step))).convert(mode)
        small.paste(strip.reduce(factor) if factor > 1 else strip, (0, top // factor))
    return small


def encode(image: Image.Image) -> Rendition:
    """A fresh JPEG (or PNG with transparency): no EXIF, text chunks or comments."""
    transparent = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if transparent:
        image.convert("RGBA").save(out, "PNG", optimize=True)
        return Rendition(out.getvalue(), "image/png")
    image.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return Rendition(out.getvalue(), "image/jpeg")


def display_copy(content: bytes, edge: int = DISPLAY_EDGE, decoder: Decoder | None = None
                 ) -> tuple[bytes, str]:
    """An upright, metadata-free JPEG (or PNG with transparency) of a photo at one edge."""
    sniffed = containers.sniff(content)
    if sniffed is None or sniffed[0] not in PHOTO_TYPES:
        raise NotAPhoto("not a JPEG, PNG or WebP photo")
    made = (decoder or Decoder()).renditions(content, sniffed[0], (edge,))[edge]
    return made.data, made.content_type
