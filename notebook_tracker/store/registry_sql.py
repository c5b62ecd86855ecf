"""Data access of the model registry, on the tracking store's database (SQLite or PostgreSQL).

Filters and ordering of searches are compiled in `registry_search.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from notebook_tracker.entities import PagedList
from notebook_tracker.entities.registry import ModelVersion, RegisteredModel
from notebook_tracker.errors import AlreadyExists, NotFound
from notebook_tracker.store import registry_search
from notebook_tracker.store.engine import engines_for
from notebook_tracker.store.paging import query_key
from notebook_tracker.store.registry_base import RegistryStore
from notebook_tracker.store.registry_rules import (
    check_alias,
    check_name,
    check_tag,
    check_tags,
    check_version,
    now,
)
from notebook_tracker.store.registry_rules import offset as page_offset
from notebook_tracker.store.registry_rules import token as page_token_for
from notebook_tracker.store.registry_schema import model_version_tags as mv_tags_t
from notebook_tracker.store.registry_schema import model_versions as versions_t
from notebook_tracker.store.registry_schema import registered_model_aliases as aliases_t
from notebook_tracker.store.registry_schema import registered_model_tags as rm_tags_t
from notebook_tracker.store.registry_schema import registered_models as models_t
from notebook_tracker.store.registry_versions import VersionsMixin
from notebook_tracker.store.schema_version import ensure_schema


def _model_exists(name: str) -> AlreadyExists:
    return AlreadyExists(
        f"Registered model {name!r} already exists: register a new version of it or choose "
        "another name."
    )


class SqlRegistryStore(VersionsMixin, RegistryStore):
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
        tags = check_tags(tags)
        try:
            self._insert_model(name, description, tags, user_id)
        except IntegrityError:
            # Created by another process between our check and our insert (PostgreSQL).
            with self.reader.connect() as conn:
                if self._model_row(conn, name) is None:
                    raise
            raise _model_exists(name) from None
        return self.get_registered_model(name)

    def _insert_model(
        self,
        name: str,
        description: str | None,
        tags: dict[str, str] | None,
        user_id: str | None,
    ) -> None:
        stamp = now()
        with self.writer.begin() as conn:
            if self._model_row(conn, name) is not None:
                raise _model_exists(name)
            conn.execute(
                insert(models_t).values(
                    name=name,
                    creation_time=stamp,
                    last_updated_time=stamp,
                    description=description,
                    user_id=user_id,
                    next_version=1,
                )
            )
            for key, value in (tags or {}).items():
                conn.execute(insert(rm_tags_t).values(name=name, key=key, value=str(value)))

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
            values.update(name=new_name, last_updated_time=now())
            conn.execute(insert(models_t).values(**values))
            for table in (rm_tags_t, aliases_t):
                conn.execute(update(table).where(table.c.name == name).values(name=new_name))
            versions = [
                dict(r._mapping)  # noqa: SLF001 (SQLAlchemy's public Row mapping)
                for r in conn.execute(select(versions_t).where(versions_t.c.name == name))
            ]
            version_tags = [
                dict(r._mapping)  # noqa: SLF001 (SQLAlchemy's public Row mapping)
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
                .values(description=description, last_updated_time=now())
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
        key, value = check_tag(key, value)
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
            update(models_t).where(models_t.c.name == name).values(last_updated_time=now())
        )

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        max_results = registry_search.check_max(max_results)
        clauses = registry_search.parse(filter_string, registry_search.MODELS)
        conditions = [registry_search.model_clause(c) for c in clauses]
        ordering = registry_search.ordering(
            order_by,
            registry_search.MODELS,
            {
                "name": models_t.c.name,
                "creation_timestamp": models_t.c.creation_time,
                "last_updated_timestamp": models_t.c.last_updated_time,
            },
            models_t.c.name,
        )
        bound = query_key("models", filter_string or "", list(order_by or []))
        start = page_offset(page_token, bound)
        query = select(models_t).where(*conditions).order_by(*ordering)
        with self.reader.connect() as conn:
            rows = conn.execute(query.offset(start).limit(max_results + 1)).all()
            found = [self._registered_model(conn, r) for r in rows[:max_results]]
        token = page_token_for(start + max_results, bound) if len(rows) > max_results else None
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
