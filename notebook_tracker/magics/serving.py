"""`%serve_model`: serve a model over HTTP from a notebook, in its own process.

    %serve_model models:/churn@champion [--port 5001] [--name churn] [--workers 2]
    %serve_model --list
    %serve_model --stop churn        (or --all)

The server runs in a child process, so the kernel stays responsive; it ends with the kernel.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

_manager: Any = None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise ValueError(message or self.format_help())


def _parser() -> _Parser:
    p = _Parser(prog="%serve_model", description="Serve a model over HTTP from this kernel.")
    p.add_argument("model_uri", nargs="?", help="models:/name@alias, runs:/id/path, a path...")
    p.add_argument("--port", type=int, default=None, help="default: a free port")
    p.add_argument("--name", default=None, help="name to list and stop it by")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--list", action="store_true", help="list the models this kernel serves")
    p.add_argument("--stop", metavar="NAME", nargs="?", const="", default=None, help="stop one")
    p.add_argument("--all", action="store_true", help="with --stop: stop every served model")
    return p


def manager() -> Any:
    """The worker manager of this kernel (created on first use)."""
    global _manager
    if _manager is None:
        from notebook_tracker.models.workers import WorkerManager

        _manager = WorkerManager()
        _manager.start_monitor()
    return _manager


def default_name(model_uri: str) -> str:
    """A short name from a model URI: models:/churn@champion -> churn-champion."""
    text = model_uri.rstrip("/")
    if text.startswith("models:"):
        text = text[len("models:") :].strip("/").replace("@", "-").replace("/", "-")
    elif text.startswith("runs:"):
        run_id, _, path = text[len("runs:") :].strip("/").partition("/")
        text = f"{path.rsplit('/', 1)[-1] or 'model'}-{run_id[:8]}"
    else:
        text = text.rsplit("/", 1)[-1] or "model"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "model"


def example_body(model_dir: Any, metadata: Any) -> str:
    """A request body to show: the saved serving example, else one shaped by the signature."""
    from notebook_tracker.models.examples import serving_example

    saved = serving_example(model_dir, metadata.saved_input_example_info)
    if saved:
        payload = json.loads(saved)
        if "dataframe_split" in payload:
            split = payload["dataframe_split"]
            split["data"] = split.get("data", [])[:2]
        return json.dumps(payload)
    signature = metadata.signature
    if signature is not None and signature.inputs is not None and signature.inputs.has_names:
        columns = signature.inputs.names()
        sample = {"string": "text", "boolean": True, "datetime": "2024-01-01T00:00:00"}
        row = [sample.get(getattr(s, "type", ""), 0.0) for s in signature.inputs.inputs]
        return json.dumps({"dataframe_split": {"columns": columns, "data": [row]}})
    return json.dumps({"inputs": [[0.0]]})


def usage_text(worker: Any, body: str, elapsed: float) -> str:
    url = f"{worker.url}/invocations"
    quoted = body.replace("'", "'\\''")
    return "\n".join(
        [
            f"Serving {worker.model_uri} as {worker.name!r} at {worker.url} "
            f"(pid {worker.pid}, ready in {elapsed:.1f} s)",
            "",
            "curl:",
            f"  curl -s {url} -H 'Content-Type: application/json' -d '{quoted}'",
            "",
            "Python:",
            "  import requests",
            f"  requests.post({url!r}, json={json.loads(body)!r}).json()",
            "",
            f"Stop it with: %serve_model --stop {worker.name}",
        ]
    )


def listing_text(workers: list[Any]) -> str:
    if not workers:
        return "No models served by this kernel."
    lines = [f"{'name':20} {'state':8} {'pid':>7}  url / model"]
    for w in workers:
        lines.append(f"{w.name:20} {w.state:8} {w.pid or '-':>7}  {w.url}  {w.model_uri}")
    return "\n".join(lines)


@magics_class
class ServingMagics(Magics):
    @line_magic
    def serve_model(self, line: str) -> Any:
        """%serve_model MODEL_URI [--port N] [--name NAME] [--workers N]; --list;
        --stop NAME | --stop --all (or --all): serve models over HTTP from this kernel."""
        from notebook_tracker.errors import TrackerError

        try:
            args = _parser().parse_args(shlex.split(line))
        except ValueError as error:
            print(error, file=sys.stderr)
            return None
        try:
            return self._run(args)
        except TrackerError as error:
            print(f"Error: {error.message}", file=sys.stderr)
        return None

    def _run(self, args: argparse.Namespace) -> None:
        if args.list:
            print(listing_text(manager().list()) if _manager is not None else listing_text([]))
            return
        if args.stop is not None or args.all:
            self._stop(args)
            return
        if not args.model_uri:
            print("Usage: %serve_model MODEL_URI [--port N] [--name NAME]", file=sys.stderr)
            return
        from notebook_tracker.models.mlmodel import Model
        from notebook_tracker.models.uris import download_model

        started = time.perf_counter()
        model_dir = download_model(args.model_uri)
        name = args.name or default_name(args.model_uri)
        worker = manager().start(
            name,
            args.model_uri,
            port=args.port,
            host=args.host,
            workers=args.workers,
            model_dir=model_dir,
        )
        body = example_body(model_dir, Model.load(model_dir))
        print(usage_text(worker, body, time.perf_counter() - started))

    def _stop(self, args: argparse.Namespace) -> None:
        if _manager is None:
            print("No models served by this kernel.")
            return
        if not args.all and not args.stop:
            print("Name the model to stop (see %serve_model --list), or use --all.")
            return
        if args.all:
            names = _manager.names()
            _manager.stop_all()
            print(f"Stopped {', '.join(names)}." if names else "No models were served.")
            return
        _manager.stop(args.stop)
        print(f"Stopped {args.stop}.")
