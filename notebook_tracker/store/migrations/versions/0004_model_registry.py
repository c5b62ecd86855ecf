"""The model registry: registered models, their versions, tags and aliases.

Revision ID: 0004_model_registry
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_model_registry"
down_revision = "0003_logged_models"
branch_labels = None
depends_on = None


def _model_fk() -> sa.ForeignKey:
    return sa.ForeignKey("registered_models.name", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("user_id", sa.String(256)),
        sa.Column("next_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "registered_model_tags",
        sa.Column("name", sa.String(256), _model_fk(), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(256), _model_fk(), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("user_id", sa.String(256)),
        sa.Column("current_stage", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("run_link", sa.Text),
        sa.Column("model_id", sa.String(64)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "registered_model_aliases",
        sa.Column("name", sa.String(256), _model_fk(), primary_key=True),
        sa.Column("alias", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
