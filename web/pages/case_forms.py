"""The case page's action forms as rendered (staff/_forms.html), each that is not open kept
per what it shows (web/pages/kept.py): a form is the same for every report at the same
stage, but for its address and version, and the disposition's has a hundred options. The
report's address and version and the session's CSRF field are slots put in on each request;
a form that was sent and came back (open, with what was typed and its errors) is rendered
each time. web/pages/case.py builds the forms (action_forms) and the page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import get_template_attribute, url_for
from markupsafe import Markup, escape

from web.i18n import current_language, zone
from web.pages.common import upload_limits
from web.pages.kept import CSRF_SLOT, Kept
from web.pages.public import ACCEPTED_FILES

FORMS_KEPT = 1024
KEPT_FORMS = Kept(FORMS_KEPT)
# Markup no escaped text can contain (a "<" in an agency's name is written "&lt;").
URL_SLOT = Markup("<aduan-action-url-slot>")
VERSION_SLOT = Markup("<aduan-version-slot>")


def forms_html(forms: list[dict[str, Any]], document: Mapping[str, Any],
               values: Mapping[str, Any], errors: Mapping[str, str],
               open_action: str | None) -> Markup:
    """The report's action forms (staff/_forms.html), each not open rendered once per what
    it shows (the form as action_forms made it, the language, the upload limits) and kept;
    the report's address and version and the session's CSRF field put in here."""
    macro = get_template_attribute("staff/_forms.html", "action_form")
    csrf_field = str(get_template_attribute("_macros.html", "csrf")())
    version = str(int(document["version"]))
    limits = upload_limits()
    parts = []
    for form in forms:
        url = url_for("pages.case_action", tracking=document["tracking_number"],
                      action=form["action"])
        if form["action"] == open_action:
            parts.append(str(macro(form, url, version, values, errors, True,
                                   Markup(csrf_field), ACCEPTED_FILES)))  # noqa: S704
            continue
        key = (repr(form), current_language(), *zone(), limits)
        kept = KEPT_FORMS.get(key, lambda form=form: str(macro(
            form, URL_SLOT, VERSION_SLOT, {}, {}, False, CSRF_SLOT, ACCEPTED_FILES)))
        parts.append(kept.replace(URL_SLOT, str(escape(url))).replace(VERSION_SLOT, version)
                     .replace(CSRF_SLOT, csrf_field))
    return Markup("".join(parts))  # noqa: S704 - rendered by Jinja, the slots escaped here
