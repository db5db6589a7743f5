"""What a domain verb reads (workflows/actions.py): the report, its running and paused SLA
records and the configuration's tokens come by one statement under the instance's lock, and
the diagram's services use them (no second read of the records, no read of the tokens),
with the same records written as when they read them again (issue 17)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from tests.regency import PHOTO
from workflows import access
from workflows.models import SlaRecord
from workflows.storage import Upload

REPORT = {"classification": "pengaduan", "category": "roads", "title": "Jalan berlubang",
          "body": "Lubang besar di Jalan Propinsi depan pasar, sudah dua motor jatuh.",
          "reporter_name": "Budi", "reporter_email": "budi@example.org",
          "latitude": -1.2538, "longitude": 116.8305, "kelurahan": "Nipah-Nipah",
          "kecamatan": "Penajam"}


def _selects(regency: Any, run: Any) -> list[str]:
    texts: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        texts.append(" ".join(statement.split()))

    db = regency.engine.store.db
    event.listen(db, "before_cursor_execute", keep)
    try:
        run()
    finally:
        event.remove(db, "before_cursor_execute", keep)
    return [t for t in texts if t.startswith("SELECT")]


def _records(regency: Any) -> list[tuple[str, str]]:
    with regency.engine.store.read() as session:
        return [tuple(row) for row in session.execute(
            select(SlaRecord.step, SlaRecord.state).order_by(SlaRecord.id))]


def test_a_verb_reads_the_report_its_records_and_tokens_once(regency: Any) -> None:
    domain, clock = regency.domain, regency.clock
    accounts = domain.accounts
    admin = accounts.authenticate_token(regency.tokens["admin.kominfo"])
    liaison = accounts.authenticate_token(regency.tokens["penghubung.pupr"])
    number = domain.reports.submit(REPORT, [Upload("lubang.jpg", PHOTO)],
                                   channel="web")["tracking_number"]
    steps = (("verify", {}, admin), ("dispose", {"agency_code": "dinas_pupr"}, admin),
             ("respond", {"answer": "Sudah ditambal."}, liaison),
             ("rate", {"rating": 5}, access.complainant(number)))
    seen = []
    for verb, body, who in steps:
        clock.advance(timedelta(hours=1))
        selects = _selects(regency, lambda v=verb, b=body, w=who:
                           domain.reports.act(number, v, b, w))
        reads = [t for t in selects if " FROM complaint " in f"{t} "
                 or " FROM sla_record " in f"{t} " or "FROM config_revision" in t]
        assert len(reads) == 1, (verb, reads)  # the one statement of the verb's check
        assert " JOIN sla_record " in reads[0] and "config_revision" in reads[0]
        seen.append((verb, _records(regency)))
    assert seen == [
        ("verify", [("verification", "running")]),
        ("dispose", [("verification", "met"), ("follow_up", "running"),
                     ("resolution", "running")]),
        ("respond", [("verification", "met"), ("follow_up", "met"), ("resolution", "met"),
                     ("complainant_window", "running")]),
        ("rate", [("verification", "met"), ("follow_up", "met"), ("resolution", "met"),
                  ("complainant_window", "met")]),
    ]
