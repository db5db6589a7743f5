"""The `aduan` command line: JSON documents on stdout, clear errors, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.diagram import linear, message_catch, timer_event, user_task, write
from web.cli import main

FORM = {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ADUAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("ADUAN_ALLOW_TIME_TRAVEL", raising=False)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> dict | list:
        result = runner.invoke(main, [*args], catch_exceptions=False)
        assert result.exit_code == code, (result.output, result.stderr)
        assert "Traceback" not in result.output + result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1]) if "--json" in args else (
            result)

    run("db", "upgrade", "--json")
    return run


@pytest.fixture
def files(tmp_path):
    good = write(tmp_path, "case.bpmn", linear(
        "case", user_task("verify", "Verify", form=FORM),
        timer_event("cool_off", "timeDuration", '"P1D"'),
        message_catch("wait_reply", "reply"), user_task("close"), messages=("reply",),
        lanes={"admin": ["verify", "cool_off", "wait_reply", "close"]}))
    bad = write(tmp_path, "bad.bpmn", linear("bad", timer_event("t", "timeDuration", "PT2H")))
    return good, bad


def test_validate_prints_findings_and_exits_one(cli, files):
    good, bad = files
    clean = cli("validate", str(good), "--json")
    assert clean["valid"] is True
    assert {f["severity"] for f in clean["findings"]} <= {"warning"}  # lint rules' warnings
    said = cli("validate", str(good)).stdout.splitlines()
    assert said[0] == "valid"  # and then the warnings, which a designer should read
    assert "case.bpmn [start] warning: [label-required] start has no label;" in "\n".join(said)
    result = cli("validate", str(bad), "--json", code=1)
    assert result["valid"] is False
    [finding] = [f for f in result["findings"] if f["severity"] == "error"]
    assert finding["file"] == "bad.bpmn" and finding["element_id"] == "t"
    assert finding["severity"] == "error" and "quote" in finding["message"]


def test_a_whole_lifecycle_through_the_cli(cli, files, monkeypatch):
    good, _ = files
    deployed = cli("deploy", str(good), "--json")
    assert deployed["process_id"] == "case" and deployed["version"] == 1
    assert len(deployed["hash"]) == 64
    assert cli("deploy", str(good), "--json")["version"] == 1
    assert cli("definitions", "--json")[0]["version"] == 1
    started = cli("start", "case", "--data", '{"title": "Jalan"}', "--key", "PPU-1", "--json")
    assert started["status"] == "running"
    instance_id = str(started["instance_id"])
    tasks = cli("tasks", "--instance", instance_id, "--json")
    assert set(tasks[0]) >= {"id", "element_id", "title", "lane", "instance_id", "assignee",
                             "due_at"}
    assert tasks[0]["lane"] == "admin"
    assert cli("tasks", "--lane", "admin", "--json")[0]["id"] == tasks[0]["id"]
    errors = cli("complete", tasks[0]["id"], "--data", "{}", "--json", code=1)
    assert errors["error"]["field_errors"] == {"reason": "this field is required"}
    cli("complete", tasks[0]["id"], "--data", '{"reason": "ok"}', "--as", "admin1", "--json")
    detail = cli("instance", instance_id, "--json")
    assert detail["status"] == "running"
    assert detail["timers"][0]["element_id"] == "cool_off"
    assert [e["action"] for e in detail["events"]] == ["start", "complete_task"]

    refused = cli("timers", "fire", "--now", "2026-12-31T00:00:00+08:00", "--json", code=1)
    assert "ADUAN_ALLOW_TIME_TRAVEL" in refused["error"]["message"]
    monkeypatch.setenv("ADUAN_ALLOW_TIME_TRAVEL", "1")
    fired = cli("timers", "fire", "--now", "2099-01-01T00:00:00+08:00", "--json")
    assert fired["fired"] == 1
    delivered = cli("message", "reply", "--key", "PPU-1", "--data", '{"ok": true}', "--json")
    assert delivered == {"delivered": [int(instance_id)]}
    close = cli("tasks", "--instance", instance_id, "--json")[0]
    assert cli("complete", close["id"], "--json")["status"] == "completed"


def test_errors_are_one_clear_line_without_traceback(cli, files):
    result = cli("start", "nope", code=1)
    assert result.stderr.startswith("error: process 'nope' has no deployed")
    result = cli("start", "nope", "--data", "{not json", code=2)
    assert "not valid JSON" in result.stderr
    result = cli("instance", "42", "--json", code=1)
    assert "does not exist" in result["error"]["message"]


def test_migrate_dry_run_through_the_cli(cli, files, tmp_path):
    good, _ = files
    cli("deploy", str(good), "--json")
    cli("start", "case", "--json")
    v2 = write(tmp_path / "v2", "case.bpmn", linear("case", user_task("verify", "Verify v2")))
    cli("deploy", str(v2), "--json")
    report = cli("migrate", "case", "--to", "2", "--dry-run", "--json")
    assert report["dry_run"] is True and report["instances"][0]["safe"] is True


def test_the_installed_console_script_runs(tmp_path):
    script = Path(sys.executable).parent / "aduan"
    env = {**os.environ, "ADUAN_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    out = subprocess.run([str(script), "db", "upgrade", "--json"], env=env, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["revision"]


def test_demo_users_and_tokens_through_the_cli(cli):
    loaded = cli("demo", "--json")
    assert loaded["loaded"] is True and loaded["diagrams"]["process_id"] == "complaint_lifecycle"
    accounts = {u["username"]: u for u in loaded["users"]}
    assert accounts["admin.kominfo"]["roles"] == ["regency_admin"]
    assert accounts["admin.kominfo"]["token"].startswith("adn_")
    again = cli("demo", "--json")
    assert again["loaded"] is False and again["diagrams"]["version"] == 1
    created = cli("users", "create", "petugas.baru", "--name", "Petugas Baru", "--role",
                  "liaison_officer", "--agency", "dinkes", "--json")
    assert created == {"username": "petugas.baru", "full_name": "Petugas Baru",
                       "roles": ["liaison_officer"], "agency": "dinkes", "email": None,
                       "active": True}
    assert "petugas.baru" in [u["username"] for u in cli("users", "list", "--json")]
    token = cli("tokens", "create", "petugas.baru", "--json")
    assert token["token"].startswith("adn_") and token["username"] == "petugas.baru"
    duplicate = cli("users", "create", "petugas.baru", "--name", "X", "--role",
                    "supervisor", "--json", code=1)
    assert "already exists" in duplicate["error"]["message"]
    bad_role = cli("users", "create", "x", "--name", "X", "--role", "king", "--json", code=1)
    assert "roles" in bad_role["error"]["field_errors"]
    cli("tokens", "create", "nobody", "--json", code=1)


def test_the_administrator_edits_cuti_bersama_from_the_cli(cli):
    cli("demo", "--json")
    year = cli("calendar", "list", "--year", "2026", "--json")
    days = {d["day"]: d["reason"] for d in year["days_off"]}
    assert days["2026-03-19"] == "Hari Suci Nyepi"
    assert "Cuti Bersama" in days["2026-12-24"]
    added = cli("calendar", "day-off", "2026-12-31", "--name", "Cuti Bersama (SKB 2026)",
                "--json")
    assert added == {"day": "2026-12-31", "kind": "day_off", "name": "Cuti Bersama (SKB 2026)",
                     "moved": 0}
    cli("calendar", "working-day", "2026-12-24", "--name", "dibatalkan", "--json")
    year = cli("calendar", "list", "--year", "2026", "--json")
    days = {d["day"]: d["reason"] for d in year["days_off"]}
    assert "2026-12-24" not in days and days["2026-12-31"] == "Cuti Bersama (SKB 2026)"
    assert len(year["changes"]) == 2
    cli("calendar", "reset-day", "2026-12-24", "--json")
    cli("calendar", "reset-day", "2026-12-24", "--json", code=1)
    cli("calendar", "day-off", "31-12-2026", "--name", "x", code=2)


def test_dead_letters_are_listed_and_requeued_from_the_cli(cli, tmp_path):
    from datetime import UTC, datetime

    from engine.store import Store
    from workflows.models import Outbox

    cli("demo", "--json")
    store = Store(os.environ["ADUAN_DATABASE_URL"])
    now = datetime.now(UTC)
    with store.transaction() as session:
        session.add(Outbox(created_at=now, channel="sms", recipient="6281234", template=(
            "status_changed"), language="id", payload={}, status="dead", attempts=6,
            last_error="HTTP 400 from the gateway"))
    store.dispose()
    dead = cli("outbox", "dead", "--json")
    assert [(d["recipient"], d["last_error"]) for d in dead] == [
        ("6281234", "HTTP 400 from the gateway")]
    requeued = cli("outbox", "requeue", str(dead[0]["id"]), "--json")
    assert requeued["status"] == "pending" and requeued["attempts"] == 0
    assert cli("outbox", "dead", "--json") == []
    cli("outbox", "requeue", str(dead[0]["id"]), "--json", code=1)  # no longer dead


def test_engine_commands_move_complaint_instances_with_the_domains_services(
        cli, tmp_path, monkeypatch):
    """`timers fire` and `complete` act on a complaint's instance as the web app and the
    scheduler do: the lifecycle's services (deadlines, statuses) are there, nothing fails."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select

    from tests.regency import PHOTO
    from web.app import build_domain
    from web.config import Settings
    from workflows.models import Complaint, Outbox
    from workflows.storage import Upload

    for name, value in (("TIME_COST", "1"), ("MEMORY_KIB", "8"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"ADUAN_ARGON2_{name}", value)
    monkeypatch.setenv("ADUAN_UPLOAD_DIR", str(tmp_path / "uploads"))
    assert cli("demo", "--json")["loaded"] is True
    domain = build_domain(Settings.from_env())
    receipt = domain.reports.submit({
        "classification": "pengaduan", "category": "roads", "title": "Jalan berlubang",
        "body": "Lubang besar di jalan, berbahaya.", "reporter_name": "Budi"},
        [Upload("lubang.jpg", PHOTO)])
    tracking = receipt["tracking_number"]
    [task] = cli("tasks", "--group", "regency_admin", "--json")

    monkeypatch.setenv("ADUAN_ALLOW_TIME_TRAVEL", "1")
    later = (datetime.now(UTC) + timedelta(days=8)).isoformat()
    fired = cli("timers", "fire", "--now", later, "--json")
    assert fired["fired"] >= 1 and fired["failed"] == []  # reminders and escalations
    done = cli("complete", task["id"], "--data", '{"decision": "verify"}', "--as",
               "admin.kominfo", "--json")
    assert done["status"] == "running"
    with domain.context.reads() as session:
        status = session.scalar(select(Complaint.status).where(
            Complaint.tracking_number == tracking))
        escalated = session.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.template == "escalated"))
    assert status == "VERIFIED" and escalated >= 1
    assert cli("incidents", "--json") == []
    domain.dispose()


def test_a_diagram_whose_state_cannot_be_saved_gives_incidents_not_crashes(cli, tmp_path,
                                                                           monkeypatch):
    """`start` and `timers fire` record the instance's incident and exit 0 (not 70)."""
    from tests.diagram import script_task

    deep = "x = []\nfor i in range(100000):\n    x = [x]"
    cli("deploy", str(write(tmp_path, "now.bpmn", linear(
        "now", script_task("build", deep), user_task("after")))), "--json")
    cli("deploy", str(write(tmp_path, "later.bpmn", linear(
        "later", timer_event("wait", "timeDuration", '"PT1H"'), script_task("build", deep),
        user_task("after")))), "--json")
    started = cli("start", "now", "--json")
    assert started["status"] == "error"
    detail = cli("instance", str(started["instance_id"]), "--json")
    assert detail["incident"]["element_id"] == "build"
    later = cli("start", "later", "--json")
    assert later["status"] == "running"
    monkeypatch.setenv("ADUAN_ALLOW_TIME_TRAVEL", "1")
    fired = cli("timers", "fire", "--now", "2099-01-01T00:00:00+08:00", "--json")
    assert [f["instance_id"] for f in fired["failed"]] == [later["instance_id"]]
    assert cli("instance", str(later["instance_id"]), "--json")["status"] == "error"


def test_passwords_accounts_sessions_and_locks_through_the_cli(cli, monkeypatch):
    from engine import Engine
    from workflows.accounts import AccountLocked, InvalidCredentials
    from workflows.config import RegencyConfig
    from workflows.domain import Domain
    from workflows.storage import Storage

    cli("demo", "--json")
    url = os.environ["ADUAN_DATABASE_URL"]
    engine = Engine(url)
    domain = Domain(engine, RegencyConfig(), Storage(Path(url[len("sqlite:///"):]).parent,
                                                     1024))
    try:
        signed = domain.accounts.sign_in("admin.kominfo", "aduan-demo-2026", "10.0.0.7")
        changed = cli("users", "set-password", "admin.kominfo", "--password",
                      "a-new-password-2026", "--json")
        assert changed["sessions_ended"] == 1 and changed["active"] is True
        assert domain.accounts.session_user(signed.session_id, signed.fingerprint) is None
        short = cli("users", "set-password", "admin.kominfo", "--password", "short", "--json",
                    code=1)
        assert "password" in short["error"]["field_errors"]
        missing = cli("users", "disable", "nobody.here", "--json", code=1)
        assert "aduan users list" in missing["error"]["message"]
        signed = domain.accounts.sign_in("admin.kominfo", "a-new-password-2026", "10.0.0.7")
        assert cli("users", "sign-out", "admin.kominfo", "--json")["sessions_ended"] == 1
        disabled = cli("users", "disable", "admin.kominfo", "--json")
        assert disabled["active"] is False
        assert cli("users", "enable", "admin.kominfo", "--json")["active"] is True
        for _ in range(5):
            with pytest.raises(InvalidCredentials):
                domain.accounts.sign_in("admin.kominfo", "nope-nope", "10.0.0.7")
        with pytest.raises(AccountLocked):
            domain.accounts.sign_in("admin.kominfo", "a-new-password-2026", "10.0.0.7")
        assert cli("users", "unlock", "admin.kominfo", "--json")["failures_forgotten"] == 5
        domain.accounts.sign_in("admin.kominfo", "a-new-password-2026", "10.0.0.7")
    finally:
        engine.dispose()


def test_the_demo_accounts_are_listed_again_without_tokens(cli):
    from sqlalchemy import update

    from engine.store import Store
    from workflows.demo import USERS
    from workflows.models import User
    from workflows.users import Passwords

    assert cli("demo", "accounts", "--json") == []  # no demo loaded: nothing to sign in to
    assert "aduan users list" in cli("demo", "accounts").output
    cli("demo", "--json")
    accounts = cli("demo", "accounts", "--json")
    assert [a["username"] for a in accounts] == [name for name, *_ in USERS]
    assert {a["password"] for a in accounts} == {"aduan-demo-2026"}
    assert accounts[-2:] == [
        {"username": "perancang", "roles": ["process_designer"], "agency": "diskominfo",
         "password": "aduan-demo-2026"},
        {"username": "sysadmin", "roles": ["system_admin"], "agency": "diskominfo",
         "password": "aduan-demo-2026"}]
    store = Store(os.environ["ADUAN_DATABASE_URL"])
    with store.transaction() as session:  # sekda chose a password; kadis.dlh left
        session.execute(update(User).where(User.username == "sekda").values(
            password_hash=Passwords.fast().hash("sekda-rahasia-2026")))
        session.execute(update(User).where(User.username == "kadis.dlh").values(
            active=False))
    store.dispose()
    listed = [a["username"] for a in cli("demo", "accounts", "--json")]
    assert len(listed) == 17 and "sekda" not in listed and "kadis.dlh" not in listed
    text = cli("demo", "accounts").output
    assert "password aduan-demo-2026" in text and "sysadmin" in text
    assert "aduan tokens create USERNAME" in text and "adn_" not in text


def serve_until_listening(tmp_path, *args: str) -> str:
    """`aduan run ARGS` as a real process until it listens; everything it printed by then."""
    import queue
    import socket
    import threading
    import time

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "PYTHONUNBUFFERED": "1", "ADUAN_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
           "ADUAN_UPLOAD_DIR": str(tmp_path / "uploads"), "ADUAN_ARGON2_TIME_COST": "1",
           "ADUAN_ARGON2_MEMORY_KIB": "8", "ADUAN_ARGON2_PARALLELISM": "1"}
    env.pop("ADUAN_COOKIE_SECURE", None)
    command = [sys.executable, "-c", "from web.cli import main; main()"]
    subprocess.run([*command, "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=60)
    process = subprocess.Popen([*command, "run", "--no-scheduler", "--port", str(port),
                                *args], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    # A reader thread, not select() on the pipe: readline() buffers ahead, and select() then
    # waits on an empty pipe while the line sought sits in the buffer.
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                              daemon=True)
    reader.start()
    printed, deadline = [], time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not any("Running on" in line
                                                      for line in printed):
            try:
                printed.append(lines.get(timeout=1))
            except queue.Empty:
                if process.poll() is not None:
                    break
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=10)
        process.stdout.close()
    text = "".join(printed)
    assert "Running on" in text, text
    return text


def test_aduan_run_shows_the_accounts_on_every_start_and_warns_off_loopback(tmp_path):
    first = serve_until_listening(tmp_path)
    assert "penghubung.pupr" in first and "adn_" in first  # the tokens, made now
    assert "aduan demo accounts" in first and "warning" not in first
    again = serve_until_listening(tmp_path, "--host", "0.0.0.0")
    assert "demo data not loaded" not in again and "adn_" not in again
    assert "demo accounts (password aduan-demo-2026)" in again
    for username in ("admin.kominfo", "perancang", "sysadmin"):
        assert username in again
    assert "aduan tokens create USERNAME" in again
    assert "warning: 19 demo account(s) still have the published demo password" in again
    assert "warning: serving plain HTTP on http://0.0.0.0:" in again
    assert "ADUAN_COOKIE_SECURE=0" in again


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_passes_host_and_port_to_aduan_run():
    """`make run HOST=... PORT=...` (README: a pilot on a network); `make -n` only prints."""
    root = Path(__file__).resolve().parents[1]

    def planned(*variables: str) -> list[str]:
        out = subprocess.run(["make", "-n", "run", *variables], cwd=root, capture_output=True,
                             text=True, timeout=60, check=True)
        return [line for line in out.stdout.splitlines() if "aduan run" in line]

    assert planned("HOST=0.0.0.0", "PORT=8080") == [
        ".venv/bin/aduan run --host 0.0.0.0 --port 8080"]
    assert planned() == [".venv/bin/aduan run --host 127.0.0.1 --port 5000"]
