"""``hypersweep sweep CONFIG`` creates a sweep; ``hypersweep sweep --pause|--resume|--stop|--cancel
ID`` changes its state (spec §9.1, §8.1); ``hypersweep sweep --controller CONFIG`` creates a
locally controlled sweep and runs its controller here (spec §10).

The config is validated here first (``engine.validate``), so a broken file prints every issue
with its key path and exits 2 without a server round trip and without creating anything. The
server then stores it and answers with the id; we print the exact agent command to copy.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import click

from hypersweep import engine
from hypersweep.cli._output import fetch_sweep, sweep_path, user_errors
from hypersweep.client import DEFAULT_SERVER, ApiClient
from hypersweep.client._controller import LocalController
from hypersweep.client._sweep import copy_prior_runs, fetch_prior_runs
from hypersweep.config import load_source
from hypersweep.errors import ConfigError

__all__ = [
    "agent_command",
    "interval_option",
    "server_option",
    "sweep_command",
    "verbose_option",
]

# flag -> (action sent to the server, the verb printed while it happens; spec §9.1)
_ACTIONS = {
    "pause": "Pausing",
    "resume": "Resuming",
    "stop": "Stopping",
    "cancel": "Cancelling",
}

server_option = click.option(
    "--server",
    metavar="URL",
    default=None,
    help=f"The hypersweep server [default: $HYPERSWEEP_SERVER or {DEFAULT_SERVER}].",
)
# the local controller's (``hypersweep controller``, ``hypersweep sweep --controller``)
verbose_option = click.option(
    "--verbose",
    is_flag=True,
    help="Controller: print each run scheduled or stopped and why, and what each step read "
    "(W&B's actions and debug lines).",
)
interval_option = click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Controller: seconds between its steps.",
)


def agent_command(path: str, url: str) -> str:
    """The command that starts an agent for ``path``; ``--server`` only when it is not the default.

    Example:
        >>> agent_command("digits/ab12cd34", "http://10.0.0.5:8787")
        'hypersweep agent digits/ab12cd34 --server http://10.0.0.5:8787'
    """
    words = ["hypersweep", "agent", path]
    if url != DEFAULT_SERVER:
        words += ["--server", url]
    return shlex.join(words)


@click.command("sweep")
@click.argument("target", metavar="CONFIG_OR_SWEEP_ID")
@click.option(
    "-p",
    "--project",
    help="Project of the new sweep [default: $WANDB_PROJECT, then the config's project key].",
)
@click.option(
    "-e",
    "--entity",
    help="W&B's user or team of the new sweep, kept as its config's entity key "
    "[default: that key].",
)
@click.option("--name", help="Name of the new sweep [default: the config's name key].")
@click.option("--program", help="The program the agents run, in place of the config's program key.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the new sweep's id (for scripts).")
@click.option("--strict", is_flag=True, help="Refuse the config on warnings too.")
@click.option(
    "--prior-runs",
    "--prior_run",
    "-R",
    "prior_runs",
    metavar="ID1,ID2",
    multiple=True,
    help="Copy these ended runs (of any sweep on the server) into the new sweep, so its "
    "search counts them; comma separated, repeatable.",
)
@click.option("--pause", "actions", flag_value="pause", multiple=True, help="Pause sweep ID.")
@click.option("--resume", "actions", flag_value="resume", multiple=True, help="Resume sweep ID.")
@click.option(
    "--stop", "actions", flag_value="stop", multiple=True, help="Stop sweep ID; runs finish."
)
@click.option(
    "--cancel", "actions", flag_value="cancel", multiple=True, help="Cancel sweep ID; kills runs."
)
@click.option(
    "--controller",
    "local",
    is_flag=True,
    help="Create the sweep with controller: {type: local}, then run its controller here "
    "(as `hypersweep controller ID`).",
)
@verbose_option
@interval_option
@server_option
def sweep_command(
    target: str,
    project: str | None,
    entity: str | None,
    name: str | None,
    program: str | None,
    quiet: bool,
    strict: bool,
    prior_runs: tuple[str, ...],
    actions: tuple[str, ...],
    local: bool,
    verbose: bool,
    interval: float,
    server: str | None,
) -> None:
    """Create a sweep from CONFIG (W&B's YAML or JSON), or change the state of sweep ID.

    \b
    hypersweep sweep sweep.yaml            create it, print the agent command
    ID=$(hypersweep sweep -q sweep.yaml)   only the id, for scripts
    hypersweep sweep --pause PROJECT/ID    also --resume, --stop, --cancel
    hypersweep sweep --controller sweep.yaml   create it, then run its search here
    """
    if len(set(actions)) > 1 or len(actions) > 1:
        raise click.UsageError("Only one state flag (stop/cancel/pause/resume) is allowed.")
    prior = [part.strip() for value in prior_runs for part in value.split(",") if part.strip()]
    interval_given = (
        click.get_current_context().get_parameter_source("interval")
        is not click.core.ParameterSource.DEFAULT
    )
    if (verbose or interval_given) and not local:
        raise click.UsageError("--verbose and --interval go with --controller.")
    if actions:
        if prior:
            raise click.UsageError("--prior-runs goes with a new sweep, not with a state flag.")
        if local:
            raise click.UsageError(
                "--controller goes with a new sweep, not with a state flag; run the controller "
                "of an existing sweep with `hypersweep controller ID`."
            )
        _change_state(target, actions[0], server)
    else:
        given: dict[str, Any] = {"entity": entity, "program": program}
        if local:  # W&B's --controller sets controller.type (spec §9.1)
            given["controller"] = {"type": "local"}
        overrides = {key: value for key, value in given.items() if value is not None}
        created = _create(
            target,
            project,
            name,
            quiet=quiet,
            strict=strict,
            server=server,
            prior=prior,
            overrides=overrides,
        )
        if local:
            if not quiet:
                click.echo("Running its local controller here (Ctrl-C stops it)", err=True)
            with user_errors(), ApiClient(server) as client:
                LocalController(client, created).run(verbose=verbose, interval=interval)


def _create(
    path: str,
    project: str | None,
    name: str | None,
    *,
    quiet: bool,
    strict: bool,
    server: str | None,
    prior: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> str:
    """Create the sweep, print its id and the agent command, and return the id."""
    if not Path(path).is_file():
        hint = (
            "; to change a sweep's state add --pause, --resume, --stop or --cancel"
            if not Path(path).suffix
            else ""
        )
        raise click.BadParameter(
            f"{path!r} is not a file; give the path of a sweep config (YAML or JSON){hint}",
            param_hint="CONFIG_OR_SWEEP_ID",
        )
    with user_errors(source=path):
        issues = engine.validate(path, strict=strict)
        if any(issue.is_error for issue in issues):
            raise ConfigError([issue for issue in issues if issue.is_error])
        config: dict[str, Any] = load_source(path)[0]
        if overrides:  # the flags win over the file's keys, as W&B's do
            config = {**config, **overrides}
            issues = engine.validate(config, strict=strict)
            if any(issue.is_error for issue in issues):
                raise ConfigError([issue for issue in issues if issue.is_error])
        if not quiet:
            click.echo(f"Creating sweep from: {path}", err=True)
        with ApiClient(server) as client:
            prior_out = fetch_prior_runs(client, prior or [])
            created = client.create_sweep(
                config,
                project=project or os.environ.get("WANDB_PROJECT") or None,
                name=name,
                strict=strict,
            )
            copied = copy_prior_runs(client, prior_out, created.id)
            url = client.url
    if quiet:
        click.echo(created.id)
        return created.id
    for warning in created.warnings:
        prefix = f"{warning.path}: " if warning.path else ""
        click.echo(f"{path}: {prefix}warning: {warning.message}", err=True)
    where = sweep_path(created)
    click.echo(f"Creating sweep with ID: {created.id}", err=True)
    if prior:
        click.echo(f"Copied {copied} prior run{'s' * (copied != 1)} into it", err=True)
    click.echo(f"Run sweep agent with: {agent_command(where, url)}", err=True)
    click.echo(f"See its runs with: hypersweep runs {where}", err=True)
    if engine.parse(created.config).controller == "local" and not (overrides or {}).get(
        "controller"
    ):  # with --controller the controller starts next; without it the agents would wait
        words = ["hypersweep", "controller", where] + (
            ["--server", url] if url != DEFAULT_SERVER else []
        )
        click.echo(
            f"Its agents wait for its local controller: start it with: {shlex.join(words)}",
            err=True,
        )
    return created.id


def _change_state(target: str, action: str, server: str | None) -> None:
    with user_errors(), ApiClient(server) as client:
        sweep = fetch_sweep(client, target)
        click.echo(f"{_ACTIONS[action]} sweep {sweep_path(sweep)}", err=True)
        client.sweep_action(sweep.id, action)
    click.echo("Done.", err=True)
