"""Spark MLlib: the `spark` flavor both ways with MLflow, and `nt.pyfunc.spark_udf` for any
logged model. One local Spark session (local[1], no UI) serves the whole test session; it is
started in the background early in the run (warm_start.py)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from warm_start import WarmStart

pytest.importorskip("pyspark")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip(
        "Spark needs a Java runtime: apt-get install default-jre-headless", allow_module_level=True
    )

import notebook_tracker as nt  # noqa: E402
import notebook_tracker.models as ntm  # noqa: E402
from notebook_tracker.models.scoring.app import score  # noqa: E402

TRAIN = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
TRAIN["y"] = 2 * TRAIN["a"] + 3 * TRAIN["b"] + 1


def _start_spark():  # type: ignore[no-untyped-def]
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("notebook-tracker-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _fit_pipeline():  # type: ignore[no-untyped-def]
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression

    session = SPARK.result()  # the stages need the running session
    stages = [
        VectorAssembler(inputCols=["a", "b"], outputCol="features"),
        LinearRegression(featuresCol="features", labelCol="y", regParam=0.0),
    ]
    return Pipeline(stages=stages).fit(session.createDataFrame(TRAIN))


# Begun in the background early in the run (warm_start.py): the JVM's start and the fit
# overlap the tests before these.
SPARK = WarmStart("spark", _start_spark)
PIPELINE = WarmStart("pipeline", _fit_pipeline)
WARM_STARTS = [SPARK, PIPELINE]


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    session = SPARK.result()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def pipeline(spark):  # type: ignore[no-untyped-def]
    return PIPELINE.result()


def test_spark_pipeline_saves_in_mlflows_layout_and_predicts_as_python_function(tmp_path, pipeline):
    nt.spark.save_model(pipeline, tmp_path / "m", input_example=TRAIN[["a", "b"]].head(2))
    meta = ntm.Model.load(tmp_path / "m")
    assert meta.flavors["spark"]["model_data"] == "sparkml"
    assert meta.flavors["spark"]["model_class"] == "pyspark.ml.pipeline.PipelineModel"
    assert (tmp_path / "m" / "sparkml" / "metadata").is_dir()
    predictions = ntm.load_model(tmp_path / "m").predict(TRAIN[["a", "b"]])
    np.testing.assert_allclose(predictions, TRAIN["y"], atol=1e-6)
    native = nt.spark.load_model(tmp_path / "m")
    assert type(native).__name__ == "PipelineModel"


def test_spark_models_cross_to_and_from_mlflow_and_serve(tmp_path, pipeline):
    mlflow = pytest.importorskip("mlflow")
    nt.spark.save_model(pipeline, tmp_path / "ours")
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "ours"))
    np.testing.assert_allclose(theirs.predict(TRAIN[["a", "b"]]), TRAIN["y"], atol=1e-6)
    mlflow.spark.save_model(pipeline, str(tmp_path / "mlflow"), pip_requirements=["pyspark"])
    model = ntm.load_model(tmp_path / "mlflow")
    body = json.dumps({"dataframe_records": TRAIN[["a", "b"]].to_dict(orient="records")}).encode()
    status, answer = score(model, body, "application/json")
    assert status == 200, answer
    np.testing.assert_allclose(json.loads(answer)["predictions"], TRAIN["y"], atol=1e-6)


def test_a_single_fitted_transformer_is_wrapped_in_a_pipeline_as_mlflow_does(
    tmp_path, spark, pipeline
):
    nt.spark.save_model(pipeline.stages[1], tmp_path / "m")
    assert ntm.Model.load(tmp_path / "m").flavors["spark"]["model_class"].endswith("PipelineModel")


def test_spark_udf_scores_a_logged_sklearn_model_on_a_dataframe(tracking_uri, spark):
    from sklearn.linear_model import LinearRegression

    sk = LinearRegression().fit(TRAIN[["a", "b"]], TRAIN["y"])
    with nt.start_run():
        info = nt.models.log_model(sk, "model", input_example=TRAIN[["a", "b"]].head(2))
    frame = spark.createDataFrame(TRAIN[["a", "b"]])
    udf = nt.pyfunc.spark_udf(spark, info.model_uri, result_type="double")
    by_name = frame.withColumn("p", udf("a", "b")).toPandas()
    np.testing.assert_allclose(by_name["p"], TRAIN["y"], atol=1e-6)
    from_signature = frame.withColumn("p", udf()).toPandas()  # the signature names the columns
    np.testing.assert_allclose(from_signature["p"], TRAIN["y"], atol=1e-6)


def test_spark_udf_refuses_a_bad_result_type_and_env_manager(tracking_uri, spark, tmp_path):
    from sklearn.linear_model import LinearRegression

    ntm.save_model(LinearRegression().fit(TRAIN[["a"]], TRAIN["y"]), tmp_path / "m")
    with pytest.raises(nt.TrackerError, match="not a Spark type"):
        nt.pyfunc.spark_udf(spark, str(tmp_path / "m"), result_type="doubel<")
    with pytest.raises(nt.TrackerError, match="env_manager"):
        nt.pyfunc.spark_udf(spark, str(tmp_path / "m"), env_manager="conda")
