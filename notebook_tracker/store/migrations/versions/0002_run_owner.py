"""Record which process owns a RUNNING run, so runs of dead processes can be marked KILLED.

Revision ID: 0002_run_owner
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_run_owner"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner_host", sa.String(256)))
        batch.add_column(sa.Column("owner_pid", sa.Integer))
        batch.add_column(sa.Column("owner_started", sa.BigInteger))
        batch.add_column(sa.Column("heartbeat_time", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        for column in ("heartbeat_time", "owner_started", "owner_pid", "owner_host"):
            batch.drop_column(column)
