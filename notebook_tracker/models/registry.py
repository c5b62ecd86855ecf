"""The model registry API: `RegistryClient` by explicit names, and module-level functions
(`register_model`, `set_registered_model_alias`, ...) on the current tracking URI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notebook_tracker import config
from notebook_tracker.entities import PagedList
from notebook_tracker.entities.registry import ModelVersion, RegisteredModel
from notebook_tracker.errors import AlreadyExists, InvalidParameter
from notebook_tracker.store.factory import forget_stores
from notebook_tracker.store.factory import registry_store as registry_store
from notebook_tracker.store.registry_base import RegistryStore


def forget_registry_stores() -> None:
    forget_stores("registry")


class RegistryClient:
    """Registered models, versions, tags and aliases on one tracking store."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = (
            config.normalize_uri(tracking_uri) if tracking_uri else config.get_tracking_uri()
        )
        self.store: RegistryStore = registry_store(self.tracking_uri)

    # -- registered models ------------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        from notebook_tracker.client import current_user

        return self.store.create_registered_model(
            name, description, {k: str(v) for k, v in (tags or {}).items()}, current_user()
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self.store.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        return self.store.update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        self.store.delete_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        return self.store.search_registered_models(filter_string, max_results, order_by, page_token)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.store.set_registered_model_tag(name, key, str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.store.delete_registered_model_tag(name, key)

    # -- versions ---------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        from notebook_tracker.client import current_user

        return self.store.create_model_version(
            name,
            source,
            run_id=run_id,
            tags={k: str(v) for k, v in (tags or {}).items()},
            description=description,
            user_id=current_user(),
            model_id=model_id,
        )

    def register_model(
        self,
        model_uri: str,
        name: str,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """A new version of `name` (created if missing) pointing at the model at `model_uri`."""
        from notebook_tracker.models.uris import registry_source

        source, run_id = registry_source(model_uri, self.tracking_uri)
        try:
            self.create_registered_model(name)
        except AlreadyExists:
            pass
        return self.create_model_version(name, source, run_id, tags, description)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self.store.get_model_version(name, version)

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        return self.store.update_model_version(name, version, description)

    def delete_model_version(self, name: str, version: int | str) -> None:
        self.store.delete_model_version(name, version)

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        return self.store.transition_model_version_stage(
            name, version, stage, archive_existing_versions
        )

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        return self.store.get_latest_versions(name, stages)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self.store.search_model_versions(filter_string, max_results, order_by, page_token)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        self.store.set_model_version_tag(name, version, key, str(value))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self.store.delete_model_version_tag(name, version, key)

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return self.get_model_version(name, version).source

    # -- aliases ----------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        self.store.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.store.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_model_version_by_alias(name, alias)

    def latest_version(self, name: str) -> ModelVersion:
        versions = self.get_latest_versions(name)
        if not versions:
            raise InvalidParameter(f"Registered model {name!r} has no versions yet.")
        return max(versions, key=lambda v: v.version)


def _client() -> RegistryClient:
    return RegistryClient()


def register_model(
    model_uri: str, name: str, tags: dict[str, Any] | None = None, description: str | None = None
) -> ModelVersion:
    """Register the model at `model_uri` (runs:/, models:/, a path, s3://) as a new version."""
    return _client().register_model(model_uri, name, tags, description)


def set_registered_model_alias(name: str, alias: str, version: int | str) -> None:
    """Point `alias` (e.g. 'champion') at `version`; `models:/name@alias` then loads it."""
    _client().set_registered_model_alias(name, alias, version)


def delete_registered_model_alias(name: str, alias: str) -> None:
    _client().delete_registered_model_alias(name, alias)


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion:
    return _client().get_model_version_by_alias(name, alias)


def get_registered_model(name: str) -> RegisteredModel:
    return _client().get_registered_model(name)


def get_model_version(name: str, version: int | str) -> ModelVersion:
    return _client().get_model_version(name, version)


def search_registered_models(
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
) -> list[RegisteredModel]:
    """Every registered model matching `filter_string` (e.g. "name LIKE 'churn%'")."""
    client = _client()
    found: list[RegisteredModel] = []
    token: str | None = None
    while True:
        page = client.search_registered_models(filter_string, 1000, order_by, token)
        found.extend(page)
        token = page.token
        if not token or (max_results is not None and len(found) >= max_results):
            return found[:max_results] if max_results is not None else found


def search_model_versions(
    filter_string: str | None = None, order_by: Sequence[str] | None = None
) -> list[ModelVersion]:
    """Model versions matching `filter_string` (e.g. "name = 'churn'" or "run_id = '...'")."""
    client = _client()
    found: list[ModelVersion] = []
    token: str | None = None
    while True:
        page = client.search_model_versions(filter_string, 10_000, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            return found
