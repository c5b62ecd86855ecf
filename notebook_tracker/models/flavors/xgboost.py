"""The `xgboost` flavor: Boosters and scikit-learn-API models in XGBoost's own file format.

MLflow's layout: `model.<format>` (`ubj` by default; `json` and `xgb` too) written by the
model's `save_model`, and under `flavors.xgboost` the fields `xgb_version`, `data`,
`model_class` (e.g. `xgboost.sklearn.XGBClassifier`), `model_format` and `code`; the
python_function flavor names the `mlflow.xgboost` loader and the same `data`. Models saved
either way load in the other.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.models.flavors.pyfunc import python_version
from notebook_tracker.models.mlmodel import PYFUNC_FLAVOR, Model

NAME = "xgboost"
FORMATS = ("ubj", "json", "xgb")
LOADER_MODULES = ("mlflow.xgboost",)  # MLflow-compatible loader name


def can_save(obj: Any) -> bool:
    if "xgboost" not in sys.modules:
        return False
    import xgboost

    return isinstance(obj, (xgboost.Booster, xgboost.XGBModel))


def save(obj: Any, path: Path, mlmodel: Model, model_format: str = "ubj", **_: Any) -> list[str]:
    import xgboost

    if not isinstance(obj, (xgboost.Booster, xgboost.XGBModel)):
        raise InvalidParameter(
            f"The xgboost flavor saves xgboost.Booster or XGBModel objects, not "
            f"{type(obj).__name__}."
        )
    if model_format not in FORMATS:
        raise InvalidParameter(
            f"Unknown model_format {model_format!r}: use one of {', '.join(FORMATS)}."
        )
    data = f"model.{model_format}"
    obj.save_model(str(path / data))
    cls = type(obj)
    mlmodel.add_flavor(
        NAME,
        xgb_version=xgboost.__version__,
        data=data,
        model_class=f"{cls.__module__}.{cls.__name__}",
        model_format=model_format,
        code=None,
    )
    mlmodel.add_flavor(
        PYFUNC_FLAVOR,
        loader_module=LOADER_MODULES[0],
        data=data,
        python_version=python_version(),
        env={"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
    )
    # Pinned from the module: the `xgboost-cpu` distribution provides the same module.
    return [f"xgboost=={xgboost.__version__}"]


def _model_class(name: str) -> Any:
    module, _, cls = name.rpartition(".")
    if not module.startswith("xgboost"):
        raise InvalidParameter(
            f"The xgboost flavor's model_class {name!r} is not an XGBoost class; refusing to "
            "import it."
        )
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        raise InvalidParameter(
            f"Cannot load model_class {name!r}: install the xgboost version the model was "
            "saved with."
        ) from None


def load_native(model_dir: Path, mlmodel: Model) -> Any:
    conf = mlmodel.flavors.get(NAME) or {}
    data = conf.get("data") or (mlmodel.pyfunc_conf or {}).get("data")
    if not data:
        raise InvalidParameter("This model has no xgboost flavor with a data file.")
    model = _model_class(conf.get("model_class", "xgboost.core.Booster"))()
    model.load_model(str(model_dir / data))
    return model


class Predictor:
    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import xgboost

        if isinstance(self.model, xgboost.Booster):
            return self.model.predict(xgboost.DMatrix(model_input))
        return self.model.predict(model_input)

    def unwrap(self) -> Any:
        return self.model


def load_predictor(model_dir: Path, mlmodel: Model) -> Predictor:
    return Predictor(load_native(model_dir, mlmodel))
