"""The HTML pages: one blueprint, a module per audience.

- common: home, sign-in and out, language switch.
- public: the citizen's report form, receipt and tracking page (no login).
- staff: the officer's worklist and case page with its actions.
- supervision: the SLA board and the escalation inbox.
- statistics: the supervisors' dashboard and the public Statistik page.

Pages call the same use cases as the JSON API (workflows.domain.Domain): each view parses
the request, calls one use case and renders its result; they never open a database session,
run SQL or read the clock (tests/test_layers.py checks it).
"""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("pages", __name__)

# Routes register on import.
from web.pages import common, public, staff, statistics, supervision  # noqa: E402,F401
