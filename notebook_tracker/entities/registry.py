"""Registry value objects, shaped like MLflow's RegisteredModel and ModelVersion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ModelVersionStatus:
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


class Stage:
    """Deprecated in MLflow in favour of aliases, kept for its clients."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"
    ALL = (NONE, STAGING, PRODUCTION, ARCHIVED)

    @classmethod
    def canonical(cls, stage: str) -> str | None:
        for name in cls.ALL:
            if name.lower() == str(stage).strip().lower():
                return name
        return None


@dataclass
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    source: str
    run_id: str | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str = Stage.NONE
    run_link: str | None = None
    model_id: str | None = None
    status: str = ModelVersionStatus.READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The native REST shape (the MLflow wire shape is built by the server)."""
        return {
            "name": self.name,
            "version": self.version,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "source": self.source,
            "run_id": self.run_id,
            "description": self.description,
            "user_id": self.user_id,
            "current_stage": self.current_stage,
            "status": self.status,
            "model_id": self.model_id,
            "tags": dict(self.tags),
            "aliases": list(self.aliases),
        }


@dataclass
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "user_id": self.user_id,
            "latest_versions": [v.to_dict() for v in self.latest_versions],
            "aliases": dict(self.aliases),
            "tags": dict(self.tags),
        }
