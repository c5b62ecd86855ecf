"""What several integrations log the same way: params, a model with its example, a table."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from notebook_tracker.validation import MAX_PARAM_VALUE_LENGTH

INPUT_EXAMPLE_ROWS = 5  # MLflow's INPUT_EXAMPLE_SAMPLE_ROWS


def client_for(run_id: str) -> Any:
    from notebook_tracker import fluent

    active = fluent.active_run()
    if active is not None and active.info.run_id == run_id:
        return active.client
    return fluent.current_client()


def param_text(value: Any) -> str:
    text = str(value)
    return (
        text if len(text) <= MAX_PARAM_VALUE_LENGTH else text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."
    )


def log_params(
    run_id: str,
    params: Mapping[str, Any],
    silent: bool = False,
    tags: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Log params not yet on the run (and `tags`, in the same write); a key already logged
    with another value (two fits in one run) keeps its first value, with a warning. Returns
    the params logged."""
    from notebook_tracker.entities import Param, RunTag

    client = client_for(run_id)
    existing = client.get_run(run_id).data.params
    new: dict[str, str] = {}
    clashes = []
    for key, value in params.items():
        text = param_text(value)
        if key in existing:
            if existing[key] != text:
                clashes.append(key)
            continue
        new[key] = text
    run_tags = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
    if new or run_tags:
        client.log_batch(run_id, params=[Param(k, v) for k, v in new.items()], tags=run_tags)
    if clashes and not silent:
        shown = ", ".join(clashes[:5]) + (", ..." if len(clashes) > 5 else "")
        warnings.warn(
            f"notebook-tracker autologging: params {shown} were already logged in run {run_id} "
            "with other values (several fits in one run); the first values are kept. Train each "
            "model in its own run (or %%track_run cell) to log each one's params.",
            stacklevel=4,
        )
    return new


def log_metrics(run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
    """Through the run's metric buffer (the fast path the live card reads)."""
    from notebook_tracker import fluent

    for key, value in metrics.items():
        fluent.log_metric(key, float(value), step=step, run_id=run_id, synchronous=False)


def head(data: Any, rows: int = INPUT_EXAMPLE_ROWS) -> Any:
    """The first rows of a DataFrame, array, sparse matrix or list, copied."""
    import copy

    if hasattr(data, "iloc"):
        return data.iloc[:rows].copy()
    try:
        return copy.deepcopy(data[:rows])
    except Exception:
        return None


def log_model(
    st: Any,
    run_id: str,
    model: Any,
    name: str,
    example: Any,
    predict: Callable[[Any], Any] | None,
    **save_options: Any,
) -> Any:
    """Log `model` with the input example / signature the integration's options ask for."""
    from notebook_tracker.models.api import log_model as _log_model
    from notebook_tracker.models.signature import infer_signature

    signature: Any = False
    input_example = None
    if example is not None and st.option("log_input_examples"):
        input_example = example
    if _sparse(example):
        example = None  # signatures and examples describe dense data only
    if example is not None and st.option("log_model_signatures"):
        try:
            output = predict(example) if predict is not None else None
            signature = infer_signature(example, output)
        except Exception as error:
            if not st.option("silent"):
                warnings.warn(
                    f"notebook-tracker {st.name} autologging: no signature for the model "
                    f"({type(error).__name__}: {error}).",
                    stacklevel=4,
                )
    return _log_model(
        model,
        name=name,
        signature=signature,
        input_example=input_example,
        run_id=run_id,
        registered_model_name=st.option("registered_model_name"),
        **save_options,
    )


def _sparse(data: Any) -> bool:
    scipy_sparse = sys.modules.get("scipy.sparse")
    return scipy_sparse is not None and bool(scipy_sparse.issparse(data))


def log_table_csv(run_id: str, columns: Mapping[str, Any], artifact_file: str) -> None:
    """A dict of equal-length columns as a CSV artifact (no pandas needed)."""
    import csv
    import io

    names = list(columns)
    values = [list(columns[n]) for n in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in zip(*values, strict=True):
        writer.writerow([_cell(v) for v in row])
    client_for(run_id).log_text(run_id, out.getvalue(), artifact_file)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        try:
            return value.item()
        except Exception:
            return str(value)
    return value
