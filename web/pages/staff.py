"""(being written) Pages of this audience; see web/pages/__init__.py."""

from __future__ import annotations

from typing import Any

from flask import abort

from web import auth
from web.pages import pages


@pages.get("/tasks")
@auth.login_required()
def worklist() -> Any:
    abort(404)


@pages.get("/cases")
@auth.login_required()
def cases() -> Any:
    abort(404)
