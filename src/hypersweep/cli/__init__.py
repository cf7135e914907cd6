"""The ``hypersweep`` command line: thin commands that parse, call, and map errors to exit codes."""

from hypersweep.cli._main import main

__all__ = ["main"]
