"""The `spark` flavor: Spark MLlib models through Spark ML persistence.

Layout and MLmodel fields are MLflow's: the model, wrapped in a `PipelineModel` when it is a
single transformer, saved by Spark under `sparkml/`; `spark: {pyspark_version, model_data:
sparkml, model_class, code}` and a python_function flavor with `loader_module: mlflow.spark`,
`data: sparkml`. Loading needs a Spark session: the active one, else a local one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.models.flavors.pyfunc import (
    add_code_to_path,
    copy_code_paths,
    python_version,
)
from notebook_tracker.models.mlmodel import PYFUNC_FLAVOR, Model

NAME = "spark"
# MLflow-compatible: the loader module MLflow reads for this layout.
LOADER_MODULES = ("mlflow.spark",)
DATA_DIR = "sparkml"
PREDICTION_COLUMN = "prediction"


def can_save(obj: Any) -> bool:
    if "pyspark" not in sys.modules:
        return False
    from pyspark.ml import Transformer

    return isinstance(obj, Transformer)


def save(
    obj: Any,
    path: Path,
    mlmodel: Model,
    code_paths: list[str] | None = None,
    **_: Any,
) -> list[str]:
    """Save the model with Spark ML persistence under `path/sparkml`."""
    import pyspark
    from pyspark.ml import PipelineModel, Transformer

    if not isinstance(obj, Transformer):
        raise InvalidParameter(
            f"The spark flavor saves fitted Spark ML models (Transformer or PipelineModel), not "
            f"a {type(obj).__name__}: fit the estimator first."
        )
    model = obj if isinstance(obj, PipelineModel) else PipelineModel([obj])
    session()  # Spark ML writers need a session
    # A file: URI so that a cluster whose default file system is HDFS still writes locally.
    model.write().save((path / DATA_DIR).resolve().as_uri())
    code = copy_code_paths(code_paths, path)
    mlmodel.add_flavor(
        NAME,
        pyspark_version=pyspark.__version__,
        model_data=DATA_DIR,
        code=code,
        model_class=f"{type(model).__module__}.{type(model).__qualname__}",
    )
    mlmodel.add_flavor(
        PYFUNC_FLAVOR,
        loader_module=LOADER_MODULES[0],
        data=DATA_DIR,
        code=code,
        python_version=python_version(),
        env={"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
    )
    return [f"pyspark=={pyspark.__version__}"]


def session() -> Any:
    """The active Spark session, else a small local one (as MLflow does to load a model)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )


def load_native(model_dir: Path, mlmodel: Model) -> Any:
    """The `PipelineModel`."""
    from pyspark.ml import PipelineModel

    conf = mlmodel.flavors.get(NAME) or {"model_data": (mlmodel.pyfunc_conf or {}).get("data")}
    add_code_to_path(model_dir, conf)
    data = model_dir / (conf.get("model_data") or DATA_DIR)
    if not data.is_dir():
        raise InvalidParameter(f"No Spark ML model at {data}: the model directory is incomplete.")
    session()
    return PipelineModel.load(data.resolve().as_uri())


class Predictor:
    """MLflow's pyfunc behaviour: a pandas DataFrame in, the `prediction` column out as a list."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        if not isinstance(model_input, pd.DataFrame):
            raise InvalidParameter(
                f"A Spark ML model takes a pandas DataFrame, not a {type(model_input).__name__}."
            )
        spark_df = session().createDataFrame(model_input)
        out = self.model.transform(spark_df)
        if PREDICTION_COLUMN not in out.columns:
            raise InvalidParameter(
                f"The Spark model's output has no {PREDICTION_COLUMN!r} column (it has "
                f"{', '.join(out.columns)}): set its predictionCol to {PREDICTION_COLUMN!r}."
            )
        rows = out.select(PREDICTION_COLUMN).collect()
        return [_plain(row[0]) for row in rows]

    def unwrap(self) -> Any:
        return self.model


def _plain(value: Any) -> Any:
    to_array = getattr(value, "toArray", None)  # ML vectors
    return to_array().tolist() if to_array is not None else value


def load_predictor(model_dir: Path, mlmodel: Model) -> Predictor:
    return Predictor(load_native(model_dir, mlmodel))
