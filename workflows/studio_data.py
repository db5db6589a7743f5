"""What of a process instance's data a studio reader may see: the report's access rules.

An instance of the complaint lifecycle carries what people wrote into its task forms (the
reason of a verifier, the agency's answer, the citizen's information, a comment) and could
carry whatever a designer's diagram copies into it. The studio shows that data, its changes
and its events masked by the same rules as the report everywhere else (workflows/access.py,
workflows/documents.py):

- content (what a report and its replies say): hidden as `access.HIDDEN` when the report is
  `rahasia` and the reader does not handle it (`access.sees_content`); a report that is not
  rahasia shows its content to every officer, as its list does (`documents.content_filter`);
- the reporter's identity: hidden unless `access.sees_identity` (an `anonim` reporter only to
  the regency administrator);
- secrets (the tracking secret's digest, tokens, passwords): never shown, to anyone.

Keys are matched at every depth of the data, and in the `from`/`to` of recorded changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows import access
from workflows.models import Complaint

# What people write: the report's own text and the texts of its task forms.
CONTENT_KEYS = frozenset({
    "title", "body", "reason", "answer", "information", "comment", "note", "text",
    "address", "latitude", "longitude", "rating_comment", "description",
})
IDENTITY_KEYS = frozenset({
    "reporter", "reporter_name", "reporter_email", "reporter_phone", "name", "email",
    "phone", "whatsapp", "sender", "msisdn",
})
SECRET_WORDS = ("secret", "token", "password", "hash", "digest", "credential", "api_key")
NEVER_SHOWN = "[secret]"


@dataclass(frozen=True)
class Mask:
    """What one reader may see of one instance's data."""

    content: bool
    identity: bool

    @classmethod
    def for_report(cls, principal: access.Principal, complaint: Complaint | None) -> Mask:
        if complaint is None:  # not a report: only secrets are masked
            return cls(True, principal.has("regency_admin"))
        content = not complaint.confidential or access.sees_content(principal, complaint)
        return cls(content, access.sees_identity(principal, complaint))

    def hides(self, key: str) -> str | None:
        """What stands for the value under `key`, or None when it may be shown."""
        lowered = key.lower()
        if any(word in lowered for word in SECRET_WORDS):
            return NEVER_SHOWN
        if lowered in CONTENT_KEYS and not self.content:
            return access.HIDDEN
        if lowered in IDENTITY_KEYS and not self.identity:
            return access.HIDDEN
        return None

    def data(self, value: Any) -> Any:
        """`value` with every hidden key's value replaced, at any depth."""
        if isinstance(value, Mapping):
            shown: dict[str, Any] = {}
            for key, item in value.items():
                stand_in = self.hides(str(key))
                shown[key] = stand_in if stand_in is not None else self.data(item)
            return shown
        if isinstance(value, list):
            return [self.data(item) for item in value]
        return value

    def changes(self, changes: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Recorded data changes ({key: {"from", "to"}}) with hidden keys' values replaced."""
        if changes is None:
            return None
        shown: dict[str, Any] = {}
        for key, change in changes.items():
            stand_in = self.hides(str(key))
            if stand_in is not None:
                shown[key] = {"from": stand_in, "to": stand_in}
            else:
                shown[key] = self.data(change)
        return shown

    def event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """An audit event with its data changes and its detail (the task's data) masked."""
        return {**event, "data_changes": self.changes(event.get("data_changes")),
                "detail": self.data(event.get("detail"))}
