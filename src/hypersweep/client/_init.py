"""``init()`` and the module-level run (``hypersweep.config``, ``log``, ``summary``, ``finish``).

``init()`` reads what an agent puts in the environment (spec §7.2, §7.3) with W&B's names, so an
unmodified ``import wandb`` script works after ``import hypersweep as wandb``:

=========================== ===========================================================
``WANDB_SWEEP_ID``          the sweep this run belongs to (set by the agent)
``WANDB_RUN_ID``            the run id the server assigned
``WANDB_SWEEP_PARAM_PATH``  YAML file with the run's parameters (``name: {value: V}``)
``WANDB_DIR``               base directory for run files (default: the working directory)
``WANDB_PROJECT``           project name
``HYPERSWEEP_SERVER``       server address (default ``http://127.0.0.1:8787``)
``HYPERSWEEP_MODE``         ``online`` (default), ``offline`` or ``disabled`` (also ``WANDB_MODE``)
``HYPERSWEEP_AGENT_ID``     set by the hypersweep agent: it, not ``finish()``, reports the end
``HYPERSWEEP_INPROCESS_AGENT`` ``1`` inside the function agent: ``log()`` of a stopped run raises
``HYPERSWEEP_FAST_EXIT``     ``0``: an agent's run keeps Python's garbage collections at exit
=========================== ===========================================================

It does no network I/O itself: the sender thread contacts the server, so ``init()`` costs
reading the parameter file and starting a thread.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from hypersweep.client._config import (
    Config,
    as_mapping,
    load_config_defaults,
    load_config_file,
    load_param_file,
    warn,
)
from hypersweep.client._env import server_url
from hypersweep.client._metrics import Metric
from hypersweep.client._offline import offline_dir
from hypersweep.client._run import Run
from hypersweep.client._sender import SenderSettings, note
from hypersweep.errors import HypersweepError

__all__ = [
    "current_run",
    "define_metric",
    "finish",
    "init",
    "log",
    "request_stop",
    "set_inprocess_agent",
    "take_exit_code",
]

MODES = ("online", "offline", "disabled")
_MODE_ALIASES = {"dryrun": "offline", "run": "online"}
REINIT = ("return_previous", "finish_previous", "create_new")
# wandb.init arguments a W&B script may pass that have no meaning here: accepted and ignored
# with a warning, so the script runs; any other unknown argument is a TypeError.
_WANDB_ONLY = frozenset(
    {
        "allow_val_change",
        "anonymous",
        "config_exclude_keys",
        "config_include_keys",
        "force",
        "fork_from",
        "magic",
        "monitor_gym",
        "resume",
        "resume_from",
        "save_code",
        "settings",
        "sync_tensorboard",
        "tensorboard",
    }
)
_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

_lock = threading.RLock()
_current: Run | None = None
_unfinished: list[Run] = []
_inprocess_agent = False
_job_exit_codes: dict[str, int] = {}  # run id -> finish(exit_code=) in an in-process job
_hooks_installed = False
_exit_code: int | None = None
_said_not_in_sweep = False


def current_run() -> Run | None:
    """The run ``init()`` made last that is not finished yet (``hypersweep.run``)."""
    return _current


def set_inprocess_agent(enabled: bool) -> None:
    """Called by the in-process function agent: from now on ``log()`` of a run the server
    stopped raises ``RunStopped`` (which the agent catches), instead of carrying on until the
    subprocess agent's SIGTERM. ``HYPERSWEEP_INPROCESS_AGENT=1`` does the same.
    """
    global _inprocess_agent
    _inprocess_agent = enabled


def take_exit_code(run_id: str) -> int | None:
    """The exit code a job of the in-process agent gave ``finish(exit_code=...)`` for its run,
    once (None when it did not finish the run itself): ``wandb.finish(exit_code=1)`` in a job
    makes its run failed, as in W&B, where the agent's own finish then changes nothing."""
    with _lock:
        return _job_exit_codes.pop(run_id, None)


def _stop_raises() -> bool:
    return _inprocess_agent or os.environ.get("HYPERSWEEP_INPROCESS_AGENT") == "1"


def request_stop(run_id: str, reason: str) -> bool:
    """Mark run ``run_id`` stopped (a ``stop`` command the in-process agent got by heartbeat).

    Returns:
        Whether a live run of this process has that id.
    """
    with _lock:
        for run in _unfinished:
            if run.id == run_id:
                run._request_stop(reason)
                return True
    return False


def init(
    project: str | None = None,
    config: Any = None,
    name: str | None = None,
    id: str | None = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    reinit: bool | str | None = None,
    mode: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    entity: str | None = None,
    **wandb_kwargs: Any,
) -> Run:
    """Start a run, shaped like ``wandb.init``; inside a sweep, pick up its parameters.

    In a sweep (``WANDB_SWEEP_ID`` set by the agent) the run id comes from ``WANDB_RUN_ID``,
    the parameters from ``WANDB_SWEEP_PARAM_PATH`` are deep-merged over ``config`` and locked,
    and ``project``, ``entity`` and ``id`` are ignored with W&B's warnings. Outside a sweep the
    run is written to a local directory that ``hypersweep sync DIR --sweep ID`` uploads later.

    Args:
        project: project name (default ``$WANDB_PROJECT``, else ``uncategorized``).
        config: default hyperparameters: a dict, an ``argparse.Namespace`` or a YAML file path.
            They win over ``config-defaults.yaml`` in the working directory, which is read
            first when there is one, as wandb.init reads it.
        name: display name of the run.
        id: run id outside a sweep (default ``$WANDB_RUN_ID``, else a fresh one).
        tags, notes, group, job_type: kept on the run, sent to the server when it starts.
        reinit: with a run already active in this process: ``return_previous`` (default; also
            None/False), ``finish_previous`` (also True) or ``create_new``.
        mode: ``online`` (default), ``offline`` or ``disabled`` (default ``$HYPERSWEEP_MODE``).
        dir: base directory for run files (default ``$WANDB_DIR``, else the working directory).
        entity: accepted for W&B scripts; hypersweep has no entities.

    Returns:
        The run; also reachable as ``hypersweep.run``.

    Raises:
        ConfigError: the sweep parameter file is missing or malformed, or a config file
            (``config``, ``config-defaults.yaml``) is malformed.
        HypersweepError: an invalid ``mode``, ``reinit`` or ``id``; a sweep without a run id.
        TypeError: an argument ``wandb.init`` does not have either.
    """
    _check_wandb_kwargs(wandb_kwargs)
    reinit_mode = _reinit_mode(reinit)
    env = os.environ
    sweep_id = _bare_sweep_id(env.get("WANDB_SWEEP_ID") or None)
    run_mode = _mode(mode)
    with _lock:
        previous = _current
        if previous is not None and not previous.finished:
            same_job = sweep_id is None or previous.id == env.get("WANDB_RUN_ID")
            if reinit_mode == "return_previous" and same_job:
                return previous
            if reinit_mode != "create_new":
                previous.finish()
    if sweep_id is not None:
        for what, value in (("project", project), ("entity", entity), ("run_id", id)):
            if value is not None:
                warn(f"Ignoring {what} '{value}' when running a sweep.")
        run_id = env.get("WANDB_RUN_ID") or _no_run_id(sweep_id)
        project = env.get("WANDB_PROJECT") or None
    else:
        run_id = id or env.get("WANDB_RUN_ID") or _new_id()
        project = project or env.get("WANDB_PROJECT") or "uncategorized"
    if not _RUN_ID.match(run_id):
        raise HypersweepError(
            f"run id {run_id!r}: use 1-64 letters, digits, '_', '-' or '.' (it names a directory)"
        )
    run_config = Config()
    # W&B's order: config-defaults.yaml, then init(config=...), then the sweep's parameters
    run_config.update(load_config_defaults(Path.cwd()))
    run_config.update(_config_argument(config))
    sweep_params: dict[str, Any] | None = None
    if sweep_id is not None:
        param_path = env.get("WANDB_SWEEP_PARAM_PATH")
        sweep_params = load_param_file(param_path, env) if param_path else {}
        run_config._lock_sweep(sweep_params)
    base = Path(dir or env.get("WANDB_DIR") or os.getcwd()).absolute()
    now = datetime.now(timezone.utc)
    offline_path = offline_dir(base, run_id, now)
    online = run_mode == "online" and sweep_id is not None
    if run_mode == "online" and sweep_id is None:
        _say_not_in_sweep(offline_path)
    run_dir = offline_path if not online else offline_dir(base, run_id, now, prefix="run")
    settings = None
    if run_mode != "disabled":
        described = {"tags": list(tags) if tags else None, "notes": notes, "group": group}
        described.update(name=name, job_type=job_type)
        settings = SenderSettings(
            run_id=run_id,
            sweep_id=sweep_id,
            online=online,
            server=server_url(),
            offline_path=offline_path,
            agent_id=env.get("HYPERSWEEP_AGENT_ID") or None,
            spool_dir=run_dir / "spool",
            described=described,
        )
    extra = {
        "tags": list(tags or []),
        "notes": notes,
        "group": group,
        "job_type": job_type,
        "created_at": now.isoformat(),
    }
    run = Run(
        run_id=run_id,
        name=name,
        sweep_id=sweep_id,
        project=project,
        run_dir=run_dir,
        config=run_config,
        mode="offline" if run_mode == "online" and not online else run_mode,
        sender=settings,
        extra=extra,
        sweep_params=sweep_params,
        stop_raises=_stop_raises,
        on_finish=_forget,
    )
    _remember(run)
    return run


def log(data: Any, step: int | None = None, commit: bool | None = None) -> None:
    """``hypersweep.log(...)``: ``run.log`` of the current run."""
    _require("log").log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """``hypersweep.finish()``: finish the current run; nothing without one."""
    run = _current
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def define_metric(
    name: str,
    step_metric: str | None = None,
    step_sync: bool | None = None,
    hidden: bool | None = None,
    summary: str | None = None,
    goal: str | None = None,
    overwrite: bool | None = None,
) -> Metric:
    """``hypersweep.define_metric(...)``: ``run.define_metric`` of the current run."""
    return _require("define_metric").define_metric(
        name,
        step_metric=step_metric,
        step_sync=step_sync,
        hidden=hidden,
        summary=summary,
        goal=goal,
        overwrite=overwrite,
    )


def _require(what: str) -> Run:
    run = _current
    if run is None:
        raise HypersweepError(f"You must call hypersweep.init() before hypersweep.{what}()")
    return run


# -- arguments ---------------------------------------------------------------------------------


def _check_wandb_kwargs(kwargs: dict[str, Any]) -> None:
    unknown = sorted(set(kwargs) - _WANDB_ONLY)
    if unknown:
        raise TypeError(
            f"init() got an unexpected keyword argument {unknown[0]!r}; it takes project, "
            "config, name, id, tags, notes, group, job_type, reinit, mode, dir, entity"
        )
    for key in sorted(kwargs):
        warn(f"init({key}=...) is a wandb option that hypersweep ignores")


def _reinit_mode(reinit: bool | str | None) -> str:
    if reinit is None or reinit is False or reinit == "default":
        return "return_previous"
    if reinit is True:
        return "finish_previous"
    if isinstance(reinit, str) and reinit in REINIT:
        return reinit
    raise HypersweepError(f"init(reinit={reinit!r}): use one of {', '.join(REINIT)}, True or False")


def _mode(explicit: str | None) -> str:
    env = os.environ
    raw = explicit or env.get("HYPERSWEEP_MODE") or env.get("WANDB_MODE") or "online"
    value = _MODE_ALIASES.get(raw.lower(), raw.lower())
    if value not in MODES:
        source = "init(mode=...)" if explicit else "HYPERSWEEP_MODE / WANDB_MODE"
        raise HypersweepError(f"{source}: unknown mode {raw!r}; use one of {', '.join(MODES)}")
    return value


def _config_argument(config: Any) -> Any:
    if isinstance(config, (str, os.PathLike)):
        return load_config_file(Path(config), source=f"init(config={os.fspath(config)!r})")
    return as_mapping(config, "init(config=...)")


def _bare_sweep_id(raw: str | None) -> str | None:
    # the agent sets the bare id (spec §7.2); tolerate PROJECT/ID written by hand
    return raw.strip().rsplit("/", 1)[-1] or None if raw else None


def _no_run_id(sweep_id: str) -> NoReturn:
    raise HypersweepError(
        f"WANDB_SWEEP_ID={sweep_id} is set but WANDB_RUN_ID is not; sweep runs are started by "
        f"`hypersweep agent {sweep_id}`, which sets both. Unset WANDB_SWEEP_ID to run outside "
        "the sweep"
    )


def _new_id() -> str:
    import secrets

    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def _say_not_in_sweep(path: Path) -> None:
    global _said_not_in_sweep
    if _said_not_in_sweep:
        return
    _said_not_in_sweep = True
    note(
        f"not in a sweep (WANDB_SWEEP_ID is unset), so this run is written to {path}; add it "
        f"to a sweep later with `hypersweep sync {path} --sweep SWEEP_ID`"
    )


# -- the module-level run and process exit -----------------------------------------------------


def _remember(run: Run) -> None:
    global _current
    with _lock:
        _current = run
        _unfinished.append(run)
        _install_hooks()


def _forget(run: Run) -> None:
    global _current
    with _lock:
        if _inprocess_agent and run.exit_code is not None:
            _job_exit_codes[run.id] = run.exit_code
        if run in _unfinished:
            _unfinished.remove(run)
        if _current is run:
            _current = _unfinished[-1] if _unfinished else None


def _install_hooks() -> None:
    """Learn the exit code like wandb does (``sys.exit`` and ``sys.excepthook``), and finish
    unfinished runs at exit so their last rows are delivered and offline runs record it."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    original_exit = sys.exit
    original_hook = sys.excepthook

    def exit_hook(code: Any = None) -> NoReturn:
        global _exit_code
        _exit_code = code if isinstance(code, int) else (0 if code is None else 1)
        original_exit(code)

    def except_hook(*args: Any) -> None:
        global _exit_code
        _exit_code = 1
        original_hook(*args)

    sys.exit = exit_hook
    sys.excepthook = except_hook
    atexit.register(_finish_all)


def _finish_all() -> None:
    with _lock:
        runs = list(_unfinished)
    for run in reversed(runs):
        run.finish(exit_code=_exit_code or 0)
    if os.environ.get("HYPERSWEEP_AGENT_ID") and os.environ.get("HYPERSWEEP_FAST_EXIT") != "0":
        _skip_final_collections()


def _skip_final_collections() -> None:
    """Exempt every live object from the garbage collections the interpreter runs as it exits.

    With httpx and pydantic loaded those collections cost ~30 ms, three fifths of an agent's
    turnaround from one run's exit to the next run (benchmarks/overhead.py). Only runs
    launched by an agent do this, as their last atexit step but the earlier-registered ones:
    the process ends at once, and what Python would skip is running ``__del__`` of objects
    in reference cycles at exit, which it does not promise anyway. ``HYPERSWEEP_FAST_EXIT=0``
    turns it off.
    """
    import gc

    gc.freeze()
