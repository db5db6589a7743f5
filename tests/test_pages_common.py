"""Sign-in, sessions, CSRF, the language switch and the headers every page carries."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from web import auth
from workflows.models import User
from workflows.users import hash_password


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
    cookie = response.headers["Set-Cookie"]
    assert "aduan_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
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
    for _ in range(auth.MAX_FAILURES_PER_USER):
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
    site.regency.clock.advance(timedelta(minutes=auth.LOCK_MINUTES + 1))
    site.post("/login", {"username": "penghubung.pupr", "password": "aduan-demo-2026"},
              expect=302)


def test_unknown_usernames_lock_too(site):
    for _ in range(auth.MAX_FAILURES_PER_USER):
        site.post("/login", {"username": "ghost", "password": "nope-nope"}, expect=401)
    site.post("/login", {"username": "ghost", "password": "nope-nope"}, expect=429)


def test_one_address_is_throttled_across_usernames(site):
    for n in range(auth.MAX_FAILURES_PER_ADDRESS):
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


def test_changing_the_password_or_disabling_the_account_ends_sessions(site):
    site.login("penghubung.pupr")
    assert "Sekretaris Dinas PUPR" in site.text(site.get("/"))
    with site.regency.complaints.session() as db:
        user = db.scalars(select(User).where(User.username == "penghubung.pupr")).one()
        user.password_hash = hash_password("a-new-password-2026")
    assert "Sekretaris Dinas PUPR" not in site.text(site.get("/"))
    site.get("/tasks", expect=302)
    site.login("penghubung.pupr", "a-new-password-2026")
    with site.regency.complaints.session() as db:
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


def test_citizens_wrong_tracking_codes_do_not_throttle_staff_sign_in(site):
    from workflows.models import LoginAttempt

    now = site.regency.clock.now()
    with site.regency.complaints.session() as db:
        for n in range(auth.MAX_FAILURES_PER_ADDRESS + 5):
            db.add(LoginAttempt(username=f"{auth.TRACKING_PREFIX}PPU-2026-{n:06d}",
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
