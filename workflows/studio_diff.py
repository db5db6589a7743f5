"""What changed between two versions of a deployment unit: BPMN elements and DMN tables.

The comparison reads the XML of both versions (the engine's safe reader: no DTD, no
entities) and matches things by id, the way a modeler keeps them when a designer edits a
diagram:

- **BPMN**: an *element* is anything with an id that sits directly in a container (the
  definitions, a process, a sub-process, a collaboration, a lane set): tasks, events,
  gateways, flows, lanes, participants, messages, data objects. Each element is reduced to a
  *signature*, a map from an aspect to a text: its type, name, lane, incoming and outgoing
  flows, a flow's source, target and condition, timer and other event definitions, a script
  task's script, every extension value (spiffworkflow properties, parameters, pre- and
  post-scripts, called decisions, ...), documentation, loop characteristics and any other
  attribute or child. Elements only in the new version are *added*, only in the old one
  *removed*; elements in both with different signatures are *changed*, each with the list of
  aspects that differ (old and new text). Elements whose signature is the same but whose
  shape or edge moved on the drawing are *moved* (layout only).
- **DMN**: per decision (by id): the input and output columns added, removed or changed, and
  the rules (by id; by position when a tool gives none) added, removed or changed, a changed
  rule with each cell's old and new text; the decision's own name, hit policy or literal
  expression when they change.

Everything is returned as plain data (lists of dicts, in document order) for the studio's
diff page and its diagram (workflows/studio.py: Studio.diff).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from lxml import etree

from engine.definitions import SourceFile
from engine.definitions.files import BPMN_NS, BPMNDI_NS, DI_NAMESPACES, read_xml

# The file's root (definitions) is no element of the diagram: a modeler rewrites its
# exporter attributes on every save.
CONTAINERS = frozenset({"definitions", "process", "subProcess", "transaction",
                        "adHocSubProcess", "collaboration", "laneSet", "childLaneSet"})
# Children folded into other aspects (flows are computed from sourceRef/targetRef; lane
# membership is reported on each element, not on the lane).
FOLDED_CHILDREN = frozenset({"incoming", "outgoing", "flowNodeRef", "childLaneSet",
                             "extensionElements", "documentation", "conditionExpression",
                             "script"})
# The order in which a changed element's aspects are listed.
ASPECTS = ("type", "name", "lane", "source", "target", "incoming", "outgoing", "condition",
           "timer", "event", "script", "extension", "attribute", "loop", "child",
           "documentation")


def local(node: Any) -> str:
    return etree.QName(node).localname


def _text(node: Any) -> str:
    return (node.text or "").strip() if node is not None else ""


def _children(node: Any) -> Iterator[Any]:
    return (c for c in node if isinstance(c.tag, str))


def _compact(node: Any) -> str:
    """A subtree as one line of text: names, sorted attributes and texts."""
    attrs = " ".join(f"{etree.QName(k).localname}={v}" for k, v in sorted(node.attrib.items()))
    inner = " ".join(_compact(c) for c in _children(node))
    text = _text(node)
    body = " ".join(part for part in (attrs, text, inner) if part)
    return f"{local(node)}({body})" if body else local(node)


# --------------------------------------------------------------------------- BPMN


def _elements(root: Any) -> dict[str, Any]:
    """Every element by id, in document order (see the module)."""
    found: dict[str, Any] = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
            continue
        parent = node.getparent()
        element_id = node.get("id")
        if element_id and parent is not None and local(parent) in CONTAINERS:
            found.setdefault(element_id, node)
    return found


def _flows_and_lanes(elements: dict[str, Any]) -> tuple[dict[str, dict[str, list[str]]],
                                                         dict[str, list[str]]]:
    flows: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"incoming": [],
                                                                  "outgoing": []})
    lanes: dict[str, list[str]] = defaultdict(list)
    for element_id, node in elements.items():
        if local(node) == "sequenceFlow":
            flows[node.get("sourceRef", "")]["outgoing"].append(element_id)
            flows[node.get("targetRef", "")]["incoming"].append(element_id)
        elif local(node) == "lane":
            for ref in node.iter(f"{{{BPMN_NS}}}flowNodeRef"):
                lanes[_text(ref)].append(element_id)
    return flows, lanes


def _extensions(node: Any, signature: dict[tuple[str, str], str], path: str = "") -> None:
    """Each leaf (or valued) extension element as one aspect: `property formJsonSchema`,
    `serviceTaskOperator sla_start / parameter step`, `preScript`, ..."""
    for child in _children(node):
        ident = child.get("name") or child.get("id")
        label = f"{local(child)} {ident}" if ident else local(child)
        attrs = {etree.QName(k).localname: v for k, v in child.attrib.items()
                 if etree.QName(k).localname not in ("name", "id")}
        main = _text(child) or attrs.pop("value", "")
        rest = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
        value = f"{main} ({rest})" if main and rest else main or rest
        kids = list(_children(child))
        key = f"{path}{label}"
        if value or not kids:
            number = 2
            while ("extension", key) in signature:
                key, number = f"{path}{label} #{number}", number + 1
            signature[("extension", key)] = value
        _extensions(child, signature, f"{key} / " if ident or value else path)


def _signature(node: Any, flows: dict[str, dict[str, list[str]]],
               lanes: dict[str, list[str]], tracked: set[Any]) -> dict[tuple[str, str], str]:
    element_id = node.get("id")
    signature: dict[tuple[str, str], str] = {("type", ""): local(node)}
    for key, value in node.attrib.items():
        name = etree.QName(key).localname
        if name == "id":
            continue
        if name == "name":
            signature[("name", "")] = value
        elif name in ("sourceRef", "targetRef"):
            signature[("source" if name == "sourceRef" else "target", "")] = value
        else:
            signature[("attribute", name)] = value
    if element_id in lanes:
        signature[("lane", "")] = ", ".join(sorted(lanes[element_id]))
    if local(node) != "sequenceFlow" and element_id in flows:
        for way in ("incoming", "outgoing"):
            if flows[element_id][way]:
                signature[(way, "")] = ", ".join(sorted(flows[element_id][way]))
    seen: dict[str, int] = defaultdict(int)
    for child in _children(node):
        if child in tracked or etree.QName(child).namespace in DI_NAMESPACES:
            continue
        kind = local(child)
        if kind == "documentation":
            signature[("documentation", "")] = _text(child)
        elif kind == "conditionExpression":
            signature[("condition", "")] = _text(child)
        elif kind == "script":
            signature[("script", "")] = _text(child)
        elif kind == "extensionElements":
            _extensions(child, signature)
        elif kind == "timerEventDefinition":
            for timer in _children(child):
                signature[("timer", local(timer))] = _text(timer)
            if not list(_children(child)):
                signature[("timer", "")] = ""
        elif kind.endswith("EventDefinition"):
            refs = ", ".join(f"{etree.QName(k).localname}={v}"
                             for k, v in sorted(child.attrib.items())
                             if etree.QName(k).localname != "id")
            inner = " ".join(_compact(c) for c in _children(child))
            signature[("event", kind)] = " ".join(p for p in (refs, inner) if p)
        elif kind.endswith("LoopCharacteristics"):
            signature[("loop", "")] = _compact(child)
        elif kind not in FOLDED_CHILDREN:
            seen[kind] += 1
            suffix = f" #{seen[kind]}" if seen[kind] > 1 else ""
            signature[("child", f"{kind}{suffix}")] = _compact(child)
    return signature


def _layout(root: Any) -> dict[str, tuple[str, ...]]:
    """Each drawn element's bounds or waypoints (the first diagram that draws it)."""
    drawn: dict[str, tuple[str, ...]] = {}
    for node in root.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge"):
        ref = node.get("bpmnElement")
        if not ref or ref in drawn:
            continue
        points = [c for c in _children(node) if local(c) in ("Bounds", "waypoint")]
        drawn[ref] = tuple(f"{c.get('x')},{c.get('y')},{c.get('width')},{c.get('height')}"
                           for c in points)
    return drawn


def _read(name: str, text: str | None) -> Any:
    if not text:
        return None
    return read_xml(SourceFile(name, text), lambda _finding: None)


def _summary(element_id: str, signature: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {"id": element_id, "type": signature[("type", "")],
            "name": signature.get(("name", ""), ""),
            "lane": signature.get(("lane", ""), ""),
            "source": signature.get(("source", ""), ""),
            "target": signature.get(("target", ""), "")}


def _ordered(keys: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(keys, key=lambda k: (ASPECTS.index(k[0]) if k[0] in ASPECTS else 99, k[1]))


def diff_bpmn(name: str, old_text: str | None, new_text: str | None) -> dict[str, Any]:
    """The elements added, removed, changed (with each aspect's old and new text) and moved
    between two versions of one BPMN file (either may be None: a file added or removed)."""
    sides = []
    for text in (old_text, new_text):
        root = _read(name, text)
        if root is None:
            sides.append(({}, {}, {}))
            continue
        elements = _elements(root)
        flows, lanes = _flows_and_lanes(elements)
        tracked = set(elements.values())
        signatures = {i: _signature(n, flows, lanes, tracked) for i, n in elements.items()}
        sides.append((elements, signatures, _layout(root)))
    (_, old, old_layout), (_, new, new_layout) = sides
    added = [_summary(i, s) for i, s in new.items() if i not in old]
    removed = [_summary(i, s) for i, s in old.items() if i not in new]
    changed, moved = [], []
    for element_id, signature in new.items():
        before = old.get(element_id)
        if before is None:
            continue
        if before != signature:
            keys = _ordered(set(before) | set(signature))
            changes = [{"aspect": aspect, "key": key, "old": before.get((aspect, key)),
                        "new": signature.get((aspect, key))}
                       for aspect, key in keys
                       if before.get((aspect, key)) != signature.get((aspect, key))]
            changed.append({**_summary(element_id, signature), "changes": changes})
        elif old_layout.get(element_id) != new_layout.get(element_id):
            moved.append(_summary(element_id, signature))
    return {"file": name, "added": added, "removed": removed, "changed": changed,
            "moved": moved}


# --------------------------------------------------------------------------- DMN


def _columns(table: Any) -> list[dict[str, str]]:
    columns = []
    if table is None:
        return columns
    for kind in ("input", "output"):
        for number, node in enumerate((c for c in _children(table) if local(c) == kind), 1):
            expression = next((_text(t) for e in _children(node)
                               if local(e) == "inputExpression"
                               for t in _children(e) if local(t) == "text"), "")
            label = node.get("label") or node.get("name") or expression
            detail = ", ".join(p for p in (
                f"expression={expression}" if expression else "",
                f"name={node.get('name')}" if node.get("name") else "",
                f"typeRef={node.get('typeRef')}" if node.get("typeRef") else "") if p)
            columns.append({"id": node.get("id") or f"{kind} {number}", "kind": kind,
                            "label": label, "detail": detail})
    return columns


def _rules(table: Any, columns: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each rule (by id, else by position) as column id -> cell text, and its annotation."""
    rules: dict[str, dict[str, str]] = {}
    if table is None:
        return rules
    inputs = [c["id"] for c in columns if c["kind"] == "input"]
    outputs = [c["id"] for c in columns if c["kind"] == "output"]
    for number, rule in enumerate((r for r in _children(table) if local(r) == "rule"), 1):
        cells: dict[str, str] = {}
        entries = {"inputEntry": iter(inputs), "outputEntry": iter(outputs)}
        for entry in _children(rule):
            kind = local(entry)
            text = next((_text(t) for t in _children(entry) if local(t) == "text"), "")
            if kind in entries:
                column = next(entries[kind], None)
                cells[column or f"{kind} {len(cells) + 1}"] = text
            elif kind in ("description", "annotationEntry"):
                cells["description"] = _text(entry) or text
        rules[rule.get("id") or f"#{number}"] = cells
    return rules


def _decision(node: Any) -> dict[str, Any]:
    table = next((c for c in _children(node) if local(c) == "decisionTable"), None)
    literal = next((c for c in _children(node) if local(c) == "literalExpression"), None)
    columns = _columns(table)
    facts = {"name": node.get("name") or "",
             "hitPolicy": (table.get("hitPolicy") or "UNIQUE") if table is not None else "",
             "aggregation": table.get("aggregation") or "" if table is not None else "",
             "literalExpression": _compact(literal) if literal is not None else ""}
    return {"facts": facts, "columns": columns, "rules": _rules(table, columns)}


def _decisions(name: str, text: str | None) -> dict[str, dict[str, Any]]:
    root = _read(name, text)
    if root is None:
        return {}
    return {node.get("id"): _decision(node) for node in _children(root)
            if local(node) == "decision" and node.get("id")}


def _rule_rows(old: dict[str, Any], new: dict[str, Any], header: list[dict[str, Any]]
               ) -> tuple[list[dict[str, Any]], int]:
    rows, unchanged = [], 0
    old_rules, new_rules = old["rules"], new["rules"]
    order = list(new_rules) + [r for r in old_rules if r not in new_rules]
    for rule_id in order:
        before, after = old_rules.get(rule_id), new_rules.get(rule_id)
        if before == after:
            unchanged += 1
            continue
        status = "added" if before is None else "removed" if after is None else "changed"
        cells = []
        for column in [*header, {"id": "description"}]:
            old_text = None if before is None else before.get(column["id"])
            new_text = None if after is None else after.get(column["id"])
            cells.append({"column": column["id"], "old": old_text, "new": new_text,
                          "changed": status == "changed" and old_text != new_text})
        rows.append({"id": rule_id, "status": status, "cells": cells[:-1],
                     "description": cells[-1]})
    return rows, unchanged


def diff_dmn(name: str, old_text: str | None, new_text: str | None) -> dict[str, Any]:
    """Per decision: columns and rules added, removed and changed (see the module)."""
    old_all, new_all = _decisions(name, old_text), _decisions(name, new_text)
    empty = {"facts": {}, "columns": [], "rules": {}}
    decisions = []
    for decision_id in list(new_all) + [d for d in old_all if d not in new_all]:
        old, new = old_all.get(decision_id, empty), new_all.get(decision_id, empty)
        status = ("added" if decision_id not in old_all else
                  "removed" if decision_id not in new_all else "changed")
        old_columns = {c["id"]: c for c in old["columns"]}
        new_columns = {c["id"]: c for c in new["columns"]}
        header = [{**c, "status": "added" if c["id"] not in old_columns else
                   "changed" if old_columns[c["id"]] != c else "same"}
                  for c in new["columns"]]
        header += [{**c, "status": "removed"} for c in old["columns"]
                   if c["id"] not in new_columns]
        rows, unchanged = _rule_rows(old, new, header)
        facts = [{"aspect": key, "old": old["facts"].get(key) or None,
                  "new": new["facts"].get(key) or None}
                 for key in ("name", "hitPolicy", "aggregation", "literalExpression")
                 if (old["facts"].get(key) or None) != (new["facts"].get(key) or None)]
        if status == "changed" and not facts and not rows and all(
                c["status"] == "same" for c in header):
            continue
        decisions.append({
            "id": decision_id, "name": new["facts"].get("name") or old["facts"].get("name"),
            "status": status, "changes": facts, "columns": header,
            "columns_added": [c for c in header if c["status"] == "added"],
            "columns_removed": [c for c in header if c["status"] == "removed"],
            "columns_changed": [{**c, "old": old_columns[c["id"]]} for c in header
                                if c["status"] == "changed"],
            "rules": rows, "rules_unchanged": unchanged})
    return {"file": name, "decisions": decisions}


# --------------------------------------------------------------------------- units


def kind_of(name: str) -> str:
    lowered = name.lower()
    return "bpmn" if lowered.endswith(".bpmn") else "dmn" if lowered.endswith(".dmn") else (
        "other")


def diff_units(old_files: Mapping[str, str], new_files: Mapping[str, str]) -> dict[str, Any]:
    """Every file of two versions of a unit: its status, and for BPMN and DMN files what
    changed inside (diff_bpmn, diff_dmn)."""
    names = sorted(set(old_files) | set(new_files), key=lambda n: (
        ("bpmn", "dmn", "other").index(kind_of(n)), n))
    files, bpmn, dmn = [], [], []
    for name in names:
        before, after = old_files.get(name), new_files.get(name)
        status = ("added" if before is None else "removed" if after is None else
                  "same" if before == after else "changed")
        files.append({"file": name, "kind": kind_of(name), "status": status})
        if status == "same":
            continue
        if kind_of(name) == "bpmn":
            bpmn.append(diff_bpmn(name, before, after))
        elif kind_of(name) == "dmn":
            dmn.append(diff_dmn(name, before, after))
    return {"files": files, "bpmn": bpmn, "dmn": dmn,
            "same": all(f["status"] == "same" for f in files)}
