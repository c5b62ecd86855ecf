"""PostgreSQL: new latest metric values change no indexed column, so each is a heap-only update.

PostgreSQL writes a row's new version into every index of its table unless no indexed column
changed (a heap-only, "HOT", update, which also leaves the page's older versions to be pruned
in place). `value` was in two indexes of latest_metrics: migration 0006's covering
(run_uuid, key, value, is_nan) and 0010's settled (key, value). So every logged value added an
entry to all four indexes, the primary key's included, and a lookup of a (run, key) walked
past its dead entries until a vacuum: 80,000 updates of 400 rows grew the covering index to
9.9 MB, and a 200-row upsert took 3.4 ms against 1.5 ms as heap-only updates.

- The settled index orders a copy of the value, `settled_value`, that only settling writes
  (it is the value while the row is settled). Writers now mark the rows they change unsettled
  as SQLite's do, which changes an indexed column once per run between settlings; from then
  on a new value is heap-only.
- The covering index goes. DataFrames of many runs read their packed values from `runs`
  (migration 0008), and a run's own rows are a primary key lookup: 100,000 runs' DataFrame
  took 742 ms with it and 767 ms without.

SQLite gains the column, always NULL: its partial index holds no entry for an unsettled row,
so a new value there changes no index already, and its order reads `value`.

The copy is filled in one pass (every settled row is rewritten once). The pass changes no
value, so the trigger that marks packed runs stale (migration 0008) is off for it.

Revision ID: 0011_heap_only_latest_metrics
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_heap_only_latest_metrics"
down_revision = "0010_settled_metric_order"
branch_labels = None
depends_on = None

_STALE_TRIGGER = "nt_stale_latest_metrics_update"


def upgrade() -> None:
    op.add_column(
        "latest_metrics", sa.Column("settled_value", sa.Float(precision=53), nullable=True)
    )
    if op.get_bind().dialect.name == "sqlite":
        return
    op.drop_index("ix_latest_metrics_run_key_value", table_name="latest_metrics")
    op.drop_index("ix_latest_metrics_settled_value", table_name="latest_metrics")
    op.execute(f"ALTER TABLE latest_metrics DISABLE TRIGGER {_STALE_TRIGGER}")
    op.execute("UPDATE latest_metrics SET settled_value = value WHERE settled")
    op.execute(f"ALTER TABLE latest_metrics ENABLE TRIGGER {_STALE_TRIGGER}")
    op.create_index(
        "ix_latest_metrics_settled_value",
        "latest_metrics",
        ["key", "settled_value"],
        postgresql_where=sa.text("settled"),
    )
    op.execute("ANALYZE latest_metrics")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        if _sqlite_drops_columns():
            op.execute("ALTER TABLE latest_metrics DROP COLUMN settled_value")
        return  # an older SQLite keeps the column: code at 0010 never reads it
    op.drop_index("ix_latest_metrics_settled_value", table_name="latest_metrics")
    op.create_index(
        "ix_latest_metrics_settled_value",
        "latest_metrics",
        ["key", "value"],
        postgresql_where=sa.text("settled"),
    )
    op.create_index(
        "ix_latest_metrics_run_key_value", "latest_metrics", ["run_uuid", "key", "value", "is_nan"]
    )
    op.drop_column("latest_metrics", "settled_value")


def _sqlite_drops_columns() -> bool:
    import sqlite3

    return sqlite3.sqlite_version_info >= (3, 35, 0)
