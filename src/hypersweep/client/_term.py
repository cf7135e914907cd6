"""``wandb.termlog``, ``termwarn`` and ``termerror``: a script's own messages on stderr.

They print the way hypersweep prints its own messages, which follow W&B's form with our name:
``hypersweep: message``, ``hypersweep: WARNING message``, ``hypersweep: ERROR message`` (W&B
prints ``wandb: WARNING message``), each line of a message prefixed.
"""

from __future__ import annotations

import sys

__all__ = ["termerror", "termlog", "termwarn"]

PREFIX = "hypersweep: "
_printed: set[str] = set()


def termlog(
    string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True
) -> None:
    """Print ``string`` to stderr after ``hypersweep: `` (``wandb.termlog``).

    Args:
        string: the message; each of its lines gets the prefix.
        newline: end with a newline.
        repeat: False prints the message only the first time it comes up in this process.
        prefix: False prints the lines without the prefix.
    """
    if not repeat:
        if string in _printed:
            return
        _printed.add(string)
    text = "\n".join(f"{PREFIX}{line}" for line in string.split("\n")) if prefix else string
    print(text, end="\n" if newline else "", file=sys.stderr, flush=True)


def termwarn(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """``termlog`` with ``WARNING `` before each line (``wandb.termwarn``)."""
    termlog(_tagged("WARNING", string), newline=newline, repeat=repeat, prefix=prefix)


def termerror(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """``termlog`` with ``ERROR `` before each line (``wandb.termerror``)."""
    termlog(_tagged("ERROR", string), newline=newline, repeat=repeat, prefix=prefix)


def _tagged(tag: str, string: str) -> str:
    return "\n".join(f"{tag} {line}" for line in string.split("\n"))
