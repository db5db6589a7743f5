"""Settings read once at the edge from ADUAN_* environment variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SQLITE = "sqlite:///" + str(Path("instance") / "aduan.db")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _center(value: str) -> tuple[float, float]:
    try:
        lat, lon = (float(part) for part in value.split(","))
    except ValueError as exc:
        raise ValueError(f"ADUAN_MAP_CENTER must be 'lat,lon', not {value!r}") from exc
    return lat, lon


def _hops(value: str) -> int:
    try:
        hops = int(value)
    except ValueError:
        hops = -1
    if not 0 <= hops <= 5:
        raise ValueError(f"ADUAN_PROXY_HOPS must be the number of reverse proxies in front "
                         f"(0 to 5), not {value!r}")
    return hops


def _timer_threads(value: str) -> int:
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if not 1 <= threads <= 16:
        raise ValueError(f"ADUAN_TIMER_THREADS must be the number of threads that fire timers "
                         f"side by side in a scheduler (1 to 16), not {value!r}")
    return threads


def _templates(value: str) -> tuple[tuple[str, str], ...]:
    """ADUAN_WHATSAPP_TEMPLATES: "status_changed=my_status,info_requested=my_info"."""
    from workflows.channels import WHATSAPP_TEMPLATES

    pairs = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key, _, name = item.partition("=")
        key, name = key.strip(), name.strip()
        if key not in WHATSAPP_TEMPLATES or not re.fullmatch(r"[a-z0-9_]{1,512}", name):
            raise ValueError(f"ADUAN_WHATSAPP_TEMPLATES: write message=template_name pairs, "
                             f"message one of {', '.join(WHATSAPP_TEMPLATES)}, names in "
                             f"lower case, digits and _ (not {item!r})")
        pairs.append((key, name))
    return tuple(pairs)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_SQLITE
    allow_time_travel: bool = False
    script_time_limit_seconds: float = 1.0
    # Worker processes for diagram code that is not provably cheap (engine/sandbox/pool.py).
    sandbox_workers: int = 2
    sandbox_memory_mb: int = 512
    sandbox_cpu_seconds: float = 2.0
    sandbox_wall_seconds: float = 5.0
    timer_batch: int = 100
    secret_key: str = field(default="", repr=False)
    debug: bool = False
    tracking_prefix: str = "PPU"
    timezone: str = "Asia/Makassar"  # the regency's: deadlines and local times (WITA)
    ladder: tuple[str, ...] = ("technical_officer", "opd", "regency_admin", "regional_head",
                               "province")
    rung_budget_days: float = 2.0
    postpone_max_days: float = 14.0  # working days a report may stay Tertunda
    timer_poll_seconds: float = 1.0
    outbox_seconds: float = 5.0
    digest_hour_utc: int = 23  # 07:00 in Asia/Makassar
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "aduan@localhost"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    whatsapp_url: str = ""
    whatsapp_token: str = field(default="", repr=False)
    # The inbound WhatsApp webhook (web/whatsapp.py): the app secret that signs deliveries,
    # the verify token of the subscription handshake (either empty: the webhook is off), the
    # Graph API base of photo downloads, template names, a half-written report's lifetime.
    whatsapp_app_secret: str = field(default="", repr=False)
    whatsapp_verify_token: str = field(default="", repr=False)
    whatsapp_graph_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_templates: tuple[tuple[str, str], ...] = ()
    whatsapp_conversation_hours: float = 24.0
    sms_url: str = ""
    sms_username: str = ""
    sms_password: str = field(default="", repr=False)
    # The shared secret of the inbound SMS webhook (web/sms.py); empty: the webhook is off.
    sms_gateway_secret: str = field(default="", repr=False)
    notification_max_attempts: int = 6
    # The address citizens reach the site at: the link in their messages (docs/channels.md).
    public_url: str = ""
    clock_offset_seconds: float = 0.0
    timer_lease_seconds: float = 60.0
    # Instances the timer sweep fires in one transaction on PostgreSQL (engine/sweep.py
    # TimerSweep.per_transaction): more than 1 shares one COMMIT and one WAL flush among
    # several firings (for a slow disk); each batch's first firing then waits for its last.
    timer_per_transaction: int = 1
    # Threads that fire one sweep's claimed timers side by side on PostgreSQL (engine/sweep.py
    # TimerSweep.threads); SQLite fires one at a time whatever this says.
    timer_threads: int = 2
    upload_dir: str = str(Path("instance") / "uploads")
    # Scratch runs of the studio's "try before deploy" (workflows/scratch.py): one SQLite
    # file per run, removed after 24 hours idle.
    scratch_dir: str = str(Path("instance") / "scratch")
    # Photos (workflows/images.py): the most pixels a photo may declare, and how many are
    # decoded at once in a process; together they bound the memory decoding takes.
    photo_max_megapixels: int = 40
    photo_decode_slots: int = 2
    regency_name: str = "Kabupaten Penajam Paser Utara"
    # Map tiles for the report form and case pages; empty: no tiles (typing an address or
    # coordinates still works). e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png
    tile_url: str = ""
    tile_attribution: str = ""
    map_center: tuple[float, float] = (-1.2538, 116.8305)  # Penajam
    cookie_secure: bool = True
    # argon2id cost of sign-in passwords (workflows.users.Passwords): argon2-cffi's
    # defaults (RFC 9106 low-memory profile), for passwords set afterwards.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Reverse proxies in front that append the client's address to X-Forwarded-For (0: the
    # app is reached directly). Sign-in limits count per client address (docs/security.md).
    proxy_hops: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=env.get("ADUAN_DATABASE_URL") or DEFAULT_SQLITE,
            allow_time_travel=_flag(env.get("ADUAN_ALLOW_TIME_TRAVEL")),
            script_time_limit_seconds=float(env.get("ADUAN_SCRIPT_TIME_LIMIT", "1.0")),
            sandbox_workers=int(env.get("ADUAN_SANDBOX_WORKERS", "2")),
            sandbox_memory_mb=int(env.get("ADUAN_SANDBOX_MEMORY_MB", "512")),
            sandbox_cpu_seconds=float(env.get("ADUAN_SANDBOX_CPU_SECONDS", "2")),
            sandbox_wall_seconds=float(env.get("ADUAN_SANDBOX_WALL_SECONDS", "5")),
            timer_batch=int(env.get("ADUAN_TIMER_BATCH", "100")),
            secret_key=env.get("ADUAN_SECRET_KEY", ""),
            debug=_flag(env.get("ADUAN_DEBUG")),
            tracking_prefix=env.get("ADUAN_TRACKING_PREFIX", "PPU"),
            timezone=env.get("ADUAN_TIMEZONE", "Asia/Makassar"),
            ladder=tuple(r.strip() for r in env.get(
                "ADUAN_LADDER", "technical_officer,opd,regency_admin,regional_head,province"
            ).split(",") if r.strip()),
            rung_budget_days=float(env.get("ADUAN_RUNG_BUDGET_DAYS", "2")),
            postpone_max_days=float(env.get("ADUAN_POSTPONE_MAX_DAYS", "14")),
            timer_poll_seconds=float(env.get("ADUAN_TIMER_POLL_SECONDS", "1")),
            outbox_seconds=float(env.get("ADUAN_OUTBOX_SECONDS", "5")),
            digest_hour_utc=int(env.get("ADUAN_DIGEST_HOUR_UTC", "23")),
            smtp_host=env.get("ADUAN_SMTP_HOST", ""),
            smtp_port=int(env.get("ADUAN_SMTP_PORT", "25")),
            smtp_sender=env.get("ADUAN_SMTP_SENDER", "aduan@localhost"),
            smtp_username=env.get("ADUAN_SMTP_USERNAME", ""),
            smtp_password=env.get("ADUAN_SMTP_PASSWORD", ""),
            smtp_starttls=_flag(env.get("ADUAN_SMTP_STARTTLS")),
            whatsapp_url=env.get("ADUAN_WHATSAPP_URL", ""),
            whatsapp_token=env.get("ADUAN_WHATSAPP_TOKEN", ""),
            whatsapp_app_secret=env.get("ADUAN_WHATSAPP_APP_SECRET", ""),
            whatsapp_verify_token=env.get("ADUAN_WHATSAPP_VERIFY_TOKEN", ""),
            whatsapp_graph_url=env.get("ADUAN_WHATSAPP_GRAPH_URL",
                                       "https://graph.facebook.com/v21.0"),
            whatsapp_templates=_templates(env.get("ADUAN_WHATSAPP_TEMPLATES", "")),
            whatsapp_conversation_hours=float(env.get("ADUAN_WHATSAPP_CONVERSATION_HOURS",
                                                      "24")),
            sms_url=env.get("ADUAN_SMS_URL", ""),
            sms_username=env.get("ADUAN_SMS_USERNAME", ""),
            sms_password=env.get("ADUAN_SMS_PASSWORD", ""),
            sms_gateway_secret=env.get("ADUAN_SMS_GATEWAY_SECRET", ""),
            public_url=env.get("ADUAN_PUBLIC_URL", "").strip(),
            notification_max_attempts=int(env.get("ADUAN_NOTIFICATION_MAX_ATTEMPTS", "6")),
            clock_offset_seconds=float(env.get("ADUAN_CLOCK_OFFSET_SECONDS", "0")),
            timer_lease_seconds=float(env.get("ADUAN_TIMER_LEASE_SECONDS", "60")),
            timer_per_transaction=int(env.get("ADUAN_TIMER_PER_TRANSACTION", "1")),
            timer_threads=_timer_threads(env.get("ADUAN_TIMER_THREADS", "2")),
            upload_dir=env.get("ADUAN_UPLOAD_DIR") or str(Path("instance") / "uploads"),
            scratch_dir=env.get("ADUAN_SCRATCH_DIR") or str(Path("instance") / "scratch"),
            photo_max_megapixels=int(env.get("ADUAN_PHOTO_MAX_MEGAPIXELS", "40")),
            photo_decode_slots=int(env.get("ADUAN_PHOTO_DECODE_SLOTS", "2")),
            regency_name=env.get("ADUAN_REGENCY_NAME", "Kabupaten Penajam Paser Utara"),
            tile_url=env.get("ADUAN_TILE_URL", ""),
            tile_attribution=env.get("ADUAN_TILE_ATTRIBUTION", ""),
            map_center=_center(env.get("ADUAN_MAP_CENTER", "-1.2538,116.8305")),
            cookie_secure=env.get("ADUAN_COOKIE_SECURE", "1").strip().lower()
            not in {"0", "false", "no", "off"},
            argon2_time_cost=int(env.get("ADUAN_ARGON2_TIME_COST", "3")),
            argon2_memory_kib=int(env.get("ADUAN_ARGON2_MEMORY_KIB", "65536")),
            argon2_parallelism=int(env.get("ADUAN_ARGON2_PARALLELISM", "4")),
            proxy_hops=_hops(env.get("ADUAN_PROXY_HOPS", "0")),
        )

    def reply_channels(self) -> frozenset[str]:
        """The notification channels set up (web/notifications.py builds their adapters)."""
        return frozenset(name for name, setting in (
            ("email", self.smtp_host), ("whatsapp", self.whatsapp_url), ("sms", self.sms_url))
            if setting)

    def clock(self) -> Any:
        """The system clock, or a drill's shifted one (only with ADUAN_ALLOW_TIME_TRAVEL=1)."""
        from datetime import timedelta

        from engine import OffsetClock, SystemClock

        if not self.clock_offset_seconds:
            return SystemClock()
        if not self.allow_time_travel:
            raise ValueError("ADUAN_CLOCK_OFFSET_SECONDS needs ADUAN_ALLOW_TIME_TRAVEL=1")
        return OffsetClock(timedelta(seconds=self.clock_offset_seconds))

    def passwords(self) -> Any:
        from workflows.users import Passwords

        return Passwords(self.argon2_time_cost, self.argon2_memory_kib, self.argon2_parallelism)

    def make_engine(self) -> Any:
        from engine import Engine

        self.ensure_sqlite_directory()
        return Engine(self.database_url, clock=self.clock(),
                      script_time_limit_seconds=self.script_time_limit_seconds,
                      timer_lease_seconds=self.timer_lease_seconds,
                      timers_per_transaction=self.timer_per_transaction,
                      timer_threads=self.timer_threads,
                      sandbox_workers=self.sandbox_workers,
                      sandbox_memory_mb=self.sandbox_memory_mb,
                      sandbox_cpu_seconds=self.sandbox_cpu_seconds,
                      sandbox_wall_seconds=self.sandbox_wall_seconds)

    def ensure_sqlite_directory(self) -> None:
        """The default database lives in ./instance/, which may not exist yet."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            Path(self.database_url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
