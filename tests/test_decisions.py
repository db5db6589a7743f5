"""Engine.decide: a deployed decision table evaluated outside any instance, by version."""

from __future__ import annotations

import pytest

from engine import InvalidInput, NotFound, SourceFile
from tests.diagram import linear
from tests.test_definitions import dmn, rule_task


def deploy(engine, cells):
    return engine.deploy([
        SourceFile("ruled.bpmn", linear("ruled", rule_task("assess", "priority_table"))),
        SourceFile("priority.dmn", dmn("priority_table", cells))])


def test_a_decision_answers_each_set_of_inputs_as_the_diagram_would(engine):
    deploy(engine, [('"roads"', '"high"'), ('"water"', '"medium"'), ("", '"low"')])
    assert engine.decide("ruled", "priority_table", {"category": "roads"},
                         {"category": "water"}, {"category": "health"}) == [
        {"priority": "high"}, {"priority": "medium"}, {"priority": "low"}]
    instance = engine.start("ruled", {"category": "water"})
    assert engine.instance(instance.id)["data"]["priority"] == "medium"


def test_no_matching_rule_decides_nothing(engine):
    deploy(engine, [('"roads"', '"high"')])
    assert engine.decide("ruled", "priority_table", {"category": "health"}) == [{}]


def test_the_latest_version_decides_unless_another_is_named(engine):
    deploy(engine, [("", '"low"')])
    deploy(engine, [("", '"high"')])
    assert engine.decide("ruled", "priority_table", {"category": "x"}) == [{"priority": "high"}]
    assert engine.decide("ruled", "priority_table", {"category": "x"}, version=1) == [
        {"priority": "low"}]


def test_an_unknown_decision_or_process_and_unstorable_inputs_are_refused(engine):
    deploy(engine, [("", '"low"')])
    with pytest.raises(NotFound, match="no decision 'nope'"):
        engine.decide("ruled", "nope", {})
    with pytest.raises(NotFound):
        engine.decide("other", "priority_table", {})
    with pytest.raises(InvalidInput):
        engine.decide("ruled", "priority_table", {"category": object()})


def test_the_script_engine_remembers_which_cells_parse_and_still_refuses_the_others():
    """SpiffWorkflow's decision tables ask whether each cell parses as Python (a cell like
    `> 3` does not, and is then read as `value > 3`); the host's answer is remembered per
    text and must stay the same answer, raised afresh each time."""
    from engine.runtime import HostScriptEngine

    script_engine = HostScriptEngine.__new__(HostScriptEngine)
    for _ in range(2):
        script_engine.validate("'roads' if severity >= 4 else 'other'")
        with pytest.raises(SyntaxError) as first:
            script_engine.validate("> 3")
        with pytest.raises(SyntaxError) as second:
            script_engine.validate("> 3")
        assert first.value is not second.value and first.value.args == second.value.args
