"""How long hiding secrets takes on what a server logs, including hostile URLs.

    python benchmarks/bench_redaction.py

The standalone server redacts each access-log line on its IO loop, so `redact()` must stay
linear in its input: prints the time for a typical access line and for 64 kB URLs built to
make a backtracking pattern quadratic (the longest a client can send through tornado's
default header limit).
"""

from __future__ import annotations

import time

from notebook_tracker.redaction import redact

SIZE = 64 * 1024
HOSTILE = {
    "letters only": "/x?" + "a" * SIZE + "=1",
    "a name repeating 'token'": "/x?" + "token" * (SIZE // 5) + "=1",
    "many empty secret params": "/x?" + "&token=" * (SIZE // 7),
    "many token=value params": "/x?" + "&token=a" * (SIZE // 8),
    "'authorization' repeated": "authorization: " * (SIZE // 15),
    "scheme-like runs": "a://" + "a:" * (SIZE // 2),
}
TYPICAL = "GET /api/2.0/mlflow/runs/search?token=0123456789abcdef&max_results=100 (127.0.0.1)"


def main() -> None:
    rounds = 20_000
    start = time.perf_counter()
    for _ in range(rounds):
        redact(TYPICAL)
    per_line = (time.perf_counter() - start) / rounds
    print(f"typical access line: {per_line * 1e6:.1f} us per line")
    for name, text in HOSTILE.items():
        start = time.perf_counter()
        redact(text)
        print(f"{name:>28} ({len(text) // 1024} kB): {(time.perf_counter() - start) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
