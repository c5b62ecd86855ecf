"""`nt.spark`: the `spark` flavor (Spark MLlib models through Spark ML persistence).

No autologging yet; `nt.pyfunc.spark_udf` scores any logged model on a Spark DataFrame.
"""

from __future__ import annotations

import os
from typing import Any

from notebook_tracker.frameworks import flavor_api

FLAVOR = "spark"


def save_model(spark_model: Any, path: str | os.PathLike[str], **options: Any) -> Any:
    """Save a fitted Spark ML model (a `PipelineModel`, or a transformer, which is wrapped in
    one as MLflow does) under `path/sparkml`."""
    return flavor_api.save_model(FLAVOR, spark_model, path, **options)


def log_model(spark_model: Any, name: str | None = "model", **options: Any) -> Any:
    """Log a fitted Spark ML model into the active run."""
    return flavor_api.log_model(FLAVOR, spark_model, name, **options)


def load_model(
    model_uri: str | os.PathLike[str], dst_path: str | os.PathLike[str] | None = None
) -> Any:
    """The `PipelineModel` (uses the active Spark session, else starts a local one)."""
    return flavor_api.load_model(FLAVOR, model_uri, dst_path)
