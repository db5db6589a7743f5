"""bpmnlint's recommended rules in Python: warnings on the elements a diagram's reader trips on.

The modeler's markers come from the server, which must not need Node: so each rule of
bpmnlint's `recommended` configuration (main branch, config/recommended.js after 11.7.2: 26
rules) is written again here from its documentation, one function per rule over the file's
XML tree (lxml, read without DTDs as engine/definitions reads every file). A rule yields
(element id, message); `lint_bpmn` makes each a `Finding` with severity "warning", whatever
bpmnlint's level: lint findings never block a deploy. What the engine cannot run is refused
as an error by the earlier stages (structure.UNSUPPORTED, Spiff's parse, policy.py); the
rules that only repeat such a refusal (no-complex-gateway, link-event, ad-hoc-sub-process)
are not run on a unit, so an element does not get a second marker for one problem.

Sequence flows are connected by their sourceRef and targetRef (as the engine reads them),
not by the bpmn:incoming / bpmn:outgoing lists a modeler may or may not write. Messages
start with the rule's name in brackets and say what to change; they are Message ids, so the
studio says them in the designer's language (domain.po).

Longer than 500 lines on purpose: the 26 rules are one fixed set, kept side by side so each can
be read against bpmnlint's list and its table in docs/bpmn-support.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.definitions.files import BPMN_NS, BPMNDI_NS
from engine.errors import Finding, Message

DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
TASKS = frozenset({"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask",
                   "receiveTask", "businessRuleTask"})
SUB_PROCESSES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
ACTIVITIES = TASKS | SUB_PROCESSES | {"callActivity"}
EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent",
                    "intermediateThrowEvent", "boundaryEvent", "implicitThrowEvent"})
GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway",
                      "complexGateway", "eventBasedGateway"})
FLOW_NODES = ACTIVITIES | EVENTS | GATEWAYS
FLOW_ELEMENTS = FLOW_NODES | {"sequenceFlow", "dataObject", "dataObjectReference",
                              "dataStoreReference"}
CONTAINERS = SUB_PROCESSES | {"process"}
ARTIFACTS = frozenset({"association", "group", "textAnnotation"})
THROW_EVENTS = frozenset({"endEvent", "intermediateThrowEvent", "implicitThrowEvent"})
GLOBALS = {  # root element -> (element, reference attribute) pairs that use it
    "error": (("errorEventDefinition", "errorRef"),),
    "escalation": (("escalationEventDefinition", "escalationRef"),),
    "message": (("messageEventDefinition", "messageRef"), ("messageFlow", "messageRef"),
                ("receiveTask", "messageRef"), ("sendTask", "messageRef")),
    "signal": (("signalEventDefinition", "signalRef"),),
}

Problem = tuple[str | None, Message]


def kind(node: Any) -> str:
    """The local name of a BPMN element ("userTask"); "" for anything else."""
    tag = node.tag
    if isinstance(tag, str) and tag.startswith("{" + BPMN_NS + "}"):
        return tag[len(BPMN_NS) + 2:]
    return ""


class Model:
    """One file's elements, read once for every rule: by kind, by id, and how flows connect."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.by_kind: dict[str, list[Any]] = defaultdict(list)
        self.by_id: dict[str, Any] = {}
        self.shapes: dict[str, Any] = {}  # element id -> its BPMNShape or BPMNEdge
        shape_tags = {f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge"}
        for node in root.iter():
            name = kind(node)
            if name:
                self.by_kind[name].append(node)
                if node.get("id"):
                    self.by_id.setdefault(node.get("id"), node)
            elif node.tag in shape_tags and node.get("bpmnElement"):
                self.shapes.setdefault(node.get("bpmnElement"), node)
        self._drawn: set[str] | None = None  # shapes' element ids, prefixes dropped
        self.incoming: dict[str, list[Any]] = defaultdict(list)
        self.outgoing: dict[str, list[Any]] = defaultdict(list)
        for flow in self.by_kind["sequenceFlow"]:
            self.outgoing[flow.get("sourceRef") or ""].append(flow)
            self.incoming[flow.get("targetRef") or ""].append(flow)

    def of(self, kinds: Iterable[str]) -> Iterator[Any]:
        for name in kinds:
            yield from self.by_kind.get(name, ())

    def ins(self, node: Any) -> list[Any]:
        return self.incoming.get(node.get("id") or "\0", [])

    def outs(self, node: Any) -> list[Any]:
        return self.outgoing.get(node.get("id") or "\0", [])

    def has_shape(self, element_id: str) -> bool:
        if self._drawn is None:
            self._drawn = set(self.shapes) | {ref(r) for r in self.shapes}
        return element_id in self._drawn


def definitions(node: Any) -> list[Any]:
    """An event's event definitions (bpmn:timerEventDefinition, ...)."""
    return [c for c in node if kind(c).endswith("EventDefinition")]


def has_condition(flow: Any) -> bool:
    return any(kind(c) == "conditionExpression" for c in flow)


def is_default(flow: Any, source: Any | None) -> bool:
    return source is not None and source.get("default") == flow.get("id")


def is_event_sub_process(node: Any) -> bool:
    return kind(node) in SUB_PROCESSES and node.get("triggeredByEvent") == "true"


def in_ad_hoc(node: Any) -> bool:
    return kind(node.getparent()) == "adHocSubProcess"


def only_definition(node: Any, definition: str) -> bool:
    found = definitions(node)
    return bool(found) and all(kind(d) == definition for d in found)


def name_of(node: Any) -> str:
    return (node.get("name") or "").strip()


def ref(value: str | None) -> str:
    """A reference's id (a tool's `tns:Message_1` is read as `Message_1`)."""
    return (value or "").rpartition(":")[2]


# --------------------------------------------------------------------------- the rules


def label_required(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(FLOW_NODES | {"sequenceFlow", "participant", "lane"})):
        name = kind(node)
        if name in ("parallelGateway", "eventBasedGateway") or name in SUB_PROCESSES:
            continue
        if name in GATEWAYS and len(m.outs(node)) <= 1:
            continue  # a joining gateway needs no label
        if name == "sequenceFlow" and not has_condition(node):
            continue
        if not name_of(node):
            yield node.get("id"), Message(
                "[label-required] %(element)s has no label; give it a name that tells a reader "
                "what it does or decides (change the name, never the id)",
                element=node.get("id"))


def no_disconnected(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(TASKS | GATEWAYS | SUB_PROCESSES | EVENTS)):
        if is_event_sub_process(node) or node.get("isForCompensation") == "true":
            continue
        if kind(node) == "boundaryEvent" and only_definition(node, "compensateEventDefinition"):
            continue
        if kind(node) in ACTIVITIES and in_ad_hoc(node):
            continue
        if not m.ins(node) and not m.outs(node):
            yield node.get("id"), Message(
                "[no-disconnected] %(element)s is not connected to any sequence flow; connect "
                "it to the flow, or delete it", element=node.get("id"))


def no_implicit_start(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(FLOW_NODES)):
        name = kind(node)
        if name in ("startEvent", "boundaryEvent") or is_event_sub_process(node):
            continue
        if name in ACTIVITIES and (node.get("isForCompensation") == "true" or in_ad_hoc(node)):
            continue
        if name == "intermediateCatchEvent" and only_definition(node, "linkEventDefinition"):
            continue
        if not m.ins(node):
            yield node.get("id"), Message(
                "[no-implicit-start] %(element)s has no incoming sequence flow, so it starts a "
                "path of its own; connect a flow into it, or begin the path with a start event",
                element=node.get("id"))


def no_implicit_end(m: Model) -> Iterator[Problem]:
    compensation_sources = {ref(a.get("sourceRef")) for a in m.of(["association"])}
    for node in m.of(sorted(FLOW_NODES)):
        name = kind(node)
        if name == "endEvent" or is_event_sub_process(node):
            continue
        if name == "intermediateThrowEvent" and only_definition(node, "linkEventDefinition"):
            continue
        if name in ACTIVITIES and in_ad_hoc(node):
            continue
        if name == "boundaryEvent" and only_definition(node, "compensateEventDefinition") \
                and node.get("id") in compensation_sources:
            continue
        if name in TASKS and node.get("isForCompensation") == "true":
            continue
        if not m.outs(node):
            yield node.get("id"), Message(
                "[no-implicit-end] %(element)s has no outgoing sequence flow, so its path ends "
                "here without an end event; connect it to the next element or to an end event",
                element=node.get("id"))


def no_implicit_split(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(ACTIVITIES | EVENTS)):
        plain = [f for f in m.outs(node) if not has_condition(f) and not is_default(f, node)]
        if len(plain) > 1:
            yield node.get("id"), Message(
                "[no-implicit-split] %(element)s has %(count)s outgoing flows without a "
                "condition, which all run at once; put a parallel gateway after it (or an "
                "exclusive gateway with conditions)", element=node.get("id"), count=len(plain))


def fake_join(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(ACTIVITIES | EVENTS)):
        if len(m.ins(node)) > 1:
            yield node.get("id"), Message(
                "[fake-join] %(element)s has %(count)s incoming flows and does not wait for "
                "them: it runs once for each flow that arrives; join them with a gateway in "
                "front of it (parallel to wait for all, exclusive to pass each one on)",
                element=node.get("id"), count=len(m.ins(node)))


def no_gateway_join_fork(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(GATEWAYS)):
        if len(m.ins(node)) > 1 and len(m.outs(node)) > 1:
            yield node.get("id"), Message(
                "[no-gateway-join-fork] gateway %(element)s both joins and forks; use two "
                "gateways, one that joins followed by one that forks", element=node.get("id"))


def superfluous_gateway(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(GATEWAYS)):
        if len(m.ins(node)) == 1 and len(m.outs(node)) == 1:
            yield node.get("id"), Message(
                "[superfluous-gateway] gateway %(element)s has one incoming and one outgoing "
                "flow, so it does nothing; delete it and connect the flows directly",
                element=node.get("id"))


def conditional_flows(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(FLOW_NODES)):
        outgoing = m.outs(node)
        forks = (node.get("default") or any(has_condition(f) for f in outgoing)
                 or (kind(node) in ("exclusiveGateway", "inclusiveGateway")
                     and len(outgoing) > 1))
        if not forks:
            continue
        for flow in outgoing:
            if not has_condition(flow) and not is_default(flow, node):
                yield flow.get("id"), Message(
                    "[conditional-flows] sequence flow %(element)s leaves %(source)s, which "
                    "chooses among its flows, without a condition; add a condition, or make "
                    "it the default flow", element=flow.get("id"), source=node.get("id"))


def no_duplicate_sequence_flows(m: Model) -> Iterator[Problem]:
    seen: set[tuple[str, str, str]] = set()
    sources: set[str] = set()
    targets: set[str] = set()
    for flow in m.by_kind.get("sequenceFlow", ()):
        condition = next((c.text or "" for c in flow if kind(c) == "conditionExpression"), "")
        source, target = flow.get("sourceRef") or "", flow.get("targetRef") or ""
        key = (source, target, condition)
        if key not in seen:
            seen.add(key)
            continue
        yield flow.get("id"), Message(
            "[no-duplicate-sequence-flows] sequence flow %(element)s repeats another flow from "
            "%(source)s to %(target)s with the same condition; delete one of them",
            element=flow.get("id"), source=source, target=target)
        if source in m.by_id and source not in sources:
            sources.add(source)
            yield source, Message("[no-duplicate-sequence-flows] %(element)s has two identical "
                                  "outgoing sequence flows; delete one", element=source)
        if target in m.by_id and target not in targets:
            targets.add(target)
            yield target, Message("[no-duplicate-sequence-flows] %(element)s has two identical "
                                  "incoming sequence flows; delete one", element=target)


def start_event_required(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(CONTAINERS - {"adHocSubProcess"})):
        if not any(kind(c) == "startEvent" for c in node):
            yield node.get("id"), Message(
                "[start-event-required] %(element)s has no start event; add one where its "
                "flow begins", element=node.get("id"))


def end_event_required(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(CONTAINERS - {"adHocSubProcess"})):
        if not any(kind(c) == "endEvent" for c in node):
            yield node.get("id"), Message(
                "[end-event-required] %(element)s has no end event; end each of its paths "
                "with an end event", element=node.get("id"))


def single_blank_start_event(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(CONTAINERS)):
        blank = [c for c in node if kind(c) == "startEvent" and not definitions(c)]
        if len(blank) > 1:
            yield node.get("id"), Message(
                "[single-blank-start-event] %(element)s has %(count)s start events without a "
                "trigger; keep one, or give the others a message, timer or signal",
                element=node.get("id"), count=len(blank))


def single_event_definition(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(EVENTS)):
        count = len(definitions(node))
        if count > 1:
            yield node.get("id"), Message(
                "[single-event-definition] event %(element)s has %(count)s event definitions; "
                "keep one, and model each other trigger as an event of its own",
                element=node.get("id"), count=count)


def sub_process_blank_start_event(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(SUB_PROCESSES)):
        if is_event_sub_process(node):
            continue
        for start in node:
            if kind(start) == "startEvent" and definitions(start):
                yield start.get("id"), Message(
                    "[sub-process-blank-start-event] start event %(element)s has a trigger, but "
                    "a subprocess starts when the flow reaches it; remove the event definition",
                    element=start.get("id"))


def event_sub_process_typed_start_event(m: Model) -> Iterator[Problem]:
    for node in m.of(sorted(SUB_PROCESSES)):
        if not is_event_sub_process(node):
            continue
        for start in node:
            if kind(start) == "startEvent" and not definitions(start):
                yield start.get("id"), Message(
                    "[event-sub-process-typed-start-event] start event %(element)s of an event "
                    "subprocess has no trigger; give it a message, timer, signal, error or "
                    "escalation definition", element=start.get("id"))


def no_complex_gateway(m: Model) -> Iterator[Problem]:
    for node in m.of(["complexGateway"]):
        yield node.get("id"), Message(
            "[no-complex-gateway] complex gateway %(element)s: its behaviour is hard to read; "
            "use exclusive, inclusive or parallel gateways", element=node.get("id"))


def no_inclusive_gateway(m: Model) -> Iterator[Problem]:
    for node in m.of(["inclusiveGateway"]):
        yield node.get("id"), Message(
            "[no-inclusive-gateway] inclusive gateway %(element)s: readers easily misjudge which "
            "paths run and what its join waits for; use exclusive and parallel gateways where "
            "they say the same", element=node.get("id"))


def event_based_gateway(m: Model) -> Iterator[Problem]:
    for node in m.of(["eventBasedGateway"]):
        outgoing = m.outs(node)
        if len(outgoing) < 2:
            yield node.get("id"), Message(
                "[event-based-gateway] event-based gateway %(element)s has fewer than two "
                "outgoing flows; it waits for the first of several events: add one, or replace "
                "the gateway by the event itself", element=node.get("id"))
        for flow in outgoing:
            if has_condition(flow):
                yield flow.get("id"), Message(
                    "[event-based-gateway] sequence flow %(element)s leaves an event-based "
                    "gateway with a condition; the event that happens first decides, so remove "
                    "the condition", element=flow.get("id"))


def link_event(m: Model) -> Iterator[Problem]:
    for container in m.of(sorted(CONTAINERS)):
        by_name: dict[str, list[Any]] = defaultdict(list)
        for event in container:
            link = next((d for d in definitions(event)
                         if kind(d) == "linkEventDefinition"), None)
            if kind(event) not in EVENTS or link is None:
                continue
            if not name_of(link):
                yield event.get("id"), Message(
                    "[link-event] link event %(element)s has no link name; name the link, the "
                    "same on its throw and its catch event", element=event.get("id"))
            else:
                by_name[name_of(link)].append(event)
        for name, events in by_name.items():
            catches = [e for e in events if kind(e) not in THROW_EVENTS]
            if len(events) == 1 and catches:
                yield events[0].get("id"), Message(
                    "[link-event] link catch event %(element)s (link %(name)s) has no throw event "
                    "of that name in its process; add one, or delete this event",
                    element=events[0].get("id"), name=name)
            elif not catches:
                for event in events:
                    yield event.get("id"), Message(
                        "[link-event] link throw event %(element)s (link %(name)s) has no catch "
                        "event of that name in its process; add one where the flow goes on",
                        element=event.get("id"), name=name)
            elif len(catches) > 1:
                for event in catches:
                    yield event.get("id"), Message(
                        "[link-event] link %(name)s is caught by several events, here "
                        "%(element)s; keep one catch event per link name",
                        element=event.get("id"), name=name)


def ad_hoc_sub_process(m: Model) -> Iterator[Problem]:
    for node in m.of(["adHocSubProcess"]):
        for child in node:
            if kind(child) in ("startEvent", "endEvent"):
                yield child.get("id"), Message(
                    "[ad-hoc-sub-process] %(element)s: an ad-hoc subprocess has no start or end "
                    "events; delete it", element=child.get("id"))
            elif kind(child) == "intermediateCatchEvent" and not m.outs(child):
                yield child.get("id"), Message(
                    "[ad-hoc-sub-process] catch event %(element)s in an ad-hoc subprocess has no "
                    "outgoing sequence flow; connect it to what follows it",
                    element=child.get("id"))


def no_bpmndi(m: Model) -> Iterator[Problem]:
    def drawn(owner: Any) -> Iterator[Any]:
        for child in owner:
            name = kind(child)
            if name in FLOW_ELEMENTS - {"dataObject"} or name in ARTIFACTS \
                    or name in ("participant", "messageFlow"):
                yield child
                if name in SUB_PROCESSES:
                    yield from drawn(child)
            elif name in ("laneSet", "childLaneSet"):
                for lane in child:
                    if kind(lane) == "lane":
                        yield lane
                        yield from drawn(lane)

    for root in m.root:
        if kind(root) in ("process", "collaboration"):
            for node in drawn(root):
                if node.get("id") and not m.has_shape(node.get("id")):
                    yield node.get("id"), Message(
                        "[no-bpmndi] %(element)s has no shape in the diagram (BPMNDI), so a "
                        "modeler cannot show it; place it in the modeler and save the file "
                        "again", element=node.get("id"))


Bounds = tuple[float, float, float, float]  # x, y, width, height


def bounds_of(m: Model, element_id: str | None) -> Bounds | None:
    shape = m.shapes.get(element_id or "\0")
    box = shape.find(f"{{{DC_NS}}}Bounds") if shape is not None else None
    if box is None:
        return None
    try:
        return tuple(float(box.get(a, "")) for a in ("x", "y", "width", "height"))  # type: ignore[return-value]
    except ValueError:
        return None


def overlap(a: Bounds, b: Bounds) -> bool:
    return (a[0] + a[2] >= b[0] and b[0] + b[2] >= a[0]
            and a[1] + a[3] >= b[1] and b[1] + b[3] >= a[1])


def inside(child: Bounds, parent: Bounds) -> bool:
    return (child[0] >= parent[0] and child[1] >= parent[1]
            and child[0] + child[2] <= parent[0] + parent[2]
            and child[1] + child[3] <= parent[1] + parent[3])


def no_overlapping_elements(m: Model) -> Iterator[Problem]:
    overlapping: dict[str, None] = {}  # ordered sets
    outside: dict[str, None] = {}

    def pairs(nodes: list[tuple[Any, Bounds]]) -> None:
        # Sorted by x, a shape is compared only with those that start before it ends.
        placed = sorted(((b, n.get("id"), ref(n.get("attachedToRef"))) for n, b in nodes),
                        key=lambda item: item[0][0])
        for i, (a, first, first_host) in enumerate(placed):
            for b, second, second_host in placed[i + 1:]:
                if b[0] > a[0] + a[2]:
                    break
                if first_host != second and second_host != first and overlap(a, b):
                    overlapping[first] = overlapping[second] = None

    def container(node: Any, parent: Bounds | None) -> None:
        placed = [(c, b) for c in node if kind(c) in FLOW_ELEMENTS
                  and (b := bounds_of(m, c.get("id"))) is not None]
        pairs(placed)
        for child, box in placed:
            if parent is not None and kind(child) != "dataStoreReference" \
                    and not inside(box, parent):
                outside[child.get("id")] = None
        for child in node:
            if kind(child) in SUB_PROCESSES:
                shape = m.shapes.get(child.get("id") or "\0")
                expanded = shape is not None and shape.get("isExpanded") == "true"
                container(child, bounds_of(m, child.get("id")) if expanded else None)

    pools: dict[str, Bounds | None] = {}
    for collaboration in m.of(["collaboration"]):
        participants = [c for c in collaboration if kind(c) == "participant"]
        pairs([(p, b) for p in participants if (b := bounds_of(m, p.get("id"))) is not None])
        for participant in participants:
            pools[ref(participant.get("processRef"))] = bounds_of(m, participant.get("id"))
    for process in m.of(["process"]):
        container(process, pools.get(process.get("id") or "\0"))
    for element in overlapping:
        yield element, Message(
            "[no-overlapping-elements] %(element)s overlaps another element in the diagram; "
            "move them apart so each can be read and clicked", element=element)
    for element in outside:
        yield element, Message(
            "[no-overlapping-elements] %(element)s lies outside the boundary of its pool or "
            "subprocess; move it inside", element=element)


def superfluous_termination(m: Model) -> Iterator[Problem]:
    def terminates(node: Any) -> bool:
        return kind(node) == "endEvent" and any(
            kind(d) == "terminateEventDefinition" for d in definitions(node))

    def interrupting_event_sub_process(node: Any) -> bool:
        return is_event_sub_process(node) and any(
            kind(c) == "startEvent" and c.get("isInterrupting", "true") != "false" for c in node)

    for container in m.of(sorted(CONTAINERS)):
        ends = [c for c in container if kind(c) in FLOW_NODES and not m.outs(c)]
        terminate = [e for e in ends if terminates(e)]
        if len(terminate) == 1 and all(terminates(e) or interrupting_event_sub_process(e)
                                       for e in ends):
            yield terminate[0].get("id"), Message(
                "[superfluous-termination] terminate end event %(element)s ends the only path "
                "left, so there is nothing to cancel; use a plain end event",
                element=terminate[0].get("id"))


def global_elements(m: Model) -> Iterator[Problem]:
    used: set[str] = set()
    for references in GLOBALS.values():
        for element, attribute in references:
            used |= {ref(n.get(attribute)) for n in m.of([element]) if n.get(attribute)}
    for name in GLOBALS:
        declared = [n for n in m.root if kind(n) == name]
        names = [name_of(n) for n in declared]
        for node in declared:
            element = node.get("id")
            if not name_of(node):
                yield element, Message("[global] %(element)s has no name; give it one (the "
                                       "engine matches messages and signals by name)",
                                       element=element)
            elif names.count(name_of(node)) > 1:
                yield element, Message("[global] %(element)s has the same name as another of "
                                       "its kind; give each its own name", element=element)
            if element not in used:
                yield element, Message("[global] %(element)s is not used by any event, task or "
                                       "message flow; use it, or delete it", element=element)


def superfluous_label(m: Model) -> Iterator[Problem]:
    for flow in m.by_kind.get("sequenceFlow", ()):
        if not name_of(flow) or has_condition(flow):
            continue
        source = m.by_id.get(flow.get("sourceRef") or "\0")
        if is_default(flow, source):
            continue
        if source is not None and kind(source) in ("exclusiveGateway", "inclusiveGateway") \
                and len(m.outs(source)) > 1:
            continue
        yield flow.get("id"), Message(
            "[superfluous-label] sequence flow %(element)s has a label but no condition and "
            "leaves no decision; remove the label, or put the words on the next element",
            element=flow.get("id"))


# --------------------------------------------------------------------------- the set


@dataclass(frozen=True)
class Rule:
    """A rule of bpmnlint's recommended set: its check and its level there ("error", "warn").
    Aduan reports every rule as a warning; `refused` rules only repeat what the engine
    already refuses as an error, and are left out of a unit's findings."""

    name: str
    check: Callable[[Model], Iterable[Problem]]
    bpmnlint_level: str
    refused: bool = False


RULES: tuple[Rule, ...] = (
    Rule("ad-hoc-sub-process", ad_hoc_sub_process, "error", refused=True),
    Rule("conditional-flows", conditional_flows, "error"),
    Rule("end-event-required", end_event_required, "error"),
    Rule("event-based-gateway", event_based_gateway, "error"),
    Rule("event-sub-process-typed-start-event", event_sub_process_typed_start_event, "error"),
    Rule("fake-join", fake_join, "warn"),
    Rule("global", global_elements, "warn"),
    Rule("label-required", label_required, "error"),
    Rule("link-event", link_event, "error", refused=True),
    Rule("no-bpmndi", no_bpmndi, "error"),
    Rule("no-complex-gateway", no_complex_gateway, "error", refused=True),
    Rule("no-disconnected", no_disconnected, "error"),
    Rule("no-duplicate-sequence-flows", no_duplicate_sequence_flows, "error"),
    Rule("no-gateway-join-fork", no_gateway_join_fork, "error"),
    Rule("no-implicit-split", no_implicit_split, "error"),
    Rule("no-implicit-end", no_implicit_end, "error"),
    Rule("no-implicit-start", no_implicit_start, "error"),
    Rule("no-inclusive-gateway", no_inclusive_gateway, "warn"),
    Rule("no-overlapping-elements", no_overlapping_elements, "warn"),
    Rule("single-blank-start-event", single_blank_start_event, "error"),
    Rule("single-event-definition", single_event_definition, "error"),
    Rule("start-event-required", start_event_required, "error"),
    Rule("sub-process-blank-start-event", sub_process_blank_start_event, "error"),
    Rule("superfluous-gateway", superfluous_gateway, "warn"),
    Rule("superfluous-label", superfluous_label, "warn"),
    Rule("superfluous-termination", superfluous_termination, "warn"),
)
BY_NAME = {rule.name: rule for rule in RULES}


def lint_bpmn(root: Any, filename: str, rules: Iterable[Rule] | None = None) -> list[Finding]:
    """The warnings of `rules` (default: every rule the engine does not already refuse) on one
    BPMN file's root element; never raises for a problem in the file."""
    chosen = [r for r in RULES if not r.refused] if rules is None else list(rules)
    model = Model(root)
    findings: list[Finding] = []
    for rule in chosen:
        try:
            findings += [Finding(filename, element, "warning", message, rule.name)
                         for element, message in rule.check(model)]
        except Exception as exc:  # noqa: BLE001 - one rule's bug must not hide the others
            findings.append(Finding(filename, None, "warning", Message(
                "[%(rule)s] this lint rule could not check the file (%(problem)s); this is a "
                "bug in the engine, please report it with the file", rule=rule.name,
                problem=f"{type(exc).__name__}: {exc}"), rule.name))
    return findings
