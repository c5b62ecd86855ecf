"""Get-or-create from many processes at once resolves to one object, with no error anywhere.

A parallel sweep starts eight processes that each call `nt.set_experiment("sweep")` on a
name nobody created yet; each must get the same experiment. The registry's get-or-create
(`register_model` creating the registered model) likewise. Processes are started once and
released together round after round by a barrier, so each round is a real race.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest

from notebook_tracker import env

PROCESSES = 8
ROUNDS = 20
_PRELOAD = ["notebook_tracker.client", "notebook_tracker.models.registry", "sqlalchemy"]


def _set_experiment_worker(uri: str, names: list[str], barrier: Any, out: Any) -> None:
    os.environ[env.TRACKING_URI] = uri
    import notebook_tracker as nt

    for round_no, name in enumerate(names):
        barrier.wait(timeout=120)
        try:
            out.put((round_no, nt.set_experiment(name).experiment_id))
        except Exception:
            out.put((round_no, "error: " + traceback.format_exc()))


def _register_worker(uri: str, names: list[str], model_dir: str, barrier: Any, out: Any) -> None:
    from notebook_tracker.models.registry import RegistryClient

    client = RegistryClient(uri)
    for round_no, name in enumerate(names):
        barrier.wait(timeout=120)
        try:
            out.put((round_no, client.register_model(model_dir, name).version))
        except Exception:
            out.put((round_no, "error: " + traceback.format_exc()))


def _race(target: Any, args: tuple[Any, ...], rounds: int) -> dict[int, list[Any]]:
    """Run `target(*args, barrier, out)` in PROCESSES processes; answers by round."""
    # Forked from one server process that has imported this module and the store's modules
    # already, instead of each starting Python and importing them (a second or more of CPU
    # each, eight per test). Each is still a fresh process that opens the store itself, and
    # the barrier still releases them together.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, *_PRELOAD])
    barrier = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, out)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    answers: dict[int, list[Any]] = {r: [] for r in range(rounds)}
    try:
        for _ in range(PROCESSES * rounds):
            round_no, answer = out.get(timeout=180)
            answers[round_no].append(answer)
    except queue.Empty:
        pytest.fail(f"the processes stopped answering; answers so far: {answers}")
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    return answers


def _fresh_store(uri: str) -> None:
    """Open (create and migrate) the store once, as a sweep's launcher does."""
    from notebook_tracker.client import TrackingClient

    TrackingClient(uri)


def _model_dir(tmp_path: Path) -> str:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text(
        "artifact_path: model\nflavors:\n  python_function:\n    loader_module: none\n"
    )
    return str(model)


def _check_set_experiment(uri: str, rounds: int = ROUNDS) -> None:
    _fresh_store(uri)
    names = [f"sweep-{uuid.uuid4().hex[:8]}-{r}" for r in range(rounds)]
    answers = _race(_set_experiment_worker, (uri, names), rounds)
    errors = [a for got in answers.values() for a in got if str(a).startswith("error")]
    assert not errors, errors[0]
    for round_no, ids in answers.items():
        assert len(set(ids)) == 1, (round_no, ids)
    from notebook_tracker.client import TrackingClient

    client = TrackingClient(uri)
    for round_no, name in enumerate(names):
        found = client.get_experiment_by_name(name)
        assert found is not None and found.experiment_id == answers[round_no][0]


def _check_register_model(uri: str, tmp_path: Path) -> None:
    _fresh_store(uri)
    rounds = 5
    names = [f"model-{uuid.uuid4().hex[:8]}-{r}" for r in range(rounds)]
    answers = _race(_register_worker, (uri, names, _model_dir(tmp_path)), rounds)
    errors = [a for got in answers.values() for a in got if str(a).startswith("error")]
    assert not errors, errors[0]
    for versions in answers.values():
        # One registered model per name, holding every process's version exactly once.
        assert sorted(int(v) for v in versions) == list(range(1, PROCESSES + 1)), versions


def test_eight_processes_setting_a_new_experiment_get_the_same_one_sqlite(tmp_path: Path):
    _check_set_experiment(f"sqlite:///{tmp_path / 'tracker.db'}")


@pytest.mark.postgres
def test_eight_processes_setting_a_new_experiment_get_the_same_one_postgres(postgres_uri: str):
    _check_set_experiment(postgres_uri)


def test_eight_processes_setting_a_new_experiment_through_a_server_get_the_same_one(
    tmp_path: Path,
):
    from standalone_server import running_server

    store = f"sqlite:///{tmp_path / 'tracker.db'}"
    with running_server(tmp_path, store, str(tmp_path / "artifacts"), workers=2) as server:
        _check_set_experiment(server.url, rounds=5)


def test_eight_processes_registering_a_new_model_share_one_registered_model_sqlite(
    tmp_path: Path,
):
    _check_register_model(f"sqlite:///{tmp_path / 'tracker.db'}", tmp_path)


@pytest.mark.postgres
def test_eight_processes_registering_a_new_model_share_one_registered_model_postgres(
    postgres_uri: str, tmp_path: Path
):
    _check_register_model(postgres_uri, tmp_path)
