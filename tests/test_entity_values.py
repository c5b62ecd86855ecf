"""The entities behave as the dataclasses they replaced (and as MLflow's): equal by value,
readable reprs, params/tags/file infos immutable and usable in sets, runs mutable."""

from __future__ import annotations

import copy
import pickle

import pytest

from notebook_tracker.entities import (
    Experiment,
    FileInfo,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)


def _run() -> Run:
    info = RunInfo("r1", "0", "calm-owl", "ann", RunStatus.RUNNING, 1_000, None, "/a/r1")
    return Run(info, RunData(metrics={"x": 1.0}, params={"lr": "0.1"}, tags={"t": "v"}))


def test_values_are_equal_by_their_fields_and_only_to_their_own_kind() -> None:
    assert Param("lr", "0.1") == Param("lr", "0.1") != Param("lr", "0.2")
    assert Param("k", "v") != RunTag("k", "v")
    assert _run() == _run()
    other = _run()
    other.data.params["lr"] = "0.2"
    assert _run() != other


def test_params_tags_and_file_infos_are_immutable_and_hashable() -> None:
    assert {Param("a", "1"), Param("a", "1"), RunTag("a", "1")} == {
        Param("a", "1"),
        RunTag("a", "1"),
    }
    with pytest.raises(AttributeError, match="cannot assign to field 'value'"):
        Param("a", "1").value = "2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        FileInfo("f", False, 3).file_size = 4  # type: ignore[misc]


def test_runs_and_experiments_are_mutable_and_unhashable_as_dataclasses_were() -> None:
    run = _run()
    run.info.status = RunStatus.FINISHED
    assert run.info.status == RunStatus.FINISHED
    with pytest.raises(TypeError):
        hash(run)
    exp = Experiment("1", "vision", "/a")
    assert exp.tags == {} and exp.lifecycle_stage == "active"
    assert Experiment("2", "b", "/b").tags is not exp.tags  # no shared default


def test_reprs_name_every_field() -> None:
    assert repr(Param("lr", "0.1")) == "Param(key='lr', value='0.1')"
    assert repr(FileInfo("m/a.txt", False, 3)) == (
        "FileInfo(path='m/a.txt', is_dir=False, file_size=3)"
    )
    assert repr(_run()).startswith("Run(info=RunInfo(run_id='r1', experiment_id='0',")


def test_values_survive_pickle_and_copy() -> None:
    for value in (_run(), Param("a", "1"), FileInfo("f", True), Experiment("1", "e", "/a")):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value
    assert _run().to_dictionary()["info"]["run_uuid"] == "r1"
