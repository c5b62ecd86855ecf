"""Model URIs: where a model's files are, and getting them into a local directory.

- `runs:/<run_id>/<path>` — `<path>` under the run's artifact root;
- `models:/<name>/<version>`, `models:/<name>/latest`, `models:/<name>/<stage>`,
  `models:/<name>@<alias>` — a registry version's source;
- `models:/m-<id>` — a logged model's artifacts;
- a local path or `file://` URI, `s3://bucket/prefix`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from notebook_tracker import config
from notebook_tracker.artifacts.paths import safe_relpath
from notebook_tracker.errors import InvalidParameter

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


@dataclass(frozen=True)
class ModelsUri:
    name: str
    version: int | None = None
    alias: str | None = None
    stage: str | None = None  # "latest" or a stage name

    def __str__(self) -> str:
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.version if self.version is not None else self.stage}"


def parse_models_uri(uri: str) -> ModelsUri:
    """`models:/name/3`, `models:/name/latest`, `models:/name/Staging` or `models:/name@alias`."""
    rest = uri[len("models:") :].lstrip("/")
    if "@" in rest and "/" not in rest.split("@", 1)[1]:
        name, alias = rest.split("@", 1)
        if name and alias:
            return ModelsUri(name, alias=alias)
    parts = rest.split("/")
    if len(parts) == 2 and all(parts):
        name, which = parts
        if which.isascii() and which.isdigit():
            return ModelsUri(name, version=int(which))
        return ModelsUri(name, stage=which)
    raise InvalidParameter(
        f"Invalid model URI {uri!r}: use models:/<name>/<version>, models:/<name>/latest or "
        "models:/<name>@<alias>."
    )


def _scheme(uri: str) -> str:
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else ""
    return "" if len(scheme) == 1 else scheme  # "C:" is a drive, not a scheme


def _join(base: str, path: str) -> str:
    rel = safe_relpath(path)
    return f"{base.rstrip('/')}/{rel}" if rel else base


def split_runs_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("runs:") :].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameter(f"Invalid model URI {uri!r}: use runs:/<run_id>/<artifact path>.")
    return run_id, path


def resolve_registry_version(uri: str, tracking_uri: str | None = None) -> tuple[str, int]:
    """(name, version) a `models:/` URI names right now."""
    from notebook_tracker.models.registry import RegistryClient

    parsed = parse_models_uri(uri)
    client = RegistryClient(tracking_uri)
    if parsed.alias is not None:
        return parsed.name, client.get_model_version_by_alias(parsed.name, parsed.alias).version
    if parsed.version is not None:
        return parsed.name, client.get_model_version(parsed.name, parsed.version).version
    if parsed.stage and parsed.stage.lower() == "latest":
        return parsed.name, client.latest_version(parsed.name).version
    found = client.get_latest_versions(parsed.name, [parsed.stage or ""])
    if not found:
        raise InvalidParameter(
            f"Registered model {parsed.name!r} has no version in stage {parsed.stage!r}."
        )
    return parsed.name, found[0].version


def resolve_location(uri: str, tracking_uri: str | None = None) -> str:
    """The artifact location (a path, file:// or s3:// URI) that a model URI points at."""
    if not isinstance(uri, str) or not uri:
        raise InvalidParameter(f"Invalid model URI {uri!r}.")
    tracking_uri = tracking_uri or config.get_tracking_uri()
    scheme = _scheme(uri)
    if scheme == "runs":
        from notebook_tracker.client import TrackingClient

        run_id, path = split_runs_uri(uri)
        base = TrackingClient(tracking_uri).get_run(run_id).info.artifact_uri
        return _join(base, path)
    if scheme == "models":
        rest = uri[len("models:") :].lstrip("/")
        if _LOGGED_MODEL_ID.match(rest):
            return logged_model_location(rest, tracking_uri)
        from notebook_tracker.models.registry import RegistryClient

        name, version = resolve_registry_version(uri, tracking_uri)
        source = RegistryClient(tracking_uri).get_model_version(name, version).source
        if _scheme(source) in ("runs", "models"):
            return resolve_location(source, tracking_uri)
        return source
    return uri


def logged_model_location(model_id: str, tracking_uri: str) -> str:
    """Where a logged model's files are (MLflow 3 registers versions as `models:/m-<id>`)."""
    from notebook_tracker.store.factory import logged_model_store

    return logged_model_store(tracking_uri).get(model_id).artifact_uri


def local_path_of(location: str) -> Path | None:
    """The local directory of a location, or None when it must be downloaded."""
    scheme = _scheme(location)
    if scheme == "file":
        from notebook_tracker.artifacts.local import local_path_from_uri

        return Path(local_path_from_uri(location))
    if scheme == "":
        return Path(location).expanduser().resolve()
    return None


def download_model(
    uri: str, dst: str | os.PathLike[str] | None = None, tracking_uri: str | None = None
) -> Path:
    """A local directory holding the model at `uri` (local models are used in place)."""
    location = resolve_location(str(uri), tracking_uri)
    local = local_path_of(location)
    if local is not None:
        if not (local / "MLmodel").is_file():
            raise InvalidParameter(
                f"No model at {str(uri)!r}: {str(local)!r} has no MLmodel file "
                f"({'it does not exist' if not local.exists() else 'not a model directory'})."
            )
        return local
    from notebook_tracker.artifacts import get_artifact_repository

    target = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="nt-model-"))
    target.mkdir(parents=True, exist_ok=True)
    repo = get_artifact_repository(location)
    if not repo.exists("MLmodel"):
        raise InvalidParameter(f"No model at {str(uri)!r}: {location} has no MLmodel file.")
    return Path(repo.download_artifacts(None, target))


def download_to(uri: str, dst: Path) -> str:
    """Copy a local file/directory or download an artifact URI to `dst`; returns the copy."""
    local = local_path_of(uri) if _scheme(uri) not in ("runs", "models") else None
    if local is not None:
        if local.is_dir():
            shutil.copytree(local, dst, dirs_exist_ok=True)
            return str(dst)
        if not local.exists():
            raise InvalidParameter(f"Artifact {uri!r} does not exist.")
        dst.mkdir(parents=True, exist_ok=True)
        return str(shutil.copy2(local, dst / local.name))
    from notebook_tracker.artifacts import get_artifact_repository

    location = resolve_location(uri)
    dst.mkdir(parents=True, exist_ok=True)
    repo = get_artifact_repository(location)
    if repo.is_dir(None):
        return repo.download_artifacts(None, dst)
    parent, _, name = location.rstrip("/").rpartition("/")
    return get_artifact_repository(parent).download_artifacts(name, dst)


def registry_source(model_uri: str, tracking_uri: str) -> tuple[str, str | None]:
    """(source, run_id) to record for a new registry version of `model_uri`."""
    scheme = _scheme(model_uri)
    if scheme == "runs":
        run_id, _ = split_runs_uri(model_uri)
        return resolve_location(model_uri, tracking_uri), run_id
    if scheme == "models":
        location = resolve_location(model_uri, tracking_uri)
        return location, _run_id_of(location)
    local = local_path_of(model_uri)
    if local is not None:
        if not (local / "MLmodel").is_file():
            raise InvalidParameter(
                f"Cannot register {model_uri!r}: it is not a model directory (no MLmodel file)."
            )
        return str(local), _run_id_of(str(local))
    return model_uri, _run_id_of(model_uri)


def _run_id_of(location: str) -> str | None:
    try:
        from notebook_tracker.models.mlmodel import Model

        local = local_path_of(location)
        if local is not None:
            return Model.load(local).run_id
        from notebook_tracker.artifacts import get_artifact_repository

        with get_artifact_repository(location).open_read("MLmodel") as f:
            import yaml

            return (yaml.safe_load(f.read()) or {}).get("run_id")
    except Exception:  # the run id is a convenience; a model without one registers fine
        return None
