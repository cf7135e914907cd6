"""Keys the server makes for itself: the local admin key at start, login links, sessions."""

from __future__ import annotations

import getpass
import socket
from datetime import datetime, timedelta

from hypersweep.credentials import digest, load_key, new_secret, save_key
from hypersweep.errors import HypersweepError
from hypersweep.server._auth import authenticate
from hypersweep.store import KeyKind, KeyRecord, KeyRole, Store
from hypersweep.store._records import new_id

__all__ = [
    "LOGIN_LINK_LIFETIME",
    "SESSION_LIFETIME",
    "LocalKey",
    "ensure_local_key",
    "login_link",
    "mint",
]

LOGIN_LINK_LIFETIME = timedelta(hours=24)
SESSION_LIFETIME = timedelta(days=30)


def mint(
    store: Store,
    name: str,
    role: KeyRole,
    now: datetime,
    kind: KeyKind = KeyKind.API,
    lifetime: timedelta | None = None,
) -> tuple[str, KeyRecord]:
    """A new secret and its stored record (only the digest is stored)."""
    secret = new_secret()
    expires = None if lifetime is None else now + lifetime
    record = store.add_key(
        KeyRecord(new_id(), name, role, kind, digest(secret), now, expires_at=expires)
    )
    return secret, record


class LocalKey:
    """The admin key of the user who started the server, as found or made at start.

    ``saved_to`` is the credentials file it is recorded in, or None when that file could not be
    written (then ``secret`` must be shown to the user once).
    """

    def __init__(self, secret: str, created: bool, saved_to: str | None) -> None:
        self.secret = secret
        self.created = created
        self.saved_to = saved_to


def ensure_local_key(store: Store, url: str, now: datetime) -> LocalKey:
    """Make sure this user's credentials file holds a valid admin key for ``url``.

    A key recorded there that this store knows is kept; otherwise (first start, another
    database on the same port, a revoked key) a new admin key is made and recorded. Whoever can
    start the server owns its database, so minting them a key gives nothing away.
    """
    try:
        recorded = load_key(url)
    except HypersweepError:
        recorded = None  # an unreadable file is replaced below, with the error shown then
    if recorded is not None:
        key = authenticate(store, recorded, now)
        if key is not None and key.role is KeyRole.ADMIN:
            return LocalKey(recorded, created=False, saved_to=None)
    name = f"{getpass.getuser()}@{socket.gethostname()} (made by hypersweep server)"
    secret, _ = mint(store, name, KeyRole.ADMIN, now)
    try:
        saved_to: str | None = str(save_key(url, secret))
    except HypersweepError:
        saved_to = None
    return LocalKey(secret, created=True, saved_to=saved_to)


def login_link(store: Store, url: str, now: datetime) -> str:
    """A one-time dashboard login link for ``url``, valid for ``LOGIN_LINK_LIFETIME``."""
    secret, _ = mint(store, "login link", KeyRole.ADMIN, now, KeyKind.LOGIN, LOGIN_LINK_LIFETIME)
    return f"{url}/login?token={secret}"
