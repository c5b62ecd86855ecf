"""The one page-token format and result limits, shared by every store (the clock is clock.py).

A page token carries the offset of the next page (or, for run searches, the order keys of the
last run shown: run_pages.py) and a fingerprint of the search it came from
(what was searched, the filter, the order, the view...). A token used with another search, or
one that was not made here, is refused with a message saying so, rather than silently paging
through something else; an offset no search can reach is refused before it reaches SQL.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store.base import SEARCH_MAX_RESULTS_THRESHOLD

# Above any row count a store holds; also what a 32-bit OFFSET can take.
MAX_OFFSET = 2**31 - 1
_MAX_TOKEN_CHARS = 512


def query_key(*parts: Any) -> str:
    """A short fingerprint of a search's arguments, to bind its page tokens to it."""
    text = json.dumps(parts, default=str, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_token(offset: int, query: str | None = None) -> str:
    fields: dict[str, Any] = {"offset": offset}
    if query is not None:
        fields["q"] = query
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()


def decode_token(token: str | None, query: str | None = None) -> int:
    """The offset a page token carries; 400 if it is malformed, out of range, or (when `query`
    is given) was made by a different search."""
    if not token:
        return 0
    fields = _token_fields(token)
    offset = fields.get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise _invalid(token, "it holds no valid offset")
    if offset > MAX_OFFSET:
        raise _invalid(token, f"its offset {offset} is beyond any result (at most {MAX_OFFSET})")
    _check_query(token, fields, query)
    return offset


def keyset_token(values: list[Any], query: str) -> str:
    """A token for the page after the row whose order keys are `values` (JSON scalars)."""
    return base64.urlsafe_b64encode(json.dumps({"after": values, "q": query}).encode()).decode()


def keyset_fields(token: str, query: str) -> list[Any]:
    """The order keys a keyset token carries; 400 if it is malformed or was made by a different
    search. The caller checks that they fit its order."""
    fields = _token_fields(token)
    _check_query(token, fields, query)
    values = fields.get("after")
    if not isinstance(values, list) or not all(
        v is None or isinstance(v, (str, int, float)) for v in values
    ):
        raise _invalid(token, "it is not a token this server returned")
    return values


def _check_query(token: str, fields: dict[str, Any], query: str | None) -> None:
    if query is not None and fields.get("q") != query:
        raise InvalidParameter(
            f"Invalid page_token {_shown(token)}: it belongs to a different search (another "
            "filter, order or view). Repeat the search that returned it, "
            "or start again without a page_token."
        )


def _token_fields(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        raise _invalid(token, "it is not a token this server returned")
    try:
        fields = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError, TypeError, RecursionError):
        raise _invalid(token, "it is not a token this server returned") from None
    if not isinstance(fields, dict):
        raise _invalid(token, "it is not a token this server returned")
    return fields


def _shown(token: object) -> str:
    text = ascii(token)
    return text if len(text) <= 60 else text[:57] + "..."


def invalid_token(token: object, why: str) -> InvalidParameter:
    """The error for a page token that cannot be used, saying `why` and what to pass instead."""
    return _invalid(token, why)


def _invalid(token: object, why: str) -> InvalidParameter:
    return InvalidParameter(
        f"Invalid page_token {_shown(token)}: {why}. Pass the next_page_token a previous page "
        "of the same search returned."
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
