"""The agents' frequent requests run in lanes (``server/_lanes.py``): over a store that waits
for a network, thread lanes, a run's writes at most ``RUN_WRITE_THREADS`` at a time and
heartbeats beside them, not behind them; over a local store, on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from hypersweep.server._lanes import RUN_WRITE_THREADS
from hypersweep.store import MemoryStore, RunRecord

if TYPE_CHECKING:
    from conftest import Api

RANDOM = {"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}}


class HeldStore(MemoryStore):
    """A store whose history writes wait until the test lets them go, counting how many wait
    at once. It is not ``local``: a call may wait, as one over a network does."""

    local = False

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self._count = threading.Lock()
        self.inside = 0
        self.most_inside = 0

    def log_history(
        self,
        run_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        now: datetime,
        **kwargs: Any,
    ) -> RunRecord | None:
        with self._count:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            assert self.release.wait(timeout=30), "the test never released the writes"
            return super().log_history(run_id, rows, now, **kwargs)
        finally:
            with self._count:
                self.inside -= 1


class LoopWatchingStore(MemoryStore):
    """A local store that records, for each call of interest, whether it ran on an event loop."""

    def __init__(self) -> None:
        super().__init__()
        self.on_loop: dict[str, bool] = {}

    def _note(self, call: str) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.on_loop[call] = False
        else:
            self.on_loop[call] = True

    def assign_run(self, *args: Any, **kwargs: Any) -> Any:
        self._note("assign_run")
        return super().assign_run(*args, **kwargs)

    def log_history(self, *args: Any, **kwargs: Any) -> Any:
        self._note("log_history")
        return super().log_history(*args, **kwargs)

    def find_key(self, *args: Any, **kwargs: Any) -> Any:
        self._note("find_key")
        return super().find_key(*args, **kwargs)

    def get_sweep(self, *args: Any, **kwargs: Any) -> Any:
        self._note("get_sweep")
        return super().get_sweep(*args, **kwargs)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> MemoryStore:
    """Replaces conftest's ``store``, so ``client`` serves this one."""
    return LoopWatchingStore() if "local_store" in request.node.name else HeldStore()


def test_a_local_store_serves_the_agents_on_the_event_loop(
    client: Api, store: LoopWatchingStore
) -> None:
    sweep_id = client.create_sweep(RANDOM)["id"]
    store.on_loop.clear()
    client.sweep(sweep_id)  # a plain endpoint: FastAPI's thread pool
    assert store.on_loop == {"find_key": True, "get_sweep": False}
    agent = client.register_agent(sweep_id)
    run = client.next_run(agent)["run_id"]
    client.ok(client.post(f"runs/{run}/history", json={"rows": [{"step": 0, "metrics": {}}]}))
    assert store.on_loop["assign_run"] is True
    assert store.on_loop["log_history"] is True


def test_history_batches_wait_their_turn_while_heartbeats_hand_out_runs(
    client: Api, store: HeldStore
) -> None:
    api, held = client, store
    sweep_id = api.create_sweep(RANDOM)["id"]
    agents = [api.register_agent(sweep_id, host=f"node-{i}") for i in range(7)]
    runs = [api.next_run(agent)["run_id"] for agent in agents[:6]]
    for run in runs:
        api.ok(api.post(f"runs/{run}/start", json={}))
    batch = {"rows": [{"step": 0, "metrics": {"loss": 0.5}}]}
    with ThreadPoolExecutor(len(runs) + 1) as pool:
        sent = [pool.submit(api.post, f"runs/{run}/history", json=batch) for run in runs]
        try:
            deadline = time.monotonic() + 10
            while held.inside < RUN_WRITE_THREADS and time.monotonic() < deadline:
                time.sleep(0.01)
            # six batches in flight; only the lane's threads are inside the store
            assert held.inside == RUN_WRITE_THREADS
            # and a heartbeat is answered while they wait: it hands out a run
            pool.submit(api.next_run, agents[6]).result(timeout=10)
            assert held.most_inside == RUN_WRITE_THREADS
        finally:
            held.release.set()
        for answer in sent:
            assert answer.result().status_code == 200
    assert held.most_inside == RUN_WRITE_THREADS
    assert [len(api.ok(api.get(f"runs/{run}/history"))) for run in runs] == [1] * len(runs)
