"""`PyFuncModel`: any loaded model behind one `predict(data, params=None)`, with its signature
enforced on the way in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notebook_tracker.models.mlmodel import Model


class PyFuncModel:
    """What `load_model(uri)` returns."""

    def __init__(self, predictor: Any, metadata: Model, model_dir: Path, model_uri: str) -> None:
        self._predictor = predictor
        self.metadata = metadata
        self.model_dir = model_dir
        self.model_uri = model_uri

    @property
    def signature(self) -> Any:
        return self.metadata.signature

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predictions for `data` (a DataFrame, array, dict of columns or list of records).

        The input is checked and converted against the model's signature first; a mismatch
        raises `SchemaError` naming the column and the type it needs.
        """
        from notebook_tracker.models.enforce import enforce

        data, params = enforce(data, params, self.metadata.signature)
        return self._predictor.predict(data, params)

    def unwrap_python_model(self) -> Any:
        """The underlying object (a PythonModel, estimator, function...)."""
        return self._predictor.unwrap() if hasattr(self._predictor, "unwrap") else self._predictor

    @property
    def input_example(self) -> Any:
        from notebook_tracker.models.examples import load_example

        return load_example(self.model_dir, self.metadata.saved_input_example_info)

    def __repr__(self) -> str:
        flavors = ", ".join(self.metadata.flavors)
        return f"PyFuncModel(uri={self.model_uri!r}, flavors=[{flavors}])"


def load_pyfunc_from_dir(model_dir: Path, model_uri: str | None = None) -> PyFuncModel:
    from notebook_tracker.models.flavors import load_predictor

    metadata = Model.load(model_dir)
    predictor = load_predictor(model_dir, metadata)
    return PyFuncModel(predictor, metadata, model_dir, model_uri or str(model_dir))
