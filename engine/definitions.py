"""Deployment units: parse BPMN/DMN/form files, check the engine's policy, describe user tasks."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.errors import Finding
from engine.runtime import parse_cycle, parse_duration, parse_instant, use_host_clock
from engine.sandbox import Sandbox

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MANUAL_TASK_CLASSES = ("UserTask", "ManualTask")

# Elements SpiffWorkflow parses (or skips) but this engine cannot run faithfully.
UNSUPPORTED = {
    "complexGateway": "complex gateways are not supported; use an inclusive gateway",
    "compensateEventDefinition": "compensation is not supported; model the undo as tasks",
    "linkEventDefinition": "link events are not supported; draw the sequence flow",
    "adHocSubProcess": "ad-hoc subprocesses are not supported; use an embedded subprocess",
}
SAFE_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
)
# An unquoted ISO duration or cycle (PT2H, P3D, R2) parses as a Python name: a classic slip.
_LOOKS_ISO = re.compile(r"^(P(\d|T)[0-9A-Z.]*|R\d*)$")


@dataclass(frozen=True)
class SourceFile:
    """One file of a deployment unit: a .bpmn, a .dmn or a .json form schema."""

    name: str
    content: str

    @classmethod
    def read(cls, path: str | Path) -> SourceFile:
        p = Path(path)
        return cls(p.name, p.read_text(encoding="utf-8"))


@dataclass
class TaskMeta:
    """What the worklist needs to know about one user or manual task, read once at deploy."""

    element_id: str
    title: str
    lane: str | None
    candidate_groups: list[str]
    form: dict[str, Any] | None
    due_expression: str | None

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


def parse_unit(files: list[SourceFile], sandbox: Sandbox, process_id: str | None = None
               ) -> ParsedUnit:
    """Parse and check a deployment unit; never raises for a problem in the files."""
    unit = ParsedUnit(files=files)
    add = unit.findings.append
    names = [f.name for f in files]
    for dup in {n for n in names if names.count(n) > 1}:
        add(Finding(dup, None, "error", "two files have this name; rename one"))
    parser = SpiffBpmnParser(validator=VALIDATOR)
    element_files: dict[str, str] = {}
    forms: dict[str, str] = {}
    trees: dict[str, Any] = {}
    for f in files:
        suffix = Path(f.name).suffix.lower()
        if suffix == ".json":
            forms[f.name] = f.content
            continue
        if suffix not in (".bpmn", ".dmn", ".xml"):
            add(Finding(f.name, None, "error", "unknown file type; deploy .bpmn, .dmn or .json"))
            continue
        try:
            tree = etree.fromstring(f.content.encode("utf-8"), SAFE_XML)
        except etree.XMLSyntaxError as exc:
            add(Finding(f.name, None, "error", f"not well-formed XML: {exc}; fix the file"))
            continue
        trees[f.name] = tree
        for node in tree.iter():
            node_id = node.get("id") if isinstance(node.tag, str) else None
            if node_id:
                element_files.setdefault(node_id, f.name)
        try:
            if suffix == ".dmn":
                parser.add_dmn_xml(tree, filename=f.name)
            else:
                _check_unsupported(tree, f.name, add)
                parser.add_bpmn_xml(tree, filename=f.name)
        except ValidationException as exc:
            add(_finding_from(exc, f.name))
        except (SpiffWorkflowException, etree.LxmlError, ValueError, KeyError) as exc:
            add(Finding(f.name, None, "error", f"cannot be read as BPMN/DMN: {exc}"))
    if not unit.valid:
        return unit

    main = process_id or _main_process(parser, add, names)
    if main is None:
        return unit
    unit.process_id = main
    try:
        unit.spec = parser.get_spec(main)
        unit.subprocess_specs = parser.get_subprocess_specs(main)
    except ValidationException as exc:
        add(_finding_from(exc, element_files.get(getattr(exc, "id", ""), names[0])))
        return unit
    except Exception as exc:  # noqa: BLE001 - Spiff raises many kinds for broken references
        add(Finding(names[0], None, "error", f"cannot build process {main!r}: {exc}"))
        return unit
    unit.process_name = unit.spec.description or main
    use_host_clock([unit.spec, *unit.subprocess_specs.values()])
    checker = _PolicyChecker(sandbox, element_files, forms, names[0])
    for spec in [unit.spec, *unit.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            meta = checker.check_task(task_spec, spec.name)
            if meta is not None:
                unit.task_meta[meta_key(spec.name, meta.element_id)] = meta.as_dict()
    unit.findings.extend(checker.findings)
    return unit


def _finding_from(exc: ValidationException, fallback_file: str) -> Finding:
    element = getattr(exc, "id", None) or None
    message = str(exc).split("\n")[0]
    tag = getattr(exc, "tag", "")
    line = getattr(exc, "line_number", "")
    where = f" ({tag}{', line ' + str(line) if line else ''})" if tag else ""
    return Finding(getattr(exc, "file_name", "") or fallback_file, element, "error",
                   f"{message}{where}")


def _check_unsupported(tree: Any, filename: str, add: Any) -> None:
    for node in tree.iter():
        if not isinstance(node.tag, str) or not node.tag.startswith("{" + BPMN_NS + "}"):
            continue
        local = node.tag.split("}", 1)[1]
        if local in UNSUPPORTED:
            owner = node if node.get("id") else node.getparent()
            add(Finding(filename, owner.get("id"), "error", UNSUPPORTED[local]))


def _main_process(parser: SpiffBpmnParser, add: Any, names: list[str]) -> str | None:
    executable = parser.get_process_ids()
    if not executable:
        add(Finding(names[0], None, "error",
                    "no executable process found; set isExecutable=\"true\" on the process"))
        return None
    called: set[str] = set()
    for pid in executable:
        called |= set(parser.get_process_parser(pid).called_element_ids())
    top = [pid for pid in executable if pid not in called]
    if len(top) == 1:
        return top[0]
    add(Finding(names[0], None, "error",
                f"several top-level processes ({', '.join(sorted(top or executable))}); "
                "name the one to deploy (--process)"))
    return None


class _PolicyChecker:
    """The engine's own rules on top of Spiff's: sandboxed code, timers, forms, services."""

    def __init__(self, sandbox: Sandbox, element_files: dict[str, str], forms: dict[str, str],
                 default_file: str) -> None:
        self.sandbox = sandbox
        self.element_files = element_files
        self.forms = forms
        self.default_file = default_file
        self.findings: list[Finding] = []

    def error(self, element_id: str | None, message: str) -> None:
        file = self.element_files.get(element_id or "", self.default_file)
        self.findings.append(Finding(file, element_id, "error", message))

    def expression(self, element_id: str, what: str, source: str | None) -> None:
        if source is None or not str(source).strip():
            return
        for line, problem in self.sandbox.check_expression(str(source)):
            self.error(element_id, f"{what} {source!r} does not compile: {problem}"
                       + (f" (line {line})" if line else "") + "; correct the expression")

    def script(self, element_id: str, what: str, source: str | None) -> None:
        if source is None or not source.strip():
            return
        for line, problem in self.sandbox.check_script(source):
            self.error(element_id, f"{what} does not compile: {problem}"
                       + (f" (line {line})" if line else "") + "; correct the script")

    def check_task(self, task_spec: Any, process_name: str) -> TaskMeta | None:
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            return None
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
        dmn = getattr(task_spec, "dmnEngine", None)
        if dmn is not None:
            self._check_decision(bpmn_id, dmn.decision_table)
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
            expression = inner.expression
            problems = self.sandbox.check_expression(expression or "")
            if problems or not (expression or "").strip():
                self.error(bpmn_id, f"timer expression {expression!r} does not compile; "
                           'timer expressions are Python: quote literals, e.g. "PT2H"')
                continue
            if _LOOKS_ISO.match(expression.strip()):
                self.error(bpmn_id, f"timer expression {expression} reads a variable named like "
                           f'an ISO 8601 value; quote it: "{expression.strip()}"')
                continue
            try:  # a constant can be checked now; one that reads data is checked when reached
                value = self.sandbox.evaluate(expression, {})
            except Exception:  # noqa: BLE001, S112 - depends on instance data
                continue
            try:
                from datetime import UTC, datetime

                now = datetime.now(UTC)
                if isinstance(inner, TimeDateEventDefinition):
                    parse_instant(value, bpmn_id)
                elif isinstance(inner, DurationTimerEventDefinition):
                    parse_duration(value, bpmn_id, now)
                else:
                    parse_cycle(value, bpmn_id, now)
            except Exception as exc:  # noqa: BLE001 - reported as a finding
                self.error(bpmn_id, f"{exc}")

    def _check_decision(self, bpmn_id: str, table: Any) -> None:
        for column in table.inputs:
            self.expression(bpmn_id, f"decision input {column.label or column.id!r}",
                            column.expression)
        for rule in table.rules:
            for entry in rule.inputEntries:
                for lhs in entry.lhs:
                    problem = self._decision_cell_problem(lhs or "")
                    if problem:
                        self.error(bpmn_id, f"decision rule {rule.id!r}: input entry {lhs!r} "
                                   f"{problem}")
            for entry in rule.outputEntries:
                self.expression(bpmn_id, f"decision rule {rule.id!r} output", entry.text)

    def _decision_cell_problem(self, cell: str) -> str | None:
        """Mirror how Spiff's DMN engine turns a cell into an expression, and check that."""
        text = cell.strip()
        if not text or text == "-":
            return None
        if "?" in text:
            if self.sandbox.check_expression(text.replace("?", "dmninputexpr")):
                return "does not compile; quote string literals"
            return None
        if not self.sandbox.check_expression(text):
            return None  # compared with == to the input
        if text[0].isalpha():  # Spiff glues "in [...]" to the input with no space
            return f"is glued to the input without a space by the engine; write '? {text}'"
        if self.sandbox.check_expression(f"dmninputexpr {text}"):
            return "does not compile; quote string literals"
        return None

    def _task_meta(self, task_spec: Any, bpmn_id: str) -> TaskMeta:
        props = (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}
        form = None
        if "formJsonSchema" in props:
            form = self._form(bpmn_id, props["formJsonSchema"], "formJsonSchema")
        elif "formJsonSchemaFilename" in props:
            name = props["formJsonSchemaFilename"]
            if name not in self.forms:
                self.error(bpmn_id, f"form file {name!r} is not part of the deployment; "
                           "deploy it together with the diagram")
            else:
                form = self._form(bpmn_id, self.forms[name], name)
        groups_text = props.get("candidateGroups") or ""
        groups = [g.strip() for g in groups_text.split(",") if g.strip()]
        lane = task_spec.lane
        if not groups and lane:
            groups = [lane]
        due = props.get("dueDate")
        self.expression(bpmn_id, "dueDate", due)
        return TaskMeta(bpmn_id, task_spec.bpmn_name or bpmn_id, lane, groups, form, due)

    def _form(self, bpmn_id: str, text: str, where: str) -> dict[str, Any] | None:
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            self.error(bpmn_id, f"form {where} is not valid JSON: {exc}")
            return None
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            self.error(bpmn_id, f"form {where} is not a valid JSON Schema: {exc.message}")
            return None
        if schema.get("type", "object") != "object":
            self.error(bpmn_id, f"form {where} must describe an object (\"type\": \"object\")")
            return None
        return schema


def iter_findings(units: Iterable[ParsedUnit]) -> Iterator[Finding]:
    for unit in units:
        yield from unit.findings
