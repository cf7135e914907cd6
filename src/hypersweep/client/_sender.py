"""The sender thread: delivers a run's rows and summary in batches, so ``log()`` never waits.

It owns every slow thing a run does: importing httpx and the protocol models (~150 ms, kept off
the training thread so the first ``log()`` comes early), talking to the server, and writing the
offline files. It sends a batch as soon as the previous one is ``interval`` seconds old or
``max_rows`` rows wait, so the first row goes out at once and a fast loop costs one request per
interval.

Failures never reach the training script:

- server unreachable when the run starts -> the run is written offline (and says so once);
- server unreachable later, or answering 5xx -> the batch is held and re-sent unchanged (same
  batch number, so the server stores it once) with exponential backoff and jitter; rows logged
  meanwhile wait in memory up to ``memory_rows``, beyond that in a spool file in the run's
  directory (``_spool``), and go out in order once the server is back;
- server still away when ``finish()``'s time is up -> everything undelivered is left in the
  spool directory as an offline run, and the run says which ``hypersweep sync`` uploads it;
- server finding a batch too large (413, over its body limit) -> sent again as two halves,
  each with a batch number of its own, down to single rows; a row too large alone is dropped
  with a warning;
- server refusing a batch (other 4xx: the run ended or is unknown) -> it is dropped with a
  warning.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hypersweep.client import _spool
from hypersweep.client._outbox import Batch, Outbox
from hypersweep.errors import HypersweepError, RequestTooLarge, ServerUnavailable

if TYPE_CHECKING:
    from hypersweep.client._http import ApiClient
    from hypersweep.client._offline import OfflineWriter

__all__ = ["Ending", "Sender", "SenderSettings", "note"]

_MAX_BACKOFF = 5.0  # seconds: a restarted server is found again within this
_FIRST_BACKOFF = 0.5  # seconds: the window of the first retry; it doubles per failure
AGENT_RUN_CONNECT_WINDOW = 60.0  # seconds an agent's run waits for its server at start


def note(message: str) -> None:
    """An information line for the person at the terminal."""
    print(f"hypersweep: {message}", file=sys.stderr)


@dataclass
class SenderSettings:
    """Where and how a run delivers; built by ``init()``."""

    run_id: str
    sweep_id: str | None
    online: bool
    server: str
    offline_path: Path
    agent_id: str | None = None
    interval: float = 0.5
    max_rows: int = 1000
    connect_window: float = 5.0
    # undelivered rows kept in memory, the rest are spooled; None: _spool.MEMORY_ROWS, read
    # when the run starts (so a test can lower it for the runs init() makes)
    memory_rows: int | None = None
    spool_dir: Path | None = None  # default: ``spool`` in the run's directory (see spool_path)
    # what init() says about the run (name, tags, notes, group, job_type), sent at its start
    described: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A run an agent launched belongs to a server that is up (the agent just talked to
        # it): if it does not answer now it is restarting, so wait for it rather than write
        # the run offline, where the sweep would not see it.
        if self.agent_id is not None:
            self.connect_window = max(self.connect_window, AGENT_RUN_CONNECT_WINDOW)

    transport: Any = None  # an httpx transport, for tests

    def spool_path(self) -> Path:
        """``spool_dir``, else ``<base>/hypersweep/run-<time>-<id>/spool``: the online run's
        directory (``run.dir``), which init() names like the offline path but for the prefix."""
        if self.spool_dir is not None:
            return self.spool_dir
        name = self.offline_path.name
        if name.startswith("offline-run-"):
            name = "run-" + name.removeprefix("offline-run-")
        return self.offline_path.with_name(name) / "spool"


@dataclass(frozen=True)
class Ending:
    """How the run ended, as ``finish()`` knows it."""

    exit_code: int
    state: str
    post_finish: bool


class _Sink(Protocol):
    def deliver(self, batch: Batch, number: int) -> tuple[bool, str | None]: ...
    def finish(self, ending: Ending, summary: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class _Backoff:
    """Delays between retries: tenacity's exponential backoff with full jitter (a random delay
    in a window that doubles per failure: 0.5, 1, 2, 4 s), so the runs of a sweep do not all
    retry in step after an outage; capped at ``_MAX_BACKOFF`` (5 s), so a server that is back
    is found again within 5 s.

    Only tenacity's wait strategy is used, not its ``Retrying`` loop: the sender must keep
    waking while it waits (``finish()``'s deadline, rows piling up), so it waits on the
    outbox's condition until the time this gives, instead of sleeping in a retry loop.
    """

    def __init__(self) -> None:
        import tenacity  # here, on the sender thread: ~80 ms that the training thread skips

        self._wait = tenacity.wait_random_exponential(multiplier=_FIRST_BACKOFF, max=_MAX_BACKOFF)
        self._state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        self.failures = 0

    def next_delay(self) -> float:
        """Count a failure and return the seconds to wait before the next try."""
        self.failures += 1
        self._state.attempt_number = self.failures
        return float(self._wait(self._state))

    def reset(self) -> None:
        self.failures = 0


class _Retry(Exception):
    """A delivery that failed in a way worth retrying (the server is away or overloaded)."""

    def __init__(self, cause: HypersweepError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Online:
    def __init__(self, client: ApiClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def deliver(self, batch: Batch, number: int) -> tuple[bool, str | None]:
        try:
            if batch.rows:
                ack = self.client.log_history(
                    self.run_id, batch.rows, batch.explicit or None, batch=number
                )
                return ack.stop, ack.reason
            self.client.set_summary(self.run_id, batch.explicit)
            return False, None
        except HypersweepError as exc:
            raise _retry_or(exc) from None

    def finish(self, ending: Ending, summary: dict[str, Any]) -> None:
        if ending.post_finish:
            try:
                self.client.finish_run(self.run_id, exit_code=ending.exit_code)
            except HypersweepError as exc:
                raise _retry_or(exc) from None

    def close(self) -> None:
        self.client.close()


def _halves(batch: Batch) -> list[Batch]:
    """A batch as two, in order; the keys set explicitly go with the second, after its rows."""
    middle = len(batch.rows) // 2
    return [
        Batch(batch.rows[:middle], {}, batch.summary),
        Batch(batch.rows[middle:], batch.explicit, batch.summary),
    ]


def _retry_or(exc: HypersweepError) -> Exception:
    """Transport errors and 5xx answers are worth retrying; 4xx answers are final."""
    if isinstance(exc, ServerUnavailable) or exc.http_status >= 500:
        return _Retry(exc)
    return exc


class _Offline:
    def __init__(self, writer: OfflineWriter, meta: Callable[[], dict[str, Any]]) -> None:
        self.writer = writer
        self.meta = meta

    def deliver(self, batch: Batch, number: int) -> tuple[bool, str | None]:
        self.writer.append(batch.rows)
        self.writer.write_meta(summary=batch.summary, **self.meta())
        return False, None

    def finish(self, ending: Ending, summary: dict[str, Any]) -> None:
        now = datetime.now(timezone.utc).isoformat()
        final = {"state": ending.state, "exit_code": ending.exit_code, "ended_at": now}
        self.writer.write_meta(**{**self.meta(), "summary": summary, **final})

    def close(self) -> None:
        self.writer.close()


@dataclass
class Sender:
    """Runs the delivery loop of one run in a daemon thread; see the module docstring."""

    box: Outbox
    settings: SenderSettings
    meta: Callable[[], dict[str, Any]]
    on_stop: Callable[[str | None], None]
    on_name: Callable[[str], None] = lambda name: None
    offline: bool = field(default=False, init=False)
    _ending: Ending | None = field(default=None, init=False)
    _deadline: float = field(default=float("inf"), init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _warned: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        # the spool file is created only when rows overflow memory, so this costs no I/O
        with self.box.cond:
            rows = self.settings.memory_rows
            self.box.memory_rows = _spool.MEMORY_ROWS if rows is None else rows
            self.box.spool = _spool.Spool(self.settings.spool_path())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="hypersweep-sender", daemon=True)
        self._thread.start()

    def close(self, ending: Ending, timeout: float) -> None:
        """Deliver what waits, record the end, and stop; wait at most ``timeout`` seconds."""
        with self.box.cond:
            self._ending = ending
            self._deadline = time.monotonic() + timeout
            self.box.closing = True
            self.box.cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout + 1.0)
            if self._thread.is_alive():  # stuck in a request: the pump cannot say it
                with self.box.cond:
                    waiting = len(self.box.rows) + self.box.spooled()
                note(
                    f"gave up delivering run {self.settings.run_id} after {timeout:.0f} s; "
                    f"{waiting} rows may not have been delivered"
                )

    # -- the thread ----------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            sink = self._open()
        except Exception as exc:  # never let the thread die silently
            note(f"run {self.settings.run_id} cannot be recorded: {exc}")
            return
        try:
            self._pump(sink)
        finally:
            sink.close()

    def _open(self) -> _Sink:
        if not self.settings.online:
            return self._go_offline(None)
        import socket  # here, as httpx: 2 ms that init() on the training thread need not pay

        from hypersweep.client._http import ApiClient  # here: keeps httpx off the main thread

        transport = self.settings.transport
        if transport is None and self.settings.server.startswith("http://"):
            import httpx

            # plain HTTP uses no TLS: skip loading the CA bundle (~20 ms before the first row)
            transport = httpx.HTTPTransport(verify=False)
        client = ApiClient(self.settings.server, timeout=10.0, transport=transport)
        deadline = time.monotonic() + self.settings.connect_window
        delay = 0.2
        while True:
            try:
                run = client.start_run(
                    self.settings.run_id,
                    host=socket.gethostname(),
                    agent_id=self.settings.agent_id,
                    described=self.settings.described,
                )
            except ServerUnavailable:
                if time.monotonic() + delay > deadline:
                    client.close()
                    why = f"the server at {self.settings.server} did not answer"
                    return self._go_offline(why)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            except HypersweepError as exc:
                client.close()
                return self._go_offline(f"the server refused to start it ({exc})")
            self.on_name(run.name)
            return _Online(client, self.settings.run_id)

    def _go_offline(self, why: str | None) -> _Sink:
        from hypersweep.client._offline import OfflineWriter

        self.offline = True
        path = self.settings.offline_path
        writer = OfflineWriter(path, self.meta())
        if why is not None:
            sweep = f" --sweep {self.settings.sweep_id}" if self.settings.sweep_id else ""
            note(
                f"run {self.settings.run_id} is written offline to {path} because {why}; "
                f"upload it later with `hypersweep sync {path}{sweep}`"
            )
        return _Offline(writer, self.meta)

    def _pump(self, sink: _Sink) -> None:
        box = self.box
        max_rows = self.settings.max_rows
        last_send = float("-inf")
        retry_at = float("-inf")
        backoff = _Backoff()
        # Batch numbers let the server store a retried batch once. They start from the clock
        # (microseconds) so that a later sender of the same run id (a reinit, a restarted
        # process) never reuses a number the server has seen.
        number = time.time_ns() // 1000
        # Batches taken from the box and not delivered yet, oldest first: one that failed is
        # re-sent as it was, with its number; one the server found too large (413) is replaced
        # by its two halves, each sent with a number of its own.
        held: list[Batch] = []
        while True:
            gave_up = False
            with box.cond:
                while True:
                    now = time.monotonic()
                    waiting = box.pending() + len(held)
                    due = max(last_send + self.settings.interval, retry_at)
                    if waiting and (now >= due or (box.closing and now >= retry_at)):
                        break
                    if waiting >= max_rows and now >= retry_at:
                        break
                    if box.closing and not waiting:
                        break
                    if box.closing and now >= self._deadline:
                        gave_up = True
                        break
                    box.cond.wait(max(0.01, min(due, self._deadline) - now) if waiting else None)
                if box.closing and not waiting:
                    break
            if gave_up:
                self._leave(held, number)
                return
            if not held:
                box.refill(max_rows)
                held.append(box.take(max_rows))
                number += 1
            batch = held[0]
            try:
                stop, reason = sink.deliver(batch, number)
            except _Retry as exc:
                retry_at = time.monotonic() + backoff.next_delay()
                self._warn_once("retry", f"{exc.cause}; keeping the rows and retrying")
                self._warn_spool()
                continue
            except RequestTooLarge as exc:
                if len(batch.rows) > 1:
                    held[:1] = _halves(batch)  # the first half keeps this (unstored) number
                    continue
                held.pop(0)
                self._warn_once(
                    "drop", f"dropped a row of run {self.settings.run_id} too large to send: {exc}"
                )
                continue
            except Exception as exc:  # refused (4xx), disk full, a bug: never kill the thread
                held.pop(0)
                self._warn_once(
                    "drop", f"dropped {len(batch.rows)} rows of run {self.settings.run_id}: {exc}"
                )
                continue
            held.pop(0)
            if held:
                number += 1  # the next part of a split batch
            if backoff.failures:
                note(f"delivering run {self.settings.run_id} again")
                self._warned.discard("retry")  # so that the next outage is reported too
            backoff.reset()
            self._warn_spool()
            last_send = time.monotonic()
            if stop:
                self.on_stop(reason)
        self._finish(sink, number)

    def _warn_spool(self) -> None:
        with self.box.cond:
            spool, error, dropped = self.box.spool, self.box.spool_error, self.box.dropped
            spooled, bound = self.box.spooled(), self.box.memory_rows
        if spooled and spool is not None:
            self._warn_once(
                "spool",
                f"more than {bound} rows of run {self.settings.run_id} wait "
                f"for the server; the rest are kept in {spool.path} until it is back",
            )
        if error is not None:
            self._warn_once(
                "spool-error",
                f"cannot write the spool of run {self.settings.run_id} ({error}); "
                f"{dropped} rows were lost so far; free disk space or make "
                f"{spool.directory if spool else 'the run directory'} writable",
            )

    def _leave(self, held: list[Batch], number: int, why: str | None = None) -> None:
        """``finish()``'s time is up and the server is away: leave what was not delivered (and
        the run's end) in the spool directory, with the first held batch's number, for
        ``hypersweep sync``; ``number`` is the last batch number used (the first held batch's,
        which may have been stored)."""
        box, ending = self.box, self._ending
        with box.cond:
            spool = box.spool
            memory = list(box.rows)
            summary = dict(box.summary)
            spooled = box.spooled()
        rows = [row for batch in held for row in batch.rows] + memory
        count = len(rows) + spooled
        if spool is None or ending is None:  # not reached: close() sets both
            note(f"gave up delivering run {self.settings.run_id}: {count} rows were not delivered")
            return
        meta = {
            **self.meta(),
            "summary": summary,
            "state": ending.state,
            "exit_code": ending.exit_code,
            "ended_at": datetime.now(timezone.utc).isoformat(),
            "post_finish": ending.post_finish,
            "server": self.settings.server,
            # the first rows (held_rows of them) were sent as batch `batch` and may be stored:
            # sync re-sends them with that number, and the rest as batch + 1, + 2, ...
            "batch": number if held else number + 1,
            "held_rows": len(held[0].rows) if held else 0,
        }
        try:
            path = spool.leave(rows, meta)
        except OSError as exc:
            note(
                f"gave up delivering run {self.settings.run_id}: {count} rows were not "
                f"delivered and cannot be kept in {spool.directory} ({exc})"
            )
            return
        command = f"`hypersweep sync {path} --server {self.settings.server}`"
        if count:
            lost = f"{count} rows of run {self.settings.run_id} were not delivered"
        else:
            lost = f"the end of run {self.settings.run_id} was not recorded"
        note(
            f"the server at {self.settings.server} did not answer before finish() gave up"
            f"{f' ({why})' if why else ''}: {lost} and {'are' if count else 'is'} kept in "
            f"{path}; upload {'them' if count else 'it'} when it is back with {command}"
        )

    def _finish(self, sink: _Sink, number: int) -> None:
        ending = self._ending
        if ending is None:
            return
        backoff = _Backoff()
        while True:
            with self.box.cond:
                summary = dict(self.box.summary)
            try:
                sink.finish(ending, summary)
                return
            except _Retry as exc:
                delay = backoff.next_delay()
                if time.monotonic() + delay > self._deadline:
                    # every row arrived: the spool left carries only the end, for sync
                    self._leave([], number, why=str(exc.cause))
                    return
                time.sleep(delay)
            except Exception as exc:
                note(f"could not report the end of run {self.settings.run_id}: {exc}")
                return

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            note(message)
