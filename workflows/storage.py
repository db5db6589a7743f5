"""Evidence files: checked whole by content and size, stored once by their sha256 with the
copies that pages and agencies are given.

Beside each photo `<key>` the upload writes, once:
- `<key>.display1600.jpg` / `.png` and `<key>.display320.jpg` / `.png`: the display copies
  (workflows/images.py), so that showing a photo reads a file and decodes nothing;
- `<key>.clean`: the photo as uploaded minus its metadata (workflows/containers.py), what
  an agency downloads of an `anonim` report.
A photo stored before these copies existed gets them the first time it is asked for.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from engine.recent import Recent
from workflows import containers, images, pdfcheck
from workflows.containers import sniff
from workflows.errors import N_, Invalid, Message

__all__ = ["EXTENSIONS", "Storage", "StoredFile", "Upload", "served_name", "sniff"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
              "application/pdf": ".pdf", "video/mp4": ".mp4"}

# A refused file's field error; its parameters are `file` (the name) and those named.
FILE_EMPTY = N_("the file is empty; attach it again")
FILE_TOO_LARGE = N_("files may be at most %(mb)s MB; send a smaller one")
FILE_NOT_ACCEPTED = N_("attach a JPEG, PNG or WebP photo, a PDF or an MP4")
FILE_TOO_MANY_PIXELS = N_("the photo is %(megapixels)s megapixels; the limit is %(limit)s: "
                          "send a smaller copy")
FILE_DAMAGED = N_("the file is damaged or cut short; save or export it again and attach "
                  "the new file")
FILE_TRAILING_DATA = N_("the file carries other data after the end of the picture; attach "
                        "the photo alone (save it again, or send a screenshot of it)")
FILE_ACTIVE_PDF = N_("the PDF contains scripts, actions or embedded files (%(found)s); "
                     "print it to a new PDF or scan the paper, and attach that")
PREPARED_KEPT = 16  # photos whose display copies are remembered (see Storage)


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
    # A photo's display copies by edge and its metadata-free copy, made by the check.
    renditions: dict[int, images.Rendition] = field(default_factory=dict, compare=False,
                                                    repr=False)
    clean: bytes | None = field(default=None, compare=False, repr=False)


def served_name(filename: str, content_type: str) -> str:
    """The name a file is served under: its stem made safe, and the extension of the type
    its content was found to be (`evil.html` holding a PNG is `evil.png`)."""
    stem = _SAFE_STEM.sub("_", Path(filename or "").stem).strip("_")[:100] or "lampiran"
    return stem + EXTENSIONS.get(content_type, ".bin")


class Storage:
    """A directory of evidence files named by content hash (see the module)."""

    def __init__(self, root: str | Path, max_bytes: int,
                 decoder: images.Decoder | None = None) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.decoder = decoder or images.Decoder()
        # The display copies (small) of the photos checked last, by sha256: the report form
        # checks its files before filing them, and filing checks them again.
        self._prepared: Recent[str, dict[int, images.Rendition]] = Recent(PREPARED_KEPT)

    def check(self, uploads: list[Upload], field: str = "attachments") -> list[StoredFile]:
        """Validate every upload, whole, before anything is written; raises Invalid naming
        the file and what to do. A photo's copies are made here, in one bounded decode."""
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
            safe = _SAFE_NAME.sub("_", Path(upload.filename or "file").name)[:120] or "file"
            stored = StoredFile(safe, kind[0], kind[1], len(upload.content), sha,
                                f"{sha[:2]}/{sha}")
            checked.append(self._prepare(upload.content, stored, name, where))
        return checked

    def _prepare(self, content: bytes, stored: StoredFile, name: str, where: str
                 ) -> StoredFile:
        known = self._prepared.get(stored.sha256)
        try:
            if stored.content_type in images.PHOTO_TYPES:
                containers.check_structure(content, stored.content_type)
                renditions = known if known is not None else self.decoder.renditions(
                    content, stored.content_type)
                clean = containers.strip_metadata(content, stored.content_type)
                stored = StoredFile(stored.filename, stored.content_type, stored.kind,
                                    stored.size, stored.sha256, stored.storage_key,
                                    renditions, clean)
            elif stored.content_type == "application/pdf":
                pdfcheck.check(content)
            else:
                containers.check_structure(content, stored.content_type)
        except images.TooManyPixels as exc:
            raise Invalid("%(file)s is %(megapixels)s megapixels; the limit is %(limit)s",
                          {where: Message(FILE_TOO_MANY_PIXELS, file=name,
                                          megapixels=exc.megapixels, limit=exc.limit)},
                          file=name, megapixels=exc.megapixels, limit=exc.limit) from exc
        except containers.TrailingData as exc:
            raise Invalid("%(file)s carries other data after the end of the picture",
                          {where: Message(FILE_TRAILING_DATA, file=name)},
                          file=name) from exc
        except pdfcheck.ActiveContent as exc:
            found = str(exc).partition("(")[2].rstrip(")") or str(exc)
            raise Invalid("%(file)s is refused: %(reason)s",
                          {where: Message(FILE_ACTIVE_PDF, file=name, found=found)},
                          file=name, reason=str(exc)) from exc
        except (containers.Malformed, images.NotAPhoto, pdfcheck.Damaged) as exc:
            raise Invalid("%(file)s is damaged: %(reason)s",
                          {where: Message(FILE_DAMAGED, file=name)},
                          file=name, reason=str(exc)) from exc
        if stored.renditions:
            self._prepared.put(stored.sha256, stored.renditions)
        return stored

    def save(self, uploads: list[Upload], checked: list[StoredFile]) -> None:
        """Write each file and its copies (once: a file already stored is kept)."""
        for upload, stored in zip(uploads, checked, strict=True):
            path = self.root / stored.storage_key
            _write_once(path, upload.content)
            for edge, rendition in stored.renditions.items():
                _write_once(_display_path(path, edge, rendition.extension), rendition.data)
            if stored.clean is not None:
                _write_once(_clean_path(path), stored.clean)

    def open(self, storage_key: str) -> bytes:
        return self._path(storage_key).read_bytes()

    def display(self, storage_key: str, content_type: str, edge: int = images.DISPLAY_EDGE
                ) -> images.Rendition:
        """A photo as pages show it (upright, scaled, no metadata), read from its stored
        copy; a photo stored before copies were made at upload gets them now, once."""
        if edge not in images.EDGES:
            raise ValueError(f"no display copy is {edge} pixels; sizes: {images.EDGES}")
        path = self._path(storage_key)
        for kind, extension in (("image/jpeg", ".jpg"), ("image/png", ".png")):
            copy = _display_path(path, edge, extension)
            if copy.exists():
                return images.Rendition(copy.read_bytes(), kind)
        made = self.decoder.renditions(path.read_bytes(), content_type)
        for size, rendition in made.items():
            _write_once(_display_path(path, size, rendition.extension), rendition.data)
        return made[edge]

    def clean(self, storage_key: str, content_type: str) -> bytes:
        """A photo as uploaded minus its metadata (workflows/containers.py), stored once."""
        path = self._path(storage_key)
        copy = _clean_path(path)
        if copy.exists():
            return copy.read_bytes()
        data = containers.strip_metadata(path.read_bytes(), content_type)
        _write_once(copy, data)
        return data

    def _path(self, storage_key: str) -> Path:
        path = (self.root / storage_key).resolve()
        if self.root.resolve() not in path.parents:
            raise Invalid("bad storage key")
        return path


def _display_path(original: Path, edge: int, extension: str) -> Path:
    return original.with_name(f"{original.name}.display{edge}{extension}")


def _clean_path(original: Path) -> Path:
    return original.with_name(f"{original.name}.clean")


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    temporary.write_bytes(data)
    temporary.replace(path)
