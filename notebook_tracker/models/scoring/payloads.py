"""The scoring protocol's payloads (MLflow-compatible): request bodies to model input, and
predictions to the `{"predictions": ...}` answer. No web framework here: the scoring server,
the Jupyter proxy and `notebook-tracker models predict` share it.

JSON bodies hold exactly one of `dataframe_split`, `dataframe_records`, `instances`, `inputs`,
plus optional `params`; CSV bodies have a header row.
"""

from __future__ import annotations

import functools
import io
import json
from typing import Any

from notebook_tracker.errors import PayloadError, UnsupportedMediaType

INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
PARQUET_TYPE = "application/vnd.apache.parquet"
CONTENT_TYPES = (CSV_TYPE, JSON_TYPE, PARQUET_TYPE)


def content_kind(content_type: str | None) -> str:
    """'json', 'csv' or 'parquet' for a Content-Type header; 415 for anything else."""
    if not content_type:
        return "json"
    media, *parameters = [part.strip() for part in content_type.split(";")]
    media = media.lower()
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() != "charset":
            raise UnsupportedMediaType(
                f"Unrecognized content type parameters: {parameter!r}. Only charset=utf-8 is "
                "accepted."
            )
        if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                f"Unsupported charset {value.strip()!r}: send the body as UTF-8."
            )
    kinds = {JSON_TYPE: "json", CSV_TYPE: "csv", PARQUET_TYPE: "parquet"}
    if media not in kinds:
        raise UnsupportedMediaType(
            "This predictor only supports the following content types: "
            f"{', '.join(CONTENT_TYPES)}. Got {media!r}."
        )
    return kinds[media]


def parse_body(body: bytes, content_type: str | None, schema: Any = None) -> tuple[Any, Any]:
    """(model input, params) from a request body."""
    kind = content_kind(content_type)
    if not body or not body.strip():
        raise PayloadError(
            "The request body is empty: send a JSON object such as "
            '{"dataframe_split": {"columns": [...], "data": [[...]]}} or CSV with a header row.'
        )
    if kind == "csv":
        return parse_csv(body), None
    if kind == "parquet":
        return parse_parquet(body), None
    return parse_json(body, schema)


def parse_json(body: bytes | str, schema: Any = None) -> tuple[Any, dict[str, Any] | None]:
    try:
        payload = json.loads(body)
    except RecursionError:
        raise PayloadError(
            "Invalid input: the JSON is nested too deeply to read. Send a flat payload such as "
            '{"dataframe_split": {"columns": [...], "data": [[...]]}}.'
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(
            f"Invalid input. Ensure that input is a valid JSON formatted string. Error: {exc}"
        ) from None
    if not isinstance(payload, dict):
        raise PayloadError(_keys_message(f"a JSON {type(payload).__name__}"))
    keys = [k for k in INPUT_KEYS if k in payload]
    if len(keys) != 1:
        raise PayloadError(_keys_message(f"input fields {sorted(payload)}"))
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise PayloadError(f"'params' must be a JSON object, got {type(params).__name__}.")
    key = keys[0]
    value = payload[key]
    # Booleans would silently become 0/1 in the fast numeric path; let pandas see them.
    if _has_columns(schema) and isinstance(body, bytes) and (b"true" in body or b"false" in body):
        schema = _NO_FAST_PATH
    if key == "dataframe_split":
        return _dataframe_split(value, schema), params
    if key == "dataframe_records":
        return _dataframe_records(value, schema), params
    return _tensor_or_columns(value, key, schema), params


def _keys_message(received: str) -> str:
    return (
        "The input must be a JSON dictionary with exactly one of the input fields "
        f"{{{', '.join(repr(k) for k in INPUT_KEYS)}}}. Received {received}. "
        'Example: {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}.'
    )


def _dataframe_split(value: Any, schema: Any = None) -> Any:
    import pandas as pd

    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise PayloadError(
            'dataframe_split must be an object {"columns": [...], "data": [[...], ...]} '
            '(optional "index").'
        )
    data = value["data"]
    columns = value.get("columns")
    if columns is not None and not isinstance(columns, list):
        raise PayloadError("dataframe_split 'columns' must be a list of names.")
    if data and not all(isinstance(row, list) for row in data):
        if columns is not None and len(columns) == 1:
            data = [[v] for v in data]
        else:
            raise PayloadError("dataframe_split 'data' must be a list of rows (lists).")
    if columns is not None and any(len(row) != len(columns) for row in data):
        raise PayloadError(
            f"dataframe_split has {len(columns)} columns but a row of another length."
        )
    index = value.get("index")
    if index is None and columns is not None and data and _has_columns(schema):
        fast = _numeric_frame(data, columns)
        if fast is not None:
            return fast
    try:
        return pd.DataFrame(data, columns=_index(columns), index=index)
    except (ValueError, TypeError) as exc:
        raise PayloadError(f"dataframe_split cannot form a table: {exc}") from None


class _NoFastPath:
    is_tensor = False


_NO_FAST_PATH = _NoFastPath()


def _has_columns(schema: Any) -> bool:
    return schema is not None and schema is not _NO_FAST_PATH and not schema.is_tensor


def _index(columns: list[Any] | None) -> Any:
    if columns is None:
        return None
    try:
        return _cached_index(tuple(columns))
    except TypeError:  # unhashable names: let pandas say what is wrong
        return columns


@functools.lru_cache(maxsize=64)
def _cached_index(columns: tuple[Any, ...]) -> Any:
    # Building an Index costs more than the whole frame of a small request: reuse it.
    import pandas as pd

    return pd.Index(list(columns), dtype=object)  # plain strings: cheaper to iterate


def _numeric_frame(rows: list[list[Any]], columns: list[Any]) -> Any:
    """All-number rows as one float/int block (much faster than pandas' row parser); None
    when any value is not a number, so that the general path reports it properly. Only used
    with a column signature, which then casts each column to its declared type."""
    import numpy as np
    import pandas as pd

    try:
        array = np.array(rows)
    except (ValueError, TypeError):
        return None
    if array.ndim != 2 or array.dtype.kind not in "fi":
        return None
    if array.dtype.kind == "f" and array.size and np.nanmax(np.abs(array)) >= 2**53:
        return None  # integers this large would lose digits as floats
    return pd.DataFrame(array, columns=_index(columns), copy=False)


def _dataframe_records(value: Any, schema: Any = None) -> Any:
    import pandas as pd

    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise PayloadError('dataframe_records must be a list of objects, e.g. [{"x": 1.0}].')
    if not value:
        return pd.DataFrame()
    if _has_columns(schema):
        keys = value[0].keys()
        if all(r.keys() == keys for r in value):
            columns = list(keys)
            fast = _numeric_frame([[r[c] for c in columns] for r in value], columns)
            if fast is not None:
                return fast
    return pd.DataFrame.from_records(value)


def _tensor_or_columns(value: Any, key: str, schema: Any) -> Any:
    """`instances`/`inputs`: records or column dicts become a DataFrame (unless the model
    takes named tensors); lists become arrays (or rows, for a column schema)."""
    import numpy as np
    import pandas as pd

    tensors = schema is not None and getattr(schema, "is_tensor", False)
    if isinstance(value, dict):
        if tensors:
            return {k: _array(v, f"{key}.{k}") for k, v in value.items()}
        if any(isinstance(v, list) for v in value.values()):
            lengths = {len(v) for v in value.values() if isinstance(v, list)}
            if len(lengths) > 1:
                raise PayloadError(
                    f"'{key}' columns have different lengths {sorted(lengths)}: give every "
                    "column the same number of values."
                )
            return pd.DataFrame(value)
        return pd.DataFrame({k: [v] for k, v in value.items()})
    if isinstance(value, list):
        if value and all(isinstance(r, dict) for r in value):
            if tensors:
                names = {k for r in value for k in r}
                return {k: _array([r.get(k) for r in value], f"{key}.{k}") for k in names}
            return pd.DataFrame.from_records(value)
        if schema is not None and not tensors:
            return value  # rows: matched to the signature's columns by position
        return _array(value, key)
    if schema is not None and not tensors:
        return [value]
    return np.asarray([value])


def _array(value: Any, label: str) -> Any:
    import numpy as np

    try:
        return np.asarray(value)
    except ValueError as exc:
        raise PayloadError(f"'{label}' is not a regular array: {exc}") from None


def parse_csv(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"Invalid CSV input (a header row is required): {exc}") from None


def parse_parquet(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(io.BytesIO(body))
    except ImportError:
        raise UnsupportedMediaType(
            "Parquet input needs pyarrow on the server: pip install pyarrow."
        ) from None
    except Exception as exc:  # pyarrow raises its own error types for bad files
        raise PayloadError(f"Invalid Parquet input: {exc}") from None


# -- predictions --------------------------------------------------------------------------------


def jsonable_predictions(predictions: Any) -> Any:
    """Predictions as JSON-ready values: arrays as lists, frames (and series) as records."""
    import numpy as np

    if isinstance(predictions, np.ndarray):
        return predictions.tolist()
    module = type(predictions).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(predictions, pd.Series):
            predictions = predictions.to_frame()
        if isinstance(predictions, pd.DataFrame):
            return json.loads(predictions.to_json(orient="records", date_format="iso"))
    if isinstance(predictions, dict):
        return {str(k): jsonable_predictions(v) for k, v in predictions.items()}
    if isinstance(predictions, (list, tuple)):
        return [jsonable_predictions(v) for v in predictions]
    if isinstance(predictions, np.generic):
        return predictions.item()
    return predictions


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def predictions_body(predictions: Any) -> bytes:
    """The JSON answer `{"predictions": ...}` as bytes."""
    return json.dumps({"predictions": jsonable_predictions(predictions)}, default=_default).encode()


def predictions_csv(predictions: Any) -> bytes:
    import pandas as pd

    frame = predictions if isinstance(predictions, pd.DataFrame) else pd.DataFrame(predictions)
    csv: str = frame.to_csv(index=False)
    return csv.encode()
