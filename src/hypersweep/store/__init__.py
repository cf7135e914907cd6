"""The store: sweeps, runs, history, output and agents behind one interface.

``Store`` (with its contract in ``_base.py``) has two implementations: ``MemoryStore`` for tests
and ``SqlStore`` on SQLite or PostgreSQL, opened with ``open_store``.
"""

from hypersweep.store._base import RUN_TRANSITIONS, HistoryWrite, MakeParams, NewRun, Store
from hypersweep.store._kept import keep_sweep_runs
from hypersweep.store._migrate import UPGRADE_COMMAND, head_revision
from hypersweep.store._open import DB_FILENAME, default_data_dir, open_store
from hypersweep.store._records import (
    AgentRecord,
    AgentState,
    HistoryRow,
    KeyKind,
    KeyRecord,
    KeyRole,
    ProjectRecord,
    RunRecord,
    SweepRecord,
    SweepState,
)
from hypersweep.store.memory import MemoryStore
from hypersweep.store.sql import SqlStore

__all__ = [
    "DB_FILENAME",
    "RUN_TRANSITIONS",
    "UPGRADE_COMMAND",
    "AgentRecord",
    "AgentState",
    "HistoryRow",
    "HistoryWrite",
    "KeyKind",
    "KeyRecord",
    "KeyRole",
    "MakeParams",
    "MemoryStore",
    "NewRun",
    "ProjectRecord",
    "RunRecord",
    "SqlStore",
    "Store",
    "SweepRecord",
    "SweepState",
    "default_data_dir",
    "head_revision",
    "keep_sweep_runs",
    "open_store",
]
