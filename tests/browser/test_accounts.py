"""In Chromium: the system administrator creates a liaison officer's account, resets its
password, and the officer signs in with the temporary password and must choose a new one
before anything else (web/pages/accounts.py, web/pages/account.py). The guide's screenshot
docs/images/admin-accounts.png is made here (ADUAN_DOC_SCREENSHOTS=1)."""

from __future__ import annotations

from typing import Any

from tests.browser.live import LiveApp
from tests.browser.test_journey import live_app, sign_in  # noqa: F401 - the live server


def test_an_account_is_created_reset_and_its_password_changed_at_sign_in(
        live_app: LiveApp, make_page: Any, screenshot: Any, doc_screenshot: Any  # noqa: F811
) -> None:
    admin = make_page()
    sign_in(admin, live_app, "sysadmin")
    admin.goto(f"{live_app.url}/admin")
    admin.get_by_role("link", name="Akun", exact=True).click()
    admin.get_by_role("link", name="Akun baru").click()
    admin.fill("#f-username", "penghubung.dinsos")
    admin.fill("#f-full_name", "Sekretaris Dinas Sosial")
    admin.fill("#f-email", "sekretaris.dinsos@ppu.example.go.id")
    admin.get_by_label("Penghubung").check()
    admin.select_option("#f-agency", "dinsos")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Buat akun").click()
    assert "Akun penghubung.dinsos dibuat" in admin.inner_text("h1")
    first = admin.inner_text("#secret-value").strip()
    screenshot(admin, "created")
    admin.get_by_role("link", name="Kembali ke akun").click()
    assert "Wajib ganti kata sandi" in admin.inner_text("#account-state")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Atur ulang kata sandi").click()
    temporary = admin.inner_text("#secret-value").strip()
    assert temporary != first and len(temporary) == 19
    admin.goto(f"{live_app.url}/admin/accounts?role=liaison_officer")
    assert "penghubung.dinsos" in admin.inner_text("#account-list")
    doc_screenshot(admin, "admin-accounts")
    screenshot(admin, "list")

    officer = make_page()
    officer.goto(f"{live_app.url}/login")
    officer.fill("#f-username", "penghubung.dinsos")
    officer.fill("#f-password", temporary)
    with officer.expect_navigation():
        officer.get_by_role("button", name="Masuk").click()
    assert officer.url.endswith("/account/password")
    assert "diatur ulang" in officer.inner_text("#password-forced")
    officer.goto(f"{live_app.url}/tasks")  # nothing else until the password is changed
    assert officer.url.endswith("/account/password")
    officer.fill("#f-current_password", temporary)
    officer.fill("#f-new_password", "dinsos-aman-2026")
    officer.fill("#f-repeat_password", "dinsos-aman-2026")
    screenshot(officer, "forced-change")
    with officer.expect_navigation():
        officer.get_by_role("button", name="Ganti kata sandi").click()
    assert officer.url.endswith("/account")
    assert "Kata sandi Anda telah diganti" in officer.inner_text("main")
    officer.goto(f"{live_app.url}/tasks")
    assert officer.url.endswith("/tasks")
    admin.goto(f"{live_app.url}/admin/accounts/penghubung.dinsos")
    assert "Wajib ganti kata sandi" not in admin.inner_text("#account-state")
