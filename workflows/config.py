"""A regency's configuration: tracking numbers, the escalation ladder, photo rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
from zoneinfo import ZoneInfo

# The ladder of SP4N-LAPOR!: the working level (the unit's technical officer, or the OPD's
# liaison when no unit has the report) -> the OPD's head -> regency administrator
# (Diskominfo) -> regional leadership (Sekda / Bupati) -> province.
DEFAULT_LADDER = ("technical_officer", "opd", "regency_admin", "regional_head", "province")
# What people call Indonesia's zones; elsewhere the zone's own abbreviation is used.
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
              "Asia/Jayapura": "WIT"}
RUNG_LABELS = {
    "technical_officer": {"id": "Penghubung OPD / unit kerja", "en": "OPD liaison / unit"},
    "opd": {"id": "Kepala OPD", "en": "OPD head"},
    "regency_admin": {"id": "Admin instansi (Diskominfo)", "en": "Regency administrator"},
    "regional_head": {"id": "Pimpinan daerah (Sekda/Bupati)", "en": "Regional leadership"},
    "province": {"id": "Admin provinsi", "en": "Province administrator"},
}


@dataclass(frozen=True)
class RegencyConfig:
    """Everything that differs between regencies; read once, handed to the services."""

    name: str = "Kabupaten Penajam Paser Utara"
    tracking_prefix: str = "PPU"
    timezone: str = "Asia/Makassar"
    regency_code: str = "ppu"
    province_code: str = "kaltim"
    admin_agency_code: str = "diskominfo"
    ladder: tuple[str, ...] = DEFAULT_LADDER
    rung_budget_days: float = 2.0  # working days each rung has before the next one
    # Tertunda: the working days a report may stay postponed with its clock paused; after
    # them the postponement is late like any deadline (reminded, escalated).
    postpone_max_days: float = 14.0
    ombudsman_days: int = 60
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 5
    open311_requests_per_minute: int = 60  # per Open311 API key (workflows/open311.py)
    # Where citizens open their report (links in their messages), e.g. https://aduan.ppu.go.id
    public_url: str = ""
    # The notification channels set up (email, sms, whatsapp): what a receipt may promise.
    reply_channels: frozenset[str] = frozenset()
    # WhatsApp (workflows/whatsapp.py): the Graph API photos are downloaded from, its access
    # token, and how long a half-written report waits for the citizen's next message.
    whatsapp_graph_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_token: str = field(default="", repr=False)
    whatsapp_conversation_hours: float = 24.0

    def __post_init__(self) -> None:
        unknown = [r for r in self.ladder if r not in RUNG_LABELS]
        if unknown:
            raise ValueError(f"unknown rungs {unknown}; use some of {list(RUNG_LABELS)}")
        missing = [r for r in ("technical_officer", "opd", "regency_admin")
                   if r not in self.ladder]
        if missing or list(self.ladder) != sorted(self.ladder, key=list(RUNG_LABELS).index):
            raise ValueError("the ladder must keep the order technical_officer, opd, "
                             "regency_admin[, regional_head][, province] and hold the first "
                             f"three (missing: {missing})")
        if self.rung_budget_days <= 0:
            raise ValueError("rung_budget_days must be positive")
        if self.postpone_max_days <= 0:
            raise ValueError("postpone_max_days must be positive")

    def rung_index(self, name: str) -> int:
        return self.ladder.index(name)

    @cached_property
    def tzinfo(self) -> tzinfo:
        """The regency's time zone: deadlines, dates and local times are counted in it."""
        return ZoneInfo(self.timezone)

    @property
    def zone_name(self) -> str:
        """How local times are labelled: "WITA" for Asia/Makassar."""
        named = ZONE_NAMES.get(self.timezone)
        return named or datetime(2000, 1, 1, tzinfo=self.tzinfo).tzname() or self.timezone
