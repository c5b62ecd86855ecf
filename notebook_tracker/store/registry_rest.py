"""The model registry of a remote tracking server, over MLflow's registry REST API (which
notebook-tracker servers and MLflow servers both speak).

Checks what it sends with the same rules as the SQL store (`registry_rules`), so a bad name or
tag fails before a request, with the same message, whichever server is behind the URI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notebook_tracker.entities import PagedList
from notebook_tracker.entities.registry import ModelVersion, RegisteredModel
from notebook_tracker.store.registry_base import RegistryStore
from notebook_tracker.store.registry_rules import (
    check_alias,
    check_name,
    check_tag,
    check_tags,
    check_version,
)
from notebook_tracker.store.rest_transport import Transport
from notebook_tracker.wire import key_values as _kv_out
from notebook_tracker.wire.registry import model_version_from_json, registered_model_from_json

API = "api/2.0/mlflow/"


class RestRegistryStore(RegistryStore):
    def __init__(self, uri: str, token: str | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.http = Transport(self.uri, token=token)

    def _call(self, method: str, endpoint: str, body: Any = None, **params: Any) -> Any:
        return self.http.call(method, API + endpoint, params=params or None, body=body)

    # -- registered models ----------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel:
        check_name(name)
        body = {"name": name, "tags": _kv_out(check_tags(tags)), "description": description}
        return registered_model_from_json(
            self._call("POST", "registered-models/create", body)["registered_model"]
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return registered_model_from_json(
            self._call("GET", "registered-models/get", name=name)["registered_model"]
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        check_name(new_name)
        body = {"name": name, "new_name": new_name}
        return registered_model_from_json(
            self._call("POST", "registered-models/rename", body)["registered_model"]
        )

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        body = {"name": name, "description": description}
        return registered_model_from_json(
            self._call("PATCH", "registered-models/update", body)["registered_model"]
        )

    def delete_registered_model(self, name: str) -> None:
        self._call("DELETE", "registered-models/delete", {"name": name})

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        key, value = check_tag(key, value)
        self._call("POST", "registered-models/set-tag", {"name": name, "key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._call("DELETE", "registered-models/delete-tag", {"name": name, "key": key})

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        data = self._call(
            "GET",
            "registered-models/search",
            filter=filter_string or None,
            max_results=max_results,
            order_by=list(order_by) if order_by else None,
            page_token=page_token or None,
        )
        found = [registered_model_from_json(m) for m in data.get("registered_models", [])]
        return PagedList(found, data.get("next_page_token") or None)

    # -- versions -------------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        user_id: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        body = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "tags": _kv_out(check_tags(tags)),
            "run_link": run_link,
            "description": description,
            "model_id": model_id,
        }
        body = {k: v for k, v in body.items() if v is not None}
        data = self._call("POST", "model-versions/create", body)
        return model_version_from_json(data["model_version"])

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        data = self._call("GET", "model-versions/get", name=name, version=str(version))
        return model_version_from_json(data["model_version"])

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        body = {"name": name, "version": str(version), "description": description}
        data = self._call("PATCH", "model-versions/update", body)
        return model_version_from_json(data["model_version"])

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        body = {
            "name": name,
            "version": str(version),
            "stage": stage,
            "archive_existing_versions": archive_existing_versions,
        }
        data = self._call("POST", "model-versions/transition-stage", body)
        return model_version_from_json(data["model_version"])

    def delete_model_version(self, name: str, version: int | str) -> None:
        self._call("DELETE", "model-versions/delete", {"name": name, "version": str(version)})

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        key, value = check_tag(key, value)
        check_version(version)
        body = {"name": name, "version": str(version), "key": key, "value": value}
        self._call("POST", "model-versions/set-tag", body)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        body = {"name": name, "version": str(version), "key": key}
        self._call("DELETE", "model-versions/delete-tag", body)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        body = {"name": name, "stages": list(stages or [])}
        data = self._call("POST", "registered-models/get-latest-versions", body)
        return [model_version_from_json(v) for v in data.get("model_versions", [])]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        data = self._call(
            "GET",
            "model-versions/search",
            filter=filter_string or None,
            max_results=max_results,
            order_by=list(order_by) if order_by else None,
            page_token=page_token or None,
        )
        found = [model_version_from_json(v) for v in data.get("model_versions", [])]
        return PagedList(found, data.get("next_page_token") or None)

    # -- aliases --------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        check_alias(alias)
        check_version(version)
        body = {"name": name, "alias": alias, "version": str(version)}
        self._call("POST", "registered-models/alias", body)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", "registered-models/alias", {"name": name, "alias": alias})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        data = self._call("GET", "registered-models/alias", name=name, alias=alias)
        return model_version_from_json(data["model_version"])
