"""(being written) Pages of this audience; see web/pages/__init__.py."""

from __future__ import annotations

from typing import Any

from flask import abort

from web import auth
from web.pages import pages


@pages.get("/dashboard")
@auth.login_required()
def dashboard() -> Any:
    abort(404)


@pages.get("/statistik")
def public_statistics() -> Any:
    abort(404)
