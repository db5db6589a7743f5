"""Schemathesis over the API's own OpenAPI document: every operation, with valid and with
invalid data, without a token and with an officer's, on SQLite and PostgreSQL. Every check
schemathesis has runs on every answer (no 5xx, status codes, content types, headers and
bodies as documented, invalid data refused, valid data accepted, auth enforced), with the
two exceptions named in EXCLUDED. Deterministic (derandomized) and bounded: EXAMPLES cases
per operation and mode. The fuzzer writes into the test's own regency (a copied SQLite
file, or the worker's PostgreSQL database truncated first)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator, FormatChecker
from schemathesis import GenerationMode

from engine import FrozenClock
from tests.conftest import BACKENDS, START, PostgresDatabase
from web.api import api

EXAMPLES = 10  # cases per operation and mode (31 operations, 2 modes, 4 targets): ~25 s
TARGETS = [(backend, who) for backend in BACKENDS for who in (None, "admin.kominfo")]
OPERATIONS = [(op.method, op.path) for op in api.operations]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def excluded(path: str, case: Any) -> list[Any]:
    """Checks that cannot hold for a case, and why (every other check runs):
    - the statistics' parameters have rules across parameters (a year, or a from/to range
      ending after it starts) that an OpenAPI document cannot state for query parameters,
      so schema-valid queries may rightly be refused with 422;
    - schemathesis serializes the multipart field `data` (a JSON object, as the document
      says) as arbitrary text at times, so 'valid' multipart bodies are not valid JSON."""
    if path.startswith("/stats") or case.media_type == "multipart/form-data":
        return [schemathesis.checks.positive_data_acceptance]
    return []


@pytest.fixture(scope="module", params=TARGETS,
                ids=[f"{backend}-{who or 'anonymous'}" for backend, who in TARGETS])
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           sqlite_template: Path, postgres_database: PostgresDatabase | None
           ) -> Iterator[tuple[Any, dict[str, str]]]:
    """The API's document loaded over WSGI from a demo regency with one report, and the
    headers of the caller (none, or an officer's bearer token)."""
    from tests.regency import build

    backend, who = request.param
    folder = tmp_path_factory.mktemp("fuzz")
    if backend == "sqlite":
        shutil.copyfile(sqlite_template, folder / "aduan.db")
        url = f"sqlite:///{folder / 'aduan.db'}"
    else:
        assert postgres_database is not None
        postgres_database.truncate()
        url = postgres_database.url
    regency = build(url, FrozenClock(START), folder)
    regency.submit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json",
                                            regency.client.application)
    yield schema, regency.headers(who)
    regency.engine.dispose()


@pytest.mark.parametrize("mode", MODES, ids=["valid", "invalid"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS,
                         ids=[f"{method} {path}" for method, path in OPERATIONS])
def test_every_operation_answers_as_its_document_says(fuzzed, method, path, mode):
    schema, headers = fuzzed
    operation = schema[path][method]
    raw = operation.definition.raw
    if mode == GenerationMode.NEGATIVE and not raw.get("parameters") and (
            "requestBody" not in raw):
        pytest.skip("nothing of this operation can be made invalid")

    cases = operation.as_strategy(generation_mode=mode)
    body_schema = raw.get("requestBody", {}).get("content", {}).get(
        "application/json", {}).get("schema")
    if mode == GenerationMode.POSITIVE and body_schema is not None:
        # The generator at times breaks a pattern's negated class (a NUL in free text):
        # 'valid' cases are those the document's schema accepts.
        valid = Draft202012Validator(body_schema, format_checker=FormatChecker())
        cases = cases.filter(lambda case: case.media_type != "application/json"
                             or valid.is_valid(case.body))

    @given(case=cases)
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def answers(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded(path, case))

    answers()
