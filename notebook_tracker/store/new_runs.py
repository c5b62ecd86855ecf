"""A run about to be created: its id, name, tags and owner, the row a SQL store inserts, and
the `Run` it returns. One home for both SQLite writers (`SqlStore` and the first-write path),
so a run created either way is the same run."""

from __future__ import annotations

import os
from typing import Any

from notebook_tracker import liveness
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import LifecycleStage, Run, RunData, RunInfo, RunStatus
from notebook_tracker.store import rules, run_names


class NewRun:
    __slots__ = (
        "run_id",
        "name",
        "user_id",
        "start_time",
        "parent_run_id",
        "tags",
        "owner",
        "record_owner",
    )

    def __init__(
        self,
        run_id: str,
        name: str,
        user_id: str,
        start_time: int,
        parent_run_id: str | None,
        tags: dict[str, str],
        owner: tuple[Any, Any, Any],
        record_owner: bool,
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.user_id = user_id
        self.start_time = start_time
        self.parent_run_id = parent_run_id
        self.tags = tags
        self.owner = owner
        self.record_owner = record_owner

    def row(self, experiment_id: int, artifact_uri: str) -> dict[str, Any]:
        host, pid, started = self.owner
        return {
            "run_uuid": self.run_id,
            "name": self.name,
            "experiment_id": experiment_id,
            "user_id": self.user_id,
            "status": RunStatus.RUNNING,
            "start_time": self.start_time,
            "end_time": None,
            "deleted_time": None,
            "lifecycle_stage": LifecycleStage.ACTIVE,
            "artifact_uri": artifact_uri,
            "parent_run_id": self.parent_run_id,
            "owner_host": host,
            "owner_pid": pid,
            "owner_started": started,
            "heartbeat_time": now_ms() if self.record_owner else None,
        }

    def tag_rows(self) -> list[dict[str, str]]:
        return [{"run_uuid": self.run_id, "key": k, "value": v} for k, v in self.tags.items()]

    def run(self, experiment_id: int, artifact_uri: str) -> Run:
        info = RunInfo(
            run_id=self.run_id,
            experiment_id=str(experiment_id),
            run_name=self.name,
            user_id=self.user_id,
            status=RunStatus.RUNNING,
            start_time=self.start_time,
            end_time=None,
            artifact_uri=artifact_uri,
        )
        return Run(info, RunData(tags=dict(self.tags)))


def new_run(
    user_id: str,
    start_time: int,
    tags: dict[str, str] | None,
    run_name: str | None,
    parent_run_id: str | None,
    record_owner: bool,
) -> NewRun:
    """The run `create_run` is asked for, with the system tags every run carries."""
    all_tags = {k: str(v) for k, v in rules.tag_map(tags).items()}
    name = run_name or all_tags.get("mlflow.runName") or run_names.generate()
    all_tags["mlflow.runName"] = name
    all_tags.setdefault("mlflow.user", user_id)
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    owner = liveness.current_owner() if record_owner else (None, None, None)
    return NewRun(
        random_uuid_hex(), name, user_id, start_time, parent_run_id, all_tags, owner, record_owner
    )


def random_uuid_hex() -> str:
    """`uuid.uuid4().hex`, without importing `uuid` (which imports `platform`: ~3 ms of a
    fresh process's first point): 122 random bits with the version and variant bits set."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    return b.hex()
