"""The one interface every tracking store implements (SQL here, REST for a remote server)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from notebook_tracker.entities import (
    Experiment,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from notebook_tracker.errors import TrackerError

if TYPE_CHECKING:
    from notebook_tracker.entities.logged_models import ModelMetric
    from notebook_tracker.run_columns import RunColumns

SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000


MetricRow = tuple[str, str, float, int, int]  # (run_id, key, value, timestamp_ms, step)


class MetricSink(Protocol):
    """Where the metric buffer's flusher writes points, when a store has its own way."""

    def write(self, rows: Sequence[MetricRow]) -> None: ...

    def end_run(
        self, run_id: str, status: str, end_time: int, rows: Sequence[MetricRow]
    ) -> None: ...

    def tick(self) -> None: ...

    def settle(self, raise_errors: bool) -> None: ...

    def blocked(self) -> TrackerError | None: ...

    def close(self) -> None: ...


class TrackingStore(ABC):
    """Metadata of experiments and runs. Artifacts live in an artifact repository beside it."""

    uri: str  # where it is (a database URL or a server's address), as messages name it
    artifact_root: str | None = None  # the default root of new experiments, when it owns one

    def metric_sink(self) -> MetricSink | None:
        """Its own sink for the metric buffer; None: the buffer writes with `log_metric_rows`."""
        return None

    # -- experiments -------------------------------------------------------------------------
    @abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str: ...

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    @abstractmethod
    def search_experiments(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]: ...

    @abstractmethod
    def delete_experiment(self, experiment_id: str) -> None: ...

    @abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    @abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    @abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """NotFound when the experiment has no tag `key`."""

    # -- runs --------------------------------------------------------------------------------
    @abstractmethod
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        record_owner: bool = True,
    ) -> Run:
        """`record_owner=False` for runs made on behalf of a remote client (a server worker is
        not their owner and does not heartbeat for them: their client ends them)."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
        record_owner: bool = True,
    ) -> RunInfo: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        model_metrics: Sequence[ModelMetric] = (),
    ) -> None:
        """One request, one transaction. Keys and values are checked here (`rules.batch`), so
        every entry point refuses the same things. `model_metrics` are points of the run that
        also belong to a logged model (each names its `model_id`): logged to both."""

    @abstractmethod
    def log_metric_rows(self, rows: Iterable[tuple[str, str, float, int, int]]) -> None:
        """The fast path: (run_id, key, value, timestamp_ms, step) rows of any runs, one write."""

    def end_run(
        self,
        run_id: str,
        status: str,
        end_time: int,
        metric_rows: Sequence[tuple[str, str, float, int, int]] = (),
    ) -> None:
        """Write the last buffered points, then the end status; SQL does both in one commit."""
        if metric_rows:
            self.log_metric_rows(metric_rows)
        self.update_run_info(run_id, status=status, end_time=end_time)

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abstractmethod
    def get_metric_history(
        self, run_id: str, key: str, max_results: int | None = None, page_token: str | None = None
    ) -> MetricHistory: ...

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]: ...

    def search_run_columns(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[RunColumns, str | None]:
        """One page of `search_runs` as columns (for a DataFrame); stores that can read them
        without building Runs override this."""
        from notebook_tracker.run_columns import RunColumns

        page = self.search_runs(
            experiment_ids, filter_string, run_view_type, max_results, order_by, page_token
        )
        return RunColumns.from_runs(page), page.token

    # -- liveness of RUNNING runs --------------------------------------------------------------
    def heartbeat(self, run_ids: Sequence[str]) -> None:
        """Say that this process still owns these runs. Stores without liveness ignore it."""
        return None

    def reap_dead_runs(self) -> list[str]:
        """Mark KILLED the RUNNING runs whose owner is gone; return their ids."""
        return []

    # -- garbage collection ------------------------------------------------------------------
    def deleted_runs(self, older_than_ms: int | None = None) -> list[RunInfo]:
        raise NotImplementedError

    def purge_run(self, run_id: str) -> None:
        raise NotImplementedError
