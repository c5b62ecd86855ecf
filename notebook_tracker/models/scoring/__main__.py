"""`python -m notebook_tracker.models.scoring --model-dir DIR [--port N] ...` (what the CLI,
`%serve_model` and the Jupyter extension start in a child process)."""

from __future__ import annotations

import argparse
import sys

from notebook_tracker.models.scoring.app import DEFAULT_MAX_BODY_BYTES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notebook_tracker.models.scoring")
    parser.add_argument("--model-dir", required=True, help="local model directory (has MLmodel)")
    parser.add_argument("--model-uri", default=None, help="the URI it came from, for display")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--port-file", default=None)
    args = parser.parse_args(argv)
    from notebook_tracker.errors import TrackerError
    from notebook_tracker.models.scoring.server import serve

    try:
        serve(
            args.model_dir,
            host=args.host,
            port=args.port,
            workers=max(1, args.workers),
            max_body_bytes=args.max_body_bytes,
            parent_pid=args.parent_pid,
            port_file=args.port_file,
            model_uri=args.model_uri,
        )
    except TrackerError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
