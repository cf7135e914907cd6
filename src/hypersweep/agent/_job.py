"""What a run gets from its agent before it starts (spec §7.2): files and environment.

Shared by the command agent (a child process) and the function agent (this process).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hypersweep.config import args_json_file_path, uses_macro

__all__ = ["JOB_ENV_KEYS", "WANDB_FLUSH_INTERVAL", "job_env", "write_param_file"]

#: The variables the agent sets per run; the function agent removes them after each job.
JOB_ENV_KEYS = (
    "WANDB_SWEEP_ID",
    "WANDB_RUN_ID",
    "WANDB_SWEEP_PARAM_PATH",
    "WANDB_PROJECT",
    "WANDB_ENTITY",
    "HYPERSWEEP_SERVER",
    "HYPERSWEEP_AGENT_ID",
    "HYPERSWEEP_SWEEP_PARAMS",
    "HYPERSWEEP_SWEEP_PARAMS_FOR",
)
_ENV_JSON_LIMIT = 64 * 1024  # bytes: environments are limited; bigger params use the file
#: How often a real-wandb run writes its log to disk (seconds; wandb's default is 15): the
#: agent reads the log for the run's metrics, and early termination needs them soon.
WANDB_FLUSH_INTERVAL = "0.5"


def write_param_file(wandb_dir: str, sweep_id: str, run_id: str, params: Mapping[str, Any]) -> str:
    """Write ``WANDB_DIR/wandb/sweep-S/config-R.yaml`` in wandb's config format; its path.

    Keys keep the order the controller sent; each value is wrapped as ``{value: V}`` after a
    ``wandb_version: 1`` line, which is what ``wandb.init`` and ``hypersweep.init`` read.
    """
    path = Path(wandb_dir, "wandb", f"sweep-{sweep_id}", f"config-{run_id}.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"wandb_version": 1, **{key: {"value": value} for key, value in params.items()}}
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False)
    path.write_text(text.replace("wandb_version: 1\n", "wandb_version: 1\n\n", 1), "utf-8")
    return str(path)


def job_env(
    base: Mapping[str, str],
    *,
    sweep_id: str,
    run_id: str,
    project: str | None,
    entity: str | None,
    server: str,
    agent_id: str,
    params: Mapping[str, Any],
    sweep_config: Mapping[str, Any],
) -> dict[str, str]:
    """The run's environment: ``base`` plus spec §7.2's variables, with its files written.

    ``WANDB_DIR`` defaults to the agent's working directory (absolute); the parameter file and,
    when the command uses ``${args_json_file}``, the JSON parameter file are written under it.
    ``WANDB_SERVICE`` is dropped so a wandb child starts its own service.

    A child that imports the real wandb is kept off the network: ``WANDB_MODE=offline``
    (whatever the agent's environment says, but ``disabled`` stays), so it writes its run to
    ``WANDB_DIR/wandb/offline-run-*-<RUN>/``, where the agent's bridge reads its metrics
    (``_wandb_bridge.py``), flushed every ``WANDB_FLUSH_INTERVAL`` seconds unless
    ``WANDB_X_TRANSACTION_LOG_FLUSH_INTERVAL`` is set. hypersweep's own client keeps the mode
    it had (``HYPERSWEEP_MODE``, else the agent's ``WANDB_MODE``, else online).
    """
    env = dict(base)
    env.pop("WANDB_SERVICE", None)
    env.setdefault("WANDB_DIR", os.path.abspath(os.getcwd()))
    env["WANDB_SWEEP_ID"] = sweep_id
    env["WANDB_RUN_ID"] = run_id
    env["WANDB_SWEEP_PARAM_PATH"] = write_param_file(env["WANDB_DIR"], sweep_id, run_id, params)
    # the same parameters as JSON, so hypersweep.init() need not import yaml to read the file
    as_json = json.dumps(dict(params))
    if len(as_json) <= _ENV_JSON_LIMIT:
        env["HYPERSWEEP_SWEEP_PARAMS"] = as_json
        env["HYPERSWEEP_SWEEP_PARAMS_FOR"] = env["WANDB_SWEEP_PARAM_PATH"]
    else:
        env.pop("HYPERSWEEP_SWEEP_PARAMS", None)
        env.pop("HYPERSWEEP_SWEEP_PARAMS_FOR", None)
    if project:
        env["WANDB_PROJECT"] = project
    if entity:
        env["WANDB_ENTITY"] = entity
    env["HYPERSWEEP_SERVER"] = server
    env["HYPERSWEEP_AGENT_ID"] = agent_id
    _keep_wandb_offline(env, base)
    if uses_macro(sweep_config, "args_json_file"):
        json_path = Path(args_json_file_path(env, sweep_id, run_id))
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(dict(params)), "utf-8")
    return env


def _keep_wandb_offline(env: dict[str, str], base: Mapping[str, str]) -> None:
    # hypersweep.init() reads WANDB_MODE when HYPERSWEEP_MODE is unset: pin its mode first
    env["HYPERSWEEP_MODE"] = base.get("HYPERSWEEP_MODE") or base.get("WANDB_MODE") or "online"
    # an online wandb run would ask W&B's cloud for a sweep and run it does not know
    if base.get("WANDB_MODE", "").lower() != "disabled":
        env["WANDB_MODE"] = "offline"
    env.setdefault("WANDB_X_TRANSACTION_LOG_FLUSH_INTERVAL", WANDB_FLUSH_INTERVAL)
