"""The process designers' studio (`/studio`): deployed processes, versions and incidents.

Process designers change processes here; regency administrators read along (the domain's
workflows/studio.py says who may do what). docs/designers.md is the guide.
"""

from __future__ import annotations

from typing import Any

from flask import render_template

from web import auth
from web.pages import pages
from web.pages.common import domain
from workflows.studio import READERS


@pages.get("/studio")
@auth.login_required(*READERS)
def studio_home() -> Any:
    overview = domain().studio.overview(auth.current_user())
    return render_template("studio/home.html", overview=overview)
