"""Scripts written the way the W&B docs write them run with only the import line changed
(``import wandb`` -> ``import hypersweep as wandb``), against a real server process, and their
results read back through ``hypersweep.Api``.

The scripts are kept here as W&B code; each test swaps the one import line and checks that
nothing else needed to change.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import hypersweep
from _servers import server_process

pytestmark = pytest.mark.slow

_WAIT = 180.0  # seconds: a bound far above what the scripts take on a loaded 2-core machine

# W&B's "Tutorial: define, initialize and run a sweep", function-agent form
FUNCTION_AGENT = """\
import random

import numpy as np
import wandb

sweep_configuration = {
    "method": "random",
    "name": "sweep",
    "metric": {"goal": "maximize", "name": "val_acc"},
    "parameters": {
        "batch_size": {"values": [16, 32, 64]},
        "epochs": {"values": [3, 4, 5]},
        "lr": {"max": 0.1, "min": 0.0001},
    },
}


def train_one_epoch(epoch, lr, bs):
    acc = 0.25 + ((epoch / 30) + (random.random() / 10))
    loss = 0.2 + (1 - ((epoch - 1) / 10 + random.random() / 5))
    return acc, loss


def evaluate_one_epoch(epoch):
    acc = 0.1 + ((epoch / 20) + (random.random() / 10))
    loss = 0.25 + (1 - ((epoch - 1) / 10 + random.random() / 6))
    return acc, loss


def main():
    wandb.login()
    run = wandb.init()

    # note that we define values from `wandb.config` instead of defining hard values
    lr = wandb.config.lr
    bs = wandb.config.batch_size
    epochs = wandb.config.epochs

    for epoch in np.arange(1, epochs):
        train_acc, train_loss = train_one_epoch(epoch, lr, bs)
        val_acc, val_loss = evaluate_one_epoch(epoch)

        wandb.log(
            {
                "epoch": epoch,
                "train_acc": train_acc,
                "train_loss": train_loss,
                "val_acc": val_acc,
                "val_loss": val_loss,
            }
        )


sweep_id = wandb.sweep(sweep=sweep_configuration, project="my-first-sweep")
wandb.agent(sweep_id, function=main, count=4)
print("sweep id:", sweep_id)
"""

# a CLI-agent training script: argparse defaults, a nested config the sweep overrides in part,
# define_metric with a glob and summaries, media and a watch() call left in
CLI_AGENT = """\
import argparse
import math

import wandb


def parse_args():
    parser = argparse.ArgumentParser(description="toy trainer")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=32)
    # the sweep's nested values come through wandb.config, not the command line
    args, _ = parser.parse_known_args()
    return args


def main():
    args = parse_args()
    config = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    }
    with wandb.init(project="nested-demo", config=config, tags=["demo"], job_type="train") as run:
        run.define_metric("epoch")
        run.define_metric("val/*", step_metric="epoch")
        run.define_metric("val/loss", summary="min")
        run.define_metric("val/acc", summary="max")
        wandb.watch(None, log="all")
        optimizer = wandb.config.optimizer
        base = abs(math.log10(optimizer["lr"]) + 2) + (0.5 if optimizer["name"] == "sgd" else 0)
        for epoch in range(wandb.config.epochs):
            # U-shaped: the best epoch is epoch 1, not the last one
            val_loss = base + 0.1 * (epoch - 1) ** 2
            wandb.log(
                {
                    "epoch": epoch,
                    "val/loss": val_loss,
                    "val/acc": 1 / (1 + val_loss),
                    "weights": wandb.Histogram([val_loss, base, epoch]),
                    "samples": wandb.Image(None, caption="not stored"),
                }
            )
        run.summary["momentum"] = optimizer["momentum"]


if __name__ == "__main__":
    main()
"""

CLI_SWEEP = """\
program: train.py
method: grid
metric:
  name: val/loss
  goal: minimize
parameters:
  epochs:
    value: 4
  optimizer:
    parameters:
      name:
        values: [sgd, adam]
      lr:
        values: [0.01, 0.001]
command:
  - ${env}
  - PYTHON
  - ${program}
  - ${args}
"""


def as_hypersweep(script: str) -> str:
    """The W&B script with its import line changed, and nothing else."""
    changed, count = re.subn(r"^import wandb$", "import hypersweep as wandb", script, flags=re.M)
    assert count == 1
    return changed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # `hypersweep server` on SQLite; the scripts and agents reach it only through
    # HYPERSWEEP_SERVER
    with server_process(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture
def env(server: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "HYPERSWEEP_"))}
    # the key: from the credentials file the server wrote at start, as on a user's machine
    credentials = os.environ["HYPERSWEEP_CREDENTIALS"]
    return {
        **clean,
        "HYPERSWEEP_SERVER": server,
        "HYPERSWEEP_AGENT_HEARTBEAT": "0.2",
        "HYPERSWEEP_CREDENTIALS": credentials,
    }


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=_WAIT, check=False
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_function_agent_tutorial(server: str, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "sweep_demo.py").write_text(as_hypersweep(FUNCTION_AGENT))
    result = run([sys.executable, "sweep_demo.py"], tmp_path, env)
    sweep_id = re.search(r"sweep id: (\w+)", result.stdout)
    assert sweep_id is not None, result.stdout
    assert "login() is not needed" in result.stderr
    with hypersweep.Api(server) as api:
        sweep = api.sweep(f"my-first-sweep/{sweep_id.group(1)}")
        runs = sweep.runs
        assert len(runs) == 4
        assert {r.state for r in runs} == {"finished"}
        for r in runs:
            assert set(r.config) == {"batch_size", "epochs", "lr"}
            assert 0.0001 <= r.config["lr"] <= 0.1
            history = r.history(pandas=False)
            assert [row["epoch"] for row in history] == list(range(1, r.config["epochs"]))
            assert r.summary["val_acc"] == history[-1]["val_acc"]
        best = sweep.best_run()
        assert best is not None
        assert best.summary["val_acc"] == max(r.summary["val_acc"] for r in runs)


def test_an_argparse_script_with_nested_config_and_define_metric(
    server: str, env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "train.py").write_text(as_hypersweep(CLI_AGENT))
    (tmp_path / "sweep.yaml").write_text(CLI_SWEEP.replace("PYTHON", sys.executable))
    created = run([sys.executable, "-m", "hypersweep", "sweep", "-q", "sweep.yaml"], tmp_path, env)
    sweep_id = created.stdout.strip()
    agent = run([sys.executable, "-m", "hypersweep", "agent", sweep_id], tmp_path, env)
    with hypersweep.Api(server) as api:
        sweep = api.sweep(sweep_id)
        runs = sweep.runs
        assert len(runs) == 4, agent.stdout + agent.stderr
        assert {r.state for r in runs} == {"finished"}
        for r in runs:
            losses = [row["val/loss"] for row in r.scan_history(keys=["val/loss"])]
            assert len(losses) == 4
            # define_metric: the summary holds the best epoch, not the last one
            assert r.summary["val/loss"] == pytest.approx(min(losses))
            assert r.summary["val/loss"] < losses[-1]
            accs = [row["val/acc"] for row in r.scan_history(keys=["val/acc"])]
            assert r.summary["val/acc"] == pytest.approx(max(accs))
            # the sweep's nested values were merged over the script's defaults
            assert r.summary["momentum"] == 0.9
            row = r.history(pandas=False)[0]
            assert row["weights"]["_type"] == "histogram"
            assert "samples" not in row
        best = sweep.best_run()
        assert best is not None
        assert best.config["optimizer"] == {"name": "adam", "lr": 0.01}
