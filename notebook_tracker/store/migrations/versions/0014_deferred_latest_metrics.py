"""PostgreSQL: a server's staged write no longer upserts a latest_metrics row per key.

Under MLflow's JSON log-batch (100 metrics a request), upserting each request's 100 latest
values was half of PostgreSQL's CPU a request (0.45 of 0.90 ms): a row lock, a new row version
and two WAL records a key. The points are in the request's staged row already (migration
0007), so the write now only counts the run in `latest_pending`, and the latest values are
folded from the staged rows into latest_metrics when something reads them or when the staged
rows are merged (latest_folding.py).

The table starts empty: every value written before the upgrade is in latest_metrics already.
SQLite gets the table too, and never writes it (its writers upsert as before).

Revision ID: 0014_deferred_latest_metrics
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_deferred_latest_metrics"
down_revision = "0013_lz4_metric_chunks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latest_pending",
        sa.Column(
            "run_uuid",
            sa.String(32),
            sa.ForeignKey("runs.run_uuid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("since", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    # Fold first: code before this revision reads latest_metrics only.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from notebook_tracker.store.latest_folding import fold_in
        from notebook_tracker.store.sql_metric_write import sa_execute

        fold_in(sa_execute(bind), None)
    op.drop_table("latest_pending")
