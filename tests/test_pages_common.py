"""Sign-in, sessions, CSRF, the language switch and the headers every page carries."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.pages import CSRF
from workflows import throttle
from workflows.models import User


def test_home_page_speaks_indonesian_by_default_and_english_when_switched(site):
    page = site.text(site.get("/"))
    assert '<html lang="id">' in page
    assert "Buat laporan" in page and "Lacak laporan" in page and "Statistik" in page
    response = site.get("/language/en?next=/", expect=302)
    assert response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "aduan_lang=en" in cookie and "Max-Age=31536000" in cookie
    page = site.text(site.get("/"))
    assert '<html lang="en">' in page and "File a report" in page
    site.get("/language/id", expect=302)
    assert "Buat laporan" in site.text(site.get("/"))


def test_one_visitors_language_does_not_carry_over_to_the_next_request(site):
    """The request's language is kept for the request only (web/i18n.py): the next request
    in the same server thread, from a visitor without a choice, is in Indonesian."""
    client = site.regency.client.application.test_client()
    client.set_cookie("aduan_lang", "en")
    english = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in english
    client.delete_cookie("aduan_lang")
    plain = client.get("/").get_data(as_text=True)
    assert '<html lang="id">' in plain and "Buat laporan" in plain
    with site.regency.client.application.app_context():
        from web.i18n import current_language

        assert current_language() == "id"  # outside a request: the default


def test_language_switch_never_redirects_to_another_site(site):
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = site.get(f"/language/en?next={target}", expect=302)
        assert response.headers["Location"] == "/"


def test_pages_carry_security_headers(site):
    response = site.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_sign_in_and_out(site):
    response = site.post("/login", {"username": "penghubung.pupr",
                                    "password": "aduan-demo-2026"}, expect=302)
    assert response.headers["Location"] == "/tasks"
    # the session's cookie (beside it, the account's language: web/pages/account.py)
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("aduan_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=Lax" in cookie
    assert "Sekretaris Dinas PUPR" in site.text(site.get("/"))
    site.logout()
    assert "Sekretaris Dinas PUPR" not in site.text(site.get("/"))


def test_supervisors_land_on_the_sla_board(site):
    response = site.post("/login", {"username": "kadis.pupr",
                                    "password": "aduan-demo-2026"}, expect=302)
    assert response.headers["Location"] == "/board"


def test_wrong_password_says_so_without_revealing_which_part(site):
    for username in ("penghubung.pupr", "nobody.here"):
        response = site.post("/login", {"username": username, "password": "wrong-password"},
                             expect=401)
        assert "Nama pengguna atau kata sandi salah." in site.text(response)


def test_empty_fields_are_named(site):
    response = site.post("/login", {"username": "", "password": ""}, expect=422)
    page = site.text(response)
    assert "Isi nama pengguna Anda." in page and "Isi kata sandi Anda." in page
    assert 'aria-describedby="e-username"' in page


def test_lockout_after_five_failures_then_unlocked_after_fifteen_minutes(site):
    for _ in range(throttle.LOCK_AFTER_FAILURES):
        site.post("/login", {"username": "penghubung.pupr", "password": "nope-nope"},
                  expect=401)
    # Even the right password is refused while locked.
    response = site.post("/login", {"username": "penghubung.pupr",
                                    "password": "aduan-demo-2026"}, expect=429)
    assert "dikunci" in site.text(response)
    # Another account from the same address is not locked.
    site.post("/login", {"username": "penghubung.dlh", "password": "aduan-demo-2026"},
              expect=302)
    site.logout()
    site.regency.clock.advance(timedelta(minutes=throttle.LOCK_MINUTES + 1))
    site.post("/login", {"username": "penghubung.pupr", "password": "aduan-demo-2026"},
              expect=302)


def test_unknown_usernames_lock_too(site):
    for _ in range(throttle.LOCK_AFTER_FAILURES):
        site.post("/login", {"username": "ghost", "password": "nope-nope"}, expect=401)
    site.post("/login", {"username": "ghost", "password": "nope-nope"}, expect=429)


def test_one_address_is_throttled_across_usernames(site):
    for n in range(throttle.MAX_FAILURES_PER_ADDRESS):
        site.post("/login", {"username": f"guess{n}", "password": "nope-nope"}, expect=401)
    response = site.post("/login", {"username": "penghubung.pupr",
                                    "password": "aduan-demo-2026"}, expect=429)
    assert "alamat ini" in site.text(response)


def test_posts_without_the_csrf_token_are_refused(site):
    site.get("/login")
    response = site.post("/login", {"username": "penghubung.pupr",
                                    "password": "aduan-demo-2026"}, csrf=False, expect=400)
    assert "kedaluwarsa" in site.text(response)
    response = site.post("/login", {"username": "penghubung.pupr", "password": "x",
                                    "csrf_token": "forged"}, csrf=False, expect=400)
    site.login("penghubung.pupr")
    site.post("/logout", csrf=False, expect=400)
    assert "Sekretaris Dinas PUPR" in site.text(site.get("/"))


def test_the_api_needs_no_csrf_token(site):
    response = site.client.post("/api/v1/complaints", json={})
    assert response.status_code == 422  # validation, not a CSRF refusal


def test_next_goes_back_to_the_page_asked_for_but_never_off_site(site):
    response = site.get("/tasks", expect=302)
    assert response.headers["Location"].startswith("/login?next=/tasks")
    response = site.post("/login", {"username": "penghubung.pupr",
                                    "password": "aduan-demo-2026", "next": "/cases"},
                         expect=302)
    assert response.headers["Location"] == "/cases"
    site.logout()
    response = site.post("/login", {"username": "penghubung.pupr",
                                    "password": "aduan-demo-2026",
                                    "next": "https://evil.example/"}, expect=302)
    assert response.headers["Location"] == "/tasks"


def replay(site, cookie: str) -> Any:
    """Another browser holding a copy of the session cookie asks for the worklist."""
    thief = site.regency.client.application.test_client()
    thief.set_cookie("aduan_session", cookie)
    return thief.get("/tasks")


def test_a_session_cookie_copied_before_signing_out_opens_nothing_afterwards(site):
    site.login("penghubung.pupr")
    copied = site.client.get_cookie("aduan_session").value
    assert replay(site, copied).status_code == 200
    site.logout()
    response = replay(site, copied)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/tasks")


def test_a_new_password_or_a_disabled_account_ends_the_sessions_through_the_use_cases(site):
    accounts = site.regency.domain.accounts
    site.login("penghubung.pupr")
    copied = site.client.get_cookie("aduan_session").value
    accounts.set_password("penghubung.pupr", "a-new-password-2026")
    assert replay(site, copied).status_code == 302
    site.get("/tasks", expect=302)
    site.login("penghubung.pupr", "a-new-password-2026")
    copied = site.client.get_cookie("aduan_session").value
    accounts.set_active("penghubung.pupr", False)
    assert replay(site, copied).status_code == 302
    site.get("/tasks", expect=302)


def test_a_disabled_accounts_api_token_is_refused(site):
    regency = site.regency
    assert regency.client.get("/api/v1/tasks", headers=regency.headers(
        "penghubung.pupr")).status_code == 200
    regency.domain.accounts.set_active("penghubung.pupr", False)
    response = regency.client.get("/api/v1/tasks", headers=regency.headers("penghubung.pupr"))
    assert response.status_code == 401
    assert "disabled" in response.get_json()["error"]["message"]


def from_address(site, address: str, username: str, password: str) -> Any:
    return site.post("/login", {"username": username, "password": password},
                     environ_base={"REMOTE_ADDR": address})


def test_wrong_passwords_from_one_address_lock_that_address_not_the_owner(site):
    for _ in range(throttle.LOCK_AFTER_FAILURES):
        assert from_address(site, "203.0.113.9", "admin.kominfo",
                            "nope-nope").status_code == 401
    refused = from_address(site, "203.0.113.9", "admin.kominfo", "aduan-demo-2026")
    assert refused.status_code == 429
    assert "dikunci untuk alamat ini" in site.text(refused)
    assert from_address(site, "10.1.2.3", "admin.kominfo",
                        "aduan-demo-2026").status_code == 302


def test_guessing_from_many_addresses_slows_the_account_down(site):
    for n in range(throttle.SLOW_AFTER_FAILURES):
        from_address(site, f"198.51.100.{n}", "admin.kominfo", "nope-nope")
    refused = from_address(site, "10.1.2.3", "admin.kominfo", "aduan-demo-2026")
    assert refused.status_code == 429
    assert "dari tempat lain" in site.text(refused)
    site.regency.clock.advance(timedelta(seconds=throttle.FIRST_DELAY_SECONDS))
    assert from_address(site, "10.1.2.3", "admin.kominfo",
                        "aduan-demo-2026").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_the_one_counted(site, tmp_path):
    from tests.pages import Site
    from tests.regency import attach

    regency = site.regency
    behind = Site(attach(str(regency.engine.store.url), regency.clock, tmp_path,
                         regency.tokens, proxy_hops=1))
    try:
        for _ in range(throttle.LOCK_AFTER_FAILURES):
            behind.post("/login", {"username": "admin.kominfo", "password": "nope-nope"},
                        headers={"X-Forwarded-For": "203.0.113.9"}, expect=401)
        behind.post("/login", {"username": "admin.kominfo", "password": "aduan-demo-2026"},
                    headers={"X-Forwarded-For": "203.0.113.9"}, expect=429)
        # A forged entry before the proxy's own is not believed.
        behind.post("/login", {"username": "admin.kominfo", "password": "aduan-demo-2026"},
                    headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.9"}, expect=429)
        behind.post("/login", {"username": "admin.kominfo", "password": "aduan-demo-2026"},
                    headers={"X-Forwarded-For": "10.1.2.3"}, expect=302)
    finally:
        behind.regency.engine.dispose()


def test_changing_the_password_or_disabling_the_account_ends_sessions(site):
    site.login("penghubung.pupr")
    assert "Sekretaris Dinas PUPR" in site.text(site.get("/"))
    with site.regency.transaction() as db:
        user = db.scalars(select(User).where(User.username == "penghubung.pupr")).one()
        user.password_hash = site.regency.domain.context.passwords.hash(
            "a-new-password-2026")
    assert "Sekretaris Dinas PUPR" not in site.text(site.get("/"))
    site.get("/tasks", expect=302)
    site.login("penghubung.pupr", "a-new-password-2026")
    with site.regency.transaction() as db:
        db.scalars(select(User).where(User.username == "penghubung.pupr")).one().active = False
    site.get("/tasks", expect=302)
    site.post("/login", {"username": "penghubung.pupr", "password": "a-new-password-2026"},
              expect=401)


def test_unknown_pages_get_a_page_not_json(site):
    response = site.get("/no/such/page", expect=404)
    assert response.mimetype == "text/html"
    assert "tidak ada" in site.text(response)
    response = site.client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.is_json


def test_login_page_warns_when_secure_cookies_cannot_work(site):
    page = site.text(site.client.get("/login", base_url="http://10.0.0.5"))
    assert "ADUAN_COOKIE_SECURE=0" in page
    assert "ADUAN_COOKIE_SECURE=0" not in site.text(site.get("/login"))
    assert "ADUAN_COOKIE_SECURE=0" not in site.text(
        site.client.get("/login", base_url="https://aduan.example.go.id"))


PHONE = "http://192.0.2.2:5056"  # `aduan run --host 0.0.0.0` opened from a phone


def test_a_form_over_plain_http_whose_cookie_the_browser_dropped_says_why(site):
    """Secure session cookies over plain HTTP to another machine are dropped by browsers:
    every form would fail as "expired" however often it is reloaded. The page says why and
    what to do instead, in Indonesian and in English."""
    page = site.text(site.client.get("/lapor", base_url=PHONE))
    token = CSRF.search(page).group(1)
    site.client.delete_cookie("aduan_session", domain="192.0.2.2")  # what the browser does
    response = site.client.post("/lapor", base_url=PHONE, data={"csrf_token": token})
    assert response.status_code == 400
    text = site.text(response)
    assert "HTTP biasa" in text and "https://" in text and "ADUAN_COOKIE_SECURE=0" in text
    assert "kedaluwarsa" not in text
    site.client.set_cookie("aduan_lang", "en", domain="192.0.2.2")
    site.client.delete_cookie("aduan_session", domain="192.0.2.2")  # dropped again
    text = site.text(site.client.post("/lapor", base_url=PHONE, data={"csrf_token": token}))
    assert "served over plain HTTP" in text and "ADUAN_COOKIE_SECURE=0" in text


def test_an_expired_form_keeps_its_message_where_the_cookie_is_kept(site):
    """With the session cookie sent, over HTTPS, from this machine, or with
    ADUAN_COOKIE_SECURE=0, a refused form is an ordinary expired one."""
    site.client.get("/lapor", base_url=PHONE)  # the cookie is kept: e.g. an old tab
    response = site.client.post("/lapor", base_url=PHONE, data={"csrf_token": "old"})
    assert response.status_code == 400
    assert "kedaluwarsa" in site.text(response)
    assert "ADUAN_COOKIE_SECURE" not in site.text(response)
    for base_url in ("https://aduan.example.go.id", "http://localhost:5000",
                     "http://127.0.0.1:5000", "http://[::1]:5000"):
        response = site.client.post("/lapor", base_url=base_url, data={"csrf_token": "x"})
        assert response.status_code == 400
        assert "kedaluwarsa" in site.text(response), base_url
    site.client.application.config["SESSION_COOKIE_SECURE"] = False  # ADUAN_COOKIE_SECURE=0
    response = site.client.post("/lapor", base_url="http://192.0.2.3",
                                data={"csrf_token": "x"})
    assert "kedaluwarsa" in site.text(response)


def test_a_page_form_posted_for_json_says_the_refusal_in_words(site):
    response = site.client.post("/lapor", base_url=PHONE, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "plain HTTP" in response.get_json()["error"]["message"]


def test_citizens_wrong_tracking_codes_do_not_throttle_staff_sign_in(site):
    from workflows.models import LoginAttempt

    now = site.regency.clock.now()
    with site.regency.transaction() as db:
        for n in range(throttle.MAX_FAILURES_PER_ADDRESS + 5):
            db.add(LoginAttempt(username=f"{throttle.TRACKING_PREFIX}PPU-2026-{n:06d}",
                                address="127.0.0.1", at=now, succeeded=False))
    site.post("/login", {"username": "penghubung.pupr", "password": "aduan-demo-2026"},
              expect=302)


def test_the_session_key_is_made_once_and_kept(tmp_path):
    from web.app import stored_secret_key

    path = tmp_path / "instance" / "secret_key"
    first = stored_secret_key(path)
    assert len(first) == 64 and stored_secret_key(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_favicon_is_served(site):
    response = site.get("/favicon.ico")
    assert response.mimetype == "image/svg+xml" and b"<svg" in response.data
    response.close()


# --------------------------------------------------------------------------- domain errors
# The use cases' and the engine's messages (workflows/errors.py, engine/errors.py) carry a
# message id and parameters: the pages say them in the visitor's language (web/i18n.say),
# the JSON API keeps the English.


def test_a_conflict_on_the_report_form_is_said_in_the_visitors_language(site, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from tests.test_pages_public import file_report

    def always_taken(*_args):  # every tracking counter update loses a race
        raise IntegrityError("UPDATE tracking_counter", {}, Exception("race"))

    monkeypatch.setattr("workflows.reports.next_number", always_taken)
    page = site.text(file_report(site, expect=409))
    assert "Nomor pelacakan tidak dapat dibuat; silakan coba lagi." in page
    assert "allocate" not in page
    site.get("/language/en", expect=302)
    page = site.text(file_report(site, expect=409))
    assert "Could not allocate a tracking number; try again." in page
    response = site.client.post("/api/v1/complaints", json={
        "classification": "aspirasi", "category": "other", "title": "Taman kota",
        "body": "Mohon taman kota diberi lampu.", "anonymous": True})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == (
        "could not allocate a tracking number; try again")


def test_an_officers_text_too_long_is_said_with_its_limit_in_both_languages(site):
    from tests.test_pages_staff import version_on

    tracking = site.regency.submit(photo=True)["tracking_number"]
    site.login("admin.kominfo")
    version = version_on(site.text(site.get(f"/cases/{tracking}")))
    page = site.text(site.post(f"/cases/{tracking}/actions/archive",
                               {"version": version, "reason": "x" * 5001}, expect=422))
    assert re.search(r'id="f-archive-reason-error">Paling banyak 5000 karakter\.<', page)
    site.get("/language/en", expect=302)
    page = site.text(site.post(f"/cases/{tracking}/actions/archive",
                               {"version": version, "reason": "x" * 5001}, expect=422))
    assert re.search(r'id="f-archive-reason-error">At most 5000 characters\.<', page)
    # The API says it as before, in jsonschema's words.
    response = site.regency.client.post(
        f"/api/v1/complaints/{tracking}/actions/archive", json={"reason": "x" * 5001},
        headers=site.regency.headers("admin.kominfo"))
    assert response.status_code == 422
    assert response.get_json()["error"]["field_errors"]["reason"].endswith("' is too long")


def test_the_boards_reassign_form_says_the_use_cases_refusal_in_indonesian(site):
    from tests.test_pages_supervision import escalated_case, inbox, region

    escalated_case(site)
    escalation = inbox(site, "sekda")[0]
    number = escalation["id"]
    site.login("sekda")
    response = site.post(f"/board/escalations/{number}/reassign",
                         {"agency_code": "dinas_pupr", "reason": "y" * 5001}, expect=422)
    form = region(site.text(response), f"esc-{number}-reassign")
    assert "Paling banyak 5000 karakter." in form
    assert "is too long" not in form and "yyyyyyyyyy" not in form.split("</textarea>")[-1]


def test_engine_conflicts_on_the_case_page_name_who_holds_the_task(site):
    from tests.test_pages_staff import second_admin, task_id, version_on

    second_admin(site)
    tracking = site.regency.submit(photo=True)["tracking_number"]
    other = type(site)(site.regency).login("admin2.kominfo")
    other.post(f"/tasks/{task_id(site, tracking)}/claim", {"next": "/tasks"}, expect=303)
    site.login("admin.kominfo")
    version = version_on(site.text(site.get(f"/cases/{tracking}")))
    page = site.text(site.post(f"/cases/{tracking}/actions/verify", {"version": version},
                               expect=409))
    assert "Tugas ini sudah diambil admin2.kominfo." in page
    # A refusal the page has no words of its own for: the use case's, translated.
    page = site.text(site.post(f"/cases/{tracking}/actions/reopen",
                               {"version": version, "reason": "Buka lagi"}, expect=409))
    assert "Hanya laporan yang sudah selesai yang dapat dibuka kembali." in page


def test_a_refused_file_on_the_tracking_page_is_named_in_indonesian(site):
    from tests.test_pages_public import filed

    tracking, _ = filed(site)
    site.regency.act(tracking, "request_info", as_="admin.kominfo", reason="Foto?")
    response = site.post(f"/lacak/{tracking}/aksi/provide_info", {
        "information": "Ini fotonya.", "attachments": [(io.BytesIO(b""), "kosong.jpg")]},
        content_type="multipart/form-data", expect=422)
    assert re.search(r'id="info-e-attachments">kosong\.jpg kosong\. Pilih berkas itu lagi\.',
                     site.text(response))
    response = site.post(f"/lacak/{tracking}/aksi/provide_info", {
        "information": "Ini fotonya.", "attachments": [(io.BytesIO(b"GIF89a"), "anim.gif")]},
        content_type="multipart/form-data", expect=422)
    assert re.search(r'id="info-e-attachments">anim\.gif bukan foto', site.text(response))


def test_the_sla_badge_says_the_working_days_in_the_visitors_language(site):
    """web/pages/common.sla_badge: green, amber (one day or less), red (late), paused, none;
    the deadline (in the regency's zone) as its title."""
    from datetime import UTC, datetime

    from web.pages.common import sla_badge

    due = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    app = site.regency.client.application
    with app.test_request_context(headers={"Cookie": "aduan_lang=id"}):
        green = str(sla_badge(3.5, False, due))
        assert 'class="badge sla-green"' in green and "sisa 3,5 hari kerja" in green
        assert 'title="paling lambat 9 Mar 2026 09.00 WITA"' in green
        assert "sla-amber" in str(sla_badge(1, False, due))
        late = str(sla_badge(-2.25, False, due))
        assert "sla-red" in late and "terlambat 2,2 hari kerja" in late
        assert str(sla_badge(None, True)) == '<span class="badge sla-paused">dijeda</span>'
        assert str(sla_badge(None)) == '<span class="badge sla-done">—</span>'
    with app.test_request_context(headers={"Cookie": "aduan_lang=en"}):
        assert "3.5 working days left" in str(sla_badge(3.5, False, due))
        assert "3.4 working days left" in str(sla_badge(3.44, False, due))
    # badges are kept per process by what they show: each language and value its own
    with app.test_request_context(headers={"Cookie": "aduan_lang=id"}):
        assert "sisa 3,5 hari kerja" in str(sla_badge(3.5, False, due))


def test_the_number_of_proxies_is_checked_when_read():
    from web.config import Settings

    assert Settings.from_env({"ADUAN_PROXY_HOPS": "1"}).proxy_hops == 1
    assert Settings.from_env({}).proxy_hops == 0
    for wrong in ("yes", "-1", "9"):
        with pytest.raises(ValueError, match="ADUAN_PROXY_HOPS must be the number"):
            Settings.from_env({"ADUAN_PROXY_HOPS": wrong})
