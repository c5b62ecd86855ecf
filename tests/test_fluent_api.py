"""The fluent API behaves as MLflow users expect: runs, nesting, logging, reading back."""

from __future__ import annotations

import math

import pytest

import notebook_tracker as nt
from notebook_tracker.errors import InvalidParameter, NotFound


def test_runs_land_in_the_default_experiment_with_no_setup(tracking_uri):
    with nt.start_run() as run:
        nt.log_param("lr", 0.01)
        nt.log_metric("loss", 0.5)
    got = nt.get_run(run.info.run_id)
    assert got.info.experiment_id == "0"
    assert got.info.status == "FINISHED"
    assert got.info.end_time >= got.info.start_time
    assert got.data.params == {"lr": "0.01"}
    assert got.data.metrics == {"loss": 0.5}
    assert got.info.run_name  # a generated, readable name
    assert got.data.tags["mlflow.runName"] == got.info.run_name
    assert nt.get_tracking_uri() == tracking_uri


def test_context_manager_marks_failed_on_exception_and_keeps_what_was_logged(tracking_uri):
    with pytest.raises(ZeroDivisionError):
        with nt.start_run() as run:
            nt.log_metric("before", 1.0)
            raise ZeroDivisionError("division by zero")
    got = nt.get_run(run.info.run_id)
    assert got.info.status == "FAILED"
    assert got.data.metrics == {"before": 1.0}
    assert nt.active_run() is None


def test_keyboard_interrupt_marks_run_killed(tracking_uri):
    with pytest.raises(KeyboardInterrupt):
        with nt.start_run() as run:
            raise KeyboardInterrupt
    assert nt.get_run(run.info.run_id).info.status == "KILLED"


def test_nested_runs_record_their_parent(tracking_uri):
    with nt.start_run(run_name="parent") as parent:
        with nt.start_run(run_name="child", nested=True) as child:
            assert nt.active_run().info.run_id == child.info.run_id
        assert nt.active_run().info.run_id == parent.info.run_id
    got = nt.get_run(child.info.run_id)
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert got.parent_run_id == parent.info.run_id


def test_second_run_without_nested_is_a_clear_error(tracking_uri):
    with nt.start_run():
        with pytest.raises(InvalidParameter, match="already active.*nested=True"):
            nt.start_run()


def test_resume_by_run_id_appends_to_the_same_run(tracking_uri):
    with nt.start_run() as run:
        nt.log_metric("m", 1.0, step=0)
    with nt.start_run(run_id=run.info.run_id):
        nt.log_metric("m", 2.0, step=1)
        assert nt.get_run(run.info.run_id).info.status == "RUNNING"
    history = nt.get_metric_history(run.info.run_id, "m")
    assert [(p.step, p.value) for p in history] == [(0, 1.0), (1, 2.0)]
    assert nt.get_run(run.info.run_id).info.status == "FINISHED"


def test_run_id_from_environment_is_resumed(tracking_uri, monkeypatch):
    with nt.start_run() as run:
        pass
    monkeypatch.setenv("NOTEBOOK_TRACKER_RUN_ID", run.info.run_id)
    with nt.start_run() as resumed:
        nt.log_param("from_child", "yes")
    assert resumed.info.run_id == run.info.run_id
    assert nt.get_run(run.info.run_id).data.params == {"from_child": "yes"}


def test_set_experiment_creates_it_and_runs_go_there(tracking_uri):
    exp = nt.set_experiment("sweep")
    assert nt.get_experiment_by_name("sweep").experiment_id == exp.experiment_id
    with nt.start_run() as run:
        pass
    assert run.info.experiment_id == exp.experiment_id
    assert nt.set_experiment("sweep").experiment_id == exp.experiment_id


def test_set_experiment_refuses_a_deleted_experiment(tracking_uri):
    exp_id = nt.create_experiment("old")
    nt.TrackingClient().delete_experiment(exp_id)
    with pytest.raises(InvalidParameter, match="deleted experiment 'old'.*restore"):
        nt.set_experiment("old")


def test_metric_history_keeps_every_point_with_steps_and_timestamps(tracking_uri):
    with nt.start_run() as run:
        for step in range(1000):
            nt.log_metric("loss", 1.0 / (step + 1), step=step)
        nt.log_metric("loss", 7.0, step=5, timestamp=123)
    history = nt.get_metric_history(run.info.run_id, "loss")
    assert len(history) == 1001
    assert history[0].step == 0 and history[0].value == 1.0
    assert all(isinstance(p.timestamp, int) for p in history[:10])
    assert nt.get_run(run.info.run_id).data.metrics["loss"] == pytest.approx(1 / 1000)


def test_nan_and_infinities_round_trip(tracking_uri):
    with nt.start_run() as run:
        nt.log_metric("nan", float("nan"))
        nt.log_metric("inf", float("inf"))
        nt.log_metric("ninf", float("-inf"))
    metrics = nt.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == math.inf and metrics["ninf"] == -math.inf
    assert math.isnan(nt.get_metric_history(run.info.run_id, "nan")[0].value)


def test_numpy_scalars_are_accepted_as_metrics(tracking_uri):
    np = pytest.importorskip("numpy")
    with nt.start_run() as run:
        nt.log_metric("acc", np.float32(0.5))
        nt.log_metric("count", np.int64(3), step=np.int64(2))
    assert nt.get_run(run.info.run_id).data.metrics == {"acc": 0.5, "count": 3.0}


@pytest.mark.parametrize("bad", ["0.5", None, True, [1.0]])
def test_non_numeric_metric_values_are_refused_clearly(tracking_uri, bad):
    with nt.start_run():
        with pytest.raises(InvalidParameter, match="real number"):
            nt.log_metric("m", bad)


def test_changing_a_param_is_refused_and_the_first_value_kept(tracking_uri):
    with nt.start_run() as run:
        nt.log_param("lr", 0.1)
        nt.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(InvalidParameter, match="'lr' was already logged with value '0.1'"):
            nt.log_param("lr", 0.2)
    assert nt.get_run(run.info.run_id).data.params == {"lr": "0.1"}


def test_long_param_values_up_to_6000_characters_are_kept(tracking_uri):
    with nt.start_run() as run:
        nt.log_param("long", "x" * 6000)
        with pytest.raises(InvalidParameter, match="at most 6000"):
            nt.log_param("longer", "x" * 6001)
    assert len(nt.get_run(run.info.run_id).data.params["long"]) == 6000


@pytest.mark.parametrize("key", ["", "a\nb", "../up", "/abs", "semi;colon", "x" * 251])
def test_invalid_key_names_say_what_is_allowed(tracking_uri, key):
    with nt.start_run():
        with pytest.raises(InvalidParameter, match="Invalid metric name"):
            nt.log_metric(key, 1.0)


def test_tags_overwrite_and_can_be_deleted(tracking_uri):
    with nt.start_run() as run:
        nt.set_tag("stage", "dev")
        nt.set_tags({"stage": "prod", "team": "a"})
        nt.delete_tag("team")
    tags = nt.get_run(run.info.run_id).data.tags
    assert tags["stage"] == "prod" and "team" not in tags


def test_text_dict_table_and_figure_artifacts_are_listed_and_downloadable(tracking_uri, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with nt.start_run() as run:
        nt.log_text("hello", "notes/readme.txt")
        nt.log_dict({"a": 1}, "config.yaml")
        nt.log_dict({"a": 1}, "config.json")
        nt.log_table(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), "table.json")
        nt.log_figure(fig, "plots/curve.png")
        src = tmp_path / "data.csv"
        src.write_text("a,b\n1,2\n")
        nt.log_artifact(src)
    client = nt.TrackingClient()
    paths = {f.path: f for f in client.list_artifacts(run.info.run_id)}
    assert set(paths) == {"notes", "config.yaml", "config.json", "table.json", "plots", "data.csv"}
    assert paths["notes"].is_dir and paths["data.csv"].file_size == 8
    assert [f.path for f in client.list_artifacts(run.info.run_id, "plots")] == ["plots/curve.png"]
    local = client.download_artifacts(run.info.run_id, "notes", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "notes" / "readme.txt").read_text() == "hello"
    assert local.endswith("notes")
    png = client.download_artifacts(run.info.run_id, "plots/curve.png", str(tmp_path / "dl2"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    table = client.download_artifacts(run.info.run_id, "table.json", str(tmp_path / "dl3"))
    assert '"columns"' in open(table).read()
    assert "table.json" in nt.get_run(run.info.run_id).data.tags["mlflow.loggedArtifacts"]


def test_search_runs_returns_mlflow_shaped_dataframe(tracking_uri):
    nt.set_experiment("grid")
    for lr, acc in [(0.1, 0.7), (0.01, 0.9), (0.001, 0.8)]:
        with nt.start_run():
            nt.log_param("lr", lr)
            nt.log_metric("acc", acc)
            nt.set_tag("kind", "grid")
    frame = nt.search_runs(experiment_names=["grid"], order_by=["metrics.acc DESC"])
    for column in (
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
        "metrics.acc",
        "params.lr",
        "tags.kind",
        "tags.mlflow.runName",
    ):
        assert column in frame.columns
    assert list(frame["metrics.acc"]) == [0.9, 0.8, 0.7]
    assert str(frame["start_time"].dtype).startswith("datetime64")
    filtered = nt.search_runs(filter_string="metrics.acc > 0.75 and params.lr = '0.01'")
    assert list(filtered["params.lr"]) == ["0.01"]
    assert len(nt.search_runs(max_results=2)) == 2
    assert len(nt.search_runs(output_format="list")) == 3


def test_deleted_runs_leave_search_and_come_back_on_restore(tracking_uri):
    with nt.start_run() as run:
        pass
    nt.delete_run(run.info.run_id)
    assert nt.search_runs().empty
    assert len(nt.search_runs(run_view_type="DELETED_ONLY")) == 1
    nt.restore_run(run.info.run_id)
    assert list(nt.search_runs()["run_id"]) == [run.info.run_id]


def test_unknown_run_is_not_found(tracking_uri):
    with pytest.raises(NotFound, match="not found"):
        nt.get_run("0" * 32)


def test_synchronous_logging_writes_before_returning(tracking_uri, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_TRACKER_SYNC_LOGGING", "1")
    with nt.start_run() as run:
        nt.log_metric("m", 1.0)
        # Read straight from the store, bypassing the fluent flush-before-read.
        store_run = nt.TrackingClient().store.get_run(run.info.run_id)
        assert store_run.data.metrics == {"m": 1.0}


def test_flush_makes_buffered_points_durable_without_ending_the_run(tracking_uri):
    with nt.start_run() as run:
        for i in range(10):
            nt.log_metric("m", float(i), step=i)
        nt.flush()
        stored = nt.TrackingClient().store.get_metric_history(run.info.run_id, "m")
        assert len(stored) == 10


def test_tracking_uri_accepts_a_folder_path(tmp_path, tracking_uri):
    nt.set_tracking_uri(str(tmp_path / "store"))
    assert nt.get_tracking_uri() == f"sqlite:///{tmp_path / 'store' / 'tracker.db'}"
    with nt.start_run():
        nt.log_metric("m", 1.0)
    assert (tmp_path / "store" / "tracker.db").exists()


def test_nul_characters_and_overlong_run_names_are_refused_clearly(tracking_uri):
    with pytest.raises(InvalidParameter, match="at most 250"):
        nt.start_run(run_name="x" * 251)
    with nt.start_run():
        with pytest.raises(InvalidParameter, match="NUL"):
            nt.log_param("a", "b\x00c")
        with pytest.raises(InvalidParameter, match="NUL"):
            nt.set_tag("a", "\x00")
