"""The system administrator's accounts pages (web/pages/accounts.py over
workflows/account_admin.py) and everyone's own account (web/pages/account.py over
workflows/own_account.py): who may open them, what they change, the audit they leave."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.pages import DEMO_PASSWORD
from workflows.access import Principal
from workflows.account_admin import AccountFields
from workflows.admin_models import AdminAudit
from workflows.errors import Conflict

NOT_SYSADMIN = ("admin.kominfo", "penghubung.dinkes", "teknis.binamarga", "kadis.pupr",
                "perancang")
EVERY_ROLE = ("sysadmin", *NOT_SYSADMIN)
SECRET = re.compile(r'id="secret-value">([^<]+)<')
SYSADMIN = Principal(username="sysadmin", roles=frozenset({"system_admin"}))


def admin_routes(site):
    """Every accounts route, with a form it could post."""
    return [("get", "/admin/accounts", None), ("get", "/admin/accounts/new", None),
            ("post", "/admin/accounts/new", {"username": "x.y.z", "full_name": "X",
                                             "roles": "supervisor", "agency": "dlh"}),
            ("get", "/admin/accounts/penghubung.dlh", None),
            ("post", "/admin/accounts/penghubung.dlh", {"version": "0", "full_name": "X",
                                                        "roles": "liaison_officer",
                                                        "agency": "dlh"}),
            ("post", "/admin/accounts/penghubung.dlh/active", {"version": "0",
                                                               "active": "no"}),
            ("post", "/admin/accounts/penghubung.dlh/reset", {"version": "0"}),
            ("post", "/admin/accounts/penghubung.dlh/reset-link", {"version": "0"}),
            ("post", "/admin/accounts/penghubung.dlh/tokens", {"name": "x"}),
            ("post", "/admin/accounts/penghubung.dlh/tokens/1/revoke", {}),
            ("get", "/admin/accounts/import", None),
            ("get", "/admin/accounts/import/template.csv", None),
            ("get", "/admin/accounts/import/template.xlsx", None),
            ("post", "/admin/accounts/import/run", {"rows": "[]"}),
            ("post", "/admin/accounts/import/passwords.csv", {"username": "a",
                                                              "password": "b"})]


def test_every_accounts_route_is_for_the_system_administrator_only(site):
    for user in NOT_SYSADMIN:
        site.login(user)
        for method, path, form in admin_routes(site):
            if method == "get":
                site.get(path, expect=403)
            else:
                site.post(path, form, expect=403)
    site.logout()
    for method, path, form in admin_routes(site):
        response = site.get(path, expect=302) if method == "get" else site.post(
            path, form, expect=None)
        assert response.status_code in (302, 400), (path, response.status_code)
    with site.regency.reads() as session:  # nothing was changed by anyone refused
        assert not session.scalars(select(AdminAudit)).all()


def test_the_accounts_card_and_list_with_search_and_filters(site):
    site.login("sysadmin")
    assert 'href="/admin/accounts"' in site.text(site.get("/admin"))
    page = site.text(site.get("/admin/accounts"))
    assert "penghubung.dinkes" in page and "teknis.binamarga" in page
    found = site.text(site.get("/admin/accounts?search=DINKES"))
    assert "penghubung.dinkes" in found and "penghubung.dlh" not in found
    liaisons = site.text(site.get("/admin/accounts?role=liaison_officer"))
    assert "penghubung.air" in liaisons and "kadis.pupr" not in liaisons
    dlh = site.text(site.get("/admin/accounts?agency=dlh"))
    assert "penghubung.dlh" in dlh and "kadis.dlh" in dlh and "penghubung.dinkes" not in dlh
    # sysadmin has signed in now; the others never have
    never = site.text(site.get("/admin/accounts?signed_in=never"))
    assert "penghubung.dinkes" in never and ">sysadmin<" not in never
    site.regency.clock.advance(timedelta(days=31))
    site.login("sysadmin")  # a fresh session (the old one has expired)
    site.regency.clock.advance(timedelta(days=-31))
    stale = site.text(site.get("/admin/accounts?signed_in=30"))
    assert ">sysadmin<" not in stale and "penghubung.dinkes" in stale
    site.get("/admin/accounts?role=wizard", expect=422)
    site.get("/admin/accounts?signed_in=7", expect=422)


def test_the_list_is_paginated(site):
    site.login("sysadmin")
    domain = site.regency.domain
    for n in range(55):
        domain.account_admin.create(SYSADMIN, AccountFields(
            username=f"tes.{n:02d}", full_name=f"Tes {n}", roles=("supervisor",),
            agency_code="dlh"))
    first = site.text(site.get("/admin/accounts?search=tes."))
    assert "55 akun" in first and "tes.00" in first and "tes.54" not in first
    second = site.text(site.get("/admin/accounts?search=tes.&page=2"))
    assert "tes.54" in second and "tes.00" not in second


def test_creating_an_account_shows_its_temporary_password_once_and_audits_it(site):
    site.login("sysadmin")
    response = site.post("/admin/accounts/new", {
        "username": "penghubung.dinsos", "full_name": "Sekretaris Dinsos",
        "email": "sek@dinsos.example", "roles": "liaison_officer", "agency": "dinsos"},
        expect=200)
    password = SECRET.search(site.text(response)).group(1)
    with site.regency.reads() as session:
        audit = session.scalars(select(AdminAudit).where(
            AdminAudit.action == "account.create")).one()
        assert audit.actor == "sysadmin" and audit.target == "penghubung.dinsos"
        assert audit.after["agency"] == "dinsos" and audit.after["must_change"] is True
        assert password not in str(audit.after)
    page = site.text(site.get("/admin/accounts/penghubung.dinsos"))
    assert password not in page and "Sekretaris Dinsos" in page


@pytest.mark.parametrize("form, field, words", [
    ({"username": "Bad Name!"}, "username", "huruf kecil"),
    ({"username": "import"}, "username", "huruf kecil"),  # the import page's address
    ({"username": "penghubung.dinkes"}, "username", "sudah dipakai"),
    ({"full_name": ""}, "full_name", "nama lengkap"),
    ({"email": "not-an-email"}, "email", "alamat e-mail"),
    ({"roles": "wizard"}, "roles", "pilih satu"),
    ({"agency": "pupr_bina_marga"}, "agency", "unit"),
    ({"agency": ""}, "agency", "memerlukan instansi"),
    ({"agency": "nowhere"}, "agency", "nowhere"),
])
def test_a_new_account_with_a_bad_field_is_refused_naming_it(site, form, field, words):
    site.login("sysadmin")
    data = {"username": "penghubung.dinsos", "full_name": "Sekretaris Dinsos",
            "email": "sek@dinsos.example", "roles": "liaison_officer", "agency": "dinsos",
            **form}
    page = site.text(site.post("/admin/accounts/new", data, expect=422))
    assert f'id="e-{field}"' in page and words in page.lower()
    if form.get("full_name", "x"):  # the typed values are kept
        assert data["full_name"] in page


def test_a_technical_officer_needs_a_unit(site):
    site.login("sysadmin")
    site.post("/admin/accounts/new", {"username": "teknis.pju", "full_name": "Teknis PJU",
                                      "roles": "technical_officer", "agency": "dishub"},
              expect=422)
    site.post("/admin/accounts/new", {"username": "teknis.pju", "full_name": "Teknis PJU",
                                      "roles": "technical_officer", "agency": "dishub_pju"},
              expect=200)


def test_editing_roles_and_agency_is_audited_and_a_stale_form_gets_409(site):
    site.login("sysadmin")
    site.post("/admin/accounts/kadis.dlh", {"version": "0", "full_name": "Kepala DLH Baru",
                                            "roles": ["supervisor", "liaison_officer"],
                                            "agency": "dlh"}, expect=302)
    page = site.text(site.get("/admin/accounts/kadis.dlh"))
    assert "Kepala DLH Baru" in page and 'name="version" value="1"' in page
    stale = site.post("/admin/accounts/kadis.dlh", {"version": "0", "full_name": "Lama",
                                                    "roles": "supervisor", "agency": "dlh"},
                      expect=409)
    assert "administrator lain" in site.text(stale)
    with site.regency.reads() as session:
        audit = session.scalars(select(AdminAudit).where(
            AdminAudit.action == "account.update")).one()
        assert audit.before["roles"] == ["supervisor"]
        assert audit.after["roles"] == ["supervisor", "liaison_officer"]
        assert audit.after["full_name"] == "Kepala DLH Baru"


def test_two_administrators_saving_at_once_one_wins_and_the_other_gets_conflict(regency):
    """Both read version 0; the account's row is held while one saves (FOR UPDATE on
    PostgreSQL, one writer on SQLite): the second sees version 1 and is refused."""
    admin = regency.domain.account_admin
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def save(name: str) -> None:
        start.wait(timeout=10)
        try:
            admin.update(SYSADMIN, "kadis.dlh", 0, AccountFields(
                username="kadis.dlh", full_name=name, roles=("supervisor",),
                agency_code="dlh"))
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(n,)) for n in ("Satu", "Dua")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "saved"]
    assert admin.account(SYSADMIN, "kadis.dlh").version == 1


def test_an_administrator_cannot_lock_themselves_out(site):
    site.login("sysadmin")
    site.post("/admin/accounts/sysadmin/active", {"version": "0", "active": "no"},
              expect=422)
    page = site.text(site.post("/admin/accounts/sysadmin", {
        "version": "0", "full_name": "Administrator Sistem", "roles": "supervisor",
        "agency": "diskominfo"}, expect=422))
    assert "system_admin" in page


def test_disabling_ends_the_sessions_and_the_api_refuses_its_tokens(site):
    regency = site.regency
    path = "/api/v1/notifications"
    regency.get(path, as_="penghubung.dinkes")
    officer = type(site)(regency).login("penghubung.dinkes")
    officer.get("/tasks")
    site.login("sysadmin")
    site.post("/admin/accounts/penghubung.dinkes/active", {"version": "0", "active": "no"},
              expect=302)
    refused = regency.client.get(path, headers=regency.headers("penghubung.dinkes"))
    assert refused.status_code == 401 and "disabled" in refused.get_json()["error"]["message"]
    assert officer.get("/tasks", expect=302).location.startswith("/login")
    site.post("/admin/accounts/penghubung.dinkes/active", {"version": "1", "active": "yes"},
              expect=302)
    regency.get(path, as_="penghubung.dinkes")
    with regency.reads() as session:
        actions = session.scalars(select(AdminAudit.action).order_by(AdminAudit.id)).all()
    assert actions == ["account.disable", "account.enable"]


def test_a_reset_password_must_be_changed_before_anything_else(site):
    regency = site.regency
    site.login("sysadmin")
    page = site.text(site.post("/admin/accounts/penghubung.dinkes/reset", {"version": "0"},
                               expect=200))
    temporary = SECRET.search(page).group(1)
    # the API refuses the account's token until the password is changed
    refused = regency.client.get("/api/v1/notifications",
                                 headers=regency.headers("penghubung.dinkes"))
    assert refused.status_code == 401 and "reset" in refused.get_json()["error"]["message"]
    officer = type(site)(regency)
    officer.post("/login", {"username": "penghubung.dinkes", "password": DEMO_PASSWORD},
                 expect=401)
    officer.login("penghubung.dinkes", temporary)
    for path in ("/tasks", "/cases", "/admin", "/account", "/"):
        assert officer.get(path, expect=302).location == "/account/password"
    forced = officer.text(officer.get("/account/password"))
    assert 'id="password-forced"' in forced
    wrong = officer.text(officer.post("/account/password", {
        "current_password": "wrong-one", "new_password": "baru-sekali-2026",
        "repeat_password": "baru-sekali-2026"}, expect=422))
    assert 'id="e-current_password"' in wrong
    officer.post("/account/password", {"current_password": temporary,
                                       "new_password": "baru-sekali-2026",
                                       "repeat_password": "baru-sekali-2026"}, expect=302)
    officer.get("/tasks")  # free again, still signed in
    regency.get("/api/v1/notifications", as_="penghubung.dinkes")
    with regency.reads() as session:
        audits = session.scalars(select(AdminAudit).order_by(AdminAudit.id)).all()
        assert [a.action for a in audits] == ["account.reset_password",
                                              "account.change_own_password"]
        assert temporary not in str([a.before for a in audits] + [a.after for a in audits])


def test_a_one_time_link_lets_the_owner_choose_a_password_once(site):
    regency = site.regency
    site.login("sysadmin")
    page = site.text(site.post("/admin/accounts/penghubung.dinkes/reset-link",
                               {"version": "0"}, expect=200))
    link = SECRET.search(page).group(1)
    path = link[link.index("/account/reset/"):]
    assert "24 jam" in page
    # the old password and the API token stop working at once
    owner = type(site)(regency)
    owner.post("/login", {"username": "penghubung.dinkes", "password": DEMO_PASSWORD},
               expect=401)
    assert regency.client.get("/api/v1/notifications", headers=regency.headers(
        "penghubung.dinkes")).status_code == 401
    form = owner.text(owner.get(path))
    assert "penghubung.dinkes" in form and 'id="f-new_password"' in form
    mismatch = owner.text(owner.post(path, {"new_password": "dinkes-baru-2026",
                                            "repeat_password": "dinkes-lain-2026"},
                                     expect=422))
    assert 'id="e-repeat_password"' in mismatch
    done = owner.post(path, {"new_password": "dinkes-baru-2026",
                             "repeat_password": "dinkes-baru-2026"}, expect=302)
    assert done.location == "/login"
    assert "Masuklah dengan kata sandi itu" in owner.text(owner.get(done.location))
    owner.login("penghubung.dinkes", "dinkes-baru-2026")
    owner.get("/tasks")  # no forced change: the owner chose this password
    regency.get("/api/v1/notifications", as_="penghubung.dinkes")
    again = owner.text(owner.get(path, expect=404))  # used up
    assert 'id="link-expired"' in again
    owner.post(path, {"new_password": "x" * 12, "repeat_password": "x" * 12}, expect=404)
    with regency.reads() as session:
        actions = session.scalars(select(AdminAudit.action).order_by(AdminAudit.id)).all()
        assert actions == ["account.reset_link", "account.password_by_link"]
        assert "reset/" not in str(session.scalars(select(AdminAudit.note)).all())


def test_a_one_time_link_expires_after_a_day(site):
    site.login("sysadmin")
    page = site.text(site.post("/admin/accounts/penghubung.dinkes/reset-link",
                               {"version": "0"}, expect=200))
    link = SECRET.search(page).group(1)
    path = link[link.index("/account/reset/"):]
    site.regency.clock.advance(timedelta(hours=24, seconds=1))
    stranger = type(site)(site.regency)
    stranger.get(path, expect=404)
    stranger.get("/account/reset/made-up-token", expect=404)


def test_api_tokens_are_created_once_listed_and_revoked(site):
    regency = site.regency
    site.login("sysadmin")
    page = site.text(site.post("/admin/accounts/penghubung.dlh/tokens",
                               {"name": "SIMDA"}, expect=200))
    token = SECRET.search(page).group(1)
    assert regency.client.get("/api/v1/notifications", headers={
        "Authorization": f"Bearer {token}"}).status_code == 200
    listed = site.text(site.get("/admin/accounts/penghubung.dlh"))
    assert "SIMDA" in listed and token not in listed
    site.post("/admin/accounts/penghubung.dlh/tokens", {"name": ""}, expect=422)
    token_id = re.search(r'/tokens/(\d+)/revoke', listed).group(1)
    site.post(f"/admin/accounts/penghubung.dlh/tokens/{token_id}/revoke", {}, expect=302)
    assert regency.client.get("/api/v1/notifications", headers={
        "Authorization": f"Bearer {token}"}).status_code == 401
    site.post("/admin/accounts/penghubung.dlh/tokens/99999999999999999999/revoke", {},
              expect=404)
    site.post(f"/admin/accounts/penghubung.dinkes/tokens/{token_id}/revoke", {}, expect=404)


def test_own_account_pages_for_every_signed_in_role(site):
    for user in EVERY_ROLE:
        site.login(user)
        page = site.text(site.get("/account"))
        assert user in page and 'href="/account/password"' in page
        site.get("/account/password")
    site.logout()
    for path in ("/account", "/account/password"):
        assert site.get(path, expect=302).location.startswith("/login")
    for path in ("/account/password", "/account/language"):  # the token of a signed-out page
        assert site.post(path, {"language": "en"}, expect=302).location.startswith("/login")


def test_changing_ones_password_checks_the_policy_and_ends_other_sessions(site):
    regency = site.regency
    elsewhere = type(site)(regency).login("kadis.pupr")
    site.login("kadis.pupr")
    page = site.text(site.post("/account/password", {
        "current_password": DEMO_PASSWORD, "new_password": "short",
        "repeat_password": "other"}, expect=422))
    assert 'id="e-new_password"' in page and 'id="e-repeat_password"' in page
    site.post("/account/password", {"current_password": DEMO_PASSWORD,
                                    "new_password": "kadis-pupr-baru",
                                    "repeat_password": "kadis-pupr-baru"}, expect=302)
    site.get("/tasks")
    elsewhere.get("/tasks", expect=302)
    site.logout()
    site.post("/login", {"username": "kadis.pupr", "password": DEMO_PASSWORD}, expect=401)
    site.login("kadis.pupr", "kadis-pupr-baru")


def test_guessing_the_current_password_locks_the_account_as_failed_sign_ins_do(site):
    site.login("kadis.pupr")
    wrong = {"current_password": "tebak-tebak", "new_password": "kadis-pupr-baru",
             "repeat_password": "kadis-pupr-baru"}
    for _ in range(5):
        site.post("/account/password", wrong, expect=422)
    site.post("/account/password", {**wrong, "current_password": DEMO_PASSWORD}, expect=429)
    site.logout()
    site.post("/login", {"username": "kadis.pupr", "password": DEMO_PASSWORD}, expect=429)


def test_ones_language_is_kept_on_the_account_and_used_after_sign_in(site):
    site.login("penghubung.dinkes")
    assert "Tugas" in site.text(site.get("/tasks"))
    site.post("/account/language", {"language": "en"}, expect=302)
    assert "Your account" in site.text(site.get("/account"))
    site.post("/account/language", {"language": "xx"}, expect=422)
    fresh = type(site)(site.regency).login("penghubung.dinkes")  # a new browser
    assert "Your account" in fresh.text(fresh.get("/account"))


def test_the_shells_account_commands_are_audited_too(regency):
    """`aduan users create/disable/enable/set-password` and `aduan tokens create` call these
    (web/cli_admin.py): the audit log has them, with the shell as the actor."""
    accounts = regency.domain.accounts
    accounts.create_user(username="petugas.baru", full_name="Petugas Baru",
                         roles=["liaison_officer"], agency_code="dinkes")
    accounts.set_active("petugas.baru", False)
    accounts.set_active("petugas.baru", True)
    accounts.set_password("petugas.baru", "rahasia-sekali")
    accounts.create_token("petugas.baru", name="cli")
    with regency.reads() as session:
        rows = session.scalars(select(AdminAudit).order_by(AdminAudit.id)).all()
        assert [r.action for r in rows] == [
            "account.create", "account.disable", "account.enable", "account.set_password",
            "account.token_create"]
        assert {r.actor for r in rows} == {"aduan (shell)"}
        assert rows[1].before["active"] is True and rows[1].after["active"] is False
        assert "rahasia-sekali" not in str([(r.before, r.after, r.note) for r in rows])


def test_temporary_passwords_are_long_random_and_hashed_at_the_cheapest_cost():
    from workflows.account_admin import temporary_password
    from workflows.models import User
    from workflows.users import Passwords

    secret = temporary_password()
    assert re.fullmatch(r"([a-hj-km-np-z2-9]{4}-){3}[a-hj-km-np-z2-9]{4}", secret)
    assert len({temporary_password() for _ in range(50)}) == 50
    hashed = Passwords().hash_random(secret)
    assert "m=8192,t=1,p=1" in hashed
    assert Passwords().matches(User(password_hash=hashed), secret)
    with pytest.raises(ValueError):
        Passwords().hash_random("short-typed-pw")
