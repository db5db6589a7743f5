"""Task forms (JSON Schema) never fetch anything and never stall a process on a pattern."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from engine import InvalidInput, SourceFile, ValidationFailed
from engine.definitions.forms import form_validator
from tests.diagram import linear, user_task


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server that records every request it gets."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"type": "string", "maxLength": 1}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def _unit(form: dict) -> list[SourceFile]:
    return [SourceFile("form.bpmn", linear("form", user_task("fill", form=form)))]


def _form_with_ref(ref: str) -> dict:
    return {"type": "object", "properties": {"note": {"$ref": ref}}}


def test_a_remote_reference_is_refused_at_deploy_and_nothing_is_fetched(engine, listener):
    base, asked = listener
    with pytest.raises(ValidationFailed) as failed:
        engine.deploy(_unit(_form_with_ref(f"{base}/x.json")))
    finding = failed.value.findings[0]
    assert finding.element_id == "fill"
    assert "properties/note" in finding.message and "$ref" in finding.message
    assert asked == []


def test_a_file_reference_is_refused_and_its_content_never_shown(engine, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"const": "KATA-SANDI-RAHASIA"}')
    with pytest.raises(ValidationFailed) as failed:
        engine.deploy(_unit(_form_with_ref(secret.as_uri())))
    assert "properties/note" in str(failed.value)
    assert "KATA-SANDI-RAHASIA" not in str(failed.value)


def test_validation_never_fetches_even_a_reference_that_got_in(listener, tmp_path):
    """A schema stored before the deploy check existed: checking data fetches nothing."""
    base, asked = listener
    secret = tmp_path / "secret.json"
    secret.write_text('{"const": "KATA-SANDI-RAHASIA"}')
    for ref in (f"{base}/x.json", secret.as_uri()):
        validator = form_validator(_form_with_ref(ref))
        with pytest.raises(InvalidInput) as refused:
            validator.check({"note": "ab"})
        assert "note" in refused.value.field_errors
        assert "KATA-SANDI-RAHASIA" not in str(refused.value)
    assert asked == []


def test_local_references_still_work(engine):
    form = {"type": "object", "$defs": {"short": {"type": "string", "maxLength": 3}},
            "properties": {"code": {"$ref": "#/$defs/short"}}}
    engine.deploy(_unit(form))
    task = engine.tasks(instance_id=engine.start("form").id)[0]
    with pytest.raises(InvalidInput) as refused:
        engine.complete(task["id"], {"code": "too long"})
    assert set(refused.value.field_errors) == {"code"}


CATASTROPHIC = "^(a|aa)+$"


@pytest.mark.parametrize("form", [
    {"type": "object", "properties": {"code": {"type": "string", "pattern": CATASTROPHIC}}},
    {"type": "object", "patternProperties": {CATASTROPHIC: {"type": "string"}}},
    {"type": "object", "patternProperties": {CATASTROPHIC: {"type": "string"}},
     "additionalProperties": False},
    {"type": "object", "propertyNames": {"pattern": CATASTROPHIC}},
], ids=["pattern", "patternProperties", "additionalProperties", "propertyNames"])
def test_a_catastrophic_pattern_is_checked_within_a_time_bound(form):
    validator = form_validator(form)
    hostile = "a" * 60 + "!"
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as refused:
        validator.check({"code": hostile} if "properties" in form else {hostile: "x"})
    assert time.perf_counter() - started < 5  # bounded: 0.25 s a pattern
    assert "too long to check" in str(refused.value)


def test_a_catastrophic_pattern_does_not_stall_the_other_threads():
    """The pattern runs without holding the GIL: a second thread keeps counting."""
    script = (
        "import threading, time\n"
        "from engine.definitions.forms import form_validator\n"
        f"v = form_validator({{'type': 'object', 'properties': {{'c': {{'pattern': "
        f"{CATASTROPHIC!r}}}}}}})\n"
        "ticks = [0]\n"
        "def tick():\n"
        "    end = time.monotonic() + 0.2\n"
        "    while time.monotonic() < end: ticks[0] += 1\n"
        "t = threading.Thread(target=tick); t.start()\n"
        "try:\n"
        "    v.check({'c': 'a' * 60 + '!'})\n"
        "except Exception: pass\n"
        "t.join(); print(ticks[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 1000


def test_an_invalid_pattern_is_a_deploy_finding(engine):
    with pytest.raises(ValidationFailed) as failed:
        engine.deploy(_unit({"type": "object",
                             "properties": {"code": {"type": "string", "pattern": "(["}}}))
    assert "properties/code" in str(failed.value) and "pattern" in str(failed.value)
