"""The MongoDB-style filter subset of ``Api.runs(filters=...)``, on plain run documents."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hypersweep.client._public_api import _spread, check_filters, matches
from hypersweep.errors import HypersweepError

RUN = {
    "id": "r1",
    "name": "bright-fox-3",
    "state": "finished",
    "sweep": "s1",
    "created_at": "2026-01-02T03:04:05+00:00",
    "config": {"lr": 0.05, "opt": {"name": "adam"}, "layers.count": 3},
    "summary_metrics": {"loss": 0.2, "note": "ok"},
}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, True),
        ({"state": "finished"}, True),
        ({"state": "failed"}, False),
        ({"config.lr": 0.05}, True),
        ({"config.lr.value": 0.05}, True),  # W&B's spelling of a config value
        ({"config.opt.name": "adam"}, True),  # nested keys, dotted
        ({"config.layers.count": 3}, True),  # a flat key with a dot in it
        ({"config.lr": {"$gt": 0.01}}, True),
        ({"config.lr": {"$gt": 0.01, "$lt": 0.05}}, False),
        ({"config.lr": {"$gte": 0.05, "$lte": 0.05}}, True),
        ({"config.lr": {"$ne": 0.1}}, True),
        ({"config.missing": {"$ne": 1}}, True),
        ({"config.missing": {"$gt": 0}}, False),
        ({"config.opt.name": {"$in": ["sgd", "adam"]}}, True),
        ({"config.opt.name": {"$nin": ["sgd", "adam"]}}, False),
        ({"config.lr": {"$exists": True}}, True),
        ({"config.momentum": {"$exists": False}}, True),
        ({"name": {"$regex": "^bright"}}, True),
        ({"display_name": {"$regex": "^dull"}}, False),
        ({"summary_metrics.loss": {"$lt": 0.5}}, True),
        ({"summary.loss": {"$lt": 0.1}}, False),
        ({"summary_metrics.note": {"$gt": 1}}, False),  # text vs number: no match, no crash
        ({"created_at": {"$gt": "2026-01-01"}}, True),
        ({"$or": [{"state": "failed"}, {"config.lr": 0.05}]}, True),
        ({"$and": [{"state": "finished"}, {"config.lr": 0.1}]}, False),
        ({"$nor": [{"state": "failed"}, {"state": "crashed"}]}, True),
        ({"sweep": "s1", "id": "r1"}, True),
    ],
)
def test_matches(filters: dict[str, Any], expected: bool) -> None:
    check_filters(filters)
    assert matches(RUN, filters) is expected


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"config.lr": {"$size": 1}}, "filters.config.lr: operator '$size' is not supported"),
        ({"$text": {"$search": "x"}}, "filters: operator '$text' is not supported"),
        ({"$or": [{"state": {"$type": "string"}}]}, "filters.$or[0].state: operator '$type'"),
        ({"tags": {"$in": ["a"]}}, "field 'tags' is not supported"),
        ({"$or": "state"}, "expected a list of filters"),
    ],
)
def test_unsupported_filters_are_named(filters: dict[str, Any], message: str) -> None:
    with pytest.raises(HypersweepError, match=re.escape(message)):
        check_filters(filters)


def test_the_error_lists_what_is_supported() -> None:
    with pytest.raises(HypersweepError) as error:
        check_filters({"config.lr": {"$mod": [2, 0]}})
    assert "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $regex" in str(error.value)


def test_samples_spread_evenly_keeping_the_first_and_last_row() -> None:
    rows = [{"_step": i} for i in range(10)]
    assert [r["_step"] for r in _spread(rows, 4)] == [0, 3, 6, 9]
    assert [r["_step"] for r in _spread(rows, 1)] == [9]
