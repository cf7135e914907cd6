"""Uploading offline runs into a sweep (``hypersweep sync``), one ``import_run`` each.

The run keeps its id, so a run that fell back offline lands under the id its sweep gave it.
After an upload the directory gets a ``.synced`` marker and a second sync skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypersweep.client._http import ApiClient
from hypersweep.client._offline import mark_synced, read_offline_run, read_synced
from hypersweep.errors import ConflictError, HypersweepError, NotFoundError
from hypersweep.protocol import HistoryRowIn, RunImport

__all__ = ["SyncResult", "sync_run"]


@dataclass(frozen=True)
class SyncResult:
    """What happened to one directory: ``synced``, ``skipped`` or ``failed``, and a sentence."""

    path: Path
    outcome: str
    message: str


def sync_run(
    client: ApiClient, path: Path, *, sweep: str | None = None, new_id: bool = False
) -> SyncResult:
    """Upload the offline run in ``path`` to ``sweep`` (default: the sweep it was started in).

    Never raises for a problem with one run: the result names the directory and the fix.
    """
    marker = read_synced(path)
    if marker is not None:
        where = marker.get("sweep_id", "?")
        return SyncResult(
            path,
            "skipped",
            f"{path}: already synced to sweep {where} (delete {path}/.synced to upload again)",
        )
    try:
        run = read_offline_run(path)
    except HypersweepError as exc:
        return SyncResult(path, "failed", str(exc))
    sweep_id = sweep or run.meta.get("sweep_id")
    if not sweep_id:
        return SyncResult(
            path,
            "failed",
            f"{path}: run {run.meta['id']} was not started in a sweep; name the sweep to add "
            "it to with --sweep SWEEP_ID",
        )
    params = run.meta.get("params")
    if params is None:  # not a sweep run: its whole config, as a prior run (spec §11)
        params = run.meta.get("config") or {}
    summary = run.meta.get("summary") or {}
    exit_code = run.meta.get("exit_code")
    body = RunImport(
        run_id=None if new_id else run.meta["id"],
        name=run.meta.get("name") or None,
        params=dict(params),
        history=[HistoryRowIn(step=step, metrics=metrics) for step, metrics in run.history],
        summary=dict(summary),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        state=run.final_state,  # type: ignore[arg-type]  # one of the four, by construction
    )
    try:
        created = client.import_run(str(sweep_id), body)
    except ConflictError as exc:
        return SyncResult(
            path, "failed", f"{path}: {exc} (sync with --new-id to upload it under a fresh id)"
        )
    except NotFoundError as exc:
        return SyncResult(path, "failed", f"{path}: {exc}; check the sweep id with --sweep")
    except HypersweepError as exc:
        return SyncResult(path, "failed", f"{path}: {exc}")
    mark_synced(path, sweep_id=created.sweep_id, server=client.url, run_id=created.id)
    rows = len(run.history)
    return SyncResult(
        path,
        "synced",
        f"{path}: synced run {created.id} ({created.state.value}, {rows} rows) to sweep "
        f"{created.sweep_id}",
    )
