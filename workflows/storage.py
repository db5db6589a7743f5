"""Evidence files: checked by content and size, stored once by their sha256."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from workflows import images
from workflows.errors import N_, Invalid, Message

# Magic numbers of what a citizen may attach: photos, PDF documents, short videos.
SIGNATURES: list[tuple[bytes, int, str, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg", "photo"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "photo"),
    (b"RIFF", 0, "image/webp", "photo"),  # confirmed below by "WEBP" at offset 8
    (b"%PDF-", 0, "application/pdf", "document"),
    (b"ftyp", 4, "video/mp4", "video"),
]
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

# A refused file's field error; its parameters are `file` (the name) and `mb` (the limit).
FILE_EMPTY = N_("the file is empty; attach it again")
FILE_TOO_LARGE = N_("files may be at most %(mb)s MB; send a smaller one")
FILE_NOT_ACCEPTED = N_("attach a JPEG, PNG or WebP photo, a PDF or an MP4")


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


@dataclass(frozen=True)
class StoredFile:
    filename: str
    content_type: str
    kind: str
    size: int
    sha256: str
    storage_key: str


def sniff(content: bytes) -> tuple[str, str] | None:
    for magic, offset, content_type, kind in SIGNATURES:
        if content[offset:offset + len(magic)] == magic:
            if content_type == "image/webp" and content[8:12] != b"WEBP":
                continue
            return content_type, kind
    return None


class Storage:
    """A directory of evidence files named by content hash."""

    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def check(self, uploads: list[Upload], field: str = "attachments") -> list[StoredFile]:
        """Validate every upload before anything is written; raises Invalid naming the file."""
        checked = []
        for index, upload in enumerate(uploads):
            where = f"{field}[{index}]"
            name = upload.filename or where
            if not upload.content:
                raise Invalid("%(file)s is empty", {where: Message(FILE_EMPTY, file=name)},
                              file=name)
            if len(upload.content) > self.max_bytes:
                limit = self.max_bytes // (1024 * 1024)
                raise Invalid("%(file)s is larger than %(mb)s MB",
                              {where: Message(FILE_TOO_LARGE, file=name, mb=limit)},
                              file=upload.filename, mb=limit)
            kind = sniff(upload.content)
            if kind is None:
                raise Invalid("%(file)s is not a photo, PDF or MP4 video",
                              {where: Message(FILE_NOT_ACCEPTED, file=name)},
                              file=upload.filename)
            sha = hashlib.sha256(upload.content).hexdigest()
            name = _SAFE_NAME.sub("_", Path(upload.filename or "file").name)[:120] or "file"
            checked.append(StoredFile(name, kind[0], kind[1], len(upload.content), sha,
                                      f"{sha[:2]}/{sha}"))
        return checked

    def save(self, uploads: list[Upload], checked: list[StoredFile]) -> None:
        for upload, stored in zip(uploads, checked, strict=True):
            path = self.root / stored.storage_key
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".part")
                tmp.write_bytes(upload.content)
                tmp.replace(path)

    def open(self, storage_key: str) -> bytes:
        return self._path(storage_key).read_bytes()

    def display(self, storage_key: str, edge: int = images.DISPLAY_EDGE) -> tuple[bytes, str]:
        """A photo as pages show it: upright, scaled, no location or other metadata."""
        path = self._path(storage_key)
        return images.cached_display_copy(path, path.read_bytes(), edge)

    def _path(self, storage_key: str) -> Path:
        path = (self.root / storage_key).resolve()
        if self.root.resolve() not in path.parents:
            raise Invalid("bad storage key")
        return path
