"""The SQL schema, as SQLAlchemy Core tables (Core, not ORM: bulk paths stay fast).

Changing it means adding an alembic revision under `store/migrations/versions/` and bumping
`HEAD_REVISION`; `schema_version.py` refuses a database whose revision this code does not know.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
    true,
)

HEAD_REVISION = "0014_deferred_latest_metrics"
KNOWN_REVISIONS = (
    "0001_initial",
    "0002_run_owner",
    "0003_logged_models",
    "0004_model_registry",
    "0005_runs_start_time",
    "0006_covering_key_values",
    "0007_staged_metric_points",
    "0008_packed_run_values",
    "0009_clustered_key_values",
    "0010_settled_metric_order",
    "0011_heap_only_latest_metrics",
    "0012_row_stale_marking",
    "0013_lz4_metric_chunks",
    "0014_deferred_latest_metrics",
)

metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", Text, nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("name", String(250)),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(256)),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("deleted_time", BigInteger),
    Column("lifecycle_stage", String(20), nullable=False, default="active"),
    Column("artifact_uri", Text),
    Column("parent_run_id", String(32)),
    # Who is running it, so that a run whose process died can be found and marked KILLED.
    Column("owner_host", String(256)),
    Column("owner_pid", Integer),
    Column("owner_started", BigInteger),
    Column("heartbeat_time", BigInteger),
    # The run's params, latest metrics and tags as one text for big reads; NULL: not packed
    # (store/packed_values.py, run_packer.py, migration 0008).
    Column("packed_values", Text),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_start_time", "start_time"),
    Index("ix_runs_status", "status"),
    Index(
        "ix_runs_unpacked",
        "run_uuid",
        sqlite_where=text("packed_values IS NULL"),
        postgresql_where=text("packed_values IS NULL"),
    ),
)

# PostgreSQL: runs whose packed text a write made stale since it was packed (migration 0008).
stale_run_values = Table(
    "stale_run_values",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("run_uuid", String(32), nullable=False),
    Index("ix_stale_run_values_run", "run_uuid"),
)

params = Table(
    "params",
    metadata,
    Column(
        "run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "run_uuid"),
    # SQLite stores the rows in (run_uuid, key) order, which reads many runs' values as an
    # index would (migration 0009).
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column(
        "run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
    Index("ix_tags_key", "key", "run_uuid"),
    sqlite_with_rowid=False,  # as params
)

# Every point of every series, packed: one row holds the points of one key that one write brought
# (steps and timestamps as little-endian int64, values as float64, NaN and inf kept as is).
# Reading a million-point history is then a few rows, not a million.
metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("chunk_id", Integer, primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("count", Integer, nullable=False),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("timestamps", LargeBinary, nullable=False),
    Column("values", LargeBinary, nullable=False),
    # Only in a staged row (key ''): many keys' points in one row, see metric_staging.py.
    Column("staged_keys", Text, nullable=True),
    Column("key_index", LargeBinary, nullable=True),
    Index("ix_metric_chunks_run_key", "run_uuid", "key", "chunk_id"),
)

# PostgreSQL: runs whose staged rows (metric_staging.py) hold points not yet in latest_metrics.
# A server's write stages a request's points and counts the run here (a new row version each
# write) instead of upserting a row per key; a read folds the counted runs' points into
# latest_metrics first (latest_folding.py). `since`: the first chunk to fold. Empty on SQLite.
latest_pending = Table(
    "latest_pending",
    metadata,
    Column(
        "run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    ),
    Column("since", BigInteger, nullable=False),
)

# The latest point per (run, key), by step then timestamp: what search and run.data.metrics read.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column(
        "run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    ),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False, default=False),
    # 1 while the row's value is in the (key, value) index below. Writers set 0 for the runs
    # they write to (SQLite's batch writers, all of PostgreSQL's), so a new value moves no entry
    # of that index, and a run's end sets 1 again (migrations 0010 and 0011 say why).
    Column("settled", Boolean, nullable=False, server_default=true()),
    # PostgreSQL: the value while the row is settled, written by settling only, so that a new
    # value changes no indexed column (a heap-only update, migration 0011). NULL on SQLite.
    Column("settled_value", Float(precision=53), nullable=True),
    Index(
        "ix_latest_metrics_settled_value", "key", "value", sqlite_where=text("settled = 1")
    ).ddl_if(dialect="sqlite"),
    Index(
        "ix_latest_metrics_settled_value",
        "key",
        "settled_value",
        postgresql_where=text("settled"),
    ).ddl_if(dialect="postgresql"),
    Index(
        "ix_latest_metrics_unsettled",
        "key",
        sqlite_where=text("settled = 0"),
        postgresql_where=text("NOT settled"),
    ),
    sqlite_with_rowid=False,
)


# -- logged models (MLflow 3's LoggedModel API) and run inputs/outputs ---------------------------
# Data access lives in `store/logged_models.py`. A model outlives the run that produced it, so
# `source_run_id` is not a foreign key; the run links are, and go with the run when it is purged.
logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_message", Text),
    Column("model_type", String(500)),
    Column("source_run_id", String(32)),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Index("ix_logged_models_experiment", "experiment_id", "creation_timestamp_ms"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53)),
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(32)),
    Column("dataset_name", String(500)),
    Column("dataset_digest", String(64)),
    Index("ix_logged_model_metrics_model", "model_id", "key"),
)

# A run's model inputs and outputs (`direction` "input" or "output"; outputs carry a step).
run_model_links = Table(
    "run_model_links",
    metadata,
    Column(
        "run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    ),
    Column("model_id", String(64), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("step", BigInteger, nullable=False, default=0),
)

# Datasets a run used (`log-inputs`); `tags` holds the input's tags as a JSON object.
run_dataset_inputs = Table(
    "run_dataset_inputs",
    metadata,
    Column(
        "run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    ),
    Column("name", String(500), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("source_type", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text),
    Column("profile", Text),
    Column("tags", Text),
)
