"""Which notebook file this kernel runs, asked of the places that know, never guessed.

In order: VS Code's `__vsc_ipynb_file__` in the user namespace; `JPY_SESSION_NAME`, which the
Jupyter server (JupyterLab, Notebook 7) puts in the environment of kernels it starts for a
notebook (ipykernel mirrors it as `__session__`); the server's own sessions API (`api/sessions`
on loopback, matching this kernel's id), for kernels started without that variable. Headless
runners (nbclient, nbconvert --execute, papermill) tell the kernel nothing but its working
directory: there, the one notebook of that folder holding the running cell's code is taken.
Otherwise the path is "unknown".
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from notebook_tracker import env

SESSIONS_TIMEOUT_S = 1.0
MAX_NOTEBOOKS_SCANNED = 50
CACHE_S = 30.0
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class NotebookLocation:
    path: str  # relative to the server root when known, else absolute, else "unknown"
    file: Path | None  # the file on disk, when it can be read
    source: str  # where it came from: vscode, session-env, server-api, working-dir, unknown


UNKNOWN = NotebookLocation("unknown", None, "unknown")


def _server_infos() -> list[dict[str, Any]]:
    """Running Jupyter servers of this user (their runtime files), newest first."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return []
    runtime = Path(jupyter_runtime_dir())
    infos = []
    for file in runtime.glob("jpserver-*.json"):
        try:
            info = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        pid = info.get("pid")
        if isinstance(pid, int) and not _alive(pid):
            continue
        infos.append((file.stat().st_mtime, info))
    return [info for _, info in sorted(infos, key=lambda x: -x[0])]


def _holds(info: dict[str, Any], cwd: Path) -> bool:
    root = info.get("root_dir") or info.get("notebook_dir")
    if not root:
        return False
    try:
        cwd.resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _relative(path: Path, root: str | None) -> str:
    if root:
        try:
            return path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def kernel_id() -> str | None:
    """This kernel's id, from its connection file name (`kernel-<id>.json`)."""
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:
        return None
    if name.startswith("kernel-") and name.endswith(".json"):
        return name[len("kernel-") : -len(".json")]
    return None


def fetch_sessions(info: dict[str, Any]) -> list[dict[str, Any]]:
    """GET `api/sessions` of a server on loopback; [] for anything else."""
    url = info.get("url", "")
    if urlparse(url).hostname not in LOOPBACK:
        return []
    request = urllib.request.Request(url.rstrip("/") + "/api/sessions")
    if info.get("token"):
        request.add_header("Authorization", f"token {info['token']}")
    try:
        with urllib.request.urlopen(request, timeout=SESSIONS_TIMEOUT_S) as response:
            data = json.loads(response.read())
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def from_server_api(
    kid: str | None,
    infos: list[dict[str, Any]],
    fetch: Callable[[dict[str, Any]], list[dict[str, Any]]] = fetch_sessions,
) -> NotebookLocation | None:
    """Find this kernel among the servers' sessions; its session path is the notebook."""
    if not kid:
        return None
    for info in infos:
        for session in fetch(info):
            if (session.get("kernel") or {}).get("id") != kid:
                continue
            rel = session.get("path") or (session.get("notebook") or {}).get("path")
            if not rel:
                continue
            root = info.get("root_dir") or info.get("notebook_dir")
            file = Path(root, rel) if root else None
            return NotebookLocation(rel, file if file and file.is_file() else None, "server-api")
    return None


def from_session_env(value: str, infos: list[dict[str, Any]], cwd: Path) -> NotebookLocation:
    """`JPY_SESSION_NAME` is absolute, or relative to the server root (older servers)."""
    path = Path(value)
    roots = [i.get("root_dir") or i.get("notebook_dir") for i in infos]
    if path.is_absolute():
        for root in roots:
            rel = _relative(path, root)
            if rel != str(path):
                return NotebookLocation(rel, path if path.is_file() else None, "session-env")
        return NotebookLocation(str(path), path if path.is_file() else None, "session-env")
    for root in roots:
        if root and Path(root, value).is_file():
            return NotebookLocation(value, Path(root, value), "session-env")
    # A kernel's working directory is its notebook's folder: the file sits right here.
    here = cwd / path.name
    return NotebookLocation(value, here if here.is_file() else None, "session-env")


def _normalized(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip("\n").splitlines()).strip()


def from_working_dir(cwd: Path, code: str) -> NotebookLocation | None:
    """The single notebook in `cwd` with a code cell whose source is `code`, else None."""
    want = _normalized(code)
    if not want:
        return None
    found = []
    for path in sorted(cwd.glob("*.ipynb"))[:MAX_NOTEBOOKS_SCANNED]:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        cells = data.get("cells", []) if isinstance(data, dict) else []
        for cell in cells:
            source = cell.get("source", "") if isinstance(cell, dict) else ""
            source = "".join(source) if isinstance(source, list) else source
            if cell.get("cell_type") == "code" and _normalized(str(source)) == want:
                found.append(path)
                break
    if len(found) != 1:
        return None  # none, or several copies (papermill's output next to its input)
    return NotebookLocation(str(found[0].resolve()), found[0], "working-dir")


_api_cache: dict[str, tuple[float, NotebookLocation | None]] = {}


def locate(
    user_ns: dict[str, Any], environ: dict[str, str] | None = None, code: str = ""
) -> NotebookLocation:
    """Where the notebook of this kernel lives, or `UNKNOWN`; `code` is the running cell's."""
    vsc = user_ns.get("__vsc_ipynb_file__")
    if isinstance(vsc, str) and vsc:
        path = Path(vsc)
        return NotebookLocation(str(path), path if path.is_file() else None, "vscode")
    if environ is None:
        from_env = env.jupyter_session_name()
    else:
        from_env = environ.get(env.JUPYTER_SESSION_NAME)
    session = from_env or user_ns.get("__session__")
    if isinstance(session, str) and session:
        return from_session_env(session, _server_infos(), Path.cwd())
    kid = kernel_id()
    if not kid:
        return from_working_dir(Path.cwd(), code) or UNKNOWN
    cached = _api_cache.get(kid)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1] or UNKNOWN
    # Only a server whose root holds our working directory can have started this kernel.
    infos = [i for i in _server_infos() if _holds(i, Path.cwd())]
    found = from_server_api(kid, infos)
    _api_cache[kid] = (time.monotonic() + CACHE_S, found)
    return found or from_working_dir(Path.cwd(), code) or UNKNOWN
