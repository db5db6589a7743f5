"""Reading uploaded files: text decoding, safe XML parsing, schema findings, element lookup."""

from __future__ import annotations

import codecs
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS

from engine.errors import N_, Finding, Message

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DI_NAMESPACES = frozenset({
    BPMNDI_NS, "http://www.omg.org/spec/DD/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
})
_PREFIXES = {
    BPMN_NS: "bpmn", BPMNDI_NS: "bpmndi", "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://www.omg.org/spec/DD/20100524/DC": "dc", **dict.fromkeys(DMN_SCHEMAS, "dmn"),
}
MAX_SCHEMA_FINDINGS = 20  # per file; the rest are counted in one more finding
# A DOCTYPE in the prolog: uploads may not declare a DTD or entities.
_PROLOG_DOCTYPE = re.compile(
    r"\A\ufeff?\s*(?:<\?xml.*?\?>)?(?:\s*(?:<!--.*?-->|<\?.*?\?>))*\s*<!DOCTYPE", re.DOTALL)
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_SCHEMA_LOCK = threading.Lock()  # an XMLSchema keeps the error log of its last run
NOT_WELL_FORMED_AT = N_("not well-formed XML (line %(line)s): %(detail)s; fix the file or "
                        "export it again from the modeler")
NOT_WELL_FORMED = N_("not well-formed XML: %(detail)s; fix the file or export it again from "
                     "the modeler")
# (a layout problem?, a line known?): what a schema violation is, with libxml2's detail.
_SCHEMA_WORDS = {
    (True, True): N_("the diagram layout (BPMN DI) does not follow the %(standard)s schema "
                     "(line %(line)s): %(detail)s; the engine ignores the layout, but modelers "
                     "may draw the diagram wrongly"),
    (True, False): N_("the diagram layout (BPMN DI) does not follow the %(standard)s schema: "
                      "%(detail)s; the engine ignores the layout, but modelers may draw the "
                      "diagram wrongly"),
    (False, True): N_("does not follow the %(standard)s schema (line %(line)s): %(detail)s; "
                      "correct the element in the modeler or export the file again"),
    (False, False): N_("does not follow the %(standard)s schema: %(detail)s; correct the "
                       "element in the modeler or export the file again"),
}


@dataclass(frozen=True)
class SourceFile:
    """One file of a deployment unit: a .bpmn, a .dmn or a .json form schema."""

    name: str
    content: str

    @classmethod
    def read(cls, path: str | Path) -> SourceFile:
        p = Path(path)
        return cls(p.name, decode_source(p.read_bytes()))


def decode_source(raw: bytes) -> str:
    """Text of an uploaded file: UTF-8 unless a BOM or the XML declaration says otherwise."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return raw.decode(encoding).lstrip("\ufeff")
    declared = _DECLARED_ENCODING.match(raw[:200])
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return raw.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        # parse_unit reports the replacement characters as a warning.
        return raw.decode("utf-8", errors="replace")


def read_xml(f: SourceFile, add: Callable[[Finding], None]) -> Any:
    """The parsed root element, or None after a finding; never resolves entities."""
    doctype = Message("declares a DTD (<!DOCTYPE ...>); uploads may not declare a DTD or "
                      "entities, which could read files of the server; remove the "
                      "<!DOCTYPE ...> block")
    if _PROLOG_DOCTYPE.match(f.content):
        add(Finding(f.name, None, "error", doctype))
        return None
    # The content is already text: read it as UTF-8 whatever the declaration says.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, encoding="utf-8")
    try:
        tree = etree.fromstring(f.content.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        # libxml2's words (the detail) are quoted as they are, in any language.
        problem = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
        add(Finding(f.name, None, "error", Message(
            NOT_WELL_FORMED_AT if exc.lineno else NOT_WELL_FORMED, line=exc.lineno,
            detail=problem)))
        return None
    if tree.getroottree().docinfo.doctype:
        add(Finding(f.name, None, "error", doctype))
        return None
    return tree


@cache
def dmn_schema(namespace: str) -> etree.XMLSchema:
    """The XML schema of a DMN version, by its namespace; loaded once per process."""
    return etree.XMLSchema(etree.parse(DMN_SCHEMAS[namespace]))


# --------------------------------------------------------------------------- XML checks


def schema_findings(schema: etree.XMLSchema, tree: Any, filename: str, standard: str
                     ) -> list[Finding]:
    """Every schema violation, with the element it is about; diagram layout ones are warnings."""
    with _SCHEMA_LOCK:
        errors = [] if schema.validate(tree) else list(schema.error_log)
    findings = []
    prefixes: dict[str, str] = {}
    if errors:
        for node in tree.iter():
            if isinstance(node.tag, str):
                for prefix, uri in node.nsmap.items():
                    if prefix:
                        prefixes.setdefault(prefix, uri)
    for error in errors[:MAX_SCHEMA_FINDINGS]:
        node = _node_of(tree, error, prefixes)
        layout = _is_layout(node, error.message)
        # libxml2's words (the detail) are quoted as they are, in any language.
        message = Message(_SCHEMA_WORDS[layout, bool(error.line)], standard=standard,
                          line=error.line, detail=readable(error.message))
        findings.append(Finding(filename, owner_id(node), "warning" if layout else "error",
                                message))
    if len(errors) > MAX_SCHEMA_FINDINGS:
        rest = errors[MAX_SCHEMA_FINDINGS:]
        layout_only = all(_is_layout(_node_of(tree, e, prefixes), e.message) for e in rest)
        findings.append(Finding(
            filename, None, "warning" if layout_only else "error",
            Message("%(count)s more schema problem(s) like the ones above; fix those first",
                    count=len(rest))))
    return findings


def _node_of(tree: Any, error: Any, prefixes: dict[str, str]) -> Any:
    """The element a libxml2 error is about: by its path, else the first one on its line."""
    path = getattr(error, "path", None)
    if path:
        try:
            found = tree.getroottree().xpath(path, namespaces=prefixes)
        except (etree.XPathError, ValueError):
            found = []
        if len(found) == 1 and isinstance(found[0], etree._Element):
            return found[0]
    if error.line:
        for node in tree.iter():
            if isinstance(node.tag, str) and node.sourceline == error.line:
                return node
    return None


def _is_layout(node: Any, message: str) -> bool:
    if node is not None:
        return any(isinstance(n.tag, str) and etree.QName(n).namespace in DI_NAMESPACES
                   for n in (node, *node.iterancestors()))
    return any(f"{{{ns}}}" in message for ns in DI_NAMESPACES)


def owner_id(node: Any) -> str | None:
    """The id of the nearest element a modeler shows (an event for its event definition)."""
    while node is not None:
        if isinstance(node.tag, str):
            local = etree.QName(node).localname
            if node.get("id") and not local.endswith("EventDefinition"):
                return node.get("id")
        node = node.getparent()
    return None


def readable(text: str) -> str:
    """A parser's message with known namespaces as prefixes (bpmn:task), other ones left out."""
    for namespace, prefix in _PREFIXES.items():
        text = text.replace(f"{{{namespace}}}", f"{prefix}:")
    return re.sub(r"\{[^{}]*\}", "", text).strip().rstrip(".").strip()
