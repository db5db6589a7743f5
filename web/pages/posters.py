"""QR posters (workflows/posters.py): the regency administrator's and the agencies' liaison
officers' pages.

- /posters (GET): the caller's posters with their scans and reports, and the form for a
  new one; (POST) creates one and goes to its page.
- /posters/<code>: one poster, its QR code and its counts.
- /posters/<code>.svg, /posters/<code>.png: the QR code (segno), a download.
- /posters/<code>/print: the printable A4 page with instructions for citizens, in the
  page's language (Bahasa Indonesia unless switched).

The QR code holds the report form's absolute address with the poster's code,
`/lapor?poster=<code>` (`poster_url`), on the host the staff page was asked on: serve the
staff pages on the public address (ADUAN_SERVER_NAME or the proxy's Host) before printing.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import Response, redirect, render_template, request, url_for

from web import auth
from web.i18n import N_, gettext, say
from web.pages import pages
from web.pages.common import domain
from web.pages.officers import officer
from workflows.errors import Invalid

ROLES = ("regency_admin", "liaison_officer")
FIELD_HELP = {
    "agency_code": N_("Choose an agency from the list."),
    "place_name": N_("The name of the place may be at most 200 characters long."),
    "latitude": N_("Enter the latitude as a number between -90 and 90, for example -1.2538, "
                   "together with the longitude; or leave both empty."),
    "longitude": N_("Enter the longitude as a number between -180 and 180, for example "
                    "116.8305, together with the latitude; or leave both empty."),
}
QR_ERROR_LEVEL = "m"  # survives a dirty or partly torn poster (15%)


def poster_url(code: str) -> str:
    """What the QR code says: the report form with the poster's code."""
    return url_for("pages.report_form", poster=code, _external=True)


def qr_code(code: str) -> segno.QRCode:
    return segno.make(poster_url(code), error=QR_ERROR_LEVEL, micro=False)


@pages.route("/posters", methods=["GET", "POST"])
@auth.login_required(*ROLES)
def posters() -> Any:
    principal = officer()
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {name: (request.form.get(name) or "").strip() for name in (
            "agency_code", "place_name", "latitude", "longitude")}
        try:
            created = domain().posters.create(principal, values)
        except Invalid as exc:
            errors = {name: gettext(FIELD_HELP[name]) if name in FIELD_HELP else say(text)
                      for name, text in (exc.field_errors or {}).items()}
        else:
            return redirect(url_for("pages.poster", code=created.code), 303)
    page = domain().posters.page(principal)
    return render_template("staff/posters.html", page=page, values=values, errors=errors,
                           field_labels=FIELD_LABELS), 422 if errors else 200


FIELD_LABELS = {
    "agency_code": N_("Agency"),
    "place_name": N_("Place (optional)"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
}


@pages.get("/posters/<code>")
@auth.login_required(*ROLES)
def poster(code: str) -> Any:
    found = domain().posters.get(code, officer())
    return render_template("staff/poster.html", poster=found, url=poster_url(found.code),
                           svg=qr_code(found.code).svg_inline(scale=6, omitsize=True))


@pages.get("/posters/<code>.svg")
@auth.login_required(*ROLES)
def poster_svg(code: str) -> Any:
    found = domain().posters.get(code, officer())
    out = io.BytesIO()
    qr_code(found.code).save(out, kind="svg", scale=10, title=poster_url(found.code))
    return download(out.getvalue(), "image/svg+xml", f"aduan-qr-{found.code}.svg")


@pages.get("/posters/<code>.png")
@auth.login_required(*ROLES)
def poster_png(code: str) -> Any:
    found = domain().posters.get(code, officer())
    out = io.BytesIO()
    qr_code(found.code).save(out, kind="png", scale=10)
    return download(out.getvalue(), "image/png", f"aduan-qr-{found.code}.png")


@pages.get("/posters/<code>/print")
@auth.login_required(*ROLES)
def poster_print(code: str) -> Any:
    found = domain().posters.get(code, officer())
    return render_template("staff/poster_print.html", poster=found,
                           url=poster_url(found.code),
                           svg=qr_code(found.code).svg_inline(scale=12, omitsize=True))


def download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
