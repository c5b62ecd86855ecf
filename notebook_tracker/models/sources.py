"""Where a tracking server may load a model from: its own artifact store, and nowhere else.

A model version's `source` is client input. Loading a model runs its code (a pickle, a loader
module), so a server checks a source twice with the same resolver: when a client registers it
(`check`), and again when it loads the files to serve them (`fetch`), so a row written by an
older version or straight into the database cannot lead outside either.

Accepted sources: `runs:/<run_id>/<path>` (under that run's artifacts), `models:/<name>/<version>`
(and `@alias`, `/latest`, a stage; followed to that version's own source), `models:/m-<id>` (a
logged model), `mlflow-artifacts:/<path>` (the server's own proxy), or a local path, `file://`
or `s3://` URI inside an artifact root of the server. Every one ends as a storage location that
`confine` (the server's `TrackerContext.confine`) accepted.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notebook_tracker.errors import InvalidParameter

if TYPE_CHECKING:
    from notebook_tracker.store.logged_model_base import LoggedModelStore

ALLOWED = (
    "runs:/<run_id>/<path>, models:/<name>/<version>, models:/m-<id>, mlflow-artifacts:/<path>, "
    "or a path or s3:// URI inside an artifact root of this server"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
_MAX_HOPS = 4  # models:/a/1 whose source is models:/b/2 ...; a loop must not recurse forever
# Flavor settings that name a file of the model: they must stay inside the model directory.
_FILE_KEYS = ("data", "pickled_model", "python_model", "code", "model_code_path", "model_path")

Confine = Callable[[str], str]


def _scheme(uri: str) -> str:
    match = _SCHEME.match(uri)
    return match.group(1).lower() if match else ""


class ModelSources:
    """The model-loading side of one server.

    - `confine`: the server's one location check (`TrackerContext.confine`), returning the
      storage URI (a local path or `s3://...`) or raising InvalidParameter;
    - `store`: a callable giving the server's tracking store (runs, logged models);
    - `registry`: a callable giving its RegistryClient;
    - `logged_models`: a callable giving its logged-model store (`models:/m-<id>` sources);
    - `proxy_base`: for a server whose store is another tracking server (Jupyter pointed at
      `http(s)://`), that server's URL: `mlflow-artifacts:` sources are then fetched from its
      proxy, which confines them on its side, and nothing else is accepted.
    """

    def __init__(
        self,
        confine: Confine | None,
        store: Callable[[], Any],
        registry: Callable[[], Any],
        proxy_base: str | None = None,
        logged_models: Callable[[], LoggedModelStore] | None = None,
    ) -> None:
        self._confine = confine
        self._store = store
        self._registry = registry
        self._logged_models = logged_models
        self.proxy_base = proxy_base.rstrip("/") if proxy_base else None

    # -- resolving ---------------------------------------------------------------------------
    def check(self, source: object) -> str:
        """The storage location of a source a client wants to register, or a 400 saying why."""
        if not isinstance(source, str) or not source:
            raise InvalidParameter(
                f"Invalid model version source {source!r}: expected a model URI ({ALLOWED})."
            )
        try:
            return self.location(source)
        except InvalidParameter as exc:
            raise InvalidParameter(
                f"Invalid model version source {source!r}: a model must come from this "
                f"server's artifact store ({ALLOWED}); log it to a run first, e.g. "
                f"log_model(..., registered_model_name=...). {exc.message}"
            ) from None

    def accept(self, source: object) -> str:
        """`source` checked like `check`, in the form to store: a direct location loses what
        the server ignores (a proxy host, `file:`), so no client that reads the version back
        is sent to a host the registering client chose."""
        self.check(source)
        assert isinstance(source, str)
        if _scheme(source) in ("runs", "models"):
            return source
        from notebook_tracker.artifacts.roots import parse_location

        return parse_location(source).uri()

    def location(self, uri: str, hops: int = 0) -> str:
        """The confined storage location (local path, `s3://` or proxy URL) of a model URI."""
        if hops > _MAX_HOPS:
            raise InvalidParameter(
                f"Model URI {uri!r} is reached through more than {_MAX_HOPS} models:/ hops."
            )
        scheme = _scheme(uri)
        if scheme == "runs":
            from notebook_tracker.models.uris import split_runs_uri

            run_id, path = split_runs_uri(uri)
            return self._confined(_join(self._store().get_run(run_id).info.artifact_uri, path))
        if scheme == "models":
            rest = uri[len("models:") :].lstrip("/")
            if _LOGGED_MODEL_ID.match(rest):
                return self._confined(self._logged_model_uri(rest))
            from notebook_tracker.models.uris import parse_models_uri

            parsed = parse_models_uri(uri)
            version = _registry_version(self._registry(), parsed)
            return self.location(version.source, hops + 1)
        return self._confined(uri)

    def _logged_model_uri(self, model_id: str) -> str:
        if self._logged_models is None:
            raise InvalidParameter(
                f"This server does not resolve logged models: register models:/{model_id} by "
                "the runs:/ URI of its files instead."
            )
        return self._logged_models().get(model_id).artifact_uri

    def _confined(self, uri: str) -> str:
        if self.proxy_base is not None:
            return self._remote(uri)
        if self._confine is None:
            raise InvalidParameter("This server has no artifact roots to load models from.")
        return self._confine(uri)

    def _remote(self, uri: str) -> str:
        from notebook_tracker.artifacts.http import PROXY_PATH
        from notebook_tracker.artifacts.roots import parse_location

        assert self.proxy_base is not None
        loc = parse_location(uri, f"Allowed: {ALLOWED}.")
        if loc.kind != "proxy":
            raise InvalidParameter(
                f"Invalid model location {uri!r}: this server's store is {self.proxy_base}, "
                "so models load only through its artifact proxy (mlflow-artifacts:/<path>)."
            )
        return f"{self.proxy_base}/{PROXY_PATH}/{loc.path}".rstrip("/")

    # -- loading -----------------------------------------------------------------------------
    def fetch(self, uri: str, dst: str | os.PathLike[str]) -> Path:
        """A private copy of the model at `uri` in `dst` (which must not exist), checked first.

        Local models are copied rather than used in place: the copy holds no symlinks, so
        nothing can be swapped for a link to elsewhere between the check and the load.
        """
        location = self.location(uri)
        target = Path(dst)
        if _scheme(location) in ("s3", "http", "https"):
            from notebook_tracker.artifacts import get_artifact_repository

            repo = get_artifact_repository(location)
            if not repo.exists("MLmodel"):
                raise InvalidParameter(f"No model at {uri!r}: {location} has no MLmodel file.")
            target.mkdir(parents=True)
            repo.download_artifacts(None, target)
        else:
            source = Path(location)
            if not (source / "MLmodel").is_file():
                raise InvalidParameter(
                    f"No model at {uri!r}: {location!r} has no MLmodel file "
                    f"({'it does not exist' if not source.exists() else 'not a model directory'})."
                )
            self._check_links(uri, source)
            self._copy(uri, source, target)
        check_model_files(uri, target)
        return target

    def _copy(self, uri: str, source: Path, target: Path) -> None:
        def checked(src: str, dst: str) -> object:
            real = os.path.realpath(src)
            if real != os.path.abspath(src):  # reached through a link: it must stay inside too
                try:
                    self._confined(real)
                except InvalidParameter:
                    raise InvalidParameter(
                        f"Refusing to load {uri!r}: {src!r} leads to {real!r}, outside this "
                        "server's artifact roots."
                    ) from None
            return shutil.copy2(src, dst)

        try:
            shutil.copytree(source, target, symlinks=False, copy_function=checked)
        except InvalidParameter:
            shutil.rmtree(target, ignore_errors=True)
            raise
        except (OSError, shutil.Error, RecursionError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            detail = exc.args[0] if isinstance(exc, shutil.Error) and exc.args else exc
            raise InvalidParameter(f"Cannot load the model at {uri!r}: {detail}") from None

    def _check_links(self, uri: str, root: Path) -> None:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                entry = os.path.join(dirpath, name)
                if not os.path.islink(entry):
                    continue
                try:
                    self._confined(os.path.realpath(entry))
                except InvalidParameter:
                    raise InvalidParameter(
                        f"Refusing to load {uri!r}: {entry!r} is a link to "
                        f"{os.path.realpath(entry)!r}, outside this server's artifact roots."
                    ) from None


def check_model_files(uri: str, model_dir: Path) -> None:
    """Refuse a model whose MLmodel names files outside its own directory."""
    import yaml

    try:
        doc = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidParameter(f"The MLmodel file of {uri!r} cannot be read: {exc}") from None
    flavors = doc.get("flavors") if isinstance(doc, dict) else None
    for flavor, conf in (flavors or {}).items():
        if not isinstance(conf, dict):
            continue
        named = [conf.get(key) for key in _FILE_KEYS]
        artifacts = conf.get("artifacts")
        if isinstance(artifacts, dict):
            named += [a.get("path") for a in artifacts.values() if isinstance(a, dict)]
        for value in named:
            if isinstance(value, str) and not _inside(value):
                raise InvalidParameter(
                    f"Refusing to load {uri!r}: its MLmodel ({flavor} flavor) names {value!r}, "
                    "which is not a relative path inside the model directory."
                )


def _inside(path: str) -> bool:
    if path.startswith(("/", "~")) or "\\" in path or _scheme(path):
        return False
    return ".." not in path.split("/")


def _join(base: str, path: str) -> str:
    from notebook_tracker.artifacts.paths import safe_relpath

    rel = safe_relpath(path)
    return f"{base.rstrip('/')}/{rel}" if rel else base


def _registry_version(registry: Any, parsed: Any) -> Any:
    if parsed.alias is not None:
        return registry.get_model_version_by_alias(parsed.name, parsed.alias)
    if parsed.version is not None:
        return registry.get_model_version(parsed.name, parsed.version)
    if parsed.stage and parsed.stage.lower() == "latest":
        return registry.latest_version(parsed.name)
    found = registry.get_latest_versions(parsed.name, [parsed.stage or ""])
    if not found:
        raise InvalidParameter(
            f"Registered model {parsed.name!r} has no version in stage {parsed.stage!r}."
        )
    return found[0]


def for_context(context: Any) -> ModelSources:
    """The ModelSources of a server context (built once, on first use), checking locations
    with the context's own `confine`: the one resolver every artifact path goes through."""
    sources = getattr(context, "model_sources", None)
    if sources is None:
        from notebook_tracker.models.registry import RegistryClient
        from notebook_tracker.store.factory import logged_model_store

        uri = context.tracking_uri
        remote = uri.startswith(("http://", "https://"))
        sources = ModelSources(
            None if remote else context.confine,
            lambda: context.store,
            lambda: RegistryClient(uri),
            proxy_base=uri if remote else None,
            logged_models=lambda: logged_model_store(uri),
        )
        context.model_sources = sources
    return sources
