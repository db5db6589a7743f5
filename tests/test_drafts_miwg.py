"""Other modelers' files through the studio's upload path: the OMG BPMN MIWG corpus.

Every .bpmn file of /work/shared/conformance/bpmn-miwg (316 files from 11 modeling tools)
is uploaded as a new draft and validated with the drafts' use cases (tests/miwg.py): none may
raise; each is deployable (and then deployed) or has findings naming its element (or the whole
unit) and the reason. One file per tool also goes through HTTP: upload, the check page and
the modeler's validate endpoint, never a 500. Where the corpus is absent (a clone elsewhere)
the module is skipped, as tests/test_conformance.py is.
"""

from __future__ import annotations

import io
import re
from functools import cache

import pytest

from tests.miwg import SUITE, corpus, run, table

if not SUITE.is_dir():
    pytest.skip(f"the MIWG conformance files are not at {SUITE}", allow_module_level=True)

# Files deployable as exported, per tool, measured on 2026-12-06; raise when support grows.
DEPLOYABLE_FLOOR = {"activiti-designer-5.14.1": 1, "aris-10.2025.07": 2, "bonita-7.2.3": 2,
                    "bpmn-io-camunda-modeler-18.6.1": 3, "trisotech-12.6.3": 1, "yaoqiang-4.0": 1}


@pytest.fixture(scope="module")
def reports(tmp_path_factory, sqlite_template):
    import shutil

    from engine import Engine, FrozenClock
    from tests.conftest import START
    from workflows.config import RegencyConfig
    from workflows.domain import Domain
    from workflows.storage import Storage

    folder = tmp_path_factory.mktemp("miwg")
    shutil.copyfile(sqlite_template, folder / "aduan.db")
    engine = Engine(f"sqlite:///{folder / 'aduan.db'}", clock=FrozenClock(START))
    config = RegencyConfig()
    domain = Domain(engine, config, Storage(folder / "uploads", config.max_attachment_bytes))
    try:
        yield run(domain)
    finally:
        engine.dispose()


def test_every_file_uploads_and_validates_without_a_crash_and_with_usable_findings(reports):
    print("\n" + table(reports))
    problems = [p for report in reports.values() for p in report.problems]
    assert problems == [], "\n".join(problems[:40])
    assert sum(r.files for r in reports.values()) >= 316
    for report in reports.values():
        assert report.files > 0
        # each file is taken, or refused with a reason naming it (counted in refusals)
        assert report.uploaded + sum(report.refusals.values()) >= report.files, report
        assert report.deployed == report.deployable


def test_files_that_deploy_as_exported_do_not_drop(reports):
    below = {tool: (reports[tool].deployable, floor) for tool, floor in DEPLOYABLE_FLOOR.items()
             if reports[tool].deployable < floor}
    assert below == {}, table(reports)


@cache
def one_file_per_tool() -> list[tuple[str, object]]:
    first: dict[str, object] = {}
    for tool, path in corpus():
        first.setdefault(tool, path)
    return sorted(first.items())


@pytest.mark.parametrize("tool, path", one_file_per_tool(), ids=lambda v: getattr(v, "name", v))
def test_one_file_per_tool_through_http_never_gets_a_500(site, tool, path):
    site.login("perancang")
    response = site.post("/studio/drafts/upload", {
        "files": [(io.BytesIO(path.read_bytes()), path.name)]},
        content_type="multipart/form-data")
    assert response.status_code in (302, 422), site.text(response)[:500]
    if response.status_code == 422:
        assert path.name in site.text(response)
        return
    draft_id = int(re.search(r"/studio/drafts/(\d+)", response.headers["Location"]).group(1))
    page = site.text(site.get(response.headers["Location"]))
    assert 'id="draft-deployable"' in page or 'id="draft-not-deployable"' in page
    checked = site.client.post(f"/studio/drafts/{draft_id}/validate", json={},
                               headers={"X-CSRF-Token": site.csrf()})
    assert checked.status_code == 200
    body = checked.get_json()
    assert body["valid"] == ('id="draft-deployable"' in page)
    for finding in body["findings"]:
        assert finding["file"] == path.name and finding["message"]
