"""A notebook whose cells JupyterLab runs as a person would, up to a tracked cell's run card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

KERNEL_IDLE = """() => {
    const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


def write_notebook(root: Path, name: str, cells: list[str]) -> str:
    """`root/name`: a Python 3 notebook of these code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, root / name)
    return name


def run_tracked_cells(
    page: Any, lab: Any, name: str, cells: list[str], card_timeout_ms: int
) -> Any:
    """Write the notebook into the server's root, open it, run its cells with Shift+Enter once
    its kernel is idle, and return the locator of the FINISHED run card they end with."""
    write_notebook(lab.root_dir, name, cells)
    workspace = Path(name).stem
    page.goto(f"{lab.base_url}lab/workspaces/{workspace}/tree/{name}?reset&token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.locator(".jp-Cell .jp-InputArea-editor").first.click()
    for _ in cells:
        page.keyboard.press("Shift+Enter")
    card = page.locator(".jp-OutputArea .nt-run-card[data-status='FINISHED']")
    card.wait_for(timeout=card_timeout_ms)
    return card
