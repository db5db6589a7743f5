"""The `aduan` command line: engine operations for operators, JSON output with --json."""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from engine import Engine, EngineError, InvalidInput, ValidationFailed
from web.config import Settings
from workflows.errors import DomainError
from workflows.errors import Invalid as DomainInvalid

EXIT_FINDINGS = 1
EXIT_ERROR = 1
EXIT_INTERNAL = 70


class CliContext:
    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self._domain: Any = None

    @property
    def domain(self) -> Any:
        """The complaint domain (workflows.domain.Domain), built on first use."""
        if self._domain is None:
            from web.app import build_domain

            self._domain = build_domain(self.settings)
        return self._domain

    @property
    def engine(self) -> Engine:
        """The engine with the domain's host services registered: a command that moves a
        complaint instance (timers, complete, message, retry...) runs it as the web app and
        the scheduler do, never without the services its diagram calls."""
        return self.domain.engine


def emit(document: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, default=str))
    else:
        click.echo(human(document) if human else json.dumps(
            document, ensure_ascii=False, indent=2, default=str))


def fail(message: str, as_json: bool, code: int = EXIT_ERROR, **extra: Any) -> None:
    click.echo(f"error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"error": {"message": message, **extra}}, ensure_ascii=False))
    sys.exit(code)


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn engine errors into a message and an exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except ValidationFailed as exc:
            fail(str(exc), as_json, EXIT_FINDINGS,
                 findings=[f.as_dict() for f in exc.findings])
        except (InvalidInput, DomainInvalid) as exc:
            fail(str(exc), as_json, EXIT_ERROR, field_errors=exc.field_errors)
        except DomainError as exc:
            fail(str(exc), as_json, EXIT_ERROR, type=type(exc).__name__)
        except EngineError as exc:
            fail(str(exc), as_json, EXIT_ERROR, type=type(exc).__name__)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("ADUAN_DEBUG"):
                traceback.print_exc()
            fail(f"internal error: {type(exc).__name__}: {exc} "
                 "(set ADUAN_DEBUG=1 to see the traceback)", as_json, EXIT_INTERNAL)

    return wrapper


def parse_json_object(value: str | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if value.startswith("@"):
        try:
            with open(value[1:], encoding="utf-8") as handle:
                value = handle.read()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}") from exc
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not valid JSON ({exc.msg} at column "
                                 f"{exc.colno}); e.g. '{{\"field\": 1}}'") from exc
    if not isinstance(parsed, dict):
        raise click.BadParameter(f"{what} must be a JSON object, e.g. '{{\"field\": 1}}'")
    return parsed


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
pass_ctx = click.make_pass_decorator(CliContext, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Aduan: complaint management on an embedded BPMN engine."""


# --------------------------------------------------------------------------- database


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@json_option
@pass_ctx
@command
def db_upgrade(ctx: CliContext, as_json: bool) -> None:
    """Create or upgrade the schema to the newest revision."""
    import migrations

    ctx.settings.ensure_sqlite_directory()
    migrations.upgrade(ctx.settings.database_url)
    revision = migrations.current(ctx.settings.database_url)
    emit({"database": _redact(ctx.settings.database_url), "revision": revision}, as_json,
         lambda d: f"database {d['database']} is at revision {d['revision']}")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


# --------------------------------------------------------------------------- definitions


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--process", "process_id", help="The process to deploy when several are top-level.")
@json_option
@pass_ctx
@command
def validate(ctx: CliContext, files: tuple[str, ...], process_id: str | None,
             as_json: bool) -> None:
    """Check BPMN/DMN/form files; exit 0 when deployable, 1 with findings."""
    findings = ctx.engine.validate(list(files), process_id=process_id)
    errors = [f for f in findings if f.severity == "error"]
    document = {"valid": not errors, "findings": [f.as_dict() for f in findings]}
    emit(document, as_json, lambda d: "valid" if d["valid"] else "\n".join(
        f"{f['file']} [{f['element_id'] or '-'}] {f['severity']}: {f['message']}"
        for f in d["findings"]))
    if errors:
        sys.exit(EXIT_FINDINGS)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--process", "process_id", help="The process to deploy when several are top-level.")
@click.option("--as", "actor", help="Who deploys (recorded).")
@json_option
@pass_ctx
@command
def deploy(ctx: CliContext, files: tuple[str, ...], process_id: str | None, actor: str | None,
           as_json: bool) -> None:
    """Validate and deploy files as the next version of their process."""
    deployment = ctx.engine.deploy(list(files), process_id=process_id, deployed_by=actor)
    emit(deployment.as_dict(), as_json, lambda d: (
        f"{d['process_id']} version {d['version']}"
        + ("" if d["created"] else " (unchanged; already deployed)")))


@main.command()
@json_option
@pass_ctx
@command
def definitions(ctx: CliContext, as_json: bool) -> None:
    """List deployed process definitions and their versions."""
    emit(ctx.engine.definitions(), as_json, lambda rows: "\n".join(
        f"{r['process_id']} v{r['version']}  {r['hash'][:12]}  {r['deployed_at']}  "
        f"open: {r['open_instances']}" for r in rows) or "no definitions deployed")


# --------------------------------------------------------------------------- instances


@main.command()
@click.argument("process_id")
@click.option("--data", help="Initial data: a JSON object, or @file.json.")
@click.option("--key", "business_key", help="Business key (correlation key for messages).")
@click.option("--version", type=int, help="A given version instead of the latest.")
@click.option("--as", "actor", help="Who starts it (recorded).")
@json_option
@pass_ctx
@command
def start(ctx: CliContext, process_id: str, data: str | None, business_key: str | None,
          version: int | None, actor: str | None, as_json: bool) -> None:
    """Start an instance of a deployed process."""
    summary = ctx.engine.start(process_id, parse_json_object(data, "--data"),
                               business_key=business_key, version=version, actor=actor)
    emit(summary.as_dict(), as_json,
         lambda d: f"instance {d['instance_id']} is {d['status']}")


@main.command()
@click.argument("instance_id", type=int)
@json_option
@pass_ctx
@command
def instance(ctx: CliContext, instance_id: int, as_json: bool) -> None:
    """Status, open tasks, waiting timers, data and audit trail of one instance."""
    emit(ctx.engine.instance(instance_id), as_json)


@main.command()
@click.option("--process", "process_id")
@click.option("--status", type=click.Choice(["running", "completed", "error", "cancelled"]))
@click.option("--key", "business_key")
@click.option("--limit", type=int, default=100, show_default=True)
@json_option
@pass_ctx
@command
def instances(ctx: CliContext, process_id: str | None, status: str | None,
              business_key: str | None, limit: int, as_json: bool) -> None:
    """List instances, newest first."""
    emit(ctx.engine.instances(process_id=process_id, status=status,
                              business_key=business_key, limit=limit), as_json,
         lambda rows: "\n".join(f"{r['instance_id']}  {r['process_id']}  {r['status']}  "
                                f"{r['business_key'] or ''}" for r in rows) or "no instances")


@main.command()
@click.argument("instance_id", type=int)
@click.option("--reason", help="Why (recorded).")
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def cancel(ctx: CliContext, instance_id: int, reason: str | None, actor: str | None,
           as_json: bool) -> None:
    """Cancel a running instance."""
    emit(ctx.engine.cancel(instance_id, actor=actor, reason=reason).as_dict(), as_json,
         lambda d: f"instance {d['instance_id']} is {d['status']}")


@main.command()
@click.argument("instance_id", type=int)
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def retry(ctx: CliContext, instance_id: int, actor: str | None, as_json: bool) -> None:
    """Run the failed task of an instance in error again."""
    emit(ctx.engine.retry(instance_id, actor=actor).as_dict(), as_json,
         lambda d: f"instance {d['instance_id']} is {d['status']}")


@main.command()
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved incidents.")
@json_option
@pass_ctx
@command
def incidents(ctx: CliContext, include_resolved: bool, as_json: bool) -> None:
    """Instances whose task failed: element, message and line."""
    emit(ctx.engine.incidents(open_only=not include_resolved), as_json,
         lambda rows: "\n".join(f"instance {r['instance_id']} at {r['element_id']}: "
                                f"{r['message']}" for r in rows) or "no incidents")


# --------------------------------------------------------------------------- tasks


def _task_line(t: dict[str, Any]) -> str:
    return (f"{t['id']}  {t['element_id']}  {t['title']}  lane={t['lane'] or '-'}  "
            f"instance={t['instance_id']}  assignee={t['assignee'] or '-'}  "
            f"due={t['due_at'] or '-'}")


@main.command()
@click.option("--instance", "instance_id", type=int)
@click.option("--lane")
@click.option("--group")
@click.option("--assignee")
@json_option
@pass_ctx
@command
def tasks(ctx: CliContext, instance_id: int | None, lane: str | None, group: str | None,
          assignee: str | None, as_json: bool) -> None:
    """Open user tasks, filtered by instance, lane, candidate group or assignee."""
    rows = ctx.engine.tasks(instance_id=instance_id, lane=lane, group=group, assignee=assignee)
    emit(rows, as_json, lambda rows: "\n".join(map(_task_line, rows)) or "no open tasks")


@main.command()
@click.argument("task_id")
@click.option("--data", help="Task data: a JSON object, or @file.json.")
@click.option("--as", "actor", help="Who completes it (recorded).")
@json_option
@pass_ctx
@command
def complete(ctx: CliContext, task_id: str, data: str | None, actor: str | None,
             as_json: bool) -> None:
    """Complete an open task; the data is validated against the task's form."""
    summary = ctx.engine.complete(task_id, parse_json_object(data, "--data"), actor=actor)
    emit(summary.as_dict(), as_json,
         lambda d: f"instance {d['instance_id']} is {d['status']}")


@main.command()
@click.argument("task_id")
@click.argument("user")
@json_option
@pass_ctx
@command
def claim(ctx: CliContext, task_id: str, user: str, as_json: bool) -> None:
    """Claim an open task for USER."""
    emit(ctx.engine.claim(task_id, user), as_json, _task_line)


@main.command()
@click.argument("task_id")
@click.argument("user")
@json_option
@pass_ctx
@command
def unclaim(ctx: CliContext, task_id: str, user: str, as_json: bool) -> None:
    """Give back a task USER had claimed."""
    emit(ctx.engine.unclaim(task_id, user), as_json, _task_line)


@main.command()
@click.argument("task_id")
@click.argument("user")
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def assign(ctx: CliContext, task_id: str, user: str, actor: str | None, as_json: bool) -> None:
    """Assign an open task to USER (a supervisor's move)."""
    emit(ctx.engine.assign(task_id, user, actor=actor), as_json, _task_line)


# --------------------------------------------------------------------------- timers, events


@main.group()
def timers() -> None:
    """Waiting timers."""


@timers.command("fire")
@click.option("--now", "now_text", help="Act as if it were this ISO 8601 time "
              "(needs ADUAN_ALLOW_TIME_TRAVEL=1).")
@click.option("--limit", type=int, default=1000, show_default=True)
@json_option
@pass_ctx
@command
def timers_fire(ctx: CliContext, now_text: str | None, limit: int, as_json: bool) -> None:
    """Fire the timers that are due."""
    now = None
    if now_text is not None:
        if not ctx.settings.allow_time_travel:
            fail("--now is refused: set ADUAN_ALLOW_TIME_TRAVEL=1 to act as if it were "
                 "another time (drills and tests only)", as_json)
        now = _parse_instant(now_text, "--now")
    report = ctx.engine.fire_due_timers(now=now, limit=limit)
    emit(report.as_dict(), as_json, lambda d: f"fired {d['fired']} timer(s), "
         f"{len(d['failed'])} failed, {d['skipped']} skipped")


@timers.command("list")
@click.option("--due-before", help="Only timers due before this ISO 8601 time.")
@json_option
@pass_ctx
@command
def timers_list(ctx: CliContext, due_before: str | None, as_json: bool) -> None:
    """Waiting timers, soonest first."""
    rows = ctx.engine.timers(
        due_before=_parse_instant(due_before, "--due-before") if due_before else None)
    emit(rows, as_json, lambda rows: "\n".join(
        f"{r['due_at']}  instance={r['instance_id']}  {r['element_id']}" for r in rows)
        or "no waiting timers")


def _parse_instant(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{option} must be ISO 8601, e.g. 2026-03-02T09:00:00+08:00"
                                 ) from exc
    if value.tzinfo is None:
        raise click.BadParameter(f"{option} needs a UTC offset, e.g. 2026-03-02T09:00:00+08:00")
    return value


@main.command()
@click.argument("name")
@click.option("--instance", "instance_id", type=int)
@click.option("--key", "correlation_key", help="Deliver to the instance with this business key.")
@click.option("--data", help="Payload: a JSON object, or @file.json.")
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def message(ctx: CliContext, name: str, instance_id: int | None, correlation_key: str | None,
            data: str | None, actor: str | None, as_json: bool) -> None:
    """Deliver message NAME to a waiting instance."""
    delivered = ctx.engine.send_message(name, parse_json_object(data, "--data"),
                                        instance_id=instance_id,
                                        correlation_key=correlation_key, actor=actor)
    emit({"delivered": delivered}, as_json,
         lambda d: f"delivered to instance(s) {', '.join(map(str, d['delivered']))}")


@main.command()
@click.argument("name")
@click.option("--instance", "instance_id", type=int, help="Only this instance.")
@click.option("--data", help="Payload: a JSON object, or @file.json.")
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def signal(ctx: CliContext, name: str, instance_id: int | None, data: str | None,
           actor: str | None, as_json: bool) -> None:
    """Broadcast signal NAME to every waiting instance."""
    delivered = ctx.engine.send_signal(name, parse_json_object(data, "--data"),
                                       instance_id=instance_id, actor=actor)
    emit({"delivered": delivered}, as_json,
         lambda d: f"delivered to {len(d['delivered'])} instance(s)")


@main.command()
@click.argument("process_id")
@click.option("--to", "to_version", type=int, required=True, help="The target version.")
@click.option("--from", "from_version", type=int, help="Only instances of this version.")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def migrate(ctx: CliContext, process_id: str, to_version: int, from_version: int | None,
            dry_run: bool, actor: str | None, as_json: bool) -> None:
    """Move running instances of PROCESS_ID to another version."""
    report = ctx.engine.migrate(process_id, to_version, from_version=from_version,
                                dry_run=dry_run, actor=actor)
    emit(report, as_json)
    if report.get("refused"):
        sys.exit(EXIT_ERROR)


# --------------------------------------------------------------------------- people


@main.group()
def users() -> None:
    """Officer and integration accounts."""


@users.command("create")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name.")
@click.option("--role", "roles", multiple=True, required=True,
              help="Role (repeatable): regency_admin, liaison_officer, technical_officer, "
                   "supervisor, process_designer, system_admin.")
@click.option("--agency", "agency_code", help="Agency code (see /api/v1/agencies).")
@click.option("--email")
@click.option("--phone")
@click.option("--password", help="Sign-in password (min. 8 characters); API-only without.")
@json_option
@pass_ctx
@command
def users_create(ctx: CliContext, username: str, full_name: str, roles: tuple[str, ...],
                 agency_code: str | None, email: str | None, phone: str | None,
                 password: str | None, as_json: bool) -> None:
    """Create an account."""
    document = ctx.domain.accounts.create_user(
        username=username, full_name=full_name, roles=list(roles), agency_code=agency_code,
        email=email, phone=phone, password=password)
    emit(document, as_json, lambda d: f"created {d['username']} ({', '.join(d['roles'])})")


@users.command("list")
@json_option
@pass_ctx
@command
def users_list(ctx: CliContext, as_json: bool) -> None:
    """List accounts."""
    rows = ctx.domain.accounts.list_users()
    emit(rows, as_json, lambda rows: "\n".join(
        f"{r['username']}  {','.join(r['roles'])}  {r['agency'] or '-'}" for r in rows)
        or "no users")


@main.group()
def tokens() -> None:
    """API bearer tokens."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@json_option
@pass_ctx
@command
def tokens_create(ctx: CliContext, username: str, name: str, as_json: bool) -> None:
    """Create a bearer token for USERNAME (shown once; only its hash is kept)."""
    document = ctx.domain.accounts.create_token(username, name=name)
    emit(document, as_json, lambda d: f"token for {d['username']}: {d['token']}")


@main.command()
@json_option
@pass_ctx
@command
def demo(ctx: CliContext, as_json: bool) -> None:
    """Load the demo regency (Penajam Paser Utara) into an empty database."""
    document = install(ctx)
    emit(document, as_json, _demo_text)


def install(ctx: CliContext) -> dict[str, Any]:
    """Deploy the shipped diagrams and, on an empty database, the demo regency."""
    return ctx.domain.install(actor="aduan", demo_data=True)


def _demo_text(document: dict[str, Any]) -> str:
    lines = [f"lifecycle diagram: version {document['diagrams']['version']}"]
    if not document["loaded"]:
        lines.append("demo data not loaded: the database already has agencies")
        return "\n".join(lines)
    lines.append("demo accounts (password / API token):")
    lines += [f"  {u['username']:<24} {','.join(u['roles']):<18} {u['password']}  "
              f"{u['token']}" for u in document["users"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- calendar


@main.group("calendar")
def calendar_group() -> None:
    """Working days: holidays, cuti bersama added or cancelled by decree."""


def _day(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a date; write YYYY-MM-DD") from exc


@calendar_group.command("list")
@click.option("--year", type=int, help="Defaults to this year.")
@json_option
@pass_ctx
@command
def calendar_list(ctx: CliContext, year: int | None, as_json: bool) -> None:
    """Weekday days off of a year and the administrator's changes."""
    document = ctx.domain.calendar.days_off(year)
    emit(document, as_json, lambda d: "\n".join(
        f"{r['day']}  {r['reason']}" for r in d["days_off"]))


def _set_day(ctx: CliContext, day: str, kind: str, name: str, actor: str | None,
             as_json: bool) -> None:
    document = ctx.domain.calendar.set_day(_day(day), kind, name, actor)
    label = "day off" if kind == "day_off" else "working day"
    emit(document, as_json, lambda d: f"{d['day']} is a {label}: {d['name']}")


@calendar_group.command("day-off")
@click.argument("day")
@click.option("--name", required=True, help="The decree, e.g. 'Cuti Bersama Natal'.")
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def calendar_day_off(ctx: CliContext, day: str, name: str, actor: str | None,
                     as_json: bool) -> None:
    """Declare DAY (YYYY-MM-DD) a day off; deadlines counted afterwards skip it."""
    _set_day(ctx, day, "day_off", name, actor, as_json)


@calendar_group.command("working-day")
@click.argument("day")
@click.option("--name", required=True, help="Why, e.g. 'cuti bersama dibatalkan'.")
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def calendar_working_day(ctx: CliContext, day: str, name: str, actor: str | None,
                         as_json: bool) -> None:
    """Declare DAY a working day although the holiday library says otherwise."""
    _set_day(ctx, day, "working", name, actor, as_json)


@calendar_group.command("reset-day")
@click.argument("day")
@json_option
@pass_ctx
@command
def calendar_reset_day(ctx: CliContext, day: str, as_json: bool) -> None:
    """Undo the administrator's change to DAY."""
    ctx.domain.calendar.remove_day(_day(day))
    emit({"day": day, "reset": True}, as_json, lambda d: f"{d['day']}: as the library says")


# --------------------------------------------------------------------------- operations


@main.command()
@json_option
@pass_ctx
@command
def status(ctx: CliContext, as_json: bool) -> None:
    """Oldest overdue timer, timers due soon, outbox backlog, incidents, scheduler heartbeats."""
    document = ctx.domain.operations.status()
    emit(document, as_json, _status_text)


def _status_text(d: dict[str, Any]) -> str:
    timers, outbox = d["timers"], d["outbox"]
    lines = [
        f"timers: {timers['waiting']} waiting, {timers['due_next_hour']} due in the next hour,"
        f" oldest overdue {timers['overdue_lateness_seconds']} s late",
        f"outbox: {outbox['pending']} pending, {outbox['dead']} dead letters",
        f"incidents: {d['incidents']['open']} open",
    ]
    lines += [f"scheduler {s['worker_id']}: {'alive' if s['alive'] else 'silent'}, last seen "
              f"{s['last_seen_at']}" for s in d["schedulers"]] or ["no scheduler has run"]
    return "\n".join(lines)


@main.group()
def outbox() -> None:
    """Notifications given up on: list and requeue them."""


@outbox.command("dead")
@click.option("--limit", type=int, default=100, show_default=True)
@json_option
@pass_ctx
@command
def outbox_dead(ctx: CliContext, limit: int, as_json: bool) -> None:
    """Dead letters, newest first, with the last error."""
    rows = ctx.domain.operations.dead_letters(limit)
    emit(rows, as_json, lambda rows: "\n".join(
        f"{r['id']}  {r['channel']}  {r['recipient']}  {r['last_error']}" for r in rows)
        or "no dead letters")


@outbox.command("requeue")
@click.argument("outbox_id", type=int)
@json_option
@pass_ctx
@command
def outbox_requeue(ctx: CliContext, outbox_id: int, as_json: bool) -> None:
    """Send a dead letter again (after fixing its cause)."""
    row = ctx.domain.operations.requeue(outbox_id)
    emit(row, as_json, lambda r: f"notification {r['id']} is queued again")


@main.command()
@pass_ctx
def scheduler(ctx: CliContext) -> None:
    """Run a dedicated scheduler process (timers, outbox, digests); run several for HA."""
    import signal

    from web.notifications import build_sender
    from web.scheduler import Scheduler

    ctx.domain.install_diagrams(actor="aduan")
    process = Scheduler(ctx.domain, ctx.settings,
                        sender=build_sender(ctx.settings, ctx.domain), blocking=True)

    def stop(_signum: int, _frame: Any) -> None:
        process.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"scheduler {process.worker_id} running on {_redact(ctx.settings.database_url)}")
    try:
        process.start()
    except KeyboardInterrupt:
        process.shutdown(wait=False)


# --------------------------------------------------------------------------- serving


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Do not embed the timer sweep.")
@pass_ctx
def run(ctx: CliContext, host: str, port: int, no_scheduler: bool) -> None:
    """Serve the web app with an embedded scheduler (single node)."""
    from web.app import create_app

    click.echo(_demo_text(install(ctx)))
    app = create_app(settings=ctx.settings, domain=ctx.domain,
                     start_scheduler=not no_scheduler)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":  # pragma: no cover
    main()
