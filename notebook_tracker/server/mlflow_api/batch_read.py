"""The one reader of MLflow's `runs/log-batch` (and `runs/log-metric`'s point): limits checked,
metric keys validated (the group commit stores the keys it is handed, server/ingest.py), params
and tags left to the store's rules. Runs on whichever thread reads the request: the server's
pool, the IO loop for a lone synchronous call (sync_calls.py), or the group writer's thread
for a batch of points (`batch_rows`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notebook_tracker import validation, wire
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.entities.logged_models import ModelMetric
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.server.ingest import Row
from notebook_tracker.server.mlflow_api.request import Params


def read_metric(item: Params) -> tuple[Metric, Params]:
    # Validated here, once: the group commit stores the keys it is handed (server/ingest.py).
    key = validation.validate_key(item.require("key"), "metric")
    value = item.double("value", required=True)
    timestamp = item.int64("timestamp")
    step = item.int64("step") or 0
    return Metric(key, value, now_ms() if timestamp is None else timestamp, step), item


def split_model_metrics(
    run_id: str, pairs: list[tuple[Metric, Params]]
) -> tuple[list[Metric], list[ModelMetric]]:
    """(points of the run only, points also of a logged model: those sent with a model_id)."""
    plain, of_models = [], []
    for metric, item in pairs:
        model_id = item.string("model_id")
        if not model_id:
            plain.append(metric)
            continue
        of_models.append(
            ModelMetric(
                metric.key,
                metric.value,
                metric.timestamp,
                metric.step,
                run_id,
                item.string("dataset_name") or None,
                item.string("dataset_digest") or None,
                model_id,
            )
        )
    return plain, of_models


@dataclass
class Batch:
    """A log-batch request as read once: the run's points, the models', params and tags."""

    run_id: str
    metrics: list[Metric]
    model_metrics: list[ModelMetric]
    params: list[Param]
    tags: list[RunTag]

    def points_only(self) -> bool:
        return not (self.params or self.tags or self.model_metrics)


def read_batch(req: Params) -> Batch:
    """The one reader of `runs/log-batch`: limits checked, metric keys validated (the group
    commit stores them as read), params and tags left to the store's rules."""
    run_id = req.run_id()
    plain = plain_metrics(req.raw("metrics"))
    messages = req.messages("metrics") if plain is None else []
    param_pairs = plain_pairs(req.raw("params"))
    if param_pairs is None:
        param_pairs = req.key_values("params", value_required=False)
    tag_pairs = plain_pairs(req.raw("tags"))
    if tag_pairs is None:
        tag_pairs = req.key_values("tags", value_required=False)
    metric_count = len(messages) if plain is None else len(plain)
    check_batch_limits(metric_count, len(param_pairs), len(tag_pairs))
    metrics, model_metrics = (
        (plain, [])
        if plain is not None
        else split_model_metrics(run_id, [read_metric(item) for item in messages])
    )
    return Batch(
        run_id,
        metrics,
        model_metrics,
        [Param(k, v) for k, v in param_pairs],
        [RunTag(k, v) for k, v in tag_pairs],
    )


def batch_rows(req: Params) -> list[Row] | None:
    """A log-batch's points as the group commit's rows, read on its writer thread; None when
    the batch holds none or also points of logged models (the store's log_batch takes it)."""
    if not req.raw("params") and not req.raw("tags"):  # the common shape: rows read directly
        run_id = req.run_id()
        rows = plain_rows(run_id, req.raw("metrics"))
        if rows:
            check_batch_limits(len(rows), 0, 0)
            return rows
    batch = read_batch(req)
    if not (batch.metrics and batch.points_only()):
        return None
    run_id = batch.run_id
    return [(run_id, m.key, m.value, m.timestamp, m.step) for m in batch.metrics]


_PLAIN_FIELDS = frozenset({"key", "value", "timestamp", "step"})


def plain_metrics(items: Any) -> list[Metric] | None:
    """The metrics of a batch whose every item is exactly {key, value, timestamp, step} with a
    key already validated, a float value and 64-bit integers; None sends the batch down the
    careful path (`_metric`), which reads every spelling and says what is wrong. A client
    replaying a backlog is bound by this parsing, so the common shape skips a wrapper per item.
    """
    rows = plain_rows("", items)
    return None if rows is None else [Metric(r[1], r[2], r[3], r[4]) for r in rows]


def plain_rows(run_id: str, items: Any) -> list[Row] | None:
    """`plain_metrics` as the group commit's rows of run `run_id`, without a Metric between."""
    if type(items) is not list:
        return None
    valid = validation.VALID_KEYS
    low, high = wire.INT64_MIN, wire.INT64_MAX
    out = []
    for item in items:
        if type(item) is not dict or item.keys() != _PLAIN_FIELDS:
            return None
        key, value, timestamp, step = item["key"], item["value"], item["timestamp"], item["step"]
        if (
            type(key) is not str
            or key not in valid
            or type(value) is not float
            or type(timestamp) is not int
            or type(step) is not int
            or not low <= timestamp <= high
            or not low <= step <= high
        ):
            return None
        out.append((run_id, key, value, timestamp, step))
    return out


_PAIR_FIELDS = frozenset({"key", "value"})


def plain_pairs(items: Any) -> list[tuple[str, str]] | None:
    """A batch's params or tags when absent or every item is exactly {key, value} of non-empty
    key and text without NUL; None sends them down the careful path (`Params.key_values`),
    which reads every spelling and says what is wrong. The store checks keys and lengths."""
    if items is None:
        return []
    if type(items) is not list:
        return None
    out = []
    for item in items:
        if type(item) is not dict or item.keys() != _PAIR_FIELDS:
            return None
        key, value = item["key"], item["value"]
        if type(key) is not str or type(value) is not str or not key:
            return None
        if "\x00" in key or "\x00" in value:
            return None
        out.append((key, value))
    return out


def check_batch_limits(n_metrics: int, n_params: int, n_tags: int) -> None:
    problems = []
    if n_metrics > wire.MAX_METRICS_PER_BATCH:
        problems.append(f"{n_metrics} metrics (at most {wire.MAX_METRICS_PER_BATCH})")
    if n_params > wire.MAX_PARAMS_TAGS_PER_BATCH:
        problems.append(f"{n_params} params (at most {wire.MAX_PARAMS_TAGS_PER_BATCH})")
    if n_tags > wire.MAX_PARAMS_TAGS_PER_BATCH:
        problems.append(f"{n_tags} tags (at most {wire.MAX_PARAMS_TAGS_PER_BATCH})")
    total = n_metrics + n_params + n_tags
    if total > wire.MAX_ENTITIES_PER_BATCH:
        problems.append(f"{total} entities in all (at most {wire.MAX_ENTITIES_PER_BATCH})")
    if problems:
        raise InvalidParameter(
            "A batch may hold at most 1000 metrics, 100 params and 100 tags (1000 entities in "
            f"all); this one has {', '.join(problems)}. Split it into several log-batch calls."
        )
