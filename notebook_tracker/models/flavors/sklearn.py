"""The `sklearn` flavor: scikit-learn estimators as pickle, cloudpickle or skops files.

The directory layout and MLmodel fields are MLflow's (`pickled_model`, `serialization_format`,
`sklearn_version`, `skops_trusted_types`; the python_function flavor names `model_path` and
`predict_fn`), and the `loader_module` written is the one MLflow uses for that layout, so a
model saved here also loads and serves where only MLflow is installed. Models MLflow saved in
any of the three formats load here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.models.flavors.pyfunc import add_code_to_path, python_version
from notebook_tracker.models.mlmodel import PYFUNC_FLAVOR, Model

NAME = "sklearn"
FORMATS = ("pickle", "cloudpickle", "skops")
DEFAULT_FORMAT = "cloudpickle"
# MLflow-compatible: the loader module name MLflow reads for this layout.
LOADER_MODULES = ("mlflow.sklearn",)
PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")


def can_save(obj: Any) -> bool:
    if "sklearn" not in sys.modules:  # an estimator's class would have imported it
        return False
    from sklearn.base import BaseEstimator

    return isinstance(obj, BaseEstimator)


def _skops() -> Any:
    try:
        import skops.io
    except ImportError:
        raise InvalidParameter(
            "The skops serialization format needs the skops package: pip install skops "
            "(or save with serialization_format='cloudpickle')."
        ) from None
    return skops.io


def save(
    obj: Any,
    path: Path,
    mlmodel: Model,
    serialization_format: str = DEFAULT_FORMAT,
    pyfunc_predict_fn: str = "predict",
    **_: Any,
) -> list[str]:
    """Serialize the estimator into `path`; returns the pip requirements it needs."""
    import sklearn

    if serialization_format not in FORMATS:
        raise InvalidParameter(
            f"Unknown serialization_format {serialization_format!r}: use one of "
            f"{', '.join(FORMATS)}."
        )
    if pyfunc_predict_fn not in PREDICT_FNS:
        raise InvalidParameter(
            f"Unknown pyfunc_predict_fn {pyfunc_predict_fn!r}: use one of {', '.join(PREDICT_FNS)}."
        )
    if not callable(getattr(obj, pyfunc_predict_fn, None)):
        raise InvalidParameter(
            f"The {type(obj).__name__} has no {pyfunc_predict_fn}() method to serve."
        )
    requirements = [f"scikit-learn=={sklearn.__version__}"]
    trusted = None
    if serialization_format == "skops":
        skio = _skops()
        filename = "model.skops"
        data = skio.dumps(obj)
        (path / filename).write_bytes(data)
        # Whoever saves the model trusts its types; recorded so that loading needs no prompt.
        trusted = list(skio.get_untrusted_types(data=data)) or None
        requirements.append("skops")
    else:
        filename = "model.pkl"
        with open(path / filename, "wb") as f:
            if serialization_format == "cloudpickle":
                import cloudpickle

                cloudpickle.dump(obj, f)
                requirements.append("cloudpickle")
            else:
                import pickle

                pickle.dump(obj, f, protocol=pickle.DEFAULT_PROTOCOL)
    mlmodel.add_flavor(
        NAME,
        pickled_model=filename,
        sklearn_version=sklearn.__version__,
        serialization_format=serialization_format,
        skops_trusted_types=trusted,
        code=None,
    )
    mlmodel.add_flavor(
        PYFUNC_FLAVOR,
        loader_module=LOADER_MODULES[0],
        model_path=filename,
        predict_fn=pyfunc_predict_fn,
        python_version=python_version(),
        env={"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
    )
    return requirements


def load_native(model_dir: Path, mlmodel: Model) -> Any:
    """The estimator itself."""
    conf = mlmodel.flavors.get(NAME)
    pyfunc_conf = mlmodel.pyfunc_conf or {}
    if conf is None:
        if "model_path" not in pyfunc_conf:
            raise InvalidParameter("This model has neither an sklearn flavor nor a model_path.")
        conf = {"pickled_model": pyfunc_conf["model_path"], "serialization_format": "pickle"}
    add_code_to_path(model_dir, pyfunc_conf)
    file = model_dir / conf["pickled_model"]
    fmt = conf.get("serialization_format") or "pickle"
    if fmt == "skops":
        return _skops().load(file, trusted=conf.get("skops_trusted_types"))
    if fmt == "cloudpickle":
        import cloudpickle

        with open(file, "rb") as f:
            return cloudpickle.load(f)
    if fmt == "pickle":
        import pickle

        with open(file, "rb") as f:
            return pickle.load(f)
    raise InvalidParameter(
        f"Unknown serialization_format {fmt!r} in the sklearn flavor: expected one of "
        f"{', '.join(FORMATS)}."
    )


class Predictor:
    def __init__(self, estimator: Any, predict_fn: str) -> None:
        self.estimator = estimator
        fn = getattr(estimator, predict_fn, None)
        if not callable(fn):
            raise InvalidParameter(
                f"The {type(estimator).__name__} has no {predict_fn}() method (predict_fn)."
            )
        self._fn = fn

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self._fn(model_input)

    def unwrap(self) -> Any:
        return self.estimator


def load_predictor(model_dir: Path, mlmodel: Model) -> Predictor:
    predict_fn = (mlmodel.pyfunc_conf or {}).get("predict_fn") or "predict"
    return Predictor(load_native(model_dir, mlmodel), predict_fn)
