"""Where trials run: a local process pool, any `concurrent.futures.Executor`, or Dask.

Every kind hands back `concurrent.futures.Future`s of `worker.run_trial`, so the driver has one
loop. Nothing here schedules: the executors do, and trials report straight to the store.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from notebook_tracker.sweeps.space import SpaceError as _SweepInputError
from notebook_tracker.sweeps.worker import init_worker, run_trial


class Pool:
    """A `concurrent.futures.Executor` someone else made and owns: we only submit to it."""

    kind = "executor"
    can_restart = False

    def __init__(self, executor: cf.Executor, namespace: bytes | None) -> None:
        self.executor = executor
        self.namespace = namespace

    def submit(self, blob: bytes) -> cf.Future[Any]:
        return self.executor.submit(run_trial, blob, self.namespace)

    def lost_worker(self, error: BaseException) -> bool:
        """Did `error` come from a worker that died (rather than from the trial)?"""
        return isinstance(error, BrokenProcessPool)

    def restart(self) -> None:
        raise RuntimeError("this executor cannot be restarted")

    def stop(self, kill: bool = False, pending: list[cf.Future[Any]] | None = None) -> None:
        for future in pending or []:
            future.cancel()


class LocalPool(Pool):
    """The default: K fresh Python processes (spawned, so no kernel state leaks by fork), each
    given the notebook's namespace once by its initializer."""

    kind = "local"
    can_restart = True

    def __init__(self, workers: int, namespace: bytes | None) -> None:
        self.workers = workers
        super().__init__(self._make(namespace), None)
        self.shipped = namespace

    def _make(self, namespace: bytes | None) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(namespace,),
        )

    def restart(self) -> None:
        self.stop(kill=True)
        self.executor = self._make(self.shipped)

    def stop(self, kill: bool = False, pending: list[cf.Future[Any]] | None = None) -> None:
        executor = self.executor
        assert isinstance(executor, cf.ProcessPoolExecutor)
        # The executor has no public way to stop a running call; its processes are ours.
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=not kill, cancel_futures=True)
        if kill:
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(5)


class DaskPool(Pool):
    """A `dask.distributed.Client`: the namespace is scattered to every worker once; Dask
    reschedules a trial whose worker died, and gives up with `KilledWorker`."""

    kind = "dask"

    def __init__(self, client: Any, namespace: bytes | None, owned: bool) -> None:
        self.client = client
        self.owned = owned
        self.remote: dict[cf.Future[Any], Any] = {}
        ns = client.scatter(namespace, broadcast=True) if namespace else None
        super().__init__(None, ns)  # type: ignore[arg-type]

    def submit(self, blob: bytes) -> cf.Future[Any]:
        local: cf.Future[Any] = cf.Future()
        remote = self.client.submit(run_trial, blob, self.namespace, pure=False)

        def settle(done: Any) -> None:
            try:
                local.set_result(done.result())
            except BaseException as error:
                local.set_exception(error)
            self.remote.pop(local, None)

        self.remote[local] = remote
        remote.add_done_callback(settle)
        return local

    def lost_worker(self, error: BaseException) -> bool:
        return type(error).__name__ == "KilledWorker"

    def stop(self, kill: bool = False, pending: list[cf.Future[Any]] | None = None) -> None:
        if kill and self.remote:
            self.client.cancel(list(self.remote.values()))
        if self.owned:
            self.client.close()


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise _SweepInputError(
            f"--on {address} needs Dask: pip install 'notebook-tracker[sweeps]'."
        ) from None
    target = "tcp://" + address.split("://", 1)[1]
    return Client(target, timeout="10s")


def make_pool(
    parallel: int, executor: Any = None, on: str | None = None, namespace: bytes | None = None
) -> Pool:
    """The pool a sweep submits to, from what the user gave."""
    if on is not None and executor is not None:
        raise _SweepInputError("Give either on= (a dask:// address) or executor=, not both.")
    if on is not None:
        if not on.startswith("dask://") or not on[len("dask://") :].strip("/"):
            raise _SweepInputError(
                f"--on {on!r}: give a Dask scheduler as dask://HOST:PORT (e.g. dask://127.0.0.1:8786)."
            )
        return DaskPool(_dask_client(on), namespace, owned=True)
    if executor is None:
        if parallel < 1:
            raise _SweepInputError(f"--parallel must be 1 or more, not {parallel}.")
        return LocalPool(parallel, namespace)
    if hasattr(executor, "scatter") and hasattr(executor, "get_executor"):
        return DaskPool(executor, namespace, owned=False)
    if isinstance(executor, cf.ThreadPoolExecutor):
        raise _SweepInputError(
            "A ThreadPoolExecutor runs trials in this process, where they would share the active "
            "run: use a ProcessPoolExecutor (or parallel=K), or a Dask client."
        )
    if isinstance(executor, cf.Executor):
        return Pool(executor, namespace)
    raise _SweepInputError(
        f"executor={type(executor).__name__}: give a concurrent.futures.Executor or a "
        "dask.distributed.Client."
    )


class ProjectThreads(Pool):
    """Project trials: each is a child process the project runner starts and waits on, so
    K threads here are K trials in parallel (and the runner ends a run whose process died)."""

    kind = "project"

    def __init__(self, workers: int) -> None:
        super().__init__(cf.ThreadPoolExecutor(max_workers=max(1, workers)), None)

    def stop(self, kill: bool = False, pending: list[cf.Future[Any]] | None = None) -> None:
        self.executor.shutdown(wait=not kill, cancel_futures=True)
