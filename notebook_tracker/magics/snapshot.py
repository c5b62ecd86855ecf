"""The notebook as last saved: its code cells for lineage, and the snapshot a run stores.

The snapshot keeps code and markdown and drops outputs and saved widget state: outputs are
what make notebooks large, and a run already stores its own. A file is parsed once per save
(cached by mtime and size), not once per tracked cell.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from notebook_tracker.magics.lineage import NotebookCell, notebook_cells


@dataclass(frozen=True)
class NotebookSnapshot:
    cells: list[NotebookCell]
    stripped: bytes  # the .ipynb without outputs
    saved_at: float  # when the file was last written (its mtime, seconds since the epoch)


_cache: dict[str, tuple[tuple[int, int], NotebookSnapshot]] = {}


def read_snapshot(path: Path) -> NotebookSnapshot:
    """Parse (or reuse) the notebook at `path`; OSError/ValueError when it cannot be read."""
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == key:
        return cached[1]
    data = json.loads(path.read_bytes())
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a notebook (its JSON is not an object)")
    cells = notebook_cells(data)
    for cell in data.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
    data.get("metadata", {}).pop("widgets", None)
    stripped = json.dumps(data, indent=1, ensure_ascii=False).encode()
    snapshot = NotebookSnapshot(cells, stripped, stat.st_mtime)
    _cache[str(path)] = (key, snapshot)
    return snapshot
