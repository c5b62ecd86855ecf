"""`nt.pyfunc`: generic models, by MLflow's names (`load_model`, `PythonModel`, `spark_udf`)."""

from __future__ import annotations

from notebook_tracker.models.api import load_model, log_model, save_model
from notebook_tracker.models.flavors.pyfunc import PythonModel, PythonModelContext
from notebook_tracker.models.spark_udf import spark_udf

__all__ = [
    "PythonModel",
    "PythonModelContext",
    "load_model",
    "log_model",
    "save_model",
    "spark_udf",
]
