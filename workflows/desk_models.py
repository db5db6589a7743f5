"""The officers' desk (workflows/desk.py): what its reads need of the existing tables.

- `ix_outbox_inbox` on outbox (user_id, channel, status): the unread count every signed-in
  page shows in the navigation bar, and the notification centre's pages, are one index
  range each (an officer's in-app rows, unread or all) however large the outbox grows.

Internal notes are rows of complaint_event (kind "note", public false): no table of their
own. The index is declared here, on the outbox of workflows/models.py (a full module).
"""

from __future__ import annotations

from sqlalchemy import Index

from workflows.models import Outbox

OUTBOX_INBOX = Index("ix_outbox_inbox", Outbox.user_id, Outbox.channel, Outbox.status,
                     Outbox.id)
