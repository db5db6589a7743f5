"""Build small BPMN documents for tests: elements as XML snippets, flows chained by id."""

from __future__ import annotations

import itertools
import json
from html import escape
from pathlib import Path

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="defs_{pid}" targetNamespace="http://aduan.test/bpmn">\n'
)


def user_task(task_id: str, name: str | None = None, *, form: dict | None = None,
              groups: str | None = None, due: str | None = None, post: str | None = None,
              pre: str | None = None) -> str:
    props = []
    if form is not None:
        props.append(f'<spiffworkflow:property name="formJsonSchema" '
                     f'value="{escape(json.dumps(form), quote=True)}"/>')
    if groups:
        props.append(f'<spiffworkflow:property name="candidateGroups" value="{escape(groups)}"/>')
    if due:
        props.append(f'<spiffworkflow:property name="dueDate" value="{escape(due)}"/>')
    ext = ""
    if props or pre or post:
        inner = ""
        if props:
            inner += "<spiffworkflow:properties>" + "".join(props) + "</spiffworkflow:properties>"
        if pre:
            inner += f"<spiffworkflow:preScript>{escape(pre)}</spiffworkflow:preScript>"
        if post:
            inner += f"<spiffworkflow:postScript>{escape(post)}</spiffworkflow:postScript>"
        ext = f"<bpmn:extensionElements>{inner}</bpmn:extensionElements>"
    return f'<bpmn:userTask id="{task_id}" name="{escape(name or task_id)}">{ext}</bpmn:userTask>'


def script_task(task_id: str, script: str) -> str:
    return (f'<bpmn:scriptTask id="{task_id}" name="{task_id}">'
            f"<bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>")


def service_task(task_id: str, operator: str, params: dict[str, str], result: str) -> str:
    parameters = "".join(
        f'<spiffworkflow:parameter id="{k}" type="str" value="{escape(v, quote=True)}"/>'
        for k, v in params.items())
    return (f'<bpmn:serviceTask id="{task_id}" name="{task_id}"><bpmn:extensionElements>'
            f'<spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="{result}">'
            f"<spiffworkflow:parameters>{parameters}</spiffworkflow:parameters>"
            "</spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>")


def timer_event(event_id: str, kind: str, expression: str, *, attached_to: str | None = None,
                interrupting: bool = True) -> str:
    timer = (f"<bpmn:timerEventDefinition><bpmn:{kind}>{escape(expression)}</bpmn:{kind}>"
             "</bpmn:timerEventDefinition>")
    if attached_to:
        return (f'<bpmn:boundaryEvent id="{event_id}" attachedToRef="{attached_to}" '
                f'cancelActivity="{"true" if interrupting else "false"}">{timer}'
                "</bpmn:boundaryEvent>")
    return f'<bpmn:intermediateCatchEvent id="{event_id}">{timer}</bpmn:intermediateCatchEvent>'


def message_catch(event_id: str, message: str) -> str:
    return (f'<bpmn:intermediateCatchEvent id="{event_id}">'
            f'<bpmn:messageEventDefinition messageRef="{message}"/>'
            "</bpmn:intermediateCatchEvent>")


def signal_catch(event_id: str, signal: str) -> str:
    return (f'<bpmn:intermediateCatchEvent id="{event_id}">'
            f'<bpmn:signalEventDefinition signalRef="{signal}"/>'
            "</bpmn:intermediateCatchEvent>")


def flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None
         ) -> str:
    flow_id = flow_id or f"flow_{source}_{target}"
    cond = (f'<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>'
            if condition else "")
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f"{cond}</bpmn:sequenceFlow>")


def chain(*ids: str) -> str:
    return "".join(flow(a, b) for a, b in itertools.pairwise(ids))


def document(pid: str, *parts: str, lanes: dict[str, list[str]] | None = None,
             messages: tuple[str, ...] = (), signals: tuple[str, ...] = (),
             name: str | None = None) -> str:
    lane_xml = ""
    if lanes:
        lane_xml = "<bpmn:laneSet id=\"lanes_" + pid + "\">" + "".join(
            f'<bpmn:lane id="lane_{lane}" name="{lane}">'
            + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
            + "</bpmn:lane>" for lane, nodes in lanes.items()) + "</bpmn:laneSet>"
    defs = "".join(f'<bpmn:message id="{m}" name="{m}"/>' for m in messages)
    defs += "".join(f'<bpmn:signal id="{s}" name="{s}"/>' for s in signals)
    return (HEADER.format(pid=pid) + defs
            + f'<bpmn:process id="{pid}" name="{escape(name or pid)}" isExecutable="true">'
            + lane_xml + "".join(parts) + "</bpmn:process></bpmn:definitions>\n")


def linear(pid: str, *elements: str, element_ids: list[str] | None = None, **kwargs: object
           ) -> str:
    """start -> elements... -> end, each element's id taken from its XML."""
    import re

    ids = element_ids or [re.search(r'id="([^"]+)"', e).group(1) for e in elements]
    return document(pid, '<bpmn:startEvent id="start"/>', *elements,
                    '<bpmn:endEvent id="end"/>', chain("start", *ids, "end"), **kwargs)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
