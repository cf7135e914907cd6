"""Uploading offline runs into a sweep (``hypersweep sync``), one ``import_run`` each.

The run keeps its id, so a run that fell back offline lands under the id its sweep gave it.
After an upload the directory gets a ``.synced`` marker and a second sync skips it. A run of
more than ``_BATCH_ROWS`` rows goes in parts, since one request may not pass the server's body
limit: the import with the first rows and ``more_history`` (the server keeps the run running,
out of early termination's way), the rest as numbered history batches, then its end. A sync
that stopped part way (killed, or the server went away) is resumed by the next one: the server
says how many rows of the run it holds (``importing``, ``history_rows``), and the rest follows.

A spool left by an online run whose server was away when it finished (``run.json`` with
``"kind": "spool"``, see ``_spool``) is not imported but appended to that run, which the server
already has: its rows as history batches numbered from the ``batch`` in ``run.json`` (so the
batch the run may have delivered without hearing back is stored once, and a second attempt
after a partial upload stores nothing twice), then its summary and, unless an agent reports
it, its end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypersweep.client._http import ApiClient
from hypersweep.client._offline import OfflineRun, mark_synced, read_offline_run, read_synced
from hypersweep.client._spool import SPOOL_KIND
from hypersweep.errors import ConflictError, HypersweepError, NotFoundError
from hypersweep.protocol import HistoryRowIn, RunImport, RunOut

__all__ = ["SyncResult", "sync_run"]

_BATCH_ROWS = 1000  # rows per history request, as the sender sends them
_ENDED = ("finished", "failed", "crashed", "killed")


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
    if run.meta.get("kind") == SPOOL_KIND:
        return _append_spool(client, run, new_id=new_id)
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
    code = exit_code if isinstance(exit_code, int) else None
    first, rest = run.history[:_BATCH_ROWS], run.history[_BATCH_ROWS:]
    body = RunImport(
        run_id=None if new_id else run.meta["id"],
        name=run.meta.get("name") or None,
        params=dict(params),
        history=[HistoryRowIn(step=step, metrics=metrics) for step, metrics in first],
        summary=dict(summary),
        exit_code=code,
        state=run.final_state,  # type: ignore[arg-type]  # one of the four, by construction
        more_history=bool(rest),
    )
    try:
        created = client.import_run(str(sweep_id), body)
    except ConflictError as exc:
        resumed = None if new_id else _resume(client, run, str(sweep_id), dict(summary), code)
        if resumed is not None:
            return resumed
        return SyncResult(
            path, "failed", f"{path}: {exc} (sync with --new-id to upload it under a fresh id)"
        )
    except NotFoundError as exc:
        return SyncResult(path, "failed", f"{path}: {exc}; check the sweep id with --sweep")
    except HypersweepError as exc:
        return SyncResult(path, "failed", f"{path}: {exc}")
    if rest:
        try:
            created = _upload_rest(client, created.id, rest, dict(summary), code, run.final_state)
        except HypersweepError as exc:
            return SyncResult(
                path,
                "failed",
                f"{path}: run {created.id} was created with its first {len(first)} rows, then "
                f"the upload of the rest failed ({exc}); sync {path} again to upload the rest",
            )
    return _synced(client, path, created, f"{len(run.history)} rows")


def _resume(
    client: ApiClient,
    run: OfflineRun,
    sweep_id: str,
    summary: dict[str, Any],
    exit_code: int | None,
) -> SyncResult | None:
    """Finish the upload of a run that an earlier sync created in parts and left unfinished
    (it stopped, or lost the server, after the import): the rows after those the server
    holds, then the run's end. None when the run the server has under that id is another."""
    path, run_id = run.path, str(run.meta["id"])
    try:
        stored = client.get_run(run_id)
    except HypersweepError:
        return None
    held = stored.history_rows
    if not stored.importing or stored.sweep_id != sweep_id or held > len(run.history):
        return None
    try:
        done = _upload_rest(client, run_id, run.history[held:], summary, exit_code, run.final_state)
    except HypersweepError as exc:
        return SyncResult(
            path,
            "failed",
            f"{path}: run {run_id} is on the server with {held} of its {len(run.history)} rows; "
            f"the upload of the rest failed ({exc}); sync {path} again to upload the rest",
        )
    rows = f"{len(run.history)} rows, the last {len(run.history) - held} resumed"
    return _synced(client, path, done, rows)


def _synced(client: ApiClient, path: Path, run: RunOut, rows: str) -> SyncResult:
    """Mark ``path`` synced (a second sync skips it) and say where ``run`` went."""
    mark_synced(path, sweep_id=run.sweep_id, server=client.url, run_id=run.id)
    message = f"{path}: synced run {run.id} ({run.state.value}, {rows}) to sweep {run.sweep_id}"
    return SyncResult(path, "synced", message)


def _upload_rest(
    client: ApiClient,
    run_id: str,
    rows: list[tuple[int, dict[str, Any]]],
    summary: dict[str, Any],
    exit_code: int | None,
    state: str,
) -> RunOut:
    """The rows after the first part, in numbered batches (a retried one is stored once), the
    summary again after the last (it wins over the rows' last values), then the run's end."""
    number = time.time_ns() // 1000
    for offset, start in enumerate(range(0, len(rows), _BATCH_ROWS)):
        last = start + _BATCH_ROWS >= len(rows)
        chunk = rows[start : start + _BATCH_ROWS]
        client.log_history(
            run_id, chunk, summary if last and summary else None, batch=number + offset
        )
    if not rows and summary:  # resumed after every row was stored: the summary must still win
        client.log_history(run_id, [], summary, batch=number)
    return client.finish_run(run_id, exit_code=exit_code, state=state)


def _append_spool(client: ApiClient, run: OfflineRun, *, new_id: bool) -> SyncResult:
    """Append a leftover spool to its run on the server; see the module docstring."""
    path, meta = run.path, run.meta
    run_id = str(meta["id"])
    if new_id:
        return SyncResult(
            path,
            "failed",
            f"{path}: holds the last rows of run {run_id}, which the server has; sync it "
            "without --new-id to append them",
        )
    try:
        first = int(meta["batch"])
        held = int(meta.get("held_rows") or 0)
    except (KeyError, TypeError, ValueError):
        return SyncResult(path, "failed", f"{path}/run.json: no batch number in it; was it edited?")
    rows = run.history
    chunks = [rows[:held]] if held else []
    chunks += [rows[i : i + _BATCH_ROWS] for i in range(held, len(rows), _BATCH_ROWS)]
    summary = meta.get("summary") or {}
    state = str(meta.get("state") or "running")
    exit_code = meta.get("exit_code")
    try:
        for offset, chunk in enumerate(chunks):
            client.log_history(run_id, chunk, batch=first + offset)
        if summary:
            client.set_summary(run_id, dict(summary))
        if meta.get("post_finish") and state in _ENDED:
            client.finish_run(run_id, exit_code=exit_code if isinstance(exit_code, int) else None)
    except NotFoundError as exc:
        return SyncResult(path, "failed", f"{path}: {exc}; is --server the run's server?")
    except ConflictError as exc:
        return SyncResult(
            path,
            "failed",
            f"{path}: run {run_id} can no longer take rows ({exc}); its {len(rows)} spooled "
            f"rows stay in {path}",
        )
    except HypersweepError as exc:
        return SyncResult(path, "failed", f"{path}: {exc}; sync again when the server answers")
    mark_synced(path, sweep_id=str(meta.get("sweep_id") or ""), server=client.url, run_id=run_id)
    return SyncResult(
        path,
        "synced",
        f"{path}: appended {len(rows)} spooled rows to run {run_id} of sweep "
        f"{meta.get('sweep_id')}",
    )
