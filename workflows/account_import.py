"""Importing liaison officers' accounts from a CSV or XLSX file (docs/administrators.md,
"Importing liaison officers").

Two steps, both by the system administrator:
1. `check` (the dry run) reads the file and reports each row's problems by row number (as
   the spreadsheet numbers it: the header is row 1) and column: a missing name, a bad
   e-mail, an unknown or inactive agency, or one that is no OPD, BUMD, kecamatan or
   kelurahan, a username taken in the database or used twice in the file. Nothing is
   written. The rows read are handed back for the second step.
2. `run` checks the rows again and creates every account in one transaction, each audited
   as `account.import`, each with a temporary password it must change at the first
   sign-in: all or none (a row that went bad since the dry run stops the whole import).
   The passwords are returned once, for the administrator's CSV download; they are never
   stored in clear.

Limits: a file of at most MAX_BYTES, at most MAX_ROWS rows.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from workflows import access, account_admin, tabular
from workflows.account_admin import AccountAdmin, AccountFields, Secret
from workflows.context import Context
from workflows.errors import Invalid, Message

MAX_BYTES = 1024 * 1024
MAX_ROWS = 500
COLUMNS = ("username", "full_name", "email", "phone", "agency_code")
REQUIRED = ("username", "full_name", "agency_code")
ROLE = "liaison_officer"
FIELD_COLUMNS = {"agency": "agency_code", "roles": "agency_code"}
EXAMPLE = ("penghubung.dinsos", "Sekretaris Dinas Sosial", "sekretaris.dinsos@ppu.go.id",
           "0812 0000 0000", "dinsos")


@dataclass(frozen=True)
class RowReport:
    """One row of the file and its problems (column, message) in the file's order."""

    number: int
    values: dict[str, str]
    problems: list[tuple[str, Message]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportCheck:
    rows: list[RowReport]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not any(r.problems for r in self.rows)

    @property
    def with_problems(self) -> list[RowReport]:
        return [r for r in self.rows if r.problems]

    def rows_json(self) -> str:
        """The rows read, for the import step (checked again there)."""
        return json.dumps([{"row": r.number, **r.values} for r in self.rows])


def file_problem(message: Message) -> Invalid:
    return Invalid("the file cannot be imported", {"file": message})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:300]


def _header(names: list[Any]) -> list[str]:
    header = [_cell(n).lower().replace(" ", "_") for n in names]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise file_problem(Message("the first row must name the columns; missing: %(columns)s "
                           "(download the template)", columns=", ".join(missing)))
    return header


def _records(header: list[str], lines: Any) -> list[tuple[int, dict[str, str]]]:
    rows: list[tuple[int, dict[str, str]]] = []
    for number, cells in enumerate(lines, start=2):
        values = [_cell(c) for c in cells]
        if not any(values):
            continue
        if len(rows) >= MAX_ROWS:
            raise file_problem(Message("at most %(n)s rows at a time; split the file",
                                       n=MAX_ROWS))
        record = dict(zip(header, values, strict=False))
        rows.append((number, {c: record.get(c, "") for c in COLUMNS}))
    return rows


def read_file(filename: str, data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's rows (row number, values by column); Invalid naming `file` when it cannot
    be read: too large, neither CSV nor XLSX, no header, too many rows."""
    if len(data) > MAX_BYTES:
        raise file_problem(Message("the file is larger than %(mb)s MB; split it",
                                   mb=MAX_BYTES // 2**20))
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(data)
    if name.endswith(".csv"):
        return _read_csv(data)
    raise file_problem(Message("choose a .csv or .xlsx file"))


def _read_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise file_problem(Message(
            "the CSV file is not UTF-8 text; save it as “CSV UTF-8”")) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not lines:
        raise file_problem(Message("the file is empty"))
    return _records(_header(lines[0]), lines[1:])


def _read_xlsx(data: bytes) -> list[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise file_problem(Message("the file is not a readable XLSX workbook")) from None
    try:
        lines = book.worksheets[0].iter_rows(values_only=True)
        first = next(lines, None)
        if first is None:
            raise file_problem(Message("the file is empty"))
        return _records(_header(list(first)), lines)
    finally:
        book.close()


def rows_from_json(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows a dry run handed back (the import form's hidden field), checked for shape."""
    try:
        items = json.loads(text)
    except ValueError:
        items = None
    if (not isinstance(items, list) or not 0 < len(items) <= MAX_ROWS or not all(
            isinstance(i, dict) and isinstance(i.get("row"), int)
            and all(isinstance(i.get(c, ""), str) for c in COLUMNS) for i in items)):
        raise file_problem(Message(
            "the checked rows did not come back whole; check the file again"))
    return [(i["row"], {c: i.get(c, "")[:300] for c in COLUMNS}) for i in items]


def fields_of(values: dict[str, str]) -> AccountFields:
    return AccountFields(username=values["username"].lower(), full_name=values["full_name"],
                         email=values["email"], phone=values["phone"], roles=(ROLE,),
                         agency_code=values["agency_code"])


def template_csv() -> bytes:
    """The template: the header and one example row."""
    return tabular.csv_bytes(COLUMNS, [EXAMPLE])


def template_xlsx() -> bytes:
    return tabular.xlsx_bytes("liaison_officers", COLUMNS, [EXAMPLE])


class AccountImport:
    """The use cases of the import (see the module)."""

    def __init__(self, ctx: Context, accounts: AccountAdmin) -> None:
        self.ctx = ctx
        self.accounts = accounts

    def check(self, principal: access.Principal, filename: str, data: bytes) -> ImportCheck:
        """The dry run: each row's problems; nothing is written."""
        account_admin.require_admin(principal)
        rows = read_file(filename, data)
        if not rows:
            raise file_problem(Message("the file has no rows under its header"))
        with self.ctx.reads() as session:
            return self._check(session, rows)

    def run(self, principal: access.Principal, rows_json: str
            ) -> tuple[ImportCheck, list[Secret]]:
        """Create every account of the checked rows, or none: the check (with problems
        and nothing created) or the new accounts' temporary passwords."""
        account_admin.require_admin(principal)
        rows = rows_from_json(rows_json)
        with self.ctx.reads() as session:
            check = self._check(session, rows)
        if not check.ok:
            return check, []
        passwords = [account_admin.temporary_password() for _ in rows]
        hashes = [self.ctx.passwords.hash_random(p) for p in passwords]
        made: list[Secret] = []
        with self.ctx.transaction() as session:
            check = self._check(session, rows)  # again: a username may be taken meanwhile
            if not check.ok:
                return check, []
            for report, password, hashed in zip(check.rows, passwords, hashes, strict=True):
                fields = fields_of(report.values)
                self.accounts.add_account(session, principal, fields, hashed,
                                          action="account.import",
                                          note=f"row {report.number}")
                made.append(Secret(fields.username, password))
        return check, made

    def passwords_csv(self, principal: access.Principal, pairs: list[tuple[str, str]]
                      ) -> bytes:
        """The CSV of the import's temporary passwords, as the import's page handed them
        back (they are not stored: this only writes them out)."""
        account_admin.require_admin(principal)
        return tabular.csv_bytes(("username", "temporary_password"), pairs[:MAX_ROWS])

    @staticmethod
    def _check(session: Any, rows: list[tuple[int, dict[str, str]]]) -> ImportCheck:
        seen: dict[str, int] = {}
        reports = []
        for number, values in rows:
            fields = fields_of(values)
            errors, _agency = account_admin.check_fields(session, fields, new=True)
            problems = [(FIELD_COLUMNS.get(name, name), message)
                        for name, message in errors.items()]
            first = seen.setdefault(fields.username, number)
            if fields.username and first != number:
                problems.insert(0, ("username", Message(
                    "%(username)s is also on row %(row)s; each username once",
                    username=fields.username, row=first)))
            order = {c: i for i, c in enumerate(COLUMNS)}
            problems.sort(key=lambda p: order.get(p[0], len(COLUMNS)))
            reports.append(RowReport(number, values, problems))
        return ImportCheck(reports)
