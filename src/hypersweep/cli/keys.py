"""``hypersweep login URL`` and ``hypersweep key create|list|revoke``: access to a server."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from hypersweep.cli._output import make_console, user_errors
from hypersweep.cli.sweep import server_option
from hypersweep.client import ApiClient
from hypersweep.client._env import server_url
from hypersweep.credentials import save_key

__all__ = ["key_group", "login_command"]

ROLES = ("admin", "agent", "read")


@click.command("login")
@click.argument("url", required=False)
@click.option(
    "--key",
    "key",
    envvar="HYPERSWEEP_API_KEY",
    help="The API key (default: $HYPERSWEEP_API_KEY, else asked for without echo).",
)
def login_command(url: str | None, key: str | None) -> None:
    """Check an API key against the server at URL and record it for this user.

    The key goes to the credentials file (mode 0600), where the CLI, agents and scripts of this
    user find it for that server. URL defaults to $HYPERSWEEP_SERVER, else the local server.
    """
    address = server_url(url)
    if not key:
        if not sys.stdin.isatty():
            raise click.UsageError("no key given: pass --key KEY or set HYPERSWEEP_API_KEY")
        key = click.prompt(f"API key for {address}", hide_input=True).strip()
    with user_errors(), ApiClient(address, api_key=key) as client:
        who = client.whoami()
        path = save_key(address, key)
    click.echo(f"logged in to {address} as {who.name!r} (role {who.role}); key saved to {path}")


@click.group("key")
def key_group() -> None:
    """Manage the server's API keys (needs an admin key)."""


@key_group.command("create")
@click.option("--name", required=True, help="Who or what will hold the key, e.g. 'gpu-node-3'.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="agent",
    show_default=True,
    help="admin: everything; agent: run agents and report runs; read: look only.",
)
@server_option
def create_command(name: str, role: str, server: str | None) -> None:
    """Make a key and print it once (the server keeps only its hash)."""
    with user_errors(), ApiClient(server) as client:
        made = client.create_key(name, role)
    click.echo(made.key)
    click.echo(
        f"key {made.id} ({made.name}, role {made.role}) made; it is shown only now. Use it with "
        f"HYPERSWEEP_API_KEY=... or `hypersweep login {client.url}`.",
        err=True,
    )


@key_group.command("list")
@server_option
def list_command(server: str | None) -> None:
    """Show the keys: id, name, role, created, revoked."""
    with user_errors(), ApiClient(server) as client:
        keys = client.list_keys()
    table = Table("id", "name", "role", "created", "revoked")
    for key in keys:
        revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else ""
        table.add_row(
            key.id, key.name, key.role, key.created_at.strftime("%Y-%m-%d %H:%M"), revoked
        )
    make_console().print(table)


@key_group.command("revoke")
@click.argument("key_id")
@server_option
def revoke_command(key_id: str, server: str | None) -> None:
    """Revoke key KEY_ID: refused from the next request on."""
    with user_errors(), ApiClient(server) as client:
        key = client.revoke_key(key_id)
    click.echo(f"key {key.id} ({key.name}) revoked")
