"""``hypersweep validate FILE... [--strict]``: check sweep configs without a server."""

from __future__ import annotations

import click

from hypersweep import engine

EXIT_INVALID = 2


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate_command(files: tuple[str, ...], strict: bool) -> None:
    """Check each sweep config FILE (YAML or JSON) and print every issue.

    Exits 0 when every file is valid (warnings allowed) and 2 when any has an error.
    """
    invalid = 0
    for path in files:
        issues = engine.validate(path, strict=strict)
        for issue in issues:
            click.echo(f"{path}: {issue}", err=True)
        if any(issue.is_error for issue in issues):
            invalid += 1
        else:
            note = f" ({len(issues)} warning{'s' * (len(issues) != 1)})" if issues else ""
            click.echo(f"{path}: valid{note}")
    if invalid:
        raise SystemExit(EXIT_INVALID)
