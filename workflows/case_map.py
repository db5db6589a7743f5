"""The map of the open cases: counted per square of a grid (the map's zoom chooses its size)
and per kelurahan, in the database, so that a regency's 100,000 open reports cost a few
hundred rows, never a marker each. Each square's and kelurahan's counts link to the list of
their cases (workflows/case_filters.py: ``area``, ``kelurahan``), scoped as that list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, cast, func, select, text
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from workflows import access, documents
from workflows.errors import Invalid, Message
from workflows.models import OPEN_PREDICATE, Complaint

MIN_ZOOM, MAX_ZOOM = 3, 18
CELLS_ACROSS = 4  # squares per map tile's width: a square is about 64 pixels
MAX_KELURAHAN = 200  # rows of the kelurahan table


def cell_size(zoom: int) -> float:
    """The side of a square of the grid at this zoom, in degrees (a power of two, so that its
    bounds are exact in floating point)."""
    return 360.0 / (2 ** zoom) / CELLS_ACROSS


def late_condition(now: datetime) -> Any:
    """An open report is late when one of its government deadlines runs past its due time
    (the list's deadline=any&deadline_state=overdue)."""
    from workflows.case_filters import deadline_condition  # which filters by area: here

    return deadline_condition("any", "overdue", now)


def parse_box(text_value: str | None) -> tuple[float, float, float, float] | None:
    """'south,west,north,east' in degrees; Invalid names ``bbox`` when it is not."""
    if not text_value:
        return None
    refused = Invalid("the map's box is not valid",
                      {"bbox": Message("write south,west,north,east in degrees")})
    try:
        south, west, north, east = (float(part) for part in text_value.split(","))
    except ValueError as exc:
        raise refused from exc
    if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
        raise refused
    return south, west, north, east


def grid(session: Session, principal: access.Principal, now: datetime, zoom: int,
         box: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """The open reports with a position, in the caller's scope and ``box``, counted per
    square of the grid of ``zoom``: each square's bounds, the mean position of its reports
    (where its marker goes), how many are open and how many late."""
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise Invalid("the map's zoom is not valid", {"zoom": Message(
            "a whole number from %(low)s to %(high)s", low=MIN_ZOOM, high=MAX_ZOOM)})
    size = cell_size(zoom)
    where = _open_in_scope(principal)
    where += [Complaint.latitude.is_not(None), Complaint.longitude.is_not(None)]
    if box is not None:  # whole squares, so that each counts all it holds
        south, west, north, east = box
        where.append(area_condition((
            -90.0 + int((south + 90.0) // size) * size,
            -180.0 + int((west + 180.0) // size) * size,
            -90.0 + (int((north + 90.0) // size) + 1) * size,
            -180.0 + (int((east + 180.0) // size) + 1) * size)))
    postgres = session.get_bind().dialect.name == "postgresql"

    def index(column: Any, origin: float) -> Any:
        shifted = (column + origin) / size
        return cast(func.floor(shifted), Integer) if postgres else cast(shifted, Integer)

    row_i, col_i = index(Complaint.latitude, 90.0), index(Complaint.longitude, 180.0)
    inner = select(row_i.label("i"), col_i.label("j"), Complaint.latitude,
                   Complaint.longitude,
                   sql_case((late_condition(now), 1), else_=0).label("late")
                   ).where(*where).subquery()
    cells = []
    for i, j, count, late, lat, lon in session.execute(
            select(inner.c.i, inner.c.j, func.count(), func.sum(inner.c.late),
                   func.avg(inner.c.latitude), func.avg(inner.c.longitude))
            .group_by(inner.c.i, inner.c.j)):
        south, west = -90.0 + i * size, -180.0 + j * size
        cells.append({"area": area_text(south, west, south + size, west + size),
                      "lat": round(float(lat), 6), "lon": round(float(lon), 6),
                      "open": int(count), "late": int(late or 0)})
    cells.sort(key=lambda c: -c["open"])
    return {"zoom": zoom, "cell_degrees": size, "cells": cells,
            "open": sum(c["open"] for c in cells), "late": sum(c["late"] for c in cells)}


def by_kelurahan(session: Session, principal: access.Principal, now: datetime
                 ) -> dict[str, Any]:
    """The open reports in the caller's scope per kelurahan (those that name one), the most
    first: how many are open and how many late; and how many name none."""
    late = sql_case((late_condition(now), 1), else_=0)
    rows = session.execute(
        select(Complaint.kelurahan, func.count(), func.sum(late))
        .where(*_open_in_scope(principal)).group_by(Complaint.kelurahan)).all()
    named = sorted(((k, int(n), int(m or 0)) for k, n, m in rows if k),
                   key=lambda r: (-r[1], r[0]))
    unnamed = [(int(n), int(m or 0)) for k, n, m in rows if not k]
    return {"rows": [{"kelurahan": k, "open": n, "late": m}
                     for k, n, m in named[:MAX_KELURAHAN]],
            "more": max(0, len(named) - MAX_KELURAHAN),
            "unnamed": {"open": sum(n for n, _ in unnamed),
                        "late": sum(m for _, m in unnamed)}}


def area_text(south: float, west: float, north: float, east: float) -> str:
    return ",".join(repr(float(v)) for v in (south, west, north, east))


def area_condition(box: tuple[float, float, float, float]) -> Any:
    """Reports in a square of the grid: its south and west edges in, its north and east
    edges out (they belong to the next squares), as grid() counts them."""
    south, west, north, east = box
    return and_(Complaint.latitude >= south, Complaint.latitude < north,
                Complaint.longitude >= west, Complaint.longitude < east)


def _open_in_scope(principal: access.Principal) -> list[Any]:
    where: list[Any] = [text(OPEN_PREDICATE)]
    scope = documents.visible_filter(principal)
    if scope is not None:
        where.append(scope)
    return where
