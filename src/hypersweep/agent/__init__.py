"""The agent: asks the server for runs, runs them, streams what they print, obeys stop orders.

``CommandAgent`` is ``hypersweep agent SWEEP`` (a subprocess per run, spec §7.4); ``agent`` is
``hypersweep.agent(sweep_id, function=f)`` (jobs in this process, spec §7.9).
"""

from hypersweep.agent._function import agent
from hypersweep.agent._loop import AgentOptions, CommandAgent
from hypersweep.agent._rules import FailureRules

__all__ = ["AgentOptions", "CommandAgent", "FailureRules", "agent"]
