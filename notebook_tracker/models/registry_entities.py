"""Kept for code that imported the registry's value objects from here: they live in
`notebook_tracker.entities.registry`."""

from notebook_tracker.entities.registry import (
    ModelVersion,
    ModelVersionStatus,
    RegisteredModel,
    Stage,
)

__all__ = ["ModelVersion", "ModelVersionStatus", "RegisteredModel", "Stage"]
