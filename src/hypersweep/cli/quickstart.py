"""``hypersweep quickstart``: a whole sweep on this machine in about a minute.

It does what a user would do by hand, in one process: serve the API (``EmbeddedServer``, on a
free loopback port, over the SQLite store in the data directory), create the bundled digits
sweep with ``run_cap: --runs``, start ``--agents`` real ``hypersweep agent`` processes, watch the
runs arrive, and print the results table. The agents' output goes to a log file in the data
directory so it cannot garble the live view. Ctrl-C stops the agents, then the server.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click
import yaml
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from hypersweep.cli._output import (
    flatten,
    format_duration,
    format_value,
    make_console,
    metric_of,
    metric_value,
    runs_table,
    sort_runs,
    sweep_path,
    user_errors,
)
from hypersweep.client import DEFAULT_SERVER, ApiClient
from hypersweep.domain import TERMINAL_STATES, RunState
from hypersweep.errors import HypersweepError
from hypersweep.examples import digits
from hypersweep.protocol import RunOut, SweepOut
from hypersweep.server import EmbeddedServer
from hypersweep.store import default_data_dir, open_store

__all__ = ["quickstart_command"]

_POLL = 0.5  # seconds between looks at the server; cheap, it is in this process
_AGENT_GRACE = 60.0  # seconds agents may linger once the sweep is over and every run ended
_STOP_WAIT = 15.0  # seconds an interrupted agent gets to stop its run before SIGKILL
_FAILED = frozenset({RunState.FAILED, RunState.CRASHED})


@click.command("quickstart")
@click.option(
    "--agents",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Agent processes to start; each runs one run at a time.",
)
@click.option(
    "--runs", default=20, show_default=True, type=click.IntRange(1), help="The sweep's run_cap."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Where the database and agent logs go [default: {default_data_dir()}].",
)
@click.option(
    "--method",
    type=click.Choice(["bayes", "random"]),
    default="bayes",
    show_default=True,
    help="The search method.",
)
def quickstart_command(agents: int, runs: int, data_dir: Path | None, method: str) -> None:
    """Run the bundled example sweep end to end: a server, agents, live progress, results.

    The example trains a small neural network on scikit-learn's handwritten digits (no
    download) and maximizes val_accuracy over learning rate, weight decay, hidden size, batch
    size and optimizer. Its files are shown at the start: copy them to start your own sweep.
    """
    if importlib.util.find_spec("sklearn") is None:
        click.echo(
            "Error: the example trains with scikit-learn, which is not installed; run "
            "`pip install 'hypersweep[examples]'` (or scripts/quickstart, which does it)",
            err=True,
        )
        raise SystemExit(1)
    data_dir = (data_dir or default_data_dir()).absolute()
    # `kill` and a closed terminal clean up like Ctrl-C: agents left behind would outlive the
    # server they report to.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    console = make_console()
    with user_errors():
        code = _quickstart(console, agents, runs, data_dir, method)
    raise SystemExit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _quickstart(console: Console, agents: int, runs: int, data_dir: Path, method: str) -> int:
    example = digits()
    config: dict[str, Any] = yaml.safe_load(example.config.read_text(encoding="utf-8"))
    config.update(method=method, run_cap=runs, program=str(example.program))
    store = open_store(data_dir)
    with ExitStack() as stack:
        stack.callback(store.close)
        server = stack.enter_context(EmbeddedServer(store))
        client = stack.enter_context(ApiClient(server.url))
        sweep = client.create_sweep(config, project="quickstart", name=f"digits ({method})")
        work_dir = data_dir / "quickstart" / sweep.id
        work_dir.mkdir(parents=True, exist_ok=True)
        log_path = work_dir / "agents.log"
        console.print(f"[bold]hypersweep quickstart[/]: {runs} runs, {agents} agents, {method}")
        console.print(f"  example:  {example.program} with {example.config}")
        console.print(f"  server:   {server.url} (in this process), data in {data_dir}")
        console.print(f"  sweep:    {sweep_path(sweep)}; agent output in {log_path}")
        console.print(
            f"  dashboard: {server.login_link()}  (one-time login link; live while this runs)"
        )
        log = stack.enter_context(log_path.open("ab"))
        fleet = stack.enter_context(
            _agents(agents, sweep.id, server.url, server.api_key, work_dir, log)
        )
        started = time.monotonic()
        try:
            final, all_runs = _watch(console, client, sweep, fleet, started)
        except KeyboardInterrupt:
            console.print("Interrupted: stopping the agents and their runs...")
            _stop(fleet)
            final, all_runs = client.get_sweep(sweep.id), client.list_runs(sweep.id)
            _results(console, final, all_runs, server.url, data_dir, interrupted=True)
            return 130
        if not any(run.state is RunState.FINISHED for run in all_runs):
            if all_runs:
                console.print(runs_table(final, all_runs))
            console.print(f"[red]No run finished.[/] The agents' output is in {log_path}:")
            console.print(_tail(log_path), markup=False)
            return 1
        _results(console, final, all_runs, server.url, data_dir, interrupted=False)
        return 0


# -- agents ----------------------------------------------------------------------------------


@contextmanager
def _agents(
    count: int, sweep_id: str, url: str, api_key: str | None, work_dir: Path, log: IO[bytes]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` agent processes in their own sessions (so a terminal's Ctrl-C reaches only us,
    and we stop them in order); always stopped on the way out."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([_python_dir(work_dir), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env["HYPERSWEEP_SERVER"] = url  # the runs' init() reports here, whatever the shell had
    if api_key is not None:  # and with this server's key, whatever the credentials file holds
        env["HYPERSWEEP_API_KEY"] = api_key
    # Two agents on two cores: BLAS threads in each run would only fight over them.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    argv = [sys.executable, "-m", "hypersweep", "agent", sweep_id, "--server", url]
    fleet: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            fleet.append(
                subprocess.Popen(
                    argv,
                    cwd=work_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        yield fleet
    finally:
        _stop(fleet)


def _python_dir(work_dir: Path) -> str:
    """A directory whose ``python`` is this interpreter, to put first on the agents' PATH.

    The example's command is W&B's default, ``${env} ${interpreter} ${program} ${args}``, which
    runs ``/usr/bin/env python`` (spec §6.3); that must be the interpreter that has hypersweep
    and scikit-learn, not whatever ``python`` the shell would find.
    """
    here = Path(sys.executable).parent
    candidate = here / "python"
    if candidate.exists() and os.path.samefile(candidate, sys.executable):
        return str(here)
    shim_dir = work_dir / "bin"
    shim_dir.mkdir(exist_ok=True)
    shim = shim_dir / "python"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    shim.chmod(0o755)
    return str(shim_dir)


def _stop(fleet: Sequence[subprocess.Popen[bytes]]) -> None:
    """Stop agents as a user would (spec §7.8): a first SIGTERM stops new runs, a second
    terminates the running ones; SIGKILL whatever is still alive after ``_STOP_WAIT``."""
    alive = [agent for agent in fleet if agent.poll() is None]
    try:
        for _ in range(2):
            for agent in alive:
                if agent.poll() is None:
                    agent.send_signal(signal.SIGTERM)
            time.sleep(0.3)
        deadline = time.monotonic() + _STOP_WAIT
        for agent in alive:
            try:
                agent.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
    except KeyboardInterrupt:
        for agent in alive:  # a second Ctrl-C: no more waiting
            if agent.poll() is None:
                agent.kill()
            agent.wait()


# -- watching --------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    sweep: SweepOut
    runs: list[RunOut]
    elapsed: float
    agents_alive: int


def _watch(
    console: Console,
    client: ApiClient,
    sweep: SweepOut,
    fleet: Sequence[subprocess.Popen[bytes]],
    started: float,
) -> tuple[SweepOut, list[RunOut]]:
    """Poll until every agent has exited; show progress live on a terminal, as lines if not."""
    over_since: float | None = None
    reported: set[str] = set()
    live = (
        Live(console=console, auto_refresh=False, transient=True) if console.is_terminal else None
    )
    with live or ExitStack():
        while True:
            snap = _Snapshot(
                client.get_sweep(sweep.id),
                client.list_runs(sweep.id),
                time.monotonic() - started,
                sum(agent.poll() is None for agent in fleet),
            )
            if live is not None:
                live.update(_view(snap), refresh=True)
            else:
                _print_new(console, snap, reported)
            if snap.agents_alive == 0:
                return snap.sweep, snap.runs
            # Agents leave at their next heartbeat once the sweep is over (spec §7.1 #5); one
            # that does not within the grace period is stopped rather than waited for forever.
            over = snap.sweep.state in ("finished", "canceled") and all(
                run.state in TERMINAL_STATES for run in snap.runs
            )
            over_since = (over_since or time.monotonic()) if over else None
            if over_since is not None and time.monotonic() - over_since > _AGENT_GRACE:
                _stop(fleet)
            time.sleep(_POLL)


def _counts(snap: _Snapshot) -> tuple[int, int, int]:
    done = sum(run.state in TERMINAL_STATES for run in snap.runs)
    running = sum(run.state is RunState.RUNNING for run in snap.runs)
    failed = sum(run.state in _FAILED for run in snap.runs)
    return done, running, failed


def _best_line(snap: _Snapshot) -> Text:
    name, _ = metric_of(snap.sweep)
    ranked = sort_runs(snap.sweep, snap.runs)
    value = metric_value(ranked[0], name) if ranked else None
    if not ranked or value is None:
        return Text("best so far: -", style="dim")
    best = ranked[0]
    params = "  ".join(f"{k}={format_value(v)}" for k, v in flatten(best.params).items())
    text = Text("best so far: ")
    text.append(f"{name} {format_value(value)}", style="bold green")
    text.append(f" (run {best.id})  {params}")
    return text


def _view(snap: _Snapshot) -> RenderableType:
    cap = int(snap.sweep.config.get("run_cap") or 0)
    done, running, failed = _counts(snap)
    grid = Table.grid(padding=(0, 1))
    grid.add_row(
        ProgressBar(total=max(cap, done, 1), completed=done, width=40),
        Text(
            f"{done}/{cap} runs done · {running} running · {failed} failed · "
            f"{snap.agents_alive} agents · {format_duration(snap.elapsed)}"
        ),
    )
    top = runs_table(snap.sweep, snap.runs, limit=5, title="best runs so far", compact=True)
    return Group(grid, _best_line(snap), top)


def _print_new(console: Console, snap: _Snapshot, reported: set[str]) -> None:
    """Without a terminal (CI, a pipe): one line per run that ended since the last look."""
    name, _ = metric_of(snap.sweep)
    done, running, failed = _counts(snap)
    for run in snap.runs:
        if run.state in TERMINAL_STATES and run.id not in reported:
            reported.add(run.id)
            value = metric_value(run, name)
            shown = "" if value is None else f"  {name}={format_value(value)}"
            console.print(
                f"[{format_duration(snap.elapsed):>7}] run {run.id} {run.state.value}{shown}"
                f"  ({done} done, {running} running, {failed} failed)",
                markup=False,
            )


# -- the end ---------------------------------------------------------------------------------


def _results(
    console: Console,
    sweep: SweepOut,
    runs: Sequence[RunOut],
    url: str,
    data_dir: Path,
    *,
    interrupted: bool,
) -> None:
    path = sweep_path(sweep)
    console.print()
    console.print(f"Sweep {path} is {sweep.state}: {len(runs)} runs")
    console.print(runs_table(sweep, runs))
    console.print(_best_line(_Snapshot(sweep, list(runs), 0.0, 0)))
    console.print()
    console.print(f"The server at {url} stops when this command exits. To look again later:")
    where = "" if data_dir == default_data_dir() else f" --data-dir {shlex.quote(str(data_dir))}"
    console.print(f"  hypersweep server{where}     then open {DEFAULT_SERVER}/")
    console.print(f"  hypersweep runs {path}")
    if interrupted and sweep.state in ("pending", "running", "paused"):
        console.print(f"and to carry on with the sweep: hypersweep agent {path}")
    console.print("Your own sweep: copy the example's train.py and sweep.yaml, then see README.md.")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise HypersweepError(f"cannot read the agents' log {path}: {exc}") from None
    return "\n".join(text.splitlines()[-lines:])
