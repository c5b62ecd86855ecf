"""Staged metric points: two nullable columns of `metric_chunks` for a row holding many keys'
points (store/metric_staging.py). Adding nullable columns rewrites no row, on SQLite or
PostgreSQL, so a large store upgrades in place at once.

Revision ID: 0007_staged_metric_points
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_staged_metric_points"
down_revision = "0006_covering_key_values"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("metric_chunks", sa.Column("staged_keys", sa.Text(), nullable=True))
    op.add_column("metric_chunks", sa.Column("key_index", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    staged = (
        op.get_bind().execute(sa.text("SELECT count(*) FROM metric_chunks WHERE key = ''")).scalar()
    )
    if staged:
        # Their points would be lost with their key lists.
        raise RuntimeError(
            f"{staged} staged metric rows (points logged through a server, not yet merged "
            "into per-key chunks) would be lost: keep this version of notebook-tracker, or copy "
            "those runs' histories elsewhere before downgrading."
        )
    with op.batch_alter_table("metric_chunks") as batch:
        batch.drop_column("key_index")
        batch.drop_column("staged_keys")
