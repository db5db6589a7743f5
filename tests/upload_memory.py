"""Memory of photo uploads, measured in a process of its own (tests/test_uploads.py).

    python -m tests.upload_memory FOLDER refused        # four 7700x7700 PNGs filed and shown
    python -m tests.upload_memory FOLDER slots N        # four 4000x4000 PNGs checked at once

Pillow's pixel buffers are C memory that tracemalloc does not see, so the probe reports the
growth of the process's peak resident size (getrusage maxrss) over the peak after start-up,
in MB, as one JSON line on stdout. It goes through the domain's use cases (Reports.submit,
check_uploads, attachment_display) on a demo regency in SQLite.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

PAYLOAD = {"classification": "pengaduan", "category": "roads", "title": "Jalan berlubang",
           "body": "Lubang besar di jalan, berbahaya.", "reporter_name": "Budi"}


def big_png(width: int, height: int, shade: int) -> bytes:
    """An RGBA PNG of one colour, written row by row: hundreds of kB that decode to
    width x height x 4 bytes (the issue's 243 kB 7700x7700 PNG)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0])
    row = b"\x00" + bytes([shade, 80, 120, 255]) * width
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def regency(folder: Path) -> Any:
    import migrations
    from engine import FrozenClock
    from tests.conftest import START
    from tests.regency import build

    database = folder / "aduan.db"
    migrations.upgrade(f"sqlite:///{database}")
    return build(f"sqlite:///{database}", FrozenClock(START), folder)


def at_once(work: list[Any]) -> list[Any]:
    """Run each callable in a thread of its own, started together; their results or errors."""
    results: list[Any] = [None] * len(work)
    start = threading.Barrier(len(work))

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work[index]()
        except Exception as exc:  # noqa: BLE001 - reported to the test, which judges it
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def refused(folder: Path) -> dict[str, Any]:
    """Four reports, each with a 7700x7700 PNG, filed and then opened at once by their
    complainants: the filings, the photos shown, and the memory it took."""
    from workflows import access
    from workflows.storage import Upload

    demo = regency(folder)
    reports = demo.domain.reports
    photos = [big_png(7700, 7700, shade) for shade in range(4)]
    before = peak_mb()
    filed: list[Any] = []
    for photo in photos:
        try:
            filed.append(reports.submit(PAYLOAD, [Upload("photo.png", photo)]))
        except Exception as exc:  # noqa: BLE001
            filed.append(exc)
    shown = []
    receipts = [item for item in filed if isinstance(item, dict)]
    if receipts:
        def show(tracking: str) -> Any:
            principal = access.complainant(tracking)
            attachment = reports.get(tracking, principal)["attachments"][0]["id"]
            return reports.attachment_display(tracking, attachment, principal)

        shown = at_once([lambda t=r["tracking_number"]: show(t) for r in receipts])
    demo.engine.dispose()
    return {"growth_mb": peak_mb() - before, "png_kb": len(photos[0]) // 1024,
            "filed": [item if isinstance(item, dict) else str(item) for item in filed],
            "shown": len([s for s in shown if not isinstance(s, Exception)])}


def slots(folder: Path, count: int) -> dict[str, Any]:
    """Four different 4000x4000 PNGs (16 MP, 64 MB decoded) checked at once with a limit of
    16 MP and `count` decodes at a time."""
    from workflows.images import Decoder
    from workflows.storage import Upload

    demo = regency(folder)
    storage = demo.domain.context.storage
    storage.decoder = Decoder(max_megapixels=16, slots=count)
    photos = [big_png(4000, 4000, shade) for shade in range(4)]
    before = peak_mb()
    checked = at_once([lambda p=p: storage.check([Upload("photo.png", p)]) for p in photos])
    demo.engine.dispose()
    return {"growth_mb": peak_mb() - before,
            "errors": [str(c) for c in checked if isinstance(c, Exception)]}


def main(argv: list[str]) -> None:
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    try:
        found = refused(folder) if argv[1] == "refused" else slots(folder, int(argv[2]))
    finally:
        shutil.rmtree(folder / "uploads", ignore_errors=True)
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1:])
