"""The examples in the public docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import hypersweep

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(hypersweep.__path__, "hypersweep.")
    # the CLI's modules are click commands; "hypersweep.client" must not be left out with them
    if info.name != "hypersweep.cli" and not info.name.startswith("hypersweep.cli.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
