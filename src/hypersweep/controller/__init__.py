"""The controller: applies the pure engine to stored state (no HTTP here).

The server hosts one ``Controller`` per store; the CLI's local-controller mode can host one too.
Heartbeats hand out runs and stop orders (spec §7.1), history batches trigger early termination
(spec §5.7), and the user's sweep actions follow spec §8.1.
"""

from hypersweep.controller._commands import AssignRun, Command, Exit, StopRun
from hypersweep.controller._controller import (
    AGENT_TIMEOUT,
    Beat,
    Controller,
    final_state,
    is_importing,
)
from hypersweep.controller._retry import attempt_of, root_of
from hypersweep.controller._summary import (
    BestRun,
    SweepSummary,
    counted_for_cap,
    counts_against_cap,
    finite,
    metric_of,
    sweep_summary,
)
from hypersweep.controller._sweeps import (
    DEFAULT_PROJECT,
    create_sweep,
    register_agent,
    sweep_action,
)

__all__ = [
    "AGENT_TIMEOUT",
    "DEFAULT_PROJECT",
    "AssignRun",
    "Beat",
    "BestRun",
    "Command",
    "Controller",
    "Exit",
    "StopRun",
    "SweepSummary",
    "attempt_of",
    "counted_for_cap",
    "counts_against_cap",
    "create_sweep",
    "final_state",
    "finite",
    "is_importing",
    "metric_of",
    "register_agent",
    "root_of",
    "sweep_action",
    "sweep_summary",
]
