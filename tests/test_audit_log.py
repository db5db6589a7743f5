"""The merged audit log (workflows/audit_log.py on /admin/audit): the administrators'
changes and the studio's deploys and migrations in one list, filtered, exported."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from workflows import audit_log, tabular


def make_change(site):
    site.login("sysadmin")
    site.post("/admin/accounts/new", {"username": "penghubung.dinsos",
                                      "full_name": "Sekretaris Dinsos",
                                      "roles": "liaison_officer", "agency": "dinsos"},
              expect=200)


def test_the_log_merges_the_studios_deploys_with_the_administrators_changes(site):
    make_change(site)
    page = site.text(site.get("/admin/audit"))
    assert "account.create" in page and "studio.deploy" in page
    assert page.index("account.create") < page.index("studio.deploy")  # newest first
    studio = site.text(site.get("/admin/audit?source=studio"))
    assert "studio.deploy" in studio and "account.create" not in studio
    admin = site.text(site.get("/admin/audit?source=admin"))
    assert "account.create" in admin and "studio.deploy" not in admin
    by_action = site.text(site.get("/admin/audit?action=studio."))
    assert "studio.deploy" in by_action and "account.create" not in by_action
    site.get("/admin/audit?source=elsewhere", expect=422)


def test_the_log_exports_what_is_filtered_as_csv_and_xlsx(site):
    make_change(site)
    page = site.text(site.get("/admin/audit?source=admin"))
    assert 'href="/admin/audit/export.csv?source=admin"' in page
    response = site.get("/admin/audit/export.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == list(audit_log.EXPORT_HEADER)
    assert [r[3] for r in rows[1:]][:1] == ["account.create"]
    assert "studio.deploy" in [r[3] for r in rows[1:]]
    only_admin = site.get("/admin/audit/export.csv?source=admin").get_data(as_text=True)
    assert "studio.deploy" not in only_admin and "account.create" in only_admin
    book = load_workbook(io.BytesIO(site.get("/admin/audit/export.xlsx").get_data()))
    sheet_rows = list(book.active.iter_rows(values_only=True))
    assert sheet_rows[0] == audit_log.EXPORT_HEADER and len(sheet_rows) == len(rows)
    site.get("/admin/audit/export.pdf", expect=422)


def test_the_export_is_for_administrators(site):
    site.login("admin.kominfo")  # the regency administrator reads the log too
    site.get("/admin/audit")
    site.get("/admin/audit/export.csv")
    for user in ("penghubung.dinkes", "teknis.binamarga", "kadis.pupr", "perancang"):
        site.login(user)
        site.get("/admin/audit/export.csv", expect=403)
        site.get("/admin/audit/export.xlsx", expect=403)


def test_a_migration_reads_as_an_audit_entry():
    entry = audit_log.studio_entry({
        "kind": "migrate", "at": "2026-03-02T01:00:00+00:00", "actor": "perancang",
        "process_id": "aduan_lifecycle", "to_version": 3, "from_versions": [1, 2],
        "note": "fix", "instances": [4, 5, 6]})
    assert (entry.action, entry.target_kind, entry.target, entry.source) == (
        "studio.migrate", "process", "aduan_lifecycle", "studio")
    assert entry.before == {"versions": [1, 2]}
    assert entry.after == {"version": 3, "instances": 3}


def test_cells_a_spreadsheet_would_run_are_written_as_text():
    assert tabular.safe_cell("=1+1") == "'=1+1"
    assert tabular.safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert tabular.safe_cell("-2") == "'-2" and tabular.safe_cell(-2) == -2
    assert tabular.safe_cell(None) == "" and tabular.safe_cell("dinsos") == "dinsos"
