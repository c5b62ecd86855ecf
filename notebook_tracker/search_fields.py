"""The fields each kind of search knows (runs, experiments, registry, logged models) and the
plain values a parsed filter is made of. `search.py` parses with these grammars."""

from __future__ import annotations

from dataclasses import dataclass, field

NUMERIC_OPS = (">", ">=", "=", "!=", "<", "<=")
VALUE_OPS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
STRING_ATTRIBUTE_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
ID_ATTRIBUTE_OPS = ("=", "!=", "IN", "NOT IN")

Value = float | int | str | tuple[str, ...] | None
_PLURAL = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes"}


@dataclass(frozen=True)
class Comparison:
    """One clause: `entity` is 'metric', 'param', 'tag' or 'attribute' (canonical key)."""

    entity: str
    key: str
    op: str
    value: Value = None


@dataclass(frozen=True)
class OrderTerm:
    entity: str
    key: str
    ascending: bool = True


@dataclass(frozen=True)
class _Grammar:
    subject: str
    entities: tuple[str, ...]
    prefixes: dict[str, str]
    string_attributes: tuple[str, ...]
    numeric_attributes: tuple[str, ...]
    id_attributes: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    order_entities: tuple[str, ...] = ("attribute",)

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.string_attributes + self.id_attributes + self.numeric_attributes

    def operators(self, entity: str, key: str) -> tuple[str, ...]:
        if entity == "metric":
            return NUMERIC_OPS
        if entity in ("param", "tag"):
            return VALUE_OPS
        if key in self.numeric_attributes:
            return NUMERIC_OPS
        return ID_ATTRIBUTE_OPS if key in self.id_attributes else STRING_ATTRIBUTE_OPS

    def expected_identifier(self) -> str:
        named = ", ".join(f"{_PLURAL[e]}.<key>" for e in self.entities)
        return f"{named} or one of {', '.join(self.attributes)}"


_ALIASES = {
    "metric": ("metric", "metrics"),
    "param": ("param", "params", "parameter", "parameters"),
    "tag": ("tag", "tags"),
    "attribute": ("attribute", "attributes", "attr", "run"),
    "dataset": ("dataset", "datasets"),
}


def _prefixes(*entities: str) -> dict[str, str]:
    return {alias: entity for entity in entities for alias in _ALIASES[entity]}


_RUNS = _Grammar(
    subject="runs",
    entities=("metric", "param", "tag", "attribute"),
    prefixes=_prefixes("metric", "param", "tag", "attribute", "dataset"),
    string_attributes=("run_id", "run_name", "status", "user_id", "artifact_uri"),
    numeric_attributes=("start_time", "end_time"),
    aliases={"created": "start_time", "run name": "run_name"},
    order_entities=("metric", "param", "tag", "attribute"),
)

# Experiments know the metric and param prefixes only to say that they have neither.
_EXPERIMENTS = _Grammar(
    subject="experiments",
    entities=("tag", "attribute"),
    prefixes=_prefixes("metric", "param", "tag", "attribute"),
    string_attributes=("name",),
    numeric_attributes=("creation_time", "last_update_time"),
    id_attributes=("experiment_id",),
)


_REGISTERED_MODELS = _Grammar(
    subject="registered models",
    entities=("tag", "attribute"),
    prefixes=_prefixes("tag", "attribute"),
    string_attributes=("name",),
    numeric_attributes=("creation_timestamp", "last_updated_timestamp"),
    aliases={"timestamp": "creation_timestamp"},
)

_MODEL_VERSIONS = _Grammar(
    subject="model versions",
    entities=("tag", "attribute"),
    prefixes=_prefixes("tag", "attribute"),
    string_attributes=("name", "source", "current_stage"),
    numeric_attributes=("version_number", "creation_timestamp", "last_updated_timestamp"),
    id_attributes=("run_id",),
    aliases={"source_path": "source", "version": "version_number"},
)

_LOGGED_MODELS = _Grammar(
    subject="logged models",
    entities=("metric", "param", "tag", "attribute"),
    prefixes=_prefixes("metric", "param", "tag", "attribute"),
    string_attributes=("name", "status", "model_type", "source_run_id"),
    id_attributes=("model_id",),
    numeric_attributes=("creation_timestamp", "last_updated_timestamp"),
    aliases={
        "creation_time": "creation_timestamp",
        "creation_timestamp_ms": "creation_timestamp",
        "last_updated_timestamp_ms": "last_updated_timestamp",
        "run_id": "source_run_id",
    },
    order_entities=("metric", "param", "tag", "attribute"),
)

# The one grammar, with the fields of each kind of thing searched; every store compiles the
# comparisons it yields to SQL (store/sql_search.py, registry_search.py, logged_model_search.py).
_GRAMMARS = {
    "runs": _RUNS,
    "experiments": _EXPERIMENTS,
    "registered_models": _REGISTERED_MODELS,
    "model_versions": _MODEL_VERSIONS,
    "logged_models": _LOGGED_MODELS,
}
KINDS = tuple(_GRAMMARS)
