"""(being written) Pages of this audience; see web/pages/__init__.py."""

from __future__ import annotations

from typing import Any

from flask import abort

from web import auth
from web.pages import pages


@pages.get("/board")
@auth.login_required()
def board() -> Any:
    abort(404)
