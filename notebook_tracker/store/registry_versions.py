"""Model versions of the registry: numbered per name, never reused; tags, stages, search.

A mixin of `SqlRegistryStore` (`registry_sql.py`), which provides the engines and the
registered-model lookups it uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from notebook_tracker.entities import PagedList
from notebook_tracker.entities.registry import ModelVersion, ModelVersionStatus, Stage
from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.store import registry_search
from notebook_tracker.store.paging import query_key
from notebook_tracker.store.registry_rules import (
    check_tag,
    check_tags,
    check_version,
    now,
    offset,
    token,
)
from notebook_tracker.store.registry_schema import model_version_tags as mv_tags_t
from notebook_tracker.store.registry_schema import model_versions as versions_t
from notebook_tracker.store.registry_schema import registered_model_aliases as aliases_t
from notebook_tracker.store.registry_schema import registered_models as models_t

MAX_RESULTS = 200_000


class VersionsMixin:
    reader: Any
    writer: Any

    def _require_model(self, conn: Connection, name: str, lock: bool = False) -> Any:
        raise NotImplementedError

    def _touch(self, conn: Connection, name: str) -> None:
        raise NotImplementedError

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
        tags = check_tags(tags)
        stamp = now()
        with self.writer.begin() as conn:
            row = self._require_model(conn, name, lock=True)
            version = max(int(row.next_version), self._max_version(conn, name) + 1)
            conn.execute(
                insert(versions_t).values(
                    name=name,
                    version=version,
                    creation_time=stamp,
                    last_updated_time=stamp,
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
                .values(next_version=version + 1, last_updated_time=stamp)
            )
        return self.get_model_version(name, version)

    def _max_version(self, conn: Connection, name: str) -> int:
        return int(
            conn.execute(
                select(func.coalesce(func.max(versions_t.c.version), 0)).where(
                    versions_t.c.name == name
                )
            ).scalar_one()
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
                .values(description=description, last_updated_time=now())
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
        stamp = now()
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
                    .values(current_stage=Stage.ARCHIVED, last_updated_time=stamp)
                )
            conn.execute(
                update(versions_t)
                .where(versions_t.c.name == name, versions_t.c.version == number)
                .values(current_stage=canonical, last_updated_time=stamp)
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
        key, value = check_tag(key, value)
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
        max_results: int = 10_000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        max_results = registry_search.check_max(max_results, limit=MAX_RESULTS)
        clauses = registry_search.parse(filter_string, registry_search.VERSIONS)
        conditions = [registry_search.version_clause(c) for c in clauses]
        ordering = registry_search.ordering(
            order_by,
            registry_search.VERSIONS,
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
        bound = query_key("versions", filter_string or "", list(order_by or []))
        start = offset(page_token, bound)
        query = select(versions_t).where(*conditions).order_by(*ordering)
        with self.reader.connect() as conn:
            rows = conn.execute(query.offset(start).limit(max_results + 1)).all()
            found = [self._model_version(conn, r) for r in rows[:max_results]]
        next_token = token(start + max_results, bound) if len(rows) > max_results else None
        return PagedList(found, next_token)
