"""Where the store lives: ``open_store`` and the default data directory."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from hypersweep.errors import StoreError
from hypersweep.store.sql import SqlStore

__all__ = ["DB_FILENAME", "default_data_dir", "open_store"]

DB_FILENAME = "hypersweep.db"


def default_data_dir() -> Path:
    """The platform's per-user data directory for hypersweep (not created here)."""
    return Path(platformdirs.user_data_dir("hypersweep"))


def open_store(url_or_path: str | Path | None = None) -> SqlStore:
    """Open (and on first use create) the store at a database URL, a file or a directory.

    A directory holds ``hypersweep.db``; None means ``default_data_dir()``.

    Raises:
        StoreError: the database is unreachable or at another schema revision.
    """
    if url_or_path is None:
        url_or_path = default_data_dir()
    text = str(url_or_path)
    if "://" in text:
        return SqlStore(text)
    path = Path(text)
    if path.is_dir() or not path.suffix:
        path = path / DB_FILENAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {path.parent}: {exc}") from exc
    return SqlStore(f"sqlite:///{path}")
