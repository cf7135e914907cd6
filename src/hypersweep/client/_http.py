"""The typed HTTP client of the server's ``/api/v1`` API: one method per endpoint.

Used by the agent, the CLI and the training-side ``Run``. Each method sends a ``protocol``
request model and parses the answer into a ``protocol`` model; an error answer is raised as the
matching ``HypersweepError`` subclass with the server's sentence, and an unreachable server as
``ServerUnavailable`` naming the address and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from hypersweep import errors
from hypersweep.client._env import DEFAULT_SERVER, server_url
from hypersweep.credentials import resolve_key
from hypersweep.errors import ConfigIssue, HypersweepError, ServerUnavailable, Severity
from hypersweep.protocol import (
    API_PREFIX,
    AgentOut,
    AgentRegister,
    ErrorBody,
    Health,
    Heartbeat,
    HeartbeatReply,
    HistoryAck,
    HistoryBatch,
    HistoryRowIn,
    HistoryRowOut,
    KeyCreate,
    KeyCreated,
    KeyOut,
    OutputChunk,
    OutputOut,
    Principal,
    RunEnded,
    RunFinish,
    RunImport,
    RunOut,
    RunStart,
    RunStop,
    ScheduleRun,
    SummaryUpdate,
    SweepAction,
    SweepCreate,
    SweepCreated,
    SweepOut,
)

__all__ = ["DEFAULT_SERVER", "ApiClient", "server_url", "split_sweep_path"]

_M = TypeVar("_M", bound=BaseModel)
_RUNS = TypeAdapter(list[RunOut])
_SWEEPS = TypeAdapter(list[SweepOut])
_AGENTS = TypeAdapter(list[AgentOut])
_HISTORY = TypeAdapter(list[HistoryRowOut])
_KEYS = TypeAdapter(list[KeyOut])


def split_sweep_path(path: str) -> tuple[str | None, str]:
    """``SWEEP``, ``PROJECT/SWEEP`` or ``ENTITY/PROJECT/SWEEP`` -> (project or None, sweep id).

    Example:
        >>> split_sweep_path("mnist/ab12cd34")
        ('mnist', 'ab12cd34')
    """
    parts = path.strip().split("/")
    if len(parts) > 3 or not parts[-1]:
        raise errors.NotFoundError(
            f"sweep id {path!r}: expected sweep_id in form of sweep, project/sweep, or "
            "entity/project/sweep"
        )
    project = parts[-2] if len(parts) >= 2 and parts[-2] else None
    return project, parts[-1]


class ApiClient:
    """A connection to one hypersweep server.

    Args:
        url: the server address (default: ``server_url()``).
        api_key: the key to send (default: ``$HYPERSWEEP_API_KEY``, else the one recorded for
            this server in the user's credentials file; see ``hypersweep.credentials``).
        timeout: seconds per request.
        transport: an ``httpx`` transport, e.g. ``httpx.ASGITransport(app)`` or a
            ``MockTransport`` in tests.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = server_url(url)
        key = resolve_key(self.url, api_key)
        headers = {"Authorization": f"Bearer {key}"} if key else None
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX, timeout=timeout, transport=transport, headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- access ----------------------------------------------------------------------------------

    def whoami(self) -> Principal:
        return self._call("GET", "/auth", Principal)

    def create_key(self, name: str, role: str = "agent") -> KeyCreated:
        body = KeyCreate.model_validate({"name": name, "role": role})
        return self._call("POST", "/keys", KeyCreated, body)

    def list_keys(self) -> list[KeyOut]:
        return _KEYS.validate_python(self._json("GET", "/keys"))

    def revoke_key(self, key_id: str) -> KeyOut:
        return self._call("DELETE", f"/keys/{key_id}", KeyOut)

    # -- health and sweeps ---------------------------------------------------------------------

    def health(self) -> Health:
        return self._call("GET", "/health", Health)

    def create_sweep(
        self,
        config: Mapping[str, Any],
        *,
        project: str | None = None,
        name: str | None = None,
        strict: bool = False,
    ) -> SweepCreated:
        body = SweepCreate(config=dict(config), project=project, name=name, strict=strict)
        return self._call("POST", "/sweeps", SweepCreated, body)

    def list_sweeps(self, project: str | None = None) -> list[SweepOut]:
        params = {"project": project} if project else None
        return _SWEEPS.validate_python(self._json("GET", "/sweeps", params=params))

    def get_sweep(self, sweep_id: str) -> SweepOut:
        return self._call("GET", f"/sweeps/{_bare(sweep_id)}", SweepOut)

    def sweep_action(self, sweep_id: str, action: str) -> SweepOut:
        body = SweepAction.model_validate({"action": action})
        return self._call("POST", f"/sweeps/{_bare(sweep_id)}/state", SweepOut, body)

    def list_runs(self, sweep_id: str) -> list[RunOut]:
        return _RUNS.validate_python(self._json("GET", f"/sweeps/{_bare(sweep_id)}/runs"))

    def import_run(self, sweep_id: str, run: RunImport) -> RunOut:
        return self._call("POST", f"/sweeps/{_bare(sweep_id)}/runs", RunOut, run)

    def schedule_run(
        self,
        sweep_id: str,
        agent_id: str,
        params: Mapping[str, Any],
        info: Mapping[str, Any] | None = None,
    ) -> RunOut:
        """A local controller's suggestion (spec §10): a new pending run for ``agent_id``, an
        idle running agent of the sweep, which gets it at its next heartbeat.

        Raises:
            NotFoundError: no such sweep or agent.
            ConflictError: the sweep is not locally controlled or hands out no runs, or the
                agent is not an idle running agent of it; the server's sentence says which.
        """
        body = ScheduleRun(agent_id=agent_id, params=dict(params), info=dict(info or {}))
        return self._call("POST", f"/sweeps/{_bare(sweep_id)}/schedule", RunOut, body)

    # -- agents --------------------------------------------------------------------------------

    def register_agent(
        self, sweep_id: str, host: str, pid: int, *, slot: str | None = None
    ) -> AgentOut:
        """Register an agent; ``slot`` names which of its host's agents it is (``gpu 0``)."""
        body = AgentRegister(host=host, pid=pid, slot=slot)
        return self._call("POST", f"/sweeps/{_bare(sweep_id)}/agents", AgentOut, body)

    def list_agents(self, sweep_id: str) -> list[AgentOut]:
        return _AGENTS.validate_python(self._json("GET", f"/sweeps/{_bare(sweep_id)}/agents"))

    def leave_agent(self, agent_id: str) -> AgentOut:
        """Say the agent exits: the server marks it finished and hands it nothing more."""
        return self._call("POST", f"/agents/{agent_id}/leave", AgentOut)

    def heartbeat(
        self,
        agent_id: str,
        running: Sequence[str],
        ended: Sequence[tuple[str, int]] = (),
    ) -> HeartbeatReply:
        """Report the alive runs (and runs that ended, with exit codes); get commands."""
        body = Heartbeat(
            running=list(running),
            ended=[RunEnded(run_id=run_id, exit_code=code) for run_id, code in ended],
        )
        return self._call("POST", f"/agents/{agent_id}/heartbeat", HeartbeatReply, body)

    # -- runs ----------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunOut:
        return self._call("GET", f"/runs/{run_id}", RunOut)

    def start_run(
        self,
        run_id: str,
        *,
        host: str | None = None,
        agent_id: str | None = None,
        described: Mapping[str, Any] | None = None,
    ) -> RunOut:
        """``described``: what ``init()`` says about the run (name, tags, notes, group,
        job_type); keys left out or None are not changed."""
        fields = {k: v for k, v in (described or {}).items() if v is not None}
        body = RunStart.model_validate({"host": host, "agent_id": agent_id, **fields})
        return self._call("POST", f"/runs/{run_id}/start", RunOut, body)

    def log_history(
        self,
        run_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        summary: Mapping[str, Any] | None = None,
        *,
        batch: int | None = None,
    ) -> HistoryAck:
        """Log rows; ``batch`` (the sender's sequence number) makes a retry store them once."""
        body = HistoryBatch(
            rows=[HistoryRowIn(step=step, metrics=dict(metrics)) for step, metrics in rows],
            summary=dict(summary) if summary is not None else None,
            batch=batch,
        )
        return self._call("POST", f"/runs/{run_id}/history", HistoryAck, body)

    def history(
        self, run_id: str, keys: Sequence[str] | None = None, samples: int | None = None
    ) -> list[HistoryRowOut]:
        """The run's rows by step; ``samples``: at most that many, evenly spaced by step."""
        params = {"keys": ",".join(keys)} if keys else {}
        if samples is not None:
            params["samples"] = str(samples)
        return _HISTORY.validate_python(
            self._json("GET", f"/runs/{run_id}/history", params=params or None)
        )

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> RunOut:
        body = SummaryUpdate(summary=dict(summary))
        return self._call("POST", f"/runs/{run_id}/summary", RunOut, body)

    def append_output(self, run_id: str, stream: str, text: str) -> None:
        body = OutputChunk.model_validate({"stream": stream, "text": text})
        self._json("POST", f"/runs/{run_id}/output", body=body)

    def output(self, run_id: str, tail: int | None = None) -> str:
        params = {"tail": str(tail)} if tail is not None else None
        answer = self._call("GET", f"/runs/{run_id}/output", OutputOut, params=params)
        return answer.text

    def stop_run(self, run_id: str, reason: str) -> RunOut:
        """Flag a pending or running run stopped with ``reason``; its agent's next heartbeat
        carries the order (spec §7.7).

        Raises:
            ConflictError: the run has ended.
        """
        body = RunStop(reason=reason)
        return self._call("POST", f"/runs/{run_id}/stop", RunOut, body)

    def finish_run(
        self, run_id: str, *, exit_code: int | None = None, state: str | None = None
    ) -> RunOut:
        body = RunFinish.model_validate({"exit_code": exit_code, "state": state})
        return self._call("POST", f"/runs/{run_id}/finish", RunOut, body)

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        model: type[_M],
        body: BaseModel | None = None,
        params: Mapping[str, str] | None = None,
    ) -> _M:
        return model.model_validate(self._json(method, path, body=body, params=params))

    def _json(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        content = body.model_dump_json() if body is not None else None
        headers = {"content-type": "application/json"} if content is not None else None
        try:
            response = self._http.request(
                method, path, content=content, params=params, headers=headers
            )
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"could not reach the hypersweep server at {self.url} ({exc.__class__.__name__}: "
                f"{exc}); start one with `hypersweep server` or point --server / "
                "HYPERSWEEP_SERVER at it"
            ) from None
        if response.is_success:
            return response.json()
        raise _error_from(response, self.url)


def _bare(sweep_path: str) -> str:
    return split_sweep_path(sweep_path)[1]


def _error_from(response: httpx.Response, url: str) -> HypersweepError:
    try:
        body = ErrorBody.model_validate(response.json())
    except (ValueError, ValidationError):
        return HypersweepError(
            f"the server at {url} answered {response.status_code} to "
            f"{response.request.method} {response.request.url.path}: {response.text[:200]!r}; "
            "is this a hypersweep server?"
        )
    if body.issues:
        issues = [ConfigIssue(i.path, i.message, Severity(i.severity)) for i in body.issues]
        return errors.ConfigError(issues)
    cls = getattr(errors, body.error, None)
    if (
        not (isinstance(cls, type) and issubclass(cls, HypersweepError))
        or cls is errors.ConfigError
    ):
        cls = HypersweepError
    return cls(body.message)
