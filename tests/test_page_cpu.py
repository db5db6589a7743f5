"""What the pages keep per process or skip per request to spend less CPU on each (BENCHMARKS.md,
"Pages' CPU per request"), and that it changes nothing they show: rows of the worklist and
of the SLA board kept rendered (web/pages/kept.py) change at once, each reader gets their own
CSRF token and address, a row kept for one officer never shows another what they may not
see; the session's cookie is sent only when the session changes."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from tests.pages import CSRF, Site
from web.pages import case_forms, staff, supervision
from workflows.models import Complaint


def row_of(page: str, tracking: str) -> str:
    start = page.rindex("<tr", 0, page.index(f'data-tracking="{tracking}"'))
    return page[start:page.index("</tr>", start)]


def task_of(site: Site, tracking: str) -> str:
    with site.regency.reads() as session:
        instance = session.scalars(select(Complaint.instance_id).where(
            Complaint.tracking_number == tracking)).one()
    return site.regency.engine.tasks(instance_id=instance)[0]["id"]


def second_admin(site: Site) -> Site:
    from workflows.users import create_user

    with site.regency.transaction() as session:
        create_user(session, site.regency.domain.context.passwords,
                    username="admin2.kominfo", full_name="Admin Kedua",
                    roles=["regency_admin"], agency_code="diskominfo",
                    now=site.regency.clock.now(), password="aduan-demo-2026")
    return Site(site.regency).login("admin2.kominfo")


def test_a_kept_worklist_row_changes_as_soon_as_its_task_does(site):
    tracking = site.regency.submit(photo=True, title="Lampu jalan padam")["tracking_number"]
    task = task_of(site, tracking)
    site.login("admin.kominfo")
    row = row_of(site.text(site.get("/tasks?show=all")), tracking)
    assert "Belum diambil" in row and f"/tasks/{task}/claim" in row
    rendered = staff.KEPT_ROWS.rendered
    site.get("/tasks?show=all")
    assert staff.KEPT_ROWS.rendered == rendered  # the same rows: put together, not rendered

    other = second_admin(site)
    other_row = row_of(other.text(other.get("/tasks?show=all")), tracking)
    other.post(f"/tasks/{task}/claim", expect=303)
    # the other administrator's claim shows on the first one's page at once
    row = row_of(site.text(site.get("/tasks?show=all")), tracking)
    assert "admin2.kominfo" in row and "Belum diambil" not in row
    assert f"/tasks/{task}/claim" not in row  # (an administrator may release it)
    mine = row_of(other.text(other.get("/tasks?show=all")), tracking)
    assert 'badge text-bg-primary">Anda' in mine and f"/tasks/{task}/release" in mine
    assert mine != other_row
    # the title changed by the report's own page shows at once too
    with site.regency.transaction() as session:
        session.get(Complaint, session.scalars(select(Complaint.id).where(
            Complaint.tracking_number == tracking)).one()).title = "Lampu jalan mati total"
    assert "Lampu jalan mati total" in row_of(site.text(site.get("/tasks?show=all")),
                                              tracking)
    # and the language switch
    site.client.set_cookie("aduan_lang", "en")
    assert "Unclaimed" not in row_of(site.text(site.get("/tasks?show=all")), tracking)
    assert "admin2.kominfo" in row_of(site.text(site.get("/tasks?show=all")), tracking)


def test_each_kept_worklist_row_carries_the_readers_own_token_and_address(site):
    tracking = site.regency.submit(photo=True)["tracking_number"]
    site.login("admin.kominfo")
    other = second_admin(site)
    for reader, address in ((site, "/tasks?show=all"), (other, "/tasks?sort=newest")):
        page = reader.text(reader.get(address))
        token = CSRF.search(page).group(1)  # the page's own (its header's) token
        row = row_of(page, tracking)
        assert f'name="csrf_token" value="{token}"' in row
        assert f'name="next" value="{address.replace("&", "&amp;")}"' in row
        assert "aduan-csrf-slot" not in page and "aduan-next-slot" not in page
    assert CSRF.search(site.text(site.get("/tasks"))).group(1) != CSRF.search(
        other.text(other.get("/tasks"))).group(1)


def test_a_kept_worklist_row_is_never_another_agencys(site):
    regency = site.regency
    screening = regency.submit(photo=True, title="Drainase tersumbat")["tracking_number"]
    pupr = regency.submit(photo=True, title="Jalan berlubang km 7")["tracking_number"]
    regency.act(pupr, "verify", as_="admin.kominfo")
    regency.act(pupr, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    site.login("admin.kominfo")
    page = site.text(site.get("/tasks?show=all"))
    assert screening in page and pupr not in page
    liaison = Site(regency).login("penghubung.pupr")
    page = liaison.text(liaison.get("/tasks?show=all"))
    assert pupr in page and screening not in page and "Drainase" not in page
    dlh = Site(regency).login("penghubung.dlh")
    page = dlh.text(dlh.get("/tasks?show=all"))
    assert pupr not in page and screening not in page and "Jalan berlubang" not in page


def open_case(site: Site, agency: str, **fields) -> str:
    regency = site.regency
    tracking = regency.submit(photo=True, **fields)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code=agency)
    return tracking


def test_a_kept_board_row_follows_the_clock_and_the_reader(site):
    pupr = open_case(site, "dinas_pupr", title="Jalan berlubang km 5")
    dlh = open_case(site, "dlh", category="waste", title="Sampah menumpuk di TPS")
    site.regency.advance(days=4)  # one working day left on both follow-ups
    site.login("sekda")
    page = site.text(site.get("/board"))
    row = row_of(page, pupr)
    assert "sisa 1 hari kerja" in row and "sla-amber" in row and dlh in page
    rendered = supervision.KEPT_CASES.rendered
    site.get("/board")
    assert supervision.KEPT_CASES.rendered == rendered
    head = Site(site.regency).login("kadis.pupr")  # PUPR's head: PUPR's case alone
    page = head.text(head.get("/board"))
    assert pupr in page and dlh not in page and "Sampah" not in page
    site.regency.advance(days=3, hours=2)  # both deadlines missed
    site.login("sekda")
    row = row_of(site.text(site.get("/board")), pupr)
    assert "terlambat" in row and "sla-red" in row and "sisa" not in row
    site.client.set_cookie("aduan_lang", "en")
    row = row_of(site.text(site.get("/board")), pupr)
    assert "late" in row and re.search(r"terlambat", row) is None


def test_the_session_cookie_is_sent_when_it_changes_only(site):
    """The server ends a session SESSION_HOURS after sign-in, so the cookie set at sign-in
    lasts as long: pages that change nothing in the session do not sign and send it again."""
    response = site.post("/login", {"username": "penghubung.pupr",
                                    "password": "aduan-demo-2026"}, expect=302)
    signed = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("aduan_session="))
    assert "Expires=" in signed  # permanent: the browser keeps it SESSION_HOURS
    for path in ("/tasks", "/cases", "/"):
        answer = site.get(path)
        assert not [c for c in answer.headers.getlist("Set-Cookie")
                    if c.startswith("aduan_session=")], path
    # a change to the session (a flashed message on signing out) is still sent
    site.get("/tasks")
    out = site.client.post("/logout", data={"csrf_token": CSRF.search(
        site.text(site.get("/tasks"))).group(1)})
    assert any(c.startswith("aduan_session=") for c in out.headers.getlist("Set-Cookie"))


def test_the_static_addresses_kept_by_the_templates_follow_the_sites_address(site):
    """web/app.templates_url_for keeps a static file's address per site address: a
    deployment under a path prefix (SCRIPT_NAME, behind a proxy) gets its own."""
    plain = site.text(site.get("/"))
    assert 'href="/static/css/aduan.css"' in plain
    prefixed = site.client.get("/", environ_overrides={"SCRIPT_NAME": "/aduan"})
    assert 'href="/aduan/static/css/aduan.css"' in site.text(prefixed)
    assert 'href="/static/css/aduan.css"' in site.text(site.get("/"))


def forms_of(page: str) -> str:
    start = page.index('<section id="actions"')
    return page[start:page.index("</section>", start)]


def version_of(site: Site, tracking: str) -> int:
    with site.regency.reads() as session:
        return session.scalars(select(Complaint.version).where(
            Complaint.tracking_number == tracking)).one()


def test_kept_action_forms_carry_each_reports_address_version_and_the_readers_token(site):
    first = site.regency.submit(photo=True)["tracking_number"]
    second = site.regency.submit(photo=True)["tracking_number"]
    with site.regency.transaction() as session:  # the second report changed more often
        session.execute(text("UPDATE complaint SET version = version + 4 "
                             "WHERE tracking_number = :t"), {"t": second})
    assert version_of(site, first) != version_of(site, second)
    site.login("admin.kominfo")
    site.get(f"/cases/{first}")
    rendered = case_forms.KEPT_FORMS.rendered
    other = second_admin(site)
    for reader in (site, other):
        for tracking in (first, second):
            page = reader.text(reader.get(f"/cases/{tracking}"))
            forms = forms_of(page)
            token = CSRF.search(page).group(1)
            assert forms.count('<form method="post"') >= 3  # verify, archive, request_info...
            assert forms.count(f'action="/cases/{tracking}/actions/') == \
                forms.count('<form method="post"')
            assert forms.count(f'name="version" value="{version_of(site, tracking)}"') == \
                forms.count('<form method="post"')
            assert forms.count(f'name="csrf_token" value="{token}"') == \
                forms.count('<form method="post"')
            assert "aduan-" not in forms
    # the same forms for two reports at one stage and two readers: rendered once each
    assert case_forms.KEPT_FORMS.rendered == rendered


def test_a_kept_action_form_changes_as_soon_as_what_it_shows_does(site):
    from tests.test_admin_agencies import ADMIN
    from tests.test_admin_agencies import version as agency_version

    tracking = site.regency.submit(photo=True)["tracking_number"]
    site.regency.act(tracking, "verify", as_="admin.kominfo")  # the disposition's form
    site.login("admin.kominfo")
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Dinas Pekerjaan Umum" in forms_of(page)
    # an agency renamed (with text that looks like a slot): its option, escaped, at once
    site.regency.domain.agencies.rename(ADMIN, "dinas_pupr", "Dinas PU <aduan-version-slot>",
                                        agency_version(site.regency, "dinas_pupr"))
    forms = forms_of(site.text(site.get(f"/cases/{tracking}")))
    assert "Dinas PU &lt;aduan-version-slot&gt;" in forms
    assert f'name="version" value="{version_of(site, tracking)}"' in forms
    # and the language
    site.client.set_cookie("aduan_lang", "en")
    forms = forms_of(site.text(site.get(f"/cases/{tracking}")))
    assert "Dispose" in forms or "Disposition" in forms
    # a form sent and refused comes back open with what was typed; the others stay closed
    page = site.text(site.post(f"/cases/{tracking}/actions/dispose", data={
        "version": str(version_of(site, tracking)), "handler": "unit",
        "note": "Segera tangani (uji)"}, expect=422))
    forms = forms_of(page)
    assert 'id="action-dispose" open' in forms and "Segera tangani (uji)" in forms
    assert forms.count(" open>") == 1


def test_a_page_reads_its_officer_the_tokens_and_the_logs_mark_in_one_statement(site):
    """A page's first statement, its signed-in officer's, also brings the configuration's
    tokens and where the change log stands (workflows/sessions.py): no statement of their
    own on the board or the worklist; and a write between two readings shows on the next."""
    from sqlalchemy import event

    tracking = open_case(site, "dinas_pupr", title="Jalan berlubang km 7")
    site.regency.advance(days=4)
    site.login("admin.kominfo")
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    db = site.regency.engine.store.db
    event.listen(db, "before_cursor_execute", note)
    try:
        for path in ("/board", "/tasks", "/board"):
            sent.clear()
            page = site.text(site.get(path))
            alone = [s for s in sent if re.search(
                r"^\s*SELECT (pg_current_snapshot|CAST\(\(SELECT coalesce\(max\(id\)|"
                r"config_revision)", s)]
            first = next(s for s in sent if s.lstrip().startswith("SELECT"))
            assert alone == [] and "case_change_position" in first, (path, sent[:2])
        assert tracking in page
        sent.clear()  # the JSON API: the bearer token's statement brings them along too
        assert site.regency.get("/api/v1/complaints?overdue=true", as_="admin.kominfo")
        first = next(s for s in sent if s.lstrip().startswith("SELECT"))
        assert "api_token" in first and "case_change_position" in first
        assert not [s for s in sent if re.search(r"^\s*SELECT (pg_current_snapshot|CAST\(\("
                                                 r"SELECT coalesce\(max\(id\)|config_revision)", s)]
        other = open_case(site, "dinas_pupr", title="Jembatan retak km 9")
        site.regency.advance(days=7)  # a week: its follow-up is due
        site.login("admin.kominfo")  # the session has ended meanwhile
        assert other in site.text(site.get("/board"))
    finally:
        event.remove(db, "before_cursor_execute", note)
