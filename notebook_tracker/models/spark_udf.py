"""`nt.pyfunc.spark_udf`: any logged model as a Spark UDF that scores a DataFrame.

The model directory is zipped once on the driver and shipped with `SparkContext.addFile`;
each Python worker unzips and loads it on its first batch and keeps it for the next ones
(Spark reuses Python workers), so a model crosses the network once per executor, not per task.
Batches arrive as pandas Series (Arrow), go through the model's signature and `predict`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import typing
import zipfile
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter

_loaded: dict[str, Any] = {}  # archive name -> model, per Python worker process
_lock = threading.Lock()


class SparkModelUdf:
    """What `spark_udf` returns: call it with columns (names or `Column`s), or with none to
    pass the columns the model's signature names."""

    def __init__(self, udf: Any, input_names: list[str] | None) -> None:
        self.udf = udf
        self.input_names = input_names

    def __call__(self, *columns: Any) -> Any:
        if not columns:
            if not self.input_names:
                raise InvalidParameter(
                    "This model has no signature naming its inputs: call the UDF with the "
                    "columns to score, e.g. udf('a', 'b')."
                )
            columns = tuple(self.input_names)
        return self.udf(*columns)


def spark_udf(
    spark: Any,
    model_uri: str | os.PathLike[str],
    result_type: Any = "double",
    env_manager: str | None = None,
    params: dict[str, Any] | None = None,
) -> SparkModelUdf:
    """A UDF scoring with the model at `model_uri`.

    `result_type`: a Spark type or its DDL string (`"double"`, `"long"`, `"string"`,
    `"array<double>"`, ...); a model returning several columns gives its first column, or
    every column per row for an array type. `env_manager`: only `"local"` (this Python
    environment, which the executors share) is supported.
    """
    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, DataType

    from notebook_tracker.models.mlmodel import Model
    from notebook_tracker.models.uris import download_model

    if env_manager not in (None, "local"):
        raise InvalidParameter(
            f"spark_udf's env_manager={env_manager!r} is not supported: executors use the "
            "driver's Python environment (env_manager='local')."
        )
    return_type = result_type
    if not isinstance(result_type, DataType):
        return_type = _spark_type(spark, result_type)
    model_dir = download_model(os.fspath(model_uri), None, None)
    signature = Model.load(model_dir).signature
    names = signature.inputs.names() if signature is not None and signature.inputs else None
    archive = _archive(model_dir)
    spark.sparkContext.addFile(archive)
    archive_name = os.path.basename(archive)
    as_array = isinstance(return_type, ArrayType)

    def predict(batches: Any) -> Any:
        model = _model_on_worker(archive_name)
        for batch in batches:
            yield _as_series(model.predict(_frame(batch, names), params), as_array)

    # pandas_udf reads the kind of UDF from real (not string) hints: several columns in,
    # one Series out, batch after batch.
    predict.__annotations__ = {
        "batches": typing.Iterator[typing.Tuple[pd.Series, ...]],  # noqa: UP006
        "return": typing.Iterator[pd.Series],
    }

    return SparkModelUdf(pandas_udf(predict, returnType=return_type), names)  # type: ignore[call-overload]


def _spark_type(spark: Any, text: Any) -> Any:
    from pyspark.sql.types import _parse_datatype_string

    if not isinstance(text, str):
        raise InvalidParameter(
            f"result_type must be a Spark DataType or a type string like 'double', not "
            f"{type(text).__name__}."
        )
    try:
        return _parse_datatype_string(text)
    except Exception as exc:
        raise InvalidParameter(
            f"result_type {text!r} is not a Spark type: use e.g. 'double', 'long', 'string' "
            f"or 'array<double>' ({exc})."
        ) from None


def _archive(model_dir: Path) -> str:
    folder = tempfile.mkdtemp(prefix="nt-spark-udf-")
    base = os.path.join(folder, f"model-{os.urandom(6).hex()}")
    return shutil.make_archive(base, "zip", model_dir)


def _model_on_worker(archive_name: str) -> Any:
    with _lock:
        model = _loaded.get(archive_name)
        if model is None:
            from pyspark import SparkFiles

            from notebook_tracker.models.pyfunc_model import load_pyfunc_from_dir

            target = Path(tempfile.mkdtemp(prefix="nt-spark-model-"))
            with zipfile.ZipFile(SparkFiles.get(archive_name)) as zf:
                zf.extractall(target)
            model = _loaded[archive_name] = load_pyfunc_from_dir(target)
        return model


def _frame(batch: Any, names: list[str] | None) -> Any:
    import pandas as pd

    parts = list(batch) if isinstance(batch, tuple) else [batch]
    if len(parts) == 1 and isinstance(parts[0], pd.DataFrame):  # a struct column
        return parts[0]
    columns = names if names and len(names) == len(parts) else list(range(len(parts)))
    return pd.DataFrame(
        {name: part.reset_index(drop=True) for name, part in zip(columns, parts, strict=True)}
    )


def _as_series(predictions: Any, as_array: bool) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        predictions = predictions.to_numpy()
    if isinstance(predictions, pd.Series):
        return predictions.reset_index(drop=True)
    values = np.asarray(predictions)
    if values.ndim == 2:
        return pd.Series(list(values)) if as_array else pd.Series(values[:, 0])
    return pd.Series(list(values) if as_array and values.ndim > 2 else values)
