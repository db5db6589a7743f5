"""Structural checks of a unit: refused elements, references, the process, calls, Spiff's errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser

from engine.definitions.files import BPMN_NS, owner_id, readable
from engine.errors import N_, Finding, Message

_DATA_STORES = N_("data stores are not supported; keep the data in task variables, or read "
                  "and write it with a service task")
# Elements SpiffWorkflow parses (or skips) but this engine cannot run faithfully.
UNSUPPORTED = {
    "complexGateway": N_("complex gateways are not supported; use an inclusive gateway"),
    "compensateEventDefinition": N_("compensation is not supported; model the undo as tasks"),
    "linkEventDefinition": N_("link events are not supported; draw the sequence flow"),
    "adHocSubProcess": N_("ad-hoc subprocesses are not supported; use an embedded subprocess"),
    "conditionalEventDefinition": N_(
        "conditional events are not supported: the condition is checked only once, when the "
        "event is reached; wait for a message or a signal the host sends instead"),
    "dataStore": _DATA_STORES,
}
_INTERRUPTING_EVENT_SUBPROCESS = N_(
    "interrupting event subprocesses are not supported: SpiffWorkflow 3.2 does not stop the "
    'main flow; set isInterrupting="false" on this start event, or model the interruption '
    "with a boundary event")
# The elements that hold flows, by their local name, as a finding names them.
_CONTAINER_WORDS = {"process": N_("process"), "subProcess": N_("subProcess"),
                    "transaction": N_("transaction")}
_CONTAINERS = tuple(f"{{{BPMN_NS}}}{t}" for t in _CONTAINER_WORDS)
# (element, attribute, what it refers to): SpiffWorkflow looks these up by exact id.
_EVENT_REFERENCES = (
    ("messageEventDefinition", "messageRef", "message"),
    ("sendTask", "messageRef", "message"),
    ("receiveTask", "messageRef", "message"),
    ("signalEventDefinition", "signalRef", "signal"),
    ("errorEventDefinition", "errorRef", "error"),
    ("escalationEventDefinition", "escalationRef", "escalation"),
)


# (sourceRef or targetRef, does the id exist elsewhere?): what is wrong with a flow's end.
_FLOW_ENDS = {
    ("sourceRef", True): N_("sequence flow %(flow)r comes from %(ref)r, which is outside this "
                            "%(kind)s; connect it to an element of the same %(kind)s, or "
                            "delete it"),
    ("sourceRef", False): N_("sequence flow %(flow)r comes from %(ref)r, which does not exist; "
                             "connect it to an element of the same %(kind)s, or delete it"),
    ("targetRef", True): N_("sequence flow %(flow)r goes to %(ref)r, which is outside this "
                            "%(kind)s; connect it to an element of the same %(kind)s, or "
                            "delete it"),
    ("targetRef", False): N_("sequence flow %(flow)r goes to %(ref)r, which does not exist; "
                             "connect it to an element of the same %(kind)s, or delete it"),
}
_UNKNOWN_REFERENCE = N_('%(attribute)s %(ref)r names no bpmn:%(kind)s of this file; declare '
                        '<bpmn:%(kind)s id="%(ref)s" name="..."/> or pick an existing %(kind)s')
_PREFIXED_REFERENCE = N_(
    '%(attribute)s %(ref)r names no bpmn:%(kind)s of this file (write the plain id, without '
    'the namespace prefix); declare <bpmn:%(kind)s id="%(ref)s" name="..."/> or pick an '
    'existing %(kind)s')


# --------------------------------------------------------------------------- elements


def check_unsupported(tree: Any, filename: str) -> list[Finding]:
    """Elements the engine refuses to run (UNSUPPORTED and their kin), each on its element."""
    findings = []
    associated = {ref.text.strip() for ref in tree.iter(f"{{{BPMN_NS}}}sourceRef",
                                                       f"{{{BPMN_NS}}}targetRef") if ref.text}
    for node in tree.iter(f"{{{BPMN_NS}}}dataStoreReference"):
        if node.get("id") in associated:  # Spiff ignores a reference no task reads or writes
            findings.append(Finding(filename, node.get("id"), "error", Message(_DATA_STORES)))
    for node in tree.iter():
        if not isinstance(node.tag, str) or not node.tag.startswith("{" + BPMN_NS + "}"):
            continue
        local = node.tag.split("}", 1)[1]
        if local in UNSUPPORTED:
            findings.append(Finding(filename, owner_id(node), "error",
                                    Message(UNSUPPORTED[local])))
        elif node.get("isForCompensation") == "true":
            findings.append(Finding(filename, node.get("id"), "error",
                                    Message(UNSUPPORTED["compensateEventDefinition"])))
        elif local == "subProcess" and node.get("triggeredByEvent") == "true":
            for start in node.findall(f"{{{BPMN_NS}}}startEvent"):
                if start.get("isInterrupting", "true") != "false":
                    findings.append(Finding(filename, start.get("id"), "error",
                                            Message(_INTERRUPTING_EVENT_SUBPROCESS)))
    return findings


def check_references(tree: Any, filename: str) -> list[Finding]:
    """References Spiff resolves late or reports badly: flows, boundary events, events."""
    findings: list[Finding] = []
    every_id = {n.get("id") for n in tree.iter() if isinstance(n.tag, str) and n.get("id")}
    flow_tag, boundary_tag = f"{{{BPMN_NS}}}sequenceFlow", f"{{{BPMN_NS}}}boundaryEvent"
    for container in tree.iter(*_CONTAINERS):
        kind = Message(_CONTAINER_WORDS[etree.QName(container).localname])
        here = {c.get("id") for c in container
                if isinstance(c.tag, str) and c.get("id") and c.tag != flow_tag}
        for flow in container.iterchildren(flow_tag):
            for attribute in ("sourceRef", "targetRef"):
                ref = flow.get(attribute)
                if ref is None or ref in here:
                    continue  # a missing attribute is a schema finding
                findings.append(Finding(filename, flow.get("id"), "error", Message(
                    _FLOW_ENDS[attribute, ref in every_id], flow=flow.get("id"), ref=ref,
                    kind=kind)))
        for boundary in container.iterchildren(boundary_tag):
            ref = boundary.get("attachedToRef")
            if ref is not None and ref not in here:
                findings.append(Finding(filename, boundary.get("id"), "error", Message(
                    "boundary event %(event)r is attached to %(ref)r, which is not an activity "
                    "of the same %(kind)s; attach it to a task or subprocess",
                    event=boundary.get("id"), ref=ref, kind=kind)))
    declared: dict[str, dict[str, str | None]] = {}
    for tag, attribute, kind in _EVENT_REFERENCES:
        known = declared.setdefault(kind, {
            n.get("id"): n.get("name") for n in tree.iter(f"{{{BPMN_NS}}}{kind}") if n.get("id")})
        named = kind in ("message", "signal")  # the engine matches these by name
        for node in tree.iter(f"{{{BPMN_NS}}}{tag}"):
            ref = node.get(attribute)
            if not ref and named and tag.endswith("EventDefinition"):
                if not (node.getparent().get("name") or "").strip():  # Spiff's fallback
                    findings.append(Finding(filename, owner_id(node), "error", Message(
                        "this %(kind)s event names no %(kind)s; set its %(attribute)s to a "
                        "bpmn:%(kind)s with a name (the engine matches %(kind)ss by name)",
                        kind=kind, attribute=attribute)))
                continue
            if not ref:
                continue
            if ref in known:
                if named and not (known[ref] or "").strip():
                    findings.append(Finding(filename, owner_id(node), "error", Message(
                        "%(kind)s %(ref)r has no name, and the engine matches %(kind)ss by "
                        'name; give it one: <bpmn:%(kind)s id="%(ref)s" name="..."/>',
                        kind=kind, ref=ref)))
                continue
            prefixed = ":" in ref and ref.split(":", 1)[1] in known
            findings.append(Finding(filename, owner_id(node), "error", Message(
                _PREFIXED_REFERENCE if prefixed else _UNKNOWN_REFERENCE, attribute=attribute,
                ref=ref, kind=kind)))
    return findings


# --------------------------------------------------------------------------- processes


def choose_process(parser: SpiffBpmnParser, process_id: str | None,
                    add: Callable[[Finding], None], default_file: str) -> str | None:
    """The process to deploy: the one asked for, else the one top-level executable process."""
    processes = parser.process_parsers
    listed = ", ".join(sorted(processes)) or Message("none")
    if process_id is not None:
        if process_id in processes:
            return process_id
        add(Finding(default_file, None, "error", Message(
            "process %(process)r is not in this unit; choose one of: %(listed)s",
            process=process_id, listed=listed)))
        return None
    if not processes:
        add(Finding(default_file, None, "error", Message(
            "no BPMN process found; deploy at least one .bpmn file with a process")))
        return None
    executable = parser.get_process_ids()
    if not executable:
        for pid, process in processes.items():
            add(Finding(process.filename or default_file, pid, "error", Message(
                'process %(process)r is not executable (isExecutable="false"); set '
                'isExecutable="true" on the process to deploy', process=pid)))
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
    add(Finding(default_file, None, "error", Message(
        "several top-level processes: %(processes)s; choose the one to deploy with process_id "
        "(CLI: --process)", processes=described)))
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
            add(Finding(process.filename, call.get("id"), "error", Message(
                "call activity %(activity)r calls process %(process)r, which is not in this "
                "unit; deploy the file that defines it in the same unit (processes in the "
                "unit: %(processes)s)", activity=call.get("id"), process=called,
                processes=", ".join(sorted(parser.process_parsers)))))
        for task in process.xpath(".//bpmn:businessRuleTask"):
            ref = BusinessRuleTaskParser.get_decision_ref(task)
            if ref is None or ref in parser.dmn_parsers:
                continue
            ok = False
            known = ", ".join(sorted(parser.dmn_parsers)) or Message("none")
            add(Finding(process.filename, task.get("id"), "error", Message(
                "business rule task %(task)r calls decision %(decision)r, which is not in "
                "this unit; deploy the .dmn file that defines it in the same unit (decisions "
                "in the unit: %(decisions)s)", task=task.get("id"), decision=ref,
                decisions=known)))
    return ok


# SpiffWorkflow's messages, made to say what to change: (start of message, what the finding
# says: a template of ours, with Spiff's own words as %(detail)s where it keeps them).
_SPIFF_HINTS: tuple[tuple[str, str], ...] = (
    ("Non-default exclusive outgoing sequence flow without condition",
     N_("%(detail)s; add a condition to the flow, or make it the gateway's default flow")),
    ("Exactly one start event is required in a SubWorkflow Task",
     N_("%(detail)s; give the subprocess exactly one none start event")),
    ("No start event found", N_("%(detail)s; add a none start event to the process")),
    ("A Service Task must have an operator",
     N_("%(detail)s; pick a host service (spiffworkflow:serviceTaskOperator)")),
    ("Multiple outgoing flows are not supported for tasks",
     N_("a task with several outgoing sequence flows is not supported; add a parallel gateway "
        "(or an exclusive one with conditions) after the task")),
    ("Time Specification Error",
     N_('the timer has no timeDate, timeDuration or timeCycle; add one with a quoted value, '
        'e.g. "PT2H"')),
    ("When looking for a task spec, we found two items",
     N_("an outgoing sequence flow leads to an element the process does not have; make every "
        "id in the file unique and connect the flow to an existing element")),
    ("Cannot resolve dataInputAssociation",
     N_("a data input association of this task does not come from a data object of its "
        "process; connect it to a data object reference of the same process, or delete it")),
    ("Cannot resolve dataOutputAssociation",
     N_("a data output association of this task does not lead to a data object of its "
        "process; connect it to a data object reference of the same process, or delete it")),
    ("A multiinstance task must specify",
     N_("%(detail)s; set loopCardinality or loopDataInputRef on the multi-instance marker")),
    ('No "calledElement" attribute',
     N_("%(detail)s; set calledElement to the id of a process deployed in the same unit")),
    ("Process ", N_('%(detail)s; set isExecutable="true" on the process')),
    ("Duplicate process ID", N_("%(detail)s; give every process its own id")),
    ("Multiple decision tables",
     N_("a .dmn file may hold one decision; put each decision in its own .dmn file")),
    ("Malformed Output Expression",
     N_('%(detail)s; correct the expression; quote text, e.g. "high"')),
    ("Unknown type in decision table",
     N_("%(detail)s; only input, output and rule columns are read; remove the other column")),
    ("A loopMaximum or loopCondition must be specified",
     N_("%(detail)s; set loopCondition (or loopMaximum) on the loop marker")),
)
# Spiff's own words, which no catalog has: a page says what they are and quotes them.
SPIFF_SAYS = N_("the BPMN parser (SpiffWorkflow) refuses this: %(detail)s")


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
    detail = readable(raw.split("\n")[0])
    message = Message.worded(detail, SPIFF_SAYS, detail=detail)
    for start, template in _SPIFF_HINTS:
        if raw.startswith(start):
            if start == "Process " and "not executable" not in raw:
                continue
            message = Message(template, detail=detail)
            break
    notes = [str(n) for n in getattr(exc, "notes", []) if n]
    if notes:  # Spiff's words too
        message = Message("%(problem)s (%(notes)s)", problem=message, notes="; ".join(notes))
    tag = readable(getattr(exc, "tag", "") or "")
    if tag and line:
        message = Message("%(problem)s (%(element)s, line %(line)s)", problem=message,
                          element=tag, line=line)
    elif tag:
        message = Message("%(problem)s (%(element)s)", problem=message, element=tag)
    return Finding(file, element, "error", message)
