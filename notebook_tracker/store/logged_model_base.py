"""The one interface every logged-model store implements (SQL here, REST for a remote server).

A logged model (MLflow 3) is created PENDING, its files are uploaded under its `artifact_uri`,
then it is finalized READY (or UPLOAD_FAILED). Runs link to models as outputs or inputs, and
to datasets. Search uses the public filter grammar (`search.py`, kind "logged_models").
Points a run logs for a model go through the tracking store's `log_batch(model_metrics=...)`,
in the run's own transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from notebook_tracker.entities import PagedList
from notebook_tracker.entities.logged_models import DatasetInput, LoggedModel

SEARCH_MAX_RESULTS_DEFAULT = 100
SEARCH_MAX_RESULTS = 1000


class LoggedModelStore(ABC):
    # -- models -------------------------------------------------------------------------------
    @abstractmethod
    def create(
        self,
        experiment_id: str,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel: ...

    @abstractmethod
    def get(self, model_id: str) -> LoggedModel: ...

    @abstractmethod
    def finalize(self, model_id: str, status: str) -> LoggedModel:
        """READY once its files are uploaded, or UPLOAD_FAILED."""

    @abstractmethod
    def delete(self, model_id: str) -> None: ...

    @abstractmethod
    def set_tags(self, model_id: str, tags: dict[str, str]) -> LoggedModel: ...

    @abstractmethod
    def delete_tag(self, model_id: str, key: str) -> None: ...

    @abstractmethod
    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        """Params are written once: a new value for a logged key is refused."""

    @abstractmethod
    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[tuple[str, bool]] = (),
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """One page of the active models of these experiments; `order_by` holds (field,
        ascending) pairs, newest first by default; models lacking a field sort last."""

    # -- runs' inputs and outputs ---------------------------------------------------------------
    @abstractmethod
    def link_run(self, run_id: str, models: Iterable[tuple[str, int]], direction: str) -> None:
        """(model_id, step) pairs as the run's "input" or "output" models."""

    @abstractmethod
    def log_datasets(self, run_id: str, datasets: Sequence[DatasetInput]) -> None: ...

    @abstractmethod
    def run_io(self, run_ids: Sequence[str]) -> dict[str, dict[str, list[Any]]]:
        """For each run that has any: {"datasets": [DatasetInput], "inputs": [(model_id,
        step)], "outputs": [(model_id, step)]}."""
