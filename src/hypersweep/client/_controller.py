"""``hypersweep.controller(sweep)``: W&B's local controller (spec §10), over the server's API.

The server never searches a sweep created with ``controller: {type: local}`` and never applies
its ``early_terminate`` rule: this process does both, with the engine the server would use or
with the user's own functions, and tells the server through two calls, ``schedule_run`` (one
new run for one idle agent) and ``stop_run``. Agents are the usual ones; they wait until a run
is scheduled for them.

Each ``step()`` reads the sweep and its runs (and, when a decision needs them, the runs' metric
histories and the sweep's agents), then:

1. stopping: the custom function, else ``engine.runs_to_stop``; each running run it names
   that is not stopped yet gets ``stop_run``;
2. search, only when no suggestion is outstanding (a pending run: W&B keeps one at a time) and
   an agent of the sweep is running with no run: nothing more from the custom function or
   ``engine.next_runs`` finishes the sweep (``stop``, as W&B's server finishes it on
   ``args: None``); otherwise the suggestion is scheduled for that agent. ``run_cap`` is the
   server's to count (it leaves prior runs out): it refuses the schedule and finishes the
   sweep at the agents' next heartbeat.

Like the server's controller it keeps nothing but caches: every decision is made from what the
server says now, so a controller stopped with Ctrl-C and started again carries on.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from hypersweep import engine
from hypersweep.client._config import warn
from hypersweep.client._controller_answers import custom, function_name, stop_orders, suggestion
from hypersweep.client._http import ApiClient, split_sweep_path
from hypersweep.client._sweep import _config_of, sweep
from hypersweep.domain import TERMINAL_STATES, RunState
from hypersweep.errors import (
    ConfigError,
    ConfigIssue,
    ConflictError,
    HypersweepError,
    NotFoundError,
    ServerUnavailable,
)
from hypersweep.protocol import AgentOut, HistoryRowOut, RunOut, SweepOut

__all__ = ["ControllerApi", "LocalController", "SearchFunction", "StoppingFunction", "controller"]

#: ``fn(sweep_config, runs)`` -> the next run's parameters: a dict, an ``engine.Suggestion``,
#: an object with W&B's value-wrapped ``.config`` (``sweeps.SweepRun``), or None: no more runs
SearchFunction = Callable[[dict[str, Any], list[engine.Run]], Any]
#: ``fn(sweep_config, runs)`` -> the runs to stop: ids, or objects with ``.id`` or ``.name``
StoppingFunction = Callable[[dict[str, Any], list[engine.Run]], Any]

_ACTIVE = ("pending", "running")  # the sweep states in which runs are handed out
_BUSY = (RunState.PENDING, RunState.RUNNING)  # an agent with such a run is not idle (server's)
_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


class ControllerApi(Protocol):
    """What the controller asks of the server: ``ApiClient`` does it; tests pass a fake."""

    def get_sweep(self, sweep_id: str) -> SweepOut: ...

    def list_runs(self, sweep_id: str) -> list[RunOut]: ...

    def list_agents(self, sweep_id: str) -> list[AgentOut]: ...

    def history(
        self, run_id: str, keys: Sequence[str] | None = None, samples: int | None = None
    ) -> list[HistoryRowOut]: ...

    def schedule_run(
        self,
        sweep_id: str,
        agent_id: str,
        params: Mapping[str, Any],
        info: Mapping[str, Any] | None = None,
    ) -> RunOut: ...

    def stop_run(self, run_id: str, reason: str) -> RunOut: ...

    def sweep_action(self, sweep_id: str, action: str) -> SweepOut: ...

    def close(self) -> None: ...


def controller(
    sweep_id_or_config: str
    | Path
    | Mapping[str, Any]
    | Callable[[], Mapping[str, Any]]
    | None = None,
    entity: str | None = None,
    project: str | None = None,
    *,
    server: str | None = None,
) -> LocalController:
    """The local controller of a sweep, shaped like ``wandb.controller`` (spec §10).

    Args:
        sweep_id_or_config: a sweep id (``ID`` or ``PROJECT/ID``) of a sweep created with
            ``controller: {type: local}``; or a config (a dict, a function returning one, or a
            YAML/JSON path), from which a sweep is created first, with
            ``controller: {type: local}`` added when the config has no ``controller`` key.
        entity: accepted for W&B scripts; hypersweep has no entities.
        project: the new sweep's project (as for ``hypersweep.sweep``).
        server: the server address (default ``$HYPERSWEEP_SERVER``, else the local default).

    Returns:
        A ``LocalController``; call ``.run()`` (after ``configure_search`` /
        ``configure_stopping`` for your own functions).

    Raises:
        HypersweepError: no sweep or config given (W&B's builder form is not supported).
        ConfigError: the config has errors, or a ``controller`` other than local.
        ConflictError: the sweep is searched by the server, not locally.
        NotFoundError: no such sweep.

    Example (as in ``docs/client.md``)::

        sweep = hypersweep.controller({"method": "grid", "parameters": {"x": {"values": [1, 2]}}})
        sweep.configure_search(lambda config, runs: {"x": len(runs)} if len(runs) < 3 else None)
        sweep.run()
    """
    if sweep_id_or_config is None:
        raise HypersweepError(
            "hypersweep.controller() needs a sweep: W&B's builder form (configure_parameter, "
            "configure_program, create) is not supported; pass a sweep id, or a sweep config "
            "as a dict or YAML path, e.g. hypersweep.controller({'method': 'grid', ...})"
        )
    sweep_id = (
        sweep(_local_config(sweep_id_or_config), entity, project, server=server)
        if _is_config(sweep_id_or_config)
        else str(sweep_id_or_config)
    )
    api = ApiClient(server)
    try:
        return LocalController(api, sweep_id, owns_api=True)
    except BaseException:
        api.close()
        raise


class LocalController:
    """Runs a locally controlled sweep's search and stopping rule in this process.

    Args:
        api: the server (an ``ApiClient``).
        sweep_id: ``ID`` or ``PROJECT/ID`` of a sweep created with ``controller: {type: local}``.
        owns_api: close ``api`` with the controller.

    Raises:
        ConflictError: the sweep is searched by the server.
        NotFoundError: no such sweep, or it is in another project.
    """

    def __init__(self, api: ControllerApi, sweep_id: str, *, owns_api: bool = False) -> None:
        project, bare = split_sweep_path(sweep_id)
        sweep = api.get_sweep(bare)
        if project is not None and project != sweep.project:
            raise NotFoundError(
                f"sweep {bare!r} is in project {sweep.project!r}, not {project!r}; use "
                f"{sweep.project}/{bare} or just {bare}"
            )
        self._parsed = engine.parse(sweep.config)
        if self._parsed.controller != "local":
            raise ConflictError(
                f"sweep {sweep.id} is searched by the server: only a sweep created with "
                "controller: {type: local} has a local controller (spec §10); create one with "
                "`hypersweep sweep --controller CONFIG`"
            )
        self._api = api
        self._owns_api = owns_api
        self._sweep = sweep
        self._runs: list[RunOut] = []
        self._search: SearchFunction | None = None
        self._stopping: StoppingFunction | None = None
        # run id -> (history rows the run had when read, its metric rows)
        self._series: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self._actions: list[str] = []  # what the last step did, for print_actions
        self._debug: list[str] = []  # what it read and why it did nothing, for print_debug
        self._why_ended: str | None = None

    # -- W&B's surface ---------------------------------------------------------------------------

    @property
    def sweep_id(self) -> str:
        return self._sweep.id

    @property
    def sweep_config(self) -> dict[str, Any]:
        """The sweep's config as the server stores it (a copy)."""
        return copy.deepcopy(self._sweep.config)

    def configure_search(self, search: SearchFunction | str) -> None:
        """Search with ``search(sweep_config, runs)`` instead of the config's method.

        ``runs`` are ``engine.Run`` records (name = run id, state, params, metric history,
        summary) in creation order. Return the next run's parameters as a dict, an
        ``engine.Suggestion``, an object with a W&B-style ``.config`` (``{name: {"value": v}}``),
        or None to finish the sweep. A string naming the config's own method goes back to it.
        """
        self._search = custom("configure_search", search, self._parsed.method, "method")

    def configure_stopping(self, stopping: StoppingFunction | str) -> None:
        """Stop runs with ``stopping(sweep_config, runs)`` instead of ``early_terminate``.

        It returns the runs to stop: run ids, or objects with ``.id`` or ``.name`` (such as the
        ``engine.Run`` records it was given). Only running runs not stopped yet are stopped.
        """
        kind = (self._parsed.early_terminate or {}).get("type")
        self._stopping = custom("configure_stopping", stopping, kind, "early_terminate.type")

    def done(self) -> bool:
        """Whether the sweep is over (not pending or running), as the last read found it."""
        return self._sweep.state not in _ACTIVE

    def step(self) -> None:
        """One round: read the sweep, stop the runs the rule names, schedule one suggestion."""
        self._actions, self._debug = [], []
        self._sweep = self._api.get_sweep(self._sweep.id)
        if self.done():
            return
        self._runs = self._api.list_runs(self._sweep.id)
        runs = self._engine_runs()
        self._apply_stopping(runs)
        self._schedule(runs)

    def run(
        self,
        verbose: bool = False,
        print_status: bool = True,
        print_actions: bool = False,
        print_debug: bool = False,
        interval: float = 5.0,
    ) -> None:
        """Step every ``interval`` seconds until the sweep is over, or Ctrl-C.

        Args:
            verbose: print status, actions and debug lines.
            print_status: after each step, W&B's status line
                ``Sweep: ID (method[,rule]) | Runs: N (Running: a, ...) | Stopped: s``.
            print_actions: each run scheduled or stopped, and why the sweep finished.
            print_debug: what each step read, and why it scheduled nothing.
            interval: seconds between steps (W&B's: 5).
        """
        if verbose:
            print_status = print_actions = print_debug = True
        try:
            while True:
                try:
                    self.step()
                except ServerUnavailable as exc:  # a server restart must not end the controller
                    warn(f"{exc}; retrying in {interval:g} s")
                for line in (self._debug if print_debug else []) + (
                    self._actions if print_actions else []
                ):
                    print(line, flush=True)
                if print_status:
                    print(self.status(), flush=True)
                if self.done():
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            print(
                f"hypersweep: Stopped the controller of sweep {self._sweep.id} (Ctrl-C); its "
                "agents get no new runs until you start it again with `hypersweep controller "
                f"{self._sweep.project}/{self._sweep.id}`",
                file=sys.stderr,
            )
            return
        why = f": {self._why_ended}" if self._why_ended else ""
        print(f"hypersweep: Sweep {self._sweep.id} is {self._sweep.state}{why}", file=sys.stderr)

    def status(self) -> str:
        """W&B's status line of the sweep as the last step read it (spec §10)."""
        method = "custom" if self._search is not None else self._parsed.method
        rule = (self._parsed.early_terminate or {}).get("type")
        if self._stopping is not None:
            rule = "custom"
        counts = dict.fromkeys(RunState, 0)
        for run in self._runs:
            counts[run.state] += 1
        by_state = ", ".join(f"{s.value.title()}: {n}" for s, n in counts.items() if n)
        stopped = [run for run in self._runs if run.stopped]
        stopping = sum(1 for run in stopped if run.state not in TERMINAL_STATES)
        line = (
            f"Sweep: {self._sweep.id} ({method}{f',{rule}' if rule else ''}) | "
            f"Runs: {len(self._runs)}{f' ({by_state})' if by_state else ''} | "
            f"Stopped: {len(stopped)}"
        )
        return line + (f" (Stopping: {stopping})" if stopping else "")

    def close(self) -> None:
        if self._owns_api:
            self._api.close()

    def __enter__(self) -> LocalController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one step --------------------------------------------------------------------------------

    def _engine_runs(self) -> list[engine.Run]:
        """The runs as the engine and the user's functions see them; the metric's history only
        when a decision reads it (bayes and tpe, a stopping rule, a custom function)."""
        metric = self._parsed.metric
        reads = (
            engine.needs_history(self._parsed)
            or self._parsed.early_terminate is not None
            or self._search is not None
            or self._stopping is not None
        )
        return [
            engine.Run(
                run.id,
                run.state,
                run.params,
                self._history(run, metric.name) if metric is not None and reads else (),
                run.summary,
            )
            for run in self._runs
        ]

    def _history(self, run: RunOut, metric: str) -> list[dict[str, Any]]:
        """The run's rows holding ``metric``, read again only when the run logged more rows:
        an ended run's are read once after its end (its last batch may come with the end)."""
        cached = self._series.get(run.id)
        if cached is not None and cached[0] == run.history_rows:
            return cached[1]
        rows: list[dict[str, Any]] = []
        if run.history_rows:
            rows = [dict(row.metrics) for row in self._api.history(run.id, keys=[metric])]
            self._debug.append(f"debug: read {len(rows)} {metric} rows of run {run.id}")
        self._series[run.id] = (run.history_rows, rows)
        return rows

    def _apply_stopping(self, runs: list[engine.Run]) -> None:
        if self._stopping is not None:
            named = self._stopping(self.sweep_config, list(runs))
            orders = stop_orders(named, function_name(self._stopping))
        elif self._parsed.early_terminate is not None:
            orders = engine.runs_to_stop(self._parsed, runs)
        else:
            return
        by_id = {run.id: run for run in self._runs}
        position = {run.id: i for i, run in enumerate(self._runs)}
        for order in orders:
            target = by_id.get(order.run)
            if target is None:
                warn(f"the stopping function named run {order.run!r}, not a run of this sweep")
                continue
            if target.state is not RunState.RUNNING or target.stopped:
                continue
            try:
                self._runs[position[target.id]] = self._api.stop_run(target.id, order.reason)
            except ConflictError:
                continue  # it ended since the read
            self._actions.append(f"Stop run {target.id}: {order.reason}")

    def _schedule(self, runs: list[engine.Run]) -> None:
        pending = [run.id for run in self._runs if run.state is RunState.PENDING]
        if pending:  # W&B's one outstanding suggestion (spec §10 step 3)
            self._debug.append(f"debug: run {pending[0]} is not started yet; no new suggestion")
            return
        agent = self._idle_agent()
        if agent is None:
            self._debug.append("debug: no running agent of the sweep is idle; no new suggestion")
            return
        suggestion = self._next(runs)
        if suggestion is None:
            search = self._search
            self._finish(
                f"the search function {function_name(search)} returned None"
                if search is not None
                else "its search has no more runs (every grid point is handed out)"
            )
            return
        try:
            made = self._api.schedule_run(
                self._sweep.id, agent.id, suggestion.params, dict(suggestion.info) or None
            )
        except ConflictError as exc:
            # the agent took a run or was lost since the read, or run_cap is reached: the
            # server counts it (prior runs left out) and finishes the sweep at the agents' next
            # heartbeat, which the next step sees
            self._debug.append(f"debug: not scheduled: {exc}")
            return
        self._runs.append(made)
        self._actions.append(f"Schedule run {made.id} on agent {agent.id}: {made.params}")

    def _idle_agent(self) -> AgentOut | None:
        busy = {run.agent_id for run in self._runs if run.state in _BUSY}
        for agent in self._api.list_agents(self._sweep.id):
            if agent.state == "running" and agent.id not in busy:
                return agent
        return None

    def _next(self, runs: list[engine.Run]) -> engine.Suggestion | None:
        if self._search is None:
            found = engine.next_runs(self._parsed, runs, 1)
            return found[0] if found else None
        return suggestion(self._search(self.sweep_config, list(runs)), function_name(self._search))

    def _finish(self, why: str) -> None:
        """Finish the sweep (``stop``): no new runs, running runs go on to their end."""
        try:
            self._sweep = self._api.sweep_action(self._sweep.id, "stop")
        except ConflictError:  # it ended since the read
            self._sweep = self._api.get_sweep(self._sweep.id)
            return
        self._why_ended = why
        self._actions.append(f"Finish sweep {self._sweep.id}: {why}")


# -- configs and records -------------------------------------------------------------------------


def _is_config(source: object) -> bool:
    """A config (dict, function, file), not a sweep id: a string is a file when it ends like one
    or names one."""
    if isinstance(source, str):
        return source.lower().endswith(_CONFIG_SUFFIXES) or Path(source).is_file()
    return isinstance(source, (Mapping, Path)) or callable(source)


def _local_config(source: Any) -> dict[str, Any]:
    """The config with ``controller: {type: local}`` added when it has no controller key."""
    config = _config_of(source)
    kind = config.setdefault("controller", {"type": "local"})
    if not (isinstance(kind, Mapping) and kind.get("type") == "local"):
        raise ConfigError(
            [
                ConfigIssue(
                    "controller",
                    f"{kind!r} is not a local controller; hypersweep.controller() runs only a "
                    "sweep with controller: {type: local}: set that, or leave the key out",
                )
            ]
        )
    return config
