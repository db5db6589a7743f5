"""The studio's drafts (`/studio/drafts`): the list, new drafts, uploads, the modeler page,
downloads, and the JSON endpoints the modeler script calls (files, save, validate, services).

Designers change drafts; regency administrators read them (workflows/drafts.py). The JSON
endpoints answer errors as JSON ({"error": {"message", "field_errors"}}) in the visitor's
language whatever the Accept header says; state-changing ones need the CSRF token, as a form
field or in the X-CSRF-Token header (web/auth.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from engine.errors import ValidationFailed
from web import auth
from web.api import parse_json
from web.i18n import current_language, gettext, say
from web.pages import pages
from web.pages.common import domain, field_messages
from web.pages.studio_impact import findings_of
from web.pages.studio_impact import render as render_impact
from web.pages.studio_ops import deployed
from workflows.diagram_ids import PROCESS_ID
from workflows.drafts import MAX_FILE_BYTES, Draft
from workflows.errors import DomainError, Invalid
from workflows.studio import DESIGNER, READERS, DeployRefused

MODELER_ASSETS = ("vendor/studio/studio.js", "vendor/studio/studio.css", "js/studio-modeler.js")


def json_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """A domain error as JSON with its status, its words in the visitor's language."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            body: dict[str, Any] = {"message": say(exc.message)}
            if isinstance(exc, Invalid) and exc.field_errors:
                body["field_errors"] = field_messages(exc)
            return jsonify(error=body), exc.status

    return wrapper


def finding_dict(finding: Any) -> dict[str, Any]:
    """A finding for the modeler; its message in the visitor's language where the engine
    gave it an id (engine.errors.Message), else the engine's English."""
    message = finding.message
    return {**finding.as_dict(),
            "message": say(message) if getattr(message, "msgid", None) else str(message)}


def body_object() -> dict[str, Any]:
    value = parse_json(request.get_data() or b"{}", "(body)")
    if not isinstance(value, dict):
        raise Invalid("the request body must be a JSON object", {"(body)": "send an object"})
    return value


def form_version() -> int | None:
    raw = request.form.get("version", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid("the draft's version is not a number",
                      {"version": "reload the page and try again"})
    return int(raw)


def uploaded_files() -> list[tuple[str, bytes]]:
    """The chosen files, each read to one byte past the limit (the use case refuses more)."""
    return [(f.filename or "", f.read(MAX_FILE_BYTES + 1))
            for f in request.files.getlist("files") if f.filename]


def modeler_ready() -> bool:
    static = Path(current_app.static_folder or "")
    return all((static / asset).is_file() for asset in MODELER_ASSETS)


# --------------------------------------------------------------------------- pages


@pages.get("/studio/drafts")
@auth.login_required(*READERS)
def studio_drafts() -> Any:
    principal = auth.current_user()
    drafts = domain().drafts.list(principal)
    sources = domain().drafts.sources(principal)
    return render_template("studio/drafts.html", drafts=drafts, sources=sources,
                           may_change=principal.has(DESIGNER), max_mb=MAX_FILE_BYTES >> 20)


@pages.post("/studio/drafts")
@auth.login_required(DESIGNER)
def studio_draft_create() -> Any:
    # "process_id:version", or "process_id:" for the shipped files (the list's values)
    process_id, _, version = request.form.get("source", "").strip().partition(":")
    if version and (not version.isdigit() or len(version) > 9):
        raise Invalid("choose a version from the list", {"source": "a version number"})
    draft = domain().drafts.create(
        auth.current_user(), name=request.form.get("name"),
        process_id=process_id or PROCESS_ID, from_version=int(version) if version else None)
    flash(gettext("Draft saved."), "success")
    return redirect(url_for("pages.studio_draft", draft_id=draft.id))


@pages.post("/studio/drafts/upload")
@auth.login_required(DESIGNER)
def studio_draft_upload() -> Any:
    try:
        draft = domain().drafts.upload(auth.current_user(), uploaded_files(),
                                       name=request.form.get("name"))
    except Invalid as exc:
        principal = auth.current_user()
        return render_template(
            "studio/drafts.html", drafts=domain().drafts.list(principal),
            sources=domain().drafts.sources(principal), may_change=True,
            max_mb=MAX_FILE_BYTES >> 20, upload_error=say(exc.message),
            upload_errors=field_messages(exc)), exc.status
    flash(gettext("Files uploaded."), "success")
    return redirect(url_for("pages.studio_draft", draft_id=draft.id, check=1))


@pages.get("/studio/drafts/<int:draft_id>")
@auth.login_required(*READERS)
def studio_draft(draft_id: int) -> Any:
    principal = auth.current_user()
    draft = domain().drafts.get(principal, draft_id)
    findings = None
    if request.args.get("check"):
        findings = [finding_dict(f) for f in
                    domain().drafts.validate(principal, draft_id=draft_id)]
    return render_template("studio/modeler.html", draft=draft, findings=findings,
                           may_change=principal.has(DESIGNER), modeler_ready=modeler_ready(),
                           language=current_language(), max_mb=MAX_FILE_BYTES >> 20)


def _draft_form(action: Callable[[Any], Draft | None], draft_id: int) -> Any:
    """Run a form's change; a refused one shows the modeler page with its reason."""
    principal = auth.current_user()
    try:
        action(principal)
    except Invalid as exc:
        draft = domain().drafts.get(principal, draft_id)
        return render_template("studio/modeler.html", draft=draft, findings=None,
                               may_change=True, modeler_ready=modeler_ready(),
                               language=current_language(), max_mb=MAX_FILE_BYTES >> 20,
                               form_error=say(exc.message),
                               form_errors=field_messages(exc)), exc.status
    flash(gettext("Draft saved."), "success")
    return redirect(url_for("pages.studio_draft", draft_id=draft_id))


@pages.post("/studio/drafts/<int:draft_id>/deploy")
@auth.login_required(DESIGNER)
def studio_draft_deploy(draft_id: int) -> Any:
    """Deploy the draft as the next version of its process (Drafts.deploy)."""
    principal = auth.current_user()
    note = request.form.get("note", "")
    try:
        done = domain().drafts.deploy(principal, draft_id, note)
    except DeployRefused as exc:
        draft = domain().drafts.get(principal, draft_id)
        findings = [{**f, "message": say(f["message"])} for f in exc.findings]
        return render_template("studio/modeler.html", draft=draft, findings=findings,
                               may_change=True, modeler_ready=modeler_ready(),
                               language=current_language(), max_mb=MAX_FILE_BYTES >> 20,
                               form_error=say(exc.message), deploy_note=note), 422
    except Invalid as exc:
        draft = domain().drafts.get(principal, draft_id)
        return render_template("studio/modeler.html", draft=draft, findings=None,
                               may_change=True, modeler_ready=modeler_ready(),
                               language=current_language(), max_mb=MAX_FILE_BYTES >> 20,
                               form_error=say(exc.message), form_errors=field_messages(exc),
                               deploy_note=note), exc.status
    return deployed(done)


@pages.post("/studio/drafts/<int:draft_id>/try")
@auth.login_required(DESIGNER)
def studio_draft_try(draft_id: int) -> Any:
    """Try the draft's saved files in a scratch run (workflows/scratch.py)."""
    principal = auth.current_user()
    draft = domain().drafts.get(principal, draft_id)
    try:
        run = domain().scratch.create(draft.files, principal)
    except ValidationFailed as exc:
        findings = [{**f.as_dict(), "message": say(f.message)} for f in exc.findings]
        return render_template("studio/modeler.html", draft=draft, findings=findings,
                               may_change=True, modeler_ready=modeler_ready(),
                               language=current_language(), max_mb=MAX_FILE_BYTES >> 20,
                               form_error=gettext("The draft cannot be tried: fix the "
                                                  "findings below.")), 422
    return redirect(url_for("pages.studio_try_run", run_id=run.id), 303)


@pages.post("/studio/drafts/<int:draft_id>/impact")
@auth.login_required(*READERS)
def studio_draft_impact(draft_id: int) -> Any:
    """The impact preview of the draft's deadline table (workflows/impact.py)."""
    principal = auth.current_user()
    draft = domain().drafts.get(principal, draft_id)
    try:
        preview = domain().impact.preview(draft.files, principal)
    except ValidationFailed as exc:
        return render_impact(422, findings=findings_of(exc))
    return render_impact(preview=preview, uploaded=True, draft=draft)


@pages.post("/studio/drafts/<int:draft_id>/files")
@auth.login_required(DESIGNER)
def studio_draft_add_files(draft_id: int) -> Any:
    return _draft_form(lambda p: domain().drafts.upload(
        p, uploaded_files(), draft_id=draft_id, version=form_version()), draft_id)


@pages.post("/studio/drafts/<int:draft_id>/files/<path:filename>/delete")
@auth.login_required(DESIGNER)
def studio_draft_remove_file(draft_id: int, filename: str) -> Any:
    return _draft_form(lambda p: domain().drafts.remove_file(
        p, draft_id, filename, version=form_version()), draft_id)


@pages.post("/studio/drafts/<int:draft_id>/rename")
@auth.login_required(DESIGNER)
def studio_draft_rename(draft_id: int) -> Any:
    return _draft_form(lambda p: domain().drafts.rename(
        p, draft_id, request.form.get("name", "")), draft_id)


@pages.post("/studio/drafts/<int:draft_id>/delete")
@auth.login_required(DESIGNER)
def studio_draft_delete(draft_id: int) -> Any:
    domain().drafts.delete(auth.current_user(), draft_id)
    flash(gettext("Draft deleted."), "success")
    return redirect(url_for("pages.studio_drafts"))


# --------------------------------------------------------------------------- downloads


@pages.get("/studio/drafts/<int:draft_id>/download")
@auth.login_required(*READERS)
def studio_draft_download(draft_id: int) -> Any:
    found = domain().drafts.download(auth.current_user(), draft_id)
    return send_file(io.BytesIO(found.content), mimetype=found.mimetype, as_attachment=True,
                     download_name=found.filename)


@pages.get("/studio/drafts/<int:draft_id>/files/<path:filename>")
@auth.login_required(*READERS)
def studio_draft_file(draft_id: int, filename: str) -> Any:
    found = domain().drafts.download(auth.current_user(), draft_id, filename)
    return send_file(io.BytesIO(found.content), mimetype=found.mimetype, as_attachment=True,
                     download_name=found.filename)


# --------------------------------------------------------------------------- JSON (modeler)


@pages.get("/studio/drafts/<int:draft_id>/files.json")
@auth.login_required(*READERS)
@json_errors
def studio_draft_files_json(draft_id: int) -> Any:
    draft = domain().drafts.get(auth.current_user(), draft_id)
    return jsonify(draft=draft.as_dict(), files=draft.files)


@pages.post("/studio/drafts/<int:draft_id>/save")
@auth.login_required(DESIGNER)
@json_errors
def studio_draft_save(draft_id: int) -> Any:
    body = body_object()
    draft = domain().drafts.save(auth.current_user(), draft_id, body.get("version"),
                                 body.get("files"))
    return jsonify(draft=draft.as_dict())


@pages.post("/studio/drafts/<int:draft_id>/validate")
@auth.login_required(*READERS)
@json_errors
def studio_draft_validate(draft_id: int) -> Any:
    body = body_object()
    principal = auth.current_user()
    domain().drafts.get(principal, draft_id)  # the draft must exist and be readable
    files = body.get("files")
    findings = domain().drafts.validate(principal, draft_id=draft_id,
                                        files=files if files is not None else None)
    return jsonify(valid=not any(f.severity == "error" for f in findings),
                   findings=[finding_dict(f) for f in findings])


@pages.get("/studio/services")
@auth.login_required(*READERS)
@json_errors
def studio_services() -> Any:
    services = domain().drafts.services(auth.current_user())
    for service in services:
        service["doc"] = gettext(service["doc"]) if service["doc"] else ""
        for parameter in service["parameters"]:
            parameter["doc"] = gettext(parameter["doc"]) if parameter["doc"] else ""
    return jsonify(services=services)
