"""The call channel's framing: MLflow's hot single calls over one upgraded connection.

A synchronous `log_param`, `set_tag` or `log_metric` from our own client is one small request
whose cost on both ends is mostly HTTP itself: the server's request parsing, header objects and
reply, the client's head and status line. The standalone server offers, on the same port, an
upgrade of a kept connection (`GET {base}/UPGRADE_PATH` with `Upgrade: PROTOCOL` and the usual
`Authorization`), after which each call is one frame and each answer one frame:

    request  = u32 length | u8 endpoint (index into ENDPOINTS) | JSON body (length - 1 bytes)
    answer   = u32 length | u16 HTTP status | JSON body (length bytes)

Bodies are exactly the HTTP API's: the same JSON in, the same JSON (or error JSON) out, so the
client treats an answer as it treats an HTTP reply. Integers are big-endian. A server that does
not know the upgrade (an older one, MLflow's, the Jupyter extension) answers with anything but
101 and the client stays on HTTP.
"""

from __future__ import annotations

import struct

PROTOCOL = "notebook-tracker-calls/1"
UPGRADE_PATH = "api/2.0/notebook-tracker/calls"
# The endpoints a frame may name, by index; under `api/2.0/mlflow/`.
ENDPOINTS = ("runs/log-metric", "runs/log-parameter", "runs/set-tag", "runs/log-batch")
CODES = {name: code for code, name in enumerate(ENDPOINTS)}

REQUEST_HEAD = struct.Struct(">IB")
ANSWER_HEAD = struct.Struct(">IH")


def request_frame(endpoint: str, body: bytes) -> bytes:
    return REQUEST_HEAD.pack(len(body) + 1, CODES[endpoint]) + body


def answer_frame(status: int, body: bytes) -> bytes:
    return ANSWER_HEAD.pack(len(body), status) + body


__all__ = [
    "ANSWER_HEAD",
    "CODES",
    "ENDPOINTS",
    "PROTOCOL",
    "REQUEST_HEAD",
    "UPGRADE_PATH",
    "answer_frame",
    "request_frame",
]
