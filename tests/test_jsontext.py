"""engine/jsontext.py: a saved state written and read through orjson means what json's would."""
from __future__ import annotations

import enum
import json
import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine import jsontext
from engine.runtime import workflow_serializer
from tests.diagram import linear, script_task, user_task, write

ENCODER = workflow_serializer()._encoder_cls  # Spiff's, as dump_state hands it


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class Tag(str):
    pass


def _as_json_writes(value):
    """The text `json` writes for `value`, and the same for what `jsontext` wrote."""
    ours = jsontext.dumps(value, ENCODER)
    return json.dumps(json.loads(ours), cls=ENCODER), json.dumps(value, cls=ENCODER)


def test_a_plain_state_is_written_by_orjson_and_reads_back_the_same():
    state = {"data": {}, "tasks": {"a": {"id": "a", "parent": None, "children": ["b"],
                                         "last_state_change": 1796639570.31651, "state": 64,
                                         "triggered": False, "data": {"n": 2**63, "x": -0.0,
                                                                      "t": "é\u2028"}}},
             "typename": "BpmnWorkflow"}
    text = jsontext.dumps(state, ENCODER)
    assert text.startswith('{"data":{}')  # orjson's spacing (json writes '{"data": {}')
    ours, theirs = _as_json_writes(state)
    assert ours == theirs
    assert jsontext.loads(text) == state


@pytest.mark.parametrize("value", [
    float("nan"), float("inf"), -math.inf,  # orjson would write null
    uuid.UUID(int=7), Colour.RED,  # orjson would write their values; json refuses them
    2**64, -(2**63) - 1, 10**30,  # beyond orjson's 64 bits
    {1: "a", None: "b"}, (1, 2), {"s": {3}},  # keys json writes as text, a tuple, a set
    "\ud800",  # a lone surrogate
    Level.HIGH, Tag("x"), {"at": datetime(2026, 3, 2, tzinfo=UTC), "d": Decimal("1.50")},
])
def test_what_orjson_would_write_otherwise_is_written_as_json_writes_it(value):
    wrapped = {"data": {"v": value}}
    try:
        theirs = json.dumps(wrapped, cls=ENCODER)
    except TypeError as refused:
        with pytest.raises(TypeError, match=str(refused)):
            jsontext.dumps(wrapped, ENCODER)
        return
    ours = jsontext.dumps(wrapped, ENCODER)
    assert json.dumps(json.loads(ours), cls=ENCODER) == theirs
    assert json.dumps(jsontext.loads(ours), cls=ENCODER) == theirs


def test_a_circular_value_fails_as_with_json():
    looped: dict = {"a": []}
    looped["a"].append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        jsontext.dumps(looped, ENCODER)


@pytest.mark.parametrize("text", [
    '{"n": 18446744073709551616, "m": -9223372036854775809}',  # whole, not floats
    '{"x": NaN, "y": Infinity}', '{"big": 1e400}', '{"s": "\\ud800"}',
    '{"a\\":1": 2}', "[1, 2]", '{"k":\t1}',
])
def test_text_json_wrote_is_read_as_json_reads_it(text):
    assert repr(jsontext.loads(text)) == repr(json.loads(text))


def test_what_orjson_wrote_is_read_with_its_whole_numbers():
    value = {"data": {"n": 2**64 - 1, "m": -(2**63), "big": 2**64}}
    text = jsontext.dumps(value, ENCODER)
    assert jsontext.loads(text) == value
    assert type(jsontext.loads(text)["data"]["big"]) is int


def _saved_state(engine, instance_id):
    with engine.store.db.connect() as db:
        return db.exec_driver_sql(
            f"SELECT state FROM process_instance WHERE id = {int(instance_id)}").scalar()


def test_a_state_of_plain_values_is_not_read_back_to_be_written(engine, tmp_path,
                                                                  monkeypatch):
    engine.deploy([write(tmp_path, "plain.bpmn", linear(
        "plain", script_task("fill", 'n = 3\nx = 1.5\nnames = ["a", "b"]\nok = True'),
        user_task("look", "Look")))])
    reads = []
    monkeypatch.setattr(jsontext.orjson, "loads",
                        lambda text: reads.append(text) or json.loads(text))
    instance = engine.start("plain", {"note": "é"})
    assert reads == []  # the task converter vouched for every value: no read-back
    state = _saved_state(engine, instance.id)
    assert state.startswith('{"data":')  # orjson's
    assert engine.instance(instance.id)["data"] == {
        "note": "é", "n": 3, "x": 1.5, "names": ["a", "b"], "ok": True}


def test_a_state_holding_nan_is_written_as_json_writes_it(engine, tmp_path):
    if engine.store.postgres:  # (the audit event's json cast refuses NaN there, as before)
        pytest.skip("SQLite keeps a NaN in task data")
    engine.deploy([write(tmp_path, "odd.bpmn", linear(
        "odd", script_task("fill", 'text = "nan"\nx = float(text)\ny = -float("inf")'),
        user_task("look", "Look")))])
    instance = engine.start("odd")
    state = _saved_state(engine, instance.id)
    assert '"x": NaN' in state and '"y": -Infinity' in state  # json's, not orjson's null
    task = engine.instance(instance.id)["tasks"][0]
    engine.complete(task["id"], {})  # the state reads back: NaN and -inf, not None
    assert engine.instance(instance.id)["status"] == "completed"
