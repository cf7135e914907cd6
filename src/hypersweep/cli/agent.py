"""``hypersweep agent SWEEP_ID``: run a sweep's program, one run at a time (spec §7, §9.2)."""

from __future__ import annotations

import os

import click

from hypersweep.agent import AgentOptions, CommandAgent
from hypersweep.agent._fleet import parse_gpus, run_fleet, slot_envs
from hypersweep.cli._output import user_errors
from hypersweep.cli.sweep import server_option

__all__ = ["agent_command"]


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter(f"{value} is not a number of runs; use 1 or more")
    return value


@click.command("agent")
@click.argument("sweep_id")
@server_option
@click.option("-p", "--project", help="Project the runs are filed under [default: the sweep's].")
@click.option("-e", "--entity", help="Accepted for W&B commands; passed as WANDB_ENTITY.")
@click.option(
    "--count",
    type=int,
    default=None,
    help="Run at most this many runs, then exit [default: until the sweep ends].",
)
@click.option(
    "-f",
    "--forward-signals",
    is_flag=True,
    help="Forward the signals the agent gets (e.g. Ctrl-C) to the runs.",
)
@click.option(
    "-t",
    "--term-timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="With -f: SIGKILL the runs this long after the first forwarded signal.",
)
@click.option(
    "--max-consecutive-failed-runs",
    type=int,
    default=None,
    callback=_positive,
    help="Stop after this many failed runs in a row.",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run this many agents here, each one run at a time.",
)
@click.option(
    "--gpus",
    metavar="0,1,...",
    default=None,
    help="One agent per listed GPU, each with CUDA_VISIBLE_DEVICES set to it.",
)
def agent_command(
    sweep_id: str,
    server: str | None,
    project: str | None,
    entity: str | None,
    count: int | None,
    forward_signals: bool,
    term_timeout: float | None,
    max_consecutive_failed_runs: int | None,
    parallel: int,
    gpus: str | None,
) -> None:
    """Ask the server for runs of SWEEP_ID (SWEEP, PROJECT/SWEEP or ENTITY/PROJECT/SWEEP) and
    run them here, one at a time, until the sweep ends.

    Each run's program gets its parameters through the command's arguments, the file named by
    WANDB_SWEEP_PARAM_PATH and WANDB_RUN_ID/WANDB_SWEEP_ID, as W&B's agent gives them. Its output
    goes to this terminal and to the server. Ctrl-C once: no new runs, wait for the current
    one; twice: SIGTERM it; three times: SIGKILL it.

    --parallel N or --gpus 0,1,2,3 start several agents here (one per GPU), each its own
    process; Ctrl-C reaches all of them.
    """
    if gpus is not None or parallel > 1:
        slot_options: dict[str, str | int | float | bool | None] = {
            "server": server,
            "project": project,
            "entity": entity,
            "count": count,
            "forward_signals": forward_signals,
            "term_timeout": term_timeout,
            "max_consecutive_failed_runs": max_consecutive_failed_runs,
        }
        _run_slots(_slot_args(sweep_id, slot_options), gpus, parallel)
    with user_errors():
        options = AgentOptions(
            sweep_id,
            server=server,
            project=project,
            entity=entity,
            count=count or None,
            forward_signals=forward_signals,
            term_timeout=term_timeout,
            max_consecutive_failed_runs=max_consecutive_failed_runs,
        )
        try:
            agent = CommandAgent(options)
        except ValueError as exc:  # a bad WANDB_AGENT_* / HYPERSWEEP_AGENT_* variable
            click.echo(f"Error: {exc}", err=True)
            raise SystemExit(2) from None
        code = agent.run()
    raise SystemExit(code)


def _run_slots(args: list[str], gpus: str | None, parallel: int) -> None:
    """Run ``hypersweep agent ARGS`` once per slot (``--parallel`` / ``--gpus``)."""
    try:
        gpu_list = parse_gpus(gpus) if gpus is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--gpus") from None
    if gpu_list and parallel > 1:
        raise click.UsageError("use --gpus or --parallel, not both: --gpus runs one agent per GPU")
    envs = slot_envs(os.environ, parallel=parallel, gpus=gpu_list)
    raise SystemExit(run_fleet(args, envs))


def _slot_args(sweep_id: str, options: dict[str, str | int | float | bool | None]) -> list[str]:
    """The command line of one slot: the same options, without --parallel and --gpus."""
    args = [sweep_id]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not None and value is not False:
            args += [flag, str(value)]
    return args
