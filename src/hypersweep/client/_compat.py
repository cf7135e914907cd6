"""W&B calls with no counterpart here, accepted so W&B scripts run unchanged: ``login``,
``watch``/``unwatch``, ``save``, ``alert``, ``mark_preempting``, artifacts and ``Settings``.

Each says once per process what it does not do (``warn_once``) and returns what a script can
keep using: ``login()`` returns True, ``watch()`` None, ``log_artifact()`` the artifact. The
only call that fails is reading an artifact's files (``download()``, ``get_path()``, ...),
because no file a script then opens could exist; its error says where to keep such files.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from hypersweep.client._config import warn_once
from hypersweep.client._env import server_url
from hypersweep.errors import HypersweepError

__all__ = [
    "AlertLevel",
    "Artifact",
    "Settings",
    "alert",
    "log_artifact",
    "login",
    "mark_preempting",
    "save",
    "unwatch",
    "use_artifact",
    "watch",
]

_logged_in = False


def login(*args: Any, **kwargs: Any) -> bool:
    """``wandb.login()``: nothing to log in to; says once which server runs report to.

    Accepts W&B's arguments (``key``, ``relogin``, ``host``, ...) and ignores them: a W&B key
    is not a hypersweep key. The server is ``$HYPERSWEEP_SERVER`` (or the local default); its
    key comes from ``$HYPERSWEEP_API_KEY`` or the file ``hypersweep login`` writes.

    Returns:
        True, as W&B's does when logged in.
    """
    global _logged_in
    if not _logged_in:
        _logged_in = True
        print(
            f"hypersweep: login() is not needed: runs report to the hypersweep server at "
            f"{server_url()} (set HYPERSWEEP_SERVER to use another) with the key from "
            "HYPERSWEEP_API_KEY or `hypersweep login`; a W&B key is not sent anywhere",
            file=sys.stderr,
        )
    return True


def watch(models: Any = None, *args: Any, **kwargs: Any) -> None:
    """``wandb.watch(model, ...)``: gradients and parameters are not logged; returns None."""
    warn_once(
        "watch",
        "wandb.watch() is ignored: hypersweep does not record gradients or parameters; log "
        "the values you need with log()",
    )


def unwatch(models: Any = None) -> None:
    """``wandb.unwatch(model)``: nothing to undo."""


def save(glob_str: Any = None, *args: Any, **kwargs: Any) -> None:
    """``wandb.save(path)``: files are not uploaded; they stay where the script wrote them."""
    warn_once(
        "save",
        f"wandb.save({glob_str!r}) is ignored: hypersweep does not upload files; they stay "
        "where your script wrote them (this warning is shown once)",
    )


class AlertLevel(str, enum.Enum):
    """``wandb.AlertLevel``, for ``alert(level=...)``."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def alert(
    title: str = "",
    text: str = "",
    level: str | AlertLevel | None = None,
    wait_duration: Any = None,
) -> None:
    """``wandb.alert(title, text)``: printed to stderr (there is no notification service)."""
    warn_once(
        "alert",
        "wandb.alert() sends no notification with hypersweep; alerts are printed to stderr",
    )
    name = level.value if isinstance(level, AlertLevel) else (level or "INFO")
    print(f"hypersweep: ALERT [{name}] {title}: {text}", file=sys.stderr)


def mark_preempting() -> None:
    """``wandb.mark_preempting()``: the agent sees the SIGTERM itself, so nothing to mark."""
    warn_once(
        "mark_preempting",
        "wandb.mark_preempting() is ignored: the agent sees the SIGTERM itself and reports the "
        "run preempted",
    )


class Settings:
    """``wandb.Settings(...)``: takes any of W&B's settings and acts on none of them.

    ``init(settings=...)`` is accepted and ignored with a warning, so the object only has to
    exist; the values given stay readable as its attributes.
    """

    def __init__(self, **kwargs: Any) -> None:
        vars(self).update(kwargs)

    def __repr__(self) -> str:
        given = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"hypersweep.Settings({given})"


def _warn_artifacts() -> None:
    warn_once(
        "artifacts",
        "W&B artifacts are not stored by hypersweep: log_artifact() keeps nothing and "
        "use_artifact() has no files; keep datasets and models on a shared path and pass it "
        "through the config",
    )


class Artifact:
    """``wandb.Artifact(name, type, ...)``: its methods accept files and keep none.

    ``download()``, ``get_path()``, ``get()`` and ``file()`` raise ``HypersweepError``, since
    the files a script would then open do not exist.
    """

    def __init__(
        self,
        name: str,
        type: str = "unspecified",
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        _warn_artifacts()
        self.name = name
        self.type = type
        self.description = description
        self.metadata = dict(metadata or {})
        self.aliases: list[str] = []
        self.version = "v0"
        self.id: str | None = None

    def add_file(self, local_path: str, name: str | None = None, **kwargs: Any) -> None:
        """Accepted and not stored."""

    def add_dir(self, local_path: str, name: str | None = None, **kwargs: Any) -> None:
        """Accepted and not stored."""

    def add_reference(self, uri: Any, name: str | None = None, **kwargs: Any) -> None:
        """Accepted and not stored."""

    def add(self, obj: Any, name: str, **kwargs: Any) -> None:
        """Accepted and not stored."""

    @contextmanager
    def new_file(
        self, name: str, mode: str = "x", encoding: str | None = None
    ) -> Iterator[IO[Any]]:
        """A writable scratch file that is discarded afterwards (W&B stages it for upload)."""
        import tempfile  # here: 2.5 ms (shutil, bz2, lzma) that init() need not pay

        text = "b" not in mode
        with tempfile.TemporaryFile(
            "w+" if text else "w+b", encoding=encoding if text else None
        ) as handle:
            yield handle

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to save."""

    def wait(self, timeout: Any = None) -> Artifact:
        return self

    def _no_files(self, call: str) -> HypersweepError:
        return HypersweepError(
            f"artifact {self.name!r}: {call} needs the artifact's files, and hypersweep does not "
            "store artifacts; keep the files on a path every agent can read and pass that path "
            "through the config (e.g. init(config={'data_dir': ...}))"
        )

    def download(self, root: str | os.PathLike[str] | None = None, **kwargs: Any) -> str:
        raise self._no_files("download()")

    def get_path(self, name: str) -> Any:
        raise self._no_files(f"get_path({name!r})")

    def get_entry(self, name: str) -> Any:
        raise self._no_files(f"get_entry({name!r})")

    def get(self, name: str) -> Any:
        raise self._no_files(f"get({name!r})")

    def file(self, root: str | None = None) -> str:
        raise self._no_files("file()")

    def __repr__(self) -> str:
        return f"<hypersweep.Artifact {self.name!r} (not stored)>"


def log_artifact(
    artifact_or_path: Artifact | str | os.PathLike[str],
    name: str | None = None,
    type: str | None = None,
    aliases: list[str] | None = None,
    **kwargs: Any,
) -> Artifact:
    """``wandb.log_artifact(...)``: nothing is stored; returns the artifact (or one named after
    the path) so chained calls keep working."""
    if isinstance(artifact_or_path, Artifact):
        artifact = artifact_or_path
    else:
        path = os.fspath(artifact_or_path)
        artifact = Artifact(
            name or os.path.basename(path.rstrip("/")) or path, type or "unspecified"
        )
    _warn_artifacts()
    artifact.aliases = list(aliases or [])
    return artifact


def use_artifact(
    artifact_or_name: Artifact | str,
    type: str | None = None,
    aliases: list[str] | None = None,
    **kwargs: Any,
) -> Artifact:
    """``wandb.use_artifact("name:alias")``: returns an artifact whose files cannot be read."""
    if isinstance(artifact_or_name, Artifact):
        return artifact_or_name
    artifact = Artifact(str(artifact_or_name), type or "unspecified")
    warn_once(
        "use_artifact",
        f"use_artifact({artifact_or_name!r}): hypersweep has no artifact store, so its files "
        "cannot be downloaded (this warning is shown once)",
    )
    return artifact
