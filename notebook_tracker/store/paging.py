"""Page tokens, result limits and the clock, shared by the SQL store's parts."""

from __future__ import annotations

import base64
import json
import time

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store.base import SEARCH_MAX_RESULTS_THRESHOLD


def now_ms() -> int:
    return int(time.time() * 1000)


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise InvalidParameter(
        f"Invalid page_token {token!r}: pass the token a previous page returned."
    )


def check_max_results(max_results: int) -> int:
    if (
        not isinstance(max_results, int)
        or max_results < 1
        or max_results > SEARCH_MAX_RESULTS_THRESHOLD
    ):
        raise InvalidParameter(
            f"Invalid max_results {max_results!r}: it must be between 1 and "
            f"{SEARCH_MAX_RESULTS_THRESHOLD}."
        )
    return max_results
