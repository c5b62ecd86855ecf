"""`%serve_model` in a real kernel (nbclient): the model answers over HTTP while the kernel keeps
running cells, survives a kernel interrupt, stops on request, and ends with the kernel."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from helpers import wait_until
from jupyter_core.utils import run_sync
from nbclient import NotebookClient

import notebook_tracker.models as ntm

BODY = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.5]]}}).encode()


def invoke(url: str) -> tuple[int, dict]:
    req = urllib.request.Request(url + "/invocations", BODY, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def refused(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/ping", timeout=2).close()
    except urllib.error.URLError as err:
        return isinstance(err.reason, ConnectionRefusedError)
    except OSError:
        return True
    return False


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith("Z")


class Kernel:
    """One kernel, cells run one at a time, their text output returned."""

    def __init__(self, folder: Path) -> None:
        self.nb = nbformat.v4.new_notebook()
        self.client = NotebookClient(
            self.nb, timeout=180, kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        )  # fmt: skip

    def run(self, source: str) -> str:
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        texts = []
        for out in cell.outputs:
            if out.output_type == "stream":
                texts.append(out.text)
            elif out.output_type == "error":
                texts.append(f"{out.ename}: {out.evalue}")
            elif "text/plain" in out.get("data", {}):
                texts.append(out["data"]["text/plain"])
        return "".join(texts)


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    path = tmp_path / "doubler"
    ntm.save_model(
        lambda df: df["x"].to_numpy() * 2, path, input_example=pd.DataFrame({"x": [1.0]})
    )
    return path


def test_serve_model_answers_over_http_lists_survives_interrupts_and_stops(tmp_path, model_path):
    kernel = Kernel(tmp_path)
    with kernel.client.setup_kernel():
        kernel.run("%load_ext notebook_tracker")
        out = kernel.run(f"%serve_model {model_path} --name doubler")
        url = re.search(r"at (http://127\.0\.0\.1:\d+)", out).group(1)
        pid = int(re.search(r"pid (\d+)", out).group(1))
        assert f"curl -s {url}/invocations" in out and "requests.post(" in out
        assert "%serve_model --stop doubler" in out

        assert invoke(url) == (200, {"predictions": [2.0, 5.0]})
        assert kernel.run("1 + 1").strip() == "2"  # the kernel stays free
        listing = kernel.run("%serve_model --list")
        assert "doubler" in listing and "ready" in listing and str(pid) in listing

        run_sync(kernel.client.km.interrupt_kernel)()  # SIGINT to the kernel's process group
        assert kernel.run("'after interrupt'").strip() == "'after interrupt'"
        assert invoke(url)[0] == 200

        assert "Stopped doubler." in kernel.run("%serve_model --stop doubler")
        wait_until(lambda: refused(url), 15, what="served model to stop")
        assert "No models served" in kernel.run("%serve_model --list")


def test_served_models_end_with_the_kernel(tmp_path, model_path):
    kernel = Kernel(tmp_path)
    with kernel.client.setup_kernel():
        kernel.run("%load_ext notebook_tracker")
        out = kernel.run(f"%serve_model {model_path}")
        pid = int(re.search(r"pid (\d+)", out).group(1))
        url = re.search(r"at (http://127\.0\.0\.1:\d+)", out).group(1)
        assert invoke(url)[0] == 200
    wait_until(lambda: gone(pid), 20, what="served model to end with its kernel")


def test_errors_are_one_line_messages(tmp_path):
    kernel = Kernel(tmp_path)
    with kernel.client.setup_kernel():
        kernel.run("%load_ext notebook_tracker")
        assert "has no MLmodel file" in kernel.run(f"%serve_model {tmp_path}")
        assert "No models served by this kernel." in kernel.run("%serve_model --stop nope")
        assert "expected one argument" in kernel.run("%serve_model x --port")
