"""The fields of an MLflow REST request, read with the type each endpoint expects.

A GET request's fields come from the query string (a repeated field as repeated keys), other
methods' from a JSON object body. int64 fields arrive as numbers or numeric strings, doubles as
numbers or the strings "NaN", "Infinity", "-Infinity" (`notebook_tracker.wire.SPECIAL_DOUBLES`);
run requests carry `run_id` and/or the legacy `run_uuid`. Replies are written by
`notebook_tracker.wire`, the one module of MLflow's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, overload

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.wire import INT64_MAX, INT64_MIN, SPECIAL_DOUBLES

_DOC_HINT = "See the API docs for more information about request parameters."


def missing(name: str) -> InvalidParameter:
    return InvalidParameter(f"Missing value for required parameter '{name}'. {_DOC_HINT}")


def invalid(name: str, value: Any, expected: str) -> InvalidParameter:
    shown = json.dumps(value, default=str)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidParameter(
        f"Invalid value {shown} for parameter '{name}' supplied: expected {expected}, got "
        f"{type(value).__name__}. {_DOC_HINT}"
    )


def checked_text(name: str, value: str, max_length: int | None = None) -> str:
    """Text a database can store: no NUL character, and within the column's length."""
    if "\x00" in value:
        raise InvalidParameter(f"Invalid value for parameter '{name}': it contains a NUL byte.")
    if max_length is not None and len(value) > max_length:
        raise InvalidParameter(
            f"Invalid value for parameter '{name}': {len(value)} characters, at most "
            f"{max_length} are allowed."
        )
    return value


class Params:
    """The fields of one request, read with the type each endpoint expects."""

    def __init__(self, fields: Mapping[str, Any], from_query: bool = False) -> None:
        self._fields = fields
        self._from_query = from_query
        # How to answer this request's client the moment its write commits, for an endpoint
        # whose whole write is one transaction answered `{}` (store/commit_notice.py): the
        # call channel's. None: answer when the endpoint returns.
        self.notice: Callable[[], None] | None = None

    @classmethod
    def from_query(cls, arguments: Mapping[str, list[bytes]]) -> Params:
        decoded: dict[str, list[str]] = {}
        for name, values in arguments.items():
            try:
                decoded[name] = [v.decode("utf-8") for v in values]
            except UnicodeDecodeError:
                raise InvalidParameter(
                    f"Query parameter '{name}' is not valid UTF-8. {_DOC_HINT}"
                ) from None
        return cls(decoded, from_query=True)

    @classmethod
    def from_json(cls, body: bytes) -> Params:
        if not body.strip():
            return cls({})
        try:
            fields = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidParameter(
                f"The request body is not valid JSON ({exc}). Send a JSON object with "
                "Content-Type: application/json."
            ) from None
        if not isinstance(fields, dict):
            raise InvalidParameter(
                f"The request body must be a JSON object, got {type(fields).__name__}."
            )
        return cls(fields)

    def with_path_args(self, **path_args: str) -> Params:
        """The same fields plus those taken from the URL path (which win over the body)."""
        merged = dict(self._fields)
        for name, value in path_args.items():
            merged[name] = [value] if self._from_query else value
        return Params(merged, self._from_query)

    def has(self, name: str) -> bool:
        return self.raw(name) is not None

    def raw(self, name: str) -> Any:
        value = self._fields.get(name)
        if self._from_query and isinstance(value, list):
            return value[0] if value else None
        return value

    # -- scalars ------------------------------------------------------------------------------
    def string(
        self,
        name: str,
        required: bool = False,
        default: str | None = None,
        max_length: int | None = None,
    ) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise missing(name)
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # protobuf-JSON clients sometimes send ids as numbers
        if not isinstance(value, str):
            raise invalid(name, value, "a string")
        if required and value == "":
            raise missing(name)
        return checked_text(name, value, max_length)

    def require(self, name: str) -> str:
        """A required, non-empty string field."""
        value = self.string(name, required=True)
        assert value is not None
        return value

    @overload
    def int64(self, name: str, required: Literal[True]) -> int: ...
    @overload
    def int64(self, name: str, required: bool = False, *, default: int) -> int: ...
    @overload
    def int64(
        self, name: str, required: bool = False, default: int | None = None
    ) -> int | None: ...
    def int64(self, name: str, required: bool = False, default: int | None = None) -> int | None:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return default
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                number = None
        if number is None or not INT64_MIN <= number <= INT64_MAX:
            raise invalid(name, value, "a 64-bit integer")
        return number

    @overload
    def double(self, name: str, required: Literal[True]) -> float: ...
    @overload
    def double(self, name: str, required: bool = False) -> float | None: ...
    def double(self, name: str, required: bool = False) -> float | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise missing(name)
            return None
        if isinstance(value, bool):
            raise invalid(name, value, "a number")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            if value in SPECIAL_DOUBLES:
                return SPECIAL_DOUBLES[value]
            try:
                return float(value)
            except ValueError:
                pass
        raise invalid(name, value, "a number, 'NaN', 'Infinity' or '-Infinity'")

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid(name, value, "true or false")

    def enum(
        self, name: str, allowed: Iterable[str], default: str | None = None, first: int = 1
    ) -> str | None:
        """An enum field by name, or by its protobuf number (`allowed[0]` is number `first`)."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        names = list(allowed)
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if first <= value < first + len(names):
                return names[value - first]
        if isinstance(value, str) and value.upper() in names:
            return value.upper()
        raise InvalidParameter(
            f"Invalid value {value!r} for parameter '{name}': use one of {', '.join(names)}."
        )

    def run_id(self) -> str:
        """`run_id`, or the legacy `run_uuid` older clients send instead."""
        run_id = self.string("run_id") or self.string("run_uuid")
        if not run_id:
            raise missing("run_id")
        return run_id

    # -- repeated fields ------------------------------------------------------------------------
    def strings(self, name: str) -> list[str]:
        value = self._fields.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            value = [value]
        out = []
        for item in value:
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str):
                raise invalid(name, item, "a list of strings")
            out.append(checked_text(name, item))
        return out

    def messages(self, name: str) -> list[Params]:
        """A repeated message field (JSON bodies; a GET may pass each item as a JSON string)."""
        value = self._fields.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid(name, value, "a list of objects")
        out = []
        for item in value:
            if isinstance(item, str) and self._from_query:
                try:
                    item = json.loads(item)
                except ValueError:
                    pass
            if not isinstance(item, dict):
                raise invalid(name, item, "a list of objects")
            out.append(Params(item))
        return out

    def message(self, name: str) -> Params | None:
        value = self._fields.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid(name, value, "an object")
        return Params(value)

    def key_values(self, name: str, value_required: bool = True) -> list[tuple[str, str]]:
        """A repeated `{key, value}` field (tags, params) as (key, value) pairs."""
        pairs: list[tuple[str, str]] = []
        for item in self.messages(name):
            key = item.require("key")
            value = item.string("value", required=value_required, default="")
            if value is None:
                value = ""
            pairs.append((key, value))
        return pairs
