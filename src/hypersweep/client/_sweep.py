"""``hypersweep.sweep(config)``: create a sweep from training code, shaped like ``wandb.sweep``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hypersweep.client._config import warn
from hypersweep.client._http import ApiClient
from hypersweep.client._plain import plain_config
from hypersweep.config import load_source
from hypersweep.errors import ConfigError, HypersweepError, NotFoundError
from hypersweep.protocol import HistoryRowIn, RunImport, RunOut

__all__ = ["copy_prior_runs", "fetch_prior_runs", "sweep"]

_ENDED = ("finished", "failed", "crashed", "killed")


def sweep(
    sweep: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | str | Path,
    entity: str | None = None,
    project: str | None = None,
    prior_runs: Sequence[str] | None = None,
    *,
    server: str | None = None,
) -> str:
    """Create a sweep on the server and return its id (``wandb.sweep``).

    Args:
        sweep: the sweep config: a dict, a function returning one, or a YAML/JSON file path.
        entity: accepted for W&B scripts; hypersweep has no entities.
        project: the sweep's project (default: the config's ``project`` key, else
            ``uncategorized``).
        prior_runs: ids (``RUN_ID`` or ``PROJECT/RUN_ID``) of ended runs of any sweep on this
            server to copy into the new sweep with their parameters, history and summary, so
            its search starts from them. All are looked up before the sweep is created.
        server: the server address (default ``$HYPERSWEEP_SERVER``, else the local default).

    Raises:
        ConfigError: the config has errors; each issue names its key path.
        NotFoundError: a prior run does not exist.
        ServerUnavailable: no server answers at the address.
    """
    config = _config_of(sweep)
    with ApiClient(server) as api:
        prior = fetch_prior_runs(api, prior_runs or ())
        created = api.create_sweep(config, project=project)
        for issue in created.warnings:
            where = f"{issue.path}: " if issue.path else ""
            warn(f"sweep config: {where}{issue.message}")
        copy_prior_runs(api, prior, created.id)
        print(f"hypersweep: Created sweep with ID: {created.id}", file=sys.stderr)
        print(
            f"hypersweep: Run sweep agent with: hypersweep agent {created.project}/{created.id}"
            + (f" --server {api.url}" if server else ""),
            file=sys.stderr,
        )
    return created.id


def _config_of(
    source: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | str | Path,
) -> dict[str, Any]:
    config, issues = load_source(source)
    if config is None:
        raise ConfigError(issues)
    if not isinstance(config, Mapping):
        raise HypersweepError(
            f"sweep config: expected a dict (or a function returning one, or a file path), got "
            f"{type(config).__name__}; pass the config as a dict like {{'method': 'random', ...}}"
        )
    return plain_config(config)


def fetch_prior_runs(api: ApiClient, run_ids: Sequence[str]) -> list[RunOut]:
    """The runs ``prior_runs`` names (``RUN_ID`` or ``PROJECT/RUN_ID``), read before the sweep
    is created so a mistyped id creates nothing.

    Raises:
        NotFoundError: a run this server does not have; the message names it.
    """
    runs = []
    for raw in run_ids:
        run_id = raw.strip().rsplit("/", 1)[-1]
        if not run_id:
            continue
        try:
            runs.append(api.get_run(run_id))
        except NotFoundError:
            raise NotFoundError(
                f"prior run {raw!r}: the server at {api.url} has no such run, so no sweep was "
                "created; list run ids with `hypersweep runs SWEEP_ID` (runs of W&B's cloud "
                "are not on this server)"
            ) from None
    return runs


def copy_prior_runs(api: ApiClient, runs: Sequence[RunOut], sweep_id: str) -> int:
    """Copy ended runs into sweep ``sweep_id`` with their parameters, history and summary, so
    its search counts them (spec §11); a run still going is skipped with a warning.

    Returns:
        How many runs were copied.
    """
    copied = 0
    for run in runs:
        if run.state.value not in _ENDED:
            warn(f"prior run {run.id} is {run.state.value}, not ended; it was not copied")
            continue
        rows = api.history(run.id)
        history = [HistoryRowIn(step=row.step, metrics=row.metrics) for row in rows]
        api.import_run(
            sweep_id,
            RunImport(
                name=run.name,
                params=run.params,
                history=history,
                summary=run.summary,
                exit_code=run.exit_code,
                state=run.state.value,  # type: ignore[arg-type]
                prior=True,
            ),
        )
        copied += 1
    return copied
