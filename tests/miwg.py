"""The OMG BPMN MIWG files through the studio's upload path: upload (a new draft of one file),
then validate; what happened per tool. Used by tests/test_drafts_miwg.py and
scripts/miwg-report (the README's table)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from engine import SourceFile
from workflows import access
from workflows.domain import Domain
from workflows.errors import Invalid


def _suite() -> Path:
    """Where the corpus is: ADUAN_MIWG_DIR, else beside the project in the shared folder, else
    the workplace's shared folder (a clean clone elsewhere, as CI makes, still finds it)."""
    places = [Path(os.environ["ADUAN_MIWG_DIR"])] if os.environ.get("ADUAN_MIWG_DIR") else []
    places += [Path(__file__).resolve().parents[2] / "shared" / "conformance" / "bpmn-miwg",
               Path("/work/shared/conformance/bpmn-miwg")]
    return next((p for p in places if p.is_dir()), places[0])


SUITE = _suite()
DESIGNER = access.Principal("perancang", frozenset({"process_designer"}))


def corpus() -> list[tuple[str, Path]]:
    """(tool, file) for every .bpmn file of the corpus, by tool and name."""
    return [(tool.name, path) for tool in sorted(p for p in SUITE.iterdir() if p.is_dir())
            for path in sorted(tool.glob("*.bpmn"))]


@dataclass
class ToolReport:
    tool: str
    files: int = 0
    uploaded: int = 0  # taken as a draft (the rest refused with a 4xx naming the file)
    deployable: int = 0  # no error finding
    deployed: int = 0  # and deployed by the engine
    reasons: Counter[str] = field(default_factory=Counter)  # files per kind of error
    refusals: Counter[str] = field(default_factory=Counter)  # files per upload refusal
    problems: list[str] = field(default_factory=list)  # crashes and unusable findings

    @property
    def not_deployable(self) -> int:
        return self.uploaded - self.deployable


def run(domain: Domain, *, deploy: bool = True) -> dict[str, ToolReport]:
    """Upload and validate every file of the corpus; never lets an exception through."""
    from tests.test_conformance import kind_of, rule_breaks

    reports: dict[str, ToolReport] = {}
    for tool, path in corpus():
        report = reports.setdefault(tool, ToolReport(tool))
        report.files += 1
        raw = path.read_bytes()
        try:
            draft = domain.drafts.upload(DESIGNER, [(path.name, raw)])
        except Invalid as exc:
            report.refusals.update({kind_of(str(m)) for m in exc.field_errors.values()})
            if not exc.field_errors or not all(k.startswith("files") for k in exc.field_errors):
                report.problems.append(f"{path.name}: refused without naming the file: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is what the test looks for
            report.problems.append(f"{path.name}: upload raised {exc!r}")
            continue
        report.uploaded += 1
        try:
            findings = domain.drafts.validate(DESIGNER, draft_id=draft.id)
        except Exception as exc:  # noqa: BLE001
            report.problems.append(f"{path.name}: validate raised {exc!r}")
            continue
        report.problems += rule_breaks(path.name, draft.files[path.name], findings)
        errors = [f for f in findings if f.severity == "error"]
        report.reasons.update({kind_of(f.message) for f in errors})
        if errors:
            continue
        report.deployable += 1
        if deploy:
            try:
                domain.engine.deploy([SourceFile(n, t) for n, t in draft.files.items()],
                                     deployed_by=DESIGNER.username)
                report.deployed += 1
            except Exception as exc:  # noqa: BLE001
                report.problems.append(f"{path.name}: valid but deploy raised {exc!r}")
    return reports


def table(reports: dict[str, ToolReport]) -> str:
    """The per-tool table, in Markdown."""
    rows = ["| Tool | Files | Uploaded | Deployable | Not deployable | Most common reasons "
            "(files) |", "|---|---|---|---|---|---|"]
    total = ToolReport("**All**")
    for report in reports.values():
        total.files += report.files
        total.uploaded += report.uploaded
        total.deployable += report.deployable
        total.reasons.update(report.reasons)
        total.refusals.update(report.refusals)
    for report in [*reports.values(), total]:
        reasons = [f"{kind} ({n})" for kind, n in most_common(report.reasons, 3)]
        reasons += [f"upload refused: {kind} ({n})" for kind, n in
                    most_common(report.refusals, 2)]
        rows.append(f"| {report.tool} | {report.files} | {report.uploaded} | "
                    f"{report.deployable} | {report.not_deployable} | "
                    f"{'; '.join(reasons).replace('|', '/') or '—'} |")
    return "\n".join(rows)


def most_common(counts: Counter[str], n: int) -> list[tuple[str, int]]:
    """The n most frequent, ties by name: the same table on every run."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
