"""Deployment units: parse BPMN/DMN/form files, check the engine's policy, describe user tasks.

`parse_unit` never raises for a problem in the files: every problem becomes a `Finding` that
names the file, the element (when the problem belongs to one) and what to change.
"""

from __future__ import annotations

import ast
import codecs
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser

from engine.errors import Finding
from engine.runtime import parse_cycle, parse_duration, parse_instant, use_host_clock
from engine.sandbox import Sandbox

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DI_NAMESPACES = frozenset({
    BPMNDI_NS, "http://www.omg.org/spec/DD/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
})
_PREFIXES = {
    BPMN_NS: "bpmn", BPMNDI_NS: "bpmndi", "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://www.omg.org/spec/DD/20100524/DC": "dc", **dict.fromkeys(DMN_SCHEMAS, "dmn"),
}
# Spiff leaves these for a person: a plain bpmn:task (NoneTask) waits in the worklist too.
MANUAL_TASK_CLASSES = ("UserTask", "ManualTask", "NoneTask")
MAX_SCHEMA_FINDINGS = 20  # per file; the rest are counted in one more finding

_DATA_STORES = ("data stores are not supported; keep the data in task variables, or read and "
                "write it with a service task")
# Elements SpiffWorkflow parses (or skips) but this engine cannot run faithfully.
UNSUPPORTED = {
    "complexGateway": "complex gateways are not supported; use an inclusive gateway",
    "compensateEventDefinition": "compensation is not supported; model the undo as tasks",
    "linkEventDefinition": "link events are not supported; draw the sequence flow",
    "adHocSubProcess": "ad-hoc subprocesses are not supported; use an embedded subprocess",
    "conditionalEventDefinition": (
        "conditional events are not supported: the condition is checked only once, when the "
        "event is reached; wait for a message or a signal the host sends instead"),
    "dataStore": _DATA_STORES,
}
_INTERRUPTING_EVENT_SUBPROCESS = (
    "interrupting event subprocesses are not supported: SpiffWorkflow 3.2 does not stop the "
    'main flow; set isInterrupting="false" on this start event, or model the interruption '
    "with a boundary event")
_CONTAINERS = tuple(f"{{{BPMN_NS}}}{t}" for t in ("process", "subProcess", "transaction"))
# (element, attribute, what it refers to): SpiffWorkflow looks these up by exact id.
_EVENT_REFERENCES = (
    ("messageEventDefinition", "messageRef", "message"),
    ("sendTask", "messageRef", "message"),
    ("receiveTask", "messageRef", "message"),
    ("signalEventDefinition", "signalRef", "signal"),
    ("errorEventDefinition", "errorRef", "error"),
    ("escalationEventDefinition", "escalationRef", "escalation"),
)
# An unquoted ISO duration or cycle (PT2H, P3D, R2) parses as a Python name: a classic slip.
_LOOKS_ISO = re.compile(r"^(P(\d|T)[0-9A-Z.]*|R\d*)$")
# A DOCTYPE in the prolog: uploads may not declare a DTD or entities.
_PROLOG_DOCTYPE = re.compile(
    r"\A\ufeff?\s*(?:<\?xml.*?\?>)?(?:\s*(?:<!--.*?-->|<\?.*?\?>))*\s*<!DOCTYPE", re.DOTALL)
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
# How Spiff's DMN engine finds the '?' placeholder (outside quotes) in a rule cell.
_DMN_PLACEHOLDER = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")
_SCHEMA_LOCK = threading.Lock()  # an XMLSchema keeps the error log of its last run


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


@dataclass
class TaskMeta:
    """What the worklist needs to know about one user or manual task, read once at deploy."""

    element_id: str
    title: str
    lane: str | None
    candidate_groups: list[str]
    form: dict[str, Any] | None
    due_expression: str | None
    groups_expression: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class ParsedUnit:
    """The outcome of parsing a unit: specs when it is deployable, findings either way."""

    files: list[SourceFile]
    findings: list[Finding] = field(default_factory=list)
    process_id: str | None = None
    process_name: str | None = None
    spec: Any = None
    subprocess_specs: dict[str, Any] = field(default_factory=dict)
    task_meta: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.name):
            digest.update(f.name.encode() + b"\0" + f.content.encode() + b"\0")
        return digest.hexdigest()


def meta_key(process_name: str, element_id: str) -> str:
    return f"{process_name}/{element_id}"


def coerce_files(files: Iterable[SourceFile | str | Path]) -> list[SourceFile]:
    return [f if isinstance(f, SourceFile) else SourceFile.read(f) for f in files]


# --------------------------------------------------------------------------- the unit


def parse_unit(files: list[SourceFile], sandbox: Sandbox, process_id: str | None = None
               ) -> ParsedUnit:
    """Parse and check a deployment unit; never raises for a problem in the files."""
    unit = ParsedUnit(files=files)
    try:
        _parse(unit, sandbox, process_id)
    except Exception as exc:  # noqa: BLE001 - a crash must still reach the deployer
        where = files[0].name if files else "(no files)"
        unit.findings.append(Finding(
            where, None, "error", f"the engine could not check this unit ({type(exc).__name__}: "
            f"{exc}); this is a bug in the engine, please report it with the files"))
    return unit


def _parse(unit: ParsedUnit, sandbox: Sandbox, process_id: str | None) -> None:
    files = unit.files
    add = unit.findings.append
    if not files:
        add(Finding("(no files)", None, "error",
                    "the unit has no files; deploy at least one .bpmn file"))
        return
    names = [f.name for f in files]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        add(Finding(dup, None, "error", "two files have this name; rename one"))
    # Schema validation is done here (every error, with its element), not by the parser.
    parser = SpiffBpmnParser(validator=None)
    bpmn_names = [n for n in names if Path(n).suffix.lower() in (".bpmn", ".xml")]
    default_file = (bpmn_names or names)[0]
    element_files: dict[str, str] = {}
    forms: dict[str, str] = {}
    trees: dict[str, Any] = {}
    checker = _PolicyChecker(sandbox, element_files, forms, default_file)
    for f in files:
        suffix = Path(f.name).suffix.lower()
        if suffix == ".json":
            forms[f.name] = f.content
            continue
        if suffix not in (".bpmn", ".dmn", ".xml"):
            add(Finding(f.name, None, "error",
                        f"unknown file type {suffix or '(no extension)'!r}; a unit holds .bpmn "
                        "diagrams, .dmn decisions and .json form schemas"))
            continue
        if "\ufffd" in f.content:
            add(Finding(f.name, None, "warning",
                        "the file contains replacement characters (U+FFFD), usually bytes that "
                        "were not valid in its encoding; check the names and save it as UTF-8"))
        tree = _read_xml(f, add)
        if tree is None:
            continue
        trees[f.name] = tree
        for node in tree.iter():
            node_id = node.get("id") if isinstance(node.tag, str) else None
            if node_id:
                element_files.setdefault(node_id, f.name)
        namespace = etree.QName(tree).namespace
        is_dmn = suffix == ".dmn" or (suffix == ".xml" and namespace in DMN_SCHEMAS)
        try:
            if is_dmn:
                _add_dmn(parser, tree, f.name, checker, add)
            else:
                _add_bpmn(parser, tree, f.name, add)
        except ValidationException as exc:
            add(_finding_from(exc, f.name, trees))
        except Exception as exc:  # noqa: BLE001 - Spiff raises many kinds for odd files
            add(Finding(f.name, None, "error",
                        f"cannot be read as {'DMN' if is_dmn else 'BPMN'} ({exc}); export the "
                        "file again from the modeler"))
    unit.findings.extend(checker.findings)
    checker.findings.clear()
    if not unit.valid:
        return

    main = _choose_process(parser, process_id, add, default_file)
    if main is None or not _check_calls(parser, main, add):
        return
    unit.process_id = main
    try:
        unit.spec = parser.get_spec(main)
        unit.subprocess_specs = parser.get_subprocess_specs(main)
    except ValidationException as exc:
        add(_finding_from(exc, element_files.get(getattr(exc, "id", "") or "", default_file),
                          trees))
        return
    except Exception as exc:  # noqa: BLE001 - Spiff raises many kinds for broken references
        add(Finding(default_file, None, "error", f"cannot build process {main!r}: {exc}"))
        return
    unit.process_name = unit.spec.description or main
    use_host_clock([unit.spec, *unit.subprocess_specs.values()])
    for spec in [unit.spec, *unit.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            meta = checker.check_task(task_spec, spec)
            if meta is not None:
                unit.task_meta[meta_key(spec.name, meta.element_id)] = meta.as_dict()
    for name in sorted(set(forms) - checker.used_forms):
        checker.findings.append(Finding(
            name, None, "warning", "no user task uses this form; reference it with the "
            "formJsonSchemaFilename property, or leave it out of the unit"))
    unit.findings.extend(checker.findings)


def _read_xml(f: SourceFile, add: Callable[[Finding], None]) -> Any:
    """The parsed root element, or None after a finding; never resolves entities."""
    doctype = ("declares a DTD (<!DOCTYPE ...>); uploads may not declare a DTD or entities, "
               "which could read files of the server; remove the <!DOCTYPE ...> block")
    if _PROLOG_DOCTYPE.match(f.content):
        add(Finding(f.name, None, "error", doctype))
        return None
    # The content is already text: read it as UTF-8 whatever the declaration says.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, encoding="utf-8")
    try:
        tree = etree.fromstring(f.content.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        line = f" (line {exc.lineno})" if exc.lineno else ""
        problem = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
        add(Finding(f.name, None, "error", f"not well-formed XML{line}: {problem}; fix the "
                    "file or export it again from the modeler"))
        return None
    if tree.getroottree().docinfo.doctype:
        add(Finding(f.name, None, "error", doctype))
        return None
    return tree


def _add_bpmn(parser: SpiffBpmnParser, tree: Any, filename: str,
              add: Callable[[Finding], None]) -> None:
    name = etree.QName(tree)
    if name.namespace != BPMN_NS or name.localname != "definitions":
        add(Finding(filename, None, "error",
                    f"not a BPMN 2.0 document: the root element is {name.localname!r} in "
                    f"namespace {name.namespace or '(none)'!r}, not bpmn:definitions "
                    f"({BPMN_NS}); export the diagram as BPMN 2.0 XML"))
        return
    VALIDATOR.preprocess(tree)
    findings = _schema_findings(VALIDATOR.validator, tree, filename, "BPMN 2.0")
    findings += _check_unsupported(tree, filename)
    findings += _check_references(tree, filename)
    for finding in findings:
        add(finding)
    if any(f.severity == "error" for f in findings):
        return  # the unit cannot be deployed; Spiff would only repeat a part of this
    parser.add_bpmn_xml(tree, filename=filename)


def _add_dmn(parser: SpiffBpmnParser, tree: Any, filename: str, checker: _PolicyChecker,
             add: Callable[[Finding], None]) -> None:
    name = etree.QName(tree)
    if name.namespace not in DMN_SCHEMAS or name.localname != "definitions":
        add(Finding(filename, None, "error",
                    f"not a DMN 1.1-1.3 document: the root element is {name.localname!r} in "
                    f"namespace {name.namespace or '(none)'!r}; export the decision as DMN "
                    "1.3 XML"))
        return
    findings = _schema_findings(_dmn_schema(name.namespace), tree, filename, "DMN")
    for finding in findings:
        add(finding)
    if any(f.severity == "error" for f in findings):
        return
    decisions = tree.findall(f"{{{name.namespace}}}decision")
    if not decisions:
        add(Finding(filename, None, "error",
                    "the file has no decision; add a decision table, or leave the file out"))
        return
    if len(decisions) > 1:
        for extra in decisions[1:]:
            add(Finding(filename, extra.get("id"), "error",
                        "a .dmn file may hold one decision; move this decision into its own "
                        ".dmn file"))
        return
    decision_id = decisions[0].get("id")
    if decision_id in parser.dmn_parsers:
        other = parser.dmn_parsers[decision_id].filename
        add(Finding(filename, decision_id, "error",
                    f"decision {decision_id!r} is also defined in {other}; give each decision "
                    "its own id"))
        return
    parser.add_dmn_xml(tree, filename=filename)
    dmn_parser = parser.dmn_parsers[decision_id]
    dmn_parser.parse()
    checker.check_decision(dmn_parser.decision, filename)


@cache
def _dmn_schema(namespace: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(DMN_SCHEMAS[namespace]))


# --------------------------------------------------------------------------- XML checks


def _schema_findings(schema: etree.XMLSchema, tree: Any, filename: str, standard: str
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
        message = _readable(error.message)
        where = f" (line {error.line})" if error.line else ""
        if _is_layout(node, error.message):
            findings.append(Finding(
                filename, _owner_id(node), "warning",
                f"the diagram layout (BPMN DI) does not follow the {standard} schema{where}: "
                f"{message}; the engine ignores the layout, but modelers may draw the diagram "
                "wrongly"))
        else:
            findings.append(Finding(
                filename, _owner_id(node), "error",
                f"does not follow the {standard} schema{where}: {message}; correct the element "
                "in the modeler or export the file again"))
    if len(errors) > MAX_SCHEMA_FINDINGS:
        rest = errors[MAX_SCHEMA_FINDINGS:]
        layout_only = all(_is_layout(_node_of(tree, e, prefixes), e.message) for e in rest)
        findings.append(Finding(
            filename, None, "warning" if layout_only else "error",
            f"{len(rest)} more schema problem(s) like the ones above; fix those first"))
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


def _owner_id(node: Any) -> str | None:
    """The id of the nearest element a modeler shows (an event for its event definition)."""
    while node is not None:
        if isinstance(node.tag, str):
            local = etree.QName(node).localname
            if node.get("id") and not local.endswith("EventDefinition"):
                return node.get("id")
        node = node.getparent()
    return None


def _readable(text: str) -> str:
    for namespace, prefix in _PREFIXES.items():
        text = text.replace(f"{{{namespace}}}", f"{prefix}:")
    return re.sub(r"\{[^{}]*\}", "", text).strip().rstrip(".").strip()


def _check_unsupported(tree: Any, filename: str) -> list[Finding]:
    findings = []
    associated = {ref.text.strip() for ref in tree.iter(f"{{{BPMN_NS}}}sourceRef",
                                                       f"{{{BPMN_NS}}}targetRef") if ref.text}
    for node in tree.iter(f"{{{BPMN_NS}}}dataStoreReference"):
        if node.get("id") in associated:  # Spiff ignores a reference no task reads or writes
            findings.append(Finding(filename, node.get("id"), "error", _DATA_STORES))
    for node in tree.iter():
        if not isinstance(node.tag, str) or not node.tag.startswith("{" + BPMN_NS + "}"):
            continue
        local = node.tag.split("}", 1)[1]
        if local in UNSUPPORTED:
            findings.append(Finding(filename, _owner_id(node), "error", UNSUPPORTED[local]))
        elif node.get("isForCompensation") == "true":
            findings.append(Finding(filename, node.get("id"), "error",
                                    UNSUPPORTED["compensateEventDefinition"]))
        elif local == "subProcess" and node.get("triggeredByEvent") == "true":
            for start in node.findall(f"{{{BPMN_NS}}}startEvent"):
                if start.get("isInterrupting", "true") != "false":
                    findings.append(Finding(filename, start.get("id"), "error",
                                            _INTERRUPTING_EVENT_SUBPROCESS))
    return findings


def _check_references(tree: Any, filename: str) -> list[Finding]:
    """References Spiff resolves late or reports badly: flows, boundary events, events."""
    findings: list[Finding] = []
    every_id = {n.get("id") for n in tree.iter() if isinstance(n.tag, str) and n.get("id")}
    flow_tag, boundary_tag = f"{{{BPMN_NS}}}sequenceFlow", f"{{{BPMN_NS}}}boundaryEvent"
    for container in tree.iter(*_CONTAINERS):
        kind = etree.QName(container).localname
        here = {c.get("id") for c in container
                if isinstance(c.tag, str) and c.get("id") and c.tag != flow_tag}
        for flow in container.iterchildren(flow_tag):
            for attribute, verb in (("sourceRef", "comes from"), ("targetRef", "goes to")):
                ref = flow.get(attribute)
                if ref is None or ref in here:
                    continue  # a missing attribute is a schema finding
                which = ("which is outside this " + kind if ref in every_id
                         else "which does not exist")
                findings.append(Finding(
                    filename, flow.get("id"), "error",
                    f"sequence flow {flow.get('id')!r} {verb} {ref!r}, {which}; connect it "
                    f"to an element of the same {kind}, or delete it"))
        for boundary in container.iterchildren(boundary_tag):
            ref = boundary.get("attachedToRef")
            if ref is not None and ref not in here:
                findings.append(Finding(
                    filename, boundary.get("id"), "error",
                    f"boundary event {boundary.get('id')!r} is attached to {ref!r}, which is "
                    f"not an activity of the same {kind}; attach it to a task or subprocess"))
    declared: dict[str, dict[str, str | None]] = {}
    for tag, attribute, kind in _EVENT_REFERENCES:
        known = declared.setdefault(kind, {
            n.get("id"): n.get("name") for n in tree.iter(f"{{{BPMN_NS}}}{kind}") if n.get("id")})
        named = kind in ("message", "signal")  # the engine matches these by name
        for node in tree.iter(f"{{{BPMN_NS}}}{tag}"):
            ref = node.get(attribute)
            if not ref and named and tag.endswith("EventDefinition"):
                if not (node.getparent().get("name") or "").strip():  # Spiff's fallback
                    findings.append(Finding(
                        filename, _owner_id(node), "error",
                        f"this {kind} event names no {kind}; set its {attribute} to a "
                        f"bpmn:{kind} with a name (the engine matches {kind}s by name)"))
                continue
            if not ref:
                continue
            if ref in known:
                if named and not (known[ref] or "").strip():
                    findings.append(Finding(
                        filename, _owner_id(node), "error",
                        f"{kind} {ref!r} has no name, and the engine matches {kind}s by name; "
                        f'give it one: <bpmn:{kind} id="{ref}" name="..."/>'))
                continue
            hint = ""
            if ":" in ref and ref.split(":", 1)[1] in known:
                hint = " (write the plain id, without the namespace prefix)"
            findings.append(Finding(
                filename, _owner_id(node), "error",
                f"{attribute} {ref!r} names no bpmn:{kind} of this file{hint}; declare "
                f'<bpmn:{kind} id="{ref}" name="..."/> or pick an existing {kind}'))
    return findings


# --------------------------------------------------------------------------- processes


def _choose_process(parser: SpiffBpmnParser, process_id: str | None,
                    add: Callable[[Finding], None], default_file: str) -> str | None:
    processes = parser.process_parsers
    listed = ", ".join(sorted(processes)) or "none"
    if process_id is not None:
        if process_id in processes:
            return process_id
        add(Finding(default_file, None, "error",
                    f"process {process_id!r} is not in this unit; choose one of: {listed}"))
        return None
    if not processes:
        add(Finding(default_file, None, "error",
                    "no BPMN process found; deploy at least one .bpmn file with a process"))
        return None
    executable = parser.get_process_ids()
    if not executable:
        for pid, process in processes.items():
            add(Finding(process.filename or default_file, pid, "error",
                        f'process {pid!r} is not executable (isExecutable="false"); set '
                        'isExecutable="true" on the process to deploy'))
        return None
    called: set[str] = set()
    for pid in executable:
        called |= set(parser.get_process_parser(pid).called_element_ids())
    top = [pid for pid in executable if pid not in called] or executable
    if len(top) == 1:
        return top[0]
    described = ", ".join(
        pid + (f" ({processes[pid].get_name()!r})" if processes[pid].get_name() != pid else "")
        for pid in sorted(top))
    add(Finding(default_file, None, "error",
                f"several top-level processes: {described}; choose the one to deploy with "
                "process_id (CLI: --process)"))
    return None


def _check_calls(parser: SpiffBpmnParser, main: str, add: Callable[[Finding], None]) -> bool:
    """Call activities and business rule tasks of the processes `main` runs resolve in the unit."""
    ok = True
    seen: set[str] = set()
    queue = [main]
    while queue:
        pid = queue.pop()
        if pid in seen or pid not in parser.process_parsers:
            continue
        seen.add(pid)
        process = parser.process_parsers[pid]
        for call in process.xpath(".//bpmn:callActivity"):
            called = call.get("calledElement")
            if not called:
                continue  # Spiff reports it with the element
            if called in parser.process_parsers:
                queue.append(called)
                continue
            ok = False
            add(Finding(process.filename, call.get("id"), "error",
                        f"call activity {call.get('id')!r} calls process {called!r}, which is "
                        "not in this unit; deploy the file that defines it in the same unit "
                        f"(processes in the unit: {', '.join(sorted(parser.process_parsers))})"))
        for task in process.xpath(".//bpmn:businessRuleTask"):
            ref = BusinessRuleTaskParser.get_decision_ref(task)
            if ref is None or ref in parser.dmn_parsers:
                continue
            ok = False
            known = ", ".join(sorted(parser.dmn_parsers)) or "none"
            add(Finding(process.filename, task.get("id"), "error",
                        f"business rule task {task.get('id')!r} calls decision {ref!r}, which "
                        "is not in this unit; deploy the .dmn file that defines it in the same "
                        f"unit (decisions in the unit: {known})"))
    return ok


# SpiffWorkflow's messages, made to say what to change: (start of message, replacement or
# None to keep it, hint).
_SPIFF_HINTS: tuple[tuple[str, str | None, str], ...] = (
    ("Non-default exclusive outgoing sequence flow without condition", None,
     "add a condition to the flow, or make it the gateway's default flow"),
    ("Exactly one start event is required in a SubWorkflow Task", None,
     "give the subprocess exactly one none start event"),
    ("No start event found", None, "add a none start event to the process"),
    ("A Service Task must have an operator", None,
     "pick a host service (spiffworkflow:serviceTaskOperator)"),
    ("Multiple outgoing flows are not supported for tasks",
     "a task with several outgoing sequence flows is not supported",
     "add a parallel gateway (or an exclusive one with conditions) after the task"),
    ("Time Specification Error", "the timer has no timeDate, timeDuration or timeCycle",
     'add one with a quoted value, e.g. "PT2H"'),
    ("When looking for a task spec, we found two items",
     "an outgoing sequence flow leads to an element the process does not have",
     "make every id in the file unique and connect the flow to an existing element"),
    ("Cannot resolve dataInputAssociation",
     "a data input association of this task does not come from a data object of its process",
     "connect it to a data object reference of the same process, or delete it"),
    ("Cannot resolve dataOutputAssociation",
     "a data output association of this task does not lead to a data object of its process",
     "connect it to a data object reference of the same process, or delete it"),
    ("A multiinstance task must specify", None,
     "set loopCardinality or loopDataInputRef on the multi-instance marker"),
    ('No "calledElement" attribute', None,
     "set calledElement to the id of a process deployed in the same unit"),
    ("Process ", None, 'set isExecutable="true" on the process'),
    ("Duplicate process ID", None, "give every process its own id"),
    ("Multiple decision tables", "a .dmn file may hold one decision",
     "put each decision in its own .dmn file"),
    ("Malformed Output Expression", None, 'correct the expression; quote text, e.g. "high"'),
    ("Unknown type in decision table", None,
     "only input, output and rule columns are read; remove the other column"),
    ("A loopMaximum or loopCondition must be specified", None,
     "set loopCondition (or loopMaximum) on the loop marker"),
)


def _finding_from(exc: ValidationException, fallback_file: str, trees: dict[str, Any]
                  ) -> Finding:
    """A Spiff validation error as a finding that names the element and what to change."""
    file = getattr(exc, "file_name", "") or fallback_file
    element = getattr(exc, "id", None) or None
    line = getattr(exc, "line_number", "")
    if element is None and isinstance(line, int) and file in trees:
        for node in trees[file].iter():
            if isinstance(node.tag, str) and node.sourceline == line:
                element = _owner_id(node)
                break
    raw = str(exc.args[0]) if exc.args else str(exc)
    message = _readable(raw.split("\n")[0])
    for start, replacement, hint in _SPIFF_HINTS:
        if raw.startswith(start):
            if start == "Process " and "not executable" not in raw:
                continue
            message = f"{replacement or message}; {hint}"
            break
    notes = [str(n) for n in getattr(exc, "notes", []) if n]
    if notes:
        message += " (" + "; ".join(notes) + ")"
    tag = _readable(getattr(exc, "tag", "") or "")
    where = f" ({tag}{', line ' + str(line) if line else ''})" if tag else ""
    return Finding(file, element, "error", f"{message}{where}")


# --------------------------------------------------------------------------- policy


class _PolicyChecker:
    """The engine's own rules on top of Spiff's: sandboxed code, timers, forms, services."""

    def __init__(self, sandbox: Sandbox, element_files: dict[str, str], forms: dict[str, str],
                 default_file: str) -> None:
        self.sandbox = sandbox
        self.element_files = element_files
        self.forms = forms
        self.default_file = default_file
        self.file: str | None = None  # the file of the spec being checked
        self.used_forms: set[str] = set()
        self.findings: list[Finding] = []

    def error(self, element_id: str | None, message: str, file: str | None = None) -> None:
        file = file or self.file or self.element_files.get(element_id or "", self.default_file)
        self.findings.append(Finding(file, element_id, "error", message))

    def expression(self, element_id: str | None, what: str, source: str | None,
                   file: str | None = None) -> None:
        if source is None or not str(source).strip():
            return
        for line, problem in self.sandbox.check_expression(str(source)):
            self.error(element_id, f"{what} {source!r} does not compile: {problem}"
                       + (f" (line {line})" if line else "") + "; correct the expression",
                       file)

    def script(self, element_id: str, what: str, source: str | None) -> None:
        if source is None or not source.strip():
            return
        for line, problem in self.sandbox.check_script(source):
            self.error(element_id, f"{what} does not compile: {problem}"
                       + (f" (line {line})" if line else "") + "; correct the script")

    def check_task(self, task_spec: Any, spec: Any) -> TaskMeta | None:
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            return None
        self.file = getattr(spec, "file", None) or self.element_files.get(bpmn_id)
        try:
            return self._check_task(task_spec, bpmn_id)
        except Exception as exc:  # noqa: BLE001 - one odd element must not hide the others
            self.error(bpmn_id, f"the engine could not check this element "
                       f"({type(exc).__name__}: {exc}); please report it with the diagram")
            return None
        finally:
            self.file = None

    def _check_task(self, task_spec: Any, bpmn_id: str) -> TaskMeta | None:
        kind = type(task_spec).__name__
        self.script(bpmn_id, "script", getattr(task_spec, "script", None))
        self.script(bpmn_id, "pre-script", getattr(task_spec, "prescript", None))
        self.script(bpmn_id, "post-script", getattr(task_spec, "postscript", None))
        for condition, _target in getattr(task_spec, "cond_task_specs", []) or []:
            if condition is not None:
                self.expression(bpmn_id, "condition", condition.args[0])
        for attr in ("cardinality", "condition"):
            value = getattr(task_spec, attr, None)
            if isinstance(value, str):
                self.expression(bpmn_id, f"loop {attr}", value)
        self._check_timer(bpmn_id, getattr(task_spec, "event_definition", None))
        if kind == "ServiceTask":
            for name, param in (task_spec.operation_params or {}).items():
                self.expression(bpmn_id, f"service parameter {name!r}", param.get("value"))
            if not task_spec.operation_name:
                self.error(bpmn_id, "service task without an operator; pick a host service "
                           "(spiffworkflow:serviceTaskOperator)")
        if kind in MANUAL_TASK_CLASSES:
            return self._task_meta(task_spec, bpmn_id)
        return None

    def _check_timer(self, bpmn_id: str, definition: Any) -> None:
        if definition is None:
            return
        for inner in getattr(definition, "event_definitions", None) or [definition]:
            if not isinstance(inner, TimeDateEventDefinition | DurationTimerEventDefinition
                              | CycleTimerEventDefinition):
                continue
            expression = (inner.expression or "").strip()
            if not expression:
                self.error(bpmn_id, "the timer expression is empty; write a quoted ISO 8601 "
                           'value, e.g. "PT2H", or a variable that holds one')
                continue
            if _LOOKS_ISO.match(expression):
                self.error(bpmn_id, f"timer expression {expression} reads a variable named like "
                           f'an ISO 8601 value; quote it: "{expression}"')
                continue
            problems = self.sandbox.check_expression(expression)
            if problems:
                self.error(bpmn_id, f"timer expression {expression!r} does not compile: "
                           f"{problems[0][1]}; timer expressions are Python: quote literals, "
                           'e.g. "PT2H"')
                continue
            try:  # a constant can be checked now; one that reads data is checked when reached
                value = self.sandbox.evaluate(expression, {})
            except Exception:  # noqa: BLE001, S112 - depends on instance data
                continue
            try:
                now = datetime.now(UTC)
                if isinstance(inner, TimeDateEventDefinition):
                    parse_instant(value, bpmn_id)
                elif isinstance(inner, DurationTimerEventDefinition):
                    parse_duration(value, bpmn_id, now)
                else:
                    parse_cycle(value, bpmn_id, now)
            except Exception as exc:  # noqa: BLE001 - reported as a finding
                self.error(bpmn_id, f"{exc}")

    # ------------------------------------------------------------------ decisions

    def check_decision(self, decision: Any, file: str) -> None:
        """Every cell of a DMN decision table, compiled the way Spiff's DMN engine builds it."""
        if not decision.decisionTables:
            self.error(decision.id, "the decision has no decision table (literal expressions "
                       "are not supported); model it as a decision table", file)
            return
        for table in decision.decisionTables:
            for column in table.inputs:
                label = column.label or column.name or column.id
                if not (column.expression or "").strip():
                    self.error(column.id, f"decision input {label!r} has no input expression; "
                               "write the variable (or expression) its cells are matched "
                               "against", file)
                else:
                    self.expression(column.id, f"decision input {label!r}", column.expression,
                                    file)
            for rule in table.rules:
                where = f"rule {rule.id!r} (row {rule.row_number})"
                for entry in rule.inputEntries:
                    label = entry.input.label or entry.input.name or entry.input.id
                    for cell in entry.lhs:
                        problem = _decision_cell_problem(self.sandbox, entry.input.expression,
                                                         cell)
                        if problem:
                            self.error(entry.id or rule.id, f"decision {decision.id!r}, {where}, "
                                       f"input {label!r}: the cell {cell!r} {problem}", file)
                for entry in rule.outputEntries:
                    self.expression(entry.id or rule.id, f"decision {decision.id!r}, {where}, "
                                    "output", entry.text, file)

    # ------------------------------------------------------------------ user tasks

    def _task_meta(self, task_spec: Any, bpmn_id: str) -> TaskMeta:
        props = (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}
        form = None
        if "formJsonSchema" in props:
            form = self._form(bpmn_id, props["formJsonSchema"], "formJsonSchema")
        elif "formJsonSchemaFilename" in props:
            name = props["formJsonSchemaFilename"] or ""
            found = name if name in self.forms else Path(name).name
            if found not in self.forms:
                deployed = ", ".join(sorted(self.forms)) or "none"
                self.error(bpmn_id, f"form file {name!r} is not part of the unit; deploy it "
                           f"together with the diagram (.json files in the unit: {deployed})")
            else:
                self.used_forms.add(found)
                form = self._form(bpmn_id, self.forms[found], found)
        groups_text = props.get("candidateGroups") or ""
        groups = [g.strip() for g in groups_text.split(",") if g.strip()]
        lane = task_spec.lane
        if not groups and lane:
            groups = [lane]
        groups_expression = props.get("candidateGroupsExpression")
        self.expression(bpmn_id, "candidateGroupsExpression", groups_expression)
        due = props.get("dueDate")
        self.expression(bpmn_id, "dueDate", due)
        return TaskMeta(bpmn_id, task_spec.bpmn_name or bpmn_id, lane, groups, form, due,
                        groups_expression)

    def _form(self, bpmn_id: str, text: str, where: str) -> dict[str, Any] | None:
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            self.error(bpmn_id, f"form {where} is not valid JSON: {exc}; correct the JSON")
            return None
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            at = "/".join(str(p) for p in exc.path) or "the top level"
            self.error(bpmn_id, f"form {where} is not a valid JSON Schema: {exc.message} "
                       f"(at {at}); correct the schema")
            return None
        if not isinstance(schema, dict) or schema.get("type", "object") != "object":
            self.error(bpmn_id, f"form {where} must describe an object: write a schema with "
                       '"type": "object" and the fields under "properties"')
            return None
        return schema


def _decision_cell_problem(sandbox: Sandbox, input_expression: str | None, cell: str | None
                           ) -> str | None:
    """What is wrong with a DMN input cell, mirroring how Spiff's DMN engine builds it."""
    if cell is None:  # an empty cell or '-': matches anything
        return None
    if not cell.strip():
        return "is blank but not empty, and never matches; empty it or write -"
    replaced = _DMN_PLACEHOLDER.sub("dmninputexpr", cell)
    if "dmninputexpr" in replaced:
        problems = sandbox.check_expression(replaced)
        if problems:
            problem = problems[0][1].replace("dmninputexpr", "?")
            return f"does not compile ({problem}); quote text literals"
        return None
    input_expression = input_expression or ""
    try:
        ast.parse(cell)
        expression = f"({input_expression}) == ({cell})"  # compared with == to the input
    except SyntaxError:
        try:
            ast.parse(f"v {cell}")
        except SyntaxError:
            return "does not compile; quote text literals, e.g. \"roads\", or write ? for the input"
        expression = input_expression + cell  # the engine glues the cell to the input
        if _word_char(input_expression[-1:]) and _word_char(cell[:1]):
            return (f"is appended to the input without a space by the engine "
                    f"({expression!r}); write '? {cell.strip()}'")
    problems = sandbox.check_expression(expression)
    if problems:
        return f"does not compile ({problems[0][1]}); quote text literals, e.g. \"roads\""
    return None


def _word_char(char: str) -> bool:
    return bool(char) and (char.isalnum() or char == "_")


def iter_findings(units: Iterable[ParsedUnit]) -> Iterator[Finding]:
    for unit in units:
        yield from unit.findings
