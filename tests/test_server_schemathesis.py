"""Property-based pass over the native API's OpenAPI document against a live server.

Every generated request must get a non-5xx answer that matches the documented schema
(status code, content type, body shape). Path parameters are sometimes swapped for ids that
exist, so the success responses are checked too, not only the 404s.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from server_helpers import ThreadServer

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric

TOKEN = "schema-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXISTING: dict[str, list[str]] = {"run_id": [], "key": ["loss"], "path": ["figures/plot.png"]}

schema = schemathesis.openapi.from_path(
    str(resources.files("notebook_tracker.server").joinpath("openapi.json"))
)


@schema.hook
def flatmap_path_parameters(context, path_parameters):  # type: ignore[no-untyped-def]
    if not path_parameters:
        return st.just(path_parameters)
    real = {k: st.sampled_from(v) for k, v in EXISTING.items() if k in path_parameters and v}
    return st.one_of(st.just(path_parameters), st.fixed_dictionaries(real).map(
        lambda chosen: {**path_parameters, **chosen}
    ))  # fmt: skip


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from notebook_tracker.server.standalone import make_app, make_context

    base = tmp_path_factory.mktemp("schemathesis")
    uri = f"sqlite:///{base / 'tracker.db'}"
    context = make_context(uri, None, auth_token=TOKEN)
    client = TrackingClient(uri)
    for i in range(3):
        run = client.create_run("0", run_name=f"r{i}", tags={"i": str(i)})
        run_id = run.info.run_id
        client.log_param(run_id, "lr", "0.1")
        client.log_batch(run_id, metrics=[Metric("loss", 1 / (s + 1), s, s) for s in range(3000)])
        client.log_metric(run_id, "nan", float("nan"))
        client.log_bytes(run_id, b"\x89PNG\r\n\x1a\n", "figures/plot.png")
        EXISTING["run_id"].append(run_id)
    server = ThreadServer(make_app(context))
    yield server.url
    server.stop()
    context.close()


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_native_api_honours_its_openapi_document(case, live_server):
    # A string the schema allows can still be a bad filter or page token: a documented 400,
    # so "schema-valid input must be accepted" does not apply to this API. And tornado drops
    # query parameters with an empty name before any handler sees them, which the "invalid
    # input must be refused" check counts as accepted; unknown parameters are refused, and
    # test_server_native_api checks that directly.
    case.call_and_validate(
        base_url=live_server,
        headers=AUTH,
        excluded_checks=[
            schemathesis.checks.positive_data_acceptance,
            schemathesis.checks.negative_data_rejection,
        ],
    )
