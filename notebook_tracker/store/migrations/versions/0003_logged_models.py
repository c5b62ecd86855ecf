"""Logged models (MLflow 3's LoggedModel API) and the models and datasets runs use or produce.

Revision ID: 0003_logged_models
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_logged_models"
down_revision = "0002_run_owner"
branch_labels = None
depends_on = None


def _model_fk() -> sa.ForeignKey:
    return sa.ForeignKey("logged_models.model_id", ondelete="CASCADE")


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.run_uuid", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("model_type", sa.String(500)),
        sa.Column("source_run_id", sa.String(32)),
        sa.Column("creation_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_logged_models_experiment", "logged_models", ["experiment_id", "creation_timestamp_ms"]
    )
    op.create_table(
        "logged_model_tags",
        sa.Column("model_id", sa.String(64), _model_fk(), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text),
    )
    op.create_table(
        "logged_model_params",
        sa.Column("model_id", sa.String(64), _model_fk(), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "logged_model_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.String(64), _model_fk(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("dataset_name", sa.String(500)),
        sa.Column("dataset_digest", sa.String(64)),
    )
    op.create_index("ix_logged_model_metrics_model", "logged_model_metrics", ["model_id", "key"])
    op.create_table(
        "run_model_links",
        sa.Column("run_uuid", sa.String(32), _run_fk(), primary_key=True),
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("direction", sa.String(8), primary_key=True),
        sa.Column("step", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "run_dataset_inputs",
        sa.Column("run_uuid", sa.String(32), _run_fk(), primary_key=True),
        sa.Column("name", sa.String(500), primary_key=True),
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("source_type", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text),
        sa.Column("profile", sa.Text),
        sa.Column("tags", sa.Text),
    )


def downgrade() -> None:
    for table in (
        "run_dataset_inputs",
        "run_model_links",
        "logged_model_metrics",
        "logged_model_params",
        "logged_model_tags",
        "logged_models",
    ):
        op.drop_table(table)
