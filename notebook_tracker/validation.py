"""Checks on what users log, with messages that say what is allowed."""

from __future__ import annotations

import math
import posixpath
import re
from typing import Any

from notebook_tracker.errors import InvalidParameter

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Deeper JSON than any request of the API needs; past it, code that walks values would recurse.
MAX_JSON_DEPTH = 64

_KEY_RE = re.compile(r"^[\w\-. /:]+$")
_SURROGATE = re.compile("[\ud800-\udfff]")
# How a lone surrogate reaches a JSON body: as an escape (valid UTF-8 cannot carry one).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
# An integer orjson would read as a float (past 64 bits) has 19 digits or more: found as a run
# of zeros once every digit is one (a regex took 100 us for a log-batch, this 4).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_INTEGER = b"0" * 19
_TO_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
# Keys already checked: the metric hot path pays one set lookup for a key it has seen.
VALID_KEYS: set[str] = set()


def validate_key(key: object, what: str = "metric") -> str:
    """Keys like `loss`, `val/acc`, `layer.1 size`: letters, digits, spaces and `_ - . / :`."""
    if key in VALID_KEYS:
        return key
    if not isinstance(key, str) or not key:
        raise InvalidParameter(f"Invalid {what} name {key!r}: a name must be a non-empty string.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameter(
            f"Invalid {what} name {key[:40]!r}...: {len(key)} characters, at most "
            f"{MAX_KEY_LENGTH} are allowed."
        )
    if not _KEY_RE.match(key):
        raise InvalidParameter(
            f"Invalid {what} name {key!r}: names may contain only letters, digits, spaces and "
            "the characters _ - . / : (rename it, e.g. 'val_acc' or 'val/acc')."
        )
    norm = posixpath.normpath(key)
    if key.startswith("/") or norm != key.rstrip("/") or norm.startswith(".."):
        raise InvalidParameter(
            f"Invalid {what} name {key!r}: a name may not start with '/' or contain '..' or '//' "
            "segments."
        )
    if len(VALID_KEYS) < 100_000:
        VALID_KEYS.add(key)
    return key


def metric_value(value: object, key: str) -> float:
    """A real number (int, float, numpy scalar, 0-d array); NaN and ±inf are allowed."""
    if isinstance(value, bool):
        raise InvalidParameter(
            f"Metric {key!r} got the boolean {value!r}: metrics must be real numbers; "
            "log a flag as a param or tag instead, or convert it with int()."
        )
    if type(value) is int:
        return float(value)
    import numbers  # here: a fresh process's first point (a float or an int) needs no `numbers`

    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return metric_value(item(), key)
    raise InvalidParameter(
        f"Metric {key!r} got {type(value).__name__} {str(value)[:60]!r}: metric values must be "
        "real numbers (int, float or a numpy scalar)."
    )


def _no_nul(text: str, what: str) -> str:
    if "\x00" in text:
        raise InvalidParameter(f"{what} contains a NUL character (\\x00), which cannot be stored.")
    return storable_text(text, what)


def storable_text(text: str, what: str) -> str:
    """`text` if it is valid Unicode; a lone UTF-16 surrogate cannot be encoded or stored."""
    found = _SURROGATE.search(text)
    if found:
        raise InvalidParameter(
            f"{what} contains a lone UTF-16 surrogate ({ascii(found.group())[1:-1]} at "
            f"character {found.start()}), which is not valid text and cannot be stored: send "
            "valid Unicode (binary data as base64)."
        )
    return text


def param_value(value: object, key: str) -> str:
    text = _no_nul(value if isinstance(value, str) else str(value), f"Param {key!r}")
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidParameter(
            f"Param {key!r} is {len(text)} characters long; at most {MAX_PARAM_VALUE_LENGTH} are "
            "allowed. Log long values as an artifact (log_text or log_dict) instead."
        )
    return text


def tag_value(value: object, key: str) -> str:
    text = _no_nul(value if isinstance(value, str) else str(value), f"Tag {key!r}")
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameter(
            f"Tag {key!r} is {len(text)} characters long; at most {MAX_TAG_VALUE_LENGTH} are "
            "allowed. Log long values as an artifact instead."
        )
    return text


def experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(
            f"Invalid experiment name {name!r}: give a non-empty string, e.g. 'my-experiment'."
        )
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameter(
            f"Experiment name is {len(name)} characters; at most {MAX_EXPERIMENT_NAME_LENGTH}."
        )
    return _no_nul(name, "The experiment name")


def run_name(name: object) -> str:
    text = _no_nul(name if isinstance(name, str) else str(name), "The run name")
    if len(text) > MAX_KEY_LENGTH:
        raise InvalidParameter(
            f"The run name is {len(text)} characters long; at most {MAX_KEY_LENGTH} are allowed."
        )
    return text


def step_value(step: object) -> int:
    if step is None:
        return 0
    if type(step) is int:
        return int64_value(step, "step")
    import numbers

    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if isinstance(step, float) and step.is_integer():
            return int64_value(int(step), "step")
        raise InvalidParameter(f"Invalid step {step!r}: a step must be an integer.")
    return int64_value(int(step), "step")


def int64_value(value: int, what: str) -> int:
    """`value` if a 64-bit column can hold it (steps, timestamps)."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidParameter(
            f"Invalid {what} {value}: it must fit in a 64-bit signed integer "
            f"({INT64_MIN} to {INT64_MAX})."
        )
    return value


def parse_json(body: bytes | str, what: str = "The request body") -> Any:
    """A JSON document that is safe to walk and to store: 400 (InvalidParameter) for malformed
    JSON, nesting deeper than MAX_JSON_DEPTH, or a lone surrogate in any key or string."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    try:
        data = _loads(body, raw)
    except RecursionError:
        _too_deep(what)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"{what} is not valid JSON: {exc}.") from None
    if nested_deeper_than(raw, MAX_JSON_DEPTH):
        _too_deep(what)
    if _has_lone_surrogate_escape(raw):  # rare: only then walk the strings, to name the field
        check_json_value(data, what)
    return data


def _loads(body: bytes | str, raw: bytes) -> Any:
    """json.loads, by orjson where it reads the text the same way (a 100-metric log-batch in
    22 us against 79). orjson refuses NaN, Infinity, numbers beyond a double, lone surrogates
    and a BOM, and reads an integer past 64 bits as a float: those go to json, which says what
    is wrong in its own words."""
    import orjson  # servers parse JSON; a process that only logs never does

    if not _has_long_integer(raw):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    import json

    return json.loads(body)


def _has_long_integer(raw: bytes) -> bool:
    """Whether JSON text may hold an integer of 19 digits or more: a run of 19 digits not after
    a decimal point (a value under 0.01 may have 19 after it: 63% of log-batch bodies of 100
    random values hold one). Digits in a string only cost json's slower read."""
    digits = raw.translate(_DIGITS_AS_ZERO)
    at = digits.find(_LONG_INTEGER)
    while at != -1:
        if at == 0 or digits[at - 1] != 0x2E:  # "."
            return True
        end = at + len(_LONG_INTEGER)
        while end < len(digits) and digits[end] == 0x30:  # "0"
            end += 1
        at = digits.find(_LONG_INTEGER, end)
    return False


def _has_lone_surrogate_escape(raw: bytes) -> bool:
    """Whether JSON text escapes a lone surrogate: a real escape (after an even run of
    backslashes) of a surrogate that is not a high one right before a low one (an emoji, as
    `json.dumps` writes it)."""
    if not _SURROGATE_ESCAPE.search(raw):
        return False
    escapes = [m for m in _SURROGATE_ESCAPE.finditer(raw) if _unescaped(raw, m.start())]
    i = 0
    while i < len(escapes):
        here = escapes[i]
        high = here.group()[3:4].lower() in b"89ab"
        after = escapes[i + 1] if i + 1 < len(escapes) else None
        if not high or after is None or after.start() != here.end():
            return True
        if after.group()[3:4].lower() in b"89ab":  # two highs in a row
            return True
        i += 2
    return False


def _unescaped(raw: bytes, at: int) -> bool:
    """Whether the backslash at `at` starts an escape (is not itself escaped)."""
    run = 0
    while at - run > 0 and raw[at - run - 1] == 0x5C:
        run += 1
    return run % 2 == 0


def nested_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether a valid JSON document nests more than `limit` levels, found at C speed: its
    strings dropped, its brackets kept, then the innermost pairs removed level by level."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    # Kept: quotes and brackets. When no string holds a bracket (or an escaped quote), each
    # string is now "" and removing those leaves no quote; otherwise drop strings by regex.
    structure = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = _JSON_STRING.sub(b"", raw)
    brackets = structure.translate(_TO_BRACKETS, _NOT_BRACKETS)
    for _ in range(limit):
        brackets = brackets.replace(b"[]", b"")
        if not brackets:
            return False
    return True


def check_json_value(data: Any, what: str = "The request body", text: bool = True) -> None:
    """Walk a parsed JSON value without recursion: its depth and, with `text`, every key and
    string for lone surrogates, naming the field."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    walked = (dict, list, str) if text else (dict, list)
    while stack:
        value, depth, path = stack.pop()
        if type(value) is str:
            storable_text(value, f"Field '{path or '(body)'}'")
            continue
        if depth >= MAX_JSON_DEPTH:
            _too_deep(what)
        if type(value) is dict:
            if text:
                for key in value:
                    storable_text(key, f"A field name in '{path or '(body)'}'")
            prefix = f"{path}." if path else ""
            children = [(v, f"{prefix}{k}") for k, v in value.items() if type(v) in walked]
        else:
            children = [(v, f"{path}[{i}]") for i, v in enumerate(value) if type(v) in walked]
        stack.extend((child, depth + 1, where) for child, where in children)


def _too_deep(what: str) -> None:
    raise InvalidParameter(
        f"{what} is nested more than {MAX_JSON_DEPTH} levels deep: send the flat objects and "
        "lists the API documents."
    ) from None


def is_nan(value: float) -> bool:
    return math.isnan(value)


def check_token(token: str | None, source: str) -> str | None:
    """`token` if HTTP can carry it, else an InvalidParameter naming `source` and the fix.

    Headers are ASCII: a token with other characters could never be sent, so it is refused
    where it is configured instead of failing (or being mangled) on every request.
    """
    if not token:
        return None
    if any(not ("!" <= c <= "~") for c in token):
        raise InvalidParameter(
            f"{source} may contain only printable ASCII characters, without spaces: HTTP "
            "headers cannot carry others. Use a random ASCII token, e.g. the output of "
            'python -c "import secrets; print(secrets.token_urlsafe(32))".'
        )
    return token
