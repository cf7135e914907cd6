"""The one exception tree of hypersweep.

::

    HypersweepError                 anything hypersweep raises on purpose
     +-- ConfigError                 a sweep config has errors (carries every ConfigIssue)
     +-- NotFoundError               a sweep, run, agent or project does not exist
     +-- ConflictError               the request contradicts the stored state
     +-- StoreError                  the database failed or is at the wrong schema revision
     +-- AuthError                   missing, wrong or insufficient API key
     +-- ServerUnavailable           the server could not be reached
     +-- RunStopped                  the server stopped the run that is logging

Each boundary maps the tree once: the server to HTTP statuses, the CLI to exit codes
(``exit_code`` on each class). This module imports nothing so every layer may use it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AuthError",
    "ConfigError",
    "ConfigIssue",
    "ConflictError",
    "ForbiddenError",
    "HypersweepError",
    "NotFoundError",
    "RequestTooLarge",
    "RunStopped",
    "ServerUnavailable",
    "Severity",
    "StoreError",
]


class Severity(str, enum.Enum):
    """How bad a config issue is (spec §2.5): errors stop the sweep, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a sweep config.

    ``path`` is the dotted key path (``parameters.optimizer.parameters.lr.max``; empty for the
    file as a whole); ``message`` names the value, what is wrong and how to fix it.
    """

    path: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        prefix = f"{self.path}: " if self.path else ""
        tag = "" if self.is_error else "warning: "
        return f"{prefix}{tag}{self.message}"


class HypersweepError(Exception):
    """Base class of every error hypersweep raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500


class ConfigError(HypersweepError):
    """A sweep config has errors; ``issues`` holds every one of them, not just the first."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 422

    def __init__(self, issues: Sequence[ConfigIssue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        prefix = f"{source}: " if source else ""
        lines = [f"{prefix}{issue}" for issue in self.issues]
        if not lines:
            lines = [f"{prefix}invalid sweep config"]
        super().__init__("\n".join(lines))


class NotFoundError(HypersweepError):
    """A sweep, run, agent or project does not exist."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 404


class ConflictError(HypersweepError):
    """The request contradicts stored state (e.g. pausing a finished sweep)."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 409


class StoreError(HypersweepError):
    """The database failed, is unreachable, or is at another schema revision."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 503


class AuthError(HypersweepError):
    """The API key is missing, wrong, expired or revoked."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 401


class ForbiddenError(AuthError):
    """The key is valid but its role may not do this (or a cross-site request was refused)."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 403


class RequestTooLarge(HypersweepError):
    """A request body over the server's limit (413); the client sends it in smaller parts."""

    http_status: ClassVar[int] = 413


class ServerUnavailable(HypersweepError):
    """The hypersweep server could not be reached."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 503


class RunStopped(HypersweepError):
    """The server stopped this run (early termination, or a user's stop) while it was logging.

    Raised by ``log()`` inside the in-process function agent (``hypersweep.agent(function=f)``),
    which catches it and records the run as killed and stopped; in a subprocess run the agent
    sends SIGTERM instead. Catch it only to clean up, then let it propagate.
    """

    exit_code: ClassVar[int] = 0
    http_status: ClassVar[int] = 409
