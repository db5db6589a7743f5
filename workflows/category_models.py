"""The report categories (workflows/categories.py): their codes, names in Indonesian and
English, whether a photo is required before verification, whether new reports may choose
them, and their order on the forms. Seeded by migration 0019 with the shipped categories."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base


class Category(Base):
    """One category. `code` is what reports, the routing table (bpmn/routing.dmn), Open311
    and SMS keywords name; it never changes. A deactivated category is not offered on new
    reports; reports filed under it keep it. `version` grows with every change (a form's
    version, and the per-process cache's stamp)."""

    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    description_id: Mapped[str | None] = mapped_column(Text)
    photo_required: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
