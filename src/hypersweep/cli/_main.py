"""The root ``hypersweep`` command group; each subcommand lives in its own module."""

from __future__ import annotations

import click

from hypersweep.cli.validate import validate_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hypersweep")
def main() -> None:
    """Self-hosted hyperparameter sweeps that speak W&B's sweep YAML."""


main.add_command(validate_command)
