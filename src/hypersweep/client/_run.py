"""``Run``: what ``hypersweep.init()`` returns; config, log, summary, finish (spec §7.3, §9.4).

``log()`` follows W&B's step rules (wandb's ``handle_request_partial_history``):

- ``log(d)`` merges ``d`` into the current row, commits it at the current step, and advances;
- ``log(d, commit=False)`` merges ``d`` into the current row without committing;
- ``log(d, step=s)`` with ``s`` above the current step first commits the pending row, then moves
  to ``s``; the row at ``s`` is committed by a later call with a higher step, a call without a
  step, ``commit=True``, or ``finish()``;
- a ``step`` below the current one is dropped with W&B's warning.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from hypersweep.client import _compat
from hypersweep.client._config import Config, warn
from hypersweep.client._metrics import Metric, parse_metric
from hypersweep.client._outbox import Outbox, Summary, jsonable
from hypersweep.client._rows import row_values
from hypersweep.client._sender import Ending, Sender, SenderSettings
from hypersweep.errors import RunStopped

__all__ = ["Run", "ending_state"]

FINISH_TIMEOUT = 30.0  # seconds finish() waits for undelivered rows before giving up
# A run an agent launched waits longer: its agent keeps it alive on the server meanwhile, and
# a server restart or a short outage must not cost the sweep the run's last rows.
AGENT_FINISH_TIMEOUT = 120.0


def ending_state(exit_code: int, stopped: bool) -> str:
    """The final state of a run (as the server derives it, protocol.RunFinish)."""
    if stopped or exit_code < 0:
        return "killed"
    return "finished" if exit_code == 0 else "failed"


class Run:
    """One training run: ``config``, ``log()``, ``summary``, ``finish()``; built by ``init()``.

    Use it as a context manager to finish it with exit code 1 when the block raises::

        with hypersweep.init(config={"lr": 0.1}) as run:
            run.log({"loss": 0.5})
    """

    def __init__(
        self,
        *,
        run_id: str,
        name: str | None,
        sweep_id: str | None,
        project: str | None,
        run_dir: Path,
        config: Config,
        mode: str,
        sender: SenderSettings | None,
        extra: Mapping[str, Any] | None = None,
        sweep_params: Mapping[str, Any] | None = None,
        stop_raises: Callable[[], bool] = lambda: False,
        on_finish: Callable[[Run], None] = lambda run: None,
    ) -> None:
        self._id = run_id
        self._name = name
        self._sweep_id = sweep_id
        self._project = project
        self._dir = run_dir
        self._mode = mode
        self.config = config
        self._box = Outbox(keep_rows=sender is not None)  # disabled: nobody takes the rows
        self.summary = Summary(self._box)
        self._extra = dict(extra or {})
        self._sweep_params = dict(sweep_params) if sweep_params is not None else None
        self._stop_raises = stop_raises
        self._on_finish = on_finish
        self._lock = threading.Lock()
        self._step = 0
        self._partial: dict[str, Any] = {}
        self._started = time.time()
        self._stop_reason: str | None = None
        self._stopped = False
        self._finished = False
        self._exit_code: int | None = None  # what finish() was given (0 when nothing)
        self._warned_finished = False
        self._agent_id = sender.agent_id if sender is not None else None
        self._server = sender.server if sender is not None and sender.online else None
        self._sender: Sender | None = None
        if sender is not None:
            self._sender = Sender(
                self._box,
                sender,
                meta=self._meta,
                on_stop=self._request_stop,
                on_name=self._set_server_name,
            )
            self._sender.start()

    # -- identity ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        """The name given to ``init(name=...)``, else the server's name, else the run id."""
        return self._name or self._id

    @name.setter
    def name(self, value: str) -> None:
        # W&B scripts rename runs after init(); the new name stays in this process (and an
        # offline run's run.json): the server's run API has no rename
        self._name = str(value)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._extra.get("tags") or ())

    @property
    def notes(self) -> str | None:
        notes: str | None = self._extra.get("notes")
        return notes

    @property
    def group(self) -> str | None:
        group: str | None = self._extra.get("group")
        return group

    @property
    def job_type(self) -> str | None:
        job_type: str | None = self._extra.get("job_type")
        return job_type

    @property
    def sweep_id(self) -> str | None:
        return self._sweep_id

    @property
    def project(self) -> str | None:
        return self._project

    @property
    def entity(self) -> str | None:
        """Always None: hypersweep has no entities (accepted for W&B scripts that read it)."""
        return None

    @property
    def path(self) -> str:
        """``PROJECT/RUN_ID`` (W&B's ``entity/project/run_id`` without the entity hypersweep has
        not got), which ``hypersweep.Api().run(run.path)`` reads back; the run id alone when
        the run has no project."""
        return f"{self._project}/{self._id}" if self._project else self._id

    @property
    def url(self) -> str | None:
        """The run's page on the hypersweep dashboard; None for an offline or disabled run, as
        W&B's is None offline."""
        if self._server is None or self.mode != "online":
            return None
        return f"{self._server}/runs/{self._id}"

    def get_url(self) -> str | None:
        """``run.url`` (W&B has both)."""
        return self.url

    @property
    def start_time(self) -> float:
        """When the run started, in seconds since the epoch."""
        return self._started

    @property
    def resumed(self) -> bool:
        """Always False: hypersweep never resumes a run; a preempted run's parameters run
        again as a new run (``controller/_retry.py``)."""
        return False

    @property
    def disabled(self) -> bool:
        """True in ``mode="disabled"``, where nothing is recorded."""
        return self._mode == "disabled"

    @property
    def dir(self) -> str:
        """A directory for the run's files (created on first use)."""
        self._dir.mkdir(parents=True, exist_ok=True)
        return str(self._dir)

    @property
    def mode(self) -> str:
        """``online``, ``offline`` (also after falling back) or ``disabled``."""
        if self._sender is not None and self._sender.offline:
            return "offline"
        return self._mode

    @property
    def offline(self) -> bool:
        return self.mode == "offline"

    @property
    def step(self) -> int:
        """The step the next committed row gets."""
        return self._step

    @property
    def stop_requested(self) -> bool:
        """The server asked this run to stop (early termination or a user's stop)."""
        return self._stopped

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def finished(self) -> bool:
        return self._finished

    def __repr__(self) -> str:
        return f"<hypersweep Run {self._id} ({self.mode})>"

    # -- logging -------------------------------------------------------------------------------

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Log one row of metrics; never waits for the server (see the module docstring).

        Nested dicts are logged as dotted keys, as in W&B: ``log({"val": {"score": 0.9}})``
        logs ``val.score``, the name a sweep's ``metric.name`` and ``define_metric`` use.

        Raises:
            RunStopped: the server stopped this run and it runs inside the in-process function
                agent (``hypersweep.agent(function=f)``), which catches it.
            TypeError, ValueError: ``data`` is not a dict with string keys, or ``step`` is not a
                non-negative int.
        """
        if self._stopped and self._stop_raises():
            raise RunStopped(
                f"run {self._id} was stopped by the server: {self._stop_reason or 'stopped'}"
            )
        if self._finished:
            if not self._warned_finished:
                self._warned_finished = True
                warn(f"Run ({self._id}) is finished. The call to `log` will be ignored.")
            return
        if not isinstance(data, Mapping):
            raise TypeError(
                f"log() takes a dict of metrics, e.g. log({{'loss': 0.1}}); got "
                f"{type(data).__name__}"
            )
        if not all(isinstance(key, str) for key in data):
            raise ValueError("Key values passed to `log` must be strings.")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise ValueError(f"log(step={step!r}): step must be an int >= 0")
        values = row_values(data)
        with self._lock:
            if step is not None:
                if step < self._step:
                    warn(
                        f"Tried to log to step {step} that is less than the current step "
                        f"{self._step}. Steps must be monotonically increasing, so this data "
                        "will be ignored."
                    )
                    return
                if step > self._step:
                    self._commit()
                    self._step = step
            elif commit is None:
                commit = True
            self._partial.update(values)
            if commit:
                self._commit()

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> Metric:
        """Choose which value of metric ``name`` the summary keeps (``wandb.define_metric``).

        With ``summary="min"`` (or ``max``, ``mean``, ``best``) the run's summary value of
        ``name`` is that of all values logged from now on, and a sweep with this metric ranks
        and early-stops by it; ``last`` is the default rule; ``none`` keeps the key out of this
        process's summary (the server still records its last value). ``best`` uses ``goal``
        (``minimize``, the default, or ``maximize``). Several summaries may be given comma
        separated (``"min,max"``); the first decides the value. ``name`` may be a glob
        (``"val/*"``). ``step_metric``, ``step_sync`` and ``hidden`` are accepted and kept on the
        returned metric; they only change W&B's charts.

        Example:
            >>> import hypersweep
            >>> run = hypersweep.init(mode="disabled")
            >>> _ = run.define_metric("val_loss", summary="min")
            >>> run.log({"val_loss": 0.5}); run.log({"val_loss": 0.7})
            >>> run.summary["val_loss"]
            0.5
            >>> run.finish()

        Returns:
            The rule as understood.

        Raises:
            ValueError: an unknown ``summary`` or ``goal``.
            TypeError: ``name`` or ``step_metric`` is not a string.
        """
        metric = parse_metric(name, step_metric, summary, goal, hidden or False, step_sync)
        with self._box.cond:
            self._box.rules.define(metric)
        return metric

    # W&B's run methods with no counterpart here (see _compat)
    def watch(self, models: Any = None, *args: Any, **kwargs: Any) -> None:
        _compat.watch(models, *args, **kwargs)

    def unwatch(self, models: Any = None) -> None:
        _compat.unwatch(models)

    def save(self, glob_str: Any = None, *args: Any, **kwargs: Any) -> None:
        _compat.save(glob_str, *args, **kwargs)

    def alert(
        self, title: str = "", text: str = "", level: Any = None, wait_duration: Any = None
    ) -> None:
        _compat.alert(title, text, level, wait_duration)

    def mark_preempting(self) -> None:
        _compat.mark_preempting()

    def log_artifact(self, artifact_or_path: Any, *args: Any, **kwargs: Any) -> _compat.Artifact:
        return _compat.log_artifact(artifact_or_path, *args, **kwargs)

    def use_artifact(self, artifact_or_name: Any, *args: Any, **kwargs: Any) -> _compat.Artifact:
        return _compat.use_artifact(artifact_or_name, *args, **kwargs)

    def _commit(self) -> None:
        """Send the pending row at the current step and advance; call under ``_lock``."""
        if not self._partial:
            return
        row = dict(self._partial)
        row.setdefault("_timestamp", time.time())
        row.setdefault("_runtime", row["_timestamp"] - self._started)
        self._box.add_row(self._step, row)
        self._partial = {}
        self._step += 1

    # -- ending --------------------------------------------------------------------------------

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit the pending row, deliver everything (waiting up to 30 s), record the end.

        A run launched by a hypersweep agent (``HYPERSWEEP_AGENT_ID`` set) does not report its
        end: the agent sees the process's real exit code and reports that. Otherwise the end
        goes to the server (``exit_code`` 0: finished, else failed; killed when stopped), or
        into ``run.json`` of an offline run. A second call does nothing. ``quiet`` is
        accepted for wandb compatibility.
        """
        with self._lock:
            if self._finished:
                return
            self._commit()
            self._finished = True
        code = 0 if exit_code is None else int(exit_code)
        self._exit_code = code
        try:
            if self._sender is not None:
                ending = Ending(
                    exit_code=code,
                    state=ending_state(code, self._stopped),
                    post_finish=self._agent_id is None,
                )
                timeout = FINISH_TIMEOUT if self._agent_id is None else AGENT_FINISH_TIMEOUT
                self._sender.close(ending, timeout)
        finally:
            self._on_finish(self)

    @property
    def exit_code(self) -> int | None:
        """The exit code ``finish()`` recorded; None while the run goes on."""
        return self._exit_code

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)

    # -- hooks for the sender and the agent ----------------------------------------------------

    def _request_stop(self, reason: str | None) -> None:
        """Record a stop order; with the in-process agent the next ``log()`` raises."""
        self._stop_reason = reason
        self._stopped = True

    def _set_server_name(self, name: str) -> None:
        if self._name is None and name:
            self._name = name

    def _meta(self) -> dict[str, Any]:
        """What ``run.json`` of an offline run holds besides the summary."""
        return {
            "id": self._id,
            "sweep_id": self._sweep_id,
            "project": self._project,
            "name": self._name,
            "params": self._sweep_params,
            "config": jsonable(self.config.as_dict()),
            "state": "running",
            "exit_code": None,
            **self._extra,
        }
