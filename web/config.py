"""Settings read once at the edge from ADUAN_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SQLITE = "sqlite:///" + str(Path("instance") / "aduan.db")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_SQLITE
    allow_time_travel: bool = False
    script_time_limit_seconds: float = 1.0
    timer_sweep_seconds: float = 5.0
    timer_batch: int = 100
    secret_key: str = field(default="", repr=False)
    debug: bool = False
    tracking_prefix: str = "PPU"
    ladder: tuple[str, ...] = ("technical_officer", "opd", "regency_admin", "regional_head",
                               "province")
    rung_budget_days: float = 2.0
    upload_dir: str = str(Path("instance") / "uploads")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=env.get("ADUAN_DATABASE_URL") or DEFAULT_SQLITE,
            allow_time_travel=_flag(env.get("ADUAN_ALLOW_TIME_TRAVEL")),
            script_time_limit_seconds=float(env.get("ADUAN_SCRIPT_TIME_LIMIT", "1.0")),
            timer_sweep_seconds=float(env.get("ADUAN_TIMER_SWEEP_SECONDS", "5")),
            timer_batch=int(env.get("ADUAN_TIMER_BATCH", "100")),
            secret_key=env.get("ADUAN_SECRET_KEY", ""),
            debug=_flag(env.get("ADUAN_DEBUG")),
            tracking_prefix=env.get("ADUAN_TRACKING_PREFIX", "PPU"),
            ladder=tuple(r.strip() for r in env.get(
                "ADUAN_LADDER", "technical_officer,opd,regency_admin,regional_head,province"
            ).split(",") if r.strip()),
            rung_budget_days=float(env.get("ADUAN_RUNG_BUDGET_DAYS", "2")),
            upload_dir=env.get("ADUAN_UPLOAD_DIR") or str(Path("instance") / "uploads"),
        )

    def ensure_sqlite_directory(self) -> None:
        """The default database lives in ./instance/, which may not exist yet."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            Path(self.database_url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
