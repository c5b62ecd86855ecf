"""Covering indexes (run_uuid, key, value) for reading the params, tags and latest metrics of
many runs at once: a DataFrame of 100,000 runs then reads them from the index alone, in
run_uuid order, instead of one table lookup per value.

PostgreSQL gets the latest_metrics one only: a B-tree entry there is limited to ~2.7 kB, and
a param or tag value may be longer (SQLite has no such limit), so an index holding them
would refuse long values.

Revision ID: 0006_covering_key_values
"""

from alembic import op

revision = "0006_covering_key_values"
down_revision = "0005_runs_start_time"
branch_labels = None
depends_on = None

# (index, table, columns, also on PostgreSQL)
INDEXES = (
    ("ix_params_run_key_value", "params", ["run_uuid", "key", "value"], False),
    ("ix_tags_run_key_value", "tags", ["run_uuid", "key", "value"], False),
    (
        "ix_latest_metrics_run_key_value",
        "latest_metrics",
        ["run_uuid", "key", "value", "is_nan"],
        True,
    ),
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table, columns, everywhere in INDEXES:
        if sqlite or everywhere:
            op.create_index(name, table, columns)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table, _, everywhere in INDEXES:
        if sqlite or everywhere:
            op.drop_index(name, table_name=table)
