"""The HTTP API's request and response bodies (``/api/v1``), shared by server and client.

The server validates every request body with these models and answers with them; the client
parses every answer with them; neither imports the other. JSON on the wire; datetimes as ISO 8601
UTC. Errors are ``ErrorBody`` with the HTTP status of the error class (``errors.py``).

Endpoints (all under ``API_PREFIX``)::

    GET  /health                          -> Health
    POST /sweeps                 SweepCreate -> SweepCreated     (422 ErrorBody with issues)
    GET  /sweeps?project=P                -> list[SweepOut]
    GET  /sweeps/{sweep}                  -> SweepOut            (sweep: ID or PROJECT/ID)
    POST /sweeps/{sweep}/state   SweepAction -> SweepOut         (409 when the state forbids it)
    GET  /sweeps/{sweep}/runs             -> list[RunOut]
    POST /sweeps/{sweep}/runs    RunImport -> RunOut             (offline sync, prior runs)
    POST /sweeps/{sweep}/agents  AgentRegister -> AgentOut       (409 when the sweep has ended)
    GET  /sweeps/{sweep}/agents           -> list[AgentOut]
    POST /agents/{agent}/heartbeat Heartbeat -> HeartbeatReply
    GET  /runs/{run}                      -> RunOut
    POST /runs/{run}/start       RunStart -> RunOut
    POST /runs/{run}/history     HistoryBatch -> HistoryAck      (carries the stop order)
    GET  /runs/{run}/history?keys=a,b     -> list[HistoryRowOut]
    POST /runs/{run}/summary     SummaryUpdate -> RunOut
    POST /runs/{run}/output      OutputChunk -> Ack
    GET  /runs/{run}/output?tail=N        -> OutputOut
    POST /runs/{run}/finish      RunFinish -> RunOut
    GET  /auth                            -> Principal           (who the request's key is)
    POST /keys                   KeyCreate -> KeyCreated         (admin; the secret, once)
    GET  /keys                            -> list[KeyOut]        (admin)
    DELETE /keys/{key}                    -> KeyOut              (admin; revoked at once)

Every endpoint but ``/health`` needs a key: ``Authorization: Bearer <key>`` (or the dashboard's
session cookie); 401 without a valid one, 403 when its role may not do the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hypersweep.domain import RunState

__all__ = [
    "API_PREFIX",
    "MAX_BATCH_ROWS",
    "Ack",
    "AgentOut",
    "AgentRegister",
    "BestRun",
    "Command",
    "ErrorBody",
    "ExitCommand",
    "Health",
    "Heartbeat",
    "HeartbeatReply",
    "HistoryAck",
    "HistoryBatch",
    "HistoryRowIn",
    "HistoryRowOut",
    "IssueOut",
    "KeyCreate",
    "KeyCreated",
    "KeyOut",
    "OutputChunk",
    "OutputOut",
    "Principal",
    "RunCommand",
    "RunFinish",
    "RunImport",
    "RunOut",
    "RunStart",
    "RunStop",
    "ScheduleRun",
    "StopCommand",
    "SummaryUpdate",
    "SweepAction",
    "SweepCreate",
    "SweepCreated",
    "SweepOut",
]

API_PREFIX = "/api/v1"
#: The most rows one history batch may carry: ten times what the client sends (1,000), and few
#: enough that one batch is one bounded transaction.
MAX_BATCH_ROWS = 10_000

SweepStateName = Literal["pending", "running", "paused", "finished", "canceled"]
AgentStateName = Literal["running", "finished", "lost"]


class _Body(BaseModel):
    """A request body: unknown fields are refused, so a typo names the field instead of
    vanishing."""

    model_config = ConfigDict(extra="forbid")


class _Reply(BaseModel):
    """A response body: unknown fields are ignored, so a client keeps working against a newer
    server that answers with more fields."""

    model_config = ConfigDict(extra="ignore")


# -- errors and health -------------------------------------------------------------------------


class IssueOut(_Reply):
    """One config issue (``errors.ConfigIssue``) as JSON."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"


class ErrorBody(_Reply):
    """Every 4xx and 5xx answer: the error class, a sentence that names the fix, config issues."""

    error: str = Field(description="the hypersweep error class, e.g. NotFoundError")
    message: str
    issues: list[IssueOut] = Field(default_factory=list)


class Health(_Reply):
    status: Literal["ok"] = "ok"
    version: str
    store: str = Field(description="the store's kind: memory, sqlite or postgresql")


class Ack(_Reply):
    ok: bool = True


# -- sweeps ------------------------------------------------------------------------------------


class SweepCreate(_Body):
    config: dict[str, Any] = Field(description="the W&B sweep config, as parsed from its YAML")
    project: str | None = Field(default=None, description="default: the config's project key")
    name: str | None = Field(default=None, description="default: the config's name key")
    strict: bool = Field(default=False, description="refuse the config on warnings too")


class BestRun(_Reply):
    run_id: str
    value: float


class SweepOut(_Reply):
    id: str
    project: str
    name: str | None
    config: dict[str, Any]
    state: SweepStateName
    created_at: datetime
    updated_at: datetime
    run_counts: dict[str, int] = Field(description="runs by state, every state present")
    best: BestRun | None = Field(default=None, description="best summary value of the metric")


class SweepCreated(SweepOut):
    warnings: list[IssueOut] = Field(default_factory=list)


class SweepAction(_Body):
    """A user's state change (spec §8.1)."""

    action: Literal["pause", "resume", "stop", "cancel"]


# -- agents ------------------------------------------------------------------------------------


_SLOT_DESCRIPTION = (
    "which of its host's agents this is, e.g. 'gpu 0' or 'slot 2/4' (hypersweep agent --gpus "
    "or --parallel); none for a lone agent"
)


class AgentRegister(_Body):
    host: str
    pid: int
    slot: str | None = Field(default=None, max_length=64, description=_SLOT_DESCRIPTION)


class AgentOut(_Reply):
    id: str
    sweep_id: str
    host: str
    pid: int
    # no max_length in a reply: a client keeps reading a server that allows longer slots
    slot: str | None = Field(default=None, description=_SLOT_DESCRIPTION)
    state: AgentStateName
    created_at: datetime
    last_heartbeat: datetime


class RunEnded(_Body):
    """A run of this agent whose program exited since the last heartbeat."""

    run_id: str
    exit_code: int = Field(ge=-(2**63), le=2**63 - 1)


class Heartbeat(_Body):
    running: list[str] = Field(
        default_factory=list, description="ids of the runs this agent has alive right now"
    )
    ended: list[RunEnded] = Field(
        default_factory=list,
        description=(
            "runs whose program exited since the last heartbeat, with the exit code: recorded "
            "as POST /runs/{run}/finish would, before the rest of the heartbeat, so the agent "
            "reports an end and asks for the next run in one request"
        ),
    )


class RunCommand(_Reply):
    """Start a run (spec §7.1 ``run``). ``params`` is plain and nested, as the program sees it."""

    type: Literal["run"] = "run"
    run_id: str
    sweep_id: str
    project: str
    params: dict[str, Any]


class StopCommand(_Reply):
    """Stop a run (spec §7.7): SIGTERM, then SIGKILL if it is still alive after the kill delay."""

    type: Literal["stop"] = "stop"
    run_id: str
    reason: str


class ExitCommand(_Reply):
    """The agent has nothing more to do (spec §7.1 ``exit``); ``kill`` on cancel (SIGKILL)."""

    type: Literal["exit"] = "exit"
    reason: str
    kill: bool = False


Command = Annotated[RunCommand | StopCommand | ExitCommand, Field(discriminator="type")]


class HeartbeatReply(_Reply):
    commands: list[Command] = Field(default_factory=list)


# -- runs --------------------------------------------------------------------------------------


class RunOut(_Reply):
    id: str
    sweep_id: str
    name: str
    params: dict[str, Any]
    state: RunState
    created_at: datetime
    agent_id: str | None = None
    host: str | None = None
    exit_code: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    stopped: bool = False
    stop_reason: str | None = None
    retry_of: str | None = Field(
        default=None, description="for a re-run (``retry:``), the id of the run's first attempt"
    )
    attempt: int = Field(default=1, description="1 for a first run, 2 for its first re-run, ...")
    tags: list[str] = Field(default_factory=list, description="init(tags=)")
    notes: str | None = Field(default=None, description="init(notes=)")
    group: str | None = Field(default=None, description="init(group=)")
    job_type: str | None = Field(default=None, description="init(job_type=)")
    history_rows: int = Field(default=0, description="history rows stored")
    importing: bool = Field(
        default=False,
        description="imported in parts (``more_history``) and its end not recorded yet",
    )


class RunStart(_Body):
    """The run's process has started (sent by the agent, or by ``init()`` of a sweep run)."""

    host: str | None = None
    agent_id: str | None = None
    name: str | None = Field(default=None, description="init(name=): the run's display name")
    tags: list[str] | None = Field(default=None, max_length=100, description="init(tags=)")
    notes: str | None = Field(default=None, max_length=65536, description="init(notes=)")
    group: str | None = Field(default=None, description="init(group=)")
    job_type: str | None = Field(default=None, description="init(job_type=)")


class HistoryRowIn(_Body):
    step: int = Field(ge=0)
    metrics: dict[str, Any]


class HistoryBatch(_Body):
    rows: list[HistoryRowIn] = Field(
        max_length=MAX_BATCH_ROWS,
        description=f"at most {MAX_BATCH_ROWS:,} rows; send more as several batches",
    )
    summary: dict[str, Any] | None = Field(
        default=None, description="summary keys to merge after the rows (last values)"
    )
    batch: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description=(
            "the sender's sequence number of this batch (1, 2, ...); a retry repeats it, and a "
            "repeat of a stored batch is acknowledged without storing it again"
        ),
    )


class HistoryAck(_Reply):
    """What the server decided after the batch: the run should stop (early termination)."""

    stop: bool = False
    reason: str | None = None


class HistoryRowOut(_Reply):
    step: int
    metrics: dict[str, Any]


class SummaryUpdate(_Body):
    summary: dict[str, Any]


class OutputChunk(_Body):
    stream: Literal["stdout", "stderr"]
    text: str


class OutputOut(_Reply):
    text: str


class RunFinish(_Body):
    """The run ended. Without ``state`` the server derives it from the exit code and stop flag:
    stopped -> killed; 0 -> finished; > 0 -> failed; < 0 (a signal) -> killed.

    ``preempted``: ended by a SIGTERM from outside its agent (spot reclaim, Slurm or Kubernetes
    preemption); only the agent can tell, so it says so. The sweep runs the parameters again.
    """

    exit_code: int | None = None
    state: Literal["finished", "failed", "crashed", "killed", "preempted"] | None = None


class ScheduleRun(_Body):
    """A local controller's suggestion (spec §10) for one idle agent of its sweep."""

    agent_id: str = Field(description="the agent to run it: of this sweep, running, idle")
    params: dict[str, Any] = Field(description="the run's parameters, plain and nested")
    info: dict[str, Any] = Field(
        default_factory=dict, description="what the search says about it (kept as search_info)"
    )


class RunStop(_Body):
    """Stop a run: its agent's next heartbeat carries the order (spec §5.7, §7.7)."""

    reason: str = Field(min_length=1, description="why, shown with the run (e.g. the rule)")


class RunImport(_Body):
    """A whole run uploaded at once: an offline run (``hypersweep sync``) or a prior run."""

    run_id: str | None = None
    name: str | None = None
    params: dict[str, Any]
    history: list[HistoryRowIn] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)
    exit_code: int | None = None
    state: Literal["finished", "failed", "crashed", "killed"] = "finished"
    prior: bool = Field(
        default=False,
        description=(
            "true: a run from before the sweep, attached to seed its search (spec §11); it "
            "does not count against run_cap, which counts the runs the sweep creates (spec §4.6)"
        ),
    )
    more_history: bool = Field(
        default=False,
        description=(
            "true: the run is too large for one request; it is stored running (and left alone "
            "by early termination) while the rest of its rows come by POST /runs/{run}/history, "
            "and ends with POST /runs/{run}/finish giving `state` and `exit_code`"
        ),
    )


# -- access control ----------------------------------------------------------------------------

KeyRoleName = Literal["admin", "agent", "read"]


class KeyCreate(_Body):
    name: str = Field(min_length=1, max_length=256, description="who or what holds the key")
    role: KeyRoleName = Field(
        default="agent",
        description=(
            "admin: everything; agent: what agents and training scripts do (register, "
            "heartbeat, report runs) and read; read: only read"
        ),
    )


class KeyOut(_Reply):
    id: str
    name: str
    role: KeyRoleName
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="the secret: shown this once, the server keeps only its hash")


class Principal(_Reply):
    """Who a request authenticated as."""

    name: str
    role: KeyRoleName
    via: Literal["key", "session", "none"] = Field(
        description="an API key, the dashboard's session cookie, or none (--no-auth)"
    )
