"""`save_model` / `log_model` / `load_model` bound to one flavor, for `nt.<framework>`."""

from __future__ import annotations

import os
from typing import Any


def save_model(flavor: str, model: Any, path: str | os.PathLike[str], **options: Any) -> Any:
    from notebook_tracker.models.api import save_model as save

    return save(model, path, flavor=flavor, **options)


def log_model(flavor: str, model: Any, name: str | None = None, **options: Any) -> Any:
    from notebook_tracker.models.api import log_model as log

    return log(model, name, flavor=flavor, **options)


def load_model(
    flavor: str,
    model_uri: str | os.PathLike[str],
    dst_path: str | os.PathLike[str] | None = None,
    **load_options: Any,
) -> Any:
    """The native object; flavor-specific options (`device=`, `custom_objects=`) go to the
    flavor's loader."""
    from notebook_tracker.models.flavors import get_flavor
    from notebook_tracker.models.mlmodel import Model
    from notebook_tracker.models.uris import download_model

    model_dir = download_model(os.fspath(model_uri), dst_path, None)
    mlmodel = Model.load(model_dir)
    mlmodel.get_flavor(flavor)  # a clear error when the model lacks it
    return get_flavor(flavor).load_native(model_dir, mlmodel, **load_options)
