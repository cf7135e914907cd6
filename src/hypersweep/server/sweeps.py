"""The sweep endpoints: create, list, read, change state, and the sweep's runs and agents.

Every ``{sweep}`` route also answers as ``{project}/{sweep}`` (W&B's ``PROJECT/ID`` paths); the
bare routes are registered first, so ``/sweeps/ID/runs`` never reads as project ``ID``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

# by name, not `from hypersweep import controller`: that attribute is W&B's controller()
from hypersweep.config import limit_issues
from hypersweep.controller import create_sweep as create_sweep_record
from hypersweep.controller import sweep_action
from hypersweep.errors import ConfigError
from hypersweep.protocol import (
    AgentOut,
    AgentRegister,
    RunImport,
    RunOut,
    ScheduleRun,
    SweepAction,
    SweepCreate,
    SweepCreated,
    SweepOut,
)
from hypersweep.server._context import Ctx, resolve_sweep
from hypersweep.server._convert import (
    ID_LENGTH,
    NAME_LENGTH,
    PROJECT_LENGTH,
    RequestCheck,
    agent_out,
    finite_json,
    issue_out,
    run_out,
    sweep_out,
)
from hypersweep.server._limits import check_nesting
from hypersweep.server._run_table import check_sort, check_states, filter_runs, sort_runs

router = APIRouter(tags=["sweeps"])


@router.post("/sweeps", status_code=201)
def create_sweep(body: SweepCreate, ctx: Ctx) -> SweepCreated:
    """Validate and store a sweep config; 422 with every issue when it has errors."""
    too_big = limit_issues(body.config)  # before finite_json below, which recurses
    if too_big:
        raise ConfigError(too_big)
    check = RequestCheck()
    check.text(("project",), body.project, PROJECT_LENGTH, in_url=True)
    check.text(("name",), body.name, NAME_LENGTH)
    # the config's keys are the fallbacks (spec §2.4); a non-string one is ignored there
    if not body.project:
        check.text(
            ("config", "project"), _str(body.config.get("project")), PROJECT_LENGTH, in_url=True
        )
    if not body.name:
        check.text(("config", "name"), _str(body.config.get("name")), NAME_LENGTH)
    check.done()
    sweep, warnings = create_sweep_record(
        ctx.store,
        finite_json(body.config),
        ctx.now(),
        project=body.project,
        name=body.name,
        strict=body.strict,
    )
    out = sweep_out(ctx.store, sweep)
    return SweepCreated(**out.model_dump(), warnings=[issue_out(w) for w in warnings])


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@router.get("/sweeps")
def list_sweeps(ctx: Ctx, project: str | None = None) -> list[SweepOut]:
    return [sweep_out(ctx.store, sweep) for sweep in ctx.store.list_sweeps(project)]


def get_sweep(ctx: Ctx, sweep: str, project: str | None = None) -> SweepOut:
    return sweep_out(ctx.store, resolve_sweep(ctx, sweep, project))


def set_state(body: SweepAction, ctx: Ctx, sweep: str, project: str | None = None) -> SweepOut:
    """pause / resume / stop / cancel (spec §8.1); 409 when the sweep's state forbids it."""
    record = resolve_sweep(ctx, sweep, project)
    changed = sweep_action(ctx.store, record.id, body.action, ctx.now())
    return sweep_out(ctx.store, changed)


def list_runs(
    ctx: Ctx,
    response: Response,
    sweep: str,
    project: str | None = None,
    offset: Annotated[int | None, Query(ge=0, description="runs to skip (with limit)")] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="page size; the total is in X-Total-Count")
    ] = None,
    sort: Annotated[
        str | None,
        Query(description="created_at, state, name, ..., params.NAME or summary.KEY"),
    ] = None,
    order: Literal["asc", "desc"] = "asc",
    state: Annotated[list[str] | None, Query(description="keep these states: a,b")] = None,
    text: Annotated[
        str | None,
        Query(alias="filter", description="text in the id, name, a parameter or summary value"),
    ] = None,
) -> list[RunOut]:
    """The sweep's runs in creation order; sorted, filtered and paged when asked. With
    ``offset`` or ``limit`` the number of matching runs is in the ``X-Total-Count`` header (the
    body stays a list, as without them)."""
    if sort is not None:
        check_sort(sort)
    states = check_states(state or [])
    record = resolve_sweep(ctx, sweep, project)
    runs = filter_runs(ctx.store.list_runs(record.id, shared=True), states, text)
    if sort is not None:
        runs = sort_runs(runs, sort, order)
    elif order == "desc":
        runs.reverse()
    if offset is None and limit is None:
        return [run_out(run) for run in runs]
    response.headers["X-Total-Count"] = str(len(runs))
    start = offset or 0
    page = runs[start : start + limit] if limit is not None else runs[start:]
    return [run_out(run) for run in page]


def import_run(body: RunImport, ctx: Ctx, sweep: str, project: str | None = None) -> RunOut:
    """Add a whole ended run (offline sync, prior runs); 409 when its run_id is taken."""
    check_nesting(("params",), body.params)  # before finite_json, which recurses
    check_nesting(("summary",), body.summary)
    for index, row in enumerate(body.history):
        check_nesting(("history", index, "metrics"), row.metrics)
    check = RequestCheck()
    check.text(("run_id",), body.run_id, ID_LENGTH, in_url=True)
    check.text(("name",), body.name, NAME_LENGTH)
    check.integer(("exit_code",), body.exit_code)
    for index, row in enumerate(body.history):
        check.integer(("history", index, "step"), row.step)
        for key in row.metrics:
            check.text(("history", index, "metrics"), key, NAME_LENGTH)
    for key in body.summary:
        check.text(("summary",), key, NAME_LENGTH)
    check.done()
    record = resolve_sweep(ctx, sweep, project)
    run = ctx.controller.import_run(
        record.id,
        ctx.now(),
        params=finite_json(body.params),
        run_id=body.run_id,
        name=body.name,
        history=[(row.step, finite_json(row.metrics)) for row in body.history],
        summary=finite_json(body.summary),
        exit_code=body.exit_code,
        state=body.state,
        more_history=body.more_history,
        prior=body.prior,
    )
    return run_out(run)


def register_agent(
    body: AgentRegister, ctx: Ctx, sweep: str, project: str | None = None
) -> AgentOut:
    """Register an agent; 409 when the sweep is finished or canceled."""
    check = RequestCheck()
    check.text(("host",), body.host, NAME_LENGTH)
    check.text(("slot",), body.slot, ID_LENGTH)
    check.integer(("pid",), body.pid)
    check.done()
    record = resolve_sweep(ctx, sweep, project)
    agent = ctx.controller.register_agent(record.id, body.host, body.pid, ctx.now(), slot=body.slot)
    return agent_out(agent)


def schedule_run(body: ScheduleRun, ctx: Ctx, sweep: str, project: str | None = None) -> RunOut:
    """A local controller's run for one idle agent (spec §10); 409 when the sweep is searched
    by the server, hands out no runs, or the agent cannot take it."""
    check_nesting(("params",), body.params)  # before finite_json, which recurses
    check_nesting(("info",), body.info)
    check = RequestCheck()
    check.text(("agent_id",), body.agent_id, ID_LENGTH, in_url=True)
    check.done()
    record = resolve_sweep(ctx, sweep, project)
    run = ctx.controller.schedule_run(
        record.id,
        body.agent_id,
        finite_json(body.params),
        ctx.now(),
        info=finite_json(body.info),
    )
    return run_out(run)


def list_agents(ctx: Ctx, sweep: str, project: str | None = None) -> list[AgentOut]:
    record = resolve_sweep(ctx, sweep, project)
    return [agent_out(agent) for agent in ctx.store.list_agents(record.id)]


_ROUTES: list[tuple[str, str, Callable[..., Any], int]] = [
    ("GET", "", get_sweep, 200),
    ("POST", "/state", set_state, 200),
    ("GET", "/runs", list_runs, 200),
    ("POST", "/runs", import_run, 201),
    ("POST", "/agents", register_agent, 201),
    ("GET", "/agents", list_agents, 200),
    ("POST", "/schedule", schedule_run, 201),
]
# Not add_sweep_route: every /sweeps/{sweep}/... must come before /sweeps/{project}/{sweep},
# which would take their paths.
for _prefix, _in_schema in (("/sweeps/{sweep}", True), ("/sweeps/{project}/{sweep}", False)):
    for _method, _suffix, _handler, _status in _ROUTES:
        router.add_api_route(
            _prefix + _suffix,
            _handler,
            methods=[_method],
            status_code=_status,
            include_in_schema=_in_schema,
        )
