"""Brings the history and summary of a run that imports the real ``wandb`` into hypersweep.

Such a run writes offline (the agent sets ``WANDB_MODE=offline``, see ``_job.py``): its history
and summary exist only in its transaction log
``WANDB_DIR/wandb/offline-run-<time>-<RUN>/run-<RUN>.wandb``. The bridge reads that log with
the installed wandb package's own reader, ``wandb-core leet inspect --json`` (what ``wandb
leet inspect`` runs: one JSON object per record), follows it while the run is live and reads
the rest once the run has ended, and sends the rows and summary to the server like
``hypersweep.init()`` does: in numbered batches, at most one per ``interval``, retried while the
server is away. The server's answer to a batch applies the sweep's early termination; when it
says stop, ``on_stop`` lets the agent deliver the stop order at once.

The loop uses it as ``bridge = WandbBridge(...); bridge.start()`` when the child starts and
``bridge.close()`` after the child exited, before the run's end is reported (a run that has
ended takes no more rows).

A script that uses ``import hypersweep as wandb`` writes no ``.wandb`` file: its bridge only
looks for one now and then and sends nothing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import importlib.util
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any, Protocol

from hypersweep.errors import HypersweepError, ServerUnavailable

__all__ = [
    "HistorySink",
    "RecordTranslator",
    "WandbBridge",
    "find_run_log",
    "translate",
    "wandb_reader",
]

Row = tuple[int, dict[str, Any]]

_FIND_INTERVAL = 0.25  # seconds between looks for the run's .wandb file
_RESTART_DELAY = 0.5  # seconds before following again when the reader stopped early
_IDLE_TIMEOUT = "2m"  # the reader's own exit when the file stays still (an orphaned reader)
_MAX_BACKOFF = 5.0
_SETTLE_LOOK = 0.2  # seconds between reads of a file that wandb may still be writing
#: W&B's define_metric summaries, in the order W&B lists them; the first one requested is the
#: summary value hypersweep keeps (as hypersweep.define_metric does)
_SUMMARY_KINDS = ("min", "max", "mean", "best", "last", "first")
#: how a non-finite float appears in the reader's JSON
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class HistorySink(Protocol):
    """Where the rows go: ``ApiClient`` (the agent's own client) has both methods."""

    def log_history(
        self,
        run_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        summary: Mapping[str, Any] | None = None,
        *,
        batch: int | None = None,
    ) -> Any: ...

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> Any: ...


def _say(message: str) -> None:
    print(f"hypersweep agent: {message}", file=sys.stderr, flush=True)


@cache
def wandb_reader() -> tuple[str, ...] | None:
    """The command that prints a ``.wandb`` file's records as JSON lines, or None.

    None when wandb is not installed where the agent runs, or is too old to have ``wandb
    leet inspect --follow`` (wandb 0.31). Finding it imports nothing from wandb, so an agent
    whose runs use hypersweep's own client pays nothing.
    """
    try:
        spec = importlib.util.find_spec("wandb")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    core = Path(spec.origin).parent / "bin" / "wandb-core"
    if not os.access(core, os.X_OK):
        return None
    command = (str(core), "leet", "inspect", "--no-observability", "--json")
    try:
        helped = subprocess.run(
            [*command[:3], "--help"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if "-follow" not in helped.stdout + helped.stderr:
        return None
    return command


def find_run_log(wandb_dir: str, run_id: str, not_before: float = 0.0) -> Path | None:
    """The newest ``run-<RUN>.wandb`` under ``wandb_dir`` changed at or after ``not_before``.

    wandb keeps its runs in ``WANDB_DIR/wandb`` (``WANDB_DIR/.wandb`` when that exists), one
    folder per run named ``<mode>-run-<time>-<RUN>``.
    """
    name = glob.escape(run_id)
    found: list[tuple[float, Path]] = []
    for folder in ("wandb", ".wandb"):
        pattern = os.path.join(glob.escape(wandb_dir), folder, f"*-{name}", f"run-{name}.wandb")
        for path in glob.glob(pattern):
            with contextlib.suppress(OSError):
                mtime = os.stat(path).st_mtime
                if mtime >= not_before:
                    found.append((mtime, Path(path)))
    return max(found)[1] if found else None


def _finite_or_marker(value: Any) -> Any:
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    return value


@dataclass
class RecordTranslator:
    """Turns the reader's records into hypersweep rows and summary values (no I/O).

    - ``history``: a row at its ``_step``; every other key is a metric (nested keys come
      dotted, ``a.b``, as wandb flattens them), ``_wandb*`` keys are wandb's own and dropped.
    - ``summary``: its ``update`` values; ``_``-keys are dropped (the rows carry ``_runtime``
      and ``_timestamp``). A ``define_metric(summary="min")`` value, ``{"min": 0.3}``, becomes
      0.3, the value the sweep optimises. Removals are not forwarded (the server merges).
    - ``metric``: remembered for the summary rule above.
    - ``exit``: marks the log complete.

    Records already seen (by their ``num``) are skipped, so a reader may start over.
    """

    last_num: int = 0
    ended: bool = False
    _rules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _next_step: int = 0

    def feed(self, record: Mapping[str, Any]) -> tuple[Row | None, dict[str, Any]]:
        """One record's row (or None) and summary values (maybe empty)."""
        num = record.get("num")
        if isinstance(num, int):
            if num <= self.last_num:
                return None, {}
            self.last_num = num
        kind = record.get("type")
        body = record.get(kind) if isinstance(kind, str) else None
        if not isinstance(body, Mapping):
            body = {}
        if kind == "history":
            return self._row(body), {}
        if kind == "summary":
            return None, self._summary(body)
        if kind == "metric":
            self._remember(body)
        elif kind == "exit":
            self.ended = True
        return None, {}

    def _row(self, body: Mapping[str, Any]) -> Row | None:
        item = body.get("item")
        if not isinstance(item, Mapping):
            return None
        step = item.get("_step")
        if not isinstance(step, int) or isinstance(step, bool):
            declared = body.get("step")
            step = declared.get("num") if isinstance(declared, Mapping) else None
            if not isinstance(step, int):
                step = self._next_step
        self._next_step = step + 1
        metrics = {
            key: _finite_or_marker(value)
            for key, value in item.items()
            if key != "_step" and not key.startswith("_wandb")
        }
        return step, metrics

    def _summary(self, body: Mapping[str, Any]) -> dict[str, Any]:
        update = body.get("update")
        if not isinstance(update, Mapping):
            return {}
        values: dict[str, Any] = {}
        for key, value in update.items():
            if not isinstance(key, str) or key.startswith("_"):
                continue
            values[key] = _finite_or_marker(self._chosen(key, value))
        return values

    def _remember(self, body: Mapping[str, Any]) -> None:
        name = body.get("name") or body.get("glob_name")
        summary = body.get("summary")
        if isinstance(name, str) and isinstance(summary, Mapping):
            kinds = tuple(kind for kind in _SUMMARY_KINDS if summary.get(kind))
            if kinds:
                self._rules[name] = kinds

    def ruled(self, key: str) -> bool:
        """Whether ``key``'s summary comes from a ``define_metric`` rule, not its last value."""
        return self._kinds(key) is not None

    def _kinds(self, key: str) -> tuple[str, ...] | None:
        if not self._rules:
            return None
        kinds = self._rules.get(key)
        if kinds is None:  # an exact name wins over a glob; of globs, the last defined
            globs = [name for name in self._rules if fnmatch.fnmatchcase(key, name)]
            kinds = self._rules[globs[-1]] if globs else None
        return kinds

    def _chosen(self, key: str, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        for kind in self._kinds(key) or ():
            if kind in value:
                return value[kind]
        return value


class WandbBridge:
    """Follows one run's ``.wandb`` file and sends what it logs to the server.

    Args:
        wandb_dir: the run's ``WANDB_DIR`` (relative paths are the agent's working directory's).
        run_id: the run (also the wandb run id: the agent sets ``WANDB_RUN_ID``).
        sink: where rows go; the agent's ``ApiClient``.
        on_stop: called once when the server answers a batch with a stop order.
        say: one line for the person at the terminal.
        interval: seconds between batches; the reader itself sees new records about once a
            second, once wandb flushed them (``WANDB_X_TRANSACTION_LOG_FLUSH_INTERVAL``).
        patience: seconds ``close()`` keeps trying to deliver while the server is away.
        reader: the reader command (default: ``wandb_reader()``); empty: none is installed.
    """

    _warned_no_reader = False  # one line per agent process, not per run

    def __init__(
        self,
        wandb_dir: str,
        run_id: str,
        sink: HistorySink,
        *,
        on_stop: Callable[[], None] | None = None,
        say: Callable[[str], None] = _say,
        interval: float = 0.25,
        max_rows: int = 1000,
        patience: float = 60.0,
        reader: Sequence[str] | None = None,
    ) -> None:
        self.wandb_dir = os.path.abspath(wandb_dir)
        self.run_id = run_id
        self.sink = sink
        self.on_stop = on_stop
        self.say = say
        self.interval = interval
        self.max_rows = max_rows
        self.patience = patience
        self._reader = tuple(reader) if reader is not None else None
        self._translator = RecordTranslator()
        self._cond = threading.Condition()
        self._rows: list[Row] = []
        self._summary: dict[str, Any] = {}
        # the latest summary value of each key a define_metric rule governs: sent with every
        # batch of rows, since the server sets each logged key's summary to its last value and
        # wandb writes a rule's summary again only when it changes
        self._ruled: dict[str, Any] = {}
        self._closing = False
        self._deadline = float("inf")
        self._stop_following = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._log: Path | None = None
        self._started_at = 0.0
        self._stopped = False
        self._warned: set[str] = set()
        self._follower = threading.Thread(target=self._follow, daemon=True)
        self._sender = threading.Thread(target=self._send_loop, daemon=True)

    # -- the loop's interface ------------------------------------------------------------------

    def start(self) -> None:
        """Begin looking for the run's ``.wandb`` file (call when the child has started)."""
        # a file left by an earlier run with this id is older than this run
        self._started_at = time.time() - 2.0
        if self._reader is None:
            self._reader = wandb_reader()
        self._follower.start()
        self._sender.start()

    def close(self, settle: float = 2.0) -> None:
        """After the child exited: read the rest of the file, deliver everything, stop.

        The follower is stopped and the file read once more to its end; while wandb's own
        process is still writing it (up to ``settle`` seconds, without its exit record), again
        each time it grew. Delivery then has up to ``patience`` seconds while the server is
        unreachable.
        """
        self._stop_following.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()  # our own reader, by its handle
        self._follower.join()
        if self._log is None:  # a run shorter than one look
            self._log = find_run_log(self.wandb_dir, self.run_id, self._started_at)
            if self._log is not None:
                self._warn_if_unreadable()
        if self._log is not None and self._reader:
            self._settle(self._log, time.monotonic() + settle)
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + self.patience
            self._cond.notify_all()
        self._sender.join()

    def _settle(self, log: Path, deadline: float) -> None:
        size = -1
        while not self._translator.ended:
            try:
                now_size = log.stat().st_size
            except OSError:
                return
            if now_size == size or time.monotonic() >= deadline:
                return
            size = now_size
            self._read(follow=False)
            if not self._translator.ended:
                time.sleep(_SETTLE_LOOK)

    # -- reading -------------------------------------------------------------------------------

    def _follow(self) -> None:
        while self._log is None:
            self._log = find_run_log(self.wandb_dir, self.run_id, self._started_at)
            if self._log is None and self._stop_following.wait(_FIND_INTERVAL):
                return
        if not self._warn_if_unreadable():
            return
        delay = _RESTART_DELAY
        while not self._stop_following.is_set() and not self._translator.ended:
            # the reader stopped while the run goes on (idle timeout, a read error): again,
            # and less often while it keeps failing
            delay = _RESTART_DELAY if self._read(follow=True) else min(delay * 2, _MAX_BACKOFF)
            self._stop_following.wait(delay)

    def _warn_if_unreadable(self) -> bool:
        if self._reader:
            return True
        if not WandbBridge._warned_no_reader:
            WandbBridge._warned_no_reader = True
            self.say(
                f"run {self.run_id} uses the real wandb package, but wandb>=0.31 is not "
                "installed where the agent runs, so its metrics cannot be read; install it "
                "there (pip install 'wandb>=0.31')"
            )
        return False

    def _read(self, *, follow: bool) -> bool:
        """Feed the file's records to the sender; False when the reader failed."""
        assert self._reader and self._log is not None
        argv = [*self._reader]
        if follow:
            argv += ["--follow", "--idle-timeout", _IDLE_TIMEOUT]
        argv += ["--run-file", str(self._log), str(self._log.parent.parent)]
        # its notes go to a file: a pipe nobody reads until the end could fill and stall it
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as notes:
            with self._lock:  # close() either sees this reader or the reader is not started
                if follow and self._stop_following.is_set():
                    return True
                try:
                    process = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=notes,
                        text=True,
                        encoding="utf-8",
                        errors="replace",
                    )
                except OSError as exc:
                    self._warn_once("start", f"cannot read run {self.run_id}'s wandb log: {exc}")
                    self._stop_following.set()
                    return False
                self._process = process
            assert process.stdout is not None
            with process.stdout:
                self._take(process.stdout)
            process.wait()
            if process.returncode in (0, -signal.SIGTERM):  # -SIGTERM: close() ended it
                return True
            notes.seek(0)
            error = notes.read().strip()
        first = error.splitlines()[-1] if error else f"exit code {process.returncode}"
        self._warn_once("read", f"reading run {self.run_id}'s wandb log {self._log}: {first}")
        return False

    def _take(self, lines: IO[str]) -> None:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # not a record (the reader's own notes)
            if not isinstance(record, dict):
                continue
            row, summary = self._translator.feed(record)
            if row is None and not summary:
                continue
            with self._cond:
                if row is not None:
                    self._rows.append(row)
                self._summary.update(summary)
                self._ruled.update(
                    (key, value) for key, value in summary.items() if self._translator.ruled(key)
                )
                self._cond.notify_all()

    # -- sending -------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        # Batch numbers let the server store a retried batch once; from the clock, so that
        # another sender of this run (hypersweep.init in the same script) never reuses one.
        number = time.time_ns() // 1000
        held: tuple[list[Row], dict[str, Any]] | None = None
        last_send = float("-inf")
        retry_at = float("-inf")
        failures = 0
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    waiting = bool(self._rows or self._summary or held)
                    if self._closing and not waiting:
                        return
                    if self._closing and now >= self._deadline:
                        self.say(f"gave up delivering the wandb metrics of run {self.run_id}")
                        return
                    due = max(last_send + self.interval, retry_at)
                    if waiting and (now >= due or (self._closing and now >= retry_at)):
                        break
                    limit = min(due, self._deadline) if waiting else float("inf")
                    self._cond.wait(None if limit == float("inf") else max(0.01, limit - now))
                if held is None:
                    rows = self._rows[: self.max_rows]
                    del self._rows[: self.max_rows]
                    summary: dict[str, Any] = dict(self._ruled) if rows else {}
                    if not self._rows:  # the summary goes after the last of the rows
                        summary.update(self._summary)
                        self._summary = {}
                    held = (rows, summary)
                    number += 1
            try:
                self._deliver(*held, number)
            except _Retry as exc:
                failures += 1
                retry_at = time.monotonic() + min(0.25 * 2**failures, _MAX_BACKOFF) * (
                    random.uniform(0.5, 1.0)  # jitter: agents do not retry in step
                )
                self._warn_once("retry", f"{exc}; keeping run {self.run_id}'s wandb metrics")
                continue
            except Exception as exc:  # refused (the run ended or is unknown), or a bug
                self._warn_once("drop", f"dropped wandb metrics of run {self.run_id}: {exc}")
            held = None
            failures = 0
            last_send = time.monotonic()

    def _deliver(self, rows: list[Row], summary: dict[str, Any], number: int) -> None:
        try:
            if rows:
                ack = self.sink.log_history(self.run_id, rows, summary or None, batch=number)
                if getattr(ack, "stop", False) and not self._stopped:
                    self._stopped = True
                    if self.on_stop is not None:
                        self.on_stop()
            elif summary:
                self.sink.set_summary(self.run_id, summary)
        except ServerUnavailable as exc:
            raise _Retry(str(exc)) from None
        except HypersweepError as exc:
            if exc.http_status >= 500:
                raise _Retry(str(exc)) from None
            raise

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            self.say(message)


class _Retry(Exception):
    """A delivery worth retrying: the server is away or overloaded."""


def translate(records: Iterable[Mapping[str, Any]]) -> tuple[list[Row], dict[str, Any]]:
    """All rows and the final summary values of a complete log's records (tests, tools)."""
    translator = RecordTranslator()
    rows: list[Row] = []
    summary: dict[str, Any] = {}
    for record in records:
        row, values = translator.feed(record)
        if row is not None:
            rows.append(row)
        summary.update(values)
    return rows, summary
