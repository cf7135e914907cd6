"""``hypersweep.Api()``: read sweeps and runs for analysis, shaped like ``wandb.Api()``.

::

    api = hypersweep.Api()
    sweep = api.sweep("mnist/ab12cd34")
    best = sweep.best_run()
    print(best.config, best.summary["val_loss"])
    df = best.history(keys=["val_loss"])          # a pandas DataFrame when pandas is installed
    runs = api.runs("mnist", filters={"state": "finished", "config.lr": {"$gt": 0.01}})

A run's ``config`` is what the sweep chose for it (its parameters); the defaults a script passed
to ``init(config=...)`` stay with the script.

``filters`` take this subset of W&B's MongoDB-style filters (anything else is an error naming
it):

- fields: ``state``, ``sweep``, ``name`` (also ``display_name``), ``id``, ``created_at`` (ISO
  text), ``config.KEY`` (nested keys dotted, an ending ``.value`` ignored as W&B writes them),
  ``summary_metrics.KEY`` (also ``summary.KEY``);
- a plain value tests equality; operators ``$eq $ne $gt $gte $lt $lte $in $nin $exists
  $regex``; combinators ``$and``, ``$or`` and ``$nor`` over lists of filters.

``order`` is a field with ``+`` (ascending, the default) or ``-`` (descending) in front, e.g.
``-summary_metrics.acc``; runs without the field come last.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from hypersweep.client._http import ApiClient, split_sweep_path
from hypersweep.errors import HypersweepError, NotFoundError
from hypersweep.protocol import RunOut, SweepOut

__all__ = ["FILTER_FIELDS", "FILTER_OPERATORS", "Api", "ApiRun", "ApiSweep", "matches"]

FILTER_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex")
FILTER_FIELDS = (
    "state",
    "sweep",
    "name",
    "display_name",
    "id",
    "created_at",
    "config.KEY",
    "summary_metrics.KEY",
)
_FIELD_HEADS = frozenset(
    ("state", "sweep", "name", "display_name", "id", "created_at", "config", "summary_metrics")
)
_COMBINATORS = ("$and", "$or", "$nor")
DEFAULT_SAMPLES = 500  # W&B's default for history()
_MISSING = object()


class Api:
    """A read-only view of one hypersweep server, like ``wandb.Api()``.

    Args:
        server: the server address (default ``$HYPERSWEEP_SERVER``, else the local default).
        api_key: the server's API key (default ``$HYPERSWEEP_API_KEY``, else the key recorded
            by ``hypersweep login`` or by a server started on this machine).
        overrides: W&B's overrides; ``project`` is the default project of ``runs()`` and of
            paths without one, ``base_url`` the server when ``server`` is not given.
        timeout: seconds per request (default 30).
    """

    def __init__(
        self,
        server: str | None = None,
        api_key: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        *,
        client: ApiClient | None = None,
    ) -> None:
        self._overrides = dict(overrides or {})
        url = server or self._overrides.get("base_url") or None
        self._owns_client = client is None
        self._client = client or ApiClient(url, api_key=api_key, timeout=timeout or 30.0)
        self._sweeps: dict[str, SweepOut] = {}

    @property
    def server(self) -> str:
        return self._client.url

    @property
    def default_project(self) -> str | None:
        project = self._overrides.get("project")
        return str(project) if project else None

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __del__(self) -> None:
        # W&B scripts never close their Api; free its connections when it goes away
        client = self.__dict__.get("_client")
        if client is not None and self.__dict__.get("_owns_client"):
            client.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<hypersweep.Api {self.server}>"

    # -- sweeps --------------------------------------------------------------------------------

    def sweep(self, path: str) -> ApiSweep:
        """The sweep ``ID``, ``PROJECT/ID`` or ``ENTITY/PROJECT/ID`` (the entity is ignored).

        Raises:
            NotFoundError: this server has no such sweep (a W&B cloud id, say), or it is in
                another project; the message says how to create it here.
        """
        project, sweep_id = split_sweep_path(path)
        project = project or self.default_project
        try:
            out = self._client.get_sweep(sweep_id)
        except NotFoundError:
            raise NotFoundError(
                f"the hypersweep server at {self.server} has no sweep {sweep_id!r} (from "
                f"{path!r}); sweeps made on W&B's cloud are not on this server. Create the sweep "
                "here with `hypersweep sweep sweep.yaml` (or hypersweep.sweep(config)) and use "
                "the id it prints; set HYPERSWEEP_SERVER (or Api(server=...)) if it lives on "
                "another server"
            ) from None
        if project is not None and project != out.project:
            raise NotFoundError(
                f"sweep {sweep_id!r} is in project {out.project!r}, not {project!r}; use "
                f"api.sweep('{out.project}/{sweep_id}') or api.sweep('{sweep_id}')"
            )
        self._sweeps[out.id] = out
        return ApiSweep(self, out)

    def sweeps(self, project: str | None = None) -> list[ApiSweep]:
        """The sweeps of ``project`` (default: every sweep on the server), oldest first."""
        outs = self._client.list_sweeps(project or self.default_project)
        for out in outs:
            self._sweeps[out.id] = out
        return [ApiSweep(self, out) for out in sorted(outs, key=lambda s: s.created_at)]

    # -- runs ----------------------------------------------------------------------------------

    def run(self, path: str) -> ApiRun:
        """The run ``ID``, ``PROJECT/ID`` or ``ENTITY/PROJECT/ID``.

        Raises:
            NotFoundError: no such run here, or it is in another project.
        """
        parts = path.strip().split("/")
        if len(parts) > 3 or not parts[-1]:
            raise NotFoundError(
                f"run path {path!r}: expected run_id, project/run_id or entity/project/run_id"
            )
        run_id = parts[-1]
        project = parts[-2] if len(parts) >= 2 and parts[-2] else self.default_project
        try:
            out = self._client.get_run(run_id)
        except NotFoundError:
            raise NotFoundError(
                f"the hypersweep server at {self.server} has no run {run_id!r} (from {path!r}); "
                "runs logged to W&B's cloud are not on this server. List this server's runs "
                "with `hypersweep runs SWEEP_ID` or api.runs(PROJECT)"
            ) from None
        run = ApiRun(self, out)
        if project is not None and run.project != project:
            raise NotFoundError(
                f"run {run_id!r} is in project {run.project!r}, not {project!r}; use "
                f"api.run('{run.project}/{run_id}') or api.run('{run_id}')"
            )
        return run

    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str = "+created_at",
        per_page: int | None = None,
        include_sweeps: bool = True,
    ) -> list[ApiRun]:
        """The runs of project ``path`` (``PROJECT`` or ``ENTITY/PROJECT``; default: the
        overrides' project, else every project), filtered and ordered as the module docstring
        describes.

        Raises:
            HypersweepError: a filter with an unsupported operator or field, or a bad ``order``.
        """
        project = (path.strip().split("/")[-1] or None) if path else self.default_project
        conditions = dict(filters or {})
        check_filters(conditions)
        sort_key, descending = _order(order)
        sweep_ids: list[str]
        wanted_sweep = conditions.get("sweep")
        if isinstance(wanted_sweep, str):  # one sweep asked for: read only its runs
            sweep_ids = [split_sweep_path(wanted_sweep)[1]]
            conditions["sweep"] = sweep_ids[0]
        else:
            sweep_ids = [sweep.id for sweep in self._client.list_sweeps(project)]
        runs: list[ApiRun] = []
        for sweep_id in sweep_ids:
            try:
                outs = self._client.list_runs(sweep_id)
            except NotFoundError:
                continue  # the filter named a sweep this server does not have: no runs
            runs.extend(ApiRun(self, out) for out in outs)
        if project is not None:
            runs = [run for run in runs if run.project == project]
        runs = [run for run in runs if matches(run._document(), conditions)]
        return _sorted(runs, sort_key, descending)

    def _sweep_out(self, sweep_id: str) -> SweepOut:
        out = self._sweeps.get(sweep_id)
        if out is None:
            out = self._sweeps[sweep_id] = self._client.get_sweep(sweep_id)
        return out


class ApiSweep:
    """A sweep as ``Api.sweep()`` returns it: ``id``, ``name``, ``config``, ``state``,
    ``project``, ``runs`` and ``best_run()``."""

    def __init__(self, api: Api, out: SweepOut) -> None:
        self._api = api
        self._out = out
        self._runs: list[ApiRun] | None = None

    @property
    def id(self) -> str:
        return self._out.id

    @property
    def name(self) -> str:
        return self._out.name or self._out.id

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._out.config)

    @property
    def state(self) -> str:
        """``RUNNING``, ``PAUSED``, ``FINISHED``, ... as W&B writes sweep states."""
        return self._out.state.upper()

    @property
    def project(self) -> str:
        return self._out.project

    @property
    def entity(self) -> None:
        return None

    @property
    def created_at(self) -> str:
        return self._out.created_at.isoformat()

    @property
    def url(self) -> str:
        return f"{self._api.server}/sweeps/{self.id}"

    @property
    def path(self) -> list[str]:
        return [self.project, self.id]

    @property
    def runs(self) -> list[ApiRun]:
        """The sweep's runs, oldest first (read once; ``load(force=True)`` reads again)."""
        if self._runs is None:
            outs = self._api._client.list_runs(self.id)
            self._runs = _sorted([ApiRun(self._api, out) for out in outs], "created_at", False)
        return list(self._runs)

    def load(self, force: bool = False) -> ApiSweep:
        """Read the sweep (and, when asked again, its runs) from the server again."""
        if force or self._runs is not None:
            self._out = self._api._client.get_sweep(self.id)
            self._runs = None
        return self

    def best_run(self, order: str | None = None) -> ApiRun | None:
        """The run with the best value, or None when no run has one.

        Args:
            order: a field with ``+``/``-`` in front (see the module docstring); default: the
                sweep's metric, lowest first for ``goal: minimize``, highest for ``maximize``.

        Raises:
            HypersweepError: no ``order`` and the sweep config has no metric.
        """
        if order is None:
            metric = self._out.config.get("metric")
            name = metric.get("name") if isinstance(metric, Mapping) else None
            if not name:
                raise HypersweepError(
                    f"sweep {self.id} has no metric in its config, so there is no best run; "
                    "pass the ranking, e.g. best_run(order='-summary_metrics.acc')"
                )
            goal = metric.get("goal", "minimize") if isinstance(metric, Mapping) else "minimize"
            order = f"{'-' if goal == 'maximize' else '+'}summary_metrics.{name}"
        key, descending = _order(order)
        ranked = [run for run in self.runs if _number(run._lookup(key)) is not None]
        if not ranked:
            return None
        return _sorted(ranked, key, descending)[0]

    def __repr__(self) -> str:
        return f"<hypersweep Sweep {self.project}/{self.id} ({self.state})>"


class ApiRun:
    """A finished or live run as the API reads it: ``id``, ``name``, ``state``, ``config``,
    ``summary``, ``sweep_id``, ``created_at``, ``history()`` and ``scan_history()``."""

    def __init__(self, api: Api, out: RunOut) -> None:
        self._api = api
        self._out = out

    @property
    def id(self) -> str:
        return self._out.id

    @property
    def name(self) -> str:
        return self._out.name or self._out.id

    display_name = name

    @property
    def state(self) -> str:
        return str(self._out.state.value)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._out.params)

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self._out.summary)

    summary_metrics = summary

    @property
    def sweep_id(self) -> str:
        return self._out.sweep_id

    @property
    def sweep(self) -> ApiSweep:
        return ApiSweep(self._api, self._api._sweep_out(self.sweep_id))

    @property
    def project(self) -> str:
        return self._api._sweep_out(self.sweep_id).project

    @property
    def entity(self) -> None:
        return None

    @property
    def path(self) -> list[str]:
        return [self.project, self.id]

    @property
    def url(self) -> str:
        """The run's page on the server's dashboard."""
        return f"{self._api.server}/runs/{self.id}"

    @property
    def tags(self) -> list[str]:
        """What the run got as ``init(tags=...)``."""
        return list(self._out.tags)

    @property
    def created_at(self) -> str:
        """ISO 8601 text, as W&B's ``Run.created_at``."""
        return self._out.created_at.isoformat()

    @property
    def started_at(self) -> str | None:
        return self._out.started_at.isoformat() if self._out.started_at else None

    @property
    def ended_at(self) -> str | None:
        return self._out.ended_at.isoformat() if self._out.ended_at else None

    @property
    def exit_code(self) -> int | None:
        return self._out.exit_code

    @property
    def stop_reason(self) -> str | None:
        return self._out.stop_reason

    def load(self, force: bool = False) -> ApiRun:
        """Read the run from the server again (its state and summary change while it runs)."""
        self._out = self._api._client.get_run(self.id)
        return self

    def scan_history(
        self, keys: Sequence[str] | None = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every logged row, by step, as ``{"_step": step, **metrics}``.

        With ``keys``, rows hold only those keys and rows missing any of them are left out
        (as in W&B).
        """
        wanted = list(keys) if keys else None
        for row in self._api._client.history(self.id, keys=wanted):
            if wanted is not None and not all(key in row.metrics for key in wanted):
                continue
            yield {"_step": row.step, **row.metrics}

    def history(
        self,
        samples: int | None = DEFAULT_SAMPLES,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> Any:
        """The logged rows, at most ``samples`` of them spread evenly over the run (first and
        last included); ``samples=None`` keeps all.

        Returns:
            A pandas DataFrame when ``pandas`` is true and pandas is installed, else a list of
            dicts (``{"_step": step, **metrics}``).
        """
        rows = list(self.scan_history(keys=keys))
        if samples is not None and 0 < samples < len(rows):
            rows = _spread(rows, samples)
        if pandas:
            try:
                pd = importlib.import_module("pandas")
            except ImportError:
                return rows
            return pd.DataFrame.from_records(rows)
        return rows

    def _lookup(self, field: str) -> Any:
        return _resolve(self._document(), field)

    def _document(self) -> dict[str, Any]:
        """The run as filters and ``order`` see it."""
        return {
            "id": self.id,
            "name": self.name,
            "display_name": self.name,
            "state": self.state,
            "sweep": self.sweep_id,
            "created_at": self.created_at,
            "config": self.config,
            "summary_metrics": self.summary,
        }

    def __repr__(self) -> str:
        return f"<hypersweep Run {self.id} ({self.state})>"


# -- filters and order -------------------------------------------------------------------------


def check_filters(filters: Mapping[str, Any], where: str = "filters") -> None:
    """Refuse what ``matches`` does not support, naming it.

    Raises:
        HypersweepError: an unknown operator or field.
    """
    if not isinstance(filters, Mapping):
        raise HypersweepError(f"{where}: expected a dict like {{'state': 'finished'}}")
    for key, value in filters.items():
        if key in _COMBINATORS:
            if not isinstance(value, list):
                raise HypersweepError(f"{where}.{key}: expected a list of filters")
            for index, part in enumerate(value):
                check_filters(part, f"{where}.{key}[{index}]")
            continue
        if key.startswith("$"):
            raise _unsupported(f"{where}: operator {key!r}")
        _check_field(key, where)
        if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
            for op in value:
                if op not in FILTER_OPERATORS:
                    raise _unsupported(f"{where}.{key}: operator {op!r}")


def _unsupported(what: str) -> HypersweepError:
    return HypersweepError(
        f"{what} is not supported by hypersweep's Api; use {', '.join(FILTER_OPERATORS)} on a "
        f"field, or {', '.join(_COMBINATORS)} over a list of filters"
    )


def _check_field(field: str, where: str) -> None:
    if _field_path(field)[0] not in _FIELD_HEADS:
        raise HypersweepError(
            f"{where}: field {field!r} is not supported by hypersweep's Api; use one of "
            f"{', '.join(FILTER_FIELDS)}"
        )


def _field_path(field: str) -> list[str]:
    parts = field.split(".")
    if parts[0] == "summary":
        parts[0] = "summary_metrics"
    if parts[0] == "config" and len(parts) > 2 and parts[-1] == "value":
        parts = parts[:-1]  # W&B stores config values under .value; we store them bare
    return parts


def _resolve(document: Mapping[str, Any], field: str) -> Any:
    value: Any = document
    parts = _field_path(field)
    index = 0
    while index < len(parts):
        if not isinstance(value, Mapping):
            return _MISSING
        # a key may itself hold dots (a flat config): try the longest match first
        for end in range(len(parts), index, -1):
            key = ".".join(parts[index:end])
            if key in value:
                value, index = value[key], end
                break
        else:
            return _MISSING
    return value


def matches(document: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether ``document`` (a run as ``ApiRun._document`` builds it) passes ``filters``.

    Example:
        >>> run = {"state": "finished", "config": {"lr": 0.1}}
        >>> matches(run, {"state": "finished", "config.lr": {"$gt": 0.01}})
        True
    """
    for key, condition in filters.items():
        if key == "$and":
            ok = all(matches(document, part) for part in condition)
        elif key == "$or":
            ok = any(matches(document, part) for part in condition)
        elif key == "$nor":
            ok = not any(matches(document, part) for part in condition)
        else:
            ok = _test(_resolve(document, key), condition)
        if not ok:
            return False
    return True


def _test(value: Any, condition: Any) -> bool:
    if not (isinstance(condition, Mapping) and any(str(k).startswith("$") for k in condition)):
        return value is not _MISSING and value == condition
    return all(_OPS[op](value, argument) for op, argument in condition.items())


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(value: Any, argument: Any) -> bool:
        if value is _MISSING or value is None:
            return False
        try:
            return bool(test(value, argument))
        except TypeError:  # "abc" > 1: a value of another type never matches
            return False

    return compare


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda v, a: v is not _MISSING and v == a,
    "$ne": lambda v, a: v is _MISSING or v != a,
    "$gt": _compare(lambda v, a: v > a),
    "$gte": _compare(lambda v, a: v >= a),
    "$lt": _compare(lambda v, a: v < a),
    "$lte": _compare(lambda v, a: v <= a),
    "$in": lambda v, a: v is not _MISSING and v in a,
    "$nin": lambda v, a: v is _MISSING or v not in a,
    "$exists": lambda v, a: (v is not _MISSING) == bool(a),
    "$regex": lambda v, a: isinstance(v, str) and re.search(str(a), v) is not None,
}


def _order(order: str) -> tuple[str, bool]:
    text = order.strip()
    descending = text.startswith("-")
    key = text.lstrip("+-")
    if not key:
        raise HypersweepError(
            f"order={order!r}: give a field, e.g. '+created_at' or '-summary_metrics.acc'"
        )
    _check_field(key, f"order={order!r}")
    return key, descending


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _sorted(runs: list[ApiRun], field: str, descending: bool) -> list[ApiRun]:
    """Runs by ``field``: numbers by value, then text; runs without it last either way."""

    def rank(run: ApiRun) -> tuple[int, Any]:
        value = run._lookup(field)
        number = _number(value)
        if number is not None:
            return (0, -number if descending else number)
        if isinstance(value, str):
            return (1, value)
        return (2, 0)

    ranked = sorted(runs, key=rank)
    if descending:  # strings cannot be negated: reverse their block instead
        text = [run for run in ranked if rank(run)[0] == 1]
        text.reverse()
        ranked = (
            [run for run in ranked if rank(run)[0] == 0]
            + text
            + [run for run in ranked if rank(run)[0] == 2]
        )
    return ranked


def _spread(rows: list[dict[str, Any]], samples: int) -> list[dict[str, Any]]:
    if samples == 1:
        return [rows[-1]]
    last = len(rows) - 1
    picks = sorted({round(i * last / (samples - 1)) for i in range(samples)})
    return [rows[i] for i in picks]
