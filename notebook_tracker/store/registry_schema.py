"""Tables of the model registry (revision 0004_model_registry), on the store's metadata.

Version numbers are never reused: `next_version` survives the deletion of the latest version,
so `models:/name/3` cannot silently come to mean another model.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from notebook_tracker.store.schema import metadata


def _model_fk() -> ForeignKey:
    return ForeignKey("registered_models.name", ondelete="CASCADE")


registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("next_version", Integer, nullable=False, default=1),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("name", String(256), _model_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(256), _model_fk(), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("current_stage", String(20), nullable=False, default="None"),
    Column("source", Text, nullable=False),
    Column("run_id", String(32)),
    Column("run_link", Text),
    Column("model_id", String(64)),
    Column("status", String(32), nullable=False, default="READY"),
    Column("status_message", Text),
    Index("ix_model_versions_run", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
    ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"], ondelete="CASCADE"
    ),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("name", String(256), _model_fk(), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("version", Integer, nullable=False),
)
