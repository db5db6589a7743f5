"""The HTML pages: one blueprint, a module per audience.

- admin: the administrators' pages (/admin) and their audit log; admin_agencies: the
  agency tree; admin_categories: the report categories; admin_calendar: the working
  calendar; admin_settings: the deadline settings; admin_channels: the notification
  channels and the outbox; accounts: the system administrator's accounts
  (/admin/accounts); account: everyone's own account (/account).
- common: home, sign-in and out, language switch.
- public: the citizen's report form and receipt; tracking: the tracking pages (no login).
- staff: the officer's worklist and the list of reports; case: the case page and its actions.
- officers: what the officers' pages share; desk: their notifications, internal notes on
  a case and giving a task to a colleague.
- posters: the QR posters of the regency administrator and the liaison officers.
- supervision: the SLA board and the escalation inbox.
- statistics: the supervisors' dashboard and the public Statistik page.
- studio: the process designers' studio; studio_drafts: its drafts and the modeler page;
  studio_ops: its versions, deploys, instances, incidents, migrations and audit log;
  studio_diff: what changed between two versions; studio_impact: its impact preview;
  studio_try: trying a candidate lifecycle in a scratch run.

Pages call the same use cases as the JSON API (workflows.domain.Domain): each view parses
the request, calls one use case and renders its result; they never open a database session,
run SQL or read the clock (tests/test_layers.py checks it).
"""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("pages", __name__)

# Routes register on import.
from web.pages import (  # noqa: E402,F401
    account,
    account_import,
    accounts,
    admin,
    admin_agencies,
    admin_calendar,
    admin_categories,
    admin_channels,
    admin_settings,
    case,
    common,
    desk,
    nearby,
    posters,
    public,
    staff,
    statistics,
    studio,
    studio_diff,
    studio_drafts,
    studio_impact,
    studio_ops,
    studio_try,
    supervision,
    tracking,
)
