"""System metrics: MLflow's `system/...` names on runs that ask for them, none on runs that do
not, GPUs through NVML (a fake module here: this machine has no GPU), and a sampler that stops
with its run and never takes the run down."""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
import types

import pytest
from projects_helpers import cli, only_run, use_project_cache, write_files

import notebook_tracker as nt
from notebook_tracker import env, fluent
from notebook_tracker.cells.arguments import parse_track_line
from notebook_tracker.client import TrackingClient
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.projects.runner import run_project
from notebook_tracker.system_metrics import THREAD_NAME, collectors, monitor

MLFLOW_NAMES = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/disk_available_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
}
ALL_SETTINGS = (
    env.ENABLE_SYSTEM_METRICS_LOGGING,
    env.SYSTEM_METRICS_SAMPLING_INTERVAL,
    env.SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING,
    env.SYSTEM_METRICS_NODE_ID,
)


@pytest.fixture
def fast(tracking_uri, monkeypatch):
    """Every 50 ms instead of 10 s; no setting leaks in from the environment or out of a test."""
    for name in ALL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(env.SYSTEM_METRICS_SAMPLING_INTERVAL, "0.05")
    monkeypatch.setitem(sys.modules, "pynvml", None)  # no GPU unless a test fakes one
    yield tracking_uri
    for name in ALL_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def system_keys(run_id: str) -> set[str]:
    return {k for k in nt.get_run(run_id).data.metrics if k.startswith("system/")}


def samplers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def run_for(seconds: float, **kwargs) -> str:
    with nt.start_run(**kwargs) as run:
        time.sleep(seconds)
    return run.info.run_id


def test_a_run_started_with_log_system_metrics_has_mlflows_names_and_sane_values(fast):
    run_id = run_for(0.4, log_system_metrics=True)
    metrics = nt.get_run(run_id).data.metrics
    assert MLFLOW_NAMES <= set(metrics)
    assert not any(k.startswith("system/gpu") for k in metrics)
    assert 0 <= metrics["system/cpu_utilization_percentage"] <= 100
    assert 0 < metrics["system/system_memory_usage_percentage"] < 100
    assert metrics["system/disk_available_megabytes"] > 0
    assert metrics["system/network_receive_megabytes"] >= 0
    history = nt.get_metric_history(run_id, "system/cpu_utilization_percentage")
    assert len(history) >= 3  # sampled all along, not once at the end
    assert [int(s) for s in history.steps] == list(range(len(history)))


def test_no_system_metrics_by_default_nor_when_disabled(fast, monkeypatch):
    assert system_keys(run_for(0.15)) == set()
    nt.enable_system_metrics_logging()
    assert system_keys(run_for(0.15, log_system_metrics=False)) == set()
    assert MLFLOW_NAMES <= system_keys(run_for(0.15))
    nt.disable_system_metrics_logging()
    assert system_keys(run_for(0.15)) == set()
    assert MLFLOW_NAMES <= system_keys(run_for(0.15, log_system_metrics=True))
    monkeypatch.setenv(env.ENABLE_SYSTEM_METRICS_LOGGING, "true")
    assert MLFLOW_NAMES <= system_keys(run_for(0.15))


def test_a_misspelt_switch_is_refused_before_any_run_exists(fast, monkeypatch):
    monkeypatch.setenv(env.ENABLE_SYSTEM_METRICS_LOGGING, "ture")
    with pytest.raises(InvalidParameter, match="ENABLE_SYSTEM_METRICS_LOGGING.*'true' or 'false'"):
        nt.start_run()
    assert nt.search_runs(output_format="list") == []


@pytest.mark.parametrize(
    "call, bad",
    [
        (nt.set_system_metrics_sampling_interval, 0),
        (nt.set_system_metrics_sampling_interval, "10"),
        (nt.set_system_metrics_samples_before_logging, 0),
        (nt.set_system_metrics_samples_before_logging, 1.5),
        (nt.set_system_metrics_node_id, "rack/1"),
        (nt.set_system_metrics_node_id, ""),
    ],
)
def test_bad_settings_are_refused_with_what_to_give(fast, call, bad):
    with pytest.raises(InvalidParameter, match="give|must be"):
        call(bad)


def test_a_bad_interval_variable_names_the_variable(fast, monkeypatch):
    monkeypatch.setenv(env.SYSTEM_METRICS_SAMPLING_INTERVAL, "ten")
    with pytest.raises(InvalidParameter, match="SYSTEM_METRICS_SAMPLING_INTERVAL='ten'"):
        nt.start_run(log_system_metrics=True)
    assert nt.search_runs(output_format="list") == []  # refused before the run existed


def test_node_id_prefixes_every_key(fast):
    nt.set_system_metrics_node_id("worker-1")
    keys = system_keys(run_for(0.15, log_system_metrics=True))
    assert {k.replace("system/worker-1/", "system/") for k in keys} >= MLFLOW_NAMES
    assert all(k.startswith("system/worker-1/") for k in keys)
    nt.set_system_metrics_node_id(None)
    assert MLFLOW_NAMES <= system_keys(run_for(0.15, log_system_metrics=True))


def test_samples_before_logging_logs_their_average(fast, monkeypatch):
    readings = iter(range(1, 1000))
    monkeypatch.setattr(
        collectors.PsutilCollector,
        "cpu",
        lambda self: {"cpu_utilization_percentage": float(next(readings))},
    )
    nt.set_system_metrics_samples_before_logging(2)
    run_id = run_for(0.5, log_system_metrics=True)
    values = list(nt.get_metric_history(run_id, "system/cpu_utilization_percentage").values)
    assert values[:2] == [1.5, 3.5]  # (1+2)/2, (3+4)/2


class FakeNvml(types.ModuleType):
    """pynvml's calls as nvidia-ml-py names them; GPU 1 reports no power, as many do not."""

    def __init__(self, count: int = 2, init_error: Exception | None = None) -> None:
        super().__init__("pynvml")
        self.count, self.init_error, self.shut = count, init_error, False

    def nvmlInit(self):
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self):
        self.shut = True

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetMemoryInfo(self, h):
        return types.SimpleNamespace(used=(h + 1) * 1_000_000_000, total=8_000_000_000)

    def nvmlDeviceGetUtilizationRates(self, h):
        return types.SimpleNamespace(gpu=30 + h * 40, memory=5)

    def nvmlDeviceGetPowerUsage(self, h):
        if h == 1:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        return 150_000  # milliwatts

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return 300_000


def test_gpu_metrics_come_from_nvml_with_mlflows_names(fast, monkeypatch):
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    metrics = nt.get_run(run_for(0.2, log_system_metrics=True)).data.metrics
    assert metrics["system/gpu_0_utilization_percentage"] == 30
    assert metrics["system/gpu_1_utilization_percentage"] == 70
    assert metrics["system/gpu_0_memory_usage_megabytes"] == 1000
    assert metrics["system/gpu_1_memory_usage_percentage"] == 25
    assert metrics["system/gpu_0_power_usage_watts"] == 150
    assert metrics["system/gpu_0_power_usage_percentage"] == 50
    assert "system/gpu_1_power_usage_watts" not in metrics
    assert "system/gpu_1_memory_usage_megabytes" in metrics  # no power, the rest still logged
    assert MLFLOW_NAMES <= set(metrics)
    assert fake.shut  # NVML is released with the run


def test_no_gpu_metrics_when_nvml_finds_no_driver_or_no_gpu(fast, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(init_error=OSError("no driver")))
    with caplog.at_level(logging.WARNING):
        keys = system_keys(run_for(0.15, log_system_metrics=True))
    assert MLFLOW_NAMES <= keys and not any("gpu" in k for k in keys)
    assert not caplog.records  # a machine without a GPU is normal, not worth a warning
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(count=0))
    assert not any("gpu" in k for k in system_keys(run_for(0.15, log_system_metrics=True)))


def test_the_sampler_stops_when_the_run_ends_however_it_ends(fast):
    before = len(samplers())
    run_id = run_for(0.1, log_system_metrics=True)
    assert len(samplers()) == before
    assert nt.get_run(run_id).info.status == "FINISHED"

    with pytest.raises(ValueError):
        with nt.start_run(log_system_metrics=True) as failing:
            assert len(samplers()) == before + 1
            time.sleep(0.1)
            raise ValueError("training diverged")
    assert len(samplers()) == before
    failed = nt.get_run(failing.info.run_id)
    assert failed.info.status == "FAILED" and MLFLOW_NAMES <= set(failed.data.metrics)

    with pytest.raises(KeyboardInterrupt):
        with nt.start_run(log_system_metrics=True) as killed:
            raise KeyboardInterrupt
    assert len(samplers()) == before
    assert nt.get_run(killed.info.run_id).info.status == "KILLED"
    # even a run ended within milliseconds says what the machine was doing (CPU use needs a
    # clock tick to pass, so it may be missing from a run this short)
    assert MLFLOW_NAMES - {"system/cpu_utilization_percentage"} <= system_keys(killed.info.run_id)


def test_cpu_use_is_the_busy_share_of_cpu_time_between_samples():
    times = collections.namedtuple("scputimes", "user system idle iowait guest guest_nice")
    ticks = iter(
        [times(10, 10, 80, 0, 0, 0), times(40, 10, 140, 10, 5, 0), times(40, 10, 140, 10, 5, 0)]
    )
    fake = types.SimpleNamespace(
        cpu_times=lambda: next(ticks),
        net_io_counters=lambda: types.SimpleNamespace(bytes_recv=0, bytes_sent=0),
    )
    collector = collectors.PsutilCollector(fake)
    # busy 20 -> 50 (guest already inside user), total 100 -> 200 (205 minus guest 5)
    assert collector.cpu() == {"cpu_utilization_percentage": 30.0}
    assert collector.cpu() == {}  # no time passed: no reading rather than a made-up 0%


def test_a_failing_reading_is_one_warning_and_the_others_are_still_logged(
    fast, monkeypatch, caplog
):
    def broken(self):
        raise PermissionError("statvfs denied")

    monkeypatch.setattr(collectors.PsutilCollector, "disk", broken)
    with caplog.at_level(logging.WARNING):
        run_id = run_for(0.3, log_system_metrics=True)
    keys = system_keys(run_id)
    assert "system/cpu_utilization_percentage" in keys
    assert not any(k.startswith("system/disk") for k in keys)
    warnings = [r for r in caplog.records if "disk" in r.getMessage()]
    assert len(warnings) == 1 and "statvfs denied" in warnings[0].getMessage()
    assert nt.get_run(run_id).info.status == "FINISHED"


def test_without_psutil_the_run_goes_on_with_a_hint(fast, monkeypatch, caplog):
    monitor_module = sys.modules["notebook_tracker.system_metrics.monitor"]
    monkeypatch.setattr(monitor_module, "_warned_no_psutil", False)
    monkeypatch.setitem(sys.modules, "psutil", None)
    with caplog.at_level(logging.WARNING):
        run_id = run_for(0.1, log_system_metrics=True)
    assert system_keys(run_id) == set()
    assert any("pip install psutil" in r.getMessage() for r in caplog.records)
    assert nt.get_run(run_id).info.status == "FINISHED"


def test_a_resumed_run_continues_its_steps(fast):
    run_id = run_for(0.15, log_system_metrics=True)
    first = len(nt.get_metric_history(run_id, "system/cpu_utilization_percentage"))
    with nt.start_run(run_id=run_id, log_system_metrics=True):
        time.sleep(0.15)
    steps = [
        int(s) for s in nt.get_metric_history(run_id, "system/cpu_utilization_percentage").steps
    ]
    assert len(steps) > first and steps == list(range(len(steps)))


def test_monitor_by_run_id_for_code_that_manages_runs_itself(fast):
    client = TrackingClient()
    run_id = client.create_run("0").info.run_id
    with monitor(run_id, client.store, sampling_interval=0.05, node_id="trial-3") as sampler:
        assert sampler is not None and sampler.running
        time.sleep(0.2)
    assert not sampler.running and samplers() == []
    # stopped means written: readable at once, without any flush by the caller
    keys = set(client.get_run(run_id).data.metrics)
    assert {k.replace("system/trial-3/", "system/") for k in keys} >= MLFLOW_NAMES
    with monitor(run_id, client.store, enabled=False) as nothing:
        assert nothing is None


def test_system_metrics_reach_a_tracking_server(fast, tmp_path, monkeypatch):
    from standalone_server import running_server

    with running_server(tmp_path, f"sqlite:///{tmp_path / 'server.db'}", workers=1) as server:
        nt.set_tracking_uri(server.url)
        run_id = run_for(0.3, log_system_metrics=True)
        assert MLFLOW_NAMES <= system_keys(run_id)


@pytest.fixture
def project(fast, tmp_path, monkeypatch):
    use_project_cache(tmp_path, monkeypatch)
    return write_files(
        tmp_path / "proj",
        {
            "MLproject": """
            name: sleepy
            entry_points:
              main:
                command: "python sleep.py"
            """,
            "sleep.py": """
            import os, time
            import notebook_tracker as nt
            print("child switch:", os.environ.get("NOTEBOOK_TRACKER_ENABLE_SYSTEM_METRICS_LOGGING"))
            with nt.start_run():
                nt.log_metric("loss", 0.5)
                time.sleep(0.4)
            """,
        },
    )


def test_a_project_run_logs_system_metrics_by_default_once(project):
    seen: list[str] = []
    result = run_project(str(project), env_manager="local", output=lambda s, t: seen.append(t))
    assert result.succeeded, "".join(seen)
    client = TrackingClient()
    metrics = client.get_run(result.run_id).data.metrics
    assert MLFLOW_NAMES <= set(metrics) and metrics["loss"] == 0.5
    # the runner samples; the child resuming the run does not log a second series
    assert "child switch: false" in "".join(seen)
    steps = [
        int(s)
        for s in client.get_metric_history(result.run_id, "system/disk_usage_megabytes").steps
    ]
    assert steps == list(range(len(steps)))


def test_a_project_run_without_system_metrics_when_asked_or_disabled(project, monkeypatch):
    client = TrackingClient()
    off = run_project(str(project), env_manager="local", log_system_metrics=False, output=print)
    assert not any(k.startswith("system/") for k in client.get_run(off.run_id).data.metrics)
    nt.disable_system_metrics_logging()
    off = run_project(str(project), env_manager="local", output=print)
    assert not any(k.startswith("system/") for k in client.get_run(off.run_id).data.metrics)


def test_the_run_command_can_turn_system_metrics_off(project):
    result = cli("run", str(project), "--env-manager", "local", "--no-system-metrics")
    assert result.returncode == 0, result.stderr
    metrics = only_run().data.metrics
    assert metrics == {"loss": 0.5}


def test_track_run_flag_turns_system_metrics_on_or_off():
    assert parse_track_line("--system-metrics").system_metrics is True
    assert parse_track_line("name --no-system-metrics").system_metrics is False
    assert parse_track_line("name").system_metrics is None


def test_track_run_with_the_flag_logs_system_metrics(fast, tmp_path, monkeypatch):
    from IPython.testing.globalipapp import get_ipython

    monkeypatch.chdir(tmp_path)
    shell = get_ipython()
    shell.run_line_magic("load_ext", "notebook_tracker")
    try:
        result = shell.run_cell(
            "%%track_run --system-metrics --quiet\nimport time\ntime.sleep(0.2)"
        )
        assert result.success
        assert MLFLOW_NAMES <= system_keys(fluent._last_active_run_id)
        shell.run_cell("%%track_run --quiet\nx = 1")
        assert system_keys(fluent._last_active_run_id) == set()
    finally:
        shell.run_line_magic("unload_ext", "notebook_tracker")
    assert samplers() == []


def test_the_run_card_shows_system_metrics_as_one_line_not_as_metric_rows():
    from notebook_tracker.widgets.card_html import CardState, Series, card_html, card_text

    state = CardState(run_id="r1", run_name="fit", status="FINISHED")
    state.metrics = {
        "acc": 0.93,
        "system/cpu_utilization_percentage": 42.4,
        "system/system_memory_usage_megabytes": 2150.0,
        "system/system_memory_usage_percentage": 8.3,
        "system/disk_usage_percentage": 27.5,
        "system/gpu_0_utilization_percentage": 71.0,
        "system/gpu_0_memory_usage_percentage": 12.2,
        "system/node-b/cpu_utilization_percentage": 5.0,
    }
    state.series["system/cpu_utilization_percentage"] = Series([0, 1, 2], [0, 1, 2], [10, 60, 42])
    html = card_html(state)
    assert 'class="ntc-system" data-node=""' in html
    assert "CPU 42%" in html and "memory 2.1 GB (8%)" in html and "GPU 0 71% (mem 12%)" in html
    assert 'data-node="node-b"' in html and "CPU 5%" in html
    assert html.count("ntc-sparkline") == 1  # the CPU curve
    assert 'data-key="acc"' in html and 'data-key="system/' not in html
    text = card_text(state)
    assert "metrics: acc=0.93" in text and "system: CPU 42%" in text

    plain = CardState(run_id="r2", run_name="plain", metrics={"acc": 1.0})
    assert "ntc-system" not in card_html(plain)
