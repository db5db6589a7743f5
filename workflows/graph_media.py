"""Photos citizens send on WhatsApp, downloaded through the Graph API (docs/channels.md).

WhatsApp delivers a photo as a media id. `GET {base}/{media id}` with the access token
answers its metadata (`url`, `mime_type`, `file_size`); `GET {url}` with the same token
answers the bytes. The base URL is configurable (ADUAN_WHATSAPP_GRAPH_URL, by default
https://graph.facebook.com/v21.0), so tests and a regency's proxy can stand in for it.
Nothing larger than the upload limit is read; redirects are never followed (the token must
not travel to another host).
"""

from __future__ import annotations

import json
import re
from typing import Protocol

from workflows.channels import DeliveryError, TooLarge, get_bytes

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v21.0"
MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class MediaRefused(Exception):
    """The photo cannot be taken; `reason` is too_large, not_image or unavailable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class MediaSource(Protocol):
    def fetch(self, media_id: str, max_bytes: int) -> tuple[bytes, str]:
        """The media's bytes and declared MIME type; MediaRefused otherwise."""
        ...


class GraphMedia:
    """The Graph API's media endpoints (see the module)."""

    def __init__(self, base_url: str, token: str, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def fetch(self, media_id: str, max_bytes: int) -> tuple[bytes, str]:
        if not MEDIA_ID.match(media_id or ""):
            raise MediaRefused("unavailable", f"not a media id: {media_id!r}")
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            raw = get_bytes(f"{self.base_url}/{media_id}", headers, self.timeout,
                            "WhatsApp Graph API", 64 * 1024)
            meta = json.loads(raw.decode("utf-8"))
            url, mime = str(meta["url"]), str(meta.get("mime_type") or "")
            size = meta.get("file_size")
        except (DeliveryError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise MediaRefused("unavailable", str(exc)) from exc
        if not mime.startswith("image/"):
            raise MediaRefused("not_image", mime)
        if isinstance(size, int) and size > max_bytes:
            raise MediaRefused("too_large", f"{size} bytes")
        try:
            data = get_bytes(url, headers, self.timeout, "WhatsApp media", max_bytes)
        except TooLarge as exc:
            raise MediaRefused("too_large", str(exc)) from exc
        except (DeliveryError, ValueError) as exc:
            raise MediaRefused("unavailable", str(exc)) from exc
        return data, mime
