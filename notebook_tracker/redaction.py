"""Secrets out of logs and messages: tokens in URLs and headers, passwords in URIs.

`redact(text)` hides what looks like a credential in any text; `RedactingFilter` applies it to
every log record (message and traceback) of the loggers it is installed on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

SECRET = "[secret]"

# A query parameter; its value is hidden when its name contains one of _SECRET_NAMES. The
# name is tested in Python, not in the pattern: a pattern searching names for those words
# backtracks quadratically on a long name ("?tokentoken..." of 64 kB took 20 s).
_QUERY_PARAM = re.compile(r"(?P<keep>[?&;](?P<name>[^=&;#\s?]*)=)(?P<value>[^&;#\s\"'<>]*)")
_SECRET_NAMES = (
    "token", "password", "passwd", "secret", "key", "auth", "signature", "credential",
)  # fmt: skip
# `Authorization: Bearer x`, `'Authorization': 'token x'`, `Basic x`, `Cookie: a=b`.
_HEADER_SECRET = re.compile(
    r"(?P<keep>(?:authorization|proxy-authorization)[\"']?\s*[:=]\s*[\"']?\s*"
    r"(?:bearer|token|basic|digest)?\s*)(?!<|(?:bearer|token|basic|digest)\b)[^\s\"',}]+",
    re.IGNORECASE,
)
_COOKIE_SECRET = re.compile(r"(?P<keep>\bcookie[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+", re.IGNORECASE)
# `scheme://user:password@host`
_URL_PASSWORD = re.compile(
    # The lookbehind starts a match only where a scheme can start: without it, a long run of
    # letters (a 1 MB URL) is rescanned from every position, minutes of a server's IO loop.
    r"(?P<keep>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?!password@|\*+@|<)[^@\s/]+@",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with tokens, Authorization values, cookies and URL passwords replaced."""
    if not text:
        return text
    lowered = text.lower()  # substring tests first: most lines need none of the patterns
    if "=" in text:
        text = _QUERY_PARAM.sub(_query_param, text)
    if "authorization" in lowered:
        text = _HEADER_SECRET.sub(rf"\g<keep>{SECRET}", text)
    if "cookie" in lowered:
        text = _COOKIE_SECRET.sub(rf"\g<keep>{SECRET}", text)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\g<keep>{SECRET}@", text)
    return text


def _query_param(match: re.Match[str]) -> str:
    name = match["name"].lower()
    if match["value"] and any(word in name for word in _SECRET_NAMES):
        return match["keep"] + SECRET
    return match[0]


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and formatted traceback) through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()

# Loggers that see request URLs or exceptions raised while handling a request.
SERVER_LOGGERS = (
    "tornado.access",
    "tornado.application",
    "tornado.general",
    "notebook_tracker",
    "notebook_tracker.server",
    "notebook_tracker.scoring",
)


def install(loggers: Iterable[logging.Logger | str] = SERVER_LOGGERS) -> None:
    """Redact every record logged directly on `loggers` (idempotent).

    A logger's filters see only its own records, so children that log must be listed too.
    """
    for item in loggers:
        logger = logging.getLogger(item) if isinstance(item, str) else item
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
