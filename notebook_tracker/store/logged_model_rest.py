"""Logged models of a remote tracking server, over MLflow 3's REST API (`logged-models/...`,
`runs/log-inputs`, `runs/outputs`), which notebook-tracker and MLflow servers both speak.

Checks what it sends with the rules of the SQL store (`rules.py`), so bad input fails before a
request with the same message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from notebook_tracker.entities import PagedList
from notebook_tracker.entities.logged_models import (
    READY,
    UPLOAD_FAILED,
    DatasetInput,
    LoggedModel,
)
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store import rules
from notebook_tracker.store.logged_model_base import SEARCH_MAX_RESULTS_DEFAULT, LoggedModelStore
from notebook_tracker.store.rest_transport import Transport
from notebook_tracker.wire import key_values as _kv_out
from notebook_tracker.wire.logged_models import (
    dataset_input,
    dataset_input_from_json,
    logged_model_from_json,
)

API = "api/2.0/mlflow/"


def _int(value: Any) -> int:
    return int(value or 0)


class RestLoggedModelStore(LoggedModelStore):
    def __init__(self, uri: str, token: str | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.http = Transport(self.uri, token=token)

    def _call(self, method: str, endpoint: str, body: Any = None, **params: Any) -> Any:
        return self.http.call(method, API + endpoint, params=params or None, body=body)

    def _model(self, method: str, endpoint: str, body: Any = None) -> LoggedModel:
        return logged_model_from_json(self._call(method, endpoint, body)["model"])

    @staticmethod
    def _path(model_id: str) -> str:
        return "logged-models/" + quote(model_id, safe="")

    # -- models -------------------------------------------------------------------------------
    def create(
        self,
        experiment_id: str,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        body = {
            "experiment_id": str(experiment_id),
            "name": rules.optional_text("name", name, rules.MAX_MODEL_NAME_LENGTH),
            "model_type": rules.optional_text(
                "model_type", model_type, rules.MAX_MODEL_NAME_LENGTH
            ),
            "source_run_id": source_run_id or None,
            "params": _kv_out(rules.param_map(params)),
            "tags": _kv_out(rules.tag_map(tags)),
        }
        return self._model("POST", "logged-models", {k: v for k, v in body.items() if v})

    def get(self, model_id: str) -> LoggedModel:
        return self._model("GET", self._path(model_id))

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        if status not in (READY, UPLOAD_FAILED):
            raise InvalidParameter(
                f"Invalid status {status!r} to finalize a logged model: use {READY} or "
                f"{UPLOAD_FAILED}."
            )
        return self._model("PATCH", self._path(model_id), {"status": status})

    def delete(self, model_id: str) -> None:
        self._call("DELETE", self._path(model_id))

    def set_tags(self, model_id: str, tags: dict[str, str]) -> LoggedModel:
        body = {"tags": _kv_out(rules.tag_map(tags))}
        return self._model("PATCH", self._path(model_id) + "/tags", body)

    def delete_tag(self, model_id: str, key: str) -> None:
        self._call("DELETE", self._path(model_id) + "/tags/" + quote(key, safe=""))

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        body = {"params": _kv_out(rules.param_map(params))}
        self._call("POST", self._path(model_id) + "/params", body)

    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[tuple[str, bool]] = (),
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        body: dict[str, Any] = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "max_results": max_results,
            "order_by": [{"field_name": f, "ascending": bool(a)} for f, a in order_by],
        }
        if filter_string:
            body["filter"] = filter_string
        if page_token:
            body["page_token"] = page_token
        data = self._call("POST", "logged-models/search", body)
        models = [logged_model_from_json(m) for m in data.get("models") or []]
        return PagedList(models, data.get("next_page_token") or None)

    # -- runs' inputs and outputs ---------------------------------------------------------------
    def link_run(self, run_id: str, models: Iterable[tuple[str, int]], direction: str) -> None:
        pairs = list(models)
        if not pairs:
            return
        if direction == "output":
            body = {"run_id": run_id, "models": [{"model_id": m, "step": s} for m, s in pairs]}
            self._call("POST", "runs/outputs", body)
        else:
            body = {"run_id": run_id, "models": [{"model_id": m} for m, _ in pairs]}
            self._call("POST", "runs/log-inputs", body)

    def log_datasets(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        if datasets:
            items = [dataset_input(rules.dataset(d)) for d in datasets]
            self._call("POST", "runs/log-inputs", {"run_id": run_id, "datasets": items})

    def run_io(self, run_ids: Sequence[str]) -> dict[str, dict[str, list[Any]]]:
        out: dict[str, dict[str, list[Any]]] = {}
        for run_id in dict.fromkeys(run_ids):
            run = self._call("GET", "runs/get", run_id=run_id)["run"]
            inputs, outputs = run.get("inputs") or {}, run.get("outputs") or {}
            datasets = inputs.get("dataset_inputs") or []
            entry: dict[str, list[Any]] = {
                "datasets": [dataset_input_from_json(d) for d in datasets],
                "inputs": [(m["model_id"], 0) for m in inputs.get("model_inputs") or []],
                "outputs": [
                    (m["model_id"], _int(m.get("step"))) for m in outputs.get("model_outputs") or []
                ],
            }
            if any(entry.values()):
                out[run_id] = entry
        return out


__all__ = ["RestLoggedModelStore"]
