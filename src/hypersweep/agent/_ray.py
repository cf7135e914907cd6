"""Agents as Ray tasks (``hypersweep launch SWEEP --ray``): Ray places them, we schedule nothing.

Each task runs one ``hypersweep agent SWEEP`` process, so the agent's signal tiers (spec §7.8)
and its runs' process groups are those of an agent started by hand. Ray gives the task its GPUs
(``num_gpus``, through ``CUDA_VISIBLE_DEVICES``), which the agent and its runs inherit. A
cancelled task (Ctrl-C in the launcher) sends the agent one SIGINT per cancel: once, no new runs;
twice, SIGTERM to the run; three times, SIGKILL.

``ray`` is an optional extra and is imported only here, only when a launch starts.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any
from urllib.parse import urlsplit

from hypersweep.errors import HypersweepError

__all__ = [
    "AgentEnd",
    "RayLaunch",
    "RayUnavailable",
    "agent_argv",
    "import_ray",
    "launch_agents",
    "parse_address",
]

RAY_MISSING = "Ray is not installed here; install it with: pip install 'hypersweep[ray]'"
_CONNECT_TIMEOUT = 5.0  # seconds for the reachability check of --ray-address
_POLL = 0.5  # seconds between checks: a blocked wait would not see Ray's cancel (see _wait)


class RayUnavailable(HypersweepError):
    """Ray is not installed, or the cluster cannot be reached or cannot place an agent."""


@dataclass(frozen=True)
class RayLaunch:
    """What to start: ``agents`` tasks, each running ``hypersweep agent`` with ``agent_args``.

    ``address`` None starts a Ray on this machine, listening on loopback only, for the length
    of the launch; otherwise it is a cluster address (``HOST:PORT``, ``ray://HOST:PORT`` or
    ``auto``). ``cwd`` is where each agent runs (the sweep's program is found relative to it), a
    path that must exist on the nodes. ``api_key`` reaches the agents as ``HYPERSWEEP_API_KEY``:
    nodes have no credentials file of their own.
    """

    sweep_id: str
    server: str
    agents: int = 1
    gpus_per_agent: float = 0.0
    address: str | None = None
    cwd: str = field(default_factory=os.getcwd)
    agent_args: tuple[str, ...] = ()
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AgentEnd:
    """How one agent task ended: ``code`` is the agent's exit code, None if it never ran."""

    slot: int
    host: str = ""
    gpus: str = ""
    code: int | None = None
    error: str = ""
    cancelled: bool = False

    def describe(self, total: int) -> str:
        """One status line, e.g. ``agent 2/4 on node-3 (GPU 1): exit 0``."""
        where = f" on {self.host}" if self.host else ""
        gpus = f" (GPU {self.gpus})" if self.gpus else ""
        if self.code is None:
            outcome = self.error
        else:
            outcome = f"exit {self.code}"
        return f"agent {self.slot + 1}/{total}{where}{gpus}: {outcome}"


def agent_argv(launch: RayLaunch) -> list[str]:
    """The ``hypersweep agent`` arguments each task runs (after ``python -m hypersweep``)."""
    return ["agent", launch.sweep_id, "--server", launch.server, *launch.agent_args]


def parse_address(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` of a Ray address to check before connecting; None for ``auto``.

    Raises:
        RayUnavailable: the address has no port.

    Example:
        >>> parse_address("ray://10.0.0.5:10001")
        ('10.0.0.5', 10001)
    """
    if address == "auto":
        return None
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise RayUnavailable(
            f"--ray-address {address!r} is not HOST:PORT; give the head node's address, e.g. "
            "10.0.0.5:6379 (what `ray start --head` prints) or ray://10.0.0.5:10001"
        )
    return parts.hostname, port


def launch_agents(
    launch: RayLaunch,
    on_end: Callable[[AgentEnd], None],
    on_note: Callable[[str], None] = lambda line: None,
) -> list[AgentEnd]:
    """Start ``launch.agents`` agent tasks on Ray and wait until all of them end.

    Ctrl-C (``KeyboardInterrupt``) here cancels every task still going: each cancel is one
    SIGINT for its agent, so pressing it again escalates as for an agent started by hand.
    A Ray this call started is shut down before it returns.

    Raises:
        RayUnavailable: Ray is missing, the address does not answer, or the cluster we started
            cannot fit one agent.
    """
    ray = import_ray(local=launch.address is None)
    started_here = _connect(ray, launch)
    try:
        _check_room(ray, launch, started_here, on_note)
        task = ray.remote(_run_agent).options(
            num_cpus=1,
            num_gpus=launch.gpus_per_agent,
            max_retries=0,  # a crashed agent is reported, not silently replaced
            runtime_env={"env_vars": _task_env(launch)},
            name="hypersweep-agent",
        )
        pending = {
            task.remote(slot, agent_argv(launch), launch.cwd): slot for slot in range(launch.agents)
        }
        return _wait(ray, pending, on_end, on_note)
    finally:
        if started_here:
            ray.shutdown()


def import_ray(*, local: bool) -> ModuleType:
    """Import Ray, set up not to report usage and, for a ``local`` Ray, to stay on loopback.

    Raises:
        RayUnavailable: Ray is not installed; the message names the pip command.
    """
    # Ray reads these when imported and hands them to the processes it starts.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine
    if local:
        # Ray swaps 127.0.0.1 for the machine's outward address unless told it is not a cluster;
        # a try-out Ray then listens on loopback only.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        ray = importlib.import_module("ray")  # optional extra: not a static import
    except ImportError:
        raise RayUnavailable(RAY_MISSING) from None
    return ray


def _connect(ray: ModuleType, launch: RayLaunch) -> bool:
    """Join the cluster at ``launch.address`` or start a local Ray; True if we started one."""
    if launch.address is None:
        ray.init(
            address="local",  # never join a `ray start` cluster by accident
            num_cpus=launch.agents,  # agents mostly wait on their runs: one slot each
            include_dashboard=False,
            log_to_driver=True,
        )
        return True
    target = parse_address(launch.address)
    if target is not None:
        _check_reachable(launch.address, *target)
    try:
        ray.init(address=launch.address, log_to_driver=True)
    except ImportError as exc:  # ray:// needs Ray's client (grpcio), not in the plain package
        raise RayUnavailable(
            f"--ray-address {launch.address}: {exc}; a ray:// address needs Ray's client: "
            "pip install 'ray[client]' (or give the head's HOST:PORT, e.g. 10.0.0.5:6379)"
        ) from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(
            f"--ray-address {launch.address}: Ray did not connect ({exc}); check that the head "
            "node runs `ray start --head` and that this Ray version matches the cluster's"
        ) from None
    return False


def _check_reachable(address: str, host: str, port: int) -> None:
    # Ray itself retries an unreachable head for minutes with only log lines; fail fast instead.
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise RayUnavailable(
        f"--ray-address {address}: nothing answers at {host}:{port} ({reason}); start the head "
        "node with `ray start --head`, or leave --ray-address and RAY_ADDRESS unset to try a "
        "local Ray"
    )


def _check_room(
    ray: ModuleType, launch: RayLaunch, started_here: bool, on_note: Callable[[str], None]
) -> None:
    """Refuse agents that can never start on a Ray we started; warn on a cluster that may grow."""
    total = ray.cluster_resources()
    gpus = float(total.get("GPU", 0.0))
    if launch.gpus_per_agent <= gpus:
        return
    message = (
        f"--gpus-per-agent {launch.gpus_per_agent:g}: the Ray cluster has {gpus:g} GPUs, so no "
        "agent can start"
    )
    if started_here:
        raise RayUnavailable(
            f"{message}; use --gpus-per-agent 0, or --ray-address of a cluster with GPUs"
        )
    on_note(f"warning: {message} until the autoscaler adds GPU nodes")


def _task_env(launch: RayLaunch) -> dict[str, str]:
    env = {"HYPERSWEEP_SERVER": launch.server}
    if launch.api_key:
        env["HYPERSWEEP_API_KEY"] = launch.api_key
    return env


def _wait(
    ray: ModuleType,
    pending: dict[Any, int],
    on_end: Callable[[AgentEnd], None],
    on_note: Callable[[str], None],
) -> list[AgentEnd]:
    ends: list[AgentEnd] = []
    while pending:
        try:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL)
        except KeyboardInterrupt:
            on_note(f"cancelling {len(pending)} agent task(s): each agent gets SIGINT")
            for ref in pending:
                ray.cancel(ref)
            continue
        for ref in done:
            end = _result(ray, ref, pending.pop(ref))
            ends.append(end)
            on_end(end)
    return sorted(ends, key=lambda end: end.slot)


def _result(ray: ModuleType, ref: Any, slot: int) -> AgentEnd:
    try:
        end: AgentEnd = ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        return AgentEnd(slot, error="cancelled before it started", cancelled=True)
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return AgentEnd(slot, error=f"the task failed: {first}")
    return end


# -- inside the Ray task -----------------------------------------------------------------------


def _run_agent(slot: int, argv: Sequence[str], cwd: str) -> AgentEnd:
    """Run ``python -m hypersweep ARGV`` in ``cwd`` until it exits; relay its output."""
    host = socket.gethostname()
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    env = {**os.environ, "HYPERSWEEP_AGENT_SLOT": f"ray {slot + 1}"}
    if not os.path.isdir(cwd):
        return AgentEnd(slot, host, gpus, error=f"no directory {cwd} on this node (--cwd)")
    with _signals_unblocked():
        agent = subprocess.Popen(
            [sys.executable, "-m", "hypersweep", *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    relay = threading.Thread(target=_relay, args=(agent.stdout,), daemon=True)
    relay.start()
    code = _wait_for(agent)
    relay.join(timeout=10)
    return AgentEnd(slot, host, gpus, code)


def _wait_for(agent: subprocess.Popen[bytes]) -> int:
    # Ray cancels a running task by raising KeyboardInterrupt between bytecodes, which a
    # blocking wait() never reaches: poll, and pass each cancel on as one SIGINT.
    while True:
        try:
            return agent.wait(timeout=_POLL)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            if agent.poll() is None:
                agent.send_signal(signal.SIGINT)


@contextmanager
def _signals_unblocked() -> Iterator[None]:
    # A Ray worker blocks SIGINT, and a child inherits the block: unblocked, the agent and its
    # runs get Ctrl-C as they would in a shell.
    previous = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _relay(output: IO[bytes]) -> None:
    # Ray captures the worker's sys.stdout, not its file descriptors: copy the agent's lines so
    # they reach the launcher's terminal (prefixed by Ray with the task and node).
    for line in output:
        sys.stdout.write(line.decode(errors="replace"))
        sys.stdout.flush()
