"""The `lightgbm` flavor: Boosters as LightGBM text models, scikit-learn-API models pickled.

MLflow's layout: a Booster is `model.lgb` (`Booster.save_model`); an `LGBMModel` is
`model.pkl` (pickle/cloudpickle) or `model.skops`; under `flavors.lightgbm`: `lgb_version`,
`data`, `model_class`, `serialization_format`, `skops_trusted_types`, `code`; the
python_function flavor names the `mlflow.lightgbm` loader. Models saved either way load in
the other.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.models.flavors.pyfunc import python_version
from notebook_tracker.models.mlmodel import PYFUNC_FLAVOR, Model

NAME = "lightgbm"
FORMATS = ("pickle", "cloudpickle", "skops")
LOADER_MODULES = ("mlflow.lightgbm",)  # MLflow-compatible loader name
BOOSTER_CLASS = "lightgbm.basic.Booster"


def can_save(obj: Any) -> bool:
    if "lightgbm" not in sys.modules:
        return False
    import lightgbm

    return isinstance(obj, (lightgbm.Booster, lightgbm.LGBMModel))


def save(
    obj: Any,
    path: Path,
    mlmodel: Model,
    serialization_format: str = "cloudpickle",
    **_: Any,
) -> list[str]:
    import lightgbm

    if not isinstance(obj, (lightgbm.Booster, lightgbm.LGBMModel)):
        raise InvalidParameter(
            f"The lightgbm flavor saves lightgbm.Booster or LGBMModel objects, not "
            f"{type(obj).__name__}."
        )
    if serialization_format not in FORMATS:
        raise InvalidParameter(
            f"Unknown serialization_format {serialization_format!r}: use one of "
            f"{', '.join(FORMATS)}."
        )
    requirements = [f"lightgbm=={lightgbm.__version__}"]
    trusted = None
    if isinstance(obj, lightgbm.Booster):
        data = "model.lgb"
        obj.save_model(str(path / data))
    elif serialization_format == "skops":
        from notebook_tracker.models.flavors.sklearn import _skops

        skio = _skops()
        data = "model.skops"
        blob = skio.dumps(obj)
        (path / data).write_bytes(blob)
        trusted = list(skio.get_untrusted_types(data=blob)) or None
        requirements.append("skops")
    else:
        data = "model.pkl"
        with open(path / data, "wb") as f:
            if serialization_format == "cloudpickle":
                import cloudpickle

                cloudpickle.dump(obj, f)
                requirements.append("cloudpickle")
            else:
                import pickle

                pickle.dump(obj, f, protocol=pickle.DEFAULT_PROTOCOL)
    cls = type(obj)
    mlmodel.add_flavor(
        NAME,
        lgb_version=lightgbm.__version__,
        data=data,
        model_class=f"{cls.__module__}.{cls.__name__}",
        serialization_format=serialization_format,
        skops_trusted_types=trusted,
        code=None,
    )
    mlmodel.add_flavor(
        PYFUNC_FLAVOR,
        loader_module=LOADER_MODULES[0],
        data=data,
        python_version=python_version(),
        env={"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
    )
    return requirements


def load_native(model_dir: Path, mlmodel: Model) -> Any:
    conf = mlmodel.flavors.get(NAME) or {}
    data = conf.get("data") or (mlmodel.pyfunc_conf or {}).get("data")
    if not data:
        raise InvalidParameter("This model has no lightgbm flavor with a data file.")
    file = model_dir / data
    if conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        import lightgbm

        return lightgbm.Booster(model_file=str(file))
    fmt = conf.get("serialization_format") or "cloudpickle"
    if fmt == "skops":
        from notebook_tracker.models.flavors.sklearn import _skops

        return _skops().load(file, trusted=conf.get("skops_trusted_types"))
    if fmt not in ("pickle", "cloudpickle"):
        raise InvalidParameter(
            f"Unknown serialization_format {fmt!r} in the lightgbm flavor: expected one of "
            f"{', '.join(FORMATS)}."
        )
    loader = importlib.import_module("cloudpickle" if fmt == "cloudpickle" else "pickle")
    with open(file, "rb") as f:
        return loader.load(f)


class Predictor:
    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(model_input)

    def unwrap(self) -> Any:
        return self.model


def load_predictor(model_dir: Path, mlmodel: Model) -> Predictor:
    return Predictor(load_native(model_dir, mlmodel))
