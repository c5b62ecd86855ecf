"""SQLite and PostgreSQL: `latest_metrics.settled`, and the (key, value) index over settled rows
only, so that logging to a run does not rewrite a page of that index per key.

The (key, value) index lets a search ordered by a metric walk the metric's values in order and
stop at the page's end. Kept on every row, each log-batch of 100 keys moved 100 entries in it,
each on a page of its own once the store held a few hundred runs: a batch's commit wrote
~840 KB of WAL at 1,000 runs (15 KB without the index), and a 2-worker server's JSON log-batch
fell from 917 to 267 requests/s.

A row is settled (1) while its value sits in that index. A batch written to a run first marks
the run's rows unsettled, which takes each out of the index once; from then on a new value
changes the row alone. A run's end (and the reaper's KILLED) settles its rows again, putting
them back in the index in one pass. A page ordered by a metric reads the settled rows through
the index and the unsettled ones (the runs being logged to) through a small index of their
own, and merges the two (store/run_pages.py). Rows start settled: the column's default is 1,
so an existing store of any size gains the column without a rewrite, and writers set 0
themselves.

The update triggers of migration 0008 on SQLite fire for changed values only (UPDATE OF), so
that settling a run does not unpack its packed values. PostgreSQL's statement-level triggers
cannot name columns with transition tables, and stay as they are.

Revision ID: 0010_settled_metric_order
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_settled_metric_order"
down_revision = "0009_clustered_key_values"
branch_labels = None
depends_on = None

_UNPACK = (
    "UPDATE runs SET packed_values = NULL WHERE run_uuid = {row}.run_uuid "
    "AND packed_values IS NOT NULL; END"
)
_VALUE_COLUMNS = "step, timestamp, value, is_nan"


def _triggers(update: str, moved: str) -> list[str]:
    return [
        "DROP TRIGGER nt_unpack_latest_metrics_update",
        "DROP TRIGGER nt_unpack_latest_metrics_moved",
        f"CREATE TRIGGER nt_unpack_latest_metrics_update AFTER UPDATE{update} ON latest_metrics "
        "BEGIN " + _UNPACK.format(row="NEW"),
        f"CREATE TRIGGER nt_unpack_latest_metrics_moved AFTER UPDATE{moved} ON latest_metrics "
        "WHEN OLD.run_uuid IS NOT NEW.run_uuid BEGIN " + _UNPACK.format(row="OLD"),
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column(
        "latest_metrics",
        sa.Column("settled", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.drop_index("ix_latest_metrics_key_value", table_name="latest_metrics")
    settled, unsettled = sa.text("settled = 1"), sa.text("settled = 0")
    if not sqlite:
        settled, unsettled = sa.text("settled"), sa.text("NOT settled")
    op.create_index(
        "ix_latest_metrics_settled_value",
        "latest_metrics",
        ["key", "value"],
        sqlite_where=settled,
        postgresql_where=settled,
    )
    op.create_index(
        "ix_latest_metrics_unsettled",
        "latest_metrics",
        ["key"],
        sqlite_where=unsettled,
        postgresql_where=unsettled,
    )
    if sqlite:
        for ddl in _triggers(f" OF {_VALUE_COLUMNS}", " OF run_uuid"):
            op.execute(ddl)
    else:
        # The new column has no statistics until autovacuum gets to the table: meanwhile the
        # planner took a filtered 100-run page of 10,000 runs ordered by a metric for a
        # bitmap scan and a sort of every match (7.8 ms) instead of the settled index's walk
        # to the page's end (2.1 ms). A sample of the table, not a read of all of it.
        op.execute("ANALYZE latest_metrics")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for ddl in _triggers("", ""):
            op.execute(ddl)
    op.drop_index("ix_latest_metrics_unsettled", table_name="latest_metrics")
    op.drop_index("ix_latest_metrics_settled_value", table_name="latest_metrics")
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    if not sqlite or _sqlite_drops_columns():
        op.execute("ALTER TABLE latest_metrics DROP COLUMN settled")
    # An older SQLite keeps the column: code at 0009 never reads it, and its default settles
    # the rows that code inserts.


def _sqlite_drops_columns() -> bool:
    import sqlite3

    return sqlite3.sqlite_version_info >= (3, 35, 0)
