"""What the server's bad-input checks cost on the hot path: a log-batch body of 1000 metrics.

    python benchmarks/bench_input_checks.py

Prints, per body, the time of `json.loads` alone and of `validation.parse_json` (the same
parse plus the nesting-depth check and the lone-surrogate scan every JSON body gets), and the
overhead as a share of the parse. Bodies: 1000 metrics (a full MLflow log-batch), the same
with an emoji in every key (escaped surrogate pairs trigger the per-string walk), and 100 tags
of 8000 characters (long strings, few brackets).
"""

from __future__ import annotations

import json
import timeit

from notebook_tracker.validation import parse_json


def _best(fn: object, number: int = 50) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number  # type: ignore[arg-type]


def main() -> None:
    metrics = [{"key": f"m{i}", "value": i / 3, "timestamp": 1_700_000_000_000 + i, "step": i}
               for i in range(1000)]  # fmt: skip
    bodies = {
        "1000 metrics": {"run_id": "a" * 32, "metrics": metrics},
        "1000 metrics, emoji keys": {
            "run_id": "a" * 32,
            "metrics": [{**m, "key": m["key"] + "\U0001f600"} for m in metrics],
        },
        "100 tags x 8000 chars": {
            "run_id": "a" * 32,
            "tags": [{"key": f"t{i}", "value": "v" * 8000} for i in range(100)],
        },
    }
    print(f"{'body':<26}{'bytes':>9}{'json.loads':>13}{'parse_json':>13}{'overhead':>10}")
    for name, payload in bodies.items():
        raw = json.dumps(payload).encode()
        plain = _best(lambda raw=raw: json.loads(raw))
        checked = _best(lambda raw=raw: parse_json(raw))
        print(
            f"{name:<26}{len(raw):>9}{plain * 1e3:>11.2f}ms{checked * 1e3:>11.2f}ms"
            f"{(checked - plain) / plain:>10.0%}"
        )


if __name__ == "__main__":
    main()
