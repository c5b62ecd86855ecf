"""HTTP request framing both tornado apps check (the tracking server and a model's scoring
server): one Content-Length, or chunked, never both. Knows nothing of tornado."""

from __future__ import annotations

from typing import Any


def drop_bad_framing(headers: Any) -> str | None:
    """What is wrong with a request's body framing, if anything, having removed the offending
    headers (tornado reads the body by the same headers object: without them it reads no body
    and adds no bare 400 of its own after the JSON one)."""
    length = headers.get_list("Content-Length")
    values = [v.strip() for v in ",".join(length).split(",")] if length else []
    coding = headers.get("Transfer-Encoding")
    problem = None
    if coding is not None and coding.strip().lower() != "chunked":
        problem = f"Transfer-Encoding {coding!r} is not supported: send chunked or plain."
    elif coding is not None and length:
        problem = "A request may not have both Transfer-Encoding and Content-Length."
    elif not all(v.isascii() and v.isdigit() for v in values):  # not "²": int() refuses it
        problem = f"Content-Length {', '.join(length)!r} is not a byte count."
    elif len(set(values)) > 1:
        problem = f"Content-Length {', '.join(length)!r} gives different byte counts."
    if problem is not None:
        for name in ("Content-Length", "Transfer-Encoding"):
            if name in headers:
                del headers[name]
    return problem
