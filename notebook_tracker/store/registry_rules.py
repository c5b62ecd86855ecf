"""What the model registry accepts (names, aliases, version numbers) and its page tokens."""

from __future__ import annotations

import re
from typing import Any

from notebook_tracker import validation
from notebook_tracker.clock import now_ms
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store.paging import decode_token, encode_token

_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


def now() -> int:
    return now_ms()


def token(offset: int, query: str | None = None) -> str:
    return encode_token(offset, query)


def offset(token: str | None, query: str | None = None) -> int:
    return decode_token(token, query)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("A registered model name must be a non-empty string.")
    if "/" in name or "@" in name or len(name) > 256:
        raise InvalidParameter(
            f"Invalid registered model name {name!r}: names may not contain '/' or '@' (they "
            "would be ambiguous in models:/ URIs) and have at most 256 characters."
        )
    return name


def check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not alias.strip() or "/" in alias or "@" in alias:
        raise InvalidParameter(
            f"Invalid alias {alias!r}: use a non-empty name without '/' or '@', e.g. 'champion'."
        )
    if _RESERVED_ALIAS.match(alias):
        raise InvalidParameter(
            f"The alias {alias!r} is reserved ('latest' and 'v<number>' have fixed meanings in "
            "models:/ URIs): pick another name."
        )
    return alias


def check_version(version: Any) -> int:
    try:
        number = int(str(version))
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid model version {version!r}: expected a number.") from None
    if not 1 <= number < 2**31:
        raise InvalidParameter(
            f"Invalid model version {version!r}: versions are numbered from 1 to {2**31 - 1}."
        )
    return number


def check_tag(key: Any, value: Any) -> tuple[str, str]:
    """A registry tag: the key and value rules of run tags."""
    validation.validate_key(key, "tag")
    return key, validation.tag_value(value, key)


def check_tags(tags: dict[str, Any] | None) -> dict[str, str]:
    return dict(check_tag(k, v) for k, v in (tags or {}).items())
