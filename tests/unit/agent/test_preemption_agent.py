"""The agent's side of preemption: which ends are preempted, how they count, how they are sent."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any

import pytest

from hypersweep.agent import AgentOptions, CommandAgent, FailureRules
from hypersweep.agent._rules import preemption
from hypersweep.errors import ConflictError, ServerUnavailable
from hypersweep.protocol import HeartbeatReply

TERM = int(signal.SIGTERM)


@pytest.mark.parametrize("code", [-TERM, 128 + TERM])
def test_a_sigterm_the_agent_did_not_send_is_a_preemption(code: int) -> None:
    why = preemption(code, agent_sent_term=False, agent_preempted=False)
    assert why is not None
    assert "SIGTERM from outside the agent" in why
    assert f"exit code {code}" in why


@pytest.mark.parametrize("code", [-TERM, 128 + TERM])
def test_a_sigterm_the_agent_sent_is_not(code: int) -> None:
    # a stop order, the second Ctrl-C or the failure rules: killed, as before
    assert preemption(code, agent_sent_term=True, agent_preempted=False) is None


@pytest.mark.parametrize("code", [0, 1, 2, -int(signal.SIGKILL), -int(signal.SIGINT), 137])
def test_other_ends_are_not_preemptions(code: int) -> None:
    assert preemption(code, agent_sent_term=False, agent_preempted=False) is None


@pytest.mark.parametrize("code", [-TERM, -int(signal.SIGKILL), 1, 143])
def test_after_the_agent_got_sigterm_every_unsuccessful_end_is_a_preemption(code: int) -> None:
    why = preemption(code, agent_sent_term=True, agent_preempted=True)
    assert why is not None
    assert "its agent got SIGTERM from outside" in why


def test_a_run_that_finishes_its_work_during_the_grace_period_finished() -> None:
    assert preemption(0, agent_sent_term=True, agent_preempted=True) is None


def test_preemptions_are_not_failures_and_do_not_reset_the_failure_count() -> None:
    rules = FailureRules(started=0.0, max_consecutive=2)
    assert rules.record(1, 100.0) is None
    for _ in range(10):  # a shell's 143 would be a failure without the flag
        assert rules.record(143, 101.0, preempted=True) is None
    assert rules.failed == 1
    assert rules.record(1, 102.0) == "Detected 2 consecutive failed runs, shutting down."


def test_preemptions_in_the_first_minute_do_not_trip_the_flapping_rule() -> None:
    rules = FailureRules(started=0.0)
    for _ in range(5):
        assert rules.record(143, 1.0, preempted=True) is None


class FakeApi:
    """The agent's API client: records what the agent reports; refuses as told."""

    url = "http://fake"

    def __init__(self, refuse_preempted: bool = False, unavailable: bool = False) -> None:
        self.refuse_preempted = refuse_preempted
        self.unavailable = unavailable
        self.finished: list[tuple[str, int | None, str | None]] = []
        self.heartbeats: list[list[tuple[str, int]]] = []
        self.output: list[tuple[str, str]] = []
        self.left: list[str] = []

    def finish_run(self, run_id: str, *, exit_code: int | None, state: str | None) -> None:
        if self.unavailable:
            raise ServerUnavailable("server down")
        if state == "preempted" and self.refuse_preempted:
            raise ConflictError("state: 'preempted' is not one of finished, failed, ...")
        self.finished.append((run_id, exit_code, state))

    def heartbeat(
        self, agent_id: str, running: Sequence[str], ended: Sequence[tuple[str, int]] = ()
    ) -> HeartbeatReply:
        if self.unavailable:
            raise ServerUnavailable("server down")
        self.heartbeats.append(list(ended))
        return HeartbeatReply(commands=[])

    def append_output(self, run_id: str, stream: str, text: str) -> None:
        self.output.append((run_id, text))

    def leave_agent(self, agent_id: str) -> None:
        self.left.append(agent_id)


def agent_with(api: FakeApi) -> CommandAgent:
    fake: Any = api
    return CommandAgent(AgentOptions("s1", env={"HYPERSWEEP_AGENT_HEARTBEAT": "1"}), api=fake)


def test_a_preempted_end_is_reported_with_its_state_before_the_heartbeat() -> None:
    api = FakeApi()
    agent = agent_with(api)
    agent._ended("r1", -TERM, preempted_because="its program got SIGTERM from outside")
    agent._ended("r2", 1)
    agent._heartbeat()
    assert api.finished == [("r1", -TERM, "preempted")]
    assert api.heartbeats == [[("r2", 1)]]
    assert any("preempted: its program got SIGTERM" in text for _, text in api.output)
    assert agent.rules.failed == 1  # r2 only


def test_a_server_that_refuses_the_state_gets_the_bare_exit_code() -> None:
    api = FakeApi(refuse_preempted=True)
    agent = agent_with(api)
    agent._ended("r1", -TERM, preempted_because="outside")
    agent._heartbeat()
    assert api.finished == []
    assert api.heartbeats == [[("r1", -TERM)]]


def test_a_preempted_end_waits_for_the_server_to_come_back() -> None:
    api = FakeApi(unavailable=True)
    agent = agent_with(api)
    agent._ended("r1", -TERM, preempted_because="outside")
    agent._heartbeat()
    api.unavailable = False
    agent._heartbeat()
    assert api.finished == [("r1", -TERM, "preempted")]
    assert api.heartbeats == [[]]


def test_sigterm_to_the_agent_passes_it_on_and_sets_exit_code_143() -> None:
    agent = agent_with(FakeApi())
    sent: list[int] = []

    class Child:
        term_sent_at = None
        killed = False

        def signal(self, signum: int) -> None:
            sent.append(signum)

    fake_child: Any = Child()
    agent.children["r1"] = fake_child
    agent._on_signal(int(signal.SIGTERM), None)
    assert (sent, agent.exit_code, agent._accepting) == ([TERM], 143, False)
    agent._on_signal(int(signal.SIGTERM), None)  # again: the scheduler is out of patience
    assert sent == [TERM, int(signal.SIGKILL)]


def test_sigint_keeps_the_tiered_ctrl_c() -> None:
    agent = agent_with(FakeApi())
    sent: list[int] = []

    class Child:
        term_sent_at = None
        killed = False

        def signal(self, signum: int) -> None:
            sent.append(signum)

    fake_child: Any = Child()
    agent.children["r1"] = fake_child
    agent._on_signal(int(signal.SIGINT), None)
    assert sent == []  # the first waits for the runs
    agent._on_signal(int(signal.SIGINT), None)
    assert sent == [TERM]
    assert agent.exit_code == 0


class FlakyApi(FakeApi):
    """Unreachable for the first ``failures`` calls of ``finish_run``."""

    def __init__(self, failures: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.calls = 0

    def finish_run(self, run_id: str, *, exit_code: int | None, state: str | None) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ServerUnavailable("server restarting")
        super().finish_run(run_id, exit_code=exit_code, state=state)


def test_the_last_report_retries_with_backoff_while_the_server_is_away() -> None:
    api = FlakyApi(failures=2)
    agent_with(api)._report_finish("r1", -TERM, state="preempted")
    assert api.calls == 3
    assert api.finished == [("r1", -TERM, "preempted")]


def test_the_last_report_falls_back_to_the_bare_code_when_the_state_is_refused() -> None:
    api = FakeApi(refuse_preempted=True)
    agent_with(api)._report_finish("r1", 143, state="preempted")
    assert api.finished == [("r1", 143, None)]


class Exited:
    """A child whose program has exited with ``code``, signalled by the agent or not."""

    def __init__(self, code: int, term_sent_at: float | None = None) -> None:
        self.code = code
        self.term_sent_at = term_sent_at
        self.killed = False

    def exit_code(self) -> int:
        return self.code


def test_an_exit_0_before_any_signal_is_reported_finished_so_a_late_stop_does_not_kill_it() -> None:
    api = FakeApi()
    agent = agent_with(api)
    children: dict[str, Any] = {
        "whole": Exited(0),
        "stopped": Exited(0, term_sent_at=1.0),  # the agent sent SIGTERM for a stop order
        "failed": Exited(1),
    }
    agent.children.update(children)
    agent._reap()
    agent._heartbeat()
    assert api.finished == [("whole", 0, "finished")]
    assert api.heartbeats == [[("stopped", 0), ("failed", 1)]]


def test_an_agent_that_exits_tells_the_server_so_nothing_is_scheduled_for_it() -> None:
    api = FakeApi()
    agent = agent_with(api)
    agent._leave_server()  # not registered: nothing to say
    agent._agent_id = "a1"
    agent._leave_server()
    assert api.left == ["a1"]
