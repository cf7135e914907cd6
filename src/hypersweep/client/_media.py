"""W&B's media types (``wandb.Image``, ``Table``, ``Histogram``, ...) and ``wandb.plot``, so
scripts that log them keep running under ``import hypersweep as wandb``.

hypersweep stores numbers for sweeps, not media. What has a small JSON form is stored as such:

- ``Histogram``: ``{"_type": "histogram", "bins": [...], "counts": [...]}`` (``len(bins)`` is
  ``len(counts) + 1``, like ``numpy.histogram``);
- ``Table`` of at most ``MAX_TABLE_CELLS`` plain cells: ``{"_type": "table", "columns": [...],
  "data": [[...], ...]}``.

Anything else (images, audio, video, HTML, 3D objects, charts, big tables) is dropped from the
logged row, with one warning per kind for the whole process. A key whose value holds such an
object (also inside a list) is dropped as a whole, so a history row never has half of a value;
``log()`` spreads nested dicts into dotted keys first (``_rows``), so there only the dotted key
holding the object is dropped.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hypersweep.client._config import warn_once

__all__ = [
    "MAX_TABLE_CELLS",
    "Audio",
    "Histogram",
    "Html",
    "Image",
    "Media",
    "Object3D",
    "Table",
    "Video",
    "loggable",
    "plot",
]

MAX_TABLE_CELLS = 10_000  # more than this is a dataset, not a value of a history row
MAX_BINS = 512  # W&B's own limit for a histogram


class _Dropped:
    """Marks a value ``loggable`` leaves out of the row."""


DROPPED = _Dropped()


class Media:
    """Base of the media types: accepts W&B's arguments; logged, it is dropped with a warning.

    Subclasses with a simple stored form override ``_stored``.
    """

    _kind = "media"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs

    def _stored(self) -> Any:
        """The JSON form kept in the history, or ``DROPPED``."""
        return DROPPED

    def _why_dropped(self) -> str:
        return "hypersweep stores only numbers, histograms and small tables"

    def __repr__(self) -> str:
        return f"<hypersweep.{self._kind} (not stored)>"


class Image(Media):
    """``wandb.Image(data_or_path, mode=None, caption=None, ...)``: accepted, not stored."""

    _kind = "Image"


class Audio(Media):
    """``wandb.Audio(data_or_path, sample_rate=None, caption=None)``: accepted, not stored."""

    _kind = "Audio"


class Video(Media):
    """``wandb.Video(data_or_path, caption=None, fps=4, format=None)``: accepted, not stored."""

    _kind = "Video"


class Html(Media):
    """``wandb.Html(data, inject=True)``: accepted, not stored."""

    _kind = "Html"


class Object3D(Media):
    """``wandb.Object3D(data_or_path)``: accepted, not stored."""

    _kind = "Object3D"


class _Chart(Media):
    """What a ``wandb.plot.*`` function returns: accepted, not stored."""

    _kind = "plot"

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kind = f"plot.{name}"

    def _why_dropped(self) -> str:
        return "hypersweep has no charts; log the numbers behind the chart instead"


class Histogram(Media):
    """``wandb.Histogram(sequence=None, np_histogram=None, num_bins=64)``: stored as bins and
    counts.

    Attributes:
        bins: the ``num_bins + 1`` bin edges.
        histogram: the count of values in each bin.

    Raises:
        ValueError: neither ``sequence`` nor ``np_histogram``, a ``num_bins`` outside 1-512, or an
            ``np_histogram`` whose edges are not one more than its counts.
    """

    _kind = "Histogram"

    def __init__(
        self,
        sequence: Sequence[Any] | Any = None,
        np_histogram: tuple[Sequence[Any], Sequence[Any]] | None = None,
        num_bins: int = 64,
    ) -> None:
        super().__init__()
        if np_histogram is not None:
            counts, edges = (_plain_list(part) for part in np_histogram)
            if len(edges) != len(counts) + 1:
                raise ValueError(
                    f"Histogram(np_histogram=...): got {len(counts)} counts and {len(edges)} "
                    "bin edges; pass the (counts, edges) pair numpy.histogram returns"
                )
            self.histogram: list[Any] = counts
            self.bins: list[Any] = edges
            return
        if sequence is None:
            raise ValueError("Histogram() needs sequence=... or np_histogram=(counts, edges)")
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
            raise ValueError(f"Histogram(num_bins={num_bins!r}): use an int from 1 to {MAX_BINS}")
        if num_bins > MAX_BINS:
            raise ValueError(f"Histogram(num_bins={num_bins}): at most {MAX_BINS} bins")
        self.histogram, self.bins = _histogram(_plain_list(sequence), num_bins)

    def _stored(self) -> Any:
        return {"_type": "histogram", "bins": self.bins, "counts": self.histogram}


class Table(Media):
    """``wandb.Table(columns=None, data=None, rows=None, dataframe=None, ...)``.

    Stored as columns and rows when it has at most ``MAX_TABLE_CELLS`` cells and every cell is
    plain data (numbers, strings, lists); otherwise dropped with a warning. ``add_data``,
    ``add_column``, ``get_column`` and ``get_dataframe`` work as in W&B.
    """

    _kind = "Table"

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        rows: Sequence[Sequence[Any]] | None = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: Any = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = None,
    ) -> None:
        super().__init__()
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.values.tolist()
        rows_in = data if data is not None else rows
        self.data: list[list[Any]] = [list(row) for row in rows_in or []]
        width = len(self.data[0]) if self.data else 0
        self.columns: list[str] = (
            list(columns) if columns is not None else [f"col{i}" for i in range(width)]
        )
        for number, row in enumerate(self.data):
            self._check_width(row, f"row {number}")

    def _check_width(self, row: Sequence[Any], what: str) -> None:
        if len(row) != len(self.columns):
            raise ValueError(
                f"Table: {what} has {len(row)} values but the table has {len(self.columns)} "
                f"columns ({', '.join(self.columns)})"
            )

    def add_data(self, *data: Any) -> None:
        self._check_width(data, "add_data(...)")
        self.data.append(list(data))

    def add_column(self, name: str, data: Sequence[Any], optional: bool = False) -> None:
        if name in self.columns:
            raise ValueError(f"Table.add_column({name!r}): the table already has that column")
        if self.data and len(data) != len(self.data):
            raise ValueError(
                f"Table.add_column({name!r}): {len(data)} values for {len(self.data)} rows"
            )
        if not self.data:
            self.data = [[] for _ in data]
        self.columns.append(name)
        for row, value in zip(self.data, data, strict=True):
            row.append(value)

    def get_column(self, name: str, convert_to: str | None = None) -> list[Any]:
        if name not in self.columns:
            raise ValueError(
                f"Table.get_column({name!r}): no such column; it has {', '.join(self.columns)}"
            )
        index = self.columns.index(name)
        return [row[index] for row in self.data]

    def get_dataframe(self) -> Any:
        pd = importlib.import_module("pandas")
        return pd.DataFrame(self.data, columns=self.columns)

    def _stored(self) -> Any:
        if len(self.data) * max(len(self.columns), 1) > MAX_TABLE_CELLS:
            return DROPPED
        data = loggable(self.data)
        if data is DROPPED:
            return DROPPED
        return {"_type": "table", "columns": list(self.columns), "data": data}

    def _why_dropped(self) -> str:
        return (
            f"hypersweep stores a table only with at most {MAX_TABLE_CELLS} cells of plain data "
            "(numbers, strings, lists)"
        )


def _plain_list(values: Any) -> list[Any]:
    convert = getattr(values, "tolist", None)
    if callable(convert):
        values = convert()
    if not isinstance(values, (list, tuple)):
        values = list(values)
    out: list[Any] = []
    for value in values:
        item = getattr(value, "item", None)
        out.append(item() if callable(item) else value)
    return out


def _histogram(values: list[Any], num_bins: int) -> tuple[list[Any], list[float]]:
    """Counts and edges like ``numpy.histogram``; numpy when it is installed (its edge rules
    are the reference), the same arithmetic in Python otherwise."""
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        np_counts, np_edges = np.histogram(np.asarray(values, dtype=float), bins=num_bins)
        return [int(c) for c in np_counts], [float(e) for e in np_edges]
    numbers = [float(v) for v in values]
    if any(not math.isfinite(v) for v in numbers):
        raise ValueError("Histogram(sequence=...): the values must be finite numbers")
    low, high = (min(numbers), max(numbers)) if numbers else (0.0, 1.0)
    if low == high:  # numpy widens an empty range by 0.5 on each side
        low, high = low - 0.5, high + 0.5
    width = (high - low) / num_bins
    edges = [low + i * width for i in range(num_bins)] + [high]
    counts = [0] * num_bins
    for value in numbers:
        index = min(int((value - low) / width), num_bins - 1)
        counts[index] += 1
    return counts, edges


def loggable(value: Any) -> Any:
    """``value`` with media replaced by their stored form, or ``DROPPED`` when it holds media
    that are not stored (warning once per kind)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Media):
        stored = value._stored()
        if stored is DROPPED:
            warn_once(
                f"media:{value._kind}",
                f"wandb.{value._kind} values are not stored ({value._why_dropped()}); the key "
                "is left out of the logged row. This warning is shown once.",
            )
        return stored
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            converted = loggable(item)
            if converted is DROPPED:
                return DROPPED
            out[str(key)] = converted
        return out
    if isinstance(value, (list, tuple)):
        items = [loggable(item) for item in value]
        return DROPPED if any(item is DROPPED for item in items) else items
    return value


class _Plot:
    """``wandb.plot``: every chart function (``line``, ``scatter``, ``bar``, ``histogram``,
    ``line_series``, ``confusion_matrix``, ``pr_curve``, ``roc_curve``, ...) returns a chart
    that is accepted and not stored."""

    def __getattr__(self, name: str) -> Callable[..., _Chart]:
        if name.startswith("_"):
            raise AttributeError(name)

        def chart(*args: Any, **kwargs: Any) -> _Chart:
            return _Chart(name, *args, **kwargs)

        chart.__name__ = name
        return chart

    def __repr__(self) -> str:
        return "<hypersweep.plot: charts are accepted and not stored>"


plot = _Plot()
