"""PDFs without active content: no scripts, launched programs, embedded files or forms
that run when the document is opened.

The check reads names, not a parsed document: every PDF name in the file (`/JavaScript`,
also written with `#xx` escapes as `/J#61vaScript`), and every name inside the file's
compressed object streams (`/Type /ObjStm`, Flate-decoded here with a cap on their size),
since a dictionary may live in either. A document holding one of ACTIVE is refused.
`/OpenAction` followed by an array is a plain "open at this page" (LaTeX writes it) and
passes; any other `/OpenAction` is refused.

Weaker than a full parser, on purpose (no new dependency): streams that are not object
streams are not decoded (content streams and images cannot carry actions; a reader that
would take an action from one is not a conforming reader); an object stream that cannot
be Flate-decoded (another filter, or encryption) is refused rather than guessed at; a
name in a content stream's text that happens to read `/JS` refuses the file.
"""

from __future__ import annotations

import re
import zlib

ACTIVE = frozenset({"JavaScript", "JS", "OpenAction", "AA", "Launch", "EmbeddedFile",
                    "EmbeddedFiles", "RichMedia", "XFA"})
MAX_DECODED_BYTES = 64 * 1024 * 1024  # of all object streams together
_NAME = re.compile(rb"/([^\x00\t\n\x0c\r /<>\[\]()%{}]*)")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n")
_TAIL = 1024  # %%EOF within the last kilobyte, as readers require


class ActiveContent(ValueError):
    """The PDF holds active content, or cannot be checked for it; the text says which."""


class Damaged(ValueError):
    """The PDF is incomplete."""


def name_of(raw: bytes) -> str:
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw).decode("latin-1")


def active_names(data: bytes) -> set[str]:
    """The ACTIVE names used in these bytes (an OpenAction to a page excepted)."""
    found = set()
    for match in _NAME.finditer(data):
        name = name_of(match.group(1))
        if name not in ACTIVE:
            continue
        if name == "OpenAction" and data[match.end():match.end() + 64].lstrip()[:1] == b"[":
            continue
        found.add(name)
    return found


def check(data: bytes) -> None:
    """Damaged or ActiveContent unless the PDF is complete and passive (see the module)."""
    if b"%%EOF" not in data[-_TAIL:]:
        raise Damaged("it has no end marker (%%EOF); it may be cut short")
    found = active_names(data)
    decoded = 0
    for stream in _STREAM.finditer(data):
        dictionary = data[max(0, stream.start() - 512):stream.start()]
        head = dictionary[dictionary.rfind(b"obj") + 3:] if b"obj" in dictionary else (
            dictionary)
        if not any(name_of(m.group(1)) == "ObjStm" for m in _NAME.finditer(head)):
            continue
        end = data.find(b"endstream", stream.end())
        body = data[stream.end():end if end >= 0 else len(data)]
        inflater = zlib.decompressobj()
        try:
            text = inflater.decompress(body, MAX_DECODED_BYTES - decoded + 1)
        except zlib.error as exc:
            raise ActiveContent("an object stream cannot be read (it is not Flate-encoded, "
                                "or the file is encrypted)") from exc
        decoded += len(text)
        if decoded > MAX_DECODED_BYTES or inflater.unconsumed_tail:
            raise ActiveContent("its object streams are too large to check")
        found |= active_names(text)
    if found:
        raise ActiveContent("it holds active content (" + ", ".join(
            f"/{name}" for name in sorted(found)) + ")")
