"""Importing liaison officers (docs/administrators.md, "Importing liaison officers"): the
upload, the dry run's report, the import, and the temporary passwords' CSV, over
workflows/account_import.py."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template, request

from web import auth
from web.i18n import gettext, say
from web.pages import pages
from web.pages.common import domain, field_messages
from web.pages.officers import officer
from workflows import account_import
from workflows.errors import Invalid

ADMIN = "system_admin"
LIMITS = {"mb": account_import.MAX_BYTES // 2**20, "rows": account_import.MAX_ROWS}


def render_import(check: Any = None, errors: dict[str, str] | None = None,
                  status: int = 200) -> Any:
    reports = [{"number": r.number, "values": r.values,
                "problems": [(column, say(message)) for column, message in r.problems]}
               for r in (check.rows if check is not None else [])]
    return render_template("admin/account_import.html", check=check, reports=reports,
                           errors=errors or {}, limits=LIMITS,
                           columns=account_import.COLUMNS), status


@pages.get("/admin/accounts/import")
@auth.login_required(ADMIN)
def admin_accounts_import() -> Any:
    return render_import()


@pages.post("/admin/accounts/import/check")
@auth.login_required(ADMIN)
def admin_accounts_import_check() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_import(errors={"file": _no_file()}, status=422)
    try:
        check = domain().account_import.check(officer(), upload.filename,
                                              upload.read(account_import.MAX_BYTES + 1))
    except Invalid as exc:
        return render_import(errors=field_messages(exc), status=422)
    return render_import(check, status=200 if check.ok else 422)


def _no_file() -> str:
    return gettext("Choose a CSV or XLSX file.")


@pages.post("/admin/accounts/import/run")
@auth.login_required(ADMIN)
def admin_accounts_import_run() -> Any:
    try:
        check, made = domain().account_import.run(officer(), request.form.get("rows", ""))
    except Invalid as exc:
        return render_import(errors=field_messages(exc), status=422)
    if not made:
        return render_import(check, status=422)
    return render_template("admin/account_imported.html", made=made)


@pages.post("/admin/accounts/import/passwords.csv")
@auth.login_required(ADMIN)
def admin_accounts_import_passwords() -> Any:
    pairs = list(zip(request.form.getlist("username")[:account_import.MAX_ROWS],
                     request.form.getlist("password")[:account_import.MAX_ROWS], strict=False))
    body = domain().account_import.passwords_csv(officer(), pairs)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=temporary-passwords.csv",
        "Cache-Control": "no-store"})


@pages.get("/admin/accounts/import/template.<kind>")
@auth.login_required(ADMIN)
def admin_accounts_import_template(kind: str) -> Any:
    if kind == "xlsx":
        return Response(account_import.template_xlsx(), headers={
            "Content-Disposition": "attachment; filename=liaison-officers.xlsx"},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if kind != "csv":
        abort(404)
    return Response(account_import.template_csv(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=liaison-officers.csv"})
