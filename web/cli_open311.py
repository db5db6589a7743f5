"""The `aduan open311 keys` commands: issue, list and revoke the API keys of Open311 client
applications (docs/channels.md). Registered on the command group of web/cli.py."""

from __future__ import annotations

import click

from web.cli import CliContext, command, emit, json_option, main, pass_ctx


@main.group()
def open311() -> None:
    """Open311 GeoReport v2 endpoint."""


@open311.group("keys")
def keys() -> None:
    """API keys of Open311 client applications."""


@keys.command("create")
@click.argument("name")
@click.option("--by", "created_by", default="admin", show_default=True,
              help="Who issues the key (recorded with it).")
@json_option
@pass_ctx
@command
def keys_create(ctx: CliContext, name: str, created_by: str, as_json: bool) -> None:
    """Issue a key named NAME; the key is printed once and stored only hashed."""
    document = ctx.domain.open311.create_key(name, created_by)
    emit(document, as_json, lambda d: f"key {d['id']} ({d['name']}): {d['key']}\n"
                                      "keep it now: it is not shown again")


@keys.command("list")
@json_option
@pass_ctx
@command
def keys_list(ctx: CliContext, as_json: bool) -> None:
    """List the keys (never the keys themselves)."""
    rows = ctx.domain.open311.list_keys()
    emit(rows, as_json, lambda rows: "\n".join(
        f"{r['id']}  {r['name']}  by {r['created_by']}  "
        f"{'revoked ' + r['revoked_at'] if r['revoked_at'] else 'active'}" for r in rows)
        or "no keys")


@keys.command("revoke")
@click.argument("key_id", type=int)
@json_option
@pass_ctx
@command
def keys_revoke(ctx: CliContext, key_id: int, as_json: bool) -> None:
    """Revoke key KEY_ID (see `list`): its requests are refused from now on."""
    document = ctx.domain.open311.revoke_key(key_id)
    emit(document, as_json, lambda d: f"key {d['id']} ({d['name']}) revoked")
