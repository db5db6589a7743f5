"""Aduan's embedded BPMN engine: durable, versioned process instances over SpiffWorkflow.

The engine knows BPMN, never complaints. Its public surface is re-exported here.
"""

from engine.clock import Clock, FixedClock, FrozenClock, OffsetClock, SystemClock
from engine.core import Deployment, Engine, InstanceSummary
from engine.definitions import SourceFile
from engine.errors import (
    Conflict,
    EngineError,
    Finding,
    InvalidInput,
    MigrationRefused,
    NotFound,
    TaskNotOpen,
    TimeTravelRefused,
    ValidationFailed,
)
from engine.operation import InstanceChange, Operation, current_operation
from engine.sweep import SweepReport

__all__ = [
    "Clock",
    "Conflict",
    "Deployment",
    "Engine",
    "EngineError",
    "Finding",
    "FixedClock",
    "FrozenClock",
    "InstanceChange",
    "InstanceSummary",
    "InvalidInput",
    "MigrationRefused",
    "NotFound",
    "OffsetClock",
    "Operation",
    "SourceFile",
    "SweepReport",
    "SystemClock",
    "TaskNotOpen",
    "TimeTravelRefused",
    "ValidationFailed",
    "current_operation",
]
