"""Model signatures: what a model takes and returns, in MLflow's JSON signature format.

`{"inputs": "[{\"type\": \"double\", \"name\": \"x\", \"required\": true}]", "outputs": ...,
"params": ...}` — each part is a JSON *string* inside the MLmodel YAML. A schema is either
columns (ColSpec: a type, an optional name) or tensors (TensorSpec: a numpy dtype and a shape
with -1 for "any size"). Inference looks at an input example and a prediction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from notebook_tracker.errors import InvalidParameter

# MLflow's scalar type names -> numpy dtype names.
DATA_TYPES = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}
# Types whose values are checked structurally, not by dtype (kept from MLflow-written files).
COMPOUND_TYPES = ("array", "object", "map", "any")


@dataclass(frozen=True)
class ColSpec:
    """One column: `type` is a name from DATA_TYPES (or a compound type kept as `raw`)."""

    type: str
    name: str | None = None
    required: bool = True
    raw: dict[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        if self.raw is not None:
            return dict(self.raw)
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """A tensor input or output: numpy `dtype` name and `shape` (-1 = any length)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        out["type"] = "tensor"
        out["tensor-spec"] = {"dtype": self.dtype, "shape": list(self.shape)}
        return out


@dataclass(frozen=True)
class ParamSpec:
    """A named inference parameter with a type and a default (`shape` None for scalars)."""

    name: str
    type: str
    default: Any = None
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "default": self.default,
            "shape": list(self.shape) if self.shape is not None else None,
            "type": self.type,
        }


@dataclass(frozen=True)
class Schema:
    """Column specs or tensor specs, never a mix (as in MLflow)."""

    inputs: tuple[ColSpec | TensorSpec, ...]

    def __post_init__(self) -> None:
        kinds = {type(s) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidParameter("A schema holds either columns or tensors, not both.")
        names = [s.name for s in self.inputs]
        if any(n is not None for n in names) and any(n is None for n in names):
            raise InvalidParameter("In a schema either every entry is named or none is.")

    @property
    def is_tensor(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    @property
    def has_names(self) -> bool:
        return bool(self.inputs) and self.inputs[0].name is not None

    def names(self) -> list[str]:
        return [s.name for s in self.inputs if s.name is not None]

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.inputs])

    @classmethod
    def from_json(cls, text: str | list[Any]) -> Schema:
        items = json.loads(text) if isinstance(text, str) else text
        if not isinstance(items, list):
            raise InvalidParameter(f"A schema is a JSON list of specs, got {text!r}.")
        return cls(tuple(_spec_from_dict(item) for item in items))


@dataclass(frozen=True)
class ParamSchema:
    params: tuple[ParamSpec, ...]

    def to_json(self) -> str:
        return json.dumps([p.to_dict() for p in self.params])

    @classmethod
    def from_json(cls, text: str | list[Any]) -> ParamSchema:
        items = json.loads(text) if isinstance(text, str) else text
        specs = []
        for item in items:
            shape = item.get("shape")
            specs.append(
                ParamSpec(
                    item["name"],
                    item.get("type", "string"),
                    item.get("default"),
                    tuple(shape) if shape is not None else None,
                )
            )
        return cls(tuple(specs))


@dataclass(frozen=True)
class ModelSignature:
    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": self.params.to_json() if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        try:
            inputs = Schema.from_json(data["inputs"]) if data.get("inputs") else None
            outputs = Schema.from_json(data["outputs"]) if data.get("outputs") else None
            params = ParamSchema.from_json(data["params"]) if data.get("params") else None
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidParameter(f"Invalid model signature {data!r}: {exc}") from None
        return cls(inputs, outputs, params)


def _spec_from_dict(item: dict[str, Any]) -> ColSpec | TensorSpec:
    if not isinstance(item, dict) or "type" not in item:
        raise InvalidParameter(f"Invalid schema entry {item!r}: expected an object with 'type'.")
    kind = item["type"]
    if kind == "tensor":
        spec = item.get("tensor-spec") or {}
        return TensorSpec(str(spec.get("dtype")), tuple(spec.get("shape") or ()), item.get("name"))
    required = bool(item.get("required", True))
    if kind in DATA_TYPES:
        return ColSpec(kind, item.get("name"), required)
    if kind in COMPOUND_TYPES:
        return ColSpec(kind, item.get("name"), required, raw=dict(item))
    raise InvalidParameter(
        f"Unknown column type {kind!r} in schema entry {item!r}: expected one of "
        f"{', '.join([*DATA_TYPES, *COMPOUND_TYPES])} or tensor."
    )


# -- inference --------------------------------------------------------------------------------


def infer_signature(
    model_input: Any = None, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """A signature from an input example, what the model predicted for it, and its params."""
    inputs = infer_schema(model_input) if model_input is not None else None
    outputs = infer_schema(model_output) if model_output is not None else None
    param_schema = infer_param_schema(params) if params else None
    return ModelSignature(inputs, outputs, param_schema)


def infer_schema(data: Any) -> Schema:
    """Columns for frames, series, dicts and lists of records; tensors for numpy arrays."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return Schema(tuple(ColSpec(column_type(data[c], str(c)), str(c)) for c in data.columns))
    if isinstance(data, pd.Series):
        name = str(data.name) if data.name is not None else None
        return Schema((ColSpec(column_type(data, name or "0"), name),))
    if isinstance(data, np.ndarray):
        return Schema((_tensor_spec(data),))
    if isinstance(data, dict):
        if data and all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema(tuple(_tensor_spec(v, str(k)) for k, v in data.items()))
        return infer_schema(pd.DataFrame(_as_columns(data)))
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(r, dict) for r in data):
            return infer_schema(pd.DataFrame.from_records(list(data)))
        if data and all(isinstance(r, (list, tuple)) for r in data):
            return infer_schema(np.asarray(data))
        return infer_schema(pd.Series(list(data)))
    if isinstance(data, (bool, int, float, str, bytes, np.generic)):
        return infer_schema(pd.Series([data]))
    raise InvalidParameter(
        f"Cannot infer a schema from {type(data).__name__}: give a pandas DataFrame or Series, "
        "a numpy array, a dict of columns or a list of records, or pass signature= yourself."
    )


def _as_columns(data: dict[str, Any]) -> dict[str, Any]:
    # A dict of scalars is one row; a dict of lists is columns.
    if all(not isinstance(v, (list, tuple)) for v in data.values()):
        return {k: [v] for k, v in data.items()}
    return data


def _tensor_spec(array: Any, name: str | None = None) -> TensorSpec:
    if array.dtype.kind == "O":
        raise InvalidParameter(
            f"Cannot describe an object-dtype array{f' {name!r}' if name else ''} as a tensor: "
            "convert it to a numeric dtype or a DataFrame."
        )
    shape = (-1, *array.shape[1:]) if array.ndim >= 1 else ()
    return TensorSpec(array.dtype.name, tuple(shape), name)


def column_type(series: Any, name: str) -> str:
    """MLflow's type name for a pandas column."""
    import numpy as np

    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in ("i", "u"):
        return "integer" if dtype.itemsize < 4 or (kind == "i" and dtype.itemsize == 4) else "long"
    if kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    if str(dtype) in ("string", "str") or kind in ("U", "S"):
        return "string" if kind != "S" else "binary"
    values = series.dropna()
    if len(values) == 0:
        raise InvalidParameter(
            f"Cannot infer the type of column {name!r}: it holds no values. "
            "Give an example with values, or pass signature= yourself."
        )
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(isinstance(v, (bytes, bytearray)) for v in values):
        return "binary"
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return "boolean"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return "long"
    if all(isinstance(v, (int, float, np.number)) for v in values):
        return "double"
    kinds = sorted({type(v).__name__ for v in values})
    raise InvalidParameter(
        f"Cannot infer the type of column {name!r}: it mixes {', '.join(kinds)}. "
        "Make the column one type, or pass signature= yourself."
    )


def infer_param_schema(params: dict[str, Any]) -> ParamSchema:
    specs = []
    for name, default in params.items():
        specs.append(_param_spec(name, default))
    return ParamSchema(tuple(specs))


def _param_spec(name: str, value: Any) -> ParamSpec:
    import datetime as _dt

    import numpy as np

    if isinstance(value, np.ndarray):
        return ParamSpec(
            name,
            _scalar_type(value.flat[0] if value.size else 0.0, name),
            value.tolist(),
            (-1,) * value.ndim,
        )
    if isinstance(value, list):
        inner = _scalar_type(value[0], name) if value else "string"
        return ParamSpec(name, inner, value, (-1,))
    if isinstance(value, _dt.datetime):
        return ParamSpec(name, "datetime", value.isoformat())
    return ParamSpec(name, _scalar_type(value, name), value)


def _scalar_type(value: Any, name: str) -> str:
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, (int, np.integer)):
        return "long"
    if isinstance(value, (float, np.floating)):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "binary"
    raise InvalidParameter(
        f"Cannot infer the type of param {name!r} from {type(value).__name__}: params are "
        "bool, int, float, str, bytes, datetime or lists of those."
    )
