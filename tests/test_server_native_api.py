"""The native REST API as the sidebar uses it, through a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(tracking_uri: str) -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"notebook_tracker": True},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def client(tracking_uri: str) -> TrackingClient:
    return TrackingClient(tracking_uri)


async def get_json(jp_fetch, *parts: str, **params) -> dict:
    response = await jp_fetch("notebook-tracker", "api", *parts, params=params or None)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def error_of(jp_fetch, *parts: str, method: str = "GET", **params) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("notebook-tracker", "api", *parts, method=method, params=params or None)
    return info.value.code, json.loads(info.value.response.body)


def make_runs(client: TrackingClient, n: int = 5) -> tuple[str, list[str]]:
    exp = client.create_experiment("sweep", tags={"team": "ml"})
    ids = []
    for i in range(n):
        run = client.create_run(exp, run_name=f"r{i}")
        client.log_param(run.info.run_id, "lr", str(0.1 * (i + 1)))
        client.log_metric(run.info.run_id, "acc", i / 10)
        ids.append(run.info.run_id)
    return exp, ids


async def test_experiments_are_listed_with_their_tags(jp_fetch, client):
    client.create_experiment("sweep", tags={"team": "ml"})
    data = await get_json(jp_fetch, "experiments")
    by_name = {e["name"]: e for e in data["experiments"]}
    assert set(by_name) == {"Default", "sweep"}
    sweep = by_name["sweep"]
    assert sweep["tags"] == {"team": "ml"}
    assert sweep["lifecycle_stage"] == "active"
    assert isinstance(sweep["creation_time"], int)


async def test_runs_are_searched_filtered_ordered_and_paged(jp_fetch, client):
    exp, ids = make_runs(client)
    data = await get_json(
        jp_fetch,
        "runs",
        experiment_ids=exp,
        filter="metrics.acc > 0.15",
        order_by="metrics.acc DESC",
    )
    assert [r["run_name"] for r in data["runs"]] == ["r4", "r3", "r2"]
    run = data["runs"][0]
    assert run["params"] == {"lr": "0.5"} and run["metrics"] == {"acc": 0.4}
    assert run["experiment_id"] == exp and run["status"] == "RUNNING"

    first = await get_json(
        jp_fetch, "runs", experiment_ids=exp, order_by="metrics.acc ASC", max_results="2"
    )
    assert [r["run_name"] for r in first["runs"]] == ["r0", "r1"]
    second = await get_json(
        jp_fetch,
        "runs",
        experiment_ids=exp,
        order_by="metrics.acc ASC",
        max_results="2",
        page_token=first["next_page_token"],
    )
    assert [r["run_name"] for r in second["runs"]] == ["r2", "r3"]


async def test_runs_of_every_experiment_without_experiment_ids(jp_fetch, client):
    _, ids = make_runs(client, 2)
    client.create_run("0", run_name="in-default")
    data = await get_json(jp_fetch, "runs")
    assert len(data["runs"]) == 3 and data["next_page_token"] is None


async def test_runs_without_tags_keep_their_parent_and_values_for_the_sidebar_list(
    jp_fetch, client
):
    exp, ids = make_runs(client, 2)
    child = client.create_run(exp, run_name="child", tags={"mlflow.parentRunId": ids[0]})
    client.set_tag(child.info.run_id, "notes", "x" * 1000)
    full = await get_json(jp_fetch, "runs", experiment_ids=exp)
    bare = await get_json(jp_fetch, "runs", experiment_ids=exp, tags="none")
    assert [r["run_id"] for r in bare["runs"]] == [r["run_id"] for r in full["runs"]]
    by_name = {r["run_name"]: r for r in bare["runs"]}
    assert by_name["child"]["parent_run_id"] == ids[0]
    assert by_name["child"]["tags"] == {}
    assert by_name["r1"]["params"] == {"lr": "0.2"} and by_name["r1"]["metrics"] == {"acc": 0.1}
    assert any(r["tags"].get("notes") for r in full["runs"])
    for bare_run, full_run in zip(bare["runs"], full["runs"], strict=True):
        assert {**bare_run, "tags": full_run["tags"]} == full_run


async def test_pages_without_tags_continue_with_the_same_token(jp_fetch, client):
    exp, _ = make_runs(client, 5)
    first = await get_json(jp_fetch, "runs", experiment_ids=exp, max_results="2", tags="none")
    rest = await get_json(
        jp_fetch, "runs", experiment_ids=exp, page_token=first["next_page_token"], max_results="10"
    )
    names = [r["run_name"] for r in first["runs"] + rest["runs"]]
    assert sorted(names) == ["r0", "r1", "r2", "r3", "r4"] and rest["next_page_token"] is None


async def test_a_bad_filter_is_a_400_that_says_where(jp_fetch, client):
    make_runs(client, 1)
    code, body = await error_of(jp_fetch, "runs", filter="metrics.acc >> 1")
    assert code == 400
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "character 14" in body["message"]


async def test_malformed_query_parameters_are_400(jp_fetch, client):
    for params in (
        {"max_results": "many"},
        {"max_results": "0"},
        {"view": "SOME"},
        {"experiment_ids": "1,x"},
        {"filtr": "metrics.acc > 1"},
        {"tags": "some"},
    ):
        code, body = await error_of(jp_fetch, "runs", **params)
        assert code == 400, params
        assert body["message"]


async def test_a_run_is_fetched_and_an_unknown_one_is_404(jp_fetch, client):
    _, ids = make_runs(client, 1)
    data = await get_json(jp_fetch, "runs", ids[0])
    assert data["run"]["run_id"] == ids[0] and data["run"]["parent_run_id"] is None
    code, body = await error_of(jp_fetch, "runs", "0" * 32)
    assert code == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"


async def test_a_deleted_run_leaves_the_active_list(jp_fetch, client):
    exp, ids = make_runs(client, 2)
    response = await jp_fetch("notebook-tracker", "api", "runs", ids[0], method="DELETE")
    assert json.loads(response.body) == {}
    active = await get_json(jp_fetch, "runs", experiment_ids=exp)
    assert [r["run_id"] for r in active["runs"]] == [ids[1]]
    deleted = await get_json(jp_fetch, "runs", experiment_ids=exp, view="DELETED_ONLY")
    assert [r["run_id"] for r in deleted["runs"]] == [ids[0]]
    assert deleted["runs"][0]["lifecycle_stage"] == "deleted"


async def test_metric_keys_of_a_run(jp_fetch, client):
    _, ids = make_runs(client, 1)
    client.log_metric(ids[0], "train/loss", 1.0)
    assert await get_json(jp_fetch, "runs", ids[0], "metrics") == {"metrics": ["acc", "train/loss"]}


async def test_a_long_history_comes_back_downsampled_keeping_ends_and_extremes(jp_fetch, client):
    run_id = client.create_run("0").info.run_id
    n = 20_000
    values = [math.sin(i / 500) for i in range(n)]
    values[12_345] = 50.0
    values[777] = -50.0
    client.log_batch(
        run_id, metrics=[Metric("train/loss", v, 1000 + i, i) for i, v in enumerate(values)]
    )
    data = await get_json(
        jp_fetch, "runs", run_id, "metrics", "train/loss", "history", max_points="200"
    )
    assert data["key"] == "train/loss" and data["total"] == n and data["downsampled"] is True
    assert 100 <= len(data["value"]) <= 200
    assert len(data["step"]) == len(data["timestamp"]) == len(data["value"])
    assert data["step"][0] == 0 and data["step"][-1] == n - 1
    assert data["step"] == sorted(data["step"])
    assert 12_345 in data["step"] and 777 in data["step"]
    assert max(data["value"]) == 50.0 and min(data["value"]) == -50.0
    assert data["timestamp"][data["step"].index(777)] == 1777


async def test_a_short_history_is_returned_whole_with_nan_as_null(jp_fetch, client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(
        run_id,
        metrics=[
            Metric("m", v, 5 + i, i) for i, v in enumerate([1.0, float("nan"), float("inf"), 2.0])
        ],
    )
    data = await get_json(jp_fetch, "runs", run_id, "metrics", "m", "history")
    assert data == {
        "key": "m",
        "total": 4,
        "downsampled": False,
        "step": [0, 1, 2, 3],
        "timestamp": [5, 6, 7, 8],
        "value": [1.0, None, None, 2.0],
    }


async def test_history_of_an_unknown_run_is_404_and_a_bad_axis_400(jp_fetch, client):
    code, _ = await error_of(jp_fetch, "runs", "f" * 32, "metrics", "m", "history")
    assert code == 404
    run_id = client.create_run("0").info.run_id
    code, body = await error_of(jp_fetch, "runs", run_id, "metrics", "m", "history", x="epoch")
    assert code == 400 and "'x'" in body["message"]


async def test_artifacts_are_listed_and_served_with_their_content_type(
    jp_fetch, client, tmp_path: Path
):
    run_id = client.create_run("0").info.run_id
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    client.log_bytes(run_id, png, "figures/loss.png")
    client.log_text(run_id, "hello", "outputs/stdout.txt")
    root = await get_json(jp_fetch, "runs", run_id, "artifacts")
    assert root == {
        "files": [
            {"path": "figures", "is_dir": True, "file_size": None},
            {"path": "outputs", "is_dir": True, "file_size": None},
        ]
    }
    figures = await get_json(jp_fetch, "runs", run_id, "artifacts", path="figures")
    assert figures["files"] == [
        {"path": "figures/loss.png", "is_dir": False, "file_size": len(png)}
    ]

    image = await jp_fetch(
        "notebook-tracker", "api", "runs", run_id, "artifacts", "raw", "figures", "loss.png"
    )
    assert image.body == png and image.headers["Content-Type"] == "image/png"
    text = await jp_fetch(
        "notebook-tracker", "api", "runs", run_id, "artifacts", "raw", "outputs", "stdout.txt"
    )
    assert text.body == b"hello" and text.headers["Content-Type"].startswith("text/plain")
    assert text.headers["X-Content-Type-Options"] == "nosniff"
    client.log_bytes(run_id, b"", "empty.csv")
    empty = await jp_fetch(
        "notebook-tracker", "api", "runs", run_id, "artifacts", "raw", "empty.csv"
    )
    assert empty.body == b"" and empty.headers["Content-Type"].startswith("text/csv")


async def test_artifact_paths_cannot_leave_the_run_root(jp_fetch, client):
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "x", "a.txt")
    code, body = await error_of(jp_fetch, "runs", run_id, "artifacts", path="../../..")
    assert code == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    code, _ = await error_of(jp_fetch, "runs", run_id, "artifacts", "raw", "../../../etc/passwd")
    assert code == 400
    code, body = await error_of(jp_fetch, "runs", run_id, "artifacts", "raw", "missing.txt")
    assert code == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"


async def test_unknown_paths_under_the_api_are_json_404(jp_fetch, client):
    code, body = await error_of(jp_fetch, "nothing-here")
    assert code == 404 and body["error_code"] == "ENDPOINT_NOT_FOUND"


async def test_the_openapi_document_describes_every_native_route(jp_fetch):
    doc = await get_json(jp_fetch, "openapi.json")
    assert doc["openapi"].startswith("3.")
    assert {
        "/api/experiments",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/metrics",
        "/api/runs/{run_id}/metrics/{key}/history",
        "/api/runs/{run_id}/artifacts",
        "/api/runs/{run_id}/artifacts/raw/{path}",
        "/api/openapi.json",
    } <= set(doc["paths"])


async def test_jupyterlab_cache_buster_parameter_is_accepted_but_misspelt_ones_are_not(
    jp_fetch, client
):
    make_runs(client, 2)
    response = await jp_fetch(
        "notebook-tracker", "api", "experiments", params={"1795951727551": ""}
    )
    assert response.code == 200
    status, body = await error_of(jp_fetch, "runs", filtr="metrics.x > 1")
    assert status == 400 and "filtr" in body["message"]
