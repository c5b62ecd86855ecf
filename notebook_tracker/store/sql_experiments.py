"""Experiments in the SQL store: a mixin of `SqlStore`, which provides the engines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from notebook_tracker.clock import now_ms
from notebook_tracker.entities import (
    Experiment,
    LifecycleStage,
    PagedList,
    ViewType,
)
from notebook_tracker.errors import AlreadyExists, InvalidParameter, NotFound
from notebook_tracker.store import rules
from notebook_tracker.store.base import SEARCH_MAX_RESULTS_DEFAULT
from notebook_tracker.store.paging import (
    check_max_results,
    decode_token,
    encode_token,
    query_key,
)
from notebook_tracker.store.schema import experiment_tags as experiment_tags_t
from notebook_tracker.store.schema import experiments as experiments_t
from notebook_tracker.store.schema import runs as runs_t
from notebook_tracker.store.sqlite_new_store import DEFAULT_EXPERIMENT_NAME


def _already_exists(name: str) -> AlreadyExists:
    return AlreadyExists(
        f"Experiment '{name}' already exists (perhaps deleted: restore it, or pick another name)."
    )


class ExperimentsMixin:
    reader: Any
    writer: Any
    artifact_root: str | None

    def _ensure_default_experiment(self) -> None:
        with self.reader.connect() as conn:
            found = conn.execute(
                select(experiments_t.c.experiment_id).where(experiments_t.c.experiment_id == 0)
            ).first()
        if found:
            return
        try:
            with self.writer.begin() as conn:
                if conn.execute(
                    select(experiments_t.c.experiment_id).where(experiments_t.c.experiment_id == 0)
                ).first():
                    return
                t = now_ms()
                conn.execute(
                    insert(experiments_t).values(
                        experiment_id=0,
                        name=DEFAULT_EXPERIMENT_NAME,
                        artifact_location=self._artifact_location("0"),
                        lifecycle_stage=LifecycleStage.ACTIVE,
                        creation_time=t,
                        last_update_time=t,
                    )
                )
        except IntegrityError:
            # Another process opening the same new store created it first (PostgreSQL, where
            # both can see it missing at once): that is what this wanted.
            if self.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME) is None:
                raise

    def _artifact_location(self, experiment_id: str) -> str:
        if self.artifact_root is None:  # SqlStore always sets one: a subclass forgot to
            raise InvalidParameter("No default artifact root: pass an artifact_location.")
        return f"{self.artifact_root.rstrip('/')}/{experiment_id}"

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        from notebook_tracker.validation import experiment_name

        experiment_name(name)
        tags = rules.tag_map(tags)
        try:
            return self._insert_experiment(name, artifact_location, tags)
        except IntegrityError:
            # Created by another process between our check and our insert (on PostgreSQL two
            # transactions can both see the name free); SQLite's write lock serialises them.
            if self.get_experiment_by_name(name) is None:
                raise
            raise _already_exists(name) from None

    def _insert_experiment(
        self, name: str, artifact_location: str | None, tags: dict[str, str] | None
    ) -> str:
        with self.writer.begin() as conn:
            if conn.execute(
                select(experiments_t.c.experiment_id).where(experiments_t.c.name == name)
            ).first():
                raise _already_exists(name)
            t = now_ms()
            result = conn.execute(
                insert(experiments_t).values(
                    name=name,
                    artifact_location=artifact_location or "",
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    creation_time=t,
                    last_update_time=t,
                )
            )
            exp_id = str(result.inserted_primary_key[0])
            if not artifact_location:
                conn.execute(
                    update(experiments_t)
                    .where(experiments_t.c.experiment_id == int(exp_id))
                    .values(artifact_location=self._artifact_location(exp_id))
                )
            if tags:
                conn.execute(
                    insert(experiment_tags_t),
                    [
                        {"experiment_id": int(exp_id), "key": k, "value": str(v)}
                        for k, v in tags.items()
                    ],
                )
        return exp_id

    def _experiment_id_int(self, experiment_id: str | int) -> int:
        try:
            exp_id = int(experiment_id)
        except (TypeError, ValueError):
            raise NotFound(f"No experiment with id={experiment_id!r} exists.") from None
        if not 0 <= exp_id < 2**31:  # the column is a 32-bit INTEGER on PostgreSQL
            raise NotFound(f"No experiment with id={experiment_id!r} exists.")
        return exp_id

    def _load_experiments(self, conn: Connection, ids: Sequence[int]) -> list[Experiment]:
        if not ids:
            return []
        rows = conn.execute(
            select(experiments_t).where(experiments_t.c.experiment_id.in_(ids))
        ).all()
        tag_rows = conn.execute(
            select(experiment_tags_t).where(experiment_tags_t.c.experiment_id.in_(ids))
        ).all()
        by_id = {
            r.experiment_id: Experiment(
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                lifecycle_stage=r.lifecycle_stage,
                creation_time=r.creation_time,
                last_update_time=r.last_update_time,
            )
            for r in rows
        }
        for t in tag_rows:
            by_id[t.experiment_id].tags[t.key] = t.value
        return [by_id[i] for i in ids if i in by_id]

    def get_experiment(self, experiment_id: str) -> Experiment:
        exp_id = self._experiment_id_int(experiment_id)
        with self.reader.connect() as conn:
            found = self._load_experiments(conn, [exp_id])
        if not found:
            raise NotFound(f"No experiment with id={experiment_id} exists.")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self.reader.connect() as conn:
            exp_id = conn.execute(
                select(experiments_t.c.experiment_id).where(experiments_t.c.name == name)
            ).scalar()
            return self._load_experiments(conn, [exp_id])[0] if exp_id is not None else None

    def search_experiments(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        from notebook_tracker.store.sql_search import build_experiment_search

        check_max_results(max_results)
        bound = query_key("experiments", view_type, filter_string or "", list(order_by or []))
        offset = decode_token(page_token, bound)
        query = build_experiment_search(
            ViewType.stages(view_type), filter_string, order_by, offset, max_results + 1
        )
        with self.reader.connect() as conn:
            ids = [row[0] for row in conn.execute(query)]
            found = self._load_experiments(conn, ids[:max_results])
        token = encode_token(offset + max_results, bound) if len(ids) > max_results else None
        return PagedList(found, token)

    def _set_experiment_stage(self, experiment_id: str, stage: str) -> None:
        exp_id = self._experiment_id_int(experiment_id)
        if exp_id == 0 and stage == LifecycleStage.DELETED:
            raise InvalidParameter("The Default experiment (id 0) cannot be deleted.")
        with self.writer.begin() as conn:
            done = conn.execute(
                update(experiments_t)
                .where(experiments_t.c.experiment_id == exp_id)
                .values(lifecycle_stage=stage, last_update_time=now_ms())
            ).rowcount
            if not done:
                raise NotFound(f"No experiment with id={experiment_id} exists.")
            conn.execute(
                update(runs_t)
                .where(runs_t.c.experiment_id == exp_id)
                .values(
                    lifecycle_stage=stage,
                    deleted_time=now_ms() if stage == LifecycleStage.DELETED else None,
                )
            )

    def delete_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        from notebook_tracker.validation import experiment_name

        experiment_name(new_name)
        exp = self.get_experiment(experiment_id)
        if exp.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameter(f"Experiment {experiment_id} is deleted: restore it first.")
        with self.writer.begin() as conn:
            clash = conn.execute(
                select(experiments_t.c.experiment_id).where(experiments_t.c.name == new_name)
            ).scalar()
            if clash is not None and str(clash) != str(experiment_id):
                raise AlreadyExists(f"Experiment '{new_name}' already exists.")
            conn.execute(
                update(experiments_t)
                .where(experiments_t.c.experiment_id == int(experiment_id))
                .values(name=new_name, last_update_time=now_ms())
            )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        tag = rules.tag(key, value)
        key, value = tag.key, tag.value
        self.get_experiment(experiment_id)
        with self.writer.begin() as conn:
            exp_id = int(experiment_id)
            conn.execute(
                delete(experiment_tags_t).where(
                    and_(
                        experiment_tags_t.c.experiment_id == exp_id, experiment_tags_t.c.key == key
                    )
                )
            )
            conn.execute(
                insert(experiment_tags_t).values(experiment_id=exp_id, key=key, value=str(value))
            )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        exp_id = self._experiment_id_int(experiment_id)
        self.get_experiment(experiment_id)
        with self.writer.begin() as conn:
            tag = experiment_tags_t.c
            done = conn.execute(
                delete(experiment_tags_t).where(and_(tag.experiment_id == exp_id, tag.key == key))
            ).rowcount
        if not done:
            raise NotFound(f"No tag with name={key!r} on experiment {experiment_id}.")
