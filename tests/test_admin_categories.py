"""The report categories in the database: the use cases and the cached reader
(workflows/categories.py) on SQLite and PostgreSQL, every reader of them (validation, the
report form, the API and its OpenAPI enum, Open311, SMS keywords, the photo rule), and the
pages (web/pages/admin_categories.py) with their authorization."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from engine import Engine
from tests.test_pages_public import file_report
from tests.test_sms import filed_number, gateway  # noqa: F401 - the SMS gateway fixture
from workflows import categories
from workflows.access import Principal
from workflows.category_models import Category
from workflows.config import RegencyConfig
from workflows.domain import Domain
from workflows.errors import Conflict, Forbidden, Invalid
from workflows.storage import Storage
from workflows.users import Passwords

ADMIN = Principal(username="sysadmin", roles=frozenset({"system_admin"}))
OTHERS = ("admin.kominfo", "kadis.kominfo", "penghubung.dinkes", "teknis.binamarga",
          "perancang")
FLOODING = {"code": "flooding", "name_id": "Banjir", "name_en": "Flooding",
            "description_id": "Genangan dan banjir di permukiman.", "photo_required": "on"}


def version(domain, code):
    return domain.categories.get(ADMIN, code).version


def test_the_migration_seeds_the_shipped_categories(regency):
    shown = regency.domain.categories.catalog()
    assert [c.code for c in shown.categories] == [
        "roads", "waste", "street_lights", "water", "civil_registration", "health",
        "education", "permits", "social_aid", "other"]
    assert {c.code for c in shown.categories if c.photo_required} == {
        "roads", "waste", "street_lights", "water"}
    assert shown.label("health") == {"id": "Kesehatan", "en": "Health"}
    assert shown.label("unknown") == {"id": "unknown", "en": "unknown"}


def test_a_new_category_is_accepted_by_the_api_and_published_at_once(regency):
    regency.submit(category="flooding", expect=422)
    regency.domain.categories.create(ADMIN, FLOODING)
    enum = regency.get("/api/v1/openapi.json")["paths"]["/complaints"]["post"][
        "requestBody"]["content"]["application/json"]["schema"]["properties"]["category"]
    assert "flooding" in enum["enum"]
    tracking = regency.submit(category="flooding", photo=True)["tracking_number"]
    assert regency.report(tracking)["category"] == "flooding"
    services = regency.client.get("/open311/v2/services.json").get_json()
    assert "Banjir" in {s["service_name"] for s in services}


def test_a_deactivated_category_is_refused_with_a_clear_error_and_old_reports_keep_it(
        regency):
    old = regency.submit(category="education")["tracking_number"]
    regency.domain.categories.set_active(ADMIN, "education", False,
                                         version(regency.domain, "education"))
    refused = regency.submit(category="education", expect=422)
    assert "no longer offered" in refused["error"]["field_errors"]["category"]
    enum = regency.get("/api/v1/openapi.json")["paths"]["/complaints"]["post"][
        "requestBody"]["content"]["application/json"]["schema"]["properties"]["category"]
    assert "education" not in enum["enum"] and "roads" in enum["enum"]
    assert regency.report(old)["category"] == "education"
    with pytest.raises(Conflict):  # `other` takes what no other category fits
        regency.domain.categories.set_active(ADMIN, "other", False,
                                             version(regency.domain, "other"))


def test_the_photo_rule_follows_the_table(regency):
    domain = regency.domain
    health = regency.submit(category="health")["tracking_number"]
    roads = regency.submit(category="roads")["tracking_number"]
    domain.categories.update(ADMIN, "health", {"name_id": "Kesehatan", "name_en": "Health",
                                               "photo_required": "on"},
                             version(domain, "health"))
    domain.categories.update(ADMIN, "roads", {"name_id": "Jalan", "name_en": "Roads"},
                             version(domain, "roads"))
    refused = regency.act(health, "verify", as_="admin.kominfo", expect=409)
    assert "needs a photo" in refused["error"]["message"]
    regency.act(roads, "verify", as_="admin.kominfo")


def test_a_stale_edit_is_refused_and_invalid_names_are_named(regency):
    domain = regency.domain
    shown = version(domain, "permits")
    domain.categories.update(ADMIN, "permits", {"name_id": "Perizinan dan nonperizinan",
                                                "name_en": "Permits"}, shown)
    with pytest.raises(Conflict):
        domain.categories.update(ADMIN, "permits", {"name_id": "Izin", "name_en": "Permits"},
                                 shown)
    with pytest.raises(Conflict):
        domain.categories.set_active(ADMIN, "permits", False, shown)
    assert domain.categories.get(ADMIN, "permits").name_id == "Perizinan dan nonperizinan"
    with pytest.raises(Invalid) as refused:
        domain.categories.create(ADMIN, {"code": "Roads!", "name_id": "", "name_en": "x" * 101})
    assert set(refused.value.field_errors) == {"code", "name_id", "name_en"}
    with pytest.raises(Invalid) as refused:
        domain.categories.create(ADMIN, {"code": "roads", "name_id": "Jalan", "name_en": "R"})
    assert "is taken" in str(refused.value.field_errors["code"])
    with pytest.raises(Forbidden):
        domain.categories.create(Principal(username="x", roles=frozenset({"regency_admin"})),
                                 FLOODING)
    actions = [e.action for e in domain.admin_audit.page(ADMIN, target="permits").entries]
    assert actions == ["category.update"]


def test_a_change_committed_by_another_process_is_read_at_once(regency, database_url,
                                                                tmp_path):
    """Two processes' caches: the second one's change is seen by the first at its next
    read, and a catalog read from the cache is the same object until then."""
    other_engine = Engine(database_url, clock=regency.clock)
    other = Domain(other_engine, RegencyConfig(), Storage(tmp_path / "other", 1024),
                   Passwords.fast())
    try:
        first = regency.domain.categories.catalog()
        assert regency.domain.categories.catalog() is first  # cached: the stamp held
        other.categories.create(ADMIN, FLOODING)
        seen = regency.domain.categories.catalog()
        assert seen is not first and "flooding" in seen.active_codes
        other.categories.set_active(ADMIN, "flooding", False, version(other, "flooding"))
        assert "flooding" not in regency.domain.categories.catalog().active_codes
        regency.submit(category="flooding", expect=422)
    finally:
        other_engine.dispose()


def test_the_cache_is_only_as_good_as_the_versions(regency):
    """A hand-written UPDATE that leaves `version` alone is not seen by the cache (the
    documented limit): changes go through the use cases, which raise it."""
    domain = regency.domain
    assert domain.categories.catalog().label("water")["id"] == "Air bersih"
    with domain.context.transaction() as session:
        session.execute(update(Category).where(Category.code == "water").values(
            name_id="Air minum", version=Category.version + 1))
    assert domain.categories.catalog().label("water")["id"] == "Air minum"
    with domain.context.reads() as session:
        assert categories.read_catalog(session).label("water")["id"] == "Air minum"


def test_an_sms_keyword_of_a_deactivated_category_files_under_other(gateway):  # noqa: F811
    domain = gateway.regency.domain
    domain.categories.set_active(ADMIN, "education", False, version(domain, "education"))
    result = gateway.sms("LAPOR Atap sekolah dasar di Waru bocor saat hujan")
    assert gateway.complaint(filed_number(result["reply"])).category == "other"


# ------------------------------------------------------------------------------ pages


def test_the_category_pages_answer_403_to_every_other_role(site):
    for user in OTHERS:
        site.login(user)
        site.get("/admin/categories", expect=403)
        site.get("/admin/categories/roads", expect=403)
        site.post("/admin/categories", FLOODING, expect=403)
        site.post("/admin/categories/roads", {"name_id": "x", "version": "1"}, expect=403)
        site.post("/admin/categories/roads/deactivate", {"version": "1"}, expect=403)
        site.post("/admin/categories/roads/reactivate", {"version": "1"}, expect=403)
        site.logout()
    site.login("sysadmin")
    assert 'href="/admin/categories"' in site.text(site.get("/admin"))


def test_a_category_created_on_the_page_is_offered_on_the_report_form_at_once(site):
    site.login("sysadmin")
    page = site.text(site.get("/admin/categories"))
    assert 'href="/studio/processes/complaint_lifecycle/versions"' in page
    assert 'id="category-roads"' in page
    refused = site.text(site.post("/admin/categories", {**FLOODING, "code": "Banjir Besar",
                                                        "name_en": ""}, expect=422))
    assert 'value="Banjir Besar"' in refused and 'id="e-code"' in refused
    assert 'id="e-name_en"' in refused
    site.post("/admin/categories", FLOODING, expect=303)
    site.logout()
    form = site.text(site.get("/lapor"))
    assert '<option value="flooding"' in form and "Banjir" in form
    file_report(site, {"category": "flooding"}, expect=303)


def test_the_category_page_edits_refuses_stale_forms_and_deactivates(site):
    site.login("sysadmin")
    page = site.text(site.get("/admin/categories/social_aid"))
    shown = re.search(r'name="version" value="(\d+)"', page).group(1)
    site.post("/admin/categories/social_aid", {"name_id": "Bantuan sosial (bansos)",
                                               "name_en": "Social aid", "version": shown},
              expect=303)
    stale = site.text(site.post("/admin/categories/social_aid", {
        "name_id": "Bansos", "name_en": "Social aid", "version": shown}, expect=409))
    assert 'id="refusal"' in stale and "Bantuan sosial (bansos)" in stale
    invalid = site.text(site.post("/admin/categories/social_aid", {
        "name_id": "", "name_en": "Social aid", "version": str(int(shown) + 1)}, expect=422))
    assert 'id="e-name_id"' in invalid
    page = site.text(site.get("/admin/categories/social_aid"))
    current = re.search(r'name="version" value="(\d+)"', page).group(1)
    site.post("/admin/categories/social_aid/deactivate", {"version": current}, expect=303)
    site.logout()
    assert '<option value="social_aid"' not in site.text(site.get("/lapor"))
    refused = site.text(file_report(site, {"category": "social_aid"}, expect=422))
    assert "Pilih kategori." in refused  # a form opened before: choose again


def test_the_statistics_show_a_category_without_a_shipped_label_as_other(regency):
    regency.domain.categories.create(ADMIN, FLOODING)
    regency.submit(category="flooding", photo=True)
    figures = regency.get("/api/v1/stats?year=2026", as_="kadis.kominfo")
    row = next(r for r in figures["breakdowns"]["category"] if r["key"] == "flooding")
    assert row["label"] == {"id": "Lainnya (flooding)", "en": "Other (flooding)"}
    assert row["received"] == 1


def test_a_scratch_run_copies_the_live_categories(site):
    """Trying the lifecycle (the studio's scratch runs) files test reports under the
    categories the administrator keeps, not only the shipped ones."""
    designer = Principal(username="perancang", roles=frozenset({"process_designer"}))
    domain = site.regency.domain
    domain.categories.create(ADMIN, FLOODING)
    domain.categories.set_active(ADMIN, "education", False, version(domain, "education"))
    run = domain.scratch.create_from_deployed(designer)
    report = {"classification": "pengaduan", "category": "flooding", "title": "Banjir di RT 3",
              "body": "Air setinggi lutut sejak pagi.", "reporter_name": "Uji"}
    domain.scratch.submit(run.id, report, designer, sample_photo=True)
    with pytest.raises(Invalid):
        domain.scratch.submit(run.id, {**report, "category": "education"}, designer)
    site.login("perancang")
    page = site.text(site.get(f"/studio/try/{run.id}"))
    assert '<option value="flooding">' in page and '<option value="education">' not in page
