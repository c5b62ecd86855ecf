"""The search filter grammar (MLflow-compatible), parsed once into plain comparisons.

Runs:        metrics.loss < 0.5 AND params.model = 'cnn' AND tags.`team name` LIKE 'ml%'
Experiments: name LIKE 'exp%' AND tags.team = 'ml' AND creation_time > 1700000000000
Registry:    name LIKE 'churn%' AND tags.owner = 'ml' (models); run_id = '...' (versions)
Logged models: name = 'm' AND metrics.acc > 0.9 AND params.alpha = '0.5' AND status = 'READY'

Clauses are joined by AND only. Keys with spaces or symbols go in backticks or double quotes;
string values in single or double quotes; inside a quoted text a doubled quote stands for
itself. LIKE/ILIKE patterns: `%` any run of characters, `_` one character, a backslash makes
the next character literal. This module is pure: the stores compile its output to SQL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from notebook_tracker.errors import FilterSyntaxError, InvalidParameter
from notebook_tracker.search_fields import (  # noqa: F401 - re-exported: the public names
    _GRAMMARS,
    _PLURAL,
    ID_ATTRIBUTE_OPS,
    KINDS,
    NUMERIC_OPS,
    STRING_ATTRIBUTE_OPS,
    VALUE_OPS,
    Comparison,
    OrderTerm,
    Value,
    _Grammar,
)

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[^\s=!<>'\"`(),]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SYMBOL_OPS = (">=", "<=", "!=", "<>", "==", "=", ">", "<")
_INT64 = 2**63


class _Scanner:
    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what
        self.pos = 0

    def error(self, reason: str, pos: int | None = None) -> FilterSyntaxError:
        pos = self.pos if pos is None else pos
        shown = re.sub(r"\s", " ", self.text)
        err = FilterSyntaxError(
            f"{reason} (at character {pos + 1} of the {self.what})\n    {shown}\n    {' ' * pos}^"
        )
        err.position = pos
        return err

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    @property
    def eof(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def match(self, pattern: re.Pattern[str]) -> str | None:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group()

    def quoted(self, quotes: str) -> str | None:
        quote = self.peek()
        if not quote or quote not in quotes:
            return None
        start, i, parts = self.pos, self.pos + 1, []
        while True:
            end = self.text.find(quote, i)
            if end < 0:
                raise self.error(f"unterminated text: no closing {quote} for this one", start)
            parts.append(self.text[i:end])
            if self.text.startswith(quote * 2, end):
                parts.append(quote)
                i = end + 2
                continue
            self.pos = end + 1
            return "".join(parts)


def _identifier(sc: _Scanner, g: _Grammar) -> tuple[str, str]:
    start = sc.pos
    quoted = sc.quoted('"`')
    if quoted is not None:
        attr = g.aliases.get(quoted.lower(), quoted.lower())
        if attr in g.attributes:
            return "attribute", attr
        hint = ""
        prefix, _, rest = quoted.partition(".")
        if rest and prefix.lower() in g.prefixes:
            hint = f"; quote only the key, e.g. {prefix}.`{rest}`"
        raise sc.error(f"unknown identifier {quoted!r}{hint}", start)
    word = sc.match(_WORD)
    if word is None and sc.peek() == "(":
        raise sc.error("parentheses are not supported; join clauses with AND")
    if word is None:
        raise sc.error(f"expected an identifier: {g.expected_identifier()}")
    lower = word.lower()
    if lower in g.prefixes and sc.peek() == ".":
        entity = g.prefixes[lower]
        if entity == "dataset":
            raise sc.error("searching by datasets is not supported", start)
        if entity not in g.entities:
            raise sc.error(
                f"experiments have no {entity}s; filter on {g.expected_identifier()}", start
            )
        sc.pos += 1
        key_start = sc.pos
        key = sc.quoted('"`')
        if key is None:
            key = sc.match(_BARE_KEY)
        if not key:
            raise sc.error(f"expected a key after '{word}.'", key_start)
        if entity != "attribute":
            return entity, key
        attr = g.aliases.get(key.lower(), key.lower())
        if attr not in g.attributes:
            raise sc.error(
                f"unknown attribute {key!r}; {g.subject} have {', '.join(g.attributes)}",
                key_start,
            )
        return "attribute", attr
    if lower in g.prefixes:
        raise sc.error(f"expected '.' and a key after '{word}', e.g. {word}.`my key`")
    attr = g.aliases.get(lower, lower)
    if attr in g.attributes:
        return "attribute", attr
    raise sc.error(f"unknown identifier '{word}'; expected {g.expected_identifier()}", start)


def _operator(sc: _Scanner, after: str) -> str:
    start = sc.pos
    for symbol in _SYMBOL_OPS:
        if sc.text.startswith(symbol, sc.pos):
            if symbol == "==":
                raise sc.error("use '=' to compare, not '=='")
            sc.pos += len(symbol)
            return "!=" if symbol == "<>" else symbol
    word = (sc.match(_WORD) or "").upper()
    if word in ("LIKE", "ILIKE", "IN"):
        return word
    if word == "NOT":
        sc.skip_ws()
        if (sc.match(_WORD) or "").upper() == "IN":
            return "NOT IN"
        raise sc.error("expected IN after NOT (NOT IN is the only negated operator)", start)
    if word == "IS":
        sc.skip_ws()
        nxt = (sc.match(_WORD) or "").upper()
        if nxt == "NOT":
            sc.skip_ws()
            nxt = "NOT " + (sc.match(_WORD) or "").upper()
        if nxt in ("NULL", "NOT NULL"):
            return f"IS {nxt}"
        raise sc.error("expected IS NULL or IS NOT NULL", start)
    raise sc.error(f"expected a comparison operator after '{after}'", start)


def _string(sc: _Scanner, after: str) -> str:
    value = sc.quoted("'\"")
    if value is None:
        raise sc.error(f"expected a quoted string after '{after}'")
    return value


def _value(sc: _Scanner, g: _Grammar, entity: str, key: str, op: str, after: str) -> Value:
    if op.startswith("IS "):
        return None
    if op in ("IN", "NOT IN"):
        if sc.peek() != "(":
            raise sc.error(f"expected a parenthesised list of quoted strings after '{after}'")
        sc.pos += 1
        items: list[str] = []
        while True:
            sc.skip_ws()
            items.append(_string(sc, after + " (" if not items else after + " (..., "))
            sc.skip_ws()
            if sc.peek() == ")":
                sc.pos += 1
                return tuple(items)
            if sc.peek() != ",":
                raise sc.error("expected ',' or ')' in the list of values")
            sc.pos += 1
    if g.operators(entity, key) is NUMERIC_OPS:
        start = sc.pos
        text = sc.match(_NUMBER)
        if text is None or re.match(r"[\w.]", sc.peek()):
            unquote = " (without quotes)" if sc.text[start : start + 1] in ("'", '"') else ""
            raise sc.error(f"expected a number{unquote} after '{after}'", start)
        if entity == "metric" or not re.fullmatch(r"[+-]?\d+", text):
            return float(text)
        number = int(text)
        return number if -_INT64 <= number < _INT64 else float(number)
    return _string(sc, after)


def _clause(sc: _Scanner, g: _Grammar) -> Comparison:
    start = sc.pos
    entity, key = _identifier(sc, g)
    ident = sc.text[start : sc.pos]
    sc.skip_ws()
    op_pos = sc.pos
    op = _operator(sc, ident)
    allowed = g.operators(entity, key)
    if op not in allowed:
        subject = key if entity == "attribute" else _PLURAL[entity]
        raise sc.error(f"{subject} cannot use {op}; use one of: {' '.join(allowed)}", op_pos)
    sc.skip_ws()
    return Comparison(entity, key, op, _value(sc, g, entity, key, op, f"{ident} {op}"))


def _parse(text: str, g: _Grammar) -> tuple[Comparison, ...]:
    sc = _Scanner(text, "filter")
    clauses: list[Comparison] = []
    sc.skip_ws()
    while not sc.eof:
        start = sc.pos
        clauses.append(_clause(sc, g))
        clause_text = sc.text[start : sc.pos]
        sc.skip_ws()
        if sc.eof:
            break
        joiner_pos = sc.pos
        joiner = (sc.match(_WORD) or "").upper()
        if joiner == "OR":
            raise sc.error(
                "Invalid clause(s) in filter string: 'OR' — only AND is supported; "
                "run one search per alternative instead",
                joiner_pos,
            )
        if joiner != "AND":
            raise sc.error(
                f"expected AND or the end of the filter after '{clause_text}'", joiner_pos
            )
        sc.skip_ws()
        if sc.eof:
            raise sc.error("expected a clause after AND")
    return tuple(clauses)


def _parse_order(entry: str, g: _Grammar) -> OrderTerm:
    sc = _Scanner(entry, f"order_by entry {entry!r}")
    sc.skip_ws()
    start = sc.pos
    entity, key = _identifier(sc, g)
    if entity not in g.order_entities:
        raise sc.error(f"{g.subject} can be ordered by {', '.join(g.attributes)} only", start)
    ident = sc.text[start : sc.pos]
    sc.skip_ws()
    ascending = True
    if not sc.eof:
        direction = (sc.match(_WORD) or "").upper()
        if direction not in ("ASC", "DESC"):
            raise sc.error(f"expected ASC, DESC or nothing after '{ident}'")
        ascending = direction == "ASC"
        sc.skip_ws()
        if not sc.eof:
            raise sc.error(f"expected nothing after '{ident} {direction}'")
    return OrderTerm(entity, key, ascending)


@functools.lru_cache(maxsize=512)
def _cached_filter(text: str, grammar: str) -> tuple[Comparison, ...]:
    return _parse(text, _GRAMMARS[grammar])


@functools.lru_cache(maxsize=512)
def _cached_order(entry: str, grammar: str) -> OrderTerm:
    return _parse_order(entry, _GRAMMARS[grammar])


def _comparisons(filter_string: str | None, grammar: str) -> list[Comparison]:
    if not filter_string:
        return []
    if not isinstance(filter_string, str):
        raise FilterSyntaxError(f"Invalid filter {filter_string!r}: expected a string")
    _storable(filter_string, "The filter")
    return list(_cached_filter(filter_string, grammar))


def _order_terms(order_by: Sequence[str] | None, grammar: str) -> list[OrderTerm]:
    if isinstance(order_by, str):
        order_by = [order_by]
    terms: list[OrderTerm] = []
    seen: set[tuple[str, str]] = set()
    for entry in order_by or ():
        if not isinstance(entry, str):
            raise FilterSyntaxError(f"Invalid order_by entry {entry!r}: expected a string")
        _storable(entry, "The order_by entry")
        term = _cached_order(entry, grammar)
        if (term.entity, term.key) in seen:
            raise FilterSyntaxError(
                f"Invalid order_by {list(order_by or ())!r}: {entry!r} orders by the same field "
                "twice"
            )
        seen.add((term.entity, term.key))
        terms.append(term)
    return terms


def _storable(text: str, what: str) -> None:
    """A lone surrogate would parse, then fail deep in the database driver: say so here."""
    from notebook_tracker.validation import storable_text

    try:
        storable_text(text, what)
    except InvalidParameter as exc:
        raise FilterSyntaxError(exc.message) from None


def parse_filter(filter_string: str | None) -> list[Comparison]:
    """The comparisons of a run-search filter; None or blank means no filter."""
    return _comparisons(filter_string, "runs")


def parse_order_by(order_by: Sequence[str] | None) -> list[OrderTerm]:
    """Run-search order terms from entries like "metrics.loss DESC" (ASC by default)."""
    return _order_terms(order_by, "runs")


def parse_experiment_filter(filter_string: str | None) -> list[Comparison]:
    """Comparisons on name, experiment_id, creation_time, last_update_time and tags.<key>."""
    return _comparisons(filter_string, "experiments")


def parse_experiment_order_by(order_by: Sequence[str] | None) -> list[OrderTerm]:
    """Experiment order terms on name, experiment_id, creation_time or last_update_time."""
    return _order_terms(order_by, "experiments")


def parse_filter_of(kind: str, filter_string: str | None) -> list[Comparison]:
    """The comparisons of a filter on `kind` (one of KINDS); None or blank means no filter."""
    return _comparisons(filter_string, kind)


def parse_order_by_of(kind: str, order_by: Sequence[str] | None) -> list[OrderTerm]:
    """Order terms of `kind` (one of KINDS) from entries like "name DESC" (ASC by default)."""
    return _order_terms(order_by, kind)


def subject_of(kind: str) -> str:
    """What `kind` is called in messages ("registered models")."""
    return _GRAMMARS[kind].subject


def _quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _format_value(value: Value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_quote_text(v) for v in value) + ")"
    if isinstance(value, str):
        return _quote_text(value)
    if isinstance(value, float) and value != value:
        raise ValueError("NaN cannot be written in a filter")
    if value in (float("inf"), float("-inf")):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)


def format_filter(comparisons: Sequence[Comparison]) -> str:
    """A filter string that parses back to `comparisons` (for UIs that build filters)."""
    clauses = []
    for c in comparisons:
        ident = c.key
        if c.entity != "attribute":
            key = c.key if _BARE_KEY.fullmatch(c.key) else "`" + c.key.replace("`", "``") + "`"
            ident = f"{_PLURAL[c.entity]}.{key}"
        value = "" if c.value is None else " " + _format_value(c.value)
        clauses.append(f"{ident} {c.op}{value}")
    return " AND ".join(clauses)
