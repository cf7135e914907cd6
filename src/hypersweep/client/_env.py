"""The server address from arguments and environment, without importing httpx.

Kept apart from ``_http`` so ``init()`` can resolve the address on the training thread while the
HTTP client (and its ~130 ms of imports) loads in the sender thread.
"""

from __future__ import annotations

import os

__all__ = ["DEFAULT_SERVER", "server_url"]

DEFAULT_SERVER = "http://127.0.0.1:8787"


def server_url(explicit: str | None = None) -> str:
    """The server address: ``explicit``, else ``$HYPERSWEEP_SERVER``, else the default port.

    Example:
        >>> server_url("localhost:9000/")
        'http://localhost:9000'
    """
    url = explicit or os.environ.get("HYPERSWEEP_SERVER") or DEFAULT_SERVER
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")
