"""The RegistryStore contract: SQLite, PostgreSQL and REST (a real server) answer alike."""

from __future__ import annotations

import time

import pytest

from notebook_tracker.errors import AlreadyExists, InvalidParameter, NotFound
from notebook_tracker.store.factory import registry_store, tracking_store


@pytest.fixture
def registry(store_uri):
    return registry_store(store_uri)


@pytest.fixture
def source(store_uri, unique) -> tuple[str, str]:
    """(source, run_id): a run's model folder, a source every server accepts."""
    store = tracking_store(store_uri)
    experiment_id = store.create_experiment(f"registry-{unique}")
    run = store.create_run(experiment_id, "alice", int(time.time() * 1000))
    return f"runs:/{run.info.run_id}/model", run.info.run_id


def test_a_model_and_its_versions_read_back(registry, source, unique):
    name = f"churn-{unique}"
    created = registry.create_registered_model(name, "first", {"team": "ml"})
    assert created.name == name and created.description == "first"
    assert created.tags == {"team": "ml"}
    uri, run_id = source
    v1 = registry.create_model_version(name, uri, run_id=run_id, tags={"k": "v"})
    v2 = registry.create_model_version(name, uri, run_id=run_id)
    assert (v1.version, v2.version) == (1, 2)
    got = registry.get_model_version(name, "1")
    assert got.run_id == run_id and got.tags == {"k": "v"} and got.current_stage == "None"
    assert [v.version for v in registry.get_latest_versions(name)] == [2]
    model = registry.get_registered_model(name)
    assert [v.version for v in model.latest_versions] == [2]


def test_aliases_point_at_versions_and_reserved_ones_are_refused(registry, source, unique):
    name = f"alias-{unique}"
    registry.create_registered_model(name)
    uri, run_id = source
    registry.create_model_version(name, uri, run_id=run_id)
    registry.set_registered_model_alias(name, "champion", 1)
    assert registry.get_model_version_by_alias(name, "champion").version == 1
    assert registry.get_registered_model(name).aliases == {"champion": 1}
    with pytest.raises(InvalidParameter, match="reserved"):
        registry.set_registered_model_alias(name, "latest", 1)
    registry.delete_registered_model_alias(name, "champion")
    with pytest.raises(NotFound):
        registry.get_model_version_by_alias(name, "champion")


def test_names_tags_and_duplicates_are_checked_the_same_everywhere(registry, unique):
    name = f"dup-{unique}"
    registry.create_registered_model(name)
    with pytest.raises(AlreadyExists):
        registry.create_registered_model(name)
    with pytest.raises(InvalidParameter, match="may not contain"):
        registry.create_registered_model(f"a/{unique}")
    with pytest.raises(InvalidParameter) as err:
        registry.set_registered_model_tag(name, "a/../b", "x")
    assert "'a/../b'" in err.value.message
    with pytest.raises(NotFound):
        registry.get_registered_model(f"missing-{unique}")


def test_search_filters_orders_and_pages_models(registry, unique):
    for suffix in ("c", "a", "b"):
        registry.create_registered_model(f"s-{unique}-{suffix}", tags={"kind": suffix})
    page = registry.search_registered_models(
        f"name LIKE 's-{unique}-%'", max_results=2, order_by=["name DESC"]
    )
    assert [m.name for m in page] == [f"s-{unique}-c", f"s-{unique}-b"] and page.token
    rest = registry.search_registered_models(
        f"name LIKE 's-{unique}-%'", max_results=2, order_by=["name DESC"], page_token=page.token
    )
    assert [m.name for m in rest] == [f"s-{unique}-a"] and not rest.token
    tagged = registry.search_registered_models(f"name LIKE 's-{unique}%' AND tags.kind = 'a'")
    assert [m.name for m in tagged] == [f"s-{unique}-a"]


def test_search_versions_by_name_and_run(registry, source, unique):
    name = f"v-{unique}"
    registry.create_registered_model(name)
    uri, run_id = source
    for _ in range(3):
        registry.create_model_version(name, uri, run_id=run_id)
    found = registry.search_model_versions(
        f"name = '{name}' AND run_id = '{run_id}'", order_by=["version_number DESC"]
    )
    assert [v.version for v in found] == [3, 2, 1]


def test_renaming_and_deleting(registry, source, unique):
    name = f"r-{unique}"
    registry.create_registered_model(name)
    uri, run_id = source
    registry.create_model_version(name, uri, run_id=run_id)
    registry.set_model_version_tag(name, 1, "k", "v")
    renamed = registry.rename_registered_model(name, f"{name}-new")
    assert renamed.name == f"{name}-new"
    assert registry.get_model_version(f"{name}-new", 1).tags == {"k": "v"}
    registry.delete_model_version(f"{name}-new", 1)
    with pytest.raises(NotFound):
        registry.get_model_version(f"{name}-new", 1)
    registry.delete_registered_model(f"{name}-new")
    with pytest.raises(NotFound):
        registry.get_registered_model(f"{name}-new")


def test_stages_move_and_archive(registry, source, unique):
    name = f"st-{unique}"
    registry.create_registered_model(name)
    uri, run_id = source
    registry.create_model_version(name, uri, run_id=run_id)
    registry.create_model_version(name, uri, run_id=run_id)
    registry.transition_model_version_stage(name, 1, "production")
    moved = registry.transition_model_version_stage(name, 2, "Production", True)
    assert moved.current_stage == "Production"
    assert registry.get_model_version(name, 1).current_stage == "Archived"
    with pytest.raises(InvalidParameter, match="Invalid stage"):
        registry.transition_model_version_stage(name, 1, "Heaven")
