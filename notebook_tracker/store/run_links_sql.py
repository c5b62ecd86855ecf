"""The datasets and logged models each run uses and produces (MLflow 3's run inputs and
outputs): a mixin of `SqlLoggedModelStore`, which provides the engines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select

from notebook_tracker.entities.logged_models import DatasetInput
from notebook_tracker.errors import NotFound
from notebook_tracker.store import rules
from notebook_tracker.store.schema import logged_models as models_t
from notebook_tracker.store.schema import run_dataset_inputs as datasets_t
from notebook_tracker.store.schema import run_model_links as links_t


class RunLinksMixin:
    reader: Engine
    writer: Engine

    # -- runs' inputs and outputs ---------------------------------------------------------------
    def link_run(self, run_id: str, models: Iterable[tuple[str, int]], direction: str) -> None:
        wanted = {model_id: step for model_id, step in models}
        if not wanted:
            return
        with self.writer.begin() as conn:
            found = {
                r[0]
                for r in conn.execute(
                    select(models_t.c.model_id).where(models_t.c.model_id.in_(list(wanted)))
                )
            }
            missing = [m for m in wanted if m not in found]
            if missing:
                raise NotFound(f"Logged model with ID '{missing[0]}' not found.")
            conn.execute(
                delete(links_t).where(
                    and_(
                        links_t.c.run_uuid == run_id,
                        links_t.c.direction == direction,
                        links_t.c.model_id.in_(list(wanted)),
                    )
                )
            )
            conn.execute(
                insert(links_t),
                [
                    {"run_uuid": run_id, "model_id": m, "direction": direction, "step": s}
                    for m, s in wanted.items()
                ],
            )

    def log_datasets(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        if not datasets:
            return
        datasets = [rules.dataset(d) for d in datasets]
        with self.writer.begin() as conn:
            for d in datasets:
                conn.execute(
                    delete(datasets_t).where(
                        and_(
                            datasets_t.c.run_uuid == run_id,
                            datasets_t.c.name == d.name,
                            datasets_t.c.digest == d.digest,
                        )
                    )
                )
            conn.execute(
                insert(datasets_t),
                [
                    {
                        "run_uuid": run_id,
                        "name": d.name,
                        "digest": d.digest,
                        "source_type": d.source_type,
                        "source": d.source,
                        "schema": d.schema,
                        "profile": d.profile,
                        "tags": json.dumps(d.tags) if d.tags else None,
                    }
                    for d in datasets
                ],
            )

    def run_io(self, run_ids: Sequence[str]) -> dict[str, dict[str, list[Any]]]:
        """For each run that has any: {"datasets": [...], "inputs": [...], "outputs": [...]}
        (model links as (model_id, step))."""
        out: dict[str, dict[str, list[Any]]] = {}
        if not run_ids:
            return out
        ids = list(run_ids)
        with self.reader.connect() as conn:
            for r in conn.execute(select(links_t).where(links_t.c.run_uuid.in_(ids))):
                entry = out.setdefault(r.run_uuid, {"datasets": [], "inputs": [], "outputs": []})
                kind = "outputs" if r.direction == "output" else "inputs"
                entry[kind].append((r.model_id, r.step))
            for r in conn.execute(select(datasets_t).where(datasets_t.c.run_uuid.in_(ids))):
                entry = out.setdefault(r.run_uuid, {"datasets": [], "inputs": [], "outputs": []})
                entry["datasets"].append(
                    DatasetInput(
                        r.name,
                        r.digest,
                        r.source_type,
                        r.source,
                        r.schema,
                        r.profile,
                        json.loads(r.tags) if r.tags else {},
                    )
                )
        return out
