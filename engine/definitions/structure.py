"""Structural checks of a unit: refused elements, references, the process, calls, Spiff's errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser

from engine.definitions.files import BPMN_NS, owner_id, readable
from engine.errors import Finding

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


# --------------------------------------------------------------------------- elements


def check_unsupported(tree: Any, filename: str) -> list[Finding]:
    """Elements the engine refuses to run (UNSUPPORTED and their kin), each on its element."""
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
            findings.append(Finding(filename, owner_id(node), "error", UNSUPPORTED[local]))
        elif node.get("isForCompensation") == "true":
            findings.append(Finding(filename, node.get("id"), "error",
                                    UNSUPPORTED["compensateEventDefinition"]))
        elif local == "subProcess" and node.get("triggeredByEvent") == "true":
            for start in node.findall(f"{{{BPMN_NS}}}startEvent"):
                if start.get("isInterrupting", "true") != "false":
                    findings.append(Finding(filename, start.get("id"), "error",
                                            _INTERRUPTING_EVENT_SUBPROCESS))
    return findings


def check_references(tree: Any, filename: str) -> list[Finding]:
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
                        filename, owner_id(node), "error",
                        f"this {kind} event names no {kind}; set its {attribute} to a "
                        f"bpmn:{kind} with a name (the engine matches {kind}s by name)"))
                continue
            if not ref:
                continue
            if ref in known:
                if named and not (known[ref] or "").strip():
                    findings.append(Finding(
                        filename, owner_id(node), "error",
                        f"{kind} {ref!r} has no name, and the engine matches {kind}s by name; "
                        f'give it one: <bpmn:{kind} id="{ref}" name="..."/>'))
                continue
            hint = ""
            if ":" in ref and ref.split(":", 1)[1] in known:
                hint = " (write the plain id, without the namespace prefix)"
            findings.append(Finding(
                filename, owner_id(node), "error",
                f"{attribute} {ref!r} names no bpmn:{kind} of this file{hint}; declare "
                f'<bpmn:{kind} id="{ref}" name="..."/> or pick an existing {kind}'))
    return findings


# --------------------------------------------------------------------------- processes


def choose_process(parser: SpiffBpmnParser, process_id: str | None,
                    add: Callable[[Finding], None], default_file: str) -> str | None:
    """The process to deploy: the one asked for, else the one top-level executable process."""
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


def check_calls(parser: SpiffBpmnParser, main: str, add: Callable[[Finding], None]) -> bool:
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


def finding_from(exc: ValidationException, fallback_file: str, trees: dict[str, Any]
                  ) -> Finding:
    """A Spiff validation error as a finding that names the element and what to change."""
    file = getattr(exc, "file_name", "") or fallback_file
    element = getattr(exc, "id", None) or None
    line = getattr(exc, "line_number", "")
    if element is None and isinstance(line, int) and file in trees:
        for node in trees[file].iter():
            if isinstance(node.tag, str) and node.sourceline == line:
                element = owner_id(node)
                break
    raw = str(exc.args[0]) if exc.args else str(exc)
    message = readable(raw.split("\n")[0])
    for start, replacement, hint in _SPIFF_HINTS:
        if raw.startswith(start):
            if start == "Process " and "not executable" not in raw:
                continue
            message = f"{replacement or message}; {hint}"
            break
    notes = [str(n) for n in getattr(exc, "notes", []) if n]
    if notes:
        message += " (" + "; ".join(notes) + ")"
    tag = readable(getattr(exc, "tag", "") or "")
    where = f" ({tag}{', line ' + str(line) if line else ''})" if tag else ""
    return Finding(file, element, "error", f"{message}{where}")
