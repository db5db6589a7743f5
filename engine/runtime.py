"""SpiffWorkflow host glue: clocked timers, the sandboxed script engine and spec-less state."""

from __future__ import annotations

import ast
import functools
import json
import re
import sys
import threading
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import (
    TimerConditionalEventDefinitionConverter,
)
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine import jsontext
from engine.clock import Clock
from engine.errors import N_, EngineError, InvalidInput, Message
from engine.operation import current_operation
from engine.sandbox import Sandbox
from engine.taskcodec import HostTaskConverter, MemoizedIds, uuid_of
from engine.taskstate import install as install_task_state
from engine.tasktree import HostEndJoin, HostWorkflow, use_host_end_joins

DIAGRAM_FILENAME = "<diagram>"
install_task_state()  # state changes without unread log details (engine/taskstate.py)


# --------------------------------------------------------------------------- timers


def _now(my_task: Any) -> datetime:
    """'Now' as the host's clock says, reached through the workflow's script engine."""
    engine = my_task.workflow.script_engine
    clock = getattr(engine, "clock", None)
    if clock is None:
        raise EngineError("timer evaluated without the engine's clock (internal error)")
    return clock.now()


NOT_A_DURATION = N_('timer %(timer)r: %(value)r is not an ISO 8601 duration; write e.g. "PT2H"')
NOT_A_CYCLE = N_('timer %(timer)r: %(value)r is not an ISO 8601 repeating interval; '
                 'write e.g. "R3/PT1H"')


def parse_instant(value: Any, element_id: str) -> datetime:
    """An ISO 8601 instant with a UTC offset; a naive or malformed value is the diagram's error."""
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            instant = datetime.fromisoformat(text)
        except ValueError as exc:
            raise EngineError(N_('timer %(timer)r: %(value)r is not an ISO 8601 date-time; '
                                 'write e.g. "2026-03-02T09:00:00+08:00"'),
                              timer=element_id, value=value) from exc
    else:
        raise EngineError(N_("timer %(timer)r: expected an ISO 8601 string, got %(type)s"),
                          timer=element_id, type=type(value).__name__)
    if instant.tzinfo is None:
        raise EngineError(N_('timer %(timer)r: %(value)r has no UTC offset; add one, '
                             'e.g. "2026-03-02T09:00:00+08:00"'), timer=element_id, value=value)
    return instant.astimezone(UTC)


def parse_duration(value: Any, element_id: str, start: datetime) -> datetime:
    """The instant an ISO 8601 duration after `start`."""
    if not isinstance(value, str) or not value.strip().upper().startswith("P"):
        raise EngineError(NOT_A_DURATION, timer=element_id, value=value)
    try:
        parsed = TimerEventDefinition.parse_iso_duration(value.strip())
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    except Exception as exc:  # Spiff raises a bare Exception for a bad duration
        raise EngineError(NOT_A_DURATION, timer=element_id, value=value) from exc


def parse_cycle(value: Any, element_id: str, now: datetime) -> dict[str, Any]:
    """An ISO 8601 repeating interval (R[n]/[start/]duration) as cycles, next and period."""
    if not isinstance(value, str) or not value.strip().upper().startswith("R"):
        raise EngineError(NOT_A_CYCLE, timer=element_id, value=value)
    parts = value.strip().upper().split("/")
    count = parts[0][1:]
    cycles = int(count) if count.isdigit() else -1
    try:
        if len(parts) == 2:
            period = parse_duration(parts[1], element_id, now) - now
            first = now + period
        elif len(parts) == 3 and parts[1].startswith("P"):
            end = parse_instant(parts[2], element_id)
            period = parse_duration(parts[1], element_id, end) - end
            first = end - period
        elif len(parts) == 3:
            first = parse_instant(parts[1], element_id)
            period = parse_duration(parts[2], element_id, first) - first
        else:
            raise ValueError(value)
    except (ValueError, EngineError) as exc:
        raise EngineError(NOT_A_CYCLE, timer=element_id, value=value) from exc
    if period.total_seconds() <= 0:
        raise EngineError(N_("timer %(timer)r: the period of %(value)r must be positive"),
                          timer=element_id, value=value)
    return {"cycles": cycles, "next": first.isoformat(), "duration": period.total_seconds()}


def _evaluate_timer(my_task: Any, expression: str) -> Any:
    return my_task.workflow.script_engine.evaluate(my_task, expression)


def _timer_failed(my_task: Any, exc: EngineError) -> WorkflowTaskException:
    """A timer whose value is unusable fails its own task, so it becomes an incident there."""
    my_task._set_state(TaskState.ERROR)
    return WorkflowTaskException(str(exc), task=my_task, exception=exc)


class ClockedTimeDate(TimeDateEventDefinition):
    """A timeDate timer that reads 'now' from the host clock and insists on an offset."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            value = _evaluate_timer(my_task, self.expression)
            try:
                event_value = parse_instant(value, my_task.task_spec.bpmn_id).isoformat()
            except EngineError as exc:
                raise _timer_failed(my_task, exc) from exc
            my_task._set_internal_data(event_value=event_value)
        if datetime.fromisoformat(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedDuration(DurationTimerEventDefinition):
    """A timeDuration timer that starts counting from the host clock's 'now'."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        now = _now(my_task)
        if event_value is None:
            value = _evaluate_timer(my_task, self.expression)
            try:
                event_value = parse_duration(value, my_task.task_spec.bpmn_id, now).isoformat()
            except EngineError as exc:
                raise _timer_failed(my_task, exc) from exc
            my_task._set_internal_data(event_value=event_value)
        if datetime.fromisoformat(event_value) <= now:
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedCycle(CycleTimerEventDefinition):
    """A timeCycle timer stepping by the host clock's 'now'."""

    def cycle_complete(self, my_task: Any) -> bool:
        now = _now(my_task)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            value = _evaluate_timer(my_task, self.expression)
            try:
                event_value = parse_cycle(value, my_task.task_spec.bpmn_id, now)
            except EngineError as exc:
                raise _timer_failed(my_task, exc) from exc
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event <= now:
                # Fire once, however many periods were missed; they count as used.
                period = timedelta(seconds=event_value["duration"])
                missed = int((now - next_event) / period) + 1
                event_value["next"] = (next_event + missed * period).isoformat()
                if event_value["cycles"] > 0:
                    event_value["cycles"] = max(event_value["cycles"] - missed, 0)
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


_CLOCKED = {
    TimeDateEventDefinition: ClockedTimeDate,
    DurationTimerEventDefinition: ClockedDuration,
    CycleTimerEventDefinition: ClockedCycle,
}


def _clock_definition(definition: Any) -> None:
    replacement = _CLOCKED.get(type(definition))
    if replacement is not None:
        definition.__class__ = replacement
    if isinstance(definition, MultipleEventDefinition):
        for inner in definition.event_definitions:
            _clock_definition(inner)


def use_host_clock(specs: Iterable[Any]) -> None:
    """Make every timer of these process specs read the host clock instead of the system's."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if definition is not None:
                _clock_definition(definition)


# --------------------------------------------------------------------------- scripts


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Spiff's script environment, with every expression and script run in the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        return self.sandbox.evaluate(expression, context, external_context)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        self.sandbox.execute(script, context, external_context)
        return True


class ServiceCallError(EngineError):
    """A host service called from a service task failed; the message is the service's own."""


@functools.lru_cache(maxsize=4096)
def _syntax_problem(expression: str) -> tuple | None:
    """The arguments of the SyntaxError parsing `expression` raises, None when it parses."""
    try:
        ast.parse(expression)
    except SyntaxError as exc:
        return exc.args
    return None


class HostScriptEngine(PythonScriptEngine):
    """Evaluates diagram code in the sandbox, calls host services, and carries the clock."""

    def __init__(
        self,
        sandbox: Sandbox,
        services: Mapping[str, Callable[..., Any]],
        clock: Clock,
        replayable: Collection[str] = frozenset(),
    ) -> None:
        super().__init__(environment=SandboxEnvironment(sandbox))
        self.services = services
        self.clock = clock
        self.replayable = replayable

    def call_service(self, task: Any, operation_name: str = "", operation_params: Any = None,
                     **_: Any) -> str:
        service = self.services.get(operation_name)
        if service is None:
            raise WorkflowTaskException(
                f"service {operation_name!r} is not registered by the host", task=task
            )
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        operation = current_operation()
        try:
            if operation is None:
                result = service(**params)
            elif not operation.careful and operation_name in self.replayable:
                # one savepoint for the operation's services (InstanceTransaction.run)
                if operation.savepoint is None and operation.shared_savepoint:
                    operation.write_staged()  # the rows before it stand whatever happens
                    operation.savepoint = operation.session.begin_nested()
                try:
                    result = service(**params)
                except Exception:
                    operation.tainted = True  # its rows cannot be undone alone: replay
                    raise
            else:  # a failing service leaves no half-written rows behind
                operation.careful = True  # (and from here on the operation is not replayed)
                operation.write_staged()  # the rows before it, outside its savepoint
                try:
                    with operation.session.begin_nested():
                        result = service(**params)
                        operation.write_staged()  # its own rows, inside its savepoint
                except Exception:
                    operation.staged.clear()  # its own rows, not written
                    operation.memo.clear()  # the host's rows of it may be rolled back
                    raise
        except Exception as exc:
            raise WorkflowTaskException(
                f"service {operation_name!r} failed: {exc}", task=task, exception=exc
            ) from exc
        try:
            return json.dumps(result, default=json_default)
        except (TypeError, ValueError, RecursionError) as exc:
            raise WorkflowTaskException(
                f"service {operation_name!r} returned a value that is not JSON: {exc}", task=task
            ) from exc

    def validate(self, expression: str) -> None:
        """Raise SyntaxError unless `expression` parses as Python. SpiffWorkflow's decision
        tables ask this of every cell they evaluate (a complaint's lifecycle: about a
        hundred times); the answer is remembered per text."""
        problem = _syntax_problem(expression)
        if problem is not None:
            raise SyntaxError(*problem)

    def get_error_line_number_and_content(self, script: str, err: Exception) -> tuple[int, str]:
        line_number = 0
        if isinstance(err, SyntaxError):
            line_number = err.lineno or 0
        else:
            for frame in traceback.extract_tb(sys.exc_info()[2]):
                if frame.filename == DIAGRAM_FILENAME:
                    line_number = frame.lineno or 0
        lines = script.splitlines()
        error_line = lines[line_number - 1] if 0 < line_number <= len(lines) else ""
        return line_number, error_line


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# --------------------------------------------------------------------------- serialization


class SpeclessWorkflowConverter(MemoizedIds, BpmnWorkflowConverter):
    """Saves a workflow without its spec; the spec is stored once per definition version.
    Task ids are parsed and printed through engine/taskcodec.py's memo."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None,
                  subprocess_specs: Mapping[str, Any] | None = None) -> BpmnWorkflow:
        workflow = HostWorkflow(spec, dict(subprocess_specs or {}), deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], uuid_of, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(uuid_of(dct["root"]))
        self.set_default_attributes(workflow, dct)
        if dct["subprocesses"]:  # (Spiff's looks at every task for one to restore)
            self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _registry() -> DefaultRegistry:
    config = deepcopy(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    config[Task] = HostTaskConverter
    for cls in _CLOCKED.values():
        config[cls] = TimerConditionalEventDefinitionConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # saved under BpmnWorkflow's name: states stay readable by Spiff itself, and old ones load
    registry.typenames[HostWorkflow] = registry.typenames[BpmnWorkflow]
    registry.typenames[HostEndJoin] = registry.typenames[_EndJoin]  # (as its specs are)
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]),
        typename="date",
    )
    registry.register(
        Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]), typename="Decimal"
    )
    return registry


_local = threading.local()


def workflow_serializer() -> BpmnWorkflowSerializer:
    """One serializer per thread: Spiff's registry keeps per-call state in an attribute."""
    serializer = getattr(_local, "serializer", None)
    if serializer is None:
        serializer = BpmnWorkflowSerializer(registry=_registry())
        _local.serializer = serializer
    return serializer


def dump_state(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON, without its spec (jsontext.py: orjson's text as is when
    the task converter vouched for every task's values and the rest is plain)."""
    serializer = workflow_serializer()
    registry, codec = serializer.registry, HostTaskConverter.vouching(serializer.registry)
    registry._encoder_mode = True
    try:
        dct = registry.convert(workflow)
        vouched = codec is not None and not codec.unvouched and jsontext.plain(dct, "tasks")
        return jsontext.dumps(dct, serializer._encoder_cls, vouched)
    finally:
        registry._encoder_mode = False


def load_state(state: str, spec: Any, subprocess_specs: Mapping[str, Any],
               script_engine: HostScriptEngine) -> BpmnWorkflow:
    """A workflow rebuilt from its saved state and its definition's (shared) specs."""
    workflow = workflow_serializer().registry.restore(
        jsontext.loads(state), spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow


def dump_specs(spec: BpmnProcessSpec, subprocess_specs: Mapping[str, Any]) -> str:
    registry = workflow_serializer().registry
    return json.dumps({
        "spec": registry.convert(spec),
        "subprocess_specs": {name: registry.convert(s) for name, s in subprocess_specs.items()},
    })


def load_specs(text: str) -> tuple[Any, dict[str, Any]]:
    dct = json.loads(text)
    registry = workflow_serializer().registry
    spec = registry.restore(dct["spec"])
    subprocess_specs = {name: registry.restore(s) for name, s in dct["subprocess_specs"].items()}
    use_host_clock([spec, *subprocess_specs.values()])
    use_host_end_joins([spec, *subprocess_specs.values()])
    return spec, subprocess_specs


# --------------------------------------------------------------------------- data boundary

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Text no database stores alike: PostgreSQL refuses NUL, a lone surrogate is not UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_DATA_DEPTH = 64  # levels of nesting of a workflow's data


def check_task_data(data: Any, what: str = "data") -> dict[str, Any]:
    """Data entering a workflow: a JSON object whose keys are usable as diagram variables."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput("%(what)s must be a JSON object, got %(type)s", what=what,
                           type=type(data).__name__)
    errors: dict[str, str] = {}
    for key in data:
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            errors[str(key)] = Message(
                "field names must start with a letter and hold only letters, digits and '_'")
    _check_value(data, what, errors)
    if errors:
        raise InvalidInput("%(what)s cannot be stored: %(errors)s", errors, what=what,
                           errors="; ".join(f"{k}: {v}" for k, v in errors.items()))
    return data


def _check_value(value: Any, path: str, errors: dict[str, str], depth: int = 0) -> None:
    if depth > MAX_DATA_DEPTH:
        errors[path] = Message("nested more than %(n)s levels deep", n=MAX_DATA_DEPTH)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "typename":
                errors[f"{path}.typename"] = "'typename' is a reserved key; rename it"
            if not isinstance(key, str):
                errors[f"{path}.{key}"] = "object keys must be strings"
            _check_value(item, f"{path}.{key}", errors, depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]", errors, depth + 1)
    elif isinstance(value, str) and _UNSTORABLE.search(value):
        errors[path] = Message("text with a NUL character or a lone surrogate cannot be "
                               "stored")
    elif value is None or isinstance(value, str | int | float | bool | datetime | date | Decimal):
        return
    else:
        errors[path] = f"values of type {type(value).__name__} cannot be stored"
