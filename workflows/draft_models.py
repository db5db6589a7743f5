"""The studio's drafts table: diagrams a process designer is working on, not yet deployed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class StudioDraft(Base):
    """Several files (.bpmn, .dmn, .json) saved as one unit; `version` counts the saves, so
    that of two saves from the same version one wins and the other is told (workflows/drafts.py)."""

    __tablename__ = "studio_draft"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    process_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    files: Mapped[dict] = mapped_column(JSON)  # file name -> text
    based_on_version: Mapped[int | None] = mapped_column(Integer)  # None: the shipped files
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    saved_by: Mapped[str] = mapped_column(String(80))
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
