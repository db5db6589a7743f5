"""Deployment units: `parse_unit` reads, checks and parses a unit's files into specs and findings.

`parse_unit` never raises for a problem in the files: every problem becomes a `Finding` that
names the file, the element (when the problem belongs to one) and what to change. The checks
run in stages, a later one only when the earlier ones found no error: reading the files
(`files`), their structure (`structure`), Spiff's parse, then the engine's policy (`policy`).
Each BPMN file is also linted (`lint`: bpmnlint's recommended rules) whatever else was found;
those findings are warnings and never stop a deployment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.definitions.files import (
    BPMN_NS,
    SourceFile,
    decode_source,
    dmn_schema,
    read_xml,
    schema_findings,
)
from engine.definitions.lint import lint_bpmn
from engine.definitions.policy import PolicyChecker, TaskMeta
from engine.definitions.structure import (
    check_calls,
    check_references,
    check_unsupported,
    choose_process,
    finding_from,
)
from engine.errors import Finding, Message
from engine.runtime import use_host_clock
from engine.sandbox import Sandbox
from engine.tasktree import use_host_end_joins

__all__ = [
    "ParsedUnit",
    "SourceFile",
    "TaskMeta",
    "coerce_files",
    "decode_source",
    "iter_findings",
    "meta_key",
    "parse_unit",
]


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
    # Each XML file's root element, read without DTDs or entities (for hosts' unit checks).
    trees: dict[str, Any] = field(default_factory=dict)

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


def parse_unit(files: list[SourceFile], sandbox: Sandbox, process_id: str | None = None, *,
               now: datetime) -> ParsedUnit:
    """Parse and check a deployment unit; never raises for a problem in the files.

    `now` is the engine clock's instant: constant timer durations and cycles are checked
    from it, as they will be counted from the clock when the timer is reached.
    """
    unit = ParsedUnit(files=files)
    try:
        _parse(unit, sandbox, process_id, now)
    except Exception as exc:  # noqa: BLE001 - a crash must still reach the deployer
        where = files[0].name if files else "(no files)"
        unit.findings.append(Finding(where, None, "error", Message(
            "the engine could not check this unit (%(error)s: %(detail)s); this is a bug in "
            "the engine, please report it with the files", error=type(exc).__name__,
            detail=str(exc))))
    return unit


def _parse(unit: ParsedUnit, sandbox: Sandbox, process_id: str | None, now: datetime) -> None:
    files = unit.files
    add = unit.findings.append
    if not files:
        add(Finding("(no files)", None, "error",
                    Message("the unit has no files; deploy at least one .bpmn file")))
        return
    names = [f.name for f in files]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        add(Finding(dup, None, "error", Message("two files have this name; rename one")))
    # Schema validation is done here (every error, with its element), not by the parser.
    parser = SpiffBpmnParser(validator=None)
    bpmn_names = [n for n in names if Path(n).suffix.lower() in (".bpmn", ".xml")]
    default_file = (bpmn_names or names)[0]
    element_files: dict[str, str] = {}
    forms: dict[str, str] = {}
    trees = unit.trees
    checker = PolicyChecker(sandbox, element_files, forms, default_file, now=now)
    for f in files:
        suffix = Path(f.name).suffix.lower()
        if suffix == ".json":
            forms[f.name] = f.content
            continue
        if suffix not in (".bpmn", ".dmn", ".xml"):
            add(Finding(f.name, None, "error", Message(
                "unknown file type %(suffix)r; a unit holds .bpmn diagrams, .dmn decisions "
                "and .json form schemas", suffix=suffix or Message("(no extension)"))))
            continue
        if "\ufffd" in f.content:
            add(Finding(f.name, None, "warning", Message(
                "the file contains replacement characters (U+FFFD), usually bytes that were "
                "not valid in its encoding; check the names and save it as UTF-8")))
        tree = read_xml(f, add)
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
            add(finding_from(exc, f.name, trees))
        except Exception as exc:  # noqa: BLE001 - Spiff raises many kinds for odd files
            # Spiff's words (the detail) are quoted as they are, in any language.
            add(Finding(f.name, None, "error", Message(
                "cannot be read as %(standard)s (%(detail)s); export the file again from the "
                "modeler", standard="DMN" if is_dmn else "BPMN", detail=str(exc))))
    unit.findings.extend(checker.findings)
    checker.findings.clear()
    if not unit.valid:
        return

    main = choose_process(parser, process_id, add, default_file)
    if main is None or not check_calls(parser, main, add):
        return
    unit.process_id = main
    try:
        unit.spec = parser.get_spec(main)
        unit.subprocess_specs = parser.get_subprocess_specs(main)
    except ValidationException as exc:
        add(finding_from(exc, element_files.get(getattr(exc, "id", "") or "", default_file),
                          trees))
        return
    except Exception as exc:  # noqa: BLE001 - Spiff raises many kinds for broken references
        add(Finding(default_file, None, "error", Message(
            "cannot build process %(process)r: %(detail)s", process=main, detail=str(exc))))
        return
    unit.process_name = unit.spec.description or main
    use_host_clock([unit.spec, *unit.subprocess_specs.values()])
    use_host_end_joins([unit.spec, *unit.subprocess_specs.values()])
    for spec in [unit.spec, *unit.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            meta = checker.check_task(task_spec, spec)
            if meta is not None:
                unit.task_meta[meta_key(spec.name, meta.element_id)] = meta.as_dict()
    for name in sorted(set(forms) - checker.used_forms):
        checker.findings.append(Finding(name, None, "warning", Message(
            "no user task uses this form; reference it with the formJsonSchemaFilename "
            "property, or leave it out of the unit")))
    unit.findings.extend(checker.findings)


def _add_bpmn(parser: SpiffBpmnParser, tree: Any, filename: str,
              add: Callable[[Finding], None]) -> None:
    name = etree.QName(tree)
    if name.namespace != BPMN_NS or name.localname != "definitions":
        add(Finding(filename, None, "error", Message(
            "not a BPMN 2.0 document: the root element is %(element)r in namespace "
            "%(namespace)r, not bpmn:definitions (%(expected)s); export the diagram as BPMN "
            "2.0 XML", element=name.localname, namespace=name.namespace or Message("(none)"),
            expected=BPMN_NS)))
        return
    lints = lint_bpmn(tree, filename)
    VALIDATOR.preprocess(tree)
    findings = schema_findings(VALIDATOR.validator, tree, filename, "BPMN 2.0")
    findings += check_unsupported(tree, filename)
    findings += check_references(tree, filename)
    findings += lints
    for finding in findings:
        add(finding)
    if any(f.severity == "error" for f in findings):
        return  # the unit cannot be deployed; Spiff would only repeat a part of this
    parser.add_bpmn_xml(tree, filename=filename)


def _add_dmn(parser: SpiffBpmnParser, tree: Any, filename: str, checker: PolicyChecker,
             add: Callable[[Finding], None]) -> None:
    name = etree.QName(tree)
    if name.namespace not in DMN_SCHEMAS or name.localname != "definitions":
        add(Finding(filename, None, "error", Message(
            "not a DMN 1.1-1.3 document: the root element is %(element)r in namespace "
            "%(namespace)r; export the decision as DMN 1.3 XML", element=name.localname,
            namespace=name.namespace or Message("(none)"))))
        return
    findings = schema_findings(dmn_schema(name.namespace), tree, filename, "DMN")
    for finding in findings:
        add(finding)
    if any(f.severity == "error" for f in findings):
        return
    decisions = tree.findall(f"{{{name.namespace}}}decision")
    if not decisions:
        add(Finding(filename, None, "error", Message(
            "the file has no decision; add a decision table, or leave the file out")))
        return
    if len(decisions) > 1:
        for extra in decisions[1:]:
            add(Finding(filename, extra.get("id"), "error", Message(
                "a .dmn file may hold one decision; move this decision into its own .dmn "
                "file")))
        return
    decision_id = decisions[0].get("id")
    if decision_id in parser.dmn_parsers:
        other = parser.dmn_parsers[decision_id].filename
        add(Finding(filename, decision_id, "error", Message(
            "decision %(decision)r is also defined in %(other)s; give each decision its own "
            "id", decision=decision_id, other=other)))
        return
    parser.add_dmn_xml(tree, filename=filename)
    dmn_parser = parser.dmn_parsers[decision_id]
    dmn_parser.parse()
    checker.check_decision(dmn_parser.decision, filename)


def iter_findings(units: Iterable[ParsedUnit]) -> Iterator[Finding]:
    for unit in units:
        yield from unit.findings
