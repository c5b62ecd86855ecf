"""The `pytorch` flavor: whole modules and state dicts, loaded here, in MLflow, and served.

Real torch on tiny synthetic data; MLflow (installed for the compatibility suites) loads our
models and we load its.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import notebook_tracker as nt  # noqa: E402
import notebook_tracker.models as ntm  # noqa: E402
from notebook_tracker.models.scoring.app import score  # noqa: E402

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})


class Doubler(torch.nn.Module):
    """Defined in the test module: cloudpickle must carry the class by reference."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[2.0, 10.0]]))
            self.linear.bias.fill_(0.5)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.linear(x)


EXPECTED = [[10.5], [2.5], [14.5], [6.5]]


def _mlflow():  # type: ignore[no-untyped-def]
    return pytest.importorskip("mlflow")


def test_a_saved_module_loads_back_natively_and_predicts_as_python_function(tmp_path: Path):
    nt.pytorch.save_model(Doubler(), tmp_path / "m", input_example=X.head(2))
    native = nt.pytorch.load_model(tmp_path / "m")
    assert isinstance(native, Doubler)
    assert not native.training  # eval mode, ready to predict
    out = native(torch.tensor(X.to_numpy(dtype=np.float32)))
    np.testing.assert_allclose(out.detach().numpy(), EXPECTED)
    pyfunc = ntm.load_model(tmp_path / "m")
    predictions = pyfunc.predict(X)
    assert isinstance(predictions, pd.DataFrame)
    np.testing.assert_allclose(predictions.to_numpy(), EXPECTED)
    assert pyfunc.signature.inputs.names() == ["a", "b"]


def test_the_directory_and_mlmodel_follow_mlflows_pytorch_layout(tmp_path: Path):
    nt.pytorch.save_model(Doubler(), tmp_path / "m")
    assert (tmp_path / "m" / "data" / "model.pth").is_file()
    assert (tmp_path / "m" / "data" / "pickle_module_info.txt").is_file()
    meta = ntm.Model.load(tmp_path / "m")
    assert meta.flavors["pytorch"]["model_data"] == "data"
    assert meta.flavors["pytorch"]["pytorch_version"] == torch.__version__
    assert meta.flavors["python_function"]["loader_module"] == "mlflow.pytorch"
    reqs = (tmp_path / "m" / "requirements.txt").read_text()
    assert "torch==" in reqs and "+cpu" not in reqs


def test_a_module_is_picked_as_pytorch_without_naming_the_flavor(tmp_path: Path):
    ntm.save_model(Doubler(), tmp_path / "m")
    assert "pytorch" in ntm.Model.load(tmp_path / "m").flavors


def test_our_pytorch_model_loads_in_mlflow_natively_and_as_pyfunc(tmp_path: Path):
    mlflow = _mlflow()
    nt.pytorch.save_model(Doubler(), tmp_path / "m", input_example=X.head(2))
    native = mlflow.pytorch.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(
        native(torch.tensor(X.to_numpy(dtype=np.float32))).detach().numpy(), EXPECTED
    )
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(np.asarray(pyfunc.predict(X)), EXPECTED)


@pytest.mark.parametrize("fmt", ["pickle", "pt2"])
def test_mlflows_pytorch_model_loads_and_scores_here(tmp_path: Path, fmt: str):
    mlflow = _mlflow()
    # pt2 (MLflow 3's default) traces forward() on an array example; pickle takes a frame.
    example = X.head(2) if fmt == "pickle" else X.to_numpy(dtype=np.float32)[:2]
    mlflow.pytorch.save_model(
        Doubler(),
        str(tmp_path / "m"),
        input_example=example,
        serialization_format=fmt,
        pip_requirements=["torch"],  # MLflow's inference runs a subprocess: seconds
    )
    native = nt.pytorch.load_model(tmp_path / "m")
    np.testing.assert_allclose(
        native(torch.tensor(X.to_numpy(dtype=np.float32))).detach().numpy(), EXPECTED
    )
    model = ntm.load_model(tmp_path / "m")
    if fmt == "pickle":
        body = json.dumps({"dataframe_split": X.to_dict(orient="split")}).encode()
    else:
        body = json.dumps({"inputs": X.to_numpy().tolist()}).encode()
    status, answer = score(model, body, "application/json")
    assert status == 200, answer
    np.testing.assert_allclose(
        [
            list(row.values()) if isinstance(row, dict) else row
            for row in json.loads(answer)["predictions"]
        ],
        EXPECTED,
    )


def test_a_torchscript_module_round_trips(tmp_path: Path):
    scripted = torch.jit.script(Doubler())
    nt.pytorch.save_model(scripted, tmp_path / "m")
    loaded = nt.pytorch.load_model(tmp_path / "m")
    np.testing.assert_allclose(
        loaded(torch.tensor(X.to_numpy(dtype=np.float32))).detach().numpy(), EXPECTED
    )


def test_logged_model_and_state_dict_come_back_from_the_run(tracking_uri: str):
    with nt.start_run() as run:
        info = nt.pytorch.log_model(Doubler(), name="net")
        sd_uri = nt.pytorch.log_state_dict(Doubler().state_dict(), "weights")
    assert info.model_uri == f"runs:/{run.info.run_id}/net"
    assert isinstance(nt.pytorch.load_model(info.model_uri), Doubler)
    state = nt.pytorch.load_state_dict(sd_uri)
    fresh = torch.nn.Module.__new__(Doubler)
    Doubler.__init__(fresh)
    fresh.linear.weight.data.zero_()
    fresh.load_state_dict(state)
    assert fresh.linear.weight.tolist() == [[2.0, 10.0]]


def test_mlflows_state_dict_loads_here(tmp_path: Path):
    mlflow = _mlflow()
    mlflow.pytorch.save_state_dict(Doubler().state_dict(), str(tmp_path / "sd"))
    state = nt.pytorch.load_state_dict(tmp_path / "sd")
    assert state["linear.bias"].tolist() == [0.5]


def test_saving_something_that_is_not_a_module_says_what_to_do(tmp_path: Path):
    with pytest.raises(nt.TrackerError, match="torch.nn.Module"):
        nt.pytorch.save_model({"w": 1}, tmp_path / "m")


def test_code_paths_are_shipped_and_put_on_the_path(tmp_path: Path):
    pkg = tmp_path / "src" / "ntmodels_helper"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("SCALE = 3.0\n")
    nt.pytorch.save_model(Doubler(), tmp_path / "m", code_paths=[str(pkg)])
    assert (tmp_path / "m" / "code" / "ntmodels_helper" / "__init__.py").is_file()
    assert ntm.Model.load(tmp_path / "m").flavors["pytorch"]["code"] == "code"
