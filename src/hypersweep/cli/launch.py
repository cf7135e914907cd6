"""``hypersweep launch SWEEP_ID --ray``: start agents on a cluster engine (issue 7).

hypersweep has no scheduler: the engine places the agents and the server hands out the runs.
Slurm and Kubernetes start ``hypersweep agent`` from their own job files (examples/cluster);
Ray is driven from here, since a Ray cluster takes work from a Python driver.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import click

from hypersweep.agent._ray import AgentEnd, RayLaunch, import_ray, launch_agents
from hypersweep.cli._output import fetch_sweep, sweep_path, user_errors
from hypersweep.cli.sweep import server_option
from hypersweep.client import ApiClient, server_url
from hypersweep.credentials import resolve_key

__all__ = ["launch_command"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@click.command("launch")
@click.argument("sweep_id")
@click.option("--ray", "use_ray", is_flag=True, help="Start the agents as tasks on a Ray cluster.")
@click.option(
    "--ray-address",
    metavar="ADDRESS",
    default=None,
    help="The Ray cluster: HOST:PORT, ray://HOST:PORT, auto, or local (a Ray on this machine "
    "for the launch only) [default: $RAY_ADDRESS, else local].",
)
@click.option(
    "--agents",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many agents to start; each runs one run at a time.",
)
@click.option(
    "--gpus-per-agent",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="GPUs Ray reserves for each agent (CUDA_VISIBLE_DEVICES is set for its runs).",
)
@server_option
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Each agent runs at most this many runs [default: until the sweep ends].",
)
@click.option(
    "--cwd",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory the agents run in, as a path on the nodes [default: this one].",
)
def launch_command(
    sweep_id: str,
    use_ray: bool,
    ray_address: str | None,
    agents: int,
    gpus_per_agent: float,
    server: str | None,
    count: int | None,
    cwd: str | None,
) -> None:
    """Start agents for SWEEP_ID on a cluster engine and wait until they all end.

    \b
    hypersweep launch ID --ray --agents 8 --gpus-per-agent 1 --ray-address 10.0.0.5:6379
    hypersweep launch ID --ray --agents 2          a local Ray, to try it out

    Each agent is one Ray task running `hypersweep agent ID`, given HYPERSWEEP_SERVER and
    HYPERSWEEP_API_KEY (this one, else the key recorded here for the server). Ctrl-C cancels
    the tasks: each agent gets SIGINT, as if Ctrl-C had been pressed in its terminal. For
    Slurm and Kubernetes, see examples/cluster.
    """
    if not use_ray:
        raise click.UsageError(
            "name the cluster engine: --ray (for Slurm and Kubernetes, start `hypersweep agent` "
            "from a job file: see examples/cluster)"
        )
    url = server_url(server)
    address = ray_address or os.environ.get("RAY_ADDRESS") or None
    if address == "local":  # Ray's own word for "start one here"
        address = None
    with user_errors():
        import_ray(local=address is None)  # before anything else: the cheapest check
        with ApiClient(url) as client:
            sweep = fetch_sweep(client, sweep_id)  # a wrong id or server fails here, not N times
        launch = RayLaunch(
            sweep_id=sweep_path(sweep),
            server=url,
            agents=agents,
            gpus_per_agent=gpus_per_agent,
            address=address,
            cwd=os.path.abspath(cwd or os.getcwd()),
            agent_args=("--count", str(count)) if count else (),
            api_key=resolve_key(url),
        )
        if address is not None and _is_loopback(url) and not _is_loopback_address(address):
            click.echo(
                f"warning: --server {url} is this machine's loopback address; agents on other "
                "nodes cannot reach it: give an address they can (--server http://HOST:PORT)",
                err=True,
            )
        where = address or "a local Ray (loopback only, stopped at the end)"
        click.echo(f"launching {agents} agent(s) for {launch.sweep_id} on {where}", err=True)
        try:
            ends = launch_agents(
                launch,
                on_end=lambda end: click.echo(end.describe(agents)),
                on_note=lambda line: click.echo(line, err=True),
            )
        except KeyboardInterrupt:  # while Ray started, before any agent did
            click.echo("interrupted before the agents started", err=True)
            raise SystemExit(130) from None
    raise SystemExit(_exit_code(ends))


def _exit_code(ends: list[AgentEnd]) -> int:
    """The highest agent exit code; 130 for an agent cancelled before it ran (Ctrl-C), 1 for a
    task that failed without an exit code."""
    codes = [end.code if end.code is not None else 130 if end.cancelled else 1 for end in ends]
    return max((abs(code) for code in codes), default=0)


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK


def _is_loopback_address(address: str) -> bool:
    host = urlsplit(address if "://" in address else f"//{address}").hostname or ""
    return address == "auto" or host in _LOOPBACK
