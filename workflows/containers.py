"""Accepted files by their structure: where a JPEG, PNG, WebP or MP4 ends, and a photo
without its metadata.

Content sniffing reads the first bytes only; these walkers read the whole file, part by
part (JPEG segments and entropy-coded data, PNG chunks with their CRCs, WebP RIFF chunks,
MP4 boxes), so that a file is one thing from its first byte to its last: a PNG followed by
an HTML page, or a JPEG carrying a second file after its end marker, is refused
(Malformed). No pixel is decoded here; the walk costs a pass over the bytes.

`strip_metadata` rebuilds a photo from the parts that make the picture, leaving out those
that describe it: EXIF (GPS position, phone maker and model, times), XMP, IPTC, ICC
profiles, comments, PNG text chunks, JFIF thumbnails. The pixels' encoding is copied byte for
byte, so the copy is the photo as taken, without loss; a JPEG keeps its orientation as a
new EXIF block that holds nothing else.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


class Malformed(ValueError):
    """The file is not one well-formed file of its type from its first byte to its last."""


class TrailingData(Malformed):
    """Bytes follow the end of the file's own structure (another file hidden behind it)."""


# Magic numbers of what a citizen may attach: photos, PDF documents, short videos.
SIGNATURES: list[tuple[bytes, int, str, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg", "photo"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "photo"),
    (b"RIFF", 0, "image/webp", "photo"),  # confirmed below by "WEBP" at offset 8
    (b"%PDF-", 0, "application/pdf", "document"),
    (b"ftyp", 4, "video/mp4", "video"),
]


def sniff(content: bytes) -> tuple[str, str] | None:
    """(content type, kind) by the first bytes; None for anything not accepted."""
    for magic, offset, content_type, kind in SIGNATURES:
        if content[offset:offset + len(magic)] == magic:
            if content_type == "image/webp" and content[8:12] != b"WEBP":
                continue
            return content_type, kind
    return None


# --------------------------------------------------------------------------- JPEG

SOI, EOI, SOS, COM, APP0, APP14 = 0xD8, 0xD9, 0xDA, 0xFE, 0xE0, 0xEE
ENTROPY = 0  # the pseudo-marker of entropy-coded data after a scan header
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
ORIENTATION = 0x0112


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of every part of a JPEG up to its end marker, entropy-coded
    data as ENTROPY; Malformed if it is cut short or bytes follow its end."""
    if data[:2] != b"\xff\xd8":
        raise Malformed("it does not start as a JPEG")
    parts, pos, size = [(SOI, 0, 2)], 2, len(data)
    while True:
        if pos >= size or data[pos] != 0xFF:
            raise Malformed("it is cut short or damaged (a JPEG segment is missing)")
        start = pos
        while pos < size and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos >= size:
            raise Malformed("it is cut short")
        marker = data[pos]
        pos += 1
        if marker == EOI:
            parts.append((EOI, start, pos))
            if pos != size:
                raise TrailingData(f"{size - pos} bytes follow the end of the image")
            return parts
        if marker in _STANDALONE:
            parts.append((marker, start, pos))
            continue
        if marker == 0x00 or pos + 2 > size:
            raise Malformed("it is cut short or damaged")
        end = pos + int.from_bytes(data[pos:pos + 2], "big")
        if end < pos + 2 or end > size:
            raise Malformed("a JPEG segment runs past the end of the file")
        parts.append((marker, start, end))
        pos = end
        if marker == SOS:
            pos = _entropy_end(data, pos)
            parts.append((ENTROPY, end, pos))


def _entropy_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at pos ends: at the first marker that is not
    a stuffed 0xFF00 or a restart marker."""
    while True:
        found = data.find(b"\xff", pos)
        if found < 0 or found + 1 >= len(data):
            raise Malformed("it is cut short (the image data has no end)")
        following = data[found + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = found + 2
        elif following == 0xFF:
            pos = found + 1
        else:
            return found


def _jpeg_keeps(marker: int, segment: bytes) -> bool:
    if marker == APP0:  # JFIF without an embedded thumbnail; JFXX thumbnails go
        return segment[4:9] == b"JFIF\x00" and len(segment) >= 18 and (
            segment[16] * segment[17] == 0)
    if 0xE1 <= marker <= 0xEF:  # EXIF, XMP, ICC, MPF, IPTC, ... (Adobe's APP14: colours)
        return marker == APP14
    return marker != COM


def strip_jpeg(data: bytes) -> bytes:
    parts = jpeg_segments(data)
    orientation = _jpeg_orientation(data)
    kept = [data[start:end] for marker, start, end in parts
            if _jpeg_keeps(marker, data[start:end])]
    if orientation not in (None, 1):
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        block = exif.tobytes()  # b"Exif\0\0" and a TIFF header with the one tag
        kept.insert(1, b"\xff\xe1" + (len(block) + 2).to_bytes(2, "big") + block)
    return b"".join(kept)


def _jpeg_orientation(data: bytes) -> int | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            value = image.getexif().get(ORIENTATION)
    except (OSError, SyntaxError, ValueError, KeyError, struct.error):  # a damaged EXIF
        # block: the picture keeps no orientation
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


# --------------------------------------------------------------------------- PNG

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What draws the picture (and its animation); text, EXIF, ICC, times and private chunks go.
PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB",
                      b"sBIT", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT", b"cICP"})


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of every chunk up to IEND, CRCs checked; Malformed otherwise."""
    if data[:8] != PNG_SIGNATURE:
        raise Malformed("it does not start as a PNG")
    chunks, pos, size = [], 8, len(data)
    while True:
        if pos + 12 > size:
            raise Malformed("it is cut short (no IEND chunk)")
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > size or not kind.isalpha():
            raise Malformed("a PNG chunk is damaged or runs past the end of the file")
        if zlib.crc32(data[pos + 4:end - 4]) != int.from_bytes(data[end - 4:end], "big"):
            raise Malformed(f"the PNG chunk {kind.decode('ascii')} is damaged (bad CRC)")
        chunks.append((kind, pos, end))
        pos = end
        if kind == b"IEND":
            if pos != size:
                raise TrailingData(f"{size - pos} bytes follow the end of the image")
            return chunks


def strip_png(data: bytes) -> bytes:
    return PNG_SIGNATURE + b"".join(data[start:end] for kind, start, end in png_chunks(data)
                                    if kind in PNG_KEEP)


# --------------------------------------------------------------------------- WebP

WEBP_KEEP = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"})
_VP8X_METADATA_FLAGS = 0x20 | 0x08 | 0x04  # ICC profile, EXIF, XMP


def webp_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(fourcc, start, end) of the chunks of a WebP; Malformed if the RIFF size and the
    file's length disagree or a chunk runs past the end."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 20:
        raise Malformed("it does not start as a WebP")
    declared = 8 + int.from_bytes(data[4:8], "little")
    if declared != len(data):
        if declared < len(data):
            raise TrailingData(f"{len(data) - declared} bytes follow the end of the image")
        raise Malformed(f"its RIFF header says {declared} bytes but it has {len(data)}")
    chunks, pos = [], 12
    while pos < len(data):
        if pos + 8 > len(data):
            raise Malformed("a WebP chunk is cut short")
        length = int.from_bytes(data[pos + 4:pos + 8], "little")
        end = pos + 8 + length + (length & 1)
        if end > len(data):
            raise Malformed("a WebP chunk runs past the end of the file")
        chunks.append((data[pos:pos + 4], pos, end))
        pos = end
    if not chunks or chunks[0][0] not in (b"VP8X", b"VP8 ", b"VP8L"):
        raise Malformed("it holds no WebP image")
    return chunks


def strip_webp(data: bytes) -> bytes:
    kept = []
    for kind, start, end in webp_chunks(data):
        if kind not in WEBP_KEEP:
            continue
        chunk = bytearray(data[start:end])
        if kind == b"VP8X":
            chunk[8] &= ~_VP8X_METADATA_FLAGS & 0xFF
        kept.append(bytes(chunk))
    body = b"WEBP" + b"".join(kept)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


# --------------------------------------------------------------------------- MP4

def mp4_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of the top-level boxes of an MP4, which must cover the file
    exactly, start with `ftyp` and hold a `moov`; Malformed otherwise."""
    boxes, pos, size = [], 0, len(data)
    while pos < size:
        if pos + 8 > size:
            raise Malformed("an MP4 box is cut short")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if length == 1:
            if pos + 16 > size:
                raise Malformed("an MP4 box is cut short")
            length, header = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif length == 0:
            length = size - pos
        if length < header or pos + length > size or not all(32 <= c < 127 for c in kind):
            raise Malformed("an MP4 box is damaged or runs past the end of the file")
        boxes.append((kind, pos, pos + length))
        pos += length
    kinds = [kind for kind, _, _ in boxes]
    if not kinds or kinds[0] != b"ftyp" or b"moov" not in kinds:
        raise Malformed("it is not a complete MP4 video (no ftyp or moov box)")
    return boxes


# --------------------------------------------------------------------------- by type

_STRIPPERS = {"image/jpeg": strip_jpeg, "image/png": strip_png, "image/webp": strip_webp}
_WALKERS = {"image/jpeg": jpeg_segments, "image/png": png_chunks, "image/webp": webp_chunks,
            "video/mp4": mp4_boxes}


def check_structure(data: bytes, content_type: str) -> None:
    """Malformed unless the file is one well-formed file of its type, end to end."""
    walker = _WALKERS.get(content_type)
    if walker is not None:
        walker(data)


def strip_metadata(data: bytes, content_type: str) -> bytes:
    """The photo without metadata (see the module); Malformed if it is not well formed."""
    return _STRIPPERS[content_type](data)



# --------------------------------------------------------------------------- dimensions

_SOF = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC),
                  *range(0xCD, 0xD0)})


def dimensions(data: bytes, content_type: str) -> tuple[int, int]:
    """A photo's width and height as its header declares them, read without decoding
    (the pixel limit is checked on these before any decoder allocates memory)."""
    if content_type == "image/png":
        chunks = png_chunks(data)
        if chunks[0][0] != b"IHDR":
            raise Malformed("the PNG has no header chunk first")
        return struct.unpack(">II", data[16:24])
    if content_type == "image/jpeg":
        for marker, start, _end in jpeg_segments(data):
            if marker in _SOF:
                height, width = struct.unpack(">HH", data[start + 5:start + 9])
                return width, height
        raise Malformed("the JPEG has no frame header")
    if content_type == "image/webp":
        kind, start, end = webp_chunks(data)[0]
        body = data[start + 8:end]
        if kind == b"VP8X" and len(body) >= 10:
            return (int.from_bytes(body[4:7], "little") + 1,
                    int.from_bytes(body[7:10], "little") + 1)
        if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
            width, height = struct.unpack("<HH", body[6:10])
            return width & 0x3FFF, height & 0x3FFF
        if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
            bits = int.from_bytes(body[1:5], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        raise Malformed("the WebP header is damaged")
    raise Malformed(f"{content_type} is not a photo type")
