"""The `aduan` command line: its conventions (JSON output with --json, clear errors, exit
codes), the database and the engine's commands; web/cli_admin.py adds the administration's."""

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
from workflows import diagram_ids as lifecycle_ids
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
    emit({"database": redact(ctx.settings.database_url), "revision": revision}, as_json,
         lambda d: f"database {d['database']} is at revision {d['revision']}")


def redact(url: str) -> str:
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
    emit(document, as_json, lambda d: "\n".join((["valid"] if d["valid"] else []) + [
        f"{f['file']} [{f['element_id'] or '-'}] {f['severity']}: {f['message']}"
        for f in d["findings"]]))  # warnings (lint rules) also when valid
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
    """Start an instance of a deployed process (not of the complaint lifecycle: a report
    starts its own)."""
    if process_id == lifecycle_ids.PROCESS_ID:
        fail(f"{process_id} instances start with their report: file one with the web form or "
             "POST /api/v1/complaints; an instance started here would have no report, and its "
             "first deadline would fail", as_json)
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


# The administration's commands (accounts, calendar, operations, serving) register on `main`.
from web import cli_admin, cli_open311  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    main()
