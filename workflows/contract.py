"""The lifecycle contract as data: what the complaint domain requires of `complaint_lifecycle`.

`CONTRACT` is built from workflows/diagram_ids.py's constants. Two things are made from it:

- the check a new version of the lifecycle must pass at validate and deploy
  (`check_unit`, registered on the engine by workflows/lifecycle.py): one `Finding` per
  problem, naming the element (or file) and what is missing or renamed;
- the contract's tables in docs/lifecycle.md (`render_markdown`, written there by
  scripts/lifecycle-doc; tests/test_contract.py fails when they differ).

What is checked: each lane and user task the domain knows, in its lane; each decision value a
domain verb sends, handled by the gateway after its task (by a condition naming it, or at most
one value by the default flow); each host service called, and every call with the service's
required parameters; an SLA start (or resume) on every path into an officer task, and its
watch (a non-interrupting timer whose path calls `sla_watch`); each decision the domain reads
with its outputs; the message the domain sends, with an event waiting for it.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine import Finding
from workflows import diagram_ids as ids
from workflows.errors import Message

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
SLA_OPENERS = (ids.SERVICE_SLA_START, ids.SERVICE_SLA_RESUME)


@dataclass(frozen=True)
class Service:
    """A host service the diagram calls by `spiffworkflow:serviceTaskOperator id=name`."""

    name: str
    parameters: tuple[str, ...]  # required
    optional: tuple[str, ...]
    result: str
    doc: str


@dataclass(frozen=True)
class UserTask:
    id: str
    lane: str  # lane name = candidate group role
    decisions: tuple[str, ...] = ()  # the values of `decision` the domain's verbs send
    officer: bool = False  # an SLA starts before it and a watch reminds and escalates


@dataclass(frozen=True)
class Decision:
    id: str
    file: str
    outputs: tuple[str, ...]  # the outputs the domain reads
    called_by: str | None = None  # the business rule task the domain reads them after


@dataclass(frozen=True)
class Contract:
    process_id: str
    bpmn_file: str
    lanes: dict[str, str]  # lane element id -> lane name
    tasks: tuple[UserTask, ...]
    decision_variable: str
    services: tuple[Service, ...]
    decisions: tuple[Decision, ...]
    messages: dict[str, str]  # message name -> the catch event waiting for it
    start_variables: tuple[str, ...]
    watch_service: str = ids.SERVICE_SLA_WATCH
    sla_openers: tuple[str, ...] = SLA_OPENERS
    notes: dict[str, str] = field(default_factory=dict)


CONTRACT = Contract(
    process_id=ids.PROCESS_ID,
    bpmn_file=ids.BPMN_FILE,
    lanes=dict(ids.LANES),
    tasks=tuple(UserTask(task, ids.TASK_LANES[task], tuple(ids.TASK_DECISIONS.get(task, ())),
                         task in ids.OFFICER_TASKS) for task in ids.USER_TASKS),
    decision_variable=ids.VAR_DECISION,
    services=(
        Service(ids.SERVICE_SET_STATUS, ("status",), ("reason",), "null",
                "the report's status and a history entry; notifies the complainant"),
        Service(ids.SERVICE_SLA_START, ("step", "budget_days"), (),
                '{"due_at", "watch_cycle"}',
                "opens the SLA record of a step; due_at is ISO 8601 with offset, watch_cycle "
                'is "R/<next check>/P1D" covering every running SLA of the complaint'),
        Service(ids.SERVICE_SLA_PAUSE, ("step",), ("postponed",), '{"watch_cycle"}',
                "pauses the running SLA of the step (waiting on the citizen); with postponed "
                "true (Tertunda) it opens the postponement's own deadline, "
                "ADUAN_POSTPONE_MAX_DAYS working days, watched like any other"),
        Service(ids.SERVICE_SLA_RESUME, ("step",), (), '{"due_at", "watch_cycle"}',
                "resumes the paused SLA of the step with the budget that was left (and closes "
                "a running postponement, met or breached)"),
        Service(ids.SERVICE_SLA_STOP, ("step",), (), '{"met", "watch_cycle"}',
                "closes the SLA record (idempotent): met or breached and by how much"),
        Service(ids.SERVICE_SLA_WATCH, (), (), "null",
                "for every running SLA of the complaint: a reminder one working day before "
                "each deadline, and at each deadline one escalation one rung up"),
        Service(ids.SERVICE_ASSIGN_AGENCY, ("agency_code",), ("role",), "null",
                'records which agency (role "opd", the default) or unit (role "unit") holds '
                "the report"),
    ),
    decisions=(
        Decision(ids.ROUTE_REPORT, ids.ROUTING_DMN_FILE,
                 ("authority", "handler_level", "agency_code"), ids.ROUTING_TASK),
        Decision(ids.STEP_BUDGET, ids.DEADLINES_DMN_FILE, (ids.BUDGET_DAYS,)),
    ),
    messages={ids.MESSAGE_REOPEN: ids.AWAIT_REOPEN},
    start_variables=ids.START_VARIABLES,
)


# --------------------------------------------------------------------------- the check


def check_unit(unit: Any, contract: Contract = CONTRACT) -> list[Finding]:
    """The contract's findings on a parsed unit (engine.definitions.ParsedUnit): its files'
    XML roots are in `unit.trees`. Registered with `Engine.add_unit_check`."""
    return list(_Check(contract, unit.trees).findings())


class _Check:
    def __init__(self, contract: Contract, trees: dict[str, Any]) -> None:
        self.c = contract
        self.trees = trees
        self.file = next((n for n, t in trees.items() if t.find(
            f"{{{BPMN}}}process[@id='{contract.process_id}']") is not None), contract.bpmn_file)
        root = trees.get(self.file)
        self.process = root.find(f"{{{BPMN}}}process[@id='{contract.process_id}']") \
            if root is not None else None
        self.nodes: dict[str, Any] = {}
        self.flows: dict[str, tuple[str, str, Any]] = {}
        self.outgoing: dict[str, list[str]] = {}
        self.incoming: dict[str, list[str]] = {}
        self.boundaries: dict[str, list[Any]] = {}
        if self.process is not None:
            self._index(self.process)

    def _index(self, process: Any) -> None:
        for node in process.iter():
            if not isinstance(node.tag, str) or not node.get("id"):
                continue
            tag = etree.QName(node).localname
            if tag == "sequenceFlow":
                source, target = node.get("sourceRef"), node.get("targetRef")
                self.flows[node.get("id")] = (source, target, node)
                self.outgoing.setdefault(source, []).append(node.get("id"))
                self.incoming.setdefault(target, []).append(node.get("id"))
            else:
                self.nodes[node.get("id")] = node
                if tag == "boundaryEvent":
                    self.boundaries.setdefault(node.get("attachedToRef"), []).append(node)

    def finding(self, element: str | None, message: Message) -> Finding:
        return Finding(self.file, element, "error", message)

    def findings(self) -> Iterator[Finding]:
        if self.process is None:
            yield Finding(self.c.bpmn_file, None, "error", Message(
                "the unit has no process %(process)s; the complaint domain runs only that "
                "process", process=self.c.process_id))
            return
        yield from self.lanes()
        for task in self.c.tasks:
            yield from self.user_task(task)
        yield from self.services()
        yield from self.dmn()
        yield from self.messages()

    # ------------------------------------------------------------------ lanes, tasks

    def lanes(self) -> Iterator[Finding]:
        for lane_id, name in self.c.lanes.items():
            lane = self.nodes.get(lane_id)
            if lane is None or etree.QName(lane).localname != "lane":
                yield self.finding(lane_id, Message("lane %(lane)s (%(name)s) is missing or was "
                                   "renamed; the domain gives its tasks to the candidate "
                                   "group %(name)s", lane=lane_id, name=name))
            elif lane.get("name") != name:
                yield self.finding(lane_id, Message("lane %(lane)s must be named %(name)s (the "
                                   "candidate group role), not %(found)r", lane=lane_id,
                                   name=name, found=lane.get("name") or ""))

    def user_task(self, task: UserTask) -> Iterator[Finding]:
        node = self.nodes.get(task.id)
        if node is None or etree.QName(node).localname != "userTask":
            yield self.finding(task.id, Message("user task %(task)s is missing or was renamed; the "
                               "domain finds it by this id", task=task.id))
            return
        lane = self._lane_of(task.id)
        if lane != task.lane:
            yield self.finding(task.id, Message("user task %(task)s must be in lane %(lane)s, not "
                               "%(found)s", task=task.id, lane=task.lane, found=lane or "-"))
        if task.decisions:
            yield from self.decisions(task, node)
        if task.officer:
            yield from self.sla_opened(task.id)
            yield from self.watched(task.id)

    def _lane_of(self, element: str) -> str | None:
        for lane in self.process.iter(f"{{{BPMN}}}lane"):
            refs = [r.text for r in lane.findall(f"{{{BPMN}}}flowNodeRef")]
            if element in refs and not lane.findall(f".//{{{BPMN}}}childLaneSet"):
                return lane.get("name")
        return None

    def decisions(self, task: UserTask, node: Any) -> Iterator[Finding]:
        var = self.c.decision_variable
        allowed = _form_enum(node, var)
        if allowed is not None:
            for value in task.decisions:
                if value not in allowed:
                    yield self.finding(task.id, Message("the form of %(task)s does not allow "
                                       "%(var)s %(value)r, which the domain sends",
                                       task=task.id, var=var, value=value))
        gateway = self._gateway_after(task.id)
        if gateway is None:
            yield self.finding(task.id, Message(
                               "no exclusive gateway follows %(task)s to route its "
                               "%(var)s (%(values)s)", task=task.id, var=var,
                               values=", ".join(task.decisions)))
            return
        named: set[str] = set()
        for flow_id in self.outgoing.get(gateway.get("id"), []):
            condition = self.flows[flow_id][2].find(f"{{{BPMN}}}conditionExpression")
            if condition is not None and condition.text:
                named |= _compared_values(condition.text, var)
        unnamed = [v for v in task.decisions if v not in named]
        default = gateway.get("default")
        if default and len(unnamed) <= 1:
            return
        gateway_id = gateway.get("id")
        if default:  # the values no condition names all take the default flow
            yield self.finding(gateway_id, Message(
                "gateway %(gateway)s sends %(values)s of %(task)s all by its default flow; "
                "give all but one of them a branch with a condition (%(var)s == ...)",
                gateway=gateway_id, values=", ".join(map(repr, unnamed)), task=task.id,
                var=var))
            return
        for value in unnamed:
            yield self.finding(gateway_id, Message(
                "gateway %(gateway)s has no branch for %(var)s == %(value)r, which the domain "
                "sends from %(task)s", gateway=gateway_id, var=var, value=value, task=task.id))

    def _gateway_after(self, element: str) -> Any:
        """The exclusive gateway reached from `element` through nodes with one way out."""
        current, seen = element, set()
        while current not in seen:
            seen.add(current)
            ways = self.outgoing.get(current, [])
            if len(ways) != 1:
                return None
            current = self.flows[ways[0]][1]
            node = self.nodes.get(current)
            if node is not None and etree.QName(node).localname == "exclusiveGateway" and \
                    len(self.outgoing.get(current, [])) > 1:
                return node
        return None

    # ------------------------------------------------------------------ SLA

    def _operator(self, element: str) -> Any:
        node = self.nodes.get(element)
        return None if node is None else node.find(f".//{{{SPIFF}}}serviceTaskOperator")

    def _calls(self, element: str, names: Iterable[str]) -> bool:
        operator = self._operator(element)
        return operator is not None and operator.get("id") in tuple(names)

    def sla_opened(self, task: str) -> Iterator[Finding]:
        """Every path into the task passes an SLA start or resume (walked backwards)."""
        stack, seen = [task], {task}
        while stack:
            current = stack.pop()
            node = self.nodes.get(current)
            before = [self.flows[f][0] for f in self.incoming.get(current, [])]
            if node is not None and etree.QName(node).localname == "boundaryEvent":
                before = [node.get("attachedToRef")]
            if not before:  # reached a start without passing an SLA start
                yield self.finding(task, Message("officer task %(task)s has a path from %(start)s "
                                   "without %(services)s before it: its deadline would not "
                                   "be counted", task=task, start=current,
                                   services=" or ".join(self.c.sla_openers)))
                return
            for previous in before:
                if previous in seen or self._calls(previous, self.c.sla_openers):
                    continue
                seen.add(previous)
                stack.append(previous)

    def watched(self, task: str) -> Iterator[Finding]:
        """A non-interrupting timer on the task whose path calls the watch service."""
        for boundary in self.boundaries.get(task, []):
            if boundary.get("cancelActivity") != "false" or boundary.find(
                    f"{{{BPMN}}}timerEventDefinition") is None:
                continue
            if self._reaches(boundary.get("id"), self.c.watch_service):
                return
        yield self.finding(task, Message("officer task %(task)s has no watch: a non-interrupting "
                           "timer on it whose path calls %(service)s, which sends the "
                           "reminders and escalations", task=task, service=self.c.watch_service))

    def _reaches(self, start: str, service: str) -> bool:
        stack, seen = [start], {start}
        while stack:
            current = stack.pop()
            if self._calls(current, (service,)):
                return True
            for flow in self.outgoing.get(current, []):
                target = self.flows[flow][1]
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return False

    # ------------------------------------------------------------------ services

    def services(self) -> Iterator[Finding]:
        known = {s.name: s for s in self.c.services}
        called: set[str] = set()
        for operator in self.process.iter(f"{{{SPIFF}}}serviceTaskOperator"):
            task = operator.getparent().getparent()
            element = task.get("id")
            name = operator.get("id")
            service = known.get(name)
            if service is None:
                yield self.finding(element, Message(
                                   "service task %(task)s calls %(service)r, which "
                                   "the complaint domain does not offer (it offers: "
                                   "%(known)s)", task=element, service=name or "",
                                   known=", ".join(known)))
                continue
            called.add(name)
            given = {p.get("id") for p in operator.iter(f"{{{SPIFF}}}parameter")
                     if (p.get("value") or "").strip()}
            for parameter in service.parameters:
                if parameter not in given:
                    yield self.finding(element, Message("service task %(task)s calls %(service)s "
                                       "without its parameter %(parameter)s", task=element,
                                       service=name, parameter=parameter))
        for name in known:
            if name not in called:
                yield self.finding(None, Message("no service task calls %(service)s, which the "
                                   "domain's lifecycle needs", service=name))

    # ------------------------------------------------------------------ DMN, messages

    def dmn(self) -> Iterator[Finding]:
        called = {e.text.strip(): e.getparent().getparent().get("id") for e in
                  self.process.iter(f"{{{SPIFF}}}calledDecisionId") if e.text}
        for decision in self.c.decisions:
            found = self._decision(decision.id)
            if found is None:
                yield Finding(decision.file, decision.id, "error", Message(
                    "decision %(decision)s is missing or was renamed; the domain reads its "
                    "outputs (%(outputs)s)", decision=decision.id,
                    outputs=", ".join(decision.outputs)))
                continue
            file, node = found
            names = {o.get("name") for o in node.iter() if isinstance(o.tag, str)
                     and etree.QName(o).localname == "output"}
            for output in decision.outputs:
                if output not in names:
                    yield Finding(file, decision.id, "error", Message(
                        "decision %(decision)s has no output %(output)s, which the domain "
                        "reads", decision=decision.id, output=output))
            if decision.called_by and called.get(decision.id) != decision.called_by:
                yield self.finding(decision.called_by, Message("business rule task %(task)s must "
                                   "call decision %(decision)s: the domain reads its outputs "
                                   "after it", task=decision.called_by, decision=decision.id))

    def _decision(self, decision_id: str) -> tuple[str, Any] | None:
        for name, tree in self.trees.items():
            for node in tree.iter():
                if isinstance(node.tag, str) and etree.QName(node).localname == "decision" \
                        and node.get("id") == decision_id:
                    return name, node
        return None

    def messages(self) -> Iterator[Finding]:
        root = self.process.getparent()
        by_id = {m.get("id"): m.get("name") for m in root.iter(f"{{{BPMN}}}message")}
        for name, event in self.c.messages.items():
            node = self.nodes.get(event)
            definition = None if node is None else node.find(
                f"{{{BPMN}}}messageEventDefinition")
            if definition is None or by_id.get(definition.get("messageRef")) != name:
                yield self.finding(event, Message("catch event %(event)s waiting for message "
                                   "%(message)s is missing or was changed; the domain sends "
                                   "it", event=event, message=name))


def _form_enum(task: Any, var: str) -> list[Any] | None:
    for prop in task.iter(f"{{{SPIFF}}}property"):
        if prop.get("name") == "formJsonSchema":
            try:
                schema = json.loads(prop.get("value") or "")
                return list(schema["properties"][var]["enum"])
            except (ValueError, KeyError, TypeError):
                return None
    return None


def _compared_values(expression: str, var: str) -> set[str]:
    """The strings `var` is compared with in a condition (==, in)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return set()
    values: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if not any(isinstance(o, ast.Name) and o.id == var for o in operands):
            continue
        for operand in operands:
            for constant in ast.walk(operand):
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                    values.add(constant.value)
    return values


# --------------------------------------------------------------------------- the document


def render_markdown(contract: Contract = CONTRACT) -> str:
    """The contract's tables for docs/lifecycle.md (between its contract markers)."""

    def code(values: Iterable[str]) -> str:
        return ", ".join(f"`{v}`" for v in values) or "none"

    lines = ["### Lanes", "", "| Lane id | Lane name (= candidate group role) |", "|---|---|"]
    lines += [f"| `{lane}` | `{name}` |" for lane, name in contract.lanes.items()]
    lines += ["", "### User tasks", "",
              f"| Task id | Lane | `{contract.decision_variable}` values the domain sends, "
              "each handled by the gateway after the task | Officer step: "
              f"{code(contract.sla_openers)} on every path in, a watch calling "
              f"`{contract.watch_service}` |", "|---|---|---|---|"]
    lines += [f"| `{t.id}` | `{t.lane}` | {code(t.decisions) if t.decisions else '-'} | "
              f"{'yes' if t.officer else '-'} |" for t in contract.tasks]
    lines += ["", "### Host services", "",
              "Each is called by at least one service task, every call with the required "
              "parameters.", "",
              "| Operator | Required parameters | Optional | Result | Effect |",
              "|---|---|---|---|---|"]
    lines += [f"| `{s.name}` | {code(s.parameters)} | {code(s.optional)} | `{s.result}` | "
              f"{s.doc} |" for s in contract.services]
    lines += ["", "### Decisions the domain reads", "",
              "| Decision | File | Outputs | Called by |", "|---|---|---|---|"]
    lines += [f"| `{d.id}` | `{d.file}` | {code(d.outputs)} | "
              f"{f'`{d.called_by}`' if d.called_by else '(the domain evaluates it)'} |"
              for d in contract.decisions]
    lines += ["", "### Messages the domain sends", "", "| Message | Catch event |", "|---|---|"]
    lines += [f"| `{name}` | `{event}` |" for name, event in contract.messages.items()]
    lines += ["", "### Start data the domain writes", "", code(contract.start_variables) + ".",
              ""]
    return "\n".join(lines)


if __name__ == "__main__":  # scripts/lifecycle-doc
    print(render_markdown(), end="")
