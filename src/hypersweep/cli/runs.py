"""``hypersweep runs ID [--json]``: a sweep's runs, best first by its metric."""

from __future__ import annotations

import json

import click

from hypersweep.cli._output import (
    fetch_sweep,
    make_console,
    run_row,
    runs_table,
    slots_of,
    sort_runs,
    sweep_path,
    user_errors,
)
from hypersweep.cli.sweep import server_option
from hypersweep.client import ApiClient

__all__ = ["runs_command"]


@click.command("runs")
@click.argument("sweep_id", metavar="SWEEP_ID")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (for scripts).")
@server_option
def runs_command(sweep_id: str, as_json: bool, server: str | None) -> None:
    """Show the runs of sweep SWEEP_ID (ID or PROJECT/ID), best first.

    The table has each run's state (and why it was stopped), where it ran (host, and the
    agent's slot such as "gpu 0" for agents started with --gpus or --parallel), its parameters
    (nested ones as dotted keys), the sweep's metric from the run's summary, and its runtime.
    Runs without the metric come last. With --json, the same runs in the same order, one object
    each.
    """
    with user_errors(), ApiClient(server) as client:
        sweep = fetch_sweep(client, sweep_id)
        runs = client.list_runs(sweep.id)
        slots = slots_of(client.list_agents(sweep.id))
    if as_json:
        rows = [run_row(sweep, run, slots=slots) for run in sort_runs(sweep, runs)]
        click.echo(json.dumps(rows, indent=2))
        return
    title = f"sweep {sweep_path(sweep)} ({sweep.state}): {len(runs)} run{'s' * (len(runs) != 1)}"
    console = make_console()
    console.print(title, highlight=False)
    console.print(runs_table(sweep, runs, slots=slots))
