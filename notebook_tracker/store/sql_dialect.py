"""The dialect-aware SQL pieces of the searches: LIKE/ILIKE with the same meaning on every
dialect, code-point text order, and a way to keep SQLite off an index.

LIKE is case-sensitive and ILIKE case-insensitive on every dialect: SQLite's own LIKE ignores
case (and a PRAGMA can change that), so on SQLite patterns are translated to GLOB.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, Text, literal
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


def _like_tokens(pattern: str) -> list[tuple[str, str]]:
    """('any'|'one'|'lit', char) for a LIKE pattern whose escape character is backslash."""
    tokens, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            tokens.append(("lit", pattern[i + 1]))
            i += 2
            continue
        tokens.append(("any" if ch == "%" else "one" if ch == "_" else "lit", ch))
        i += 1
    return tokens


def like_to_glob(pattern: str) -> str:
    """The GLOB pattern matching exactly what `pattern` matches under LIKE (case kept)."""
    out = []
    for kind, ch in _like_tokens(pattern):
        if kind == "any":
            out.append("*")
        elif kind == "one":
            out.append("?")
        else:
            out.append(f"[{ch}]" if ch in "*?[" else ch)
    return "".join(out)


def _like_canonical(pattern: str) -> str:
    # A trailing lone backslash is literal here; PostgreSQL would reject it, so escape it.
    out = []
    for kind, ch in _like_tokens(pattern):
        out.append(
            "%" if kind == "any" else "_" if kind == "one" else ("\\" + ch if ch in "%_\\" else ch)
        )
    return "".join(out)


class _LikePattern(TypeDecorator[str]):
    """A LIKE pattern bound in the form the connection's dialect matches with."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return like_to_glob(value) if dialect.name == "sqlite" else _like_canonical(value)


class _PatternMatch(FunctionElement[bool]):
    type = Boolean()
    inherit_cache = True


class case_sensitive_match(_PatternMatch):  # noqa: N801 - SQL construct naming
    name = "case_sensitive_match"
    inherit_cache = True


class case_insensitive_match(_PatternMatch):  # noqa: N801
    name = "case_insensitive_match"
    inherit_cache = True


class no_index(FunctionElement[Any]):  # noqa: N801
    """A column SQLite must not pick an index for (`+column`), so it can use another."""

    name = "no_index"
    inherit_cache = True


class text_order(FunctionElement[Any]):  # noqa: N801
    """A text column compared by code point on every dialect (SQLite's default order)."""

    name = "text_order"
    inherit_cache = True


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(arg, **kw) for arg in element.clauses]


@compiles(case_sensitive_match)
def _like_default(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _args(element, compiler, **kw)
    return f"({column} LIKE {pattern} ESCAPE '\\')"


@compiles(case_insensitive_match)
def _ilike_default(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _args(element, compiler, **kw)
    return f"(lower({column}) LIKE lower({pattern}) ESCAPE '\\')"


@compiles(case_sensitive_match, "postgresql")
def _like_postgresql(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _args(element, compiler, **kw)
    return f"({column} LIKE {pattern})"


@compiles(case_insensitive_match, "postgresql")
def _ilike_postgresql(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _args(element, compiler, **kw)
    return f"({column} ILIKE {pattern})"


@compiles(case_sensitive_match, "sqlite")
def _like_sqlite(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _args(element, compiler, **kw)
    return f"({column} GLOB {pattern})"


@compiles(case_insensitive_match, "sqlite")
def _ilike_sqlite(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _args(element, compiler, **kw)
    return f"(lower({column}) GLOB lower({pattern}))"


@compiles(no_index)
def _no_index_default(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return _args(element, compiler, **kw)[0]


@compiles(no_index, "sqlite")
def _no_index_sqlite(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{_args(element, compiler, **kw)[0]}"


@compiles(text_order)
def _text_order_default(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return _args(element, compiler, **kw)[0]


@compiles(text_order, "postgresql")
def _text_order_postgresql(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f'({_args(element, compiler, **kw)[0]}) COLLATE "C"'


def match(column: ColumnElement[Any], op: str, pattern: str) -> ColumnElement[bool]:
    bound = literal(pattern, type_=_LikePattern())
    if op == "LIKE":
        return case_sensitive_match(column, bound)
    return case_insensitive_match(column, bound)


__all__ = ["like_to_glob", "match", "no_index", "text_order"]
