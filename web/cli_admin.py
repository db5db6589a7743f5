"""The `aduan` commands of the regency's administration: accounts and tokens, the demo
regency, the working calendar, the operators' status and outbox, and the processes that
serve (the web app, the scheduler). Registered on the command group of web/cli.py."""

from __future__ import annotations

from typing import Any

import click

from web import serving
from web.cli import CliContext, command, emit, json_option, main, pass_ctx, redact
from web.memory import WarmUp

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


@users.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (min. 8 characters); asked for when not given.")
@json_option
@pass_ctx
@command
def users_set_password(ctx: CliContext, username: str, password: str, as_json: bool) -> None:
    """Set USERNAME's password; every signed-in session of the account ends."""
    document = ctx.domain.accounts.set_password(username, password)
    emit(document, as_json, lambda d: f"new password for {d['username']}; "
                                      f"{d['sessions_ended']} session(s) ended")


@users.command("disable")
@click.argument("username")
@json_option
@pass_ctx
@command
def users_disable(ctx: CliContext, username: str, as_json: bool) -> None:
    """Disable USERNAME: no sign-in, every session ends, its API tokens are refused."""
    document = ctx.domain.accounts.set_active(username, False)
    emit(document, as_json, lambda d: f"disabled {d['username']}; "
                                      f"{d['sessions_ended']} session(s) ended")


@users.command("enable")
@click.argument("username")
@json_option
@pass_ctx
@command
def users_enable(ctx: CliContext, username: str, as_json: bool) -> None:
    """Enable USERNAME again (its API tokens work again; sessions must sign in afresh)."""
    document = ctx.domain.accounts.set_active(username, True)
    emit(document, as_json, lambda d: f"enabled {d['username']}")


@users.command("sign-out")
@click.argument("username")
@json_option
@pass_ctx
@command
def users_sign_out(ctx: CliContext, username: str, as_json: bool) -> None:
    """End every signed-in session of USERNAME (a lost phone, a shared computer)."""
    document = ctx.domain.accounts.end_sessions(username)
    emit(document, as_json, lambda d: f"{d['sessions_ended']} session(s) of "
                                      f"{d['username']} ended")


@users.command("unlock")
@click.argument("username")
@json_option
@pass_ctx
@command
def users_unlock(ctx: CliContext, username: str, as_json: bool) -> None:
    """Forget USERNAME's failed sign-ins: its locks and slowdown end now."""
    document = ctx.domain.accounts.unlock(username)
    emit(document, as_json, lambda d: f"{d['username']}: {d['failures_forgotten']} failed "
                                      f"sign-in(s) forgotten")


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


@main.group(invoke_without_command=True)
@json_option
@click.pass_context
def demo(click_ctx: click.Context, as_json: bool) -> None:
    """Load the demo regency (Penajam Paser Utara) into an empty database; `aduan demo
    accounts` lists its accounts again."""
    if click_ctx.invoked_subcommand is None:
        _demo_load(click_ctx.ensure_object(CliContext), as_json=as_json)


@command
def _demo_load(ctx: CliContext, as_json: bool) -> None:
    emit(install(ctx), as_json, demo_text)


@demo.command("accounts")
@json_option
@pass_ctx
@command
def demo_accounts(ctx: CliContext, as_json: bool) -> None:
    """The demo accounts that still have the demo password (their tokens are not kept)."""
    emit(ctx.domain.accounts.demo_accounts(), as_json, accounts_text)


def install(ctx: CliContext) -> dict[str, Any]:
    """Deploy the shipped diagrams and, on an empty database, the demo regency."""
    return ctx.domain.install(actor="aduan", demo_data=True)


TOKENS_HINT = ("API tokens are kept only as hashes; make a new one with: "
               "aduan tokens create USERNAME")
ACCOUNTS_HINT = "the demo accounts again, on any start or with: aduan demo accounts"


def demo_text(document: dict[str, Any]) -> str:
    """What `aduan demo` says: the accounts just made, with their tokens (shown only now)."""
    lines = [f"lifecycle diagram: version {document['diagrams']['version']}"]
    if not document["loaded"]:
        lines.append("demo data not loaded: the database already has agencies "
                     "(aduan demo accounts lists the demo accounts)")
        return "\n".join(lines)
    lines.append("demo accounts (password / API token, shown only now):")
    lines += [f"  {u['username']:<24} {','.join(u['roles']):<18} {u['password']}  "
              f"{u['token']}" for u in document["users"]]
    lines += [TOKENS_HINT, ACCOUNTS_HINT]
    return "\n".join(lines)


def accounts_text(accounts: list[dict[str, Any]]) -> str:
    """The demo accounts one can sign in to, as `aduan run` and `aduan demo accounts` say."""
    if not accounts:
        return ("no account has the demo password (the demo was not loaded, or its "
                "passwords were changed): aduan users list lists the accounts")
    lines = [f"demo accounts (password {accounts[0]['password']}):"]
    lines += [f"  {a['username']:<24} {','.join(a['roles']):<18} {a['agency'] or '-'}"
              for a in accounts]
    lines.append(TOKENS_HINT)
    return "\n".join(lines)


def start_text(document: dict[str, Any], accounts: list[dict[str, Any]]) -> str:
    """What `aduan run` says at start, on every start: the accounts just made with their
    tokens, or, on a database loaded before, the accounts that still have the demo password."""
    if document["loaded"]:
        return demo_text(document)
    return "\n".join([f"lifecycle diagram: version {document['diagrams']['version']}",
                      accounts_text(accounts)])


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
    document["moved"] = ctx.domain.calendar_changes.move_deadlines(actor)
    label = "day off" if kind == "day_off" else "working day"
    emit(document, as_json, lambda d: f"{d['day']} is a {label}: {d['name']} "
                                      f"({d['moved']} reports' deadlines moved)")


@calendar_group.command("day-off")
@click.argument("day")
@click.option("--name", required=True, help="The decree, e.g. 'Cuti Bersama Natal'.")
@click.option("--as", "actor")
@json_option
@pass_ctx
@command
def calendar_day_off(ctx: CliContext, day: str, name: str, actor: str | None,
                     as_json: bool) -> None:
    """Declare DAY (YYYY-MM-DD) a day off; running deadlines move with it (the page
    /admin/calendar previews what a change moves first)."""
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
    moved = ctx.domain.calendar_changes.move_deadlines(None)
    emit({"day": day, "reset": True, "moved": moved}, as_json,
         lambda d: f"{d['day']}: as the library says ({d['moved']} reports' deadlines moved)")


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
              f"{s['last_seen_at']}" for s in d["schedulers"]]
    gone = d["schedulers_gone"]
    hours = round(gone["after_seconds"] / 3600)
    if gone["count"]:
        lines.append(f"{gone['count']} scheduler(s) silent for over {hours} h, not listed "
                     f"(the last seen {gone['last_seen_at']}); a running scheduler forgets them")
    if not d["schedulers"]:
        lines.append("no scheduler has run" if not gone["count"] else
                     f"no scheduler seen in the last {hours} h: start aduan run or "
                     "aduan scheduler")
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
    click.echo(f"scheduler {process.worker_id} running on {redact(ctx.settings.database_url)}")
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

    document = install(ctx)
    accounts = document["users"] if document["loaded"] else (
        ctx.domain.accounts.demo_accounts())
    click.echo(start_text(document, accounts))
    for warning in serving.run_warnings(host, port, ctx.settings.cookie_secure,
                                        demo_accounts=len(accounts)):
        click.echo(warning, err=True)
    app = create_app(settings=ctx.settings, domain=ctx.domain,
                     start_scheduler=not no_scheduler)
    WarmUp().install(app)  # as gunicorn's workers do (web/gunicorn_conf.py)
    app.run(host=host, port=port, threaded=True, use_reloader=False)
