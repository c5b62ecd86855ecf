"""Signature enforcement at predict time: shape the input as the model expects, or say why not.

Conversions are the safe ones only: integers to wider integers or to floats, integral floats
to integers, floats between precisions (JSON has no float32), ISO strings to datetimes, base64
text to bytes. Anything else is a `SchemaError` naming the column and the type it needs.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
import pandas as pd

from notebook_tracker.errors import SchemaError
from notebook_tracker.models.signature import (
    DATA_TYPES,
    ColSpec,
    ModelSignature,
    ParamSchema,
    Schema,
    TensorSpec,
)


def enforce_input(data: Any, schema: Schema | None) -> Any:
    """`data` converted to what `schema` describes (a DataFrame, an array or dict of arrays)."""
    if schema is None or not schema.inputs:
        return data
    if schema.is_tensor:
        return _enforce_tensors(data, schema)
    return _enforce_columns(to_frame(data, schema), schema)


# -- columns ----------------------------------------------------------------------------------


def to_frame(data: Any, schema: Schema) -> pd.DataFrame:
    """Any accepted input as a DataFrame whose columns can be matched against `schema`."""
    if isinstance(data, pd.DataFrame):
        return data
    names = schema.names()
    if isinstance(data, pd.Series):
        name = names[0] if len(schema.inputs) == 1 and names else data.name
        return data.to_frame(name=name if name is not None else 0)
    if isinstance(data, dict):
        if all(not isinstance(v, (list, tuple, np.ndarray, pd.Series)) for v in data.values()):
            return pd.DataFrame({k: [v] for k, v in data.items()})
        return pd.DataFrame(data)
    if isinstance(data, (list, tuple)) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(list(data))
    if isinstance(data, (list, tuple, np.ndarray)):
        array = np.asarray(data, dtype=object) if isinstance(data, (list, tuple)) else data
        if array.ndim == 1:
            array = array.reshape(-1, 1) if len(schema.inputs) == 1 else array.reshape(1, -1)
        if array.ndim != 2:
            raise SchemaError(
                f"Expected rows of {len(schema.inputs)} column(s), got an array of shape "
                f"{array.shape}."
            )
        if array.shape[1] != len(schema.inputs):
            raise SchemaError(
                f"Expected {len(schema.inputs)} column(s) "
                f"{'(' + ', '.join(names) + ') ' if names else ''}per row, got {array.shape[1]}."
            )
        frame = pd.DataFrame(array, columns=names or None)
        return frame.infer_objects() if array.dtype == object else frame
    raise SchemaError(
        f"Cannot read {type(data).__name__} as model input: give a DataFrame, a dict of "
        "columns, a list of records or a 2-D array."
    )


def _enforce_columns(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    specs: list[ColSpec] = list(schema.inputs)  # type: ignore[arg-type]
    if schema.has_names:
        columns = list(frame.columns)
        if any(not isinstance(c, str) for c in columns):
            frame = frame.rename(columns=str)
            columns = list(frame.columns)
        present = set(columns)
        missing = [s.name for s in specs if s.required and s.name not in present]
        if missing:
            extra = sorted(present - set(schema.names()))
            hint = f" Note that there were extra inputs: {extra}." if extra else ""
            raise SchemaError(f"Model is missing inputs {missing}.{hint}")
        specs = [s for s in specs if s.name in present]
        wanted = [s.name for s in specs]
        if columns != wanted:
            frame = frame[wanted]
    elif frame.shape[1] != len(specs):
        raise SchemaError(
            f"The model expects {len(specs)} unnamed column(s), got {frame.shape[1]}."
        )
    dtypes = list(frame.dtypes)
    converted: dict[int, Any] = {}
    for index, spec in enumerate(specs):
        if _FINAL_DTYPES.get(spec.type) == dtypes[index]:
            continue  # already the declared type: nothing to check
        column = frame.iloc[:, index]
        label = spec.name if spec.name is not None else f"#{index}"
        new = convert_column(column, spec, label)
        if new is not column:
            converted[index] = new
    if not converted:
        return frame
    frame = frame.copy(deep=False)
    for index, values in converted.items():
        frame.isetitem(index, values)
    return frame


# Types whose dtype alone proves the column is right (no per-value check needed).
_FINAL_DTYPES = {
    name: np.dtype(DATA_TYPES[name])
    for name in ("boolean", "integer", "long", "float", "double", "datetime")
}


# One branch per MLflow column type, in the order of MLflow's DataType.
def convert_column(column: pd.Series, spec: ColSpec, label: str) -> pd.Series:  # noqa: C901
    """`column` as `spec.type`, the same object when nothing needs changing."""
    if spec.type in ("array", "object", "map", "any"):
        return column
    kind = column.dtype.kind
    target = spec.type
    if target == "double" or target == "float":
        dtype = DATA_TYPES[target]
        if kind == "f":
            return column if column.dtype == dtype else column.astype(dtype)
        if kind in ("i", "u"):
            return column.astype(dtype)
        if kind == "O":
            return _numeric_objects(column, dtype, label, target)
        raise _mismatch(label, target, column)
    if target == "long" or target == "integer":
        int_dtype = np.dtype(DATA_TYPES[target])
        if kind in ("i", "u"):
            if column.dtype == int_dtype:
                return column
            _check_range(column, int_dtype, label, target)
            return column.astype(int_dtype)
        if kind == "f":
            return _integral_floats(column, int_dtype, label, target)
        if kind == "O":
            return _numeric_objects(column, int_dtype, label, target)
        raise _mismatch(label, target, column)
    if target == "boolean":
        if kind == "b":
            return column
        if kind == "O" and all(isinstance(v, (bool, np.bool_)) for v in column):
            return column.astype(bool)
        raise _mismatch(label, target, column)
    if target == "string":
        if kind in ("O", "U") or str(column.dtype) in ("string", "str"):
            bad = _first(column, lambda v: not isinstance(v, str) and not _is_missing(v))
            if bad is None:
                return column
        raise _mismatch(label, target, column)
    if target == "binary":
        return _binary(column, label)
    if target == "datetime":
        if kind == "M":
            return column
        if kind == "O" or str(column.dtype) in ("string", "str"):
            try:
                return pd.to_datetime(column)
            except (ValueError, TypeError) as exc:
                raise SchemaError(
                    f"Column {label!r} must be datetime: {exc}. Send ISO 8601 text such "
                    "as '2024-05-01T12:00:00'."
                ) from None
        raise _mismatch(label, target, column)
    return column


def _first(column: pd.Series, predicate: Any) -> Any:
    for value in column:
        if predicate(value):
            return (value,)
    return None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _mismatch(label: str, target: str, column: pd.Series) -> SchemaError:
    found = _describe(column)
    return SchemaError(
        f"Column {label!r} must be {target}, got {found}. Send {target} values "
        f"({_example(target)}) for {label!r}."
    )


def _describe(column: pd.Series) -> str:
    kind = column.dtype.kind
    if kind != "O":
        return f"{column.dtype} values"
    odd = _first(column, lambda v: not _is_missing(v))
    if odd is None:
        return "only missing values"
    return f"{type(odd[0]).__name__} values (e.g. {odd[0]!r})"


def _example(target: str) -> str:
    return {
        "double": "numbers such as 1.5",
        "float": "numbers such as 1.5",
        "long": "whole numbers such as 3",
        "integer": "whole numbers such as 3",
        "boolean": "true or false",
        "string": "text",
        "binary": "base64 text",
        "datetime": "ISO 8601 text",
    }.get(target, target)


def _check_range(column: pd.Series, dtype: np.dtype, label: str, target: str) -> None:
    info = np.iinfo(dtype)
    if len(column) and (column.min() < info.min or column.max() > info.max):
        raise SchemaError(
            f"Column {label!r} must be {target} ({dtype}), but its values run from "
            f"{column.min()} to {column.max()}, outside [{info.min}, {info.max}]."
        )


def _integral_floats(column: pd.Series, dtype: np.dtype, label: str, target: str) -> pd.Series:
    values = column.to_numpy()
    if np.isnan(values).any():
        raise SchemaError(
            f"Column {label!r} must be {target}, but it has missing values: integer columns "
            "cannot hold NaN (declare the column as double if it may be missing)."
        )
    if not np.all(np.isfinite(values)) or not np.all(np.floor(values) == values):
        bad = values[~(np.isfinite(values) & (np.floor(values) == values))][0].item()
        raise SchemaError(
            f"Column {label!r} must be {target}, got the non-integer value {bad!r}: a "
            "conversion would lose information."
        )
    converted = column.astype(dtype)
    _check_range(column, dtype, label, target)
    return converted


def _numeric_objects(column: pd.Series, dtype: Any, label: str, target: str) -> pd.Series:
    floating = np.dtype(dtype).kind == "f"
    for value in column:
        if isinstance(value, (bool, np.bool_)) or not (
            isinstance(value, (int, float, np.integer, np.floating)) or (floating and value is None)
        ):
            raise _mismatch(label, target, pd.Series([value], dtype=object))
    numeric = pd.to_numeric(column)
    if floating:
        return numeric.astype(dtype)
    if numeric.dtype.kind == "f":
        return _integral_floats(numeric, np.dtype(dtype), label, target)
    _check_range(numeric, np.dtype(dtype), label, target)
    return numeric.astype(dtype)


def _binary(column: pd.Series, label: str) -> pd.Series:
    out = []
    changed = False
    for value in column:
        if isinstance(value, (bytes, bytearray)):
            out.append(bytes(value))
        elif isinstance(value, str):
            try:
                out.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                raise SchemaError(
                    f"Column {label!r} must be binary: send bytes as base64 text, got {value!r}."
                ) from None
            changed = True
        else:
            raise _mismatch(label, "binary", pd.Series([value], dtype=object))
    return pd.Series(out, index=column.index, name=column.name, dtype=object) if changed else column


# -- tensors ----------------------------------------------------------------------------------


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    specs: list[TensorSpec] = list(schema.inputs)  # type: ignore[arg-type]
    if schema.has_names:
        if isinstance(data, pd.DataFrame):
            data = {c: data[c].to_numpy() for c in data.columns}
        if not isinstance(data, dict):
            raise SchemaError(
                f"The model expects named tensors {schema.names()}: send a JSON object "
                "mapping each name to an array (inputs: {...})."
            )
        missing = [s.name for s in specs if s.name not in data]
        if missing:
            raise SchemaError(f"Model is missing inputs {missing}.")
        return {s.name: _tensor(data[s.name], s, str(s.name)) for s in specs}
    if len(specs) != 1:
        raise SchemaError("A schema of several unnamed tensors cannot be enforced.")
    if isinstance(data, (pd.DataFrame, pd.Series)):
        data = data.to_numpy()
    return _tensor(data, specs[0], "input")


def _tensor(value: Any, spec: TensorSpec, label: str) -> np.ndarray:
    dtype = np.dtype(spec.dtype)
    try:
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
    except ValueError as exc:
        raise SchemaError(f"Tensor {label!r} is ragged or malformed: {exc}.") from None
    if array.dtype != dtype:
        array = _cast_tensor(array, dtype, label)
    shape = spec.shape
    if shape:
        if array.ndim != len(shape) or any(
            want != -1 and want != got for want, got in zip(shape, array.shape, strict=True)
        ):
            raise SchemaError(
                f"Tensor {label!r} must have shape {tuple(shape)} (-1 = any), got {array.shape}."
            )
    return array


def _cast_tensor(array: np.ndarray, dtype: np.dtype, label: str) -> np.ndarray:
    src = array.dtype
    if src.kind == "O":
        try:
            array = array.astype(dtype)
        except (ValueError, TypeError):
            raise SchemaError(f"Tensor {label!r} must be {dtype}, got mixed values.") from None
        return array
    if dtype.kind == "f" and src.kind in ("i", "u", "f"):
        return array.astype(dtype)
    if dtype.kind in ("i", "u") and src.kind in ("i", "u", "b") and np.can_cast(src, dtype):
        return array.astype(dtype)
    if dtype.kind in ("i", "u") and src.kind == "f":
        if np.all(np.isfinite(array)) and np.all(np.floor(array) == array):
            return array.astype(dtype)
        raise SchemaError(
            f"Tensor {label!r} must be {dtype}, got non-integer values: a conversion would "
            "lose information."
        )
    if dtype == src or np.can_cast(src, dtype, casting="safe"):
        return array.astype(dtype)
    raise SchemaError(f"Tensor {label!r} must be {dtype}, got {src}.")


# -- params -----------------------------------------------------------------------------------


def enforce_params(
    params: dict[str, Any] | None, schema: ParamSchema | None
) -> dict[str, Any] | None:
    """Params with defaults filled and values converted; unknown names are dropped."""
    if schema is None:
        return params or None
    given = dict(params or {})
    out: dict[str, Any] = {}
    for spec in schema.params:
        if spec.name in given:
            out[spec.name] = _param_value(given[spec.name], spec.type, spec.name, spec.shape)
        else:
            out[spec.name] = spec.default
    return out


def _param_value(value: Any, type_: str, name: str, shape: Any) -> Any:
    if shape is not None:
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise SchemaError(f"Param {name!r} must be a list of {type_}, got {value!r}.")
        return [_param_value(v, type_, name, None) for v in value]
    ok = {
        "boolean": lambda v: isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
    }.get(type_)
    if ok is None or ok(value):
        return float(value) if type_ in ("double", "float") else value
    if type_ in ("long", "integer") and isinstance(value, float) and value.is_integer():
        return int(value)
    raise SchemaError(f"Param {name!r} must be {type_}, got {value!r}.")


def enforce(
    data: Any, params: dict[str, Any] | None, signature: ModelSignature | None
) -> tuple[Any, dict[str, Any] | None]:
    if signature is None:
        return data, params
    return enforce_input(data, signature.inputs), enforce_params(params, signature.params)
