"""The studio's comparison of two versions of a process.

- /studio/processes/<pid>/diff?from=N&to=M: what changed from version N to version M, on
  the diagrams (static/js/studio-diff.js colours them), per element in a table, and per
  decision table of the DMN files; without `from` and `to`, the form choosing two versions;
- /studio/processes/<pid>/diff/diagram.json?from=N&to=M: both versions' main diagrams with
  the ids to colour (the script's data).

For READERS (process designers and regency administrators); docs/designers.md, "Comparing
two versions", is the guide.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request

from web import auth
from web.i18n import say
from web.pages import pages
from web.pages.common import domain, field_messages
from web.pages.studio_ops import int_arg
from workflows.errors import Invalid
from workflows.studio import READERS


def _version_arg(name: str, errors: dict[str, str]) -> int | None:
    return int_arg(request.args, name, errors)


def _versions_asked() -> tuple[int | None, int | None, dict[str, str]]:
    errors: dict[str, str] = {}
    return _version_arg("from", errors), _version_arg("to", errors), errors


@pages.get("/studio/processes/<process_id>/diff")
@auth.login_required(*READERS)
def studio_diff(process_id: str) -> Any:
    studio = domain().studio
    principal = auth.current_user()
    from_version, to_version, errors = _versions_asked()
    message = None
    if not errors and ("from" in request.args or "to" in request.args):
        try:
            shown = studio.diff(process_id, from_version, to_version, principal)
        except Invalid as exc:
            errors, message = field_messages(exc), say(exc.message)
        else:
            return render_template("studio/diff.html", shown=shown, listed=None,
                                   errors={}, message=None, asked=shown)
    listed = studio.versions(process_id, principal)
    numbers = [v["version"] for v in listed["versions"]]
    asked = {"from": {"version": from_version or (numbers[1] if len(numbers) > 1 else None)},
             "to": {"version": to_version or numbers[0]}}
    return render_template("studio/diff.html", shown=None, listed=listed, errors=errors,
                           message=message, asked=asked), 422 if errors else 200


@pages.get("/studio/processes/<process_id>/diff/diagram.json")
@auth.login_required(*READERS)
def studio_diff_diagram(process_id: str) -> Any:
    from_version, to_version, errors = _versions_asked()
    if errors:
        return jsonify(error={"message": "; ".join(errors.values()),
                              "field_errors": errors}), 422
    found = domain().studio.diff_diagram(process_id, from_version, to_version,
                                         auth.current_user())
    response = jsonify(found)
    response.headers["Cache-Control"] = "private, no-store"
    return response
