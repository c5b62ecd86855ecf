"""The `keras` flavor: Keras 3 models in the `.keras` format (any backend).

Layout and MLmodel fields are MLflow's: `data/model.keras` and `data/keras_module.txt`,
`keras: {data: data, keras_version, keras_backend, save_exported_model: false}` and a
python_function flavor with `loader_module: mlflow.keras`, so models cross both ways.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.models.flavors.pyfunc import python_version
from notebook_tracker.models.mlmodel import PYFUNC_FLAVOR, Model

NAME = "keras"
# MLflow-compatible: the loader module MLflow reads for this layout.
LOADER_MODULES = ("mlflow.keras",)
DATA_DIR = "data"
MODEL_STEM = "model"
MODULE_FILE = "keras_module.txt"


def can_save(obj: Any) -> bool:
    if "keras" not in sys.modules:
        return False
    import keras

    return isinstance(obj, keras.Model)


def save(
    obj: Any,
    path: Path,
    mlmodel: Model,
    save_model_kwargs: dict[str, Any] | None = None,
    **_: Any,
) -> list[str]:
    """Write `path/data/model.keras`; returns the pip requirements it needs."""
    import keras

    if not isinstance(obj, keras.Model):
        raise InvalidParameter(
            f"The keras flavor saves keras.Model objects, not a {type(obj).__name__}."
        )
    data = path / DATA_DIR
    data.mkdir()
    (data / MODULE_FILE).write_text("keras")
    obj.save(str(data / f"{MODEL_STEM}.keras"), **(save_model_kwargs or {}))
    backend = keras.backend.backend()
    mlmodel.add_flavor(
        NAME,
        data=DATA_DIR,
        keras_version=keras.__version__,
        keras_backend=backend,
        save_exported_model=False,
    )
    mlmodel.add_flavor(
        PYFUNC_FLAVOR,
        loader_module=LOADER_MODULES[0],
        python_version=python_version(),
        env={"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
    )
    requirements = [f"keras=={keras.__version__}"]
    backend_package = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}.get(backend)
    if backend_package:
        requirements.append(backend_package)
    return requirements


def load_native(
    model_dir: Path, mlmodel: Model, custom_objects: dict[str, Any] | None = None
) -> Any:
    """The `keras.Model` itself."""
    conf = mlmodel.get_flavor(NAME)
    if conf.get("save_exported_model"):
        raise InvalidParameter(
            "This Keras model was saved in the TensorFlow SavedModel export format "
            "(save_exported_model=True), which needs TensorFlow and MLflow to load: "
            "use mlflow.keras.load_model, or save it again in the .keras format."
        )
    _check_backend(conf)
    import keras

    base = model_dir / conf.get("data", MODEL_STEM)
    file = base / f"{MODEL_STEM}.keras" if base.is_dir() else Path(f"{base}.keras")
    if not file.exists():
        raise InvalidParameter(f"No Keras model file at {file}: the model directory is incomplete.")
    return keras.saving.load_model(str(file), custom_objects=custom_objects)


def _check_backend(conf: dict[str, Any]) -> None:
    saved = conf.get("keras_backend")
    if saved and "keras" not in sys.modules:
        import os

        # Keras picks its backend once, at import: match the model's unless the user chose.
        os.environ.setdefault("KERAS_BACKEND", saved)


class Predictor:
    """MLflow's pyfunc behaviour: DataFrame in, DataFrame out (same index); arrays in, array out."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import keras
        import numpy as np
        import pandas as pd

        if isinstance(model_input, pd.DataFrame):
            values = self.model.predict(model_input.to_numpy(), verbose=0)
            return pd.DataFrame(values, index=model_input.index)
        if not isinstance(model_input, (np.ndarray, list, tuple, dict)):
            raise InvalidParameter(
                f"A Keras model takes a DataFrame, an array, a list or a dict of arrays, not a "
                f"{type(model_input).__name__}."
            )
        return keras.ops.convert_to_numpy(self.model.predict(model_input, verbose=0))

    def unwrap(self) -> Any:
        return self.model


def load_predictor(model_dir: Path, mlmodel: Model) -> Predictor:
    return Predictor(load_native(model_dir, mlmodel))
