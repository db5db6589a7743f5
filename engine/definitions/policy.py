"""The engine's policy on Spiff's specs: code compiles, timers, forms, services, DMN cells."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)

from engine.definitions.forms import reference_problems
from engine.errors import N_, Finding, Message
from engine.runtime import parse_cycle, parse_duration, parse_instant
from engine.sandbox import Sandbox, SandboxLimitExceeded, SandboxTimeout
from engine.sandbox.compiler import OWN_PROBLEMS

# Spiff leaves these for a person: a plain bpmn:task (NoneTask) waits in the worklist too.
MANUAL_TASK_CLASSES = ("UserTask", "ManualTask", "NoneTask")
# An unquoted ISO duration or cycle (PT2H, P3D, R2) parses as a Python name: a classic slip.
_LOOKS_ISO = re.compile(r"^(P(\d|T)[0-9A-Z.]*|R\d*)$")
# How Spiff's DMN engine finds the '?' placeholder (outside quotes) in a rule cell.
MAX_DECISION_CELL = 500  # characters in one DMN input or output cell
_DMN_PLACEHOLDER = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")
# Code that does not compile: `what` names it ("condition", "decision input 'x'", or a
# property's name), `problem` is the sandbox's refusal or Python's own words, quoted.
_EXPRESSION = N_("%(what)s %(source)r does not compile: %(problem)s; correct the expression")
_EXPRESSION_AT = N_("%(what)s %(source)r does not compile: %(problem)s (line %(line)s); "
                    "correct the expression")
_SCRIPT = N_("%(what)s does not compile: %(problem)s; correct the script")
_SCRIPT_AT = N_("%(what)s does not compile: %(problem)s (line %(line)s); correct the script")


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


class PolicyChecker:
    """The engine's own rules on top of Spiff's: sandboxed code, timers, forms, services."""

    def __init__(self, sandbox: Sandbox, element_files: dict[str, str], forms: dict[str, str],
                 default_file: str, *, now: datetime) -> None:
        self.sandbox = sandbox
        self.now = now  # the instant constant durations and cycles are counted from
        self.element_files = element_files
        self.forms = forms
        self.default_file = default_file
        self.file: str | None = None  # the file of the spec being checked
        self.used_forms: set[str] = set()
        self.findings: list[Finding] = []

    def error(self, element_id: str | None, message: str, file: str | None = None) -> None:
        """An error on the element; `message` a Message (an id a page can translate)."""
        file = file or self.file or self.element_files.get(element_id or "", self.default_file)
        self.findings.append(Finding(file, element_id, "error", message))

    def expression(self, element_id: str | None, what: str, source: str | None,
                   file: str | None = None) -> None:
        """`what` names the code (a Message, or a property's name as it is)."""
        if source is None or not str(source).strip():
            return
        for line, problem in self.sandbox.check_expression(str(source)):
            self.error(element_id, Message(
                _EXPRESSION_AT if line else _EXPRESSION, what=what, source=str(source),
                problem=compile_problem(problem), line=line), file)

    def script(self, element_id: str, what: str, source: str | None) -> None:
        if source is None or not source.strip():
            return
        for line, problem in self.sandbox.check_script(source):
            self.error(element_id, Message(_SCRIPT_AT if line else _SCRIPT, what=what,
                                           problem=compile_problem(problem), line=line))

    def check_task(self, task_spec: Any, spec: Any) -> TaskMeta | None:
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            return None
        self.file = getattr(spec, "file", None) or self.element_files.get(bpmn_id)
        try:
            return self._check_task(task_spec, bpmn_id)
        except Exception as exc:  # noqa: BLE001 - one odd element must not hide the others
            self.error(bpmn_id, Message(
                "the engine could not check this element (%(error)s: %(detail)s); please "
                "report it with the diagram", error=type(exc).__name__, detail=str(exc)))
            return None
        finally:
            self.file = None

    def _check_task(self, task_spec: Any, bpmn_id: str) -> TaskMeta | None:
        kind = type(task_spec).__name__
        self.script(bpmn_id, Message("script"), getattr(task_spec, "script", None))
        self.script(bpmn_id, Message("pre-script"), getattr(task_spec, "prescript", None))
        self.script(bpmn_id, Message("post-script"), getattr(task_spec, "postscript", None))
        for condition, _target in getattr(task_spec, "cond_task_specs", []) or []:
            if condition is not None:
                self.expression(bpmn_id, Message("condition"), condition.args[0])
        for attr, what in (("cardinality", Message("loop cardinality")),
                           ("condition", Message("loop condition"))):
            value = getattr(task_spec, attr, None)
            if isinstance(value, str):
                self.expression(bpmn_id, what, value)
        self._check_timer(bpmn_id, getattr(task_spec, "event_definition", None))
        if kind == "ServiceTask":
            for name, param in (task_spec.operation_params or {}).items():
                self.expression(bpmn_id, Message("service parameter %(name)r", name=name),
                                param.get("value"))
            if not task_spec.operation_name:
                self.error(bpmn_id, Message(
                    "service task without an operator; pick a host service "
                    "(spiffworkflow:serviceTaskOperator)"))
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
                self.error(bpmn_id, Message(
                    'the timer expression is empty; write a quoted ISO 8601 value, e.g. '
                    '"PT2H", or a variable that holds one'))
                continue
            if _LOOKS_ISO.match(expression):
                self.error(bpmn_id, Message(
                    'timer expression %(expression)s reads a variable named like an ISO 8601 '
                    'value; quote it: "%(expression)s"', expression=expression))
                continue
            problems = self.sandbox.check_expression(expression)
            if problems:
                self.error(bpmn_id, Message(
                    "timer expression %(expression)r does not compile: %(problem)s; timer "
                    'expressions are Python: quote literals, e.g. "PT2H"',
                    expression=expression, problem=compile_problem(problems[0][1])))
                continue
            try:  # a constant can be checked now; one that reads data is checked when reached
                value = self.sandbox.evaluate(expression, {})
            except (SandboxLimitExceeded, SandboxTimeout) as exc:  # too costly whatever data
                self.error(bpmn_id, Message("timer expression %(expression)r: %(problem)s",
                                            expression=expression[:80], problem=exc.message))
                continue
            except Exception:  # noqa: BLE001, S112 - depends on instance data
                continue
            try:
                if isinstance(inner, TimeDateEventDefinition):
                    parse_instant(value, bpmn_id)
                elif isinstance(inner, DurationTimerEventDefinition):
                    parse_duration(value, bpmn_id, self.now)
                else:
                    parse_cycle(value, bpmn_id, self.now)
            except Exception as exc:  # noqa: BLE001 - reported as a finding
                self.error(bpmn_id, getattr(exc, "message", None) or str(exc))

    # ------------------------------------------------------------------ decisions

    def check_decision(self, decision: Any, file: str) -> None:
        """Every cell of a DMN decision table, compiled the way Spiff's DMN engine builds it."""
        if not decision.decisionTables:
            self.error(decision.id, Message(
                "the decision has no decision table (literal expressions are not supported); "
                "model it as a decision table"), file)
            return
        for table in decision.decisionTables:
            for column in table.inputs:
                label = column.label or column.name or column.id
                if not (column.expression or "").strip():
                    self.error(column.id, Message(
                        "decision input %(input)r has no input expression; write the variable "
                        "(or expression) its cells are matched against", input=label), file)
                else:
                    self.expression(column.id, Message("decision input %(input)r", input=label),
                                    column.expression, file)
            for rule in table.rules:
                for entry in rule.inputEntries:
                    label = entry.input.label or entry.input.name or entry.input.id
                    for cell in entry.lhs:
                        problem = _decision_cell_problem(self.sandbox, entry.input.expression,
                                                         cell)
                        if problem:
                            self.error(entry.id or rule.id, Message(
                                "decision %(decision)r, rule %(rule)r (row %(row)s), input "
                                "%(input)r: the cell %(cell)s %(problem)s", decision=decision.id,
                                rule=rule.id, row=rule.row_number, input=label,
                                cell=_short(cell), problem=problem), file)
                for entry in rule.outputEntries:
                    self.expression(entry.id or rule.id, Message(
                        "decision %(decision)r, rule %(rule)r (row %(row)s), output",
                        decision=decision.id, rule=rule.id, row=rule.row_number),
                        entry.text, file)

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
                deployed = ", ".join(sorted(self.forms)) or Message("none")
                self.error(bpmn_id, Message(
                    "form file %(name)r is not part of the unit; deploy it together with the "
                    "diagram (.json files in the unit: %(deployed)s)", name=name,
                    deployed=deployed))
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
            self.error(bpmn_id, Message(  # the detail: Python's json module's words
                "form %(form)s is not valid JSON: %(detail)s; correct the JSON", form=where,
                detail=str(exc)))
            return None
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            at = "/".join(str(p) for p in exc.path) or Message("the top level")
            self.error(bpmn_id, Message(  # the detail: jsonschema's words
                "form %(form)s is not a valid JSON Schema: %(detail)s (at %(at)s); correct "
                "the schema", form=where, detail=exc.message, at=at))
            return None
        problems = reference_problems(schema)
        for at, problem in problems:
            self.error(bpmn_id, Message("form %(form)s at %(at)s: %(problem)s; correct the "
                                        "schema", form=where, at=at, problem=problem))
        if problems:
            return None
        if not isinstance(schema, dict) or schema.get("type", "object") != "object":
            self.error(bpmn_id, Message(
                'form %(form)s must describe an object: write a schema with "type": "object" '
                'and the fields under "properties"', form=where))
            return None
        return schema


def compile_problem(text: str) -> str:
    """Why code does not compile: the sandbox's own refusal as a Message, else Python's (or
    RestrictedPython's) words as they are."""
    return Message(text) if text in OWN_PROBLEMS else text


def _short(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:80]) + "..."


def _decision_cell_problem(sandbox: Sandbox, input_expression: str | None, cell: str | None
                           ) -> Message | None:
    """What is wrong with a DMN input cell, mirroring how Spiff's DMN engine builds it."""
    if cell is None:  # an empty cell or '-': matches anything
        return None
    if not cell.strip():
        return Message("is blank but not empty, and never matches; empty it or write -")
    if len(cell) > MAX_DECISION_CELL:
        # Spiff's DMN engine finds each '?' with a look-ahead over the rest of the cell, on
        # every evaluation: quadratic in the cell's length, holding the GIL (32,000 '?' took
        # 40 s). Real cells are a few words.
        length, limit = f"{len(cell):,}", f"{MAX_DECISION_CELL:,}"
        return Message("is %(length)s characters long; a decision cell may have at most "
                       "%(limit)s: move the logic to a script task or split the rule",
                       length=length, limit=limit)
    replaced = _DMN_PLACEHOLDER.sub("dmninputexpr", cell)
    if "dmninputexpr" in replaced:
        problems = sandbox.check_expression(replaced)
        if problems:
            problem = problems[0][1].replace("dmninputexpr", "?")
            return Message("does not compile (%(problem)s); quote text literals",
                           problem=compile_problem(problem))
        return None
    input_expression = input_expression or ""
    try:
        ast.parse(cell)
        expression = f"({input_expression}) == ({cell})"  # compared with == to the input
    except SyntaxError:
        try:
            ast.parse(f"v {cell}")
        except SyntaxError:
            return Message('does not compile; quote text literals, e.g. "roads", or write ? '
                           "for the input")
        expression = input_expression + cell  # the engine glues the cell to the input
        if _word_char(input_expression[-1:]) and _word_char(cell[:1]):
            return Message("is appended to the input without a space by the engine "
                           "(%(expression)r); write '? %(cell)s'", expression=expression,
                           cell=cell.strip())
    problems = sandbox.check_expression(expression)
    if problems:
        return Message('does not compile (%(problem)s); quote text literals, e.g. "roads"',
                       problem=compile_problem(problems[0][1]))
    return None


def _word_char(char: str) -> bool:
    return bool(char) and (char.isalnum() or char == "_")
