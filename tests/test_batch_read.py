"""The log-batch reader's quick path for params and tags (server/mlflow_api/batch_read.py):
it reads exactly what the careful reader reads, and leaves everything else to it."""

from __future__ import annotations

from typing import Any

import pytest

from notebook_tracker.errors import TrackerError
from notebook_tracker.server.mlflow_api.batch_read import plain_pairs, read_batch
from notebook_tracker.server.mlflow_api.request import Params

SHAPES: list[Any] = [
    None,
    [],
    [{"key": "a", "value": "1"}],
    [{"key": "a", "value": "1"}, {"key": "b", "value": ""}],
    [{"key": "a", "value": "x" * 7000}],  # lengths are the store's to check
    [{"key": "a", "value": 5}],  # a number: read as text by the careful reader
    [{"key": "a", "value": None}],
    [{"key": "a"}],
    [{"value": "1"}],
    [{"key": "", "value": "1"}],
    [{"key": "a", "value": "1", "extra": "x"}],
    [{"key": "a\x00", "value": "1"}],
    [{"key": "a", "value": "1\x00"}],
    [{"key": 7, "value": "1"}],
    [{"key": ["a"], "value": "1"}],
    ["a=1"],
    [["a", "1"]],
    {"key": "a", "value": "1"},
    "a",
]


def _careful(items: Any) -> Any:
    try:
        return Params({"tags": items}).key_values("tags", value_required=False)
    except TrackerError as error:
        return type(error), str(error)


@pytest.mark.parametrize("items", SHAPES, ids=[repr(s)[:40] for s in SHAPES])
def test_the_quick_path_reads_what_the_careful_reader_reads_or_leaves_it_to_it(items):
    quick = plain_pairs(items)
    if quick is not None:
        assert quick == _careful(items)


def test_the_usual_shapes_take_the_quick_path():
    assert plain_pairs(None) == []
    assert plain_pairs([{"key": "a", "value": "1"}, {"key": "b", "value": ""}]) == [
        ("a", "1"),
        ("b", ""),
    ]


@pytest.mark.parametrize("field", ["params", "tags"])
def test_a_batch_the_quick_path_declines_still_gets_the_careful_readers_error(field):
    body = {"run_id": "r" * 32, field: [{"key": "", "value": "1"}]}
    with pytest.raises(TrackerError, match="Missing value for required parameter 'key'"):
        read_batch(Params(body))


RUN = "a" * 32
METRIC_SHAPES: list[Any] = [
    [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}],
    [{"key": f"m{k}", "value": k / 3, "timestamp": 10, "step": 2} for k in range(100)],
    [{"key": "loss", "value": 5, "timestamp": 1, "step": 0}],  # an int: the careful reader's
    [{"key": "loss", "value": 0.5, "timestamp": 1}],  # no step
    [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 2**63}],  # past 64 bits
    [{"key": "../x", "value": 0.5, "timestamp": 1, "step": 0}],
    [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0, "model_id": "m-1"}],
    [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}] * 1001,  # over the limit
    [],
    "loss",
]


def _rows_or_error(read: Any, body: dict[str, Any]) -> Any:
    try:
        return read(Params(body))
    except TrackerError as error:
        return type(error), str(error)


@pytest.mark.parametrize("metrics", METRIC_SHAPES, ids=[repr(s)[:40] for s in METRIC_SHAPES])
def test_a_batch_of_points_reads_as_the_careful_reader_reads_it(metrics):
    from notebook_tracker.server.mlflow_api.batch_read import batch_rows

    def careful(req: Params) -> Any:
        batch = read_batch(req)
        if not (batch.metrics and batch.points_only()):
            return None
        return [(batch.run_id, m.key, m.value, m.timestamp, m.step) for m in batch.metrics]

    for body in ({"run_id": RUN, "metrics": metrics}, {"run_id": "bad id", "metrics": metrics}):
        assert _rows_or_error(batch_rows, body) == _rows_or_error(careful, body)
