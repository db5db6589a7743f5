"""Evidence files as HTTP responses: the type found in the content, never the uploader's;
a safe name with that type's extension; downloaded, not opened, unless it is a display copy
the server made itself."""

from __future__ import annotations

from flask import Response

from workflows.images import PHOTO_TYPES
from workflows.reports import ServedFile

# What may open in the browser: the display copies (JPEG or PNG that Pillow wrote).
INLINE_TYPES = frozenset({"image/jpeg", "image/png"})


def file_response(served: ServedFile, *, inline: bool = False,
                  cache: str = "private, no-store") -> Response:
    """The file with Content-Type from detection, X-Content-Type-Options: nosniff and
    Content-Disposition: attachment (inline only for a display copy of a safe type)."""
    show = inline and served.content_type in INLINE_TYPES and served.content_type in (
        PHOTO_TYPES) and not served.original
    response = Response(served.data, mimetype=served.content_type)
    response.headers["Content-Disposition"] = (
        f'{"inline" if show else "attachment"}; filename="{served.filename}"')
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = cache
    return response
