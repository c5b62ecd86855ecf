"""Synchronous single calls: a param, a tag, or a lone point, committed without thread hops.

Params and tags go through `write_params_tags`: on SQLite straight to the driver
(`SqlStore.log_params_tags`), on the IO loop when this worker writes nothing else, else on
its writer thread (server/ingest.py); elsewhere on the server's pool.

A `log_metric` (MLflow's `runs/log-metric`, or our client's one-point `runs/log-batch`) that
goes the group-commit way crosses four threads: IO loop -> pool -> writer thread -> pool -> IO
loop, each a wake-up and a handover of the interpreter lock, which on a 2-core machine cost
more than the write itself. When the request is the only one this worker is handling and its
SQLite writer is idle, there is nothing to group it with, so it is written right there, as
params and tags already are (`GroupWriter.call_async`): the answer still follows the commit.

As soon as a second request is in flight the points go the group-commit way again: a commit on
the loop would keep it from reading the requests that could have joined the group (JSON
log-batch at 4 connections lost about a third of its throughput when all points took the loop).
So they do for a second after a loop commit that was slow (a busy disk): other requests would
wait behind it. Params and tags back off the same way (to the writer thread), after a slow loop
commit of any kind. Not while every request the worker reads comes from one connection (the
standalone server says which, `request_from`): a lone synchronous client has nobody behind it.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.entities.logged_models import ModelMetric
from notebook_tracker.server.ingest import GroupWriter, group_writer
from notebook_tracker.server.mlflow_api.service import MlflowApi
from notebook_tracker.store.commit_notice import Notice

# At most this many points a request take the loop: a synchronous caller's, not a batch's.
LONE_MAX_POINTS = 10
# A commit on the loop holds the worker's other requests for its fdatasync: about 0.2 ms on a
# quiet disk, tens of ms on a busy one (a reader beside a loop of synchronous points saw its
# p99 go from 27-46 to 65-108 ms on the loaded machine). Loop commits are judged over the last
# WINDOW of them, not one by one: on a quiet disk SQLite's automatic checkpoint makes one
# commit in about 250 take 1-10 ms, and the odd fdatasync takes 2-4 ms; one such commit
# closing the loop for a second sent nearly all writes of bench_ingest's Jupyter pass (593 of
# 600) through the writer thread, 0.1-0.3 ms more a call. When SLOW_IN_WINDOW of the last
# WINDOW loop commits took over SLOW_COMMIT_S (a disk slow for a while), or one took over
# STALL_S (a network disk's tens of ms), points and params take the writer thread for
# BACKOFF_S; then the loop is tried again with a fresh window.
SLOW_COMMIT_S = 0.002
WINDOW = 16
SLOW_IN_WINDOW = 8
STALL_S = 0.02
BACKOFF_S = 1.0
_loop_closed_until = 0.0
# That back-off protects other clients' requests; it is skipped while this worker's requests
# all come from one connection (a lone synchronous client, who waits for its commit either
# way): on a shared disk the odd 2-7 ms fdatasync closed the loop for a second each time, and
# the writer thread's hops cost every call 0.2-0.4 ms more CPU and wall (on ext4, 598 of 601
# writes of bench_ingest's sync pass went that way). A request from a second connection makes
# the worker shared for BACKOFF_S. Only a server that reports its connections
# (`request_from`, the standalone server's fast calls) is ever taken as lone.
_tracked = False
_last_connection = 0
_shared_until = 0.0

_in_flight = 0


class InFlight:
    """Counts the worker's MLflow API requests between reading and answering (one IO loop per
    worker, so a plain counter)."""

    def __enter__(self) -> None:
        global _in_flight
        _in_flight += 1

    def __exit__(self, *exc: object) -> None:
        global _in_flight
        _in_flight -= 1


def in_flight() -> int:
    return _in_flight


def request_from(connection: object) -> None:
    """Note that this worker read a request from `connection` (any object standing for one
    client connection while it is open): one from another connection than the last makes the
    worker shared, and loop commits back off after a slow one, for BACKOFF_S."""
    global _tracked, _last_connection, _shared_until
    key = id(connection)
    if key != _last_connection:
        if _tracked:
            _shared_until = time.monotonic() + BACKOFF_S
        _tracked, _last_connection = True, key


def _loop_open(now: float | None = None) -> bool:
    """Whether a write may take the loop: no recent slow loop commit, or a lone client."""
    now = time.monotonic() if now is None else now
    return now >= _loop_closed_until or lone_client(now)


def lone_client(now: float | None = None, seconds: float = BACKOFF_S) -> bool:
    """Whether every request this worker read for the last `seconds` (at most BACKOFF_S) came
    from one connection (only ever true in a server that reports its connections,
    `request_from`)."""
    now = time.monotonic() if now is None else now
    return _tracked and now >= _shared_until - BACKOFF_S + seconds


async def lone_writer(api: MlflowApi, points: int = 1) -> GroupWriter | None:
    """The SQLite writer, when a request of `points` points may be written on the loop: it is
    the only request in flight and small. None: take the group-commit way."""
    if _in_flight != 1 or points > LONE_MAX_POINTS:
        return None
    writer = group_writer(await api.opened_store())
    if writer is None or not writer.serial:
        return None
    return writer


def points_in(items: Any) -> int:
    """How many points a request's `metrics` field holds (a non-list counts as many)."""
    return len(items) if type(items) is list else LONE_MAX_POINTS + 1


Points = tuple[str, Sequence[Metric], Sequence[ModelMetric]]


async def write_if_lone(
    api: MlflowApi, points: int, read: Callable[[], Points], notice: Notice | None = None
) -> bool:
    """Read the request's points with `read` (run id, the run's points, logged models') and
    commit them on this thread if the request is lone and small (`lone_writer`) and has no
    model points. False: nothing written, take the group-commit way. The answer follows the
    commit either way; on this thread, `notice` is called the moment it commits."""
    if not _loop_open():
        return False
    writer = await lone_writer(api, points)
    if writer is None:
        return False
    run_id, metrics, model_metrics = read()
    if model_metrics:
        return False
    rows = [(run_id, m.key, m.value, m.timestamp, m.step) for m in metrics]
    await _on_loop(writer, functools.partial(writer.store.log_metric_groups, rows, ()), notice)
    return True


async def _on_loop(
    writer: GroupWriter, write: Callable[[], object], notice: Notice | None = None
) -> None:
    """`write` on the loop unless recent loop commits were slow (then on the writer thread,
    and `notice` is not called)."""
    start = time.monotonic()
    here = True
    try:
        here = await writer.call_async(write, now=_loop_open(start), notice=notice)
    finally:
        if here:
            loop_commit_took(time.monotonic() - start)


class CommitWindow:
    """Whether each of the last WINDOW loop commits was slow."""

    def __init__(self) -> None:
        self.recent: deque[bool] = deque(maxlen=WINDOW)

    def took(self, seconds: float) -> bool:
        """Count a commit; True when the loop should close (the window then starts afresh)."""
        self.recent.append(seconds > SLOW_COMMIT_S)
        if seconds > STALL_S or sum(self.recent) >= SLOW_IN_WINDOW:
            self.recent.clear()
            return True
        return False


_window = CommitWindow()


def loop_commit_took(seconds: float) -> None:
    """Count a commit done on the loop; close the loop to writes for BACKOFF_S when the
    commits have been slow for a while, or this one stalled the loop."""
    global _loop_closed_until
    if _window.took(seconds):
        _loop_closed_until = time.monotonic() + BACKOFF_S


async def write_params_tags(
    api: MlflowApi,
    run_id: str,
    params: list[Param] | None = None,
    tags: list[RunTag] | None = None,
    notice: Notice | None = None,
) -> None:
    """A synchronous param or tag: on SQLite through the driver directly (log_params_tags),
    calling `notice` the moment it commits when that is on this thread."""
    store = await api.opened_store()
    writer = group_writer(store)
    if writer is None or not writer.serial:
        await api.context.run(store.log_batch, run_id, params=params or (), tags=tags or ())
        return
    write = functools.partial(writer.store.log_params_tags, run_id, params or (), tags or ())
    await _on_loop(writer, write, notice)
