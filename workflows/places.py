"""The regency's places as a citizen names them: kecamatan and their kelurahan (or desa).

They come from the agency tree (agencies of kind "kecamatan", "kelurahan" and "desa"), so a
regency that loads its administrative areas as agencies gets them on the report form with
no other list to keep. Names drop the "Kecamatan"/"Kelurahan"/"Desa" prefix, as people
write them ("Nipah-Nipah", "Penajam").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import Agency

PREFIXES = ("kecamatan ", "kelurahan ", "desa ", "kel. ", "kec. ")


@dataclass(frozen=True)
class Place:
    name: str
    kecamatan: str | None = None  # the kecamatan a kelurahan or desa belongs to


@dataclass(frozen=True)
class Places:
    kecamatan: tuple[Place, ...]
    kelurahan: tuple[Place, ...]


def short_name(name: str) -> str:
    """'Kelurahan Nipah-Nipah' -> 'Nipah-Nipah'."""
    lowered = name.lower()
    for prefix in PREFIXES:
        if lowered.startswith(prefix):
            return name[len(prefix):].strip()
    return name.strip()


def regency_places(session: Session) -> Places:
    """Active kecamatan and kelurahan/desa of the agency tree, sorted by name."""
    rows = session.execute(select(Agency.id, Agency.name, Agency.kind, Agency.parent_id).where(
        Agency.active.is_(True), Agency.kind.in_(("kecamatan", "kelurahan", "desa")))).all()
    kecamatan = {row.id: short_name(row.name) for row in rows if row.kind == "kecamatan"}
    villages = [Place(short_name(row.name), kecamatan.get(row.parent_id))
                for row in rows if row.kind != "kecamatan"]
    return Places(
        kecamatan=tuple(sorted((Place(name) for name in set(kecamatan.values())),
                               key=lambda p: p.name.lower())),
        kelurahan=tuple(sorted(set(villages), key=lambda p: (p.name.lower(),
                                                              p.kecamatan or ""))))
