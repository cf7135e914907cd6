"""What the user-facing commands share: one error-to-exit-code mapping and the runs table.

Every command runs its body inside ``user_errors()``, so a ``HypersweepError`` (server down,
unknown sweep, refused state change, bad config) becomes one line on stderr and the error class's
``exit_code``, never a traceback (style rule 9: the CLI maps the exception tree once, here).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hypersweep.client import ApiClient, split_sweep_path
from hypersweep.errors import ConfigError, HypersweepError, NotFoundError
from hypersweep.protocol import AgentOut, RunOut, SweepOut

__all__ = [
    "fetch_sweep",
    "flatten",
    "format_duration",
    "format_value",
    "make_console",
    "metric_of",
    "metric_value",
    "run_row",
    "run_where",
    "runs_table",
    "runtime_seconds",
    "slots_of",
    "sort_runs",
    "sweep_path",
    "user_errors",
]


@contextmanager
def user_errors(source: str | None = None) -> Iterator[None]:
    """Turn a ``HypersweepError`` into ``Error: ...`` on stderr and its ``exit_code``.

    A ``ConfigError`` prints one line per issue (``FILE: key.path: message``) so every problem
    shows at once.
    """
    try:
        yield
    except ConfigError as exc:
        prefix = f"{source}: " if source else ""
        for line in [str(issue) for issue in exc.issues] or [str(exc)]:
            click.echo(f"{prefix}{line}", err=True)
        raise SystemExit(exc.exit_code) from None
    except HypersweepError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None


def make_console() -> Console:
    """A console for stdout; written to a file or a pipe, its lines are never wrapped.

    Rich assumes 80 columns when stdout is not a terminal, which would cut a runs table's cells
    to ``0.9…`` in CI logs and in ``hypersweep runs ID > runs.txt``; ``$COLUMNS`` still wins.
    """
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 10_000
    return console


def fetch_sweep(client: ApiClient, path: str) -> SweepOut:
    """The sweep named ``ID`` or ``PROJECT/ID``; a wrong project is an error that says so.

    Raises:
        NotFoundError: no such sweep, or it is in another project.
    """
    project, sweep_id = split_sweep_path(path)
    try:
        sweep = client.get_sweep(sweep_id)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{exc}; check the id (`hypersweep sweep` printed it) and that {client.url} is the "
            "server it was created on (--server or HYPERSWEEP_SERVER)"
        ) from None
    if project is not None and project != sweep.project:
        raise NotFoundError(
            f"sweep {sweep_id!r} is in project {sweep.project!r}, not {project!r}; use "
            f"{sweep.project}/{sweep_id} or just {sweep_id}"
        )
    return sweep


def sweep_path(sweep: SweepOut) -> str:
    """``PROJECT/ID``: the form every command accepts and the one we print."""
    return f"{sweep.project}/{sweep.id}"


def metric_of(sweep: SweepOut) -> tuple[str | None, str]:
    """The sweep's metric name (None without one) and goal; W&B's default goal is minimize."""
    metric = sweep.config.get("metric")
    if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str):
        return None, "minimize"
    goal = metric.get("goal")
    return metric["name"], goal if goal in ("minimize", "maximize") else "minimize"


def metric_value(run: RunOut, name: str | None) -> float | None:
    """The run's summary value of the metric, or None when it has no finite number for it."""
    if name is None:
        return None
    value = run.summary.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def sort_runs(sweep: SweepOut, runs: Sequence[RunOut]) -> list[RunOut]:
    """Best first by the sweep's metric and goal; runs without the metric last, oldest first."""
    name, goal = metric_of(sweep)
    sign = -1.0 if goal == "maximize" else 1.0

    def key(run: RunOut) -> tuple[int, float, datetime]:
        value = metric_value(run, name)
        if value is None:
            return (1, 0.0, run.created_at)
        return (0, sign * value, run.created_at)

    return sorted(runs, key=key)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameter blocks as dotted keys: ``{"opt": {"lr": 1}}`` -> ``{"opt.lr": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def runtime_seconds(run: RunOut, now: datetime | None = None) -> float | None:
    """Seconds from start to end (to ``now`` while running); None before the run started."""
    if run.started_at is None:
        return None
    end = run.ended_at or now or datetime.now(timezone.utc)
    return max(0.0, (end - run.started_at).total_seconds())


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


_STATE_STYLE = {
    "finished": "green",
    "running": "cyan",
    "pending": "dim",
    "failed": "red",
    "crashed": "red",
    "killed": "yellow",
}


def state_text(run: RunOut) -> Text:
    """The run's state, with the stop reason for a run the sweep stopped (spec §5.7)."""
    text = Text(run.state.value, style=_STATE_STYLE.get(run.state.value, ""))
    if run.stopped:
        text.append(f" (stopped: {run.stop_reason})" if run.stop_reason else " (stopped)")
    return text


def slots_of(agents: Sequence[AgentOut]) -> dict[str, str]:
    """Agent id -> its slot (``gpu 0``), for the agents that have one."""
    return {agent.id: agent.slot for agent in agents if agent.slot}


def run_where(run: RunOut, slots: Mapping[str, str]) -> str:
    """``node-1 (gpu 0)``: the run's host and its agent's slot; ``""`` before it started."""
    slot = slots.get(run.agent_id) if run.agent_id else None
    host = run.host or ""
    if slot:
        return f"{host} ({slot})" if host else slot
    return host


def run_row(
    sweep: SweepOut,
    run: RunOut,
    now: datetime | None = None,
    *,
    slots: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One run as plain JSON for ``--json``: the API's run record plus its metric, runtime,
    and its agent's slot (``slots``: agent id -> slot, from ``slots_of``)."""
    name, _ = metric_of(sweep)
    row: dict[str, Any] = run.model_dump(mode="json")
    row["metric"] = metric_value(run, name)
    row["runtime_seconds"] = runtime_seconds(run, now)
    if slots is not None:
        row["slot"] = slots.get(run.agent_id) if run.agent_id else None
    return row


def runs_table(
    sweep: SweepOut,
    runs: Sequence[RunOut],
    *,
    limit: int | None = None,
    title: str | None = None,
    compact: bool = False,
    slots: Mapping[str, str] | None = None,
) -> Table:
    """The runs, best first: id, state, every parameter (dotted), the metric, runtime.

    ``compact`` (the quickstart's live view, in any terminal width) leaves out state, runtime
    and the parameters that have one value in every run shown. With ``slots`` (agent id ->
    slot, from ``slots_of``) and not ``compact``, a ``host`` column says where each run ran
    (``node-1 (gpu 0)``), when any run has a host.
    """
    name, goal = metric_of(sweep)
    ordered = sort_runs(sweep, runs)
    if limit is not None:
        ordered = ordered[:limit]
    now = datetime.now(timezone.utc)
    columns: dict[str, None] = {}
    flat = [flatten(run.params) for run in ordered]
    for params in flat:
        columns.update(dict.fromkeys(params))
    if compact and len(flat) > 1:
        columns = {c: None for c in columns if len({repr(p.get(c)) for p in flat}) > 1}
    where = None
    if slots is not None and not compact and any(run.host for run in ordered):
        where = [run_where(run, slots) for run in ordered]
    table = Table(title=title, title_justify="left")
    table.add_column("run")
    if not compact:
        table.add_column("state")
    if where is not None:
        table.add_column("host")
    for column in columns:
        table.add_column(column, justify="right")
    if name is not None:
        arrow = "↑" if goal == "maximize" else "↓"
        table.add_column(f"{name} {arrow}", justify="right", style="bold")
    if not compact:
        table.add_column("runtime", justify="right")
    for index, (run, params) in enumerate(zip(ordered, flat, strict=True)):
        cells: list[str | Text] = [run.id] if compact else [run.id, state_text(run)]
        if where is not None:
            cells.append(where[index])
        cells += [format_value(params[c]) if c in params else "" for c in columns]
        if name is not None:
            value = metric_value(run, name)
            cells.append("" if value is None else format_value(value))
        if not compact:
            cells.append(format_duration(runtime_seconds(run, now)))
        table.add_row(*cells)
    return table
