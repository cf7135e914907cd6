"""The root ``hypersweep`` command group; each subcommand lives in its own module."""

from __future__ import annotations

import click

from hypersweep.cli.agent import agent_command
from hypersweep.cli.controller import controller_command
from hypersweep.cli.export import export_command
from hypersweep.cli.keys import key_group, login_command
from hypersweep.cli.launch import launch_command
from hypersweep.cli.quickstart import quickstart_command
from hypersweep.cli.runs import runs_command
from hypersweep.cli.server import db_group, server_command
from hypersweep.cli.sweep import sweep_command
from hypersweep.cli.sync import sync_command
from hypersweep.cli.validate import validate_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hypersweep")
def main() -> None:
    """Self-hosted hyperparameter sweeps that speak W&B's sweep YAML."""


main.add_command(validate_command)
main.add_command(sweep_command)
main.add_command(agent_command)
main.add_command(controller_command)
main.add_command(launch_command)
main.add_command(runs_command)
main.add_command(quickstart_command)
main.add_command(server_command)
main.add_command(db_group)
main.add_command(sync_command)
main.add_command(export_command)
main.add_command(login_command)
main.add_command(key_group)
