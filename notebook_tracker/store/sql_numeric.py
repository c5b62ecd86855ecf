"""Param values that are decimal numbers, told apart and valued in SQL, for the sidebar's
number-aware order of a param ("9" before "10", as the browser sorts a loaded list).

A value is a number when it is a decimal literal: optional sign, digits with an optional
point (or a point and digits), an optional exponent, optional whitespace around it ("0.01",
"-3", "1e-4", " 12"; not "0x10", "Infinity", "1_000" or ""). The browser applies the same
rule (labextension/src/logic/runs.ts), so a cut list the server orders and a loaded list the
browser orders agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, case
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean

from notebook_tracker.store.sql_dialect import text_order

# PostgreSQL's regular expression for the rule above (SQLite's numeric affinity is that rule).
_DECIMAL = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


class is_decimal(FunctionElement[bool]):  # noqa: N801
    """True where a text column holds a decimal number (the rule above)."""

    name = "is_decimal"
    type = Boolean()
    inherit_cache = True


class decimal_value(FunctionElement[float]):  # noqa: N801
    """The number a decimal text holds, as a double (only for texts `is_decimal` accepts)."""

    name = "decimal_value"
    type = Float(precision=53)
    inherit_cache = True


def _arg(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(next(iter(element.clauses)), **kw))


@compiles(is_decimal)
def _is_decimal_sqlite(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    # Comparing a TEXT column with a NUMERIC expression gives the column numeric affinity,
    # which turns exactly the well-formed decimal texts into numbers: those equal their CAST.
    column = _arg(element, compiler, **kw)
    return f"({column} = CAST({column} AS NUMERIC))"


@compiles(is_decimal, "postgresql")
def _is_decimal_pg(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_arg(element, compiler, **kw)} ~ '{_DECIMAL}')"


@compiles(decimal_value)
def _value_sqlite(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({_arg(element, compiler, **kw)} AS REAL)"


@compiles(decimal_value, "postgresql")
def _value_pg(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    # Through numeric, clamped: "1e400" is a number here too, and a double would overflow.
    column = _arg(element, compiler, **kw)
    return f"CAST(LEAST(GREATEST(CAST({column} AS numeric), -1e308), 1e308) AS double precision)"


def number_aware_keys(
    value: ColumnElement[Any], missing: ColumnElement[bool]
) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """(rank, number, text) ordering a param's values: numbers first by value, then texts by
    code point, then runs without the param (rank 0, 1, 2; the rank is always ascending)."""
    number = is_decimal(value)  # NULL (not true) for a missing param
    return (
        case((missing, 2), (number, 0), else_=1),
        case((number, decimal_value(value)), else_=None),
        case((number, None), else_=text_order(value)),
    )


__all__ = ["decimal_value", "is_decimal", "number_aware_keys"]
