"""A fresh process's first durable point (in an existing experiment) imports only what writing
it needs: the modules deferred off that path (logging, dataclasses, uuid, socket, json,
SQLAlchemy, the registry and logged-model entities) stay unimported until something
asks for them."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from helpers import run_fresh_python
from standalone_server import running_server

from notebook_tracker.client import TrackingClient
from notebook_tracker.store.sql import SqlStore

# Each was on the path once, and each costs a fresh process ms (or, for SQLAlchemy, 0.4 s).
DEFERRED = (
    "logging",
    "dataclasses",
    "inspect",
    "uuid",
    "platform",
    "socket",
    "json",
    "tempfile",
    "numbers",
    "sqlalchemy",
    "numpy",
    "notebook_tracker.entities.logged_models",
    "notebook_tracker.entities.registry",
    "notebook_tracker.run_columns",
)

FIRST_POINT = textwrap.dedent(
    """
    import sys
    already = set(sys.modules)  # what the interpreter's own start-up (site, .pth) imported
    import notebook_tracker as nt
    nt.set_tracking_uri(sys.argv[1])
    nt.set_experiment("vision")  # exists: found without waiting for the full store
    run = nt.start_run()
    nt.log_param("lr", 0.1)
    nt.set_tag("team", "vision")
    nt.log_metric("x", 1)
    nt.flush()
    loaded = sorted(m for m in sys.argv[2].split(",") if m in sys.modules and m not in already)
    import json
    print(json.dumps({"run_id": run.info.run_id, "loaded": loaded}))
    """
)


@pytest.fixture
def existing_store(tracking_uri: str) -> str:
    # The common case: a store, and the experiment, that an earlier run made.
    SqlStore(tracking_uri).create_experiment("vision")
    return tracking_uri


def test_a_first_point_from_a_fresh_process_imports_none_of_the_deferred_modules(
    existing_store: str,
) -> None:
    result = run_fresh_python(FIRST_POINT, existing_store, ",".join(DEFERRED))
    assert result["loaded"] == []
    store = SqlStore(existing_store)
    run = store.get_run(result["run_id"])
    assert run.info.experiment_id == store.get_experiment_by_name("vision").experiment_id  # type: ignore[union-attr]
    assert run.data.params == {"lr": "0.1"} and run.data.metrics == {"x": 1.0}
    assert run.data.tags["team"] == "vision" and run.data.tags["mlflow.source.type"] == "LOCAL"


SERVER_FIRST_POINT = textwrap.dedent(
    """
    import json, sys
    already = set(sys.modules)
    import notebook_tracker as nt
    nt.set_tracking_uri(sys.argv[1])
    run = nt.start_run()
    nt.log_metric("x", 1)
    nt.flush()
    loaded = sorted(m for m in sys.argv[2].split(",") if m in sys.modules and m not in already)
    print(json.dumps({"run_id": run.info.run_id, "loaded": loaded}))
    """
)
# What a call straight over a kept connection (store/rest_connections.py) never uses: `requests`
# serves https, proxies and streams; urllib.request is asked only when a *_proxy variable is set.
SERVER_DEFERRED = ("requests", "urllib.request", "http.client", "ssl", "logging", "sqlalchemy")


def test_a_first_point_to_a_tracking_server_imports_no_http_library_it_does_not_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'server.db'}", workers=1) as server:
        uri = f"http://127.0.0.1:{server.port}"
        result = run_fresh_python(SERVER_FIRST_POINT, uri, ",".join(SERVER_DEFERRED))
        assert result["loaded"] == []
        assert TrackingClient(uri).get_run(result["run_id"]).data.metrics == {"x": 1.0}
