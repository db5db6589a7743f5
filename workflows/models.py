"""The complaint domain's tables: agencies, people, complaints, SLAs, escalations, outbox.

Long on purpose: the core tables stay together with the statistics triggers written for
them; later areas keep their tables in modules of their own (workflows/tables.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime

# Reports not finished (closed, archived or returned): the partial index of open reports.
OPEN_PREDICATE = "status NOT IN ('CLOSED', 'ARCHIVED', 'RETURNED')"
HAS_ORIGINAL = "duplicate_of_id IS NOT NULL"

# Agencies form a tree: province > regency > OPD (also BUMD, kecamatan, kelurahan) > unit.
AGENCY_KINDS = ("province", "regency", "opd", "bumd", "kecamatan", "kelurahan", "unit")
ROLES = ("complainant", "regency_admin", "liaison_officer", "technical_officer", "supervisor",
         "process_designer", "system_admin")


class Agency(Base):
    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    roles: Mapped[list] = mapped_column(JSON)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    language: Mapped[str] = mapped_column(String(5), default="id")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Complaint(Base):
    __tablename__ = "complaint"
    __table_args__ = (
        Index("ix_complaint_status", "status"),
        Index("ix_complaint_agency_status", "agency_id", "status"),
        Index("ix_complaint_created_at", "created_at"),
        # Statistics (workflows/stats/queries.py): open reports by date of receipt (60 days).
        Index("ix_complaint_open_created_at", "created_at", "id", "agency_id",
              postgresql_where=text(OPEN_PREDICATE), sqlite_where=text(OPEN_PREDICATE)),
        # The pages (migration 0007): reports a unit holds, for an OPD's `agency OR unit`
        # scope; and the few reports that duplicate another (the case page lists them).
        Index("ix_complaint_unit_id", "unit_id"),
        Index("ix_complaint_duplicate_of", "duplicate_of_id",
              postgresql_where=text(HAS_ORIGINAL), sqlite_where=text(HAS_ORIGINAL)),
        # The statistics' exact medians read a period's stored measures from it alone
        # (workflows/stats/speeds.py, migration 0037).
        Index("ix_complaint_work", "created_at", "agency_id", "work_answer_s",
              "work_verify_s", "work_close_s"),
        *(Index(f"ix_complaint_{column[:-2]}", text(f"({column} / 3600)"), "created_at",
                "agency_id", column, postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"))
          for column in ("work_answer_s", "work_verify_s", "work_close_s")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tracking_number: Mapped[str] = mapped_column(String(40), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    classification: Mapped[str] = mapped_column(String(30))
    misconduct: Mapped[bool] = mapped_column(Boolean, default=False)
    sub_classification: Mapped[str | None] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10), default="medium")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    incident_date: Mapped[date | None] = mapped_column(Date)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    kelurahan: Mapped[str | None] = mapped_column(String(100))
    kecamatan: Mapped[str | None] = mapped_column(String(100))
    road_status: Mapped[str | None] = mapped_column(String(20))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(20))
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_email: Mapped[str | None] = mapped_column(String(200))
    reporter_phone: Mapped[str | None] = mapped_column(String(40))
    contact_channel: Mapped[str | None] = mapped_column(String(10))  # sms | whatsapp | email
    language: Mapped[str] = mapped_column(String(5), default="id")
    status: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    instance_id: Mapped[int | None] = mapped_column(BigId, index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"), index=True)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disposed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_answer_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Working seconds from disposition to first answer, receipt to verification, receipt to
    # closure (the statistics' MEASURES): written by the database's triggers only (migration
    # 0037: whoever sets the times, they follow; a value written here is recomputed).
    work_answer_s: Mapped[int | None] = mapped_column(BigInteger)
    work_verify_s: Mapped[int | None] = mapped_column(BigInteger)
    work_close_s: Mapped[int | None] = mapped_column(BigInteger)


class ComplaintEvent(Base):
    """The history people read: status changes, answers, comments, links."""

    __tablename__ = "complaint_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(30))
    status_from: Mapped[str | None] = mapped_column(String(20))
    status_to: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=True)


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # photo | document | video
    uploaded_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SlaRecord(Base):
    """One step's time budget in working days: started, paused, due, met or breached."""

    __tablename__ = "sla_record"
    __table_args__ = (
        Index("ix_sla_record_state_due", "state", "due_at"),
        Index("ix_sla_record_complaint_step", "complaint_id", "step"),
        Index("ix_sla_record_complaint_created_at", "complaint_created_at"),
        # the running records of a period of receipt (the statistics' overdue steps)
        Index("ix_sla_record_state_received", "state", "complaint_created_at", "due_at",
              postgresql_include=["complaint_id", "step"]),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"))
    step: Mapped[str] = mapped_column(String(30))
    budget_days: Mapped[float] = mapped_column(Float)
    holder_rung: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pauses: Mapped[list] = mapped_column(JSON)  # [{"from", "to"}]
    remaining_seconds: Mapped[float | None] = mapped_column(Float)  # while paused
    state: Mapped[str] = mapped_column(String(10))  # running | paused | met | breached
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    late_seconds: Mapped[float | None] = mapped_column(Float)  # working time past due
    rung: Mapped[int] = mapped_column(Integer)  # highest rung reached
    reminded_rungs: Mapped[list] = mapped_column(JSON)
    # The complaint's created_at (its statistics cohort), copied by a database trigger on
    # INSERT whatever the writer sends, and kept in step if the complaint's ever changes.
    complaint_created_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Escalation(Base):
    """A case late at one rung, handed to the next rung's supervisors: their inbox."""

    __tablename__ = "escalation"
    __table_args__ = (
        UniqueConstraint("sla_id", "rung", name="uq_escalation_sla_rung"),
        Index("ix_escalation_status", "status", "agency_id"),
        Index("ix_escalation_complaint_created_at", "complaint_created_at"),
        # The inbox: an agency's open escalations, the newest first (migration 0008).
        Index("ix_escalation_status_at", "status", "at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    sla_id: Mapped[int] = mapped_column(ForeignKey("sla_record.id"))
    step: Mapped[str] = mapped_column(String(30))
    rung: Mapped[int] = mapped_column(Integer)
    rung_name: Mapped[str] = mapped_column(String(40))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the deadline that was missed
    status: Mapped[str] = mapped_column(String(20))  # open | acknowledged | resolved
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    comment: Mapped[str | None] = mapped_column(Text)
    complaint_created_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # as sla_record


class Outbox(Base):
    """Notifications written in the same transaction as the event that causes them."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(20))  # email | whatsapp | sms | inapp
    recipient: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"), index=True)
    template: Mapped[str] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(5))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))  # pending | sent | dead | read
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The sender's lease (workflows/delivery.py): who is sending the row, and until when.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(200), index=True)  # provider's id
    # What the provider reported afterwards (WhatsApp: sent, delivered, read, failed).
    delivery_status: Mapped[str | None] = mapped_column(String(10))
    delivery_status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CalendarDay(Base):
    """An administrator's change to the holiday library: a cuti bersama added or cancelled."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # day_off | working
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(80))


class Setting(Base):
    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)


class TrackingCounter(Base):
    """Per-prefix, per-year sequence for tracking numbers (PPU-2026-000123)."""

    __tablename__ = "tracking_counter"

    prefix: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class SchedulerHeartbeat(Base):
    """Each scheduler process says it is alive; `aduan status` shows the silent ones."""

    __tablename__ = "scheduler_heartbeat"

    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_sweep_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    timers_fired: Mapped[int] = mapped_column(Integer, default=0)
    notifications_sent: Mapped[int] = mapped_column(Integer, default=0)


class LoginAttempt(Base):
    """One sign-in attempt at /login: the basis of rate limits and lockouts on every node."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_at", "username", "at"),
                      Index("ix_login_attempt_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


# Signing in: the row a sign-in locks, so one username's attempts run one at a time
# (workflows/throttle.py); and the sessions of the pages the server knows (sessions.py).
class SignInGuard(Base):
    __tablename__ = "sign_in_guard"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UserSession(Base):
    __tablename__ = "user_session"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    address: Mapped[str] = mapped_column(String(64))


class StatsChange(Base):
    """A change to the statistics' data: a row of complaint, sla_record or escalation was
    written, and the date of receipt of the complaint it belongs to (its cohort).

    Written only by database triggers (STATS_TRIGGERS), for every writer; read by the
    statistics cache (workflows/stats/cache.py) to know whether a period changed since it computed
    it. Rows older than a day are pruned by the triggers themselves.
    """

    __tablename__ = "stats_change"
    # SQLite: AUTOINCREMENT, so that an id is never handed out twice (ids are the log's order)
    __table_args__ = (Index("ix_stats_change_xid", "xid"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: any period
    xid: Mapped[int | None] = mapped_column(BigInteger)  # PostgreSQL: the writer's transaction
    at: Mapped[datetime] = mapped_column(UtcDateTime)  # when (the database's clock), to prune


# --------------------------------------------------------------------------- statistics triggers
#
# Every INSERT, UPDATE and DELETE of a complaint, an SLA record or an escalation appends a
# row to stats_change, in the writer's transaction, whoever the writer is (the ORM, a bulk
# UPDATE, a hand-written statement). Appending takes no lock another writer waits for.
# The triggers also copy a complaint's created_at onto its SLA records and escalations
# (`complaint_created_at`) on INSERT, and follow it should it ever change. Migration 0006
# installs the same statements.

STATS_TRIGGERS = {
    "postgresql": (
        "CREATE OR REPLACE FUNCTION aduan_complaint_created_at() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN NEW.complaint_created_at := "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id); RETURN NEW; END $$",
        "CREATE OR REPLACE FUNCTION aduan_complaint_moved() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE sla_record SET complaint_created_at = NEW.created_at "
        "WHERE complaint_id = NEW.id; "
        "UPDATE escalation SET complaint_created_at = NEW.created_at "
        "WHERE complaint_id = NEW.id; RETURN NULL; END $$",
        # the oldest rows, a day old or more (a cached figure lives an hour at most)
        "CREATE OR REPLACE FUNCTION aduan_stats_prune() RETURNS void LANGUAGE sql AS $$ "
        "DELETE FROM stats_change WHERE id IN (SELECT id FROM (SELECT id, at "
        "FROM stats_change ORDER BY id LIMIT 5000 FOR UPDATE SKIP LOCKED) AS oldest "
        "WHERE at < now() - interval '1 day') $$",
        "CREATE OR REPLACE FUNCTION aduan_stats_log(new_at timestamptz, old_at timestamptz, "
        "op text) RETURNS void LANGUAGE plpgsql AS $$ DECLARE "
        "xid bigint := pg_current_xact_id()::text::bigint; BEGIN "
        "IF op <> 'DELETE' THEN "
        "INSERT INTO stats_change (received_at, xid, at) VALUES (new_at, xid, now()); END IF; "
        "IF op = 'DELETE' OR (op = 'UPDATE' AND old_at IS DISTINCT FROM new_at) THEN "
        "INSERT INTO stats_change (received_at, xid, at) VALUES (old_at, xid, now()); END IF; "
        "IF random() < 0.001 THEN PERFORM aduan_stats_prune(); END IF; END $$",
        "CREATE OR REPLACE FUNCTION aduan_complaint_changed() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN PERFORM aduan_stats_log("
        "CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.created_at END, "
        "CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.created_at END, TG_OP); "
        "RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION aduan_child_changed() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN PERFORM aduan_stats_log("
        "CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.complaint_created_at END, "
        "CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.complaint_created_at END, TG_OP); "
        "RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION aduan_stats_truncated() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN INSERT INTO stats_change (received_at, xid, at) "
        "VALUES (NULL, pg_current_xact_id()::text::bigint, now()); RETURN NULL; END $$",
        "CREATE TRIGGER trg_sla_record_created_at BEFORE INSERT OR UPDATE OF complaint_id, "
        "complaint_created_at ON sla_record "
        "FOR EACH ROW EXECUTE FUNCTION aduan_complaint_created_at()",
        "CREATE TRIGGER trg_escalation_created_at BEFORE INSERT OR UPDATE OF complaint_id, "
        "complaint_created_at ON escalation "
        "FOR EACH ROW EXECUTE FUNCTION aduan_complaint_created_at()",
        "CREATE TRIGGER trg_complaint_moved AFTER UPDATE OF created_at ON complaint "
        "FOR EACH ROW WHEN (NEW.created_at IS DISTINCT FROM OLD.created_at) "
        "EXECUTE FUNCTION aduan_complaint_moved()",
        "CREATE TRIGGER trg_complaint_stats AFTER INSERT OR UPDATE OR DELETE ON complaint "
        "FOR EACH ROW EXECUTE FUNCTION aduan_complaint_changed()",
        "CREATE TRIGGER trg_sla_record_stats AFTER INSERT OR UPDATE OR DELETE ON sla_record "
        "FOR EACH ROW EXECUTE FUNCTION aduan_child_changed()",
        "CREATE TRIGGER trg_escalation_stats AFTER INSERT OR UPDATE OR DELETE ON escalation "
        "FOR EACH ROW EXECUTE FUNCTION aduan_child_changed()",
        "CREATE TRIGGER trg_complaint_truncated AFTER TRUNCATE ON complaint "
        "FOR EACH STATEMENT EXECUTE FUNCTION aduan_stats_truncated()",
    ),
    # SQLite's triggers cannot change NEW (AFTER triggers write the row again) and have no
    # transaction ids: one writer at a time makes stats_change.id follow commit order.
    "sqlite": (
        "CREATE TRIGGER trg_sla_record_created_at AFTER INSERT ON sla_record FOR EACH ROW "
        "BEGIN UPDATE sla_record SET complaint_created_at = "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) "
        "WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_escalation_created_at AFTER INSERT ON escalation FOR EACH ROW "
        "BEGIN UPDATE escalation SET complaint_created_at = "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) "
        "WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_sla_record_created_at_kept AFTER UPDATE OF complaint_id, "
        "complaint_created_at ON sla_record FOR EACH ROW WHEN NEW.complaint_created_at IS NOT "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) BEGIN "
        "UPDATE sla_record SET complaint_created_at = "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) "
        "WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_escalation_created_at_kept AFTER UPDATE OF complaint_id, "
        "complaint_created_at ON escalation FOR EACH ROW WHEN NEW.complaint_created_at IS NOT "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) BEGIN "
        "UPDATE escalation SET complaint_created_at = "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) "
        "WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_complaint_moved AFTER UPDATE OF created_at ON complaint "
        "FOR EACH ROW WHEN NEW.created_at IS NOT OLD.created_at BEGIN "
        "UPDATE sla_record SET complaint_created_at = NEW.created_at "
        "WHERE complaint_id = NEW.id; "
        "UPDATE escalation SET complaint_created_at = NEW.created_at "
        "WHERE complaint_id = NEW.id; END",
        "CREATE TRIGGER trg_complaint_stats_insert AFTER INSERT ON complaint FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (NEW.created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_complaint_stats_update AFTER UPDATE ON complaint FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (NEW.created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); "
        "INSERT INTO stats_change (received_at, at) SELECT OLD.created_at, "
        "strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE OLD.created_at IS NOT NEW.created_at; END",
        "CREATE TRIGGER trg_complaint_stats_delete AFTER DELETE ON complaint FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (OLD.created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_sla_record_stats_insert AFTER INSERT ON sla_record FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) VALUES ("
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id), "
        "strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_sla_record_stats_update AFTER UPDATE ON sla_record FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) VALUES ("
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id), "
        "strftime('%Y-%m-%d %H:%M:%f', 'now')); "
        "INSERT INTO stats_change (received_at, at) SELECT OLD.complaint_created_at, "
        "strftime('%Y-%m-%d %H:%M:%f', 'now') "
        "WHERE OLD.complaint_created_at IS NOT NEW.complaint_created_at "
        "AND OLD.complaint_created_at IS NOT NULL; END",
        "CREATE TRIGGER trg_sla_record_stats_delete AFTER DELETE ON sla_record FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (OLD.complaint_created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_escalation_stats_insert AFTER INSERT ON escalation FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) VALUES ("
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id), "
        "strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_escalation_stats_update AFTER UPDATE ON escalation FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) VALUES ("
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id), "
        "strftime('%Y-%m-%d %H:%M:%f', 'now')); "
        "INSERT INTO stats_change (received_at, at) SELECT OLD.complaint_created_at, "
        "strftime('%Y-%m-%d %H:%M:%f', 'now') "
        "WHERE OLD.complaint_created_at IS NOT NEW.complaint_created_at "
        "AND OLD.complaint_created_at IS NOT NULL; END",
        "CREATE TRIGGER trg_escalation_stats_delete AFTER DELETE ON escalation FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (OLD.complaint_created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_stats_change_prune AFTER INSERT ON stats_change "
        "FOR EACH ROW WHEN NEW.id % 1000 = 0 BEGIN "
        "DELETE FROM stats_change WHERE id IN (SELECT id FROM (SELECT id, at "
        "FROM stats_change ORDER BY id LIMIT 5000) "
        "WHERE at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 day')); END",
    ),
}
# The statistics cache runs only where these exist (a database migrated to 0006).
STATS_TRIGGER_NAMES = {
    "postgresql": ("trg_complaint_stats", "trg_sla_record_stats", "trg_escalation_stats",
                   "trg_sla_record_created_at", "trg_escalation_created_at"),
    "sqlite": ("trg_complaint_stats_insert", "trg_complaint_stats_update",
               "trg_complaint_stats_delete", "trg_sla_record_stats_insert",
               "trg_sla_record_stats_update", "trg_sla_record_stats_delete",
               "trg_escalation_stats_insert", "trg_escalation_stats_update",
               "trg_escalation_stats_delete", "trg_sla_record_created_at",
               "trg_escalation_created_at"),
}


@event.listens_for(Base.metadata, "after_create")
def _create_stats_triggers(target: Any, connection: Any, **kw: Any) -> None:
    """metadata.create_all() (Store.create_schema) installs the triggers too."""
    names = {table.name for table in kw.get("tables") or target.sorted_tables}
    if {"complaint", "sla_record", "escalation", "stats_change"} <= names:
        for statement in STATS_TRIGGERS.get(connection.dialect.name, ()):
            connection.exec_driver_sql(statement)
