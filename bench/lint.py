"""What the lint rules (engine/definitions/lint.py) add to validating the shipped lifecycle.

Run from the repository root:

    python -m bench.lint    # 60 validations each way, interleaved in rounds

It parses the shipped unit (bpmn/*.bpmn, bpmn/*.dmn) with `parse_unit`, the way
`Engine.validate` does before the host's checks, alternately with the lint rules and with
them switched off, and times the rules alone on the lifecycle's tree. The LAST line is one
JSON object with the medians in milliseconds.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

import engine.definitions as definitions
from engine.definitions import SourceFile, parse_unit
from engine.definitions.lint import lint_bpmn
from engine.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]


def main(rounds: int = 6, per_round: int = 10) -> dict[str, float]:
    files = [SourceFile.read(p) for p in sorted((ROOT / "bpmn").iterdir())
             if p.suffix in (".bpmn", ".dmn")]
    sandbox, now = Sandbox(), datetime(2026, 3, 2, tzinfo=UTC)
    real = definitions.lint_bpmn
    timings: dict[str, list[float]] = {"with": [], "without": []}
    parse_unit(files, sandbox, now=now)  # warm up: the schema, the sandbox
    try:
        for _ in range(rounds):
            for way in ("with", "without"):
                definitions.lint_bpmn = real if way == "with" else (lambda *a, **k: [])
                for _ in range(per_round):
                    started = time.perf_counter()
                    parse_unit(files, sandbox, now=now)
                    timings[way].append(time.perf_counter() - started)
    finally:
        definitions.lint_bpmn = real
    tree = etree.parse(str(ROOT / "bpmn" / "complaint_lifecycle.bpmn")).getroot()
    alone = []
    for _ in range(200):
        started = time.perf_counter()
        lint_bpmn(tree, "complaint_lifecycle.bpmn")
        alone.append(time.perf_counter() - started)
    figures = {
        "validate_with_lint_ms": statistics.median(timings["with"]) * 1000,
        "validate_without_lint_ms": statistics.median(timings["without"]) * 1000,
        "lint_alone_ms": statistics.median(alone) * 1000,
    }
    for name, value in figures.items():
        print(f"{name}: {value:.1f}")
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))
    return figures


if __name__ == "__main__":
    main()
