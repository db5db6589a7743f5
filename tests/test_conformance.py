"""Import of other modelers' files: the OMG BPMN MIWG test suite through deploy validation.

Every .bpmn file of /work/shared/conformance/bpmn-miwg (11 modeling tools plus the reference
models) is validated on its own. Validation must never raise, every finding must name its
file and say something, and an error must name its element unless it is about the whole
unit. How many files validate clean is recorded per tool, with a floor so a regression shows.
Run with `-s` to see the summary table (it is also in docs/bpmn-support.md).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

import pytest
from lxml import etree

from engine.definitions import SourceFile, parse_unit
from engine.errors import Finding
from engine.sandbox import Sandbox
from tests.miwg import SUITE as MIWG_SUITE

SUITE = MIWG_SUITE  # tests/miwg.py: ADUAN_MIWG_DIR, beside the project, or the workplace's
if not SUITE.is_dir():
    pytest.skip(f"the MIWG conformance files are not at {SUITE}", allow_module_level=True)

TOOLS = sorted(p.name for p in SUITE.iterdir() if p.is_dir())
# Findings about the unit as a whole; every other error must name an element.
UNIT_LEVEL = (
    "several top-level processes",
    "more schema problem",
    "no BPMN process found",
    "not well-formed XML",
    "not a BPMN 2.0 document",
    "declares a DTD",
    "unknown file type",
    "two files have this name",
)
# Files that validate clean as exported, measured on 2026-11-28; raise when support grows.
VALID_FLOOR = {
    "activiti-designer-5.14.1": 1,
    "aris-10.2025.07": 2,
    "bizagi-2.8.0.8": 0,
    "bonita-7.2.3": 2,
    "bpmn-io-camunda-modeler-18.6.1": 3,
    "camunda-eclipse-plugin-3.0.0": 0,
    "open-bpmn-1.2.8": 0,
    "reference": 0,
    "signavio-19.9.0": 0,
    "trisotech-12.6.3": 1,
    "yaoqiang-4.0": 1,
}
# ... and once the only change is isExecutable="true" (what the finding asks for).
EXECUTABLE_FLOOR = 23
NOT_EXECUTABLE = 'isExecutable="false"'
# The engine clock's instant for validation: fixed, so the counts do not depend on the day.
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass
class ToolResult:
    tool: str
    files: int = 0
    valid: int = 0
    valid_if_executable: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    broken_rules: list[str] = field(default_factory=list)


def kind_of(message: str) -> str:
    """A finding's message without its ids, names and line numbers, to count alike ones."""
    head = message.split("; ")[0]
    head = re.sub(r" \(line \d+\)", "", head)
    head = re.sub(r"'[^']*'|\"[^\"]*\"", "…", head)
    head = re.sub(r"^(several top-level processes):.*", r"\1", head)
    head = re.sub(r"\s+", " ", head).strip()
    return head if len(head) <= 80 else head[:79] + "…"


def element_ids(text: str) -> set[str]:
    try:
        root = etree.fromstring(text.encode("utf-8"),
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return set()
    return {n.get("id") for n in root.iter() if isinstance(n.tag, str) and n.get("id")}


def rule_breaks(name: str, text: str, findings: list[Finding]) -> list[str]:
    """What is wrong with the findings themselves (not with the file)."""
    broken = []
    ids = None
    for f in findings:
        where = f"{name}: {f.message[:100]!r}"
        if f.file != name:
            broken.append(f"{where} names file {f.file!r}")
        if not f.message.strip() or f.severity not in ("error", "warning"):
            broken.append(f"{where} has no message or an odd severity {f.severity!r}")
        if f.element_id is None:
            if f.severity == "error" and not any(p in f.message for p in UNIT_LEVEL):
                broken.append(f"{where} is an error without an element id")
            continue
        ids = element_ids(text) if ids is None else ids
        if f.element_id not in ids:
            broken.append(f"{where} names element {f.element_id!r}, which is not in the file")
    return broken


@cache
def results() -> dict[str, ToolResult]:
    sandbox = Sandbox()
    out = {}
    for tool in TOOLS:
        result = out[tool] = ToolResult(tool)
        for path in sorted((SUITE / tool).glob("*.bpmn")):
            source = SourceFile.read(path)
            result.files += 1
            try:
                findings = parse_unit([source], sandbox, now=NOW).findings
            except Exception as exc:  # noqa: BLE001 - recorded as a broken rule
                result.broken_rules.append(f"{path.name}: raised {exc!r}")
                continue
            result.broken_rules += rule_breaks(path.name, source.content, findings)
            errors = [f for f in findings if f.severity == "error"]
            result.kinds.update({kind_of(f.message) for f in errors})  # files, not findings
            if not errors:
                result.valid += 1
                result.valid_if_executable += 1
            elif NOT_EXECUTABLE in source.content:
                flipped = SourceFile(source.name, source.content.replace(
                    NOT_EXECUTABLE, 'isExecutable="true"'))
                if parse_unit([flipped], sandbox, now=NOW).valid:
                    result.valid_if_executable += 1
    return out


def summary_table() -> str:
    """The per-tool summary as a Markdown table (the one in docs/bpmn-support.md)."""
    rows = ["| Tool | Files | Valid as exported | Valid with isExecutable=\"true\" | "
            "Most frequent errors (files) |", "|---|---|---|---|---|"]
    total = ToolResult("All")
    for result in results().values():
        total.files += result.files
        total.valid += result.valid
        total.valid_if_executable += result.valid_if_executable
        total.kinds.update(result.kinds)
    for result in [*results().values(), total]:
        top = "; ".join(f"{kind} ({n})" for kind, n in result.kinds.most_common(3))
        name = f"**{result.tool}**" if result is total else result.tool
        rows.append(f"| {name} | {result.files} | {result.valid} | "
                    f"{result.valid_if_executable} | {top.replace('|', '/')} |")
    return "\n".join(rows)


@pytest.mark.parametrize("tool", TOOLS)
def test_every_file_validates_without_raising_and_every_finding_is_usable(tool):
    result = results()[tool]
    assert result.files > 0
    assert result.broken_rules == [], "\n".join(result.broken_rules)


def test_the_number_of_files_that_validate_clean_does_not_drop():
    table = summary_table()
    print("\n" + table)
    below = {tool: (r.valid, VALID_FLOOR.get(tool, 0)) for tool, r in results().items()
             if r.valid < VALID_FLOOR.get(tool, 0)}
    assert below == {}, f"fewer valid files than before (valid, floor):\n{below}\n{table}"
    executable = sum(r.valid_if_executable for r in results().values())
    assert executable >= EXECUTABLE_FLOOR, table
    assert sum(r.files for r in results().values()) >= 316, table


# --------------------------------------------------------------------------- end to end

REFERENCE = SUITE / "reference"
END_TO_END = [
    # (file, process to deploy, set isExecutable="true" as the finding asks)
    ("reference/A.1.0.bpmn", None, True),
    ("reference/A.4.0.bpmn", "WFP-6-1", True),
    ("reference/A.4.1.bpmn", "sid-34746A54-1D7D-46CA-B219-0C4CEAE51170", True),
    ("activiti-designer-5.14.1/A.1.0-export.bpmn", None, False),
]


def has_none_start_event(text: str, process_id: str) -> bool:
    root = etree.fromstring(text.encode("utf-8"))
    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    process = next(p for p in root.iter(f"{bpmn}process") if p.get("id") == process_id)
    return any(not any(str(child.tag).endswith("EventDefinition") for child in start)
               for start in process.findall(f"{bpmn}startEvent"))


@pytest.mark.parametrize("relative, process_id, make_executable", END_TO_END,
                         ids=[e[0] for e in END_TO_END])
def test_models_from_other_modelers_deploy_start_and_complete(engine, tmp_path, relative,
                                                               process_id, make_executable):
    source = SourceFile.read(SUITE / relative)
    text = source.content
    if make_executable:  # the reference models are descriptive: none is marked executable
        assert NOT_EXECUTABLE in text
        assert any('isExecutable="true"' in f.message for f in engine.validate([source]))
        text = text.replace(NOT_EXECUTABLE, 'isExecutable="true"')
    path = tmp_path / source.name
    path.write_text(text, encoding="utf-8")
    assert [f for f in engine.validate([path], process_id=process_id)
            if f.severity == "error"] == []
    deployed = engine.deploy([path], process_id=process_id)
    if not has_none_start_event(text, deployed.process_id):
        pytest.skip("the process has no none start event")
    instance = engine.start(deployed.process_id)
    names = {n.get("id"): n.get("name") for n in etree.fromstring(text.encode()).iter()
             if isinstance(n.tag, str) and n.get("id")}
    completed_tasks = []
    for _ in range(20):  # walk the human tasks (plain bpmn:task ones too) to the end
        tasks = engine.tasks(instance_id=instance.id)
        if not tasks:
            break
        task = tasks[0]
        assert task["title"] == (names[task["element_id"]] or task["element_id"])
        completed_tasks.append(task["element_id"])
        engine.complete(task["id"], {})
    detail = engine.instance(instance.id)
    assert detail["status"] == "completed", detail["incident"]
    ids = element_ids(text)
    done = detail["completed_elements"]
    assert len(done) >= 3 and set(done) <= ids
    assert set(completed_tasks) <= set(done)
