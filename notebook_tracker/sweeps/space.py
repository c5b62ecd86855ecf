"""The search space: one text form shared by `%%sweep`, `nt.sweep` and `notebook-tracker sweep`.

    lr=loguniform(1e-4,1e-1) depth=int(2,8) opt=choice(adam,sgd)

Kinds: `uniform(a,b)` / `float(a,b)` (optionally `step=S` or `log`), `loguniform(a,b)`,
`int(a,b)` (optionally `step=S` or `log`), `logint(a,b)`, `choice(v1,v2,...)`. Bounds are
inclusive. Parsing knows nothing of Optuna; `to_optuna` converts when a study needs it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from notebook_tracker.errors import InvalidParameter

KINDS = ("uniform", "float", "loguniform", "int", "logint", "choice")
EXAMPLE = "lr=loguniform(1e-4,1e-1) depth=int(2,8) opt=choice(adam,sgd)"
_ITEM = re.compile(r"\s*([^\s=]+)\s*=\s*([A-Za-z_]\w*)\s*\(([^()]*)\)\s*")
Value = Any  # int | float | str | bool | None


class SpaceError(InvalidParameter):
    """A search space that does not parse; the message says which part and what to write."""


@dataclass(frozen=True)
class Dimension:
    name: str
    kind: str  # "float", "int" or "choice"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Value, ...] = field(default_factory=tuple)

    def text(self) -> str:
        if self.kind == "choice":
            return f"{self.name}=choice({','.join(_show(c) for c in self.choices)})"
        num = (lambda v: str(int(v))) if self.kind == "int" else _show  # noqa: E731
        extra = ",log" if self.log else (f",step={num(self.step)}" if self.step else "")
        return f"{self.name}={self.kind}({num(self.low)},{num(self.high)}{extra})"

    def grid(self) -> list[Value]:
        """The values a grid search tries: every choice, every int, every step of a float."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int" and not self.log:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.kind == "int" and self.log:
            return list(range(int(self.low), int(self.high) + 1))
        if self.step:
            count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            return [round(self.low + i * self.step, 12) for i in range(count)]
        raise SpaceError(
            f"{self.text()} is continuous: a grid search needs discrete values. Give it a step "
            f"({self.name}=float({_show(self.low)},{_show(self.high)},step=...)) or a "
            f"choice({self.name}=choice(...)), or use --method random or tpe."
        )


@dataclass(frozen=True)
class Space:
    dimensions: tuple[Dimension, ...]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def text(self) -> str:
        return " ".join(d.text() for d in self.dimensions)

    def grid(self) -> dict[str, list[Value]]:
        return {d.name: d.grid() for d in self.dimensions}

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())

    def to_optuna(self) -> dict[str, Any]:
        import optuna.distributions as od

        out: dict[str, Any] = {}
        for d in self.dimensions:
            if d.kind == "choice":
                out[d.name] = od.CategoricalDistribution(list(d.choices))
            elif d.kind == "int":
                step = int(d.step or 1)
                out[d.name] = od.IntDistribution(int(d.low), int(d.high), log=d.log, step=step)
            else:
                out[d.name] = od.FloatDistribution(d.low, d.high, log=d.log, step=d.step)
        return out


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return str(value) if not isinstance(value, str) else value


def _literal(text: str) -> Value:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _number(item: str, text: str, integer: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpaceError(f"{item}: {text.strip()!r} is not a number.") from None
    if not math.isfinite(value):
        raise SpaceError(f"{item}: bounds must be finite numbers, not {text.strip()!r}.")
    if integer and not value.is_integer():
        raise SpaceError(f"{item}: {text.strip()!r} is not a whole number (int bounds are).")
    return value


def _dimension(name: str, kind: str, args_text: str) -> Dimension:
    item = f"{name}={kind}({args_text})"
    if not name.isidentifier():
        raise SpaceError(
            f"{item}: {name!r} is not a variable name; the trial sees each name as a variable."
        )
    kind = kind.lower()
    if kind not in KINDS:
        raise SpaceError(f"{item}: unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    args = [a.strip() for a in args_text.split(",")] if args_text.strip() else []
    if kind == "choice":
        if not args or any(a == "" for a in args):
            raise SpaceError(f"{item}: choice needs at least one value, e.g. choice(adam,sgd).")
        choices = tuple(_literal(a) for a in args)
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"{item}: a choice lists the same value twice.")
        return Dimension(name, "choice", choices=choices)
    positional = [a for a in args if "=" not in a and a.lower() != "log"]
    options = dict(a.split("=", 1) for a in args if "=" in a)
    log = kind in ("loguniform", "logint") or any(a.lower() == "log" for a in args)
    if "log" in options:
        log = log or _literal(options.pop("log")) is True
    integer = kind in ("int", "logint")
    if len(positional) != 2:
        raise SpaceError(f"{item}: {kind} takes two bounds, e.g. {name}={kind}(1,10).")
    step_text = options.pop("step", None)
    if options:
        raise SpaceError(f"{item}: unknown option(s) {', '.join(options)}; use step=S or log.")
    low, high = (_number(item, p, integer) for p in positional)
    if low >= high:
        raise SpaceError(f"{item}: the low bound must be below the high bound.")
    if log and low <= 0:
        raise SpaceError(f"{item}: a log scale needs a low bound above 0.")
    step = _number(item, step_text, integer) if step_text is not None else None
    if step is not None and step <= 0:
        raise SpaceError(f"{item}: step must be above 0.")
    if step is not None and log:
        raise SpaceError(f"{item}: a step and a log scale do not go together; choose one.")
    return Dimension(name, "int" if integer else "float", low, high, log, step)


def parse_space(spec: str | Mapping[str, Any] | Space) -> Space:
    """A Space from its text (or a dict of name -> kind text, or name -> list of choices)."""
    if isinstance(spec, Space):
        return spec
    if isinstance(spec, Mapping):
        parts = []
        for name, value in spec.items():
            if isinstance(value, (list, tuple)):
                value = f"choice({','.join(map(str, value))})"
            parts.append(f"{name}={value}")
        spec = " ".join(parts)
    if not isinstance(spec, str) or not spec.strip():
        raise SpaceError(f"The search space is empty: give one like {EXAMPLE!r}.")
    dims: list[Dimension] = []
    pos = 0
    while pos < len(spec):
        match = _ITEM.match(spec, pos)
        if match is None:
            rest = spec[pos:].strip()
            if not rest:
                break
            raise SpaceError(
                f"Cannot read the search space at {rest[:40]!r}: write NAME=KIND(ARGS) items "
                f"separated by spaces, e.g. {EXAMPLE!r}."
            )
        dim = _dimension(*match.groups())
        if dim.name in {d.name for d in dims}:
            raise SpaceError(f"{dim.name} appears twice in the search space.")
        dims.append(dim)
        pos = match.end()
    return Space(tuple(dims))
