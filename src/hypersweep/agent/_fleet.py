"""Several agents from one command (``--parallel N``, ``--gpus 0,1``; spec §7.10).

Each slot is a full ``hypersweep agent`` process of its own, as W&B's docs advise (one agent
per GPU, pinned with ``CUDA_VISIBLE_DEVICES``): the controller hands one run at a time to each
agent, and a crash in one slot cannot take the others down. The slots run in their own sessions
and this process forwards each signal it gets to every slot once, so the tiered Ctrl-C of spec
§7.8 behaves as with a single agent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

__all__ = ["parse_gpus", "run_fleet", "slot_envs"]

_FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")


def parse_gpus(text: str) -> list[str]:
    """``"0,1, 3"`` -> ``["0", "1", "3"]``.

    Raises:
        ValueError: an empty list, an empty or repeated entry; the message names it.
    """
    gpus = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not gpu for gpu in gpus):
        raise ValueError(f"--gpus {text!r}: list GPU indices separated by commas, e.g. 0,1,2,3")
    repeated = sorted({gpu for gpu in gpus if gpus.count(gpu) > 1})
    if repeated:
        raise ValueError(f"--gpus {text!r}: GPU {', '.join(repeated)} listed twice; list each once")
    return gpus


def slot_envs(
    base: Mapping[str, str], *, parallel: int, gpus: Sequence[str] | None
) -> list[dict[str, str]]:
    """One environment per slot: with GPUs, one slot per GPU with ``CUDA_VISIBLE_DEVICES``.

    ``HYPERSWEEP_AGENT_SLOT`` names the slot as the dashboard shows it, next to the host:
    ``gpu 0`` (the GPU, as in ``nvidia-smi``) with ``--gpus``, ``slot 1/4`` (counted from 1)
    with ``--parallel``.
    """
    if gpus:
        return [
            {**base, "CUDA_VISIBLE_DEVICES": gpu, "HYPERSWEEP_AGENT_SLOT": f"gpu {gpu}"}
            for gpu in gpus
        ]
    return [
        {**base, "HYPERSWEEP_AGENT_SLOT": f"slot {slot}/{parallel}"}
        for slot in range(1, parallel + 1)
    ]


def run_fleet(agent_args: Sequence[str], envs: Sequence[Mapping[str, str]]) -> int:
    """Run one ``hypersweep agent AGENT_ARGS`` per environment until all exit.

    Returns:
        The highest exit code of the slots (0 when every slot ended normally).
    """
    argv = [sys.executable, "-m", "hypersweep", "agent", *agent_args]
    slots = [
        subprocess.Popen(argv, env=dict(env), start_new_session=True, stdin=subprocess.DEVNULL)
        for env in envs
    ]
    previous: dict[int, Any] = {}

    def forward(signum: int, frame: FrameType | None) -> None:
        for slot in slots:
            if slot.poll() is None:
                slot.send_signal(signum)

    if threading.current_thread() is threading.main_thread():
        for name in _FORWARDED:
            signum = getattr(signal, name, None)
            if signum is not None:
                previous[signum] = signal.signal(signum, forward)
    try:
        codes = [slot.wait() for slot in slots]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for slot in slots:
            if slot.poll() is None:
                os.killpg(slot.pid, signal.SIGKILL)
                slot.wait()
    return max((abs(code) for code in codes), default=0)
