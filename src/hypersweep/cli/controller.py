"""``hypersweep controller SWEEP_ID``: run a locally controlled sweep's search and stopping rule
in this terminal (spec §9.3, §10); ``hypersweep sweep --controller CONFIG`` creates the sweep
first."""

from __future__ import annotations

import click

from hypersweep.cli._output import user_errors
from hypersweep.cli.sweep import interval_option, server_option, verbose_option
from hypersweep.client import ApiClient
from hypersweep.client._controller import LocalController

__all__ = ["controller_command"]


@click.command("controller")
@click.argument("sweep_id")
@server_option
@verbose_option
@interval_option
def controller_command(sweep_id: str, server: str | None, verbose: bool, interval: float) -> None:
    """Run the search and the early-termination rule of SWEEP_ID (SWEEP or PROJECT/SWEEP) here,
    until the sweep is over or Ctrl-C.

    The sweep must have been created with controller: {type: local} in its config (or with
    `hypersweep sweep --controller CONFIG`): its agents then wait for the runs this controller
    schedules, one at a time, and the server applies no early_terminate rule of its own. Each
    step prints W&B's status line; stopping the controller leaves the sweep and its agents as
    they are, and starting it again carries on.
    """
    with user_errors(), ApiClient(server) as client:
        LocalController(client, sweep_id).run(verbose=verbose, interval=interval)
