"""The studio's drafts as use cases (workflows/drafts.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import inspect
import io
import threading
import zipfile

import pytest

from engine import SourceFile
from tests.diagram import linear, script_task
from workflows import access
from workflows import diagram_ids as ids
from workflows.config import RegencyConfig
from workflows.domain import Domain
from workflows.drafts import MAX_FILE_BYTES, MAX_FILES, MAX_XML_DEPTH
from workflows.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.lifecycle import BPMN_DIR, SERVICE_DOCS
from workflows.storage import Storage

DESIGNER = access.Principal("perancang", frozenset({"process_designer"}))
OTHER_DESIGNER = access.Principal("perancang.dua", frozenset({"process_designer"}))
ADMIN = access.Principal("admin.kominfo", frozenset({"regency_admin"}))
OFFICER = access.Principal("teknis.binamarga", frozenset({"technical_officer"}))

SMALL = linear("small", script_task("work", "x = 1"))


@pytest.fixture
def domain(make_engine, tmp_path) -> Domain:
    engine = make_engine()
    config = RegencyConfig()
    return Domain(engine, config, Storage(tmp_path / "uploads", config.max_attachment_bytes))


def shipped(name: str) -> str:
    return (BPMN_DIR / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- create, read


def test_a_draft_of_the_shipped_lifecycle_holds_its_three_files_and_validates_clean(domain):
    draft = domain.drafts.create(DESIGNER)
    assert draft.file_names == sorted(ids.DEPLOYMENT_FILES)
    assert draft.files[ids.BPMN_FILE] == shipped(ids.BPMN_FILE)
    assert (draft.process_id, draft.version, draft.based_on_version) == (ids.PROCESS_ID, 1, None)
    assert draft.created_by == draft.saved_by == "perancang"
    assert draft.name == "complaint_lifecycle as shipped"
    errors = [f for f in domain.drafts.validate(ADMIN, draft_id=draft.id)
              if f.severity == "error"]
    assert errors == []
    assert [d.id for d in domain.drafts.list(ADMIN)] == [draft.id]


def test_a_draft_of_a_deployed_version_holds_that_versions_files(domain):
    domain.engine.deploy([SourceFile("small.bpmn", SMALL)])
    changed = SMALL.replace("x = 1", "x = 2")
    domain.engine.deploy([SourceFile("small.bpmn", changed)])
    assert [s["version"] for s in domain.drafts.sources(ADMIN)] == [None, 2, 1]
    draft = domain.drafts.create(DESIGNER, process_id="small", from_version=1, name="Kecil")
    assert draft.files == {"small.bpmn": SMALL}
    assert (draft.name, draft.based_on_version, draft.process_id) == ("Kecil", 1, "small")
    with pytest.raises(NotFound):
        domain.drafts.create(DESIGNER, process_id="small", from_version=7)
    for odd in ("small\x00", "x" * 201):  # PostgreSQL could not even compare them
        with pytest.raises(Invalid):
            domain.drafts.create(DESIGNER, process_id=odd, from_version=1)


# --------------------------------------------------------------------------- saving


def test_a_save_counts_up_the_version_and_says_who_saved(domain, clock):
    draft = domain.drafts.create(DESIGNER)
    files = {**draft.files, ids.BPMN_FILE: draft.files[ids.BPMN_FILE].replace(
        "Verifikasi", "Periksa", 1)}
    clock.advance(minutes=5)
    saved = domain.drafts.save(OTHER_DESIGNER, draft.id, 1, files)
    assert (saved.version, saved.saved_by, saved.created_by) == (2, "perancang.dua", "perancang")
    assert (saved.saved_at - saved.created_at).total_seconds() == 300
    assert domain.drafts.get(ADMIN, draft.id).files == files


def test_a_save_from_an_old_version_is_refused_and_keeps_the_winners_files(domain):
    draft = domain.drafts.create(DESIGNER)
    mine = {"small.bpmn": SMALL}
    domain.drafts.save(OTHER_DESIGNER, draft.id, 1, mine)
    with pytest.raises(Conflict) as refused:
        domain.drafts.save(DESIGNER, draft.id, 1, {"other.bpmn": SMALL})
    assert "perancang.dua saved this draft" in str(refused.value)
    assert domain.drafts.get(ADMIN, draft.id).files == mine


def test_of_two_concurrent_saves_from_the_same_version_one_wins_and_one_gets_a_conflict(
        domain):
    draft = domain.drafts.create(DESIGNER)
    contents = {name: {"small.bpmn": SMALL.replace("x = 1", f"x = '{name}'")}
                for name in ("a", "b", "c", "d")}
    barrier = threading.Barrier(len(contents))
    outcomes: dict[str, str] = {}

    def save(name: str) -> None:
        barrier.wait()
        try:
            domain.drafts.save(DESIGNER, draft.id, 1, contents[name])
            outcomes[name] = "saved"
        except Conflict:
            outcomes[name] = "conflict"

    threads = [threading.Thread(target=save, args=(name,)) for name in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, outcome in outcomes.items() if outcome == "saved"]
    assert len(winners) == 1 and sorted(outcomes.values()).count("conflict") == 3, outcomes
    stored = domain.drafts.get(ADMIN, draft.id)
    assert stored.version == 2 and stored.files == contents[winners[0]]


def test_rename_delete_and_remove_a_file(domain):
    draft = domain.drafts.create(DESIGNER)
    assert domain.drafts.rename(DESIGNER, draft.id, "  Anggaran 2 hari ").name == "Anggaran 2 hari"
    fewer = domain.drafts.remove_file(DESIGNER, draft.id, ids.ROUTING_DMN_FILE)
    assert ids.ROUTING_DMN_FILE not in fewer.files and fewer.version == 2
    with pytest.raises(NotFound):
        domain.drafts.remove_file(DESIGNER, draft.id, "nothing.bpmn")
    with pytest.raises(Conflict):
        domain.drafts.remove_file(DESIGNER, draft.id, ids.DEADLINES_DMN_FILE, version=1)
    domain.drafts.delete(DESIGNER, draft.id)
    with pytest.raises(NotFound):
        domain.drafts.get(ADMIN, draft.id)
    with pytest.raises(NotFound):
        domain.drafts.delete(DESIGNER, draft.id)


# --------------------------------------------------------------------------- uploads


def test_an_upload_makes_a_draft_named_after_its_process_and_adds_replace_files(domain):
    draft = domain.drafts.upload(DESIGNER, [("C:\\models\\small.bpmn", SMALL.encode())])
    assert draft.file_names == ["small.bpmn"] and draft.process_id == "small"
    assert draft.name == "small.bpmn"
    form = b'{"type": "object", "properties": {"ok": {"type": "boolean"}}}'
    grown = domain.drafts.upload(DESIGNER, [("form.json", form),
                                            ("small.bpmn", SMALL.replace("x = 1", "x = 3")
                                             .encode())], draft_id=draft.id, version=1)
    assert grown.file_names == ["form.json", "small.bpmn"] and "x = 3" in grown.files[
        "small.bpmn"]
    assert grown.version == 2


@pytest.mark.parametrize("filename, content, field, words", [
    ("evil.bpmn", '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                  "<d>&x;</d>", "files.evil.bpmn", "DTD"),
    ("broken.bpmn", "<definitions><process>", "files.broken.bpmn", "not well-formed XML"),
    ("deep.dmn", "<a>" * (MAX_XML_DEPTH + 1) + "</a>" * (MAX_XML_DEPTH + 1), "files.deep.dmn",
     f"more than {MAX_XML_DEPTH} levels"),
    ("notes.txt", "hello", "files.notes.txt", ".txt"),
    ("form.json", "[1, 2]", "files.form.json", "JSON object"),
    ("form.json", "{", "files.form.json", "not valid JSON"),
    ("form.json", "[" * 100 + "]" * 100, "files.form.json", "levels deep"),
    ("nul.bpmn", "<a>\x00</a>", "files.nul.bpmn", "NUL"),
    ("big.bpmn", "<a>" + " " * MAX_FILE_BYTES + "</a>", "files.big.bpmn", "larger than 2 MB"),
    ("../x.bpmn", SMALL, "files.x.bpmn", None),  # the folder is dropped: accepted
])
def test_an_upload_is_refused_naming_the_file_and_the_reason(domain, filename, content, field,
                                                            words):
    raw = content.encode("utf-8", errors="surrogatepass")
    if words is None:
        assert domain.drafts.upload(DESIGNER, [(filename, raw)]).file_names == ["x.bpmn"]
        return
    with pytest.raises(Invalid) as refused:
        domain.drafts.upload(DESIGNER, [(filename, raw)])
    assert field in refused.value.field_errors, refused.value.field_errors
    assert words in str(refused.value.field_errors[field])
    assert domain.drafts.list(ADMIN) == []


def test_a_save_is_refused_for_bad_files_and_too_many_of_them(domain):
    draft = domain.drafts.create(DESIGNER)
    with pytest.raises(Invalid) as refused:
        domain.drafts.save(DESIGNER, draft.id, 1, {"a.bpmn": "<x>", "b.bpmn": 3})
    assert set(refused.value.field_errors) == {"files.a.bpmn", "files.b.bpmn"}
    with pytest.raises(Invalid) as refused:
        domain.drafts.save(DESIGNER, draft.id, 1, {f"f{i}.bpmn": SMALL
                                                   for i in range(MAX_FILES + 1)})
    assert "files" in refused.value.field_errors
    with pytest.raises(Invalid) as refused:
        domain.drafts.save(DESIGNER, draft.id, 1, {"sub/a.bpmn": SMALL})
    assert "folder" in str(refused.value.field_errors["files.a.bpmn"])
    with pytest.raises(Invalid) as refused:
        domain.drafts.save(DESIGNER, draft.id, "1", {"a.bpmn": SMALL})
    assert "version" in refused.value.field_errors
    with pytest.raises(Invalid):
        domain.drafts.save(DESIGNER, draft.id, 1, {})
    with pytest.raises(Invalid) as refused:  # the draft's total: five files of 1.9 MB
        filler = "<a>" + " " * (MAX_FILE_BYTES - 100_000) + "</a>"
        domain.drafts.save(DESIGNER, draft.id, 1, {f"f{i}.bpmn": filler for i in range(5)})
    assert "together" in str(refused.value.field_errors["files"])
    assert domain.drafts.get(ADMIN, draft.id).version == 1


# --------------------------------------------------------------------------- checks


def test_validate_names_the_element_and_the_reason(domain):
    broken = SMALL.replace("x = 1", "x = (")
    findings = domain.drafts.validate(ADMIN, files={"small.bpmn": broken})
    assert any(f.severity == "error" and f.element_id == "work" for f in findings), findings
    with pytest.raises(Invalid):
        domain.drafts.validate(ADMIN, files={"evil.bpmn": "<!DOCTYPE x><x/>"})


def test_download_gives_one_file_or_all_as_a_zip(domain):
    draft = domain.drafts.create(DESIGNER, name="Uji / coba")
    one = domain.drafts.download(ADMIN, draft.id, ids.DEADLINES_DMN_FILE)
    assert one.content == shipped(ids.DEADLINES_DMN_FILE).encode()
    assert one.mimetype == "application/xml"
    everything = domain.drafts.download(ADMIN, draft.id)
    assert everything.filename == f"Uji-coba-{draft.id}-v1.zip"
    with zipfile.ZipFile(io.BytesIO(everything.content)) as archive:
        assert sorted(archive.namelist()) == sorted(ids.DEPLOYMENT_FILES)
        assert archive.read(ids.BPMN_FILE).decode() == shipped(ids.BPMN_FILE)
    with pytest.raises(NotFound):
        domain.drafts.download(ADMIN, draft.id, "missing.bpmn")


def test_the_services_are_the_hosts_with_their_documented_parameters(domain):
    services = {s["name"]: s for s in domain.drafts.services(ADMIN)}
    assert set(services) == set(domain.engine.services) >= set(ids.SERVICE_OPERATORS)
    start = services[ids.SERVICE_SLA_START]
    assert [(p["name"], p["required"]) for p in start["parameters"]] == [
        ("step", True), ("budget_days", True)]
    assert "working days" in start["doc"]
    assert services[ids.SERVICE_SET_STATUS]["parameters"][1] == {
        "name": "reason", "doc": "why, shown to the complainant (may be empty)",
        "required": False}


def test_every_documented_service_matches_the_function_the_host_registers(domain):
    for name, documented in SERVICE_DOCS.items():
        registered = inspect.signature(domain.engine.services[name]).parameters.values()
        assert [(p.name, p.default is p.empty) for p in registered] == [
            (p.name, p.required) for p in documented.parameters], name


# --------------------------------------------------------------------------- who may


@pytest.mark.parametrize("who", [ADMIN, OFFICER])
def test_only_process_designers_change_drafts(domain, who):
    draft = domain.drafts.create(DESIGNER)
    changes = [
        lambda: domain.drafts.create(who),
        lambda: domain.drafts.upload(who, [("small.bpmn", SMALL.encode())]),
        lambda: domain.drafts.save(who, draft.id, 1, {"small.bpmn": SMALL}),
        lambda: domain.drafts.rename(who, draft.id, "x"),
        lambda: domain.drafts.remove_file(who, draft.id, ids.ROUTING_DMN_FILE),
        lambda: domain.drafts.delete(who, draft.id),
    ]
    for change in changes:
        with pytest.raises(Forbidden):
            change()
    assert domain.drafts.get(DESIGNER, draft.id).version == 1


def test_officers_may_not_even_read_drafts(domain):
    draft = domain.drafts.create(DESIGNER)
    for read in (lambda: domain.drafts.list(OFFICER), lambda: domain.drafts.get(OFFICER, draft.id),
                 lambda: domain.drafts.download(OFFICER, draft.id),
                 lambda: domain.drafts.validate(OFFICER, draft_id=draft.id),
                 lambda: domain.drafts.services(OFFICER)):
        with pytest.raises(Forbidden):
            read()
