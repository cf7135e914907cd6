"""``hypersweep server`` (serve the API over a store) and ``hypersweep db upgrade``."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import click

from hypersweep.controller import AGENT_TIMEOUT
from hypersweep.credentials import is_loopback
from hypersweep.errors import HypersweepError, StoreError
from hypersweep.server import serve
from hypersweep.server._credentials import ensure_local_key, login_link
from hypersweep.server._workers import serve_workers
from hypersweep.store import DB_FILENAME, UPGRADE_COMMAND, Store, default_data_dir, open_store

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _fail(exc: HypersweepError) -> NoReturn:
    click.echo(f"Error: {exc}", err=True)
    raise SystemExit(exc.exit_code or 1)


def store_target(data_dir: Path | None, db: str | None) -> str:
    """The database URL or file that ``--data-dir`` / ``--db`` name (default: the data dir)."""
    if data_dir is not None and db is not None:
        raise click.UsageError("give either --data-dir or --db, not both")
    if db is not None:
        if not _URL.match(db):
            raise click.BadParameter(
                f"{db!r} is not a database URL; use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST/DB (or --data-dir DIR for a directory)",
                param_hint="--db",
            )
        return db
    directory = data_dir if data_dir is not None else default_data_dir()
    if directory.exists() and not directory.is_dir():
        raise click.BadParameter(
            f"{str(directory)!r} is a file; give a directory (it will hold {DB_FILENAME})",
            param_hint="--data-dir",
        )
    return str(directory / DB_FILENAME)


def shown(target: str) -> str:
    """The store's location for people: a file path, or a URL without its password."""
    if not _URL.match(target):
        return target
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


_store_options = [
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Directory of the SQLite database ({DB_FILENAME}); default: {default_data_dir()}.",
    ),
    click.option(
        "--db",
        metavar="URL",
        help="Database URL instead: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB.",
    ),
]


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@_store_options[0]
@_store_options[1]
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    help="uvicorn's log level; debug also logs every request.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes sharing the port and the database (SQLite: one writer at a time).",
)
@click.option(
    "--heartbeat-timeout",
    type=click.FloatRange(min=1),
    default=AGENT_TIMEOUT.total_seconds(),
    show_default=True,
    metavar="SECONDS",
    help="An agent silent this long is lost: its runs become crashed.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Accept requests without an API key (only with a loopback --host).",
)
def server_command(
    host: str,
    port: int,
    data_dir: Path | None,
    db: str | None,
    log_level: str,
    workers: int,
    heartbeat_timeout: float,
    no_auth: bool,
) -> None:
    """Serve the hypersweep API (and dashboard) until Ctrl-C.

    Agents and training scripts reach it through --server or HYPERSWEEP_SERVER. Every request
    needs an API key: at start the server records an admin key for its address in your
    credentials file (so your own CLI, agents and scripts need no setup) and prints a one-time
    dashboard login link. Others use `hypersweep login URL` or HYPERSWEEP_API_KEY.
    """
    if no_auth and not is_loopback(host):
        raise click.BadParameter(
            f"--no-auth with --host {host} would open the server to the network; use it only "
            "with a loopback address (127.0.0.1), or give people keys (hypersweep key create)",
            param_hint="--no-auth",
        )
    target = store_target(data_dir, db)
    try:
        store = open_store(target)
    except HypersweepError as exc:
        _fail(exc)

    def ready(url: str) -> None:
        processes = f", {workers} processes" if workers > 1 else ""
        click.echo(f"hypersweep server at {url} (API {url}/api/v1, docs {url}/docs{processes})")
        click.echo(f"store: {shown(target)}")
        if no_auth:
            click.echo(
                "authentication is OFF (--no-auth): anyone who can reach "
                f"{url} may read and change every sweep"
            )
        else:
            try:
                _announce_access(store, url)
            except HypersweepError as exc:
                _fail(exc)
        if workers > 1:
            store.close()  # opened to check, migrate and make keys once; each worker opens its own
        click.echo(f"agents: HYPERSWEEP_SERVER={url} hypersweep agent SWEEP_ID  (Ctrl-C stops)")

    try:
        if workers > 1:
            serve_workers(
                target,
                host,
                port,
                workers,
                log_level=log_level,
                on_ready=ready,
                heartbeat_timeout=heartbeat_timeout,
                auth=not no_auth,
            )
        else:
            serve(
                store,
                host,
                port,
                log_level=log_level,
                on_ready=ready,
                heartbeat_timeout=heartbeat_timeout,
                auth=not no_auth,
            )
    except HypersweepError as exc:
        _fail(exc)
    finally:
        store.close()


def _announce_access(store: Store, url: str) -> None:
    """Make sure this user holds an admin key for ``url``, and print a dashboard login link."""
    now = datetime.now(timezone.utc)
    local = ensure_local_key(store, url, now)
    if local.created and local.saved_to is not None:
        click.echo(f"admin API key made and saved for {url} in {local.saved_to} (mode 0600)")
    elif local.created:
        click.echo(
            f"admin API key (shown once; the credentials file could not be written): {local.secret}"
        )
    click.echo(f"dashboard: {login_link(store, url, now)}  (one-time login link, 24 h)")


def _url_of(target: str) -> str:
    return target if _URL.match(target) else f"sqlite:///{target}"


@click.group("db")
def db_group() -> None:
    """Manage the server's database."""


@db_group.command("upgrade")
@_store_options[0]
@_store_options[1]
def upgrade_command(data_dir: Path | None, db: str | None) -> None:
    """Upgrade the database schema to this hypersweep's revision (back it up first)."""
    target = store_target(data_dir, db)
    try:
        before, after = _upgrade(target)
    except HypersweepError as exc:
        _fail(exc)
    if before == after:
        click.echo(f"{shown(target)}: already at schema revision {after}")
    else:
        click.echo(f"{shown(target)}: upgraded from {before or 'empty'} to {after}")


def _upgrade(target: str) -> tuple[str | None, str]:
    # The store has no public "upgrade" entry point yet (SqlStore refuses to open a database at
    # another revision, by design), so this drives its migration helpers on a bare connection.
    import sqlalchemy as sa

    from hypersweep.store._migrate import current_revision, head_revision, upgrade

    url = _url_of(target)
    if not _URL.match(target):
        try:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the data directory {Path(target).parent}: {exc}"
            ) from None
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StoreError(
            f"cannot use the database URL {shown(target)}: {exc}; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB"
        ) from None
    try:
        with engine.begin() as conn:
            before = current_revision(conn)
            upgrade(conn)
        return before, head_revision()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(
            f"the database at {shown(target)} failed: {getattr(exc, 'orig', exc)}; check that "
            f"it is reachable and writable, then run `{UPGRADE_COMMAND}` again"
        ) from None
    finally:
        engine.dispose()
