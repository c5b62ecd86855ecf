"""Data access of the model registry, on the tracking store's database (SQLite or PostgreSQL).

Filters and ordering of searches are compiled in `registry_search.py`.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from notebook_tracker.entities import PagedList
from notebook_tracker.errors import AlreadyExists, InvalidParameter, NotFound
from notebook_tracker.models.registry_entities import (
    ModelVersion,
    ModelVersionStatus,
    RegisteredModel,
    Stage,
)
from notebook_tracker.store import registry_search
from notebook_tracker.store.engine import engines_for
from notebook_tracker.store.registry_schema import model_version_tags as mv_tags_t
from notebook_tracker.store.registry_schema import model_versions as versions_t
from notebook_tracker.store.registry_schema import registered_model_aliases as aliases_t
from notebook_tracker.store.registry_schema import registered_model_tags as rm_tags_t
from notebook_tracker.store.registry_schema import registered_models as models_t
from notebook_tracker.store.schema_version import ensure_schema

MAX_RESULTS = 1000
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


def _now() -> int:
    return int(time.time() * 1000)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(value, int) and value >= 0:
            return value
    except (ValueError, KeyError, TypeError):
        pass
    raise InvalidParameter(
        f"Invalid page_token {token!r}: pass the token a previous page returned."
    )


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("A registered model name must be a non-empty string.")
    if "/" in name or "@" in name or len(name) > 256:
        raise InvalidParameter(
            f"Invalid registered model name {name!r}: names may not contain '/' or '@' (they "
            "would be ambiguous in models:/ URIs) and have at most 256 characters."
        )
    return name


def check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not alias.strip() or "/" in alias or "@" in alias:
        raise InvalidParameter(
            f"Invalid alias {alias!r}: use a non-empty name without '/' or '@', e.g. 'champion'."
        )
    if _RESERVED_ALIAS.match(alias):
        raise InvalidParameter(
            f"The alias {alias!r} is reserved ('latest' and 'v<number>' have fixed meanings in "
            "models:/ URIs): pick another name."
        )
    return alias


def check_version(version: Any) -> int:
    try:
        number = int(str(version))
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid model version {version!r}: expected a number.") from None
    if number < 1:
        raise InvalidParameter(f"Invalid model version {version!r}: versions start at 1.")
    return number


class RegistryStore:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.reader, self.writer = engines_for(uri)
        ensure_schema(self.writer)

    # -- registered models ----------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel:
        check_name(name)
        now = _now()
        with self.writer.begin() as conn:
            if self._model_row(conn, name) is not None:
                raise AlreadyExists(
                    f"Registered model {name!r} already exists: register a new version of it "
                    "or choose another name."
                )
            conn.execute(
                insert(models_t).values(
                    name=name,
                    creation_time=now,
                    last_updated_time=now,
                    description=description,
                    user_id=user_id,
                    next_version=1,
                )
            )
            for key, value in (tags or {}).items():
                conn.execute(insert(rm_tags_t).values(name=name, key=key, value=str(value)))
        return self.get_registered_model(name)

    def _model_row(self, conn: Connection, name: str, lock: bool = False) -> Any:
        query = select(models_t).where(models_t.c.name == name)
        if lock:
            query = query.with_for_update()
        return conn.execute(query).first()

    def _require_model(self, conn: Connection, name: str, lock: bool = False) -> Any:
        row = self._model_row(conn, name, lock)
        if row is None:
            raise NotFound(
                f"Registered model {name!r} not found: list models with "
                "`notebook-tracker models list` or register one with register_model()."
            )
        return row

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.reader.connect() as conn:
            row = self._require_model(conn, name)
            return self._registered_model(conn, row)

    def _registered_model(self, conn: Connection, row: Any) -> RegisteredModel:
        tags = dict(
            conn.execute(
                select(rm_tags_t.c.key, rm_tags_t.c.value).where(rm_tags_t.c.name == row.name)
            ).all()
        )
        aliases = dict(
            conn.execute(
                select(aliases_t.c.alias, aliases_t.c.version).where(aliases_t.c.name == row.name)
            ).all()
        )
        return RegisteredModel(
            name=row.name,
            creation_timestamp=row.creation_time,
            last_updated_timestamp=row.last_updated_time,
            description=row.description,
            user_id=row.user_id,
            latest_versions=self._latest_versions(conn, row.name, None),
            tags=tags,
            aliases=aliases,
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        check_name(new_name)
        with self.writer.begin() as conn:
            row = self._require_model(conn, name, lock=True)
            if self._model_row(conn, new_name) is not None:
                raise AlreadyExists(f"Registered model {new_name!r} already exists.")
            values = row._asdict()
            values.update(name=new_name, last_updated_time=_now())
            conn.execute(insert(models_t).values(**values))
            for table in (rm_tags_t, aliases_t):
                conn.execute(update(table).where(table.c.name == name).values(name=new_name))
            versions = [
                dict(r._mapping)
                for r in conn.execute(select(versions_t).where(versions_t.c.name == name))
            ]
            version_tags = [
                dict(r._mapping)
                for r in conn.execute(select(mv_tags_t).where(mv_tags_t.c.name == name))
            ]
            conn.execute(delete(mv_tags_t).where(mv_tags_t.c.name == name))
            conn.execute(delete(versions_t).where(versions_t.c.name == name))
            for v in versions:
                conn.execute(insert(versions_t).values(**{**v, "name": new_name}))
            for t in version_tags:
                conn.execute(insert(mv_tags_t).values(**{**t, "name": new_name}))
            conn.execute(delete(models_t).where(models_t.c.name == name))
        return self.get_registered_model(new_name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        with self.writer.begin() as conn:
            self._require_model(conn, name)
            conn.execute(
                update(models_t)
                .where(models_t.c.name == name)
                .values(description=description, last_updated_time=_now())
            )
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        with self.writer.begin() as conn:
            self._require_model(conn, name)
            # Explicit deletes: cascades are off on connections that did not enable them.
            conn.execute(delete(mv_tags_t).where(mv_tags_t.c.name == name))
            for table in (aliases_t, rm_tags_t, versions_t, models_t):
                conn.execute(delete(table).where(table.c.name == name))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        with self.writer.begin() as conn:
            self._require_model(conn, name)
            conn.execute(delete(rm_tags_t).where(rm_tags_t.c.name == name, rm_tags_t.c.key == key))
            conn.execute(insert(rm_tags_t).values(name=name, key=key, value=str(value)))
            self._touch(conn, name)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        with self.writer.begin() as conn:
            self._require_model(conn, name)
            conn.execute(delete(rm_tags_t).where(rm_tags_t.c.name == name, rm_tags_t.c.key == key))

    def _touch(self, conn: Connection, name: str) -> None:
        conn.execute(
            update(models_t).where(models_t.c.name == name).values(last_updated_time=_now())
        )

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        max_results = registry_search.check_max(max_results)
        clauses = registry_search.parse(filter_string, registry_search.MODELS_GRAMMAR)
        conditions = [registry_search.model_clause(c) for c in clauses]
        ordering = registry_search.ordering(
            order_by,
            registry_search.MODELS_GRAMMAR,
            {
                "name": models_t.c.name,
                "creation_timestamp": models_t.c.creation_time,
                "last_updated_timestamp": models_t.c.last_updated_time,
            },
            models_t.c.name,
        )
        offset = _offset(page_token)
        query = select(models_t).where(*conditions).order_by(*ordering)
        with self.reader.connect() as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            found = [self._registered_model(conn, r) for r in rows[:max_results]]
        token = _token(offset + max_results) if len(rows) > max_results else None
        return PagedList(found, token)

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
        if not isinstance(source, str) or not source:
            raise InvalidParameter("A model version needs a source: the URI of the model files.")
        now = _now()
        with self.writer.begin() as conn:
            row = self._require_model(conn, name, lock=True)
            version = max(int(row.next_version), self._max_version(conn, name) + 1)
            conn.execute(
                insert(versions_t).values(
                    name=name,
                    version=version,
                    creation_time=now,
                    last_updated_time=now,
                    description=description,
                    user_id=user_id,
                    current_stage=Stage.NONE,
                    source=source,
                    run_id=run_id,
                    run_link=run_link,
                    model_id=model_id,
                    status=ModelVersionStatus.READY,
                )
            )
            for key, value in (tags or {}).items():
                conn.execute(
                    insert(mv_tags_t).values(name=name, version=version, key=key, value=str(value))
                )
            conn.execute(
                update(models_t)
                .where(models_t.c.name == name)
                .values(next_version=version + 1, last_updated_time=now)
            )
        return self.get_model_version(name, version)

    def _max_version(self, conn: Connection, name: str) -> int:
        return int(
            conn.execute(
                select(func.coalesce(func.max(versions_t.c.version), 0)).where(
                    versions_t.c.name == name
                )
            ).scalar()
        )

    def _version_row(self, conn: Connection, name: str, version: int) -> Any:
        row = conn.execute(
            select(versions_t).where(versions_t.c.name == name, versions_t.c.version == version)
        ).first()
        if row is None:
            self._require_model(conn, name)
            raise NotFound(
                f"Model {name!r} has no version {version}: list its versions with "
                f"`notebook-tracker models versions {name}`."
            )
        return row

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        number = check_version(version)
        with self.reader.connect() as conn:
            return self._model_version(conn, self._version_row(conn, name, number))

    def _model_version(self, conn: Connection, row: Any) -> ModelVersion:
        tags = dict(
            conn.execute(
                select(mv_tags_t.c.key, mv_tags_t.c.value).where(
                    mv_tags_t.c.name == row.name, mv_tags_t.c.version == row.version
                )
            ).all()
        )
        aliases = list(
            conn.execute(
                select(aliases_t.c.alias)
                .where(aliases_t.c.name == row.name, aliases_t.c.version == row.version)
                .order_by(aliases_t.c.alias)
            ).scalars()
        )
        return ModelVersion(
            name=row.name,
            version=row.version,
            creation_timestamp=row.creation_time,
            last_updated_timestamp=row.last_updated_time,
            source=row.source,
            run_id=row.run_id,
            description=row.description,
            user_id=row.user_id,
            current_stage=row.current_stage,
            run_link=row.run_link,
            model_id=row.model_id,
            status=row.status,
            status_message=row.status_message,
            tags=tags,
            aliases=aliases,
        )

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        number = check_version(version)
        with self.writer.begin() as conn:
            self._version_row(conn, name, number)
            conn.execute(
                update(versions_t)
                .where(versions_t.c.name == name, versions_t.c.version == number)
                .values(description=description, last_updated_time=_now())
            )
        return self.get_model_version(name, number)

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        number = check_version(version)
        canonical = Stage.canonical(stage)
        if canonical is None:
            raise InvalidParameter(
                f"Invalid stage {stage!r}: use one of {', '.join(Stage.ALL)} (or aliases, "
                "which replace stages)."
            )
        now = _now()
        with self.writer.begin() as conn:
            self._version_row(conn, name, number)
            if archive_existing_versions and canonical in (Stage.STAGING, Stage.PRODUCTION):
                conn.execute(
                    update(versions_t)
                    .where(
                        versions_t.c.name == name,
                        versions_t.c.current_stage == canonical,
                        versions_t.c.version != number,
                    )
                    .values(current_stage=Stage.ARCHIVED, last_updated_time=now)
                )
            conn.execute(
                update(versions_t)
                .where(versions_t.c.name == name, versions_t.c.version == number)
                .values(current_stage=canonical, last_updated_time=now)
            )
        return self.get_model_version(name, number)

    def delete_model_version(self, name: str, version: int | str) -> None:
        number = check_version(version)
        with self.writer.begin() as conn:
            self._version_row(conn, name, number)
            conn.execute(
                delete(mv_tags_t).where(mv_tags_t.c.name == name, mv_tags_t.c.version == number)
            )
            conn.execute(
                delete(aliases_t).where(aliases_t.c.name == name, aliases_t.c.version == number)
            )
            conn.execute(
                delete(versions_t).where(versions_t.c.name == name, versions_t.c.version == number)
            )
            self._touch(conn, name)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        number = check_version(version)
        with self.writer.begin() as conn:
            self._version_row(conn, name, number)
            where = (
                mv_tags_t.c.name == name,
                mv_tags_t.c.version == number,
                mv_tags_t.c.key == key,
            )
            conn.execute(delete(mv_tags_t).where(*where))
            conn.execute(
                insert(mv_tags_t).values(name=name, version=number, key=key, value=str(value))
            )

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        number = check_version(version)
        with self.writer.begin() as conn:
            self._version_row(conn, name, number)
            conn.execute(
                delete(mv_tags_t).where(
                    mv_tags_t.c.name == name, mv_tags_t.c.version == number, mv_tags_t.c.key == key
                )
            )

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each stage (all stages when `stages` is empty)."""
        with self.reader.connect() as conn:
            self._require_model(conn, name)
            return self._latest_versions(conn, name, stages)

    def _latest_versions(
        self, conn: Connection, name: str, stages: Sequence[str] | None
    ) -> list[ModelVersion]:
        wanted = [Stage.canonical(s) or s for s in stages or ()]
        latest = (
            select(versions_t.c.current_stage, func.max(versions_t.c.version).label("version"))
            .where(versions_t.c.name == name)
            .group_by(versions_t.c.current_stage)
        )
        pairs = conn.execute(latest).all()
        numbers = sorted((v for stage, v in pairs if not wanted or stage in wanted), reverse=True)
        return [self._model_version(conn, self._version_row(conn, name, n)) for n in numbers]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = MAX_RESULTS,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        max_results = registry_search.check_max(max_results, limit=200_000)
        clauses = registry_search.parse(filter_string, registry_search.VERSIONS_GRAMMAR)
        conditions = [registry_search.version_clause(c) for c in clauses]
        ordering = registry_search.ordering(
            order_by,
            registry_search.VERSIONS_GRAMMAR,
            {
                "name": versions_t.c.name,
                "version_number": versions_t.c.version,
                "creation_timestamp": versions_t.c.creation_time,
                "last_updated_timestamp": versions_t.c.last_updated_time,
            },
            None,
        )
        if not order_by:
            ordering = [versions_t.c.name, versions_t.c.version.desc()]
        offset = _offset(page_token)
        query = select(versions_t).where(*conditions).order_by(*ordering)
        with self.reader.connect() as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            found = [self._model_version(conn, r) for r in rows[:max_results]]
        token = _token(offset + max_results) if len(rows) > max_results else None
        return PagedList(found, token)

    # -- aliases --------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        check_alias(alias)
        number = check_version(version)
        with self.writer.begin() as conn:
            self._version_row(conn, name, number)
            conn.execute(
                delete(aliases_t).where(aliases_t.c.name == name, aliases_t.c.alias == alias)
            )
            conn.execute(insert(aliases_t).values(name=name, alias=alias, version=number))
            self._touch(conn, name)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        with self.writer.begin() as conn:
            self._require_model(conn, name)
            conn.execute(
                delete(aliases_t).where(aliases_t.c.name == name, aliases_t.c.alias == alias)
            )
            self._touch(conn, name)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self.reader.connect() as conn:
            self._require_model(conn, name)
            version = conn.execute(
                select(aliases_t.c.version).where(
                    aliases_t.c.name == name, aliases_t.c.alias == alias
                )
            ).scalar()
            if version is None:
                known = list(
                    conn.execute(
                        select(aliases_t.c.alias).where(aliases_t.c.name == name)
                    ).scalars()
                )
                raise NotFound(
                    f"Registered model {name!r} has no alias {alias!r} (it has: "
                    f"{', '.join(sorted(known)) or 'none'}). Set one with "
                    "set_registered_model_alias(name, alias, version)."
                )
            return self._model_version(conn, self._version_row(conn, name, version))
