"""Statements of the store's hot paths, built once: building Core expressions per call costs
more than running them on SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    Connection,
    Executable,
    Text,
    and_,
    any_,
    bindparam,
    exists,
    false,
    insert,
    or_,
    select,
    text,
    true,
    update,
)

from notebook_tracker.store.schema import (
    experiments,
    latest_metrics,
    latest_pending,
    metric_chunks,
    params,
    runs,
    tags,
)

_ids: BindParameter[str] = bindparam("ids", expanding=True)
_keys: BindParameter[str] = bindparam("keys", expanding=True)

RUN_STATE = select(runs.c.run_uuid, runs.c.lifecycle_stage, runs.c.status).where(
    runs.c.run_uuid == bindparam("run_id")
)
RUN_ROWS = select(runs).where(runs.c.run_uuid.in_(_ids))
PARAM_ROWS = select(params.c.run_uuid, params.c.key, params.c.value).where(
    params.c.run_uuid.in_(_ids)
)
TAG_ROWS = select(tags.c.run_uuid, tags.c.key, tags.c.value).where(tags.c.run_uuid.in_(_ids))
LATEST_ROWS = select(
    latest_metrics.c.run_uuid, latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.is_nan
).where(latest_metrics.c.run_uuid.in_(_ids))
# A run that ended: its latest metrics back in the (key, value) index (migration 0010), once;
# on PostgreSQL that index orders a copy of the value (migration 0011).
_SETTLE_RUN = (
    update(latest_metrics)
    .where(latest_metrics.c.run_uuid == bindparam("rid"), latest_metrics.c.settled == false())
    .values(settled=true())
)
# PostgreSQL's writers change rows too (they unsettle them), so settling locks a run's rows in
# the order a writer's upsert does, (run, key): in table order, a run's end or the idle pass and
# a writer of the same run each held a row the other wanted, and PostgreSQL failed one of them
# (a deadlock; 14 in 20 s of four writers beside a settler ending runs every 10 ms).
_PG_SETTLE_RUN = text(
    "UPDATE latest_metrics AS l SET settled = true, settled_value = l.value "
    "FROM (SELECT run_uuid, key FROM latest_metrics WHERE run_uuid = :rid AND NOT settled "
    "ORDER BY key FOR UPDATE) AS s WHERE l.run_uuid = s.run_uuid AND l.key = s.key"
)


def settle_run(conn: Connection) -> Executable:
    """A run's settling statement (parameter `rid`) as `conn`'s database spells it; with many
    runs, give them sorted (the order writers lock them in)."""
    return _PG_SETTLE_RUN if conn.dialect.name == "postgresql" else _SETTLE_RUN


# SQLite's batch writers take a run's rows out of that index before changing their values.
UNSETTLE_RUN = (
    update(latest_metrics)
    .where(latest_metrics.c.run_uuid == bindparam("rid"), latest_metrics.c.settled == true())
    .values(settled=false())
)
# The same four on PostgreSQL with the ids as one array: one statement text for any number of
# ids, which the reader runs prepared (pg_reads.py).
_id_array: BindParameter[Any] = bindparam("ids", type_=ARRAY(Text))
PG_ID_READS = (
    # With whether the run has staged values to fold first (latest_folding.py): no query of
    # its own before a run is read.
    select(
        runs,
        exists().where(latest_pending.c.run_uuid == runs.c.run_uuid).label("latest_pending"),
    ).where(runs.c.run_uuid == any_(_id_array)),
    select(params.c.run_uuid, params.c.key, params.c.value).where(
        params.c.run_uuid == any_(_id_array)
    ),
    select(tags.c.run_uuid, tags.c.key, tags.c.value).where(tags.c.run_uuid == any_(_id_array)),
    select(
        latest_metrics.c.run_uuid,
        latest_metrics.c.key,
        latest_metrics.c.value,
        latest_metrics.c.is_nan,
    ).where(latest_metrics.c.run_uuid == any_(_id_array)),
)
ID_READS = (RUN_ROWS, PARAM_ROWS, TAG_ROWS, LATEST_ROWS)
EXISTING_PARAMS = select(params.c.key, params.c.value).where(
    and_(params.c.run_uuid == bindparam("run_id"), params.c.key.in_(_keys))
)
INSERT_TAGS = insert(tags)
INSERT_PARAMS = insert(params)
INSERT_RUN = insert(runs)
INSERT_CHUNKS = insert(metric_chunks)
SET_RUN_NAME = (
    update(runs).where(runs.c.run_uuid == bindparam("rid")).values(name=bindparam("new_name"))
)
EXPERIMENT_FOR_RUN = select(
    experiments.c.name, experiments.c.lifecycle_stage, experiments.c.artifact_location
).where(experiments.c.experiment_id == bindparam("exp_id"))

_upserts: dict[str, Executable] = {}


def upsert_tags() -> Executable:
    """SQLite: set a run's tags, replacing stored values: one statement, so that two writers
    setting the same tag at once both succeed (the last one wins) instead of the second failing
    on the key its delete-then-insert could not see. A tag set to the value it has writes
    nothing. (PostgreSQL's is pg_upserts', many rows a statement.)"""
    stmt = _upserts.get("tags")
    if stmt is None:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        base = sqlite_insert(tags)
        stmt = _upserts["tags"] = base.on_conflict_do_update(
            index_elements=[tags.c.run_uuid, tags.c.key],
            set_={"value": base.excluded.value},
            where=tags.c.value.is_distinct_from(base.excluded.value),  # same value: no write
        )
    return stmt


def upsert_latest() -> Executable:
    """SQLite: insert the latest point per (run, key), replacing the stored one only if it is
    older. (PostgreSQL's is pg_upserts', many rows a statement.)"""
    stmt = _upserts.get("latest")
    if stmt is None:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        base = sqlite_insert(latest_metrics)
        excluded = base.excluded
        stmt = _upserts["latest"] = base.on_conflict_do_update(
            index_elements=[latest_metrics.c.run_uuid, latest_metrics.c.key],
            set_={
                "step": excluded.step,
                "timestamp": excluded.timestamp,
                "value": excluded.value,
                "is_nan": excluded.is_nan,
            },
            where=or_(
                excluded.step > latest_metrics.c.step,
                and_(
                    excluded.step == latest_metrics.c.step,
                    excluded.timestamp >= latest_metrics.c.timestamp,
                ),
            ),
        )
    return stmt
