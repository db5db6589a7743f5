"""The studio's impact preview (`/studio/impact`): what a candidate deadline table, or another
rung budget of the escalation ladder, would have meant for the last months of complaints,
per OPD (workflows/impact.py). A form for people, and a JSON twin for the modeler page.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request

from engine.errors import ValidationFailed
from web import auth
from web.api import json_body
from web.i18n import N_, say
from web.pages import pages
from web.pages.common import domain
from workflows.errors import Invalid
from workflows.impact import DEADLINES_FILE, MAX_FILE_CHARS
from workflows.studio import READERS

NOT_UTF8 = N_("the file is not UTF-8 text; export it again as DMN XML")
NOT_DEPLOYABLE = N_("the candidate cannot be deployed as it is")


def findings_of(exc: ValidationFailed) -> list[dict[str, Any]]:
    """The engine's findings, each message in the visitor's language."""
    return [{**finding.as_dict(), "message": say(finding.message)}
            for finding in exc.findings]


def render(status: int = 200, **context: Any) -> Any:
    config = domain().config
    context.setdefault("form", {"months": "12", "rung_budget_days": ""})
    return render_template("studio/impact.html", rung_budget_days=config.rung_budget_days,
                           deadlines_file=DEADLINES_FILE, **context), status


@pages.get("/studio/impact")
@auth.login_required(*READERS)
def studio_impact() -> Any:
    return render()


@pages.post("/studio/impact")
@auth.login_required(*READERS)
def studio_impact_preview() -> Any:
    form = {"months": request.form.get("months", "12"),
            "rung_budget_days": request.form.get("rung_budget_days", "").strip()}
    errors: dict[str, str] = {}
    files: dict[str, str] = {}
    upload = request.files.get("deadlines")
    pasted = request.form.get("deadlines_xml", "").strip()
    if upload is not None and upload.filename:
        raw = upload.read(MAX_FILE_CHARS * 4 + 1)
        try:
            files[DEADLINES_FILE] = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            errors["deadlines"] = say(NOT_UTF8)
    elif pasted:
        files[DEADLINES_FILE] = pasted
    try:
        if errors:
            raise Invalid("the impact preview's request has errors", errors)
        preview = domain().impact.preview(
            files, auth.current_user(), months=_number(form["months"], int),
            rung_budget_days=_number(form["rung_budget_days"], float)
            if form["rung_budget_days"] else None)
    except ValidationFailed as exc:
        return render(422, form=form, findings=findings_of(exc))
    except Invalid as exc:
        return render(422, form=form, errors={key: say(value) for key, value in
                                              exc.field_errors.items()})
    return render(form=form, preview=preview, uploaded=bool(files))


@pages.post("/studio/impact.json")
@auth.login_required(*READERS)
def studio_impact_json() -> Any:
    """`{"files": {...}, "months": 12, "rung_budget_days": 2}` -> the preview as JSON; 422
    with the engine's findings for a unit that could not be deployed."""
    try:
        body = json_body()
        preview = domain().impact.preview(
            body.get("files", {}), auth.current_user(), months=body.get("months", 12),
            rung_budget_days=body.get("rung_budget_days"))
    except ValidationFailed as exc:
        return jsonify(valid=False, findings=findings_of(exc),
                       error={"message": say(NOT_DEPLOYABLE)}), 422
    except Invalid as exc:
        return jsonify(error={"message": str(exc), "field_errors": {
            key: str(value) for key, value in exc.field_errors.items()}}), 422
    return jsonify(valid=True, **preview.as_dict())


def _number(text: str, kind: type) -> Any:
    """The form's number, or the text itself for the use case to refuse by name."""
    try:
        return kind(text.replace(",", "."))
    except ValueError:
        return text
