"""Example sweeps that ship with hypersweep: a W&B-style training script and its sweep config.

``hypersweep quickstart`` runs the digits example end to end. The scripts are user code: they
import only the public ``hypersweep`` client API (``init``, ``config``, ``log``, ``finish``)
and scikit-learn (``pip install 'hypersweep[examples]'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Example", "digits"]

_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Example:
    """Where one example's files are.

    Attributes:
        directory: the folder to run the agent in (``program`` is relative to it).
        program: the training script.
        config: the W&B-format sweep config (``sweep.yaml``).
    """

    directory: Path
    program: Path
    config: Path


def digits() -> Example:
    """The digits example: an MLP on scikit-learn's bundled digits, logging ``val_accuracy``.

    Example:
        >>> example = digits()
        >>> (example.program.name, example.config.name, example.config.is_file())
        ('train.py', 'sweep.yaml', True)
    """
    directory = _HERE / "digits"
    return Example(directory, directory / "train.py", directory / "sweep.yaml")
