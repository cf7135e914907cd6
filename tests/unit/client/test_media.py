"""W&B media in log(): stored where simple, otherwise left out with one warning per kind."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

import hypersweep
from hypersweep.client import _config
from hypersweep.client._media import MAX_TABLE_CELLS, _histogram
from hypersweep.client._offline import read_offline_run


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_config, "_warned", set())


def history_of(run: hypersweep.Run) -> list[dict[str, Any]]:
    run.finish()
    rows = read_offline_run(Path(run.dir)).history
    return [{k: v for k, v in m.items() if not k.startswith("_")} for _, m in rows]


def test_a_histogram_is_stored_as_bins_and_counts() -> None:
    run = hypersweep.init(mode="offline")
    run.log({"weights": hypersweep.Histogram([1, 2, 2, 3, 4], num_bins=3), "loss": 0.5})
    [row] = history_of(run)
    assert row["loss"] == 0.5
    hist = row["weights"]
    assert hist["_type"] == "histogram"
    assert hist["counts"] == [1, 2, 2]
    assert hist["bins"] == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_a_histogram_from_numpy_histogram_keeps_its_counts_and_edges() -> None:
    hist = hypersweep.Histogram(np_histogram=([3, 1], [0.0, 0.5, 1.0]))
    assert (hist.histogram, hist.bins) == ([3, 1], [0.0, 0.5, 1.0])


def test_the_pure_python_histogram_agrees_with_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [0.1, 0.4, 0.45, 0.9, 1.0, 1.0, -0.3]
    with_numpy = _histogram(values, 4)
    real_import = builtins.__import__

    def no_numpy(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "numpy":
            raise ImportError("no numpy")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numpy)
    counts, edges = _histogram(values, 4)
    assert counts == with_numpy[0]
    assert edges == pytest.approx(with_numpy[1])
    assert _histogram([2.0, 2.0], 2) == ([0, 2], pytest.approx([1.5, 2.0, 2.5]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs sequence="),
        ({"sequence": [1], "num_bins": 0}, r"num_bins=0\): use an int from 1 to 512"),
        ({"sequence": [1], "num_bins": 600}, "at most 512 bins"),
        ({"np_histogram": ([1, 2], [0, 1])}, "got 2 counts and 2 bin edges"),
    ],
)
def test_a_bad_histogram_says_what_is_wrong(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hypersweep.Histogram(**kwargs)


def test_a_small_table_is_stored_as_columns_and_data() -> None:
    table = hypersweep.Table(columns=["epoch", "acc"], data=[[0, 0.5]])
    table.add_data(1, 0.75)
    table.add_column("note", ["a", "b"])
    assert table.get_column("acc") == [0.5, 0.75]
    run = hypersweep.init(mode="offline")
    run.log({"results": table})
    [row] = history_of(run)
    assert row["results"] == {
        "_type": "table",
        "columns": ["epoch", "acc", "note"],
        "data": [[0, 0.5, "a"], [1, 0.75, "b"]],
    }


def test_a_table_row_of_the_wrong_width_is_refused() -> None:
    table = hypersweep.Table(columns=["a", "b"])
    with pytest.raises(ValueError, match=r"add_data\(...\) has 1 values but the table has 2"):
        table.add_data(1)


def test_a_big_table_is_left_out_with_one_warning(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [[i] for i in range(MAX_TABLE_CELLS + 1)]
    run = hypersweep.init(mode="offline")
    run.log({"big": hypersweep.Table(columns=["i"], data=rows), "loss": 1.0})
    run.log({"big": hypersweep.Table(columns=["i"], data=rows), "loss": 2.0})
    assert history_of(run) == [{"loss": 1.0}, {"loss": 2.0}]
    assert capsys.readouterr().err.count("wandb.Table values are not stored") == 1


def test_images_and_other_media_are_left_out_with_one_warning_per_kind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = hypersweep.init(mode="offline")
    for step in range(3):
        run.log(
            {
                "loss": float(step),
                "sample": hypersweep.Image([[0, 1]], caption="x"),
                "samples": [hypersweep.Image(None), hypersweep.Image(None)],
                "audio": hypersweep.Audio([0.0], sample_rate=16000),
                "video": hypersweep.Video(None, fps=4),
                "page": hypersweep.Html("<b>hi</b>"),
                "cloud": hypersweep.Object3D(None),
                "chart": hypersweep.plot.line(None, "x", "y", title="t"),
            }
        )
    assert history_of(run) == [{"loss": 0.0}, {"loss": 1.0}, {"loss": 2.0}]
    err = capsys.readouterr().err
    for kind in ("Image", "Audio", "Video", "Html", "Object3D", "plot.line"):
        assert err.count(f"wandb.{kind} values are not stored") == 1, kind


def test_an_image_in_a_nested_dict_leaves_out_only_its_dotted_key() -> None:
    run = hypersweep.init(mode="offline")
    run.log({"val": {"acc": 0.5, "example": hypersweep.Image(None)}, "loss": 0.1})
    run.log({"val": {"acc": 0.6, "hist": hypersweep.Histogram([1.0, 2.0], num_bins=1)}})
    rows = history_of(run)
    assert rows[0] == {"val.acc": 0.5, "loss": 0.1}
    assert rows[1]["val.acc"] == 0.6
    assert rows[1]["val.hist"]["counts"] == [2]


def test_a_list_holding_an_image_is_left_out_as_a_whole() -> None:
    run = hypersweep.init(mode="offline")
    run.log({"examples": [1, hypersweep.Image(None)], "loss": 0.1})
    assert history_of(run) == [{"loss": 0.1}]


def test_every_plot_function_returns_a_chart() -> None:
    for name in ("line", "scatter", "bar", "histogram", "line_series", "confusion_matrix"):
        chart = getattr(hypersweep.plot, name)(None)
        assert repr(chart) == f"<hypersweep.plot.{name} (not stored)>"


def test_media_set_on_the_summary_follow_the_same_rules(capsys: pytest.CaptureFixture[str]) -> None:
    run = hypersweep.init(mode="disabled")
    run.summary["dist"] = hypersweep.Histogram([1, 2], num_bins=1)
    run.summary.update({"picture": hypersweep.Image(None), "acc": 0.9})
    assert run.summary["dist"]["counts"] == [2]
    assert "picture" not in run.summary
    assert run.summary["acc"] == 0.9
    assert "wandb.Image values are not stored" in capsys.readouterr().err
