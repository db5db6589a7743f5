"""The deadline settings administrators change in the browser (docs/administrators.md, "SLA
settings"): the top rung of the escalation ladder, the rung budget, the reminder lead time
and the complainant's window after the answer (when it runs out the report closes by
itself).

Precedence: a value stored here wins; a setting never stored (or returned to its default)
is the environment's (ADUAN_LADDER, ADUAN_RUNG_BUDGET_DAYS: RegencyConfig), or the built-in
default (one working day of reminder lead time), or for the window the deadline table
(deadlines.dmn). Every change is a row of `setting_change` (who, when, old, new, note).

Not retroactive: a deadline keeps the settings in force when it started (`in_force(at)`), so
a change applies to deadlines started afterwards. The ladder may only be cut at a rung of the
environment's ladder (its order and names stay, so a deadline's rung keeps its meaning).
Every process reads the rows through the database, in the transaction that uses them (no
cache to go stale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import access, admin_audit, revisions
from workflows.config import RegencyConfig
from workflows.context import Context
from workflows.errors import Conflict, Forbidden, Invalid, Message
from workflows.ladder import REMIND_DAYS_BEFORE, Ladder
from workflows.settings_models import SettingChange

READERS = ("system_admin", "regency_admin")
EDITORS = ("system_admin",)
NAMES = ("top_rung", "rung_budget_days", "reminder_days", "complainant_window_days")
LIMITS = {"rung_budget_days": (0.25, 60.0), "reminder_days": (0.25, 10.0),
          "complainant_window_days": (1.0, 60.0)}
HISTORY = 100  # changes the page lists


@dataclass(frozen=True)
class SlaSettings:
    """The settings in force at an instant."""

    ladder: tuple[str, ...]
    rung_budget_days: float
    reminder_days: float
    complainant_window_days: float | None  # None: the deadline table's budget

    def ladder_rules(self) -> Ladder:
        return Ladder(self.ladder, self.rung_budget_days, self.reminder_days)

    def as_config(self, config: RegencyConfig) -> RegencyConfig:
        return replace(config, ladder=self.ladder, rung_budget_days=self.rung_budget_days)


def defaults(config: RegencyConfig) -> dict[str, Any]:
    """What each setting is when nothing is stored (the environment, built in, the DMN)."""
    return {"top_rung": config.ladder[-1], "rung_budget_days": config.rung_budget_days,
            "reminder_days": REMIND_DAYS_BEFORE, "complainant_window_days": None}


def _rows(session: Session) -> tuple[tuple[int, str, Any, datetime], ...]:
    """Every change (id, name, value, at), oldest first: read once per process and kept
    while `setting_change` is unchanged (workflows/revisions.py). Values are JSON scalars
    (a rung's name, a number of days, null), so the rows are immutable and shared."""
    def build() -> tuple[tuple[int, str, Any, datetime], ...]:
        return tuple((r.id, r.name, r.value, r.at) for r in session.execute(select(
            SettingChange.id, SettingChange.name, SettingChange.value, SettingChange.at
        ).order_by(SettingChange.at, SettingChange.id)))

    return revisions.cached(session, revisions.SETTINGS, "rows", build)


def values_at(session: Session, config: RegencyConfig, at: datetime | None) -> dict[str, Any]:
    """Each setting's value in force at `at` (now: None), the defaults where none stored."""
    values = defaults(config)
    for _id, name, value, when in _rows(session):
        if name in values and (at is None or when <= at):
            values[name] = defaults(config)[name] if value is None else value
    return values


def in_force(session: Session, config: RegencyConfig, at: datetime | None = None
             ) -> SlaSettings:
    """The settings in force at `at` (a deadline's start), or now."""
    values = values_at(session, config, at)
    ladder = tuple(config.ladder)
    top = values["top_rung"]
    if top in ladder:  # cut at the top rung; a rung no longer in the environment: all of it
        ladder = ladder[:ladder.index(top) + 1]
    window = values["complainant_window_days"]
    return SlaSettings(ladder, float(values["rung_budget_days"]), float(values["reminder_days"]),
                       None if window is None else float(window))


@dataclass(frozen=True)
class Change:
    id: int
    at: datetime
    actor: str
    name: str
    previous: Any
    value: Any
    note: str | None


class SlaSettingsAdmin:
    """Read and change the settings (system administrators change, regency ones read)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def page(self, principal: access.Principal) -> dict[str, Any]:
        """The settings in force with where each comes from, the choices, the history."""
        if not principal.has(*READERS):
            raise Forbidden("only administrators read the deadline settings")
        config = self.ctx.config
        with self.ctx.reads() as session:
            stored = {name for _id, name, value, _at in _rows(session) if value is not None}
            latest = {name: value for _id, name, value, _at in _rows(session)}
            values = values_at(session, config, None)
            history = [Change(r.id, r.at, r.actor, r.name, r.previous, r.value, r.note)
                       for r in session.scalars(select(SettingChange).order_by(
                           SettingChange.at.desc(), SettingChange.id.desc()).limit(HISTORY))]
            version = session.scalar(select(func.max(SettingChange.id))) or 0
        return {
            "values": values,
            "source": {name: "database" if name in stored and latest.get(name) is not None
                       else "default" for name in NAMES},
            "defaults": defaults(config),
            "rungs": list(config.ladder[2:]),
            "limits": LIMITS,
            "history": history,
            "version": version,
            "may_change": principal.has(*EDITORS),
        }

    def save(self, principal: access.Principal, form: dict[str, Any], *, version: Any,
             note: str = "") -> list[Change]:
        """Store the settings of `form` that differ from those in force (an empty field:
        back to the default). `version` is the page's: a change since is a Conflict."""
        if not principal.has(*EDITORS):
            raise Forbidden("only system administrators change the deadline settings")
        config = self.ctx.config
        wanted = self._checked(form, config)
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            latest = session.scalar(select(func.max(SettingChange.id))) or 0
            if str(latest) != str(version).strip():
                raise Conflict("the deadline settings were changed by someone else; look at "
                               "them again")
            current = values_at(session, config, None)
            stored = {name: value for _id, name, value, _at in _rows(session)}
            made = []
            for name in NAMES:
                value, before = wanted[name], stored.get(name)
                if before is None and value in (None, defaults(config)[name]):
                    continue  # the default, kept
                if value == before:
                    continue  # unchanged
                row = SettingChange(name=name, value=value, previous=current[name], at=now,
                                    actor=principal.username, note=note.strip()[:500] or None)
                session.add(row)
                session.flush()
                admin_audit.record(session, at=now, actor=principal.username,
                                   action="settings.change", target_kind="setting",
                                   target=name, before={name: current[name]},
                                   after={name: value}, note=row.note)
                made.append(Change(row.id, now, row.actor, name, current[name], value,
                                   row.note))
        return made

    @staticmethod
    def _checked(form: dict[str, Any], config: RegencyConfig) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        out: dict[str, Any] = {}
        top = str(form.get("top_rung") or "").strip()
        if top and top not in config.ladder[2:]:
            errors["top_rung"] = Message("choose one of %(rungs)s",
                                         rungs=", ".join(config.ladder[2:]))
        out["top_rung"] = top or None
        for name, (low, high) in LIMITS.items():
            text = str(form.get(name) or "").strip().replace(",", ".")
            if not text:
                out[name] = None
                continue
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not (math.isfinite(number) and low <= number <= high):
                errors[name] = Message("a number of working days from %(low)s to %(high)s",
                                       low=low, high=high)
            out[name] = number
        if errors:
            raise Invalid("the deadline settings have errors", errors)
        return out
