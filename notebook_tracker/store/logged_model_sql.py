"""Logged models (MLflow 3's LoggedModel) and what runs use and produce, on the SQL tracking
store's database (its engines: one pair per URI). Searches compile to SQL in
`logged_model_search.py`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

from sqlalchemy import Connection, and_, delete, insert, select, update

from notebook_tracker.clock import now_ms
from notebook_tracker.entities import LifecycleStage, PagedList
from notebook_tracker.entities.logged_models import (
    PENDING,
    READY,
    UPLOAD_FAILED,
    LoggedModel,
    ModelMetric,
)
from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.store import logged_model_search, rules
from notebook_tracker.store.engine import engines_for
from notebook_tracker.store.logged_model_base import SEARCH_MAX_RESULTS_DEFAULT, LoggedModelStore
from notebook_tracker.store.paging import decode_token, encode_token, query_key
from notebook_tracker.store.run_links_sql import RunLinksMixin
from notebook_tracker.store.schema import experiments as experiments_t
from notebook_tracker.store.schema import logged_model_metrics as metrics_t
from notebook_tracker.store.schema import logged_model_params as params_t
from notebook_tracker.store.schema import logged_model_tags as tags_t
from notebook_tracker.store.schema import logged_models as models_t
from notebook_tracker.store.schema import runs as runs_t
from notebook_tracker.store.schema_version import ensure_schema


def _missing(model_id: str) -> NotFound:
    return NotFound(f"Logged model with ID '{model_id}' not found.")


def require_model(conn: Connection, model_id: str) -> None:
    row = conn.execute(
        select(models_t.c.lifecycle_stage).where(models_t.c.model_id == model_id)
    ).first()
    if row is None or row.lifecycle_stage != LifecycleStage.ACTIVE:
        raise _missing(model_id)


def insert_model_metrics(conn: Connection, metrics: Sequence[ModelMetric]) -> None:
    """Points of logged models (each names its `model_id`), in the caller's transaction."""
    for model_id in {m.model_id for m in metrics}:
        require_model(conn, str(model_id))
    conn.execute(
        insert(metrics_t),
        [
            {
                "model_id": m.model_id,
                "key": m.key,
                "value": None if math.isnan(m.value) else m.value,
                "is_nan": math.isnan(m.value),
                "timestamp": m.timestamp,
                "step": m.step,
                "run_id": m.run_id,
                "dataset_name": m.dataset_name,
                "dataset_digest": m.dataset_digest,
            }
            for m in metrics
        ],
    )


class SqlLoggedModelStore(RunLinksMixin, LoggedModelStore):
    """Reads with `reader`, writes with `writer` (the engines of the URI's tracking store)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.reader, self.writer = engines_for(uri)
        ensure_schema(self.writer)

    # -- models -------------------------------------------------------------------------------
    def create(
        self,
        experiment_id: str,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        exp_id = _int_id(experiment_id)
        name = rules.optional_text("name", name, rules.MAX_MODEL_NAME_LENGTH)
        model_type = rules.optional_text("model_type", model_type, rules.MAX_MODEL_NAME_LENGTH)
        params, tags = rules.param_map(params), rules.tag_map(tags)
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()
        with self.writer.begin() as conn:
            exp = conn.execute(
                select(experiments_t.c.artifact_location, experiments_t.c.lifecycle_stage).where(
                    experiments_t.c.experiment_id == exp_id
                )
            ).first()
            if exp is None:
                raise NotFound(f"No experiment with id={experiment_id} exists.")
            if exp.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameter(
                    f"Experiment {experiment_id} is deleted: restore it before logging models."
                )
            known = select(runs_t.c.run_uuid).where(runs_t.c.run_uuid == source_run_id)
            if source_run_id and conn.execute(known).first() is None:
                raise NotFound(f"Run with id={source_run_id} not found.")
            conn.execute(
                insert(models_t).values(
                    model_id=model_id,
                    experiment_id=exp_id,
                    name=name or model_id,
                    artifact_uri=f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
                    status=PENDING,
                    model_type=model_type or None,
                    source_run_id=source_run_id or None,
                    creation_timestamp_ms=now,
                    last_updated_timestamp_ms=now,
                    lifecycle_stage=LifecycleStage.ACTIVE,
                )
            )
            if params:
                conn.execute(
                    insert(params_t),
                    [{"model_id": model_id, "key": k, "value": v} for k, v in params.items()],
                )
            if tags:
                conn.execute(
                    insert(tags_t),
                    [{"model_id": model_id, "key": k, "value": v} for k, v in tags.items()],
                )
        return self.get(model_id)

    def get(self, model_id: str) -> LoggedModel:
        with self.reader.connect() as conn:
            found = self._load(conn, [model_id])
        if not found:
            raise _missing(model_id)
        return found[0]

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        if status not in (READY, UPLOAD_FAILED):
            raise InvalidParameter(
                f"Invalid status {status!r} to finalize a logged model: use {READY} or "
                f"{UPLOAD_FAILED}."
            )
        with self.writer.begin() as conn:
            require_model(conn, model_id)
            conn.execute(
                update(models_t)
                .where(models_t.c.model_id == model_id)
                .values(status=status, last_updated_timestamp_ms=now_ms())
            )
        return self.get(model_id)

    def delete(self, model_id: str) -> None:
        with self.writer.begin() as conn:
            require_model(conn, model_id)
            conn.execute(
                update(models_t)
                .where(models_t.c.model_id == model_id)
                .values(lifecycle_stage=LifecycleStage.DELETED, last_updated_timestamp_ms=now_ms())
            )

    def set_tags(self, model_id: str, tags: dict[str, str]) -> LoggedModel:
        tags = rules.tag_map(tags)
        with self.writer.begin() as conn:
            require_model(conn, model_id)
            if tags:
                conn.execute(
                    delete(tags_t).where(
                        and_(tags_t.c.model_id == model_id, tags_t.c.key.in_(list(tags)))
                    )
                )
                conn.execute(
                    insert(tags_t),
                    [{"model_id": model_id, "key": k, "value": v} for k, v in tags.items()],
                )
                self._touch(conn, model_id)
        return self.get(model_id)

    def delete_tag(self, model_id: str, key: str) -> None:
        with self.writer.begin() as conn:
            require_model(conn, model_id)
            done = conn.execute(
                delete(tags_t).where(and_(tags_t.c.model_id == model_id, tags_t.c.key == key))
            ).rowcount
            if not done:
                raise NotFound(f"No tag with key {key!r} on logged model '{model_id}'.")
            self._touch(conn, model_id)

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        params = rules.param_map(params)
        with self.writer.begin() as conn:
            require_model(conn, model_id)
            existing = dict(
                conn.execute(
                    select(params_t.c.key, params_t.c.value).where(params_t.c.model_id == model_id)
                ).all()
            )
            for key, value in params.items():
                if key in existing and existing[key] != value:
                    raise InvalidParameter(
                        f"Param {key!r} of logged model '{model_id}' is already "
                        f"{existing[key]!r}; it cannot change to {value!r}."
                    )
            fresh = [
                {"model_id": model_id, "key": k, "value": v}
                for k, v in params.items()
                if k not in existing
            ]
            if fresh:
                conn.execute(insert(params_t), fresh)
                self._touch(conn, model_id)

    def _touch(self, conn: Connection, model_id: str) -> None:
        conn.execute(
            update(models_t)
            .where(models_t.c.model_id == model_id)
            .values(last_updated_timestamp_ms=now_ms())
        )

    def _load(self, conn: Connection, ids: Sequence[str]) -> list[LoggedModel]:
        if not ids:
            return []
        rows = conn.execute(
            select(models_t).where(
                and_(
                    models_t.c.model_id.in_(list(ids)),
                    models_t.c.lifecycle_stage == LifecycleStage.ACTIVE,
                )
            )
        ).all()
        by_id = {
            r.model_id: LoggedModel(
                model_id=r.model_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_uri=r.artifact_uri,
                status=r.status,
                creation_timestamp_ms=r.creation_timestamp_ms,
                last_updated_timestamp_ms=r.last_updated_timestamp_ms,
                model_type=r.model_type,
                source_run_id=r.source_run_id,
                status_message=r.status_message,
            )
            for r in rows
        }
        wanted = list(by_id)
        for r in conn.execute(select(tags_t).where(tags_t.c.model_id.in_(wanted))):
            by_id[r.model_id].tags[r.key] = r.value or ""
        for r in conn.execute(select(params_t).where(params_t.c.model_id.in_(wanted))):
            by_id[r.model_id].params[r.key] = r.value
        for r in conn.execute(
            select(metrics_t).where(metrics_t.c.model_id.in_(wanted)).order_by(metrics_t.c.id)
        ):
            by_id[r.model_id].metrics.append(
                ModelMetric(
                    r.key,
                    math.nan if r.is_nan else r.value,
                    r.timestamp,
                    r.step,
                    r.run_id,
                    r.dataset_name,
                    r.dataset_digest,
                )
            )
        return [by_id[i] for i in ids if i in by_id]

    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[tuple[str, bool]] = (),
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        max_results = logged_model_search.check_max(max_results)
        order = [(str(f), bool(a)) for f, a in order_by]
        bound = query_key("logged-models", sorted(experiment_ids), filter_string or "", order)
        offset = decode_token(page_token, bound)
        query = logged_model_search.build_search(
            _known_ids(experiment_ids), filter_string, order, offset, max_results + 1
        )
        with self.reader.connect() as conn:
            ids = [r[0] for r in conn.execute(query)]
            models = self._load(conn, ids[:max_results])
        more = len(ids) > max_results
        return PagedList(models, encode_token(offset + max_results, bound) if more else None)


def _int_id(experiment_id: str) -> int:
    try:
        exp_id = int(experiment_id)
    except (TypeError, ValueError):
        exp_id = -1
    if not 0 <= exp_id < 2**31:  # the column is a 32-bit INTEGER on PostgreSQL
        raise NotFound(f"No experiment with id={experiment_id!r} exists.")
    return exp_id


def _known_ids(experiment_ids: Sequence[str]) -> list[int]:
    """The ids that could name an experiment; others match nothing."""
    out = []
    for experiment_id in experiment_ids:
        try:
            out.append(_int_id(experiment_id))
        except NotFound:
            continue
    return out
