"""(being written) Pages of this audience; see web/pages/__init__.py."""

from __future__ import annotations

from typing import Any

from flask import abort

from web.pages import pages


@pages.get("/lapor")
def report_form() -> Any:
    abort(404)


@pages.get("/lacak")
def track() -> Any:
    abort(404)
