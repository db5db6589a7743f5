"""The agency tree's administration: the use cases (workflows/agencies.py) on SQLite and
PostgreSQL, and the pages (web/pages/admin_agencies.py) with their authorization."""

from __future__ import annotations

import re

import pytest

from workflows.access import Principal
from workflows.admin_audit import AdminAuditLog
from workflows.errors import Conflict, Forbidden, Invalid

ADMIN = Principal(username="sysadmin", roles=frozenset({"system_admin"}))
OTHERS = ("admin.kominfo", "kadis.kominfo", "penghubung.dinkes", "teknis.binamarga",
          "perancang")


def version(regency, code):
    return regency.domain.agencies.detail(ADMIN, code).agency.version


def disposed_report(regency, agency="dinas_pupr", unit=None):
    """A report verified and disposed to `agency` (and its unit): open, held by them."""
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    extra = {"handler": "unit", "unit_code": unit} if unit else {}
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code=agency, **extra)
    return tracking


def test_an_agency_is_created_under_a_parent_of_a_fitting_kind(regency):
    agencies = regency.domain.agencies
    created = agencies.create(ADMIN, {"code": "pupr_cipta_karya", "name": "Bidang Cipta Karya",
                                      "kind": "unit", "parent": "dinas_pupr"})
    assert created.parent_code == "dinas_pupr" and created.active
    for kind, parent, field in (("unit", "kec_waru", "parent"), ("kelurahan", "dinas_pupr",
                                "parent"), ("opd", "", "parent"), ("desa", "ppu", "kind")):
        with pytest.raises(Invalid) as refused:
            agencies.create(ADMIN, {"code": "x_new", "name": "Baru", "kind": kind,
                                    "parent": parent})
        assert set(refused.value.field_errors) == {field}, (kind, parent)
    with pytest.raises(Invalid) as refused:
        agencies.create(ADMIN, {"code": "dinas_pupr", "name": "x", "kind": "opd",
                                "parent": "ppu"})
    assert set(refused.value.field_errors) == {"code", "name"}
    assert "is taken" in str(refused.value.field_errors["code"])
    with pytest.raises(Invalid) as refused:
        agencies.create(ADMIN, {"code": "Bad Code", "name": "Baik", "kind": "opd",
                                "parent": "ppu"})
    assert set(refused.value.field_errors) == {"code"}
    tree = agencies.tree(ADMIN)
    [province] = tree.roots
    pupr = next(n for n in province.children[0].children if n.code == "dinas_pupr")
    assert {c.code for c in pupr.children} == {"pupr_bina_marga", "pupr_cipta_karya"}
    entries = AdminAuditLog(regency.domain.context).page(ADMIN, target="pupr_cipta_karya")
    assert [e.action for e in entries.entries] == ["agency.create"]
    assert entries.entries[0].after["parent"] == "dinas_pupr"


def test_a_move_never_puts_an_agency_under_itself_or_its_descendants(regency):
    agencies = regency.domain.agencies
    agencies.create(ADMIN, {"code": "kec_baru", "name": "Kecamatan Baru", "kind": "kecamatan",
                            "parent": "ppu"})
    with pytest.raises(Invalid) as refused:
        agencies.move(ADMIN, "ppu", "ppu", version(regency, "ppu"))
    assert "itself" in str(refused.value.field_errors["parent"])
    with pytest.raises(Invalid) as refused:  # the province under its own regency
        agencies.move(ADMIN, "kaltim", "ppu", version(regency, "kaltim"))
    assert refused.value.field_errors["parent"]
    with pytest.raises(Invalid) as refused:  # a unit under a kecamatan: the kind does not fit
        agencies.move(ADMIN, "pupr_bina_marga", "kec_waru", version(regency, "pupr_bina_marga"))
    assert "cannot be under a kecamatan" in str(refused.value.field_errors["parent"])
    moved = agencies.move(ADMIN, "kel_waru", "kec_baru", version(regency, "kel_waru"))
    assert moved.parent_code == "kec_baru"
    detail = agencies.detail(ADMIN, "kec_baru")
    assert [c.code for c in detail.agency.children] == ["kel_waru"]
    assert [p.code for p in detail.path] == ["kaltim", "ppu"]
    # what a move of the kecamatan may choose: regencies only, never itself
    assert [c.code for c in detail.parent_choices] == ["ppu"]


def test_deactivation_is_refused_while_open_reports_are_held_and_says_how_many(regency):
    agencies = regency.domain.agencies
    disposed_report(regency, "dinas_pupr", unit="pupr_bina_marga")
    disposed_report(regency, "dinas_pupr")
    with pytest.raises(Conflict) as refused:
        agencies.deactivate(ADMIN, "dinas_pupr", version(regency, "dinas_pupr"))
    assert "hold 2 open reports" in str(refused.value)
    with pytest.raises(Conflict) as refused:  # the unit holds one of them
        agencies.deactivate(ADMIN, "pupr_bina_marga", version(regency, "pupr_bina_marga"))
    assert "hold 1 open reports" in str(refused.value)
    with pytest.raises(Conflict):
        agencies.deactivate(ADMIN, "diskominfo", version(regency, "diskominfo"))
    assert agencies.detail(ADMIN, "dinas_pupr").agency.active


def test_a_deactivated_agency_is_offered_nowhere_but_comes_back_when_reactivated(regency):
    agencies = regency.domain.agencies
    codes = agencies.deactivate(ADMIN, "dlh", version(regency, "dlh"))
    assert codes == ["dlh", "dlh_kebersihan"]
    offered = {a["code"] for a in regency.domain.reports.agencies()}
    assert "dlh" not in offered and "dlh_kebersihan" not in offered
    assert "dlh" not in {a["code"] for a in regency.get("/api/v1/agencies")}
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    refused = regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dlh",
                          expect=422)
    assert "agency_code" in refused["error"]["field_errors"]
    with pytest.raises(Conflict) as refused_unit:  # the parent first
        agencies.reactivate(ADMIN, "dlh_kebersihan", version(regency, "dlh_kebersihan"))
    assert "reactivate dlh first" in str(refused_unit.value)
    agencies.reactivate(ADMIN, "dlh", version(regency, "dlh"))
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dlh")
    actions = [e.action for e in AdminAuditLog(regency.domain.context).page(
        ADMIN, target="dlh").entries]
    assert actions == ["agency.reactivate", "agency.deactivate"]


def test_a_change_from_a_stale_form_is_refused_and_nothing_is_lost(regency):
    agencies = regency.domain.agencies
    shown = version(regency, "dishub")
    agencies.rename(ADMIN, "dishub", "Dinas Perhubungan Kabupaten", shown)
    with pytest.raises(Conflict):
        agencies.rename(ADMIN, "dishub", "Dishub", shown)
    with pytest.raises(Conflict):
        agencies.deactivate(ADMIN, "dishub", shown)
    detail = agencies.detail(ADMIN, "dishub")
    assert detail.agency.name == "Dinas Perhubungan Kabupaten" and detail.agency.active


def test_only_the_system_administrator_administers_agencies(regency):
    for roles in ({"regency_admin"}, {"supervisor"}, {"liaison_officer"}):
        who = Principal(username="x", roles=frozenset(roles))
        with pytest.raises(Forbidden):
            regency.domain.agencies.tree(who)
        with pytest.raises(Forbidden):
            regency.domain.agencies.rename(who, "dishub", "Dishub", "x")


# ------------------------------------------------------------------------------ pages


def test_the_agency_pages_answer_403_to_every_other_role(site):
    for user in OTHERS:
        site.login(user)
        site.get("/admin/agencies", expect=403)
        site.get("/admin/agencies/dinas_pupr", expect=403)
        for change in ("rename", "move", "deactivate", "reactivate"):
            site.post(f"/admin/agencies/dinas_pupr/{change}", {"name": "x", "version": "x"},
                      expect=403)
        site.post("/admin/agencies", {"code": "x_y", "name": "Xyz", "kind": "opd",
                                      "parent": "ppu"}, expect=403)
        site.logout()
    site.get("/admin/agencies", expect=302)  # signed out: to the sign-in page
    site.login("sysadmin")
    home = site.text(site.get("/admin"))
    assert 'href="/admin/agencies"' in home


def test_the_tree_page_nests_agencies_and_creates_one(site):
    site.login("sysadmin")
    page = site.text(site.get("/admin/agencies"))
    # the kelurahan is nested inside its kecamatan's list item
    assert page.index('id="agency-kec_penajam"') < page.index(
        'id="agency-kel_nipah_nipah"') < page.index('id="agency-kec_sepaku"')
    assert re.search(r'id="agency-kel_nipah_nipah" data-code="kel_nipah_nipah" '
                     r'data-level="4"', page)
    refused = site.post("/admin/agencies", {"code": "kel_baru", "name": "Kelurahan <Baru>",
                                            "kind": "kelurahan", "parent": "dinas_pupr"},
                        expect=422)
    text = site.text(refused)
    assert 'value="kel_baru"' in text and "Kelurahan &lt;Baru&gt;" in text  # kept, escaped
    assert "kecamatan" in text and 'id="e-parent"' in text
    created = site.post("/admin/agencies", {"code": "kel_baru", "name": "Kelurahan Baru",
                                            "kind": "kelurahan", "parent": "kec_waru"},
                        expect=303)
    assert created.headers["Location"].endswith("/admin/agencies/kel_baru?done=created")
    page = site.text(site.get("/admin/agencies/kel_baru?done=created"))
    assert "Kelurahan Baru" in page and 'id="done"' in page


def test_the_agency_page_lists_liaisons_and_heads_with_links_to_their_accounts(site):
    site.login("sysadmin")
    page = site.text(site.get("/admin/agencies/dinas_pupr"))
    liaisons = page[page.index('id="liaisons"'):page.index('id="heads"')]
    assert "penghubung.pupr" in liaisons and "kadis.pupr" not in liaisons
    assert "kadis.pupr" in page[page.index('id="heads"'):]
    assert 'href="/admin/accounts?agency=dinas_pupr"' in page
    assert "Bidang Bina Marga" in page  # its unit


def test_the_pages_rename_move_and_refuse_stale_forms_and_held_reports(site):
    site.login("sysadmin")
    page = site.text(site.get("/admin/agencies/kel_waru"))
    shown = re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)
    site.post("/admin/agencies/kel_waru/rename", {"name": "Kelurahan Waru Baru",
                                                  "version": shown}, expect=303)
    stale = site.post("/admin/agencies/kel_waru/move", {"parent": "kec_penajam",
                                                        "version": shown}, expect=409)
    assert "Kelurahan Waru Baru" in site.text(stale) and 'id="refusal"' in site.text(stale)
    fresh = re.search(r'name="version" value="([0-9a-f]+)"', site.text(stale)).group(1)
    ppu = re.search(r'name="version" value="([0-9a-f]+)"',
                    site.text(site.get("/admin/agencies/ppu"))).group(1)
    cycle = site.post("/admin/agencies/ppu/move", {"parent": "ppu", "version": ppu},
                      expect=422)
    assert 'id="e-parent"' in site.text(cycle)
    site.post("/admin/agencies/kel_waru/move", {"parent": "kec_penajam", "version": fresh},
              expect=303)
    assert "Kecamatan Penajam" in site.text(site.get("/admin/agencies/kel_waru"))
    site.post("/admin/agencies/kel_waru/rename", {"name": "", "version": "x"}, expect=422)

    disposed_report(site.regency, "dinkes")
    page = site.text(site.get("/admin/agencies/dinkes"))
    shown = re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)
    refused = site.text(site.post("/admin/agencies/dinkes/deactivate", {"version": shown},
                                  expect=409))
    assert re.search(r'id="refusal"[^>]*>[^<]*\b1\b', refused), refused
    site.get("/admin/agencies/tidak_ada", expect=404)


def test_two_administrators_sending_the_same_form_at_once_change_it_once(regency):
    """Both read one version; the agency row is locked for the change, so the second finds
    the version gone (Conflict) instead of overwriting the first."""
    import threading

    shown = version(regency, "dinsos")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def rename(name: str) -> None:
        barrier.wait(timeout=10)
        try:
            regency.domain.agencies.rename(ADMIN, "dinsos", name, shown)
            outcomes.append("renamed")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=rename, args=(f"Dinas Sosial {n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "renamed"]
    entries = AdminAuditLog(regency.domain.context).page(ADMIN, target="dinsos").entries
    assert len(entries) == 1
    assert entries[0].after["name"] == regency.domain.agencies.detail(ADMIN, "dinsos").agency.name
