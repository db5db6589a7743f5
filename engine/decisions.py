"""Deciding with DMN tables outside any instance: a deployed definition's (what a host shows
before the diagram decides: the working days a step will get, for a form's help text), or a
unit's that is not deployed (what a host previews before deploying it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.clock import Clock
from engine.definitions import SourceFile
from engine.deployments import Deployments
from engine.errors import Finding, Message, NotFound, ValidationFailed
from engine.recent import Recent
from engine.runtime import check_task_data
from engine.store import ProcessDefinition, Store
from engine.transaction import InstanceTransaction

ANSWERS_KEPT = 1024


@dataclass
class _Inputs:
    """What a decision table reads of a task: its data, and the script engine of its workflow
    (the sandbox evaluates every cell, as in an instance)."""

    data: dict[str, Any]
    workflow: Any


@dataclass(eq=False)
class Decisions:
    """Evaluates a decision of the latest (or a given) deployed version of a process."""

    store: Store
    clock: Clock
    deployments: Deployments
    transaction: InstanceTransaction
    _tables: dict[tuple[int, str], Any] = field(default_factory=dict)
    # A decision is a function of its inputs (DMN): answers are kept per version and inputs.
    _answers: Recent[tuple[int, str, str], dict[str, Any]] = field(
        default_factory=lambda: Recent(ANSWERS_KEPT))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, process_id: str, decision_id: str, inputs: Sequence[Mapping[str, Any]],
               version: int | None = None) -> list[dict[str, Any]]:
        """The outputs of the decision for each set of inputs (the first matching rule's, or
        each rule's for a COLLECT table; {} when no rule matches), in one read."""
        checked = [check_task_data(dict(data), "decision inputs") for data in inputs]
        with self.store.read() as session:
            row = self.deployments.find(session, process_id, version)
            table = self._tables.get((row.id, decision_id))
            if table is None:
                files = session.get(ProcessDefinition, row.id).files
                table = self._table(files, process_id, row.version, decision_id)
                with self._lock:
                    self._tables[(row.id, decision_id)] = table
        workflow = None  # a script engine only when something must be evaluated
        found = []
        for data in checked:
            key = (row.id, decision_id, json.dumps(data, sort_keys=True, default=str))
            answer = self._answers.get(key)
            if answer is None:
                workflow = workflow or SimpleNamespace(
                    script_engine=self.transaction.script_engine(self.clock.now()))
                answer = dict(table.result(_Inputs(data, workflow)))
                self._answers.put(key, answer)
            found.append(dict(answer))
        return found

    def decide_unit(self, files: Iterable[SourceFile | str | Path], decision_id: str,
                    inputs: Sequence[Mapping[str, Any]], process_id: str | None = None
                    ) -> list[dict[str, Any]]:
        """The outputs of a decision of a unit that is not deployed, for each set of inputs.

        The unit is parsed and checked exactly as `deploy` would (the engine's checks and the
        host's checks of its process); nothing is stored. A unit that could not be deployed
        raises ValidationFailed with its errors; so does a cell that fails on these inputs
        (the finding names the decision). Identical inputs are evaluated once.
        """
        checked = [check_task_data(dict(data), "decision inputs") for data in inputs]
        unit = self.deployments.parse(files, process_id)
        if not unit.valid:
            raise ValidationFailed([f for f in unit.findings if f.severity == "error"])
        sources = {f.name: f.content for f in unit.files}
        dmn_file = next((name for name, tree in unit.trees.items()
                         if any(node.get("id") == decision_id for node in tree.iter()
                                if isinstance(node.tag, str))), None)
        if dmn_file is None:
            raise ValidationFailed([Finding(
                unit.files[0].name if unit.files else "(no files)", decision_id, "error",
                Message("the unit has no decision %(decision)r; add it, or keep its .dmn file "
                        "in the unit", decision=decision_id))])
        table = self._table(sources, unit.process_id or "", 0, decision_id)
        workflow = SimpleNamespace(script_engine=self.transaction.script_engine(
            self.clock.now()))
        answers: dict[str, dict[str, Any]] = {}
        found = []
        for data in checked:
            key = json.dumps(data, sort_keys=True, default=str)
            if key not in answers:
                try:
                    answers[key] = dict(table.result(_Inputs(data, workflow)))
                except Exception as exc:  # a designer's cell may fail in any way
                    raise ValidationFailed([Finding(
                        dmn_file, decision_id, "error", Message(
                            "the decision cannot be evaluated for %(inputs)s: %(detail)s; "
                            "check the table's input expressions and cells", inputs=key,
                            detail=getattr(exc, "message", None) or str(exc)))]) from exc
            found.append(dict(answers[key]))
        return found

    @staticmethod
    def _table(files: Mapping[str, str], process_id: str, version: int, decision_id: str
               ) -> Any:
        parser = SpiffBpmnParser(validator=None)
        for name, text in sorted(files.items()):
            if name.endswith(".dmn"):
                parser.add_dmn_str(text.encode("utf-8"), filename=name)
        try:
            return parser.get_engine(decision_id, None)
        except ValidationException as exc:
            raise NotFound(f"version {version} of {process_id} has no decision "
                           f"{decision_id!r}") from exc
