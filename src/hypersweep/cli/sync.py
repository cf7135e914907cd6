"""``hypersweep sync DIR... [--sweep ID] [--server URL] [--new-id]``: upload offline runs."""

from __future__ import annotations

from pathlib import Path

import click

from hypersweep.client._http import ApiClient
from hypersweep.client._offline import find_run_dirs
from hypersweep.client._sync import sync_run


@click.command("sync")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sweep", "sweep", metavar="ID", help="Add the runs to this sweep.")
@click.option("--server", metavar="URL", help="Server address (default: $HYPERSWEEP_SERVER).")
@click.option("--new-id", is_flag=True, help="Give each run a fresh id (when its id is taken).")
def sync_command(
    dirs: tuple[Path, ...], sweep: str | None, server: str | None, new_id: bool
) -> None:
    """Upload offline runs into a sweep, one line per run.

    Each DIR is an offline-run-... directory written by hypersweep.init(), or a directory
    holding several (e.g. ./hypersweep). Runs started in a sweep go back to it; other runs need
    --sweep. A spool directory that a run left when its server was away at finish() (the run
    printed its path) is appended to that run instead. A synced directory is marked and skipped
    next time. Exits 1 when any run failed.
    """
    failed = 0
    with ApiClient(server) as client:
        for path in dirs:
            runs = find_run_dirs(path)
            if not runs:
                click.echo(
                    f"{path}: no offline run here (no run.json in it or its subdirectories); "
                    "pass the offline-run-... directory that hypersweep.init() printed",
                    err=True,
                )
                failed += 1
                continue
            for run_dir in runs:
                result = sync_run(client, run_dir, sweep=sweep, new_id=new_id)
                click.echo(result.message, err=result.outcome == "failed")
                failed += result.outcome == "failed"
    if failed:
        raise SystemExit(1)
