"""Try before deploy (`/studio/try`): a candidate lifecycle in a scratch copy of the regency.

The designer starts a scratch run from the unit's files (or from the deployed lifecycle),
files test complaints, acts as each lane, and moves the scratch clock by working days or
hours. The use cases are workflows/scratch.py (domain.scratch); regency administrators
read along. docs/designers.md, "Trying a change before deploying it", is the guide.
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for

from engine import ValidationFailed
from web import auth
from web.i18n import N_, gettext, say
from web.pages import pages
from web.pages.case import ACTION_TEXTS, FIELD_LABELS, SLA_STATES
from web.pages.common import domain, field_messages
from workflows.errors import Conflict, Invalid
from workflows.scratch import LANES
from workflows.studio import READERS
from workflows.validation import ACTION_SCHEMAS, CLASSIFICATIONS, SEVERITIES

LANE_LABELS = {
    "regency_admin": N_("Regency administrator"),
    "liaison_officer": N_("Liaison officer of the agency"),
    "technical_officer": N_("Technical officer of the unit"),
    "supervisor": N_("Supervisor of the agency"),
    "complainant": N_("Complainant"),
}
# The complainant's verbs, which the officers' case page does not offer.
VERB_LABELS = {
    "provide_info": N_("Provide the information"),
    "reply": N_("Reply: not satisfied with the answer"),
    "rate": N_("Accept and rate the answer"),
}
TRY_FIELD_LABELS = {
    "information": N_("Information"),
    "comment": N_("Comment"),
    "rating": N_("Rating (1 to 5)"),
}
STEPS = {"day": {"working_days": 1}, "days3": {"working_days": 3}, "hour": {"hours": 1}}
CREATE_WORDS = {
    "choose the unit's files": N_("Choose complaint_lifecycle.bpmn and its .dmn files, or try "
                                  "the deployed lifecycle."),
}


def _principal() -> Any:
    return auth.current_user()


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else None


@pages.app_template_global("try_verb_label")
def try_verb_label(verb: str) -> str:
    if verb in VERB_LABELS:
        return gettext(VERB_LABELS[verb])
    return gettext(ACTION_TEXTS[verb][0]) if verb in ACTION_TEXTS else verb


@pages.app_template_global("try_field_label")
def try_field_label(name: str) -> str:
    label = TRY_FIELD_LABELS.get(name) or FIELD_LABELS.get(name)
    return gettext(label) if label else name


@pages.app_template_global("try_lane_label")
def try_lane_label(lane: str) -> str:
    return gettext(LANE_LABELS[lane]) if lane in LANE_LABELS else lane


@pages.get("/studio/try")
@auth.login_required(*READERS)
def studio_try_home() -> Any:
    return _home()


def _home(status: int = 200, findings: list[dict[str, Any]] | None = None,
          errors: dict[str, str] | None = None, message: str = "") -> Any:
    principal = _principal()
    runs = domain().scratch.list(principal)
    return render_template("studio/try_home.html", runs=runs, findings=findings or [],
                           errors=errors or {}, message=message,
                           may_change=principal.has("process_designer")), status


@pages.post("/studio/try")
@auth.login_required(*READERS)
def studio_try_create() -> Any:
    scratch = domain().scratch
    try:
        if request.form.get("source") == "deployed":
            run = scratch.create_from_deployed(_principal())
        else:
            files = {item.filename: item.read() for item in request.files.getlist("files")
                     if item.filename}
            run = scratch.create(files, _principal())
    except ValidationFailed as exc:
        findings = [{**f.as_dict(), "message": say(f.message)} for f in exc.findings]
        return _home(422, findings=findings,
                     message=gettext("The files cannot be tried: fix the findings below."))
    except Invalid as exc:
        return _home(422, errors=field_messages(exc), message=say(exc.message, CREATE_WORDS))
    return redirect(url_for("pages.studio_try_run", run_id=run.id), 303)


@pages.get("/studio/try/<run_id>")
@auth.login_required(*READERS)
def studio_try_run(run_id: str) -> Any:
    return _run_page(run_id, request.args.get("tracking") or None)


def _run_page(run_id: str, tracking: str | None, status: int = 200, message: str = "",
              errors: dict[str, str] | None = None) -> Any:
    view = domain().scratch.view(run_id, _principal(), tracking)
    return render_template(
        "studio/try_run.html", view=view, run=view["run"], report=view["report"],
        message=message, errors=errors or {}, lanes=LANES, classifications=CLASSIFICATIONS,
        categories=view["categories"], severities=SEVERITIES, sla_states=SLA_STATES), status


@pages.get("/studio/try/<run_id>/diagram.json")
@auth.login_required(*READERS)
def studio_try_diagram(run_id: str) -> Any:
    response = jsonify(domain().scratch.diagram(run_id, _principal(),
                                                request.args.get("tracking", "")))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _refused(run_id: str, tracking: str | None, exc: Invalid | Conflict) -> Any:
    if isinstance(exc, Invalid):
        return _run_page(run_id, tracking, 422, say(exc.message), field_messages(exc))
    return _run_page(run_id, tracking, 409, say(exc.message))


@pages.post("/studio/try/<run_id>/complaints")
@auth.login_required(*READERS)
def studio_try_submit(run_id: str) -> Any:
    form = request.form
    payload: dict[str, Any] = {key: form.get(key, "") for key in (
        "classification", "category", "severity", "title", "body", "reporter_name")}
    if form.get("reporter_email"):
        payload["reporter_email"] = form["reporter_email"]
    if form.get("road_status"):
        payload["road_status"] = form["road_status"]
    payload["misconduct"] = form.get("misconduct") == "true"
    try:
        receipt = domain().scratch.submit(run_id, payload, _principal(),
                                          sample_photo=form.get("sample_photo") == "true",
                                          expected_version=_version())
    except (Invalid, Conflict) as exc:
        return _refused(run_id, None, exc)
    flash(gettext("Test report %(tracking)s is filed.",
                  tracking=receipt["tracking_number"]), "success")
    return redirect(url_for("pages.studio_try_run", run_id=run_id,
                            tracking=receipt["tracking_number"]), 303)


def _verb_data(verb: str) -> dict[str, Any]:
    """The verb's fields from the form, typed as its schema says (the use case checks)."""
    data: dict[str, Any] = {}
    for name, spec in ACTION_SCHEMAS.get(verb, {}).get("properties", {}).items():
        raw = request.form.get(f"field_{name}", "")
        if raw == "":
            continue
        if spec.get("type") == "boolean":
            data[name] = raw == "true"
        elif spec.get("type") == "integer":
            data[name] = int(raw) if raw.lstrip("-").isdigit() else raw
        else:
            data[name] = raw
    return data


@pages.post("/studio/try/<run_id>/act")
@auth.login_required(*READERS)
def studio_try_act(run_id: str) -> Any:
    form = request.form
    tracking, verb = form.get("tracking", ""), form.get("verb", "")
    try:
        done = domain().scratch.act(run_id, tracking, verb, _verb_data(verb),
                                    form.get("as_role", ""), _principal(),
                                    expected_version=_version())
    except (Invalid, Conflict) as exc:
        return _refused(run_id, tracking or None, exc)
    flash(gettext("%(verb)s done as %(who)s.", verb=try_verb_label(verb), who=done["as"]),
          "success")
    return redirect(url_for("pages.studio_try_run", run_id=run_id, tracking=tracking), 303)


@pages.post("/studio/try/<run_id>/advance")
@auth.login_required(*READERS)
def studio_try_advance(run_id: str) -> Any:
    tracking = request.form.get("tracking") or None
    step = STEPS.get(request.form.get("step", ""))
    if step is None:
        step = {"working_days": request.form.get("working_days") or None}
    try:
        happened = domain().scratch.advance(run_id, _principal(), expected_version=_version(),
                                            **step)
    except (Invalid, Conflict) as exc:
        return _refused(run_id, tracking, exc)
    flash(gettext("The scratch clock moved on: %(timers)s timer(s) fired, %(reminders)s "
                  "reminder(s), %(escalations)s escalation(s), %(closed)s auto-closed.",
                  timers=happened["timers_fired"], reminders=len(happened["reminders"]),
                  escalations=len(happened["escalations"]),
                  closed=len(happened["auto_closed"])), "info")
    if happened["failed"]:
        flash(gettext("%(n)s timer(s) failed: the instance is in error (see its incident).",
                      n=len(happened["failed"])), "warning")
    return redirect(url_for("pages.studio_try_run", run_id=run_id, tracking=tracking), 303)


@pages.post("/studio/try/<run_id>/delete")
@auth.login_required(*READERS)
def studio_try_delete(run_id: str) -> Any:
    try:
        domain().scratch.delete(run_id, _principal())
    except Conflict as exc:
        return _run_page(run_id, None, 409, say(exc.message))
    flash(gettext("The scratch run is deleted."), "success")
    return redirect(url_for("pages.studio_try_home"), 303)
