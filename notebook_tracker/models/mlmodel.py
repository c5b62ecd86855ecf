"""The `MLmodel` file: what a model directory holds and how to load it (MLflow-compatible YAML).

Fields follow MLflow's model format (`artifact_path`, `run_id`, `utc_time_created`,
`model_uuid`, `flavors`, `signature`, `saved_input_example_info`, ...). Fields this code does
not know are kept and written back, so a file written by another tool survives a round trip.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notebook_tracker.errors import InvalidParameter, NotFound

if TYPE_CHECKING:
    from notebook_tracker.models.signature import ModelSignature

MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"

_KNOWN = (
    "artifact_path",
    "run_id",
    "utc_time_created",
    "model_uuid",
    "flavors",
    "signature",
    "saved_input_example_info",
    "model_size_bytes",
    "metadata",
)


class Model:
    """The content of an `MLmodel` file; `add_flavor` records how to load the model."""

    def __init__(
        self,
        artifact_path: str | None = None,
        run_id: str | None = None,
        utc_time_created: str | None = None,
        flavors: dict[str, dict[str, Any]] | None = None,
        signature: ModelSignature | None = None,
        saved_input_example_info: dict[str, Any] | None = None,
        model_uuid: str | None = None,
        model_size_bytes: int | None = None,
        metadata: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        self.artifact_path = artifact_path
        self.run_id = run_id
        self.utc_time_created = utc_time_created or _utc_now()
        self.flavors: dict[str, dict[str, Any]] = dict(flavors or {})
        self.signature = signature
        self.saved_input_example_info = saved_input_example_info
        self.model_uuid = model_uuid or uuid.uuid4().hex
        self.model_size_bytes = model_size_bytes
        self.metadata = metadata
        self.extra = extra

    def add_flavor(self, name: str, **params: Any) -> Model:
        """Record flavor `name` with its loading parameters (how plug-in flavors register)."""
        if not isinstance(name, str) or not name:
            raise InvalidParameter(f"A flavor name must be a non-empty string, got {name!r}.")
        self.flavors[name] = dict(params)
        return self

    def get_flavor(self, name: str) -> dict[str, Any]:
        try:
            return self.flavors[name]
        except KeyError:
            raise NotFound(
                f"The model has no {name!r} flavor; it has: {', '.join(self.flavors) or 'none'}."
            ) from None

    @property
    def pyfunc_conf(self) -> dict[str, Any] | None:
        return self.flavors.get(PYFUNC_FLAVOR)

    # -- (de)serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "artifact_path": self.artifact_path,
            "flavors": self.flavors,
            "model_uuid": self.model_uuid,
            "run_id": self.run_id,
            "utc_time_created": self.utc_time_created,
        }
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.model_size_bytes is not None:
            out["model_size_bytes"] = self.model_size_bytes
        if self.metadata is not None:
            out["metadata"] = self.metadata
        for key, value in self.extra.items():
            out.setdefault(key, value)
        if out["artifact_path"] is None:
            del out["artifact_path"]
        if out["run_id"] is None:
            del out["run_id"]
        return out

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=True)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write to `path` (a directory gets `path/MLmodel`)."""
        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL_FILE
        target.write_text(self.to_yaml(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        if not isinstance(data, dict):
            raise InvalidParameter("An MLmodel file must hold a YAML mapping.")
        data = dict(data)
        signature = data.pop("signature", None)
        sig = None
        if signature:
            from notebook_tracker.models.signature import ModelSignature

            sig = ModelSignature.from_dict(signature)
        known = {k: data.pop(k) for k in _KNOWN if k in data and k != "signature"}
        return cls(signature=sig, **known, **data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read the MLmodel file at `path` or in the directory `path`."""
        import yaml

        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL_FILE
        if not target.is_file():
            raise NotFound(
                f"No MLmodel file at {str(target)!r}: a model directory holds one "
                "(save it with notebook_tracker.models.save_model)."
            )
        try:
            data = yaml.safe_load(target.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InvalidParameter(
                f"The MLmodel file {str(target)!r} is not valid YAML: {exc}"
            ) from None
        return cls.from_dict(data or {})

    def __repr__(self) -> str:
        return f"Model(flavors={list(self.flavors)}, run_id={self.run_id!r})"


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def directory_size(path: str | os.PathLike[str]) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total
