"""The SQL tracking store: SQLite by default, PostgreSQL for teams, through SQLAlchemy Core."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update

from notebook_tracker import config, env, liveness
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import (
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from notebook_tracker.entities.logged_models import ModelMetric
from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.store import pg_upserts, rules, sqlite_rows
from notebook_tracker.store import sql_statements as q
from notebook_tracker.store.background_pass import BackgroundPass
from notebook_tracker.store.base import (
    TrackingStore,
)
from notebook_tracker.store.engine import engines_for
from notebook_tracker.store.latest_folding import fold_now, fold_runs
from notebook_tracker.store.logged_model_sql import insert_model_metrics
from notebook_tracker.store.metric_chunks import latest_points, pack_rows
from notebook_tracker.store.metric_compaction import DueKeys
from notebook_tracker.store.metric_settling import SETTLE_INTERVAL_S, SettlerMixin
from notebook_tracker.store.new_runs import new_run
from notebook_tracker.store.pg_metric_write import PgMetricWriter
from notebook_tracker.store.run_packer import PACK_INTERVAL_S, PackerMixin
from notebook_tracker.store.schema import runs as runs_t
from notebook_tracker.store.schema import tags as tags_t
from notebook_tracker.store.schema_version import ensure_schema
from notebook_tracker.store.sql_experiments import ExperimentsMixin
from notebook_tracker.store.sql_ingest import IngestMixin
from notebook_tracker.store.sql_liveness import REAP_INTERVAL_S, LivenessMixin
from notebook_tracker.store.sql_metric_write import (
    MetricWriter,
    SqliteMetricWriter,
    compact_due,
    upsert_latest_points,
)
from notebook_tracker.store.sql_reads import RunReadsMixin

DEFAULT_EXPERIMENT_ID = "0"


# A tag set to the value it has writes nothing (as q.upsert_tags); many rows a statement.
_PG_TAGS = pg_upserts.split(
    f'{sqlite_rows.INSERT_TAG} ON CONFLICT ("run_uuid", "key") DO UPDATE SET '
    '"value" = excluded."value" WHERE "tags"."value" IS DISTINCT FROM excluded."value"'
)


class SqlStore(
    ExperimentsMixin,
    LivenessMixin,
    PackerMixin,
    SettlerMixin,
    RunReadsMixin,
    IngestMixin,
    TrackingStore,
):
    def __init__(self, uri: str, default_artifact_root: str | None = None) -> None:
        self.uri = uri
        self.reader, self.writer = engines_for(uri)
        self.artifact_root = default_artifact_root or config.default_artifact_root(uri)
        self.heartbeat_timeout_ms = int(env.heartbeat_timeout_s() * 1000)
        self._reaper = BackgroundPass("notebook-tracker-reaper", REAP_INTERVAL_S)
        self._packer = BackgroundPass("notebook-tracker-packer", PACK_INTERVAL_S)
        self._settler = BackgroundPass("notebook-tracker-settler", SETTLE_INTERVAL_S)
        self.compaction_due = DueKeys()
        self._sqlite_metrics = (
            SqliteMetricWriter(self.writer, self.compaction_due)
            if self.writer.dialect.name == "sqlite"
            and self.writer.url.database not in (None, "", ":memory:")  # one database per thread
            else None
        )
        # Points written without SQLAlchemy: SQLite's driver, or one statement on psycopg2.
        self._fast_metrics: MetricWriter | None = self._sqlite_metrics or (
            PgMetricWriter(self.writer, self.compaction_due)
            if self.writer.dialect.name == "postgresql" and self.writer.dialect.driver == "psycopg2"
            else None
        )
        ensure_schema(self.writer)
        self._ensure_default_experiment()

    # -- runs --------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        record_owner: bool = True,
    ) -> Run:
        exp_id = self._experiment_id_int(experiment_id)
        run = new_run(user_id, start_time, tags, run_name, parent_run_id, record_owner)
        with self.writer.begin() as conn:
            exp = conn.execute(q.EXPERIMENT_FOR_RUN, {"exp_id": exp_id}).first()
            if exp is None:
                raise NotFound(f"No experiment with id={experiment_id} exists.")
            if exp.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameter(
                    f"Experiment '{exp.name}' (id {experiment_id}) is deleted: restore it or use "
                    "another experiment."
                )
            artifact_uri = f"{exp.artifact_location}/{run.run_id}/artifacts"
            conn.execute(q.INSERT_RUN, run.row(exp_id, artifact_uri))
            conn.execute(q.INSERT_TAGS, run.tag_rows())
        return run.run(exp_id, artifact_uri)

    @staticmethod
    def _info(r: Any) -> RunInfo:
        return RunInfo(
            run_id=r.run_uuid,
            experiment_id=str(r.experiment_id),
            run_name=r.name or "",
            user_id=r.user_id or "",
            status=r.status,
            start_time=r.start_time,
            end_time=r.end_time,
            artifact_uri=r.artifact_uri,
            lifecycle_stage=r.lifecycle_stage,
        )

    def _load_runs(self, conn: Connection, ids: Sequence[str]) -> list[Run]:
        if not ids:
            return []
        ids = list(ids)
        postgres = conn.dialect.name == "postgresql"
        run_rows, param_rows, tag_rows, latest_rows = q.PG_ID_READS if postgres else q.ID_READS
        found = conn.execute(run_rows, {"ids": ids}).all()
        by_id = {r.run_uuid: Run(self._info(r), RunData()) for r in found}
        if postgres and any(r.latest_pending for r in found):  # staged values: fold them first
            fold_now(self.writer, [r.run_uuid for r in found if r.latest_pending])
        for run_id, key, value in conn.execute(param_rows, {"ids": ids}):
            by_id[run_id].data.params[key] = value
        for run_id, key, value in conn.execute(tag_rows, {"ids": ids}):
            by_id[run_id].data.tags[key] = value
        nan = math.nan
        for run_id, key, value, is_nan in conn.execute(latest_rows, {"ids": ids}):
            by_id[run_id].data.metrics[key] = nan if is_nan else value
        return [by_id[i] for i in ids if i in by_id]

    def get_run(self, run_id: str) -> Run:
        self.maybe_reap()
        with self.reader.connect() as conn:
            found = self._load_runs(conn, [run_id])  # folds the run's staged values first
        if not found:
            raise NotFound(f"Run with id={run_id} not found.")
        return found[0]

    def _require_run(self, conn: Connection, run_id: str, for_logging: bool = False) -> Any:
        row = conn.execute(q.RUN_STATE, {"run_id": run_id}).first()
        if row is None:
            raise NotFound(f"Run with id={run_id} not found.")
        if for_logging and row.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameter(
                f"Run {run_id} is deleted; restore it (restore_run) before logging to it."
            )
        return row

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
        record_owner: bool = True,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            if status not in RunStatus.ALL:
                raise InvalidParameter(
                    f"Invalid run status {status!r}: use one of {', '.join(RunStatus.ALL)}."
                )
            values["status"] = status
            if status == RunStatus.RUNNING:
                owner = liveness.current_owner() if record_owner else (None, None, None)
                values.update(
                    end_time=None,
                    owner_host=owner[0],
                    owner_pid=owner[1],
                    owner_started=owner[2],
                    heartbeat_time=now_ms() if record_owner else None,
                )
        if end_time is not None:
            values["end_time"] = end_time
        with self.writer.begin() as conn:
            self._require_run(conn, run_id)
            if values:
                conn.execute(update(runs_t).where(runs_t.c.run_uuid == run_id).values(**values))
            if status in RunStatus.TERMINATED:
                fold_runs(conn, [run_id])
                conn.execute(q.settle_run(conn), {"rid": run_id})
            if run_name:
                self._upsert_tags(conn, run_id, [RunTag("mlflow.runName", run_name)])
            return self._info(conn.execute(q.RUN_ROWS, {"ids": [run_id]}).one())

    def _set_run_stage(self, run_id: str, stage: str) -> None:
        with self.writer.begin() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                update(runs_t)
                .where(runs_t.c.run_uuid == run_id)
                .values(
                    lifecycle_stage=stage,
                    deleted_time=now_ms() if stage == LifecycleStage.DELETED else None,
                )
            )

    def delete_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.ACTIVE)

    # -- logging -----------------------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        model_metrics: Sequence[ModelMetric] = (),
    ) -> None:
        params, tags = rules.batch(
            [m.key for m in metrics] + [m.key for m in model_metrics], params, tags
        )
        rows = [(run_id, m.key, m.value, m.timestamp, m.step) for m in metrics]
        rows += [(run_id, m.key, m.value, m.timestamp, m.step) for m in model_metrics]
        with self.writer.begin() as conn:
            self._require_run(conn, run_id, for_logging=True)
            if params:
                self._insert_params(conn, run_id, params)
            if tags:
                self._upsert_tags(conn, run_id, tags)
            if rows:
                self._insert_metrics(conn, rows)
            if model_metrics:
                insert_model_metrics(conn, model_metrics)

    def log_metric_rows(self, rows: Iterable[tuple[str, str, float, int, int]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self._fast_metrics is not None and self._fast_metrics.write(rows):
            return
        # Not written: a run is missing or deleted, and the check below says which.
        with self.writer.begin() as conn:
            for run_id in {r[0] for r in rows}:
                self._require_run(conn, run_id, for_logging=True)
            self._insert_metrics(conn, rows)

    def end_run(
        self,
        run_id: str,
        status: str,
        end_time: int,
        metric_rows: Sequence[tuple[str, str, float, int, int]] = (),
    ) -> None:
        if status not in RunStatus.TERMINATED:
            raise InvalidParameter(
                f"Invalid end status {status!r}: use one of {', '.join(RunStatus.TERMINATED)}."
            )
        with self.writer.begin() as conn:
            self._require_run(conn, run_id)
            if metric_rows:
                for rid in {r[0] for r in metric_rows}:
                    self._require_run(conn, rid, for_logging=True)
                self._insert_metrics(conn, metric_rows)
            conn.execute(
                update(runs_t)
                .where(runs_t.c.run_uuid == run_id)
                .values(status=status, end_time=end_time)
            )
            fold_runs(conn, [run_id])
            conn.execute(q.settle_run(conn), {"rid": run_id})

    def _insert_params(self, conn: Connection, run_id: str, new: Sequence[Param]) -> None:
        wanted: dict[str, str] = {}
        for p in new:
            if p.key in wanted and wanted[p.key] != p.value:
                raise InvalidParameter(
                    f"Param {p.key!r} is given twice with different values "
                    f"({wanted[p.key]!r} and {p.value!r}) in one batch."
                )
            wanted[p.key] = p.value
        existing = dict(
            conn.execute(q.EXISTING_PARAMS, {"run_id": run_id, "keys": list(wanted)}).all()
        )
        for key, value in wanted.items():
            if key in existing and existing[key] != value:
                raise InvalidParameter(
                    f"Param {key!r} was already logged with value {existing[key]!r} for run "
                    f"{run_id}; it cannot change to {value!r}. Params are immutable: log the new "
                    "value under another name, or start a new run."
                )
        fresh = [
            {"run_uuid": run_id, "key": k, "value": v}
            for k, v in wanted.items()
            if k not in existing
        ]
        if fresh:
            conn.execute(q.INSERT_PARAMS, fresh)

    def _upsert_tags(self, conn: Connection, run_id: str, new: Sequence[RunTag]) -> None:
        latest = {t.key: t.value for t in new}
        rows = [{"run_uuid": run_id, "key": k, "value": v} for k, v in latest.items()]
        if conn.dialect.name == "postgresql":
            columns = sqlite_rows.TAG_COLUMNS
            pg_upserts.upsert(conn, *_PG_TAGS, columns, ("text",) * 3, rows, ("key",))
        else:
            conn.execute(q.upsert_tags(), rows)
        if "mlflow.runName" in latest:
            conn.execute(q.SET_RUN_NAME, {"rid": run_id, "new_name": latest["mlflow.runName"]})

    def _insert_metrics(
        self, conn: Connection, rows: Sequence[tuple[str, str, float, int, int]]
    ) -> None:
        chunks = pack_rows(rows)
        conn.execute(q.INSERT_CHUNKS, chunks)
        upsert_latest_points(conn, latest_points(rows))
        compact_due(conn, self.compaction_due, [(c["run_uuid"], c["key"]) for c in chunks])

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.writer.begin() as conn:
            self._require_run(conn, run_id, for_logging=True)
            done = conn.execute(
                delete(tags_t).where(and_(tags_t.c.run_uuid == run_id, tags_t.c.key == key))
            ).rowcount
            if not done:
                raise NotFound(f"No tag with name={key!r} in run {run_id}.")

    def count_runs(self) -> int:
        with self.reader.connect() as conn:
            count: int = conn.execute(select(func.count()).select_from(runs_t)).scalar_one()
            return count
