"""API keys on this machine: the user's credentials file, and the key a client sends.

The file (``credentials.json`` in the user's config dir, or ``$HYPERSWEEP_CREDENTIALS``) maps
server addresses to API keys, readable by its owner only (mode 0600). ``hypersweep server``
records its own admin key there at start and ``hypersweep login URL`` records any other, so the
CLI, agents and scripts of the same user find their key without a flag; ``$HYPERSWEEP_API_KEY``
overrides it (agents on other machines, CI). A secret travels only in the ``Authorization``
header; the server stores its SHA-256 digest, never the secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypersweep.errors import HypersweepError

__all__ = [
    "KEY_PREFIX",
    "credentials_path",
    "digest",
    "forget_key",
    "is_loopback",
    "load_key",
    "new_secret",
    "resolve_key",
    "save_key",
    "server_key",
]

KEY_PREFIX = "hs_"
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::", ""}


def new_secret() -> str:
    """A fresh secret: 256 random bits, URL-safe, with a prefix that says what it is."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 hex digest the server stores and looks a secret up by.

    A plain hash suffices (no salt, no slow KDF): secrets are 256 random bits, not passwords.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def is_loopback(host: str) -> bool:
    """True for addresses only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]").lower()
    return host in {"localhost", "::1"} or host.startswith("127.")


def credentials_path() -> Path:
    """``$HYPERSWEEP_CREDENTIALS``, else ``credentials.json`` in the user's config dir."""
    explicit = os.environ.get("HYPERSWEEP_CREDENTIALS")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs  # only when the file is really needed: init() stays light

    return platformdirs.user_config_path("hypersweep") / "credentials.json"


def server_key(url: str) -> str:
    """The file's key for a server address: one entry for every name of this machine.

    Example:
        >>> server_key("http://localhost:8787/") == server_key("http://127.0.0.1:8787")
        True
    """
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").lower()
    if host in _LOOPBACK or host.startswith("127.") or host == socket.gethostname().lower():
        host = "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme or 'http'}://{host}:{port}"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HypersweepError(
            f"cannot read the credentials file {path}: {exc}; fix or delete it, then run "
            "`hypersweep login URL` again"
        ) from None
    servers = data.get("servers") if isinstance(data, dict) else None
    return servers if isinstance(servers, dict) else {}


def load_key(url: str) -> str | None:
    """The key recorded for the server at ``url``, or None."""
    entry = _read(credentials_path()).get(server_key(url))
    key = entry.get("api_key") if isinstance(entry, dict) else None
    return key if isinstance(key, str) and key else None


def resolve_key(url: str, explicit: str | None = None) -> str | None:
    """The key a client sends: ``explicit``, else ``$HYPERSWEEP_API_KEY``, else the file's."""
    return explicit or os.environ.get("HYPERSWEEP_API_KEY") or load_key(url)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the file between processes (several servers starting)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; writes are still atomic
        yield
        return
    lock = os.open(path.with_name(path.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)


def _update(change: Any) -> Path:
    path = credentials_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(path):
            servers = _read(path)
            change(servers)
            text = json.dumps({"version": 1, "servers": servers}, indent=2, sort_keys=True)
            # written next to the file with mode 0600 from the start, then renamed over it
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(text + "\n")
                os.chmod(temp, 0o600)
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
    except OSError as exc:
        raise HypersweepError(
            f"cannot write the credentials file {path}: {exc}; set HYPERSWEEP_CREDENTIALS to a "
            "writable file, or pass the key in HYPERSWEEP_API_KEY"
        ) from None
    return path


def save_key(url: str, key: str) -> Path:
    """Record ``key`` for the server at ``url`` (replacing an older one); returns the file."""

    def put(servers: dict[str, Any]) -> None:
        servers[server_key(url)] = {"api_key": key}

    return _update(put)


def forget_key(url: str, key: str | None = None) -> None:
    """Remove the entry for ``url`` (only if it still holds ``key``, when given)."""

    def drop(servers: dict[str, Any]) -> None:
        entry = servers.get(server_key(url))
        if key is None or (isinstance(entry, dict) and entry.get("api_key") == key):
            servers.pop(server_key(url), None)

    if credentials_path().exists():
        _update(drop)
