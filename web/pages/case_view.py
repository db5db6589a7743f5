"""What the officer's case page (web/pages/case.py) shows of a report's history and
evidence, worked out once here rather than in the template.

- The history in the page's language: each entry's title from its kind, never an internal
  event name ("disposed to dishub" becomes the agency's name; a reason the lifecycle writes
  itself, the officer's words for it; an escalation, its rung and step); internal entries
  (notes, escalations, tasks given) marked so; the photos and files sent with an answer
  listed beside it.
- The evidence: the citizen's own photos and files, without the agency's answer photos.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from web.i18n import N_, gettext, label
from workflows import diagram_ids as ids
from workflows.config import RUNG_LABELS
from workflows.images import PHOTO_TYPES
from workflows.sla import STEP_LABELS

EVENT_LABELS = {
    "submitted": N_("Report filed"),
    "status": N_("Status changed"),
    "assigned": N_("Assigned"),
    "verify": N_("Verified"),
    "archive": N_("Archived"),
    "request_info": N_("Information requested"),
    "provide_info": N_("Information added by the complainant"),
    "not_authority": N_("Returned: not the regency's authority"),
    "postpone": N_("Postponed"),
    "resume": N_("Resumed"),
    "dispose": N_("Dispositioned"),
    "delegate": N_("Delegated"),
    "respond": N_("Answered"),
    "reply": N_("Complainant not satisfied"),
    "rate": N_("Complainant rated the answer"),
    "reopen": N_("Reopened"),
    "link_duplicate": N_("Duplicate linked"),
    "reassign": N_("Reassigned"),
    "reassigned": N_("Handler changed (the complainant sees this entry)"),
    "note": N_("Internal note"),
    "escalation_acknowledged": N_("Escalation acknowledged"),
    "escalation_note": N_("Note on the escalation"),
}
# The reasons the lifecycle writes itself (bpmn/complaint_lifecycle.bpmn), as officers read
# them; an officer's own reason is shown as it was written.
REASONS = {
    "information provided": N_("The complainant added the information asked for."),
    "interim answer": N_("The agency gave an interim answer."),
    "final answer": N_("The agency gave its final answer."),
    "accepted": N_("The complainant accepted the answer."),
    "unsatisfied": N_("The complainant said the problem is not solved."),
    "auto": N_("Closed automatically: there was no reply within the time allowed."),
    "no answer": N_("Archived: the information asked for did not arrive in time."),
    "resumed": N_("Handling has resumed."),
    "reopened": N_("The report was reopened."),
}
# Entries only staff ever read; any other entry kept from the citizen (a verb whose status
# change the citizen reads instead) is marked internal only when it carries an officer's text.
INTERNAL_KINDS = frozenset({"note", "escalated", "escalation_note", "escalation_acknowledged",
                            "task_given"})
DISPOSED_PREFIX = "disposed to "  # + the agency's code (workflows/notify.DISPOSED_PREFIX)


def split_attachments(attachments: Iterable[Mapping[str, Any]]
                      ) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(the citizen's photos, the citizen's other files): the agency's are with answers."""
    own = [a for a in attachments if not a.get("from_agency")]
    return ([a for a in own if a["content_type"] in PHOTO_TYPES],
            [a for a in own if a["content_type"] not in PHOTO_TYPES])


def sent_with_answers(history: list[Mapping[str, Any]],
                      attachments: Iterable[Mapping[str, Any]]
                      ) -> dict[int, list[Mapping[str, Any]]]:
    """The agency's files by the index of the answer (a "respond" entry of `history`) they
    were sent with: recorded at the same instant as the answer, each goes with the last
    answer of its instant (with one clock reading for two answers, the later)."""
    answer_at = {e["at"]: i for i, e in enumerate(history) if e["kind"] == "respond"}
    sent: dict[int, list[Mapping[str, Any]]] = {}
    for attachment in attachments:
        if attachment.get("from_agency") and attachment.get("at") in answer_at:
            sent.setdefault(answer_at[attachment["at"]], []).append(attachment)
    return sent


def history_entries(document: Mapping[str, Any], agencies: Iterable[Mapping[str, Any]]
                    ) -> list[dict[str, Any]]:
    """The history's entries as the case page lists them (see the module)."""
    names = {a["code"]: a["name"] for a in agencies}
    history = document.get("history") or []
    sent = sent_with_answers(history, document.get("attachments") or [])
    entries = []
    for index, event in enumerate(history):
        kind, text = event["kind"], event.get("text")
        status = None
        if kind == "status":
            status = (label(ids.STATUS_LABELS[event["status_from"]])
                      if event.get("status_from") in ids.STATUS_LABELS else None,
                      label(event.get("status_label")))
            text = _reason(text, names)
        title = _title(event)
        if kind == "task_given":  # the title names the colleague
            text = None
        elif kind == "escalation_acknowledged" and text:  # "eskalasi (<rung>) diterima: "
            text = text.split(") diterima: ", 1)[1] if ") diterima: " in text else None
        files = sent.get(index, [])
        entries.append({
            "at": event["at"], "actor": event.get("actor"), "kind": kind, "title": title,
            "status": status, "text": text,
            "internal": bool(event.get("internal")) and (kind in INTERNAL_KINDS or bool(text)),
            "photos": [a for a in files if a["content_type"] in PHOTO_TYPES],
            "files": [a for a in files if a["content_type"] not in PHOTO_TYPES]})
    return entries


def _title(event: Mapping[str, Any]) -> str:
    kind = event["kind"]
    if kind == "escalated":
        rung = RUNG_LABELS.get(event.get("rung") or "")
        step = STEP_LABELS.get(event.get("step") or "")
        return gettext("Escalated to %(rung)s: the %(step)s deadline passed",
                       rung=label(rung) if rung else event.get("rung") or "",
                       step=label(step) if step else event.get("step") or "")
    if kind == "task_given":
        return gettext("Task given to %(name)s", name=event.get("text") or "")
    return gettext(EVENT_LABELS[kind]) if kind in EVENT_LABELS else gettext("Update")


def _reason(text: str | None, names: Mapping[str, str]) -> str | None:
    if not text:
        return None
    if text.startswith(DISPOSED_PREFIX):
        code = text[len(DISPOSED_PREFIX):].strip()
        return gettext("Sent to %(agency)s to follow up.", agency=names.get(code, code))
    if text in REASONS:
        return gettext(REASONS[text])
    return text


def units_by_agency(agencies: Iterable[Mapping[str, Any]]
                    ) -> tuple[list[tuple[str, list[tuple[str, str]]]], list[str]]:
    """The dispose form's units: one optgroup per agency (its name), and the agencies'
    codes in the same order, by which static/js/units-of.js shows only the chosen agency's
    units (the server refuses any other with 422)."""
    rows = list(agencies)
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    codes: list[str] = []
    for agency in rows:
        units = [(u["code"], u["name"]) for u in rows
                 if u["kind"] == "unit" and u["parent"] == agency["code"]]
        if units and agency["kind"] != "unit":
            groups.append((agency["name"], units))
            codes.append(agency["code"])
    return groups, codes
