"""Signatures: inferred from examples in MLflow's JSON format, enforced with safe conversions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from notebook_tracker.errors import SchemaError
from notebook_tracker.models.enforce import enforce, enforce_input, enforce_params
from notebook_tracker.models.signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
    infer_signature,
)


def cols(**types: str) -> Schema:
    return Schema(tuple(ColSpec(t, n) for n, t in types.items()))


def test_dataframe_columns_are_inferred_with_mlflow_type_names():
    frame = pd.DataFrame(
        {
            "x": [1.0],
            "n": [1],
            "i32": np.array([1], dtype="int32"),
            "f32": np.array([1.0], dtype="float32"),
            "s": ["a"],
            "b": [True],
            "t": pd.to_datetime(["2024-01-01"]),
            "raw": [b"\x00"],
        }
    )
    sig = infer_signature(frame, np.array([1.0]), params={"k": 3, "mode": "fast"})
    inputs = json.loads(sig.to_dict()["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [
        ("x", "double"),
        ("n", "long"),
        ("i32", "integer"),
        ("f32", "float"),
        ("s", "string"),
        ("b", "boolean"),
        ("t", "datetime"),
        ("raw", "binary"),
    ]
    assert all(c["required"] for c in inputs)
    assert json.loads(sig.to_dict()["outputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}
    ]
    assert json.loads(sig.to_dict()["params"]) == [
        {"name": "k", "default": 3, "shape": None, "type": "long"},
        {"name": "mode", "default": "fast", "shape": None, "type": "string"},
    ]


def test_numpy_arrays_become_tensor_specs_with_a_free_first_dimension():
    sig = infer_signature(np.zeros((3, 4), dtype="float32"))
    assert json.loads(sig.to_dict()["inputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}
    ]


def test_records_and_column_dicts_are_read_as_tables():
    by_records = infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    by_columns = infer_signature({"a": [1, 2], "b": ["x", "y"]})
    assert by_records.inputs == by_columns.inputs == cols(a="long", b="string")


def test_a_signature_survives_its_json_round_trip_including_mlflow_written_ones():
    mlflow_written = {
        "inputs": '[{"type": "double", "name": "x", "required": true}, '
        '{"type": "array", "items": {"type": "long"}, "name": "seq", "required": false}]',
        "outputs": '[{"type": "double", "required": true}]',
        "params": '[{"name": "k", "default": 1, "shape": null, "type": "long"}]',
    }
    sig = ModelSignature.from_dict(mlflow_written)
    assert sig.inputs.inputs[1].required is False
    again = ModelSignature.from_dict(sig.to_dict())
    assert again == sig
    assert json.loads(again.to_dict()["inputs"]) == json.loads(mlflow_written["inputs"])


def test_a_column_mixing_types_is_refused_with_its_name():
    with pytest.raises(Exception, match="'mixed'.*mixes"):
        infer_signature(pd.DataFrame({"mixed": [1, "a"]}))


def test_missing_column_is_named_in_the_error():
    with pytest.raises(SchemaError, match=r"missing inputs \['n'\]"):
        enforce_input(pd.DataFrame({"x": [1.0]}), cols(x="double", n="long"))


def test_extra_columns_are_dropped_and_columns_put_in_signature_order():
    frame = pd.DataFrame({"extra": [9], "n": [1], "x": [1.5]})
    out = enforce_input(frame, cols(x="double", n="long"))
    assert list(out.columns) == ["x", "n"]


def test_integers_widen_to_floats_and_integral_floats_narrow_to_integers():
    out = enforce_input(pd.DataFrame({"x": [1, 2], "n": [3.0, 4.0]}), cols(x="double", n="long"))
    assert out["x"].dtype == np.float64 and out["n"].dtype == np.int64
    assert out["n"].tolist() == [3, 4]


def test_a_fractional_float_for_an_integer_column_is_refused():
    with pytest.raises(SchemaError, match="'n' must be long.*1.5"):
        enforce_input(pd.DataFrame({"n": [1.5]}), cols(n="long"))


def test_missing_values_in_an_integer_column_are_refused_with_advice():
    with pytest.raises(SchemaError, match="'n'.*missing values.*double"):
        enforce_input(pd.DataFrame({"n": [1.0, None]}), cols(n="long"))


def test_text_for_a_number_column_names_the_column_and_expected_type():
    with pytest.raises(SchemaError) as info:
        enforce_input(pd.DataFrame({"x": ["abc"]}), cols(x="double"))
    assert "'x' must be double" in info.value.message
    assert "'abc'" in info.value.message
    assert info.value.http_status == 400


def test_booleans_are_not_taken_for_numbers():
    with pytest.raises(SchemaError, match="'x' must be double, got bool"):
        enforce_input(pd.DataFrame({"x": [True]}), cols(x="double"))


def test_integer_values_outside_int32_are_refused_for_an_integer_column():
    with pytest.raises(SchemaError, match="outside"):
        enforce_input(pd.DataFrame({"i": [2**40]}), cols(i="integer"))


def test_iso_text_becomes_datetimes_and_base64_becomes_bytes():
    out = enforce_input(
        pd.DataFrame({"t": ["2024-05-01T12:00:00"], "b": ["AAE="]}),
        cols(t="datetime", b="binary"),
    )
    assert out["t"].dtype.kind == "M"
    assert out["b"].tolist() == [b"\x00\x01"]


def test_rows_without_names_are_matched_to_columns_by_position():
    out = enforce_input([[1, 2.5]], cols(n="long", x="double"))
    assert list(out.columns) == ["n", "x"] and out["x"].tolist() == [2.5]


def test_tensors_are_cast_safely_and_shape_checked():
    schema = Schema((TensorSpec("float32", (-1, 2)),))
    out = enforce_input([[1, 2], [3, 4]], schema)
    assert out.dtype == np.float32 and out.shape == (2, 2)
    with pytest.raises(SchemaError, match=r"shape \(-1, 2\)"):
        enforce_input([[1, 2, 3]], schema)
    with pytest.raises(SchemaError, match="int64.*non-integer"):
        enforce_input(np.array([[0.5, 1.0]]), Schema((TensorSpec("int64", (-1, 2)),)))


def test_params_get_defaults_conversions_and_unknown_ones_dropped():
    schema = ParamSchema((ParamSpec("k", "long", 1), ParamSpec("t", "double", 0.5)))
    assert enforce_params(None, schema) == {"k": 1, "t": 0.5}
    assert enforce_params({"k": 3.0, "t": 2, "other": 1}, schema) == {"k": 3, "t": 2.0}
    with pytest.raises(SchemaError, match="Param 'k' must be long"):
        enforce_params({"k": "three"}, schema)


def test_inputs_without_signature_pass_through_untouched():
    frame = pd.DataFrame({"x": ["anything"]})
    data, params = enforce(frame, {"p": 1}, None)
    assert data is frame and params == {"p": 1}
