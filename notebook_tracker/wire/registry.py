"""The model registry's wire format, both ways: `RegisteredModel` and `ModelVersion` (with
their tags and aliases) <-> MLflow's protobuf-JSON.

Versions are int64 strings on the wire; a registered model's aliases are
`[{alias, version}]` sorted by alias, a version's are a plain list of names.
"""

from __future__ import annotations

from typing import Any

from notebook_tracker.entities.registry import ModelVersion, RegisteredModel
from notebook_tracker.wire import compact, key_value_dict, key_values


# -- entities -> JSON ----------------------------------------------------------------------
def model_version(mv: ModelVersion) -> dict[str, Any]:
    return compact(
        {
            "name": mv.name,
            "version": str(mv.version),
            "creation_timestamp": mv.creation_timestamp,
            "last_updated_timestamp": mv.last_updated_timestamp,
            "user_id": mv.user_id,
            "current_stage": mv.current_stage,
            "description": mv.description,
            "source": mv.source,
            "run_id": mv.run_id,
            "status": mv.status,
            "status_message": mv.status_message,
            "tags": key_values(mv.tags),
            "run_link": mv.run_link,
            "aliases": list(mv.aliases),
            "model_id": mv.model_id,
        }
    )


def registered_model(rm: RegisteredModel) -> dict[str, Any]:
    return compact(
        {
            "name": rm.name,
            "creation_timestamp": rm.creation_timestamp,
            "last_updated_timestamp": rm.last_updated_timestamp,
            "user_id": rm.user_id,
            "description": rm.description,
            "latest_versions": [model_version(v) for v in rm.latest_versions],
            "tags": key_values(rm.tags),
            "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(rm.aliases.items())],
        }
    )


# -- JSON -> entities ----------------------------------------------------------------------
def model_version_from_json(v: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=v["name"],
        version=int(v["version"]),
        creation_timestamp=int(v.get("creation_timestamp") or 0),
        last_updated_timestamp=int(v.get("last_updated_timestamp") or 0),
        source=v.get("source", ""),
        run_id=v.get("run_id") or None,
        description=v.get("description") or None,
        user_id=v.get("user_id") or None,
        current_stage=v.get("current_stage") or "None",
        run_link=v.get("run_link") or None,
        model_id=v.get("model_id") or None,
        status=v.get("status") or "READY",
        status_message=v.get("status_message") or None,
        tags=key_value_dict(v.get("tags")),
        aliases=list(v.get("aliases") or []),
    )


def registered_model_from_json(m: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=m["name"],
        creation_timestamp=int(m.get("creation_timestamp") or 0),
        last_updated_timestamp=int(m.get("last_updated_timestamp") or 0),
        description=m.get("description") or None,
        user_id=m.get("user_id") or None,
        latest_versions=[model_version_from_json(v) for v in m.get("latest_versions") or []],
        tags=key_value_dict(m.get("tags")),
        aliases={a["alias"]: int(a["version"]) for a in m.get("aliases") or []},
    )
