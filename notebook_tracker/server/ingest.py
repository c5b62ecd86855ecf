"""Group commit: the metric points of concurrent requests written in one transaction.

Each server worker has one writer thread per SQL store. A request hands it its points and
waits; the thread takes everything pending (up to MAX_GROUP_POINTS), writes it in one
transaction (`SqlStore.log_metric_groups`) and answers every request once that transaction
has committed, so a 200 still means "durable as the store's commit is". Under load the commit
cost (and SQLite's write lock, shared with the other workers) is paid once per group instead
of once per request; alone, a request waits for nothing but its own write.

On SQLite, the workers of one server also take turns through a lock file beside the database
(`<db>-ingest.lock`, flock): a worker waiting for it wakes the moment the other commits and
meanwhile gathers a bigger group, where SQLite's own busy wait would sleep in steps of up to
100 ms and make the slowest requests wait that long. A group's statement parameters are made
before the turn, and the points queued while the writer waited for it join its transaction:
with two workers taking turns, each turn otherwise committed one request, and the turns, not
the CPU, bounded the requests per second (a turn was 1.2-1.6 ms, most of it one commit).

A group that fails (a run deleted or unknown in one request) is retried request by request,
so only the request at fault gets the error, and it gets the same error a lone write would.

On SQLite the thread also runs the worker's param and tag writes (`call_async`), each in its
own transaction: SQLite has one writer anyway, and a request handed straight from the IO loop
to this thread crosses one thread boundary each way instead of two (through the server's pool
and back).

Better still, a param or tag write that would wait for nothing is done at once on the IO loop
itself (`_now`): this worker writes nothing and has nothing queued, and the other workers' turn
is free (a non-blocking flock), so a lone synchronous call crosses no thread at all. Points
always go through the thread: a commit done on the loop keeps the loop from reading the
requests that would have joined the next group (on a loaded machine, whose fsync took
milliseconds, JSON log-batch at 4 connections lost about a third of its throughput so).

On PostgreSQL a group also waits, briefly, for the requests it expects (`_gather`): each
worker's connections are then answered together and send their next requests together, where
otherwise they fell into step one behind the other, each request written alone while the other
waited. With two workers and four connections (two a worker), a JSON log-batch of 100 metrics
went 1.3 requests a statement; in statements of two, a request costs PostgreSQL and the worker
less (0.28-0.29 + 0.58-0.61 ms of CPU against 0.32-0.37 + 0.63-0.71), and the requests per
second rose from 1,414-1,455 to 1,532-1,585 (interleaved, one VM), p50 2.3-2.4 -> 2.1-2.2 ms:
shorter, not longer, since neither request now waits behind the other's. A group waits only
when the last write ended moments ago with as many requests at once as it would wait for, and
never for a write of few points (a synchronous `log_metric`), so a lone client waits for
nothing.

A JSON log-batch of points is queued unread (`read_async`) and read on this thread, just
before its group's transaction: loop, writer, loop, where reading it on the server's pool
woke a pool thread to read it and again to wait for the commit. Its reader's error, or its
declining (points of a logged model), answers that request alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from notebook_tracker.store import commit_notice, sqlite_wal
from notebook_tracker.store.commit_notice import Notice
from notebook_tracker.store.sql import SqlStore
from notebook_tracker.store.sql_ingest import GroupWrite
from notebook_tracker.store.sqlite_files import database_file
from notebook_tracker.wire.batch import Column

if os.name == "posix":  # the lock file is POSIX only (`_lock_path`)
    import fcntl

_log = logging.getLogger(__name__)
MAX_GROUP_POINTS = 200_000
# `_gather`: at most this long, only after a write that ended this recently, and only for
# jobs of this many points or more (a batch, not a synchronous call).
GATHER_S = 0.001
GATHER_AFTER_S = 0.005
GATHER_MIN_POINTS = 8
Row = tuple[str, str, float, int, int]


@dataclass
class _Job:
    rows: Sequence[Row]
    columns: Sequence[tuple[str, Column]]
    points: int
    call: Callable[[], object] | None = None  # a write of its own (params, tags)
    done: Future[bool] = field(default_factory=Future)
    read: Callable[[], Sequence[Row] | None] | None = None  # the request's points, read here


class GroupWriter:
    def __init__(self, store: SqlStore, max_points: int = MAX_GROUP_POINTS) -> None:
        self.store = store
        self.max_points = max_points
        self._pending: list[_Job] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._lock_path = _lock_path(store)
        self._lock_fd: int | None = None
        self._busy = threading.Lock()  # held while this worker writes, on any thread
        # Other writes go through this thread only where the database has one writer anyway.
        self.serial = store.writer.url.get_backend_name() == "sqlite"
        self.groups = 0  # transactions committed (for tests and benchmarks)
        self._prepared = False
        self._locked = False  # this worker's turn is taken (`_begin_turn`)
        self._at_once = 0  # point jobs written and waiting when the last write ended
        self._ended = 0.0  # when it ended (time.monotonic)

    def prepare(self) -> None:
        """Ready a SQLite store's WAL for this worker's commits, once: its working size is
        written now rather than grown commit by commit (sqlite_wal.py). Blocks: call it where
        waiting is fine (the server's pool)."""
        if self.serial and not self._prepared:
            self._prepared = True
            sqlite_wal.presize(self.store.writer)

    def submit(
        self, rows: Sequence[Row] = (), columns: Sequence[tuple[str, Column]] = ()
    ) -> Future[bool]:
        """Queue points; the future resolves when they are committed, or holds the error."""
        return self._queue(_Job(rows, columns, len(rows) + sum(c.count for _, c in columns)))

    async def read_async(self, read: Callable[[], Sequence[Row] | None], points: int) -> bool:
        """Commit the points that `read` returns, called on the writer thread (about `points`
        of them): a request read there crosses two threads (IO loop, writer, IO loop) where
        one read on the server's pool crossed four. False: `read` returned None, nothing was
        written; `read`'s own error is raised, as a failed write's is."""
        return await asyncio.wrap_future(self._queue(_Job((), (), points, read=read)))

    def _queue(self, job: _Job) -> Future[bool]:
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="nt-group-writer", daemon=True
                )
                self._thread.start()
            self._pending.append(job)
            self._wake.notify()
        return job.done

    def write(self, rows: Sequence[Row] = (), columns: Sequence[tuple[str, Column]] = ()) -> None:
        """Blocking form of `submit`, for endpoint functions running on the server's pool."""
        self.submit(rows, columns).result()

    async def write_async(
        self, rows: Sequence[Row] = (), columns: Sequence[tuple[str, Column]] = ()
    ) -> None:
        await asyncio.wrap_future(self.submit(rows, columns))

    async def call_async(
        self, fn: Callable[[], object], now: bool = True, notice: Notice | None = None
    ) -> bool:
        """Run the store write `fn` alone in its transaction, in this worker's turn: at once if
        nothing else is writing (and `now`), else on the writer thread. True: it ran on the
        calling thread, and `notice` was called the moment its transaction committed."""
        if now and self._now(fn, notice):
            return True
        await asyncio.wrap_future(self._queue(_Job((), (), 0, fn)))
        return False

    def _now(self, fn: Callable[[], object], notice: Notice | None = None) -> bool:
        """Run `fn` on the calling thread if that waits for nothing (see the module's
        docstring); False: it would wait, queue it. The write's own error is raised.
        `notice` is armed for `fn`'s commit only (commit_notice.py): what follows it (the
        turn's end, the callers' returns) runs after."""
        if not self.serial or self._pending:
            return False
        if not self._busy.acquire(blocking=False):
            return False
        try:
            if not self._begin_turn(blocking=False):
                return False
            if notice is not None:
                commit_notice.arm(notice)
            try:
                fn()
            finally:
                if notice is not None:
                    commit_notice.arm(None)
                self._end_turn()
            return True
        finally:
            self._busy.release()

    def _take(self) -> list[_Job]:
        with self._wake:
            while not self._pending:
                self._wake.wait()
            self._gather()
            taken, points = 0, 0
            for job in self._pending:
                if taken and points + job.points > self.max_points:
                    break
                taken += 1
                points += job.points
            group, self._pending = self._pending[:taken], self._pending[taken:]
            return group

    def _gather(self) -> None:
        """Wait, holding `_wake`, up to GATHER_S for as many point jobs as the last write saw
        at once (written, or queued behind it), if it ended within GATHER_AFTER_S; PostgreSQL
        only (on SQLite the workers' turns gather them) and only when every job is a batch."""
        expected = self._at_once
        if self.serial or expected < 2 or len(self._pending) >= expected:
            return
        now = time.monotonic()
        if now - self._ended > GATHER_AFTER_S:
            return
        if any(job.call is not None or job.points < GATHER_MIN_POINTS for job in self._pending):
            return
        deadline = now + GATHER_S
        while len(self._pending) < expected:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(left)

    def _ended_write(self, written: int) -> None:
        with self._wake:
            self._at_once = written + sum(1 for job in self._pending if job.call is None)
            self._ended = time.monotonic()

    def _loop(self) -> None:
        while True:
            group = self._take()
            for job in [j for j in group if j.call is not None]:
                self._settle(job)
            group = [j for j in group if j.call is None and _read(j)]
            if not group:
                continue
            try:
                write = self._commit(group, join=True)
            except Exception as exc:
                if len(group) == 1:
                    group[0].done.set_exception(exc)
                    continue
                for job in group:  # find the request at fault; the others still land
                    self._settle(job)
                continue
            self._ended_write(len(group))
            for job in group:
                job.done.set_result(True)
            _compact(write)

    def _commit(self, group: list[_Job], join: bool = False) -> GroupWrite | None:
        """Write `group` in one transaction in this worker's turn. With `join`, the points
        queued while it waited for the turn are written in it too, and appended to `group`:
        when the workers take turns, each would otherwise commit one request a turn, and the
        turns, not the CPU, would bound the server's requests per second."""
        job = group[0] if len(group) == 1 else _Job(*_merged(group))
        if job.call is not None:
            with self._busy:
                self._begin_turn(blocking=True)
                try:
                    job.call()
                finally:
                    self._end_turn()
            return None
        # The statements' parameters are made before the turn: the other workers wait for
        # the turn, not for this one's Python.
        write = self.store.metric_groups_write(job.rows, job.columns)
        with self._busy:
            self._begin_turn(blocking=True)
            try:
                for late in self._late(job.points) if join else ():
                    try:
                        write.add(late.rows, late.columns)
                    except Exception as exc:  # its own error (a step past 64 bits)
                        late.done.set_exception(exc)
                        continue
                    group.append(late)
                write()
            finally:
                self._end_turn()
        self.groups += 1
        return write

    def _late(self, points: int) -> list[_Job]:
        """The point jobs queued now (up to max_points in all with `points`), read."""
        with self._wake:
            taken: list[_Job] = []
            kept: list[_Job] = []
            for job in self._pending:
                if job.call is None and points + job.points <= self.max_points:
                    taken.append(job)
                    points += job.points
                else:
                    kept.append(job)
            if not taken:
                return []
            self._pending = kept
        return [job for job in taken if _read(job)]

    def _begin_turn(self, blocking: bool) -> bool:
        """Take this worker's turn at the SQLite file among the server's workers (see above);
        without `blocking`, False at once when another worker has it. A turn taken is ended
        by `_end_turn`. (A call per commit: plain calls, not a context manager's generator.)"""
        if self._lock_path is None:
            return True
        if self._lock_fd is None:
            try:
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a read-only folder: SQLite's own locking still holds
                self._lock_path = None
                return True
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._locked = True
        return True

    def _end_turn(self) -> None:
        if self._locked:
            self._locked = False
            assert self._lock_fd is not None
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _settle(self, job: _Job) -> None:
        try:
            write = self._commit([job])
        except Exception as exc:  # the request's own error, answered to that request
            job.done.set_exception(exc)
            return
        job.done.set_result(True)
        _compact(write)


def _compact(write: GroupWrite | None) -> None:
    """The merges `write` made due, once its requests are answered: the points are committed,
    so a failure is logged and the writer thread goes on."""
    if write is None:
        return
    try:
        write.compact()
    except Exception:
        _log.exception("could not merge metric chunks (left for a later write)")


def _read(job: _Job) -> bool:
    """Read `job`'s points if it came unread; False: it is answered already (its reader's
    error, or None: not points this writer takes)."""
    if job.read is None:
        return True
    try:
        rows = job.read()
    except Exception as exc:  # the request's own error (a bad key, a missing field)
        job.done.set_exception(exc)
        return False
    if rows is None:
        job.done.set_result(False)
        return False
    job.rows, job.points, job.read = rows, len(rows), None
    return True


def _merged(group: list[_Job]) -> tuple[list[Row], list[tuple[str, Column]], int]:
    rows: list[Row] = []
    columns: list[tuple[str, Column]] = []
    for job in group:
        rows.extend(job.rows)
        columns.extend(job.columns)
    return rows, columns, len(rows) + sum(c.count for _, c in columns)


def _lock_path(store: SqlStore) -> str | None:
    url = store.writer.url
    database = database_file(url) if url.get_backend_name() == "sqlite" else None
    if not database or os.name != "posix":
        return None
    return f"{database}-ingest.lock"


_writers: dict[int, GroupWriter] = {}
_writers_lock = threading.Lock()


def group_writer(store: object) -> GroupWriter | None:
    """The group writer of a SQL store (made on first use, in the worker process that uses
    it); None for any other store (a server in front of another server writes through)."""
    if not isinstance(store, SqlStore):
        return None
    with _writers_lock:
        writer = _writers.get(id(store))
        if writer is None or writer.store is not store:
            writer = _writers[id(store)] = GroupWriter(store)
        return writer
