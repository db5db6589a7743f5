"""The complaint domain's front door: one object per process holding the use cases by area.

    domain = Domain(engine, config, storage, passwords)
    receipt = domain.reports.submit(payload, uploads, channel="web")
    domain.tasks.claim(task_id, principal)
    page = domain.supervision.board_page(principal, state="overdue")

Every use case owns its units of work and reads the clock itself; callers (web/, the CLI,
the scheduler, tests) parse their input, call one use case and present its result. Building
a Domain registers the lifecycle's host services on the engine (workflows/lifecycle.py), so
whatever acts on complaint instances through it does so with the domain's services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import engine as bpm
from engine import Engine
from workflows import demo
from workflows.account_admin import AccountAdmin
from workflows.account_import import AccountImport
from workflows.accounts import Accounts
from workflows.admin_audit import AdminAuditLog
from workflows.agencies import Agencies
from workflows.audit_log import AuditLog
from workflows.calendar_admin import CalendarAdmin
from workflows.calendar_changes import CalendarChanges
from workflows.categories import Categories
from workflows.channel_admin import ChannelAdmin
from workflows.config import RegencyConfig
from workflows.context import Context
from workflows.desk import Desk
from workflows.drafts import Drafts
from workflows.figures import Figures
from workflows.impact import Impact
from workflows.lifecycle import LifecycleHost
from workflows.nearby import Following, Nearby
from workflows.open311 import Open311
from workflows.operations import Operations
from workflows.own_account import OwnAccount
from workflows.posters import Posters
from workflows.reports import Reports
from workflows.scratch import Scratch
from workflows.sla_settings import SlaSettingsAdmin
from workflows.sms import Sms
from workflows.storage import Storage
from workflows.studio import Studio
from workflows.supervision import Supervision
from workflows.tasks import Tasks
from workflows.users import Passwords
from workflows.whatsapp import WhatsApp


class Domain:
    """The use cases of the complaint domain, by area, over one engine."""

    def __init__(self, engine: Engine, config: RegencyConfig, storage: Storage,
                 passwords: Passwords | None = None, *, scratch_dir: Path | None = None
                 ) -> None:
        self.context = Context(engine, config, storage, passwords or Passwords())
        self.lifecycle = LifecycleHost(engine, config)
        self.reports = Reports(self.context)
        self.tasks = Tasks(self.context)
        self.desk = Desk(self.context)
        self.open311 = Open311(self.context, self.reports)
        self.supervision = Supervision(self.context, self.reports)
        self.figures = Figures(self.context)
        self.accounts = Accounts(self.context)
        self.admin_audit = AdminAuditLog(self.context)
        self.agencies = Agencies(self.context)
        self.categories = Categories(self.context)
        self.account_admin = AccountAdmin(self.context)
        self.own_account = OwnAccount(self.context)
        self.account_import = AccountImport(self.context, self.account_admin)
        self.calendar = CalendarAdmin(self.context)
        self.calendar_changes = CalendarChanges(self.context)
        self.sla_settings = SlaSettingsAdmin(self.context)
        self.channels = ChannelAdmin(self.context)
        self.operations = Operations(self.context)
        self.studio = Studio(self.context)
        self.audit_log = AuditLog(self.context, self.studio)
        self.drafts = Drafts(self.context, self.studio)
        self.impact = Impact(self.context)
        self.posters = Posters(self.context)
        self.sms = Sms(self.context, self.reports)
        self.whatsapp = WhatsApp(self.context, self.reports)
        self.nearby = Nearby(self.context)
        self.following = Following(self.context)
        # Scratch runs (try before deploy): beside the evidence files unless configured.
        self.scratch = Scratch(self.context, scratch_dir or storage.root.parent / "scratch")

    @property
    def engine(self) -> Engine:
        return self.context.engine

    @property
    def config(self) -> RegencyConfig:
        return self.context.config

    def install(self, *, actor: str | None = None, demo_data: bool = False
                ) -> dict[str, Any]:
        """Deploy the shipped diagrams and, with `demo_data` on an empty database, the demo
        regency (Penajam Paser Utara): its agencies, and one account per role."""
        deployment = self.install_diagrams(actor)
        loaded: dict[str, Any] = {"loaded": False, "users": []}
        if demo_data:
            with self.context.transaction() as session:
                loaded = demo.load(session, self.context.passwords, self.context.now())
        return {"diagrams": deployment.as_dict(), **loaded}

    def install_diagrams(self, actor: str | None = None) -> bpm.Deployment:
        """Deploy the shipped lifecycle (a no-op when the same version is deployed)."""
        return self.lifecycle.install_diagrams(actor)

    def dispose(self) -> None:
        self.context.engine.dispose()
