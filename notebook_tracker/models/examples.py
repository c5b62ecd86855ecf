"""Input examples: saved beside the model as `input_example.json` and as a ready request body
for `/invocations` (`serving_input_example.json`), in MLflow's layout."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter

EXAMPLE_FILE = "input_example.json"
SERVING_FILE = "serving_input_example.json"


def split_example(example: Any) -> tuple[Any, dict[str, Any] | None]:
    """`(data, params)` from an example given as data or as a `(data, params)` tuple."""
    if isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], dict):
        return example[0], example[1]
    return example, None


def normalize(data: Any) -> Any:
    """Examples as the model will see them: records and column dicts become DataFrames."""
    import numpy as np
    import pandas as pd

    if isinstance(data, (pd.DataFrame, np.ndarray)):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, dict):
        if data and all(isinstance(v, np.ndarray) for v in data.values()):
            return data
        if all(not isinstance(v, (list, tuple)) for v in data.values()):
            return pd.DataFrame({k: [v] for k, v in data.items()})
        return pd.DataFrame(data)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(data)
    if isinstance(data, (list, tuple)):
        return np.asarray(data)
    raise InvalidParameter(
        f"Unsupported input_example of type {type(data).__name__}: give a DataFrame, a numpy "
        "array, a dict of columns or a list of records."
    )


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def frame_split(frame: Any) -> dict[str, Any]:
    """A DataFrame as `{"columns": [...], "data": [[...]]}` (JSON-ready values)."""
    return {
        "columns": [str(c) for c in frame.columns],
        "data": [[_jsonable(v) for v in row] for row in frame.itertuples(index=False, name=None)],
    }


def save_example(path: Path, example: Any) -> dict[str, Any]:
    """Write the example files into the model directory; returns `saved_input_example_info`."""
    import pandas as pd

    data, params = split_example(example)
    data = normalize(data)
    if isinstance(data, pd.DataFrame):
        body = frame_split(data)
        info: dict[str, Any] = {"type": "dataframe", "pandas_orient": "split"}
        serving: dict[str, Any] = {"dataframe_split": body}
    else:
        body = _jsonable(data)
        info = {"type": "ndarray", "format": "tf-serving"}
        serving = {"inputs": body}
        body = {"inputs": body}
    stored: Any = body
    if params:
        stored = {"inputs": body, "params": _jsonable(params)}
        serving["params"] = _jsonable(params)
        info["params"] = "true"
    (path / EXAMPLE_FILE).write_text(json.dumps(stored), encoding="utf-8")
    (path / SERVING_FILE).write_text(json.dumps(serving, indent=2), encoding="utf-8")
    info.update(artifact_path=EXAMPLE_FILE, serving_input_path=SERVING_FILE)
    return info


def load_example(model_dir: Path, info: dict[str, Any] | None) -> Any:
    """The saved example as the model takes it (a DataFrame or an array), or None."""
    if not info:
        return None
    file = model_dir / info.get("artifact_path", EXAMPLE_FILE)
    if not file.is_file():
        return None
    stored = json.loads(file.read_text(encoding="utf-8"))
    if info.get("params") and isinstance(stored, dict) and "inputs" in stored:
        stored = stored["inputs"]
    if info.get("type") == "dataframe":
        import pandas as pd

        return pd.DataFrame(stored["data"], columns=stored["columns"], index=stored.get("index"))
    import numpy as np

    inputs = stored.get("inputs", stored) if isinstance(stored, dict) else stored
    if isinstance(inputs, dict):
        return {k: np.asarray(v) for k, v in inputs.items()}
    return np.asarray(inputs)


def serving_example(model_dir: Path, info: dict[str, Any] | None) -> str | None:
    """The ready `/invocations` JSON body saved with the model, if any."""
    if not info:
        return None
    file = model_dir / info.get("serving_input_path", SERVING_FILE)
    return file.read_text(encoding="utf-8") if file.is_file() else None
