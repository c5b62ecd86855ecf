"""Notebooks as entry points: inject parameters, execute headless, keep the executed copy.

The runner starts this module as a child process (`python -m notebook_tracker.projects.notebooks`)
so that a notebook run is streamed, timed out and interrupted like any other command. The kernel
runs on the environment's interpreter and inherits the run's variables, so tracking calls in
the notebook land in the project run and `%%track_run` cells become its children.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from notebook_tracker.projects.rewrite import python_literal

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def executor_command(
    notebook: Path,
    output: Path,
    kernel_python: str,
    parameters: dict[str, Any],
    cwd: Path | None = None,
) -> list[str]:
    """The argv that executes `notebook` in a child process (run by the project runner)."""
    return [
        sys.executable,
        "-m",
        "notebook_tracker.projects.notebooks",
        str(notebook),
        "--output",
        str(output),
        "--kernel-python",
        kernel_python,
        "--parameters",
        json.dumps(parameters),
        "--cwd",
        str(cwd or notebook.parent),
    ]


# -- parameter injection ---------------------------------------------------------------------
def find_parameters_cell(nb: Any) -> int | None:
    for index, cell in enumerate(nb.cells):
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return index
    return None


def _literal_defaults(source: str) -> dict[str, Any]:
    """Top-level `name = <literal>` assignments of a cell (the notebook's own defaults)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, Any] = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    return found


def coerce_like(value: Any, example: Any, name: str) -> Any:
    """`value` (text from the command line) as the type of the notebook's default `example`."""
    if not isinstance(value, str):
        return value
    if isinstance(example, bool):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"parameter {name!r} is a bool in the notebook; got {value!r}")
    if isinstance(example, int):
        try:
            return int(value)
        except ValueError:
            raise ValueError(
                f"parameter {name!r} is an int in the notebook; got {value!r}"
            ) from None
    if isinstance(example, float):
        try:
            return float(value)
        except ValueError:
            raise ValueError(
                f"parameter {name!r} is a float in the notebook; got {value!r}"
            ) from None
    if isinstance(example, str):
        return value
    if example is None or isinstance(example, (list, tuple, dict)):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def _guess(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value


def notebook_parameters(
    notebook: Path, declared: dict[str, Any], extra: dict[str, str]
) -> dict[str, Any]:
    """The values to inject, checked before anything runs.

    `declared` values are already typed (from the MLproject); `extra` ones take the type of the
    notebook's default for the same name, else int/float when they parse as one.
    """
    import nbformat

    from notebook_tracker.errors import ProjectError

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as error:  # nbformat raises several kinds for unreadable files
        raise ProjectError(f"Cannot read notebook {notebook}: {error}") from None
    index = find_parameters_cell(nb)
    defaults = _literal_defaults(nb.cells[index].source) if index is not None else {}
    values = dict(declared)
    problems = []
    for name, raw in extra.items():
        if not name.isidentifier():
            problems.append(f"{name!r} is not a valid Python name")
            continue
        try:
            values[name] = (
                coerce_like(raw, defaults[name], name) if name in defaults else _guess(raw)
            )
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ProjectError(
            f"Invalid parameters for notebook {notebook.name}: {'; '.join(problems)}."
        )
    return values


def inject_parameters(nb: Any, values: dict[str, Any]) -> Any:
    """Add a cell assigning `values` right after the cell tagged `parameters` (or first).

    `%%track_run` cells become child runs of the project run on their own: the kernel's
    environment names it in NOTEBOOK_TRACKER_PARENT_RUN_ID.
    """
    import nbformat

    if values:
        index = find_parameters_cell(nb)
        lines = ["# Parameters injected by notebook-tracker"]
        lines += [f"{name} = {python_literal(value)}" for name, value in values.items()]
        cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
        nb.cells.insert(0 if index is None else index + 1, cell)
    return nb


# -- execution (in the child process) --------------------------------------------------------
def _echo(stream: str, text: str) -> None:
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()


def _client_class() -> Any:
    from nbclient import NotebookClient

    class EchoingClient(NotebookClient):
        """Prints each output as it arrives, so a notebook run streams like a script."""

        def output(self, outs: Any, msg: Any, display_id: Any, cell_index: int) -> Any:
            out = super().output(outs, msg, display_id, cell_index)
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "stream":
                _echo(content.get("name", "stdout"), content.get("text", ""))
            elif kind == "execute_result":
                text = content.get("data", {}).get("text/plain")
                if text:
                    _echo("stdout", text + "\n")
            elif kind == "error":
                _echo("stderr", _ANSI.sub("", "\n".join(content.get("traceback", []))) + "\n")
            return out

    return EchoingClient


def execute_notebook(
    path: Path, output: Path, kernel_python: str, parameters: dict[str, Any], cwd: Path
) -> int:
    """Execute the notebook with its parameters; save the executed copy even when a cell fails."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    inject_parameters(nb, parameters)
    with tempfile.TemporaryDirectory(prefix="nt-kernel-") as spec_dir:
        # A kernelspec of our own pins the kernel to the environment's interpreter, whatever
        # kernel the notebook's metadata names.
        kernel_dir = Path(spec_dir) / "notebook-tracker-project"
        kernel_dir.mkdir()
        spec = {
            "argv": [kernel_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "notebook-tracker project",
            "language": "python",
        }
        (kernel_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        # IPC sockets in our temporary folder: no TCP port to find or to leave open.
        km = KernelManager(
            kernel_name="notebook-tracker-project",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[spec_dir]),
            transport="ipc",
            ip=str(Path(spec_dir) / "kernel"),
        )
        client = _client_class()(
            nb,
            km=km,
            timeout=None,
            kernel_name="notebook-tracker-project",
            resources={"metadata": {"path": str(cwd)}},
        )
        status = 0
        try:
            client.execute()
        except CellExecutionError:
            status = 1  # the traceback was already echoed as the error output arrived
        except Exception as error:  # the kernel died or would not start
            _echo("stderr", f"notebook-tracker: executing {path.name} failed: {error}\n")
            status = 1
        finally:
            # The client does not stop a kernel it did not start; a graceful shutdown lets the
            # kernel run its exit hooks (which write the last buffered metrics).
            if km.has_kernel:
                km.shutdown_kernel(now=False)
            output.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, output)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute a notebook entry point headless.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--kernel-python", default=sys.executable)
    parser.add_argument("--parameters", default="{}")
    parser.add_argument("--cwd", type=Path, default=None)
    args = parser.parse_args(argv)
    cwd = args.cwd or args.notebook.parent
    return execute_notebook(
        args.notebook, args.output, args.kernel_python, json.loads(args.parameters), cwd
    )


if __name__ == "__main__":
    sys.exit(main())
