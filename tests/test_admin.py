"""The administrators' pages (web/pages/admin.py) and their audit log
(workflows/admin_audit.py): who may open them, and what the log records and masks."""

from __future__ import annotations

from workflows import admin_audit


def test_the_administration_page_is_for_administrators_only(site):
    site.login("sysadmin")
    page = site.text(site.get("/admin"))
    assert 'href="/admin/audit"' in page and "Administrasi" in page
    assert 'href="/admin"' in site.text(site.get("/tasks"))  # the navigation
    for user in ("penghubung.dinkes", "kepala.inspektorat", "perancang"):
        site.login(user)
        site.get("/admin", expect=403)
        site.get("/admin/audit", expect=403)


def test_the_audit_log_masks_secrets_and_filters(site):
    regency = site.regency
    with regency.transaction() as session:
        admin_audit.record(session, at=regency.clock.now(), actor="sysadmin",
                           action="account.reset_password", target_kind="account",
                           target="liaison.dinkes",
                           before={"password_hash": "hash-before-zq", "active": True},
                           after={"password_hash": "hash-after-zq", "active": True,
                                  "nested": {"api_token": "token-zq"}})
        admin_audit.record(session, at=regency.clock.now(), actor="admin.kominfo",
                           action="calendar.set_day", target_kind="calendar", target="2026-12-24",
                           after={"kind": "day_off", "name": "Cuti bersama <Natal>"})
    site.login("sysadmin")
    page = site.text(site.get("/admin/audit"))
    assert "-zq" not in page and "***" in page
    assert "<Natal>" not in page  # escaped
    filtered = site.text(site.get("/admin/audit?action=calendar."))
    assert "2026-12-24" in filtered and "liaison.dinkes" not in filtered
    assert "liaison.dinkes" in site.text(site.get("/admin/audit?actor=sysadmin"))


def test_masked_snapshots_keep_empty_values_visible():
    assert admin_audit.masked({"password": "", "token": None, "name": "A"}) == {
        "password": "", "token": None, "name": "A"}
    assert admin_audit.masked(None) is None
