"""Importing liaison officers (web/pages/account_import.py over workflows/account_import.py):
the dry run's report by row and column, the import all or nothing, the passwords offered
once, the template, the limits."""

from __future__ import annotations

import csv
import io
import json
import re

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from workflows import account_import
from workflows.admin_models import AdminAudit
from workflows.models import User

HEADER = "username,full_name,email,phone,agency_code\n"
GOOD = ("penghubung.dinsos,Sekretaris Dinsos,sek@dinsos.example,0812 1111 2222,dinsos\n"
        "penghubung.dpmptsp,Sekretaris DPMPTSP,,,dpmptsp\n")


def upload(site, name, data, expect):
    response = site.post("/admin/accounts/import/check", {"file": (io.BytesIO(data), name)},
                         content_type="multipart/form-data", expect=expect)
    response.request.input_stream.close()  # the test client spools a large body to a file
    return response


def problems(page):
    """{row number: the problems cell's text} of the dry run's table."""
    found = {}
    for number, cell in re.findall(r'<tr class="table-danger" id="row-(\d+)">.*?'
                                   r'<td>((?:<div>.*?</div>)+)</td>\s*</tr>', page, re.S):
        found[int(number)] = re.sub(r"<[^>]+>", "", cell)
    return found


def users_count(site):
    with site.regency.reads() as session:
        return session.scalar(select(func.count()).select_from(User))


def test_the_dry_run_reports_each_rows_problems_by_row_and_column(site):
    site.login("sysadmin")
    before = users_count(site)
    data = (HEADER + GOOD
            + "penghubung.dinkes,Dobel di basis data,,,dinkes\n"      # row 4
            + "penghubung.dinsos,Dobel di berkas,,,dinsos\n"          # row 5
            + "baru.satu,,bukan-email,,nowhere\n"                     # row 6
            + "\n"                                                    # row 7: blank, skipped
            + "baru.dua,Di unit,,,pupr_bina_marga\n")                 # row 8
    page = site.text(upload(site, "officers.csv", data.encode(), 422))
    found = problems(page)
    assert set(found) == {4, 5, 6, 8}
    assert "username" in found[4] and "sudah dipakai" in found[4]
    assert "baris 2" in found[5]
    assert "full_name" in found[6] and "email" in found[6] and "nowhere" in found[6]
    assert found[6].index("full_name") < found[6].index("email") < found[6].index("agency_code")
    assert "agency_code" in found[8] and "unit" in found[8]
    assert 'id="import-run"' not in page and "4 dari 6 baris bermasalah" in page
    assert users_count(site) == before  # a dry run writes nothing


def test_a_checked_xlsx_file_is_imported_at_once_with_passwords_offered_once(site):
    site.login("sysadmin")
    book = Workbook()
    sheet = book.active
    sheet.append(["Username", "Full Name", "Email", "Phone", "Agency Code"])
    sheet.append(["penghubung.dinsos", "Sekretaris Dinsos", "sek@dinsos.example", 8121111,
                  "dinsos"])
    sheet.append(["penghubung.dpmptsp", "Sekretaris DPMPTSP", None, None, "dpmptsp"])
    buffer = io.BytesIO()
    book.save(buffer)
    page = site.text(upload(site, "officers.xlsx", buffer.getvalue(), 200))
    assert 'id="import-ok"' in page
    rows = re.search(r'name="rows" value="([^"]+)"', page).group(1)
    rows = json.loads(rows.replace("&#34;", '"').replace("&quot;", '"'))
    done = site.text(site.post("/admin/accounts/import/run", {"rows": json.dumps(rows)},
                               expect=200))
    pairs = re.findall(r'name="username" value="([^"]+)"><input type="hidden" '
                       r'name="password" value="([^"]+)"', done)
    assert [u for u, _ in pairs] == ["penghubung.dinsos", "penghubung.dpmptsp"]
    download = site.post("/admin/accounts/import/passwords.csv",
                         {"username": [u for u, _ in pairs],
                          "password": [p for _, p in pairs]}, expect=200)
    assert download.mimetype == "text/csv" and "attachment" in download.headers[
        "Content-Disposition"]
    lines = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines == [["username", "temporary_password"], *map(list, pairs)]
    with site.regency.reads() as session:
        audits = session.scalars(select(AdminAudit).where(
            AdminAudit.action == "account.import").order_by(AdminAudit.id)).all()
        assert [a.target for a in audits] == ["penghubung.dinsos", "penghubung.dpmptsp"]
        assert audits[0].after["phone"] == "8121111" and audits[0].note == "row 2"
        assert not any(p in json.dumps(a.after) for a in audits for _, p in pairs)
    officer = type(site)(site.regency).login("penghubung.dinsos", pairs[0][1])
    assert officer.get("/tasks", expect=302).location == "/account/password"


def test_the_import_is_all_or_nothing(site):
    site.login("sysadmin")
    page = site.text(upload(site, "officers.csv", (HEADER + GOOD).encode(), 200))
    rows = json.loads(re.search(r'name="rows" value="([^"]+)"', page).group(1)
                      .replace("&#34;", '"'))
    before = users_count(site)
    # someone takes the second username between the dry run and the import
    site.post("/admin/accounts/new", {"username": "penghubung.dpmptsp", "full_name": "X",
                                      "roles": "supervisor", "agency": "dpmptsp"}, expect=200)
    again = site.text(site.post("/admin/accounts/import/run", {"rows": json.dumps(rows)},
                                expect=422))
    assert set(problems(again)) == {3}
    assert users_count(site) == before + 1  # only the one made by hand
    site.post("/admin/accounts/import/run", {"rows": "not json"}, expect=422)
    site.post("/admin/accounts/import/run", {"rows": json.dumps([{"row": "x"}])}, expect=422)


def test_files_that_cannot_be_imported_say_why(site):
    site.login("sysadmin")
    cases = [
        ("officers.txt", HEADER.encode(), ".csv atau .xlsx"),
        ("officers.csv", b"name,agency\nA,dinsos\n", "username, full_name, agency_code"),
        ("officers.csv", HEADER.encode(), "tidak berisi baris"),
        ("officers.csv", "ç".encode("latin-1") + HEADER.encode(), "UTF-8"),
        ("officers.xlsx", b"PK not a zip", "XLSX"),
        ("officers.csv", b"x" * (account_import.MAX_BYTES + 1), "1 MB"),
        ("officers.csv", (HEADER + "".join(f"u.{n:04d},N,,,dinsos\n" for n in range(
            account_import.MAX_ROWS + 1))).encode(), f"{account_import.MAX_ROWS} baris"),
    ]
    for name, data, words in cases:
        page = site.text(upload(site, name, data, 422))
        assert words in page, (name, words)
    page = site.text(site.post("/admin/accounts/import/check", {},
                               content_type="multipart/form-data", expect=422))
    assert "Pilih berkas CSV atau XLSX" in page


def test_semicolon_csv_from_a_spreadsheet_is_read(site):
    site.login("sysadmin")
    data = "\ufeffusername;full_name;email;phone;agency_code\nbaru.tiga;Baru Tiga;;;dinsos\n"
    assert 'id="import-ok"' in site.text(upload(site, "officers.csv", data.encode(), 200))


def test_the_templates_download_and_pass_the_dry_run(site):
    site.login("sysadmin")
    page = site.text(site.get("/admin/accounts/import"))
    assert "500" in page and "1 MB" in page
    csv_file = site.get("/admin/accounts/import/template.csv")
    assert csv_file.get_data(as_text=True).lstrip("\ufeff").startswith(
        "username,full_name,email,phone,agency_code")
    assert 'id="import-ok"' in site.text(upload(site, "t.csv", csv_file.get_data(), 200))
    xlsx = site.get("/admin/accounts/import/template.xlsx").get_data()
    assert next(load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True)) == (
        account_import.COLUMNS)
    assert 'id="import-ok"' in site.text(upload(site, "t.xlsx", xlsx, 200))
    site.get("/admin/accounts/import/template.exe", expect=404)
