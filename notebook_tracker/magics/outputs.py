"""A cell's outputs as artifact files: its text streams and each rich output it displayed."""

from __future__ import annotations

import base64
import json
from typing import Any

from notebook_tracker.magics.runner import CellOutcome

# Rich types kept as files, with their extension; text/plain is kept only when alone.
RICH_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/svg+xml": "svg",
    "text/html": "html",
    "text/markdown": "md",
    "text/latex": "tex",
    "application/json": "json",
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _as_bytes(mime: str, value: Any) -> bytes:
    if mime in ("image/png", "image/jpeg"):
        if isinstance(value, bytes):
            return value
        return base64.b64decode(value)
    if mime == "application/json" or isinstance(value, dict):
        return json.dumps(value, indent=1, default=str).encode()
    if isinstance(value, list):
        value = "".join(map(str, value))
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def bundle_files(bundle: dict[str, Any], stem: str) -> dict[str, bytes]:
    files = {}
    for mime, ext in RICH_TYPES.items():
        if mime in bundle:
            files[f"{stem}.{ext}"] = _as_bytes(mime, bundle[mime])
    if not files and "text/plain" in bundle and WIDGET_VIEW not in bundle:
        files[f"{stem}.txt"] = _as_bytes("text/plain", bundle["text/plain"])
    return files


def output_files(outcome: CellOutcome) -> dict[str, bytes]:
    """{artifact path: content}: `outputs/stdout.txt`, `outputs/stderr.txt` (when not empty),
    `outputs/display-NNN.<ext>` per rich display and `outputs/result.<ext>` for `Out[n]`."""
    files: dict[str, bytes] = {}
    if outcome.stdout:
        files["outputs/stdout.txt"] = outcome.stdout.encode("utf-8", "replace")
    if outcome.stderr:
        files["outputs/stderr.txt"] = outcome.stderr.encode("utf-8", "replace")
    for i, bundle in enumerate(outcome.displays, start=1):
        files.update(bundle_files(bundle, f"outputs/display-{i:03d}"))
    if outcome.result:
        files.update(bundle_files(outcome.result, "outputs/result"))
    if outcome.traceback:
        files["outputs/traceback.txt"] = outcome.traceback.encode("utf-8", "replace")
    return files
