"""The agent's knobs from the environment: W&B's names where W&B has one."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["heartbeat_interval", "kill_delay", "report_interval"]


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ValueError(f"{name}={raw!r} is not a number of seconds; set it to e.g. {default:g}")
    return value


def heartbeat_interval(env: Mapping[str, str] = os.environ) -> float:
    """Seconds between heartbeats (``HYPERSWEEP_AGENT_HEARTBEAT``, default 5 as W&B)."""
    return max(_seconds(env, "HYPERSWEEP_AGENT_HEARTBEAT", 5.0), 0.05)


def kill_delay(env: Mapping[str, str] = os.environ) -> float:
    """Seconds from a stop's SIGTERM to SIGKILL (``WANDB_AGENT_KILL_DELAY``, default 30)."""
    return _seconds(env, "WANDB_AGENT_KILL_DELAY", 30.0)


def report_interval(env: Mapping[str, str] = os.environ) -> float:
    """Seconds between the agent's "Running runs: [...]" lines (``WANDB_AGENT_REPORT_INTERVAL``,
    default 0: none, as W&B's agent)."""
    return _seconds(env, "WANDB_AGENT_REPORT_INTERVAL", 0.0)
