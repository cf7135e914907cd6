"""The browser tests' demo sweep: its config and a handle on the server holding it."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from hypersweep.server._auth import SESSION_COOKIE
from hypersweep.server._credentials import login_link, mint
from hypersweep.store import KeyKind, KeyRole, Store

__all__ = ["CONFIG", "FINISHED", "SCREENSHOTS", "STEPS", "Demo", "history", "wait_until"]

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "img"


CONFIG: dict[str, Any] = {
    "name": "digits-demo",
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"min": 0.0001, "max": 0.1, "distribution": "log_uniform_values"},
        "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
        "batch_size": {"values": [16, 32, 64]},
        "width": {"value": 128},
    },
}
FINISHED = 12
STEPS = 20


@dataclass
class Demo:
    """A server with one sweep: finished runs with history and output, one failed run."""

    url: str
    api: httpx.Client
    sweep: dict[str, Any]
    store: Store
    runs: list[dict[str, Any]] = field(default_factory=list)

    def login_link(self) -> str:
        """A one-time link that logs a browser in, as the server prints at start."""
        return login_link(self.store, self.url, datetime.now(timezone.utc))

    def session_cookie(self) -> dict[str, Any]:
        """The cookie a login link sets (its flags are tested in test_api_auth.py), for pages
        that skip the login step: a round trip through the login page costs seconds here."""
        now = datetime.now(timezone.utc)
        secret, _ = mint(self.store, "browser test", KeyRole.ADMIN, now, KeyKind.SESSION)
        return {"name": SESSION_COOKIE, "value": secret, "url": self.url}

    def get(self, path: str) -> Any:
        response = self.api.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any], status: int = 200) -> Any:
        response = self.api.post(path, json=body)
        assert response.status_code == status, response.text
        return response.json()


def history(rng: random.Random, lr: float, optimizer: str) -> tuple[list[dict[str, Any]], float]:
    floor = 0.05 + abs(lr - 0.01) * 5 + {"adam": 0.0, "sgd": 0.15, "rmsprop": 0.05}[optimizer]
    rows, loss = [], 2.5
    for step in range(STEPS):
        loss = floor + (loss - floor) * 0.8 + rng.random() * 0.02
        rows.append({"step": step, "metrics": {"loss": loss, "accuracy": 1 / (1 + loss)}})
    return rows, loss


def wait_until(check: Any, seconds: float, what: str) -> Any:
    """``check()``'s first truthy value, polled every 0.1 s; fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}; last: {value!r}"
        time.sleep(0.1)
