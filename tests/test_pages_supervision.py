"""The supervisors' SLA board and escalation inbox, through the pages."""

from __future__ import annotations

import re

import pytest
from flask import url_for
from sqlalchemy import select

from workflows import access, board, escalations
from workflows.errors import Conflict, Invalid
from workflows.models import ComplaintEvent, Escalation, User


def open_case(site, agency: str, unit: str | None = None, **fields) -> str:
    """A report verified and disposed at Mon 2 Mar 2026 09:00 (follow-up due Mon 9 Mar)."""
    regency = site.regency
    tracking = regency.submit(photo=True, **fields)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code=agency)
    if unit:
        liaison = {"dinas_pupr": "penghubung.pupr", "dlh": "penghubung.dlh"}[agency]
        regency.act(tracking, "delegate", as_=liaison, unit_code=unit)
    return tracking


def region(page: str, element_id: str) -> str:
    """The HTML of the element with this id, up to its closing tag (sections, tables)."""
    start = page.index(f'id="{element_id}"')
    tag = page.rfind("<", 0, start)
    name = re.match(r"<(\w+)", page[tag:]).group(1)
    return page[tag:page.index(f"</{name}>", start)]


def count_link(page: str, opd: str, rung: str, state: str) -> str | None:
    found = re.search(rf'id="count-{opd}-{rung}-{state}"\s+href="([^"]+)"[^>]*>(\d+)<', page)
    return None if found is None else found.group(2)


def inbox(site, user: str, status: str = "open") -> list[dict]:
    return site.regency.get(f"/api/v1/escalations?status={status}", as_=user)


@pytest.mark.parametrize("user", ["teknis.binamarga", "penghubung.pupr"])
def test_officers_who_do_not_supervise_get_403(site, user):
    site.get("/board", expect=302)  # anonymous: to the sign-in page
    assert site.get("/board", expect=302).headers["Location"].startswith("/login?next=/board")
    site.login(user)
    site.get("/board", expect=403)
    site.post("/board/escalations/1/acknowledge", {}, expect=403)
    site.post("/board/escalations/1/reassign", {"agency_code": "dlh", "reason": "x"},
              expect=403)


def test_the_board_counts_each_supervisors_cases_and_follows_the_clock(site):
    pupr = open_case(site, "dinas_pupr", unit="pupr_bina_marga", title="Jalan berlubang km 5")
    dlh = open_case(site, "dlh", category="waste", title="Sampah menumpuk di TPS")
    site.login("kadis.pupr")
    page = site.text(site.get("/board"))
    assert "Dinas Pekerjaan Umum dan Penataan Ruang" in region(page, "sla-matrix")
    assert 'id="cases-empty"' in page and 'id="inbox-empty"' in page

    site.regency.advance(days=4)  # Fri 6 Mar 09:00: one working day left on the follow-up
    site.login("kadis.pupr")  # a session lasts 10 hours (docs/security.md)
    page = site.text(site.get("/board"))
    cases = region(page, "board-cases")
    assert pupr in cases and dlh not in cases and "Sampah" not in page
    assert "sisa 1 hari kerja" in cases and "sla-amber" in cases
    # the unit holds PUPR's case: due soon at the technical officer's rung
    assert count_link(page, "dinas_pupr", "technical_officer", "due_soon") == "1"
    assert count_link(page, "dinas_pupr", "technical_officer", "overdue") is None

    site.regency.advance(days=3, hours=2)  # Mon 9 Mar 11:00: both deadlines missed
    site.login("kadis.pupr")  # a session lasts 10 hours (docs/security.md)
    page = site.text(site.get("/board"))
    assert count_link(page, "dinas_pupr", "opd", "overdue") == "1"
    assert count_link(page, "dinas_pupr", "opd", "escalated") == "1"
    assert count_link(page, "all", "all", "overdue") == "1"  # only PUPR's, for its head
    assert dlh not in page
    # the escalation came up one rung, from the unit to the OPD's head: kadis.pupr's inbox
    box = region(page, "inbox")
    assert pupr in box and "Kepala OPD" in box and "Jalan berlubang km 5" in box
    assert f'href="/cases/{pupr}"' in box
    cases = region(page, "board-cases")
    assert "terlambat" in cases and "sla-red" in cases and "Kepala OPD" in cases

    site.logout()
    site.login("sekda")  # the regency root: every OPD
    page = site.text(site.get("/board"))
    assert pupr in region(page, "board-cases") and dlh in region(page, "board-cases")
    assert count_link(page, "dinas_pupr", "opd", "escalated") == "1"
    # DLH's liaison held its case: it went up to DLH's head first, as a unit's would
    assert count_link(page, "dlh", "opd", "escalated") == "1"
    assert count_link(page, "all", "all", "overdue") == "2"
    assert dlh in region(page, "inbox") and "Admin instansi (Diskominfo)" not in region(
        page, "inbox")
    # each count lists its cases
    listed = site.text(site.get("/board?opd=dlh&rung=opd&state=escalated"))
    cases = region(listed, "board-cases")
    assert dlh in cases and pupr not in cases
    assert pupr in region(site.text(site.get("/board?state=overdue&opd=dinas_pupr")),
                          "board-cases")
    # bad filters: a clear message, the whole board
    bad = site.text(site.get("/board?state=later&opd=nowhere&inbox=x", expect=422))
    summary = region(bad, "error-summary")
    assert "Pilih" in summary and "Tidak ada instansi" in summary
    assert dlh in region(bad, "board-cases")


def escalated_case(site, agency: str = "dishub") -> str:
    """A street-light report the OPD let slip: escalated to the OPD's head on Mon 9 Mar, and
    on to Diskominfo two working days later (Wed 11 Mar; now 11:00)."""
    tracking = open_case(site, agency, category="street_lights",
                         title="Lampu PJU padam 3 malam")
    site.regency.advance(days=9, hours=2)
    return tracking


def test_acknowledge_and_note_from_the_inbox(site):
    tracking = escalated_case(site)
    [open_one] = inbox(site, "kadis.kominfo")
    number = open_one["id"]
    site.login("kadis.kominfo")
    page = site.text(site.get("/board"))
    assert f'id="escalation-{number}"' in page and "Lampu PJU padam 3 malam" in page

    response = site.post(f"/board/escalations/{number}/acknowledge",
                         {"comment": "Sudah ditegur, mohon segera."}, expect=302)
    assert response.headers["Location"].endswith(f"/board#escalation-{number}")
    assert f"Eskalasi {tracking} diterima." in site.text(site.get("/board"))
    [done] = inbox(site, "kadis.kominfo", "acknowledged")
    assert (done["acknowledged_by"], done["comment"]) == ("kadis.kominfo",
                                                          "Sudah ditegur, mohon segera.")
    # whoever comes second is told, with the inbox as it stands
    again = site.post(f"/board/escalations/{number}/acknowledge", {}, expect=409)
    assert "lebih dulu" in site.text(again)

    # a note: required, kept on the escalation and in the case's internal history
    empty = site.post(f"/board/escalations/{number}/comment", {"comment": "  "}, expect=422)
    form = region(site.text(empty), f"esc-{number}-comment")
    assert "is-invalid" in form and "Tulis catatan" in form
    long = site.post(f"/board/escalations/{number}/comment", {"comment": "x" * 2001},
                     expect=422)
    assert "x" * 2001 in site.text(long)  # the text is kept for the correction
    site.post(f"/board/escalations/{number}/comment",
              {"comment": "Dishub menjanjikan perbaikan Rabu."}, expect=302)
    page = site.text(site.get("/board?inbox=acknowledged"))
    assert "kadis.kominfo: Dishub menjanjikan perbaikan Rabu." in region(page, "inbox")
    officer = site.regency.report(tracking)
    notes = [h for h in officer["history"] if h["kind"] == "escalation_note"]
    assert [(n["actor"], n["text"]) for n in notes] == [
        ("kadis.kominfo", "Dishub menjanjikan perbaikan Rabu.")]
    assert any(h["kind"] == "escalation_acknowledged" for h in officer["history"])
    receipt = site.regency.submit()  # the complainant's view of their own report
    with site.regency.reads() as session:
        events = session.scalars(select(ComplaintEvent).where(
            ComplaintEvent.kind.in_(("escalation_note", "escalation_acknowledged")))).all()
        assert events and not any(e.public for e in events)
    assert receipt["tracking_number"] != tracking
    # not in this supervisor's inbox: 404, nothing changed
    site.logout()
    site.login("kadis.pupr")
    site.post(f"/board/escalations/{number}/comment", {"comment": "x"}, expect=404)
    site.post("/board/escalations/999999/acknowledge", {}, expect=404)


def test_the_complainant_never_reads_the_supervisors_notes(site):
    regency = site.regency
    receipt = regency.submit(photo=True, category="street_lights", title="Lampu PJU padam")
    tracking, secret = receipt["tracking_number"], receipt["secret"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dishub")
    regency.advance(days=9, hours=2)  # Wed 11 Mar: past Dishub's head, at Diskominfo
    [escalation] = inbox(site, "kadis.kominfo")
    site.login("kadis.kominfo")
    site.post(f"/board/escalations/{escalation['id']}/comment",
              {"comment": "Catatan internal untuk Dishub"}, expect=302)
    own = regency.get(f"/api/v1/complaints/{tracking}", secret=secret)
    assert "Catatan internal" not in str(own)
    assert "Catatan internal" in str(regency.report(tracking))


def test_reassign_from_the_inbox(site):
    tracking = escalated_case(site)
    # sekda's inbox holds both rungs the case climbed (Dishub's head, Diskominfo)
    escalation, first = inbox(site, "sekda")
    assert (escalation["rung_name"], first["rung_name"]) == ("regency_admin", "opd")
    number = escalation["id"]
    site.login("sekda")
    page = site.text(site.get("/board"))
    # the board links to the form (fetched by htmx when its section opens): the agency
    # list is not repeated in every card
    assert f'id="esc-{number}-reassign-link"' in page
    assert f'id="esc-{number}-reassign"' not in page
    own_page = site.text(site.get(f"/board/escalations/{number}/reassign"))
    assert f'id="esc-{number}-reassign"' in own_page and "<title>" in own_page
    fragment = site.text(site.get(f"/board/escalations/{number}/reassign",
                                  headers={"HX-Request": "true"}))
    assert f'id="esc-{number}-reassign"' in fragment and "<title>" not in fragment
    assert 'value="dinas_pupr"' in fragment and "csrf_token" in fragment
    # both fields are needed; what was typed stays, in the board's card
    missing = site.post(f"/board/escalations/{number}/reassign",
                        {"agency_code": "dinas_pupr", "reason": ""}, expect=422)
    form = region(site.text(missing), f"esc-{number}-reassign")
    assert 'value="dinas_pupr" selected' in form and "Sebutkan alasan" in form
    unknown = site.post(f"/board/escalations/{number}/reassign",
                        {"agency_code": "nowhere", "reason": "Salah disposisi"}, expect=422)
    form = region(site.text(unknown), f"esc-{number}-reassign")
    assert "Pilih instansi dari daftar" in form and "Salah disposisi" in form

    response = site.post(f"/board/escalations/{number}/reassign",
                         {"agency_code": "dinas_pupr",
                          "reason": "Tiang PJU di jalan kabupaten: urusan PUPR."}, expect=302)
    assert response.headers["Location"].endswith(f"#escalation-{number}")
    page = site.text(site.get("/board"))
    assert f"Laporan {tracking} dialihkan ke Dinas Pekerjaan Umum" in page
    report = site.regency.report(tracking)
    assert report["agency"]["code"] == "dinas_pupr"
    assert any(h["kind"] == "reassign" and "urusan PUPR" in h["text"]
               for h in report["history"])
    assert inbox(site, "sekda") == []  # the move resolved the open escalations
    assert [e["status"] for e in inbox(site, "sekda", "all")] == ["resolved", "resolved"]
    assert len(site.regency.get("/api/v1/tasks", as_="penghubung.pupr")) == 1
    # a resolved escalation takes no more notes
    site.post(f"/board/escalations/{number}/comment", {"comment": "x"}, expect=409)


def test_a_supervisor_reassigns_only_within_their_agency(site):
    tracking = open_case(site, "dinas_pupr", unit="pupr_bina_marga")
    site.regency.advance(days=7, hours=2)
    [escalation] = inbox(site, "kadis.pupr")
    site.login("kadis.pupr")
    page = site.text(site.get(f"/board/escalations/{escalation['id']}/reassign"))
    form = region(page, f"esc-{escalation['id']}-reassign")
    assert "dlh" not in form and "Dinas Pekerjaan Umum" in form
    refused = site.post(f"/board/escalations/{escalation['id']}/reassign",
                        {"agency_code": "dlh", "reason": "Bukan urusan kami"}, expect=403)
    assert "hanya dapat mengalihkan laporan ini di dalam instansi Anda" in site.text(refused)
    assert site.regency.report(tracking)["unit"]["code"] == "pupr_bina_marga"
    site.post(f"/board/escalations/{escalation['id']}/reassign",
              {"agency_code": "dinas_pupr", "reason": "Ditarik ke sekretariat"}, expect=302)
    report = site.regency.report(tracking)
    assert report["agency"]["code"] == "dinas_pupr" and report["unit"] is None


def test_the_inbox_forms_need_the_csrf_token(site):
    escalated_case(site)
    [escalation] = inbox(site, "kadis.kominfo")
    site.login("kadis.kominfo")
    for action in ("acknowledge", "comment", "reassign"):
        site.post(f"/board/escalations/{escalation['id']}/{action}", {"comment": "x"},
                  csrf=False, expect=400)
    assert inbox(site, "kadis.kominfo")[0]["status"] == "open"


def principal(session, username: str):
    user = session.scalars(select(User).where(User.username == username)).one()
    return access.principal_for(session, user)


def test_the_board_and_inbox_use_cases_on_each_database(regency):
    """The board's counts, notes and acknowledgements (one wins) on SQLite and PostgreSQL."""
    receipt = regency.submit(photo=True, category="street_lights", title="Lampu PJU padam")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dishub")
    # missed Mon 9 Mar 09:00 (to Dishub's head), two working days later on to Diskominfo:
    regency.advance(days=9, hours=2)  # Wed 11 Mar 11:00
    now, config = regency.clock.now(), regency.domain.config
    with regency.reads() as session:
        sekda, head = principal(session, "sekda"), principal(session, "kadis.kominfo")
        other = principal(session, "kadis.pupr")
        found = board.sla_board(session, sekda, config, now)
        [row] = [r for r in found["rows"] if r["key"] == "dishub"]
        assert row["cells"]["regency_admin"] == {"due_soon": 0, "overdue": 1, "escalated": 1}
        assert row["open"] == 1 and found["totals"]["total"]["overdue"] == 1
        [case] = found["cases"]
        assert (case["tracking_number"], case["rung"], case["state"], case["escalated"]) == (
            tracking, "regency_admin", "overdue", True)
        assert -2.2 < case["working_days_left"] < -2
        assert board.sla_board(session, sekda, config, now, state="due_soon",
                               opd="dishub")["cases"] == []
        assert board.sla_board(session, other, config, now)["rows"] == []
        with pytest.raises(Invalid) as refused:
            board.sla_board(session, sekda, config, now, state="later", rung="x",
                            opd="nowhere")
        assert set(refused.value.field_errors) == {"state", "rung", "opd"}
        [escalation] = escalations.list_escalations(session, head, now)
        number = escalation["id"]
    with regency.transaction() as session:
        escalations.comment(session, number, head, "Dishub sudah dihubungi", now)
    with pytest.raises(Invalid), regency.transaction() as session:
        escalations.comment(session, number, head, "   ", now)
    with regency.transaction() as session:
        done = escalations.acknowledge(session, number, head, "Diterima", now)
    assert done["comment"] == "kadis.kominfo: Dishub sudah dihubungi\nDiterima"
    with pytest.raises(Conflict), regency.transaction() as session:
        escalations.acknowledge(session, number, sekda, None, now)
    with regency.reads() as session:
        row = session.get(Escalation, number)
        assert (row.status, row.acknowledged_by) == ("acknowledged", "kadis.kominfo")
    kinds = [h["kind"] for h in regency.report(tracking)["history"]]
    assert kinds[-2:] == ["escalation_note", "escalation_acknowledged"]
    own = regency.get(f"/api/v1/complaints/{tracking}", secret=receipt["secret"])
    assert not {"escalation_note", "escalation_acknowledged"} & {h["kind"] for h in own[
        "history"]}


def test_a_confidential_reports_content_stays_with_those_who_handle_it(site):
    tracking = open_case(site, "dishub", category="street_lights",
                         title="Pungli petugas pemasangan PJU", confidential=True,
                         anonymous=True, reporter_name="Siti Pelapor Rahasia")
    site.regency.advance(days=9, hours=2)  # past Dishub's head, on to Diskominfo
    # Diskominfo's head receives the escalation, so oversees the case and reads its title
    # (workflows/access.principal_for); the anonim reporter stays hidden from them.
    site.login("kadis.kominfo")
    page = site.text(site.get("/board"))
    assert tracking in region(page, "board-cases") and tracking in region(page, "inbox")
    assert "Pungli petugas pemasangan PJU" in region(page, "inbox")
    assert "Siti" not in page
    assert "Siti" not in site.text(site.get(f"/cases/{tracking}"))
    site.logout()
    site.login("kadis.pupr")  # another OPD's head: neither the case nor its content
    page = site.text(site.get("/board"))
    assert tracking not in page and "Pungli" not in page
    site.get(f"/cases/{tracking}", expect=404)
    site.logout()
    site.login("sekda")  # above Dishub: handles the case, reads its title; never the name
    page = site.text(site.get("/board"))
    assert "Pungli petugas pemasangan PJU" in region(page, "board-cases")
    assert "Siti" not in page


def test_the_reassign_form_is_only_for_those_who_may_reassign(site):
    escalated_case(site)
    escalation = inbox(site, "sekda")[0]
    site.login("kadis.dlh")  # another OPD's head: not in their inbox
    site.get(f"/board/escalations/{escalation['id']}/reassign", expect=404)
    site.get("/board/escalations/999999/reassign", expect=404)
    site.login("penghubung.pupr")  # not a supervisor
    site.get(f"/board/escalations/{escalation['id']}/reassign", expect=403)


def test_the_boards_table_is_kept_with_its_counts_per_language_and_inbox_view(site):
    """The table of counts is rendered once per counting and kept with the counts
    (web/pages/supervision.py): another language has its own, and a change to the counts
    renders it anew."""
    pupr = open_case(site, "dinas_pupr", unit="pupr_bina_marga", title="Jalan berlubang km 5")
    site.regency.advance(days=7, hours=2)  # overdue and escalated
    site.login("sekda")
    first = region(site.text(site.get("/board")), "sla-matrix")
    assert count_link(first, "dinas_pupr", "opd", "overdue") == "1"
    assert region(site.text(site.get("/board")), "sla-matrix") == first  # kept
    # the count links lead to the list of cases (/cases), whatever the inbox's view
    acknowledged = region(site.text(site.get("/board?inbox=acknowledged")), "sla-matrix")
    assert acknowledged == first and 'href="/cases?board=overdue&amp;rung=opd' in first
    site.get("/language/en", expect=302)
    english = region(site.text(site.get("/board")), "sla-matrix")
    assert "Agency" in english and "Instansi" in first and "Agency" not in first
    site.get("/language/id", expect=302)
    # a second late case: counted again, drawn again
    open_case(site, "dinas_pupr", title="Jalan retak di Jl. Ahmad Yani")
    site.regency.advance(days=7, hours=2)
    site.login("sekda")  # a session lasts 10 hours (docs/security.md)
    again = region(site.text(site.get("/board")), "sla-matrix")
    assert count_link(first, "all", "all", "overdue") == "1"
    assert count_link(again, "all", "all", "overdue") == "2", pupr


def test_the_inbox_cards_post_to_the_routes_of_their_actions(site):
    """The cards build their forms' addresses from one prefix (escalation_url): they must
    be the routes' own."""
    from web.pages.supervision import escalation_url

    with site.regency.client.application.test_request_context():
        for endpoint, action in (("pages.acknowledge_escalation", "acknowledge"),
                                 ("pages.comment_escalation", "comment"),
                                 ("pages.reassign_escalation", "reassign"),
                                 ("pages.reassign_form", "reassign")):
            assert url_for(endpoint, escalation_id=42) == f"{escalation_url(42)}/{action}"


def test_each_kept_inbox_card_carries_the_readers_own_csrf_token(site):
    """The cards are kept rendered across requests and sessions; each reader's page puts its
    own session's CSRF token in every form, and a note cannot pose as the token's place."""
    escalated_case(site)
    [escalation] = inbox(site, "kadis.kominfo")
    number = escalation["id"]
    site.login("kadis.kominfo")
    site.post(f"/board/escalations/{number}/comment",
              {"comment": "Catatan <aduan-csrf-slot> uji"}, expect=302)
    tokens = []
    for _ in range(2):  # two sessions of the same supervisor, the card kept between them
        site.login("kadis.kominfo")
        card = region(site.text(site.get("/board")), f"escalation-{number}")
        found = set(re.findall(r'name="csrf_token" value="([^"]+)"', card))
        assert found == {site.csrf()}, found
        assert "Catatan &lt;aduan-csrf-slot&gt; uji" in card
        tokens.append(found)
    assert tokens[0] != tokens[1]


def test_the_inbox_documents_are_made_once_per_reader_and_follow_every_change(
        regency, monkeypatch):
    """escalations.inbox_page keeps a page's documents per reader with the kept page and the
    agency table they were made from: read again, they are handed out without being made;
    an acknowledgement, a renamed agency or another reader makes them again, and a caller
    changing its list changes nothing kept."""
    from workflows.models import Agency

    receipt = regency.submit(photo=True, category="street_lights", title="Lampu PJU padam")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dishub")
    regency.advance(days=9, hours=2)  # escalated to Diskominfo's head and above
    made: list[str] = []
    document = escalations._document  # noqa: SLF001 - counted, not replaced

    def counted(session, row, reader, complaint=None):
        made.append(reader.username)
        return document(session, row, reader, complaint)

    monkeypatch.setattr(escalations, "_document", counted)

    def inbox_of(user: str) -> list[dict]:
        with regency.reads() as session:
            return regency.domain.supervision.board_page(principal(session, user)).inbox

    first = inbox_of("sekda")
    assert made and first[0]["tracking_number"] == tracking
    made.clear()
    first.clear()  # the caller's own list
    again = inbox_of("sekda")
    assert made == [] and again[0]["tracking_number"] == tracking
    assert [d["status"] for d in again] == [d["status"] for d in inbox_of("sekda")]
    assert inbox_of("kadis.kominfo")
    assert set(made) == {"kadis.kominfo"}  # another reader: their own documents
    made.clear()
    with regency.reads() as session:
        [mine] = [e for e in escalations.list_escalations(
            session, principal(session, "sekda"), regency.clock.now())
            if e["tracking_number"] == tracking][:1]
    with regency.transaction() as session:
        escalations.acknowledge(session, mine["id"], principal(session, "sekda"), "Diterima",
                                regency.clock.now())
    still_open = {d["id"] for d in inbox_of("sekda")}  # the inbox shows the open ones
    assert mine["id"] in {d["id"] for d in again} and mine["id"] not in still_open
    made.clear()
    with regency.transaction() as session:
        session.execute(Agency.__table__.update().where(Agency.code == "dishub").values(
            name="Dinas Perhubungan (baru)"))
    renamed = inbox_of("sekda")
    assert made and "Dinas Perhubungan (baru)" in {
        (d["held_by"] or {}).get("name") for d in renamed}
