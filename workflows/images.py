"""Photos as the pages show them: upright, bounded in size, and without metadata.

The uploaded file is kept unchanged as evidence (its sha256 is on record). What a page shows
is a display copy: EXIF orientation applied, scaled down to at most DISPLAY_EDGE pixels on
its long side, re-encoded without EXIF, GPS, XMP or comments, so a citizen's home location
in a phone photo never leaks through a page. Copies are made on demand and cached on disk
beside the original (`<key>.display`), keyed by the original's content hash.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

DISPLAY_EDGE = 1600
THUMBNAIL_EDGE = 320
# A decompression bomb guard: no photo a phone takes has more pixels than this.
MAX_PIXELS = 60_000_000
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


class NotAPhoto(ValueError):
    """The content cannot be decoded as a photo."""


def display_copy(content: bytes, edge: int = DISPLAY_EDGE) -> tuple[bytes, str]:
    """An upright, metadata-free JPEG (or PNG when it has transparency) of a photo."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            if image.width * image.height > MAX_PIXELS:
                raise NotAPhoto("the photo has too many pixels")
            image = ImageOps.exif_transpose(image)
            image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, SyntaxError) as exc:
        raise NotAPhoto(str(exc)) from exc
    image.thumbnail((edge, edge))
    transparent = image.mode in ("RGBA", "LA") or (
        image.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if transparent:
        clean = image.convert("RGBA")
        clean.save(out, "PNG", optimize=True)  # a fresh image: no text chunks, no EXIF
        return out.getvalue(), "image/png"
    clean = image.convert("RGB")
    clean.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue(), "image/jpeg"


def cached_display_copy(original: Path, content: bytes, edge: int = DISPLAY_EDGE
                        ) -> tuple[bytes, str]:
    """display_copy, remembered on disk next to the original file."""
    suffix = f".display{edge}"
    for kind, extension in (("image/jpeg", ".jpg"), ("image/png", ".png")):
        cached = original.with_name(original.name + suffix + extension)
        if cached.exists():
            return cached.read_bytes(), kind
    data, kind = display_copy(content, edge)
    extension = ".png" if kind == "image/png" else ".jpg"
    target = original.with_name(original.name + suffix + extension)
    temporary = target.with_name(target.name + ".part")
    temporary.write_bytes(data)
    temporary.replace(target)
    return data, kind
