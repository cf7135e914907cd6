"""The public names are pinned: a change here is a change to the public API."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import hypersweep
from hypersweep import engine


def test_package_exports() -> None:
    assert set(hypersweep.__all__) == {
        "AlertLevel",
        "Api",
        "Artifact",
        "Audio",
        "AuthError",
        "ConfigError",
        "ConfigIssue",
        "ConflictError",
        "Error",
        "Histogram",
        "Html",
        "HypersweepError",
        "Image",
        "NotFoundError",
        "Object3D",
        "Run",
        "RunStopped",
        "ServerUnavailable",
        "Settings",
        "StoreError",
        "Table",
        "Video",
        "__version__",
        "agent",
        "alert",
        "config",
        "controller",
        "define_metric",
        "finish",
        "init",
        "log",
        "log_artifact",
        "login",
        "mark_preempting",
        "plot",
        "run",
        "save",
        "summary",
        "sweep",
        "termerror",
        "termlog",
        "termwarn",
        "unwatch",
        "use_artifact",
        "watch",
    }
    # every public name resolves (the lazy map and __all__ agree)
    for name in hypersweep.__all__:
        if name not in ("run",):  # None without a run
            assert getattr(hypersweep, name) is not None, name
    # W&B's functions, even after the subpackage of the same name is imported
    importlib.import_module("hypersweep.agent")
    assert callable(hypersweep.agent)
    importlib.import_module("hypersweep.controller")  # the server's controller subpackage
    assert callable(hypersweep.controller)
    assert not isinstance(hypersweep.controller, type(hypersweep))
    assert callable(hypersweep.sweep)


def test_client_exports() -> None:
    from hypersweep import client

    assert set(client.__all__) == {
        "DEFAULT_SERVER",
        "ApiClient",
        "LocalController",
        "Run",
        "controller",
        "current_run",
        "finish",
        "init",
        "log",
        "request_stop",
        "server_url",
        "set_inprocess_agent",
        "split_sweep_path",
        "sweep",
        "take_exit_code",
    }
    for name in client.__all__:
        assert getattr(client, name) is not None


def test_agent_exports() -> None:
    from hypersweep.agent import __all__ as names

    assert set(names) == {"AgentOptions", "CommandAgent", "FailureRules", "agent"}


def test_engine_exports() -> None:
    assert set(engine.__all__) == {
        "Run",
        "RunState",
        "StopOrder",
        "Suggestion",
        "SweepConfig",
        "needs_history",
        "next_runs",
        "parse",
        "render_command",
        "runs_to_stop",
        "stored_config",
        "validate",
    }


HEAVY = "{'numpy', 'scipy', 'fastapi', 'sqlalchemy', 'yaml', 'httpx', 'pydantic', 'uvicorn'}"


def test_importing_hypersweep_stays_light() -> None:
    code = f"import sys, hypersweep; print(sorted({HEAVY} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_wandb_compat_names_stay_light() -> None:
    # define_metric, media and the no-op calls are used by training scripts on every import
    code = (
        "import sys, hypersweep as wandb\n"
        "wandb.define_metric, wandb.Image, wandb.Histogram, wandb.Table, wandb.plot\n"
        "wandb.login, wandb.watch, wandb.Artifact, wandb.AlertLevel\n"
        f"print(sorted({HEAVY} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_init_and_log_stay_light(tmp_path: Path) -> None:
    # an offline run never needs the HTTP client; an online one imports it in its sender thread
    code = (
        "import sys, hypersweep as wandb\n"
        "wandb.init(mode='offline', config={'lr': 0.1})\n"
        "wandb.log({'loss': wandb.config.lr})\n"
        f"print(sorted({HEAVY} & set(sys.modules)))\n"
        "wandb.finish()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"


def test_answers_with_fields_a_newer_server_added_still_parse() -> None:
    from hypersweep.protocol import HeartbeatReply, RunOut

    run = {
        "id": "r",
        "sweep_id": "s",
        "name": "r",
        "params": {},
        "state": "running",
        "created_at": "2026-01-01T00:00:00Z",
        "field_from_the_future": 1,
    }
    assert RunOut.model_validate(run).id == "r"
    reply = {"commands": [{"type": "exit", "reason": "done", "new_flag": True}], "extra": 2}
    assert HeartbeatReply.model_validate(reply).commands[0].type == "exit"
