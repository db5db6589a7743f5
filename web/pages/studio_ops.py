"""The studio's operations pages: versions and deploy, instances, incidents, migration, audit.

- /studio/processes/<pid>/versions: the versions of a process, and (designers) a deploy form
  taking .bpmn/.dmn files and a change note;
- /studio/processes/<pid>/versions/<v>: one version's diagram and files;
- /studio/instances (?process=&version=&q=&page=) and /studio/instances/<id>: the instances,
  one instance's diagram with where it is, its timers, data (masked) and trail;
- /studio/incidents (+ POST .../<id>/retry): the instances in error;
- /studio/migrations: choose the instances and the target version, dry run, apply;
- /studio/audit: deploys and migrations.

Every route is for READERS (process designers and regency administrators); the use cases
refuse the actions (deploy, retry, dry run, migrate) to everyone but designers
(workflows/studio.py). docs/designers.md is the guide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for

from web import auth
from web.i18n import gettext, say
from web.pages import pages
from web.pages.common import domain, field_messages
from workflows.errors import Invalid
from workflows.studio import (
    DEPLOY_MAX_FILE_BYTES,
    READERS,
    DeployRefused,
    MigrationRefused,
)


def int_arg(args: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    """An optional whole-number parameter; a bad one is named in `errors`."""
    text = (args.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) <= 1_000_000:
        errors[name] = gettext("%(name)s must be a whole number from 1", name=name)
        return None
    return int(text)


def _findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**f, "message": say(f["message"])} for f in findings]


# --------------------------------------------------------------------------- versions


@pages.get("/studio/processes/<process_id>/versions")
@auth.login_required(*READERS)
def studio_versions(process_id: str) -> Any:
    return render_versions(process_id)


def render_versions(process_id: str, status: int = 200, errors: dict[str, str] | None = None,
                    findings: list[dict[str, Any]] | None = None, note: str = "",
                    message: str | None = None) -> Any:
    listed = domain().studio.versions(process_id, auth.current_user())
    return render_template("studio/versions.html", listed=listed, errors=errors or {},
                           findings=findings or [], note=note, message=message), status


@pages.post("/studio/processes/<process_id>/versions")
@auth.login_required(*READERS)
def studio_deploy(process_id: str) -> Any:
    uploads = [(f.filename or "", f.read(DEPLOY_MAX_FILE_BYTES + 1))
               for f in request.files.getlist("files") if f.filename]
    note = request.form.get("note", "")
    try:
        done = domain().studio.deploy(uploads, note, auth.current_user(),
                                      process_id=process_id)
    except DeployRefused as exc:
        return render_versions(process_id, 422, field_messages(exc), _findings(exc.findings),
                               note, say(exc.message))
    except Invalid as exc:
        return render_versions(process_id, 422, field_messages(exc), note=note,
                               message=say(exc.message))
    return deployed(done)


def deployed(done: dict[str, Any]) -> Any:
    """Say what a deploy did (a new version, or none: identical files), on its version."""
    if done["created"]:
        flash(gettext("Version %(version)s is deployed. New reports start on it; running "
                      "ones stay on their version until you migrate them.",
                      version=done["version"]), "success")
    else:
        flash(gettext("These files are identical to version %(version)s: nothing new was "
                      "deployed.", version=done["version"]), "info")
    return redirect(url_for("pages.studio_version", process_id=done["process_id"],
                            version=done["version"]), 303)


@pages.get("/studio/processes/<process_id>/versions/<int:version>")
@auth.login_required(*READERS)
def studio_version(process_id: str, version: int) -> Any:
    shown = domain().studio.version(process_id, version, auth.current_user())
    return render_template("studio/version.html", shown=shown)


@pages.get("/studio/processes/<process_id>/versions/<int:version>/diagram.json")
@auth.login_required(*READERS)
def studio_version_diagram(process_id: str, version: int) -> Any:
    return _json(domain().studio.version_diagram(process_id, version, auth.current_user()))


@pages.get("/studio/processes/<process_id>/versions/<int:version>/files/<name>")
@auth.login_required(*READERS)
def studio_version_file(process_id: str, version: int, name: str) -> Any:
    text = domain().studio.version_file(process_id, version, name, auth.current_user())
    response = Response(text, mimetype="application/octet-stream")
    safe = "".join(c for c in name if c.isalnum() or c in "._-") or "file"
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _json(found: dict[str, Any]) -> Any:
    response = jsonify(found)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- instances


@pages.get("/studio/instances")
@auth.login_required(*READERS)
def studio_instances() -> Any:
    errors: dict[str, str] = {}
    version = int_arg(request.args, "version", errors)
    page = int_arg(request.args, "page", errors)
    found = domain().studio.instances(
        auth.current_user(), process_id=(request.args.get("process") or "").strip()[:200],
        version=version, q=request.args.get("q"), page=page)
    return render_template("studio/instances.html", found=found, errors=errors), (
        400 if errors else 200)


@pages.get("/studio/instances/<int:instance_id>")
@auth.login_required(*READERS)
def studio_instance(instance_id: int) -> Any:
    shown = domain().studio.instance(instance_id, auth.current_user())
    return render_template("studio/instance.html", shown=shown)


@pages.get("/studio/instances/<int:instance_id>/diagram.json")
@auth.login_required(*READERS)
def studio_instance_diagram(instance_id: int) -> Any:
    return _json(domain().studio.instance_diagram(instance_id, auth.current_user()))


# --------------------------------------------------------------------------- incidents


@pages.get("/studio/incidents")
@auth.login_required(*READERS)
def studio_incidents() -> Any:
    found = domain().studio.incidents(auth.current_user())
    return render_template("studio/incidents.html", found=found)


@pages.post("/studio/incidents/<int:instance_id>/retry")
@auth.login_required(*READERS)
def studio_retry(instance_id: int) -> Any:
    done = domain().studio.retry(instance_id, auth.current_user())
    if done["status"] == "error":
        flash(gettext("Instance %(instance)s failed again; its incident says why.",
                      instance=instance_id), "warning")
    else:
        flash(gettext("Instance %(instance)s carries on (%(status)s).", instance=instance_id,
                      status=done["status"]), "success")
    return redirect(url_for("pages.studio_incidents"), 303)


# --------------------------------------------------------------------------- migrations


@pages.get("/studio/migrations")
@auth.login_required(*READERS)
def studio_migrations() -> Any:
    return render_migrations(request.args)


def render_migrations(form: Mapping[str, Any], status: int = 200,
                      errors: dict[str, str] | None = None, report: dict[str, Any] | None = None,
                      message: str | None = None, chosen: list[int] | None = None) -> Any:
    studio = domain().studio
    principal = auth.current_user()
    overview = studio.overview(principal)
    deployed = [p["process_id"] for p in overview.processes]
    process_id = (form.get("process") or "").strip()
    if process_id not in deployed:  # none chosen, or not a process (the error names it)
        process_id = deployed[0] if deployed else ""
    versions = studio.versions(process_id, principal) if process_id else None
    return render_template("studio/migrations.html", overview=overview, versions=versions,
                           form=form, process_id=process_id, errors=errors or {},
                           report=report, message=message, chosen=set(chosen or [])), status


@pages.post("/studio/migrations")
@auth.login_required(*READERS)
def studio_migrate() -> Any:
    form = request.form
    errors: dict[str, str] = {}
    process_id = (form.get("process") or "").strip()[:200]
    to_version = int_arg(form, "to_version", errors)
    from_version = int_arg(form, "from_version", errors)
    chosen: list[int] | None = None
    if form.get("scope") == "selected":
        chosen = [int(v) for v in form.getlist("instance") if v.isdigit() and len(v) < 19]
    if to_version is None and "to_version" not in errors:
        errors["to_version"] = gettext("Choose the version to migrate to.")
    if errors:
        return render_migrations(form, 422, errors, chosen=chosen)
    studio = domain().studio
    principal = auth.current_user()
    try:
        if form.get("action") == "apply":
            report = studio.migrate(principal, process_id, to_version, note=form.get("note"),
                                    from_version=from_version, instance_ids=chosen)
            flash(gettext("%(count)s instance(s) migrated to version %(version)s.",
                          count=report["migrated"], version=to_version), "success")
            return redirect(url_for("pages.studio_audit", process=process_id), 303)
        report = studio.plan_migration(principal, process_id, to_version,
                                       from_version=from_version, instance_ids=chosen)
    except MigrationRefused as exc:
        return render_migrations(form, 409, report=exc.report, message=say(exc.message),
                                 chosen=chosen)
    except Invalid as exc:
        report = None
        if form.get("action") == "apply" and not exc.field_errors.keys() - {"note"}:
            # only the note is missing: the dry run's report stays in view with the choice
            report = studio.plan_migration(principal, process_id, to_version,
                                           from_version=from_version, instance_ids=chosen)
        return render_migrations(form, 422, field_messages(exc), report=report,
                                 message=say(exc.message), chosen=chosen)
    safe = [i["instance_id"] for i in report["instances"] if i["safe"]]
    return render_migrations(form, report=report, chosen=safe)


# --------------------------------------------------------------------------- audit


@pages.get("/studio/audit")
@auth.login_required(*READERS)
def studio_audit() -> Any:
    found = domain().studio.audit(auth.current_user(),
                                  (request.args.get("process") or "").strip()[:200])
    return render_template("studio/audit.html", found=found)
