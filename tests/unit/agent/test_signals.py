"""Signals the agent passes on to its runs without stopping (spec §7.8)."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from hypersweep.agent import AgentOptions, CommandAgent

USR1 = int(signal.SIGUSR1)


class Child:
    term_sent_at = None
    killed = False

    def __init__(self) -> None:
        self.sent: list[int] = []

    def signal(self, signum: int) -> None:
        self.sent.append(signum)


def agent_with_child(forward: bool) -> tuple[CommandAgent, Child]:
    api: Any = object()  # never called: nothing here talks to the server
    options = AgentOptions("s1", env={"HYPERSWEEP_AGENT_HEARTBEAT": "1"}, forward_signals=forward)
    agent = CommandAgent(options, api=api)
    child = Child()
    fake: Any = child
    agent.children["r1"] = fake
    return agent, child


def test_with_f_a_slurm_warning_signal_reaches_the_runs_and_the_agent_carries_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent, child = agent_with_child(forward=True)
    previous = agent._install_signal_handlers()
    try:
        os.kill(os.getpid(), USR1)  # as `sbatch --signal=USR1@60` sends it
    finally:
        agent._restore_signal_handlers(previous)
    assert child.sent == [USR1]
    assert (agent._accepting, agent.exit_code) == (True, 0)
    assert "forwarding SIGUSR1 to the runs" in capsys.readouterr().err


def test_without_f_it_is_not_passed_on_and_does_not_kill_the_agent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent, child = agent_with_child(forward=False)
    previous = agent._install_signal_handlers()
    try:
        os.kill(os.getpid(), USR1)  # its default action would end this process
    finally:
        agent._restore_signal_handlers(previous)
    assert child.sent == []
    assert agent._accepting
    assert "start the agent with -f" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGUSR1) is previous[USR1]


def test_wandb_agent_report_interval_prints_the_runs_alive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    api: Any = object()
    env = {"HYPERSWEEP_AGENT_HEARTBEAT": "1", "WANDB_AGENT_REPORT_INTERVAL": "0.01"}
    agent = CommandAgent(AgentOptions("s1", env=env), api=api)
    fake: Any = Child()
    agent.children["r1"] = fake
    agent._reported_at -= 1  # as if the interval had passed
    agent._report()
    agent._report()  # not again before the next interval
    assert capsys.readouterr().err.count("Running runs: ['r1']") == 1
    quiet = CommandAgent(AgentOptions("s1", env={"HYPERSWEEP_AGENT_HEARTBEAT": "1"}), api=api)
    quiet._reported_at -= 1000
    quiet._report()  # W&B's default 0: never
    assert "Running runs" not in capsys.readouterr().err
