"""Imports point only down the layers of docs/architecture.md (and shared/design/)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "hypersweep"

# package -> the hypersweep packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    # the user's API keys on this machine: read by clients, written by the server and the CLI
    "credentials": {"errors"},
    "domain": {"errors"},
    "config": {"errors"},
    "search": {"config", "domain", "errors"},
    "stopping": {"config", "domain", "errors"},
    "engine": {"search", "stopping", "config", "domain", "errors"},
    "store": {"domain", "errors"},
    "protocol": {"domain", "config", "errors"},
    "controller": {"engine", "store", "domain", "errors", "config", "search", "stopping"},
    # engine: the local controller (client/_controller.py) runs the server's search in the
    # user's process; imported there only, so `import hypersweep` stays light
    "client": {"protocol", "config", "domain", "errors", "credentials", "engine"},
    "server": {
        "controller",
        "store",
        "engine",
        "protocol",
        "config",
        "domain",
        "errors",
        "dashboard",
        "search",
        "stopping",
        "credentials",
    },
    "dashboard": {"protocol", "config", "domain", "errors"},
    "agent": {"client", "config", "domain", "errors", "protocol"},
    # User code shipped as examples: only the public client API (`import hypersweep`).
    "examples": set(),
    # `python -m hypersweep` only hands over to the CLI.
    "__main__": {"cli"},
    "cli": {
        "server",
        "agent",
        "controller",
        "client",
        "engine",
        "store",
        "protocol",
        "config",
        "domain",
        "errors",
        "search",
        "stopping",
        "dashboard",
        "examples",
        "credentials",
    },
}
# No I/O library below the engine: the pure layers stay pure.
FORBIDDEN_BELOW_ENGINE = {
    "httpx",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "requests",
    "socket",
    "subprocess",
    "time",
    "random",
}
PURE = {"config", "domain", "search", "stopping", "engine", "errors"}


def package_of(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SRC)) for p in MODULES])
def test_module_imports_only_lower_layers(path: Path) -> None:
    package = package_of(path)
    assert package in ALLOWED, f"{package} is not in the layer table; add it"
    for name in imports(path):
        if name.startswith("hypersweep."):
            target = name.split(".")[1]
            assert target == package or target in ALLOWED[package], (
                f"{path.relative_to(SRC)} imports {name}: {package} may not import {target}"
            )
        if package in PURE:
            root = name.split(".")[0]
            assert root not in FORBIDDEN_BELOW_ENGINE, (
                f"{path.relative_to(SRC)} imports {name}: the engine layers do no I/O"
            )
