"""The PostgreSQL read engine's session: fewer round trips and no planning on repeated reads.

Measured on a 1,000-run search (two SELECTs), PostgreSQL spent more time planning the page
query than running it, and a `with reader.connect()` cost three round trips besides its
SELECTs: the pool's ping, psycopg2's BEGIN and the ROLLBACK on return. So the reader engine:

- runs in autocommit: no BEGIN, and nothing to roll back on return. A read loses nothing by
  it: under READ COMMITTED each statement takes its own snapshot inside a transaction too.
  The reader never writes (writes go through the writer engine, which keeps transactions).
- pings a pooled connection only when it sat idle for a while (a server restart is found
  then, as `pool_pre_ping` would), or when the server sent it something while idle: the notice
  of its end when the backend was terminated or the server restarted, so such a connection is
  replaced at checkout, before the read, without a round trip for the live ones.
- prepares a SELECT the second time a connection runs its text (psycopg 3's
  `prepare_threshold`, which psycopg2 lacks): `PREPARE` once per connection, then
  `EXECUTE name(...)`, so PostgreSQL can keep a generic plan instead of planning each call.
  A text prepares only while its parameters have types it can declare (below); a statement
  PostgreSQL refuses to prepare runs unprepared from then on. Behind a pooler in transaction
  mode (PgBouncer), turn it off: NOTEBOOK_TRACKER_POSTGRES_NO_PREPARE=1.

Search texts repeat because the variable parts (ids, values) are bound: the id lists of the
read path are one array parameter on PostgreSQL (`= ANY(:ids)`), not an IN list whose text
changes with its length.

A statement its caller keeps and runs again (a search's first page: run_pages.py) goes further
from its second run (`kept_rows`): straight to psycopg2's cursor, its values quoted into the
text by psycopg2 (as psycopg2 sends every statement: it has no server-side parameters), and
that text prepared with no parameters. PostgreSQL plans such a statement once, for its real
values, and never again: with parameters it plans each of a text's first five EXECUTEs afresh
(custom plans), 0.3-0.6 ms of a 100-row search, and a generic plan after those was 3.5x slower
on a selective filter. SQLAlchemy's execution path (~0.15 ms of client CPU a statement) is
skipped. A driver error there is left to SQLAlchemy: the statement runs again its usual way,
which translates the error and replaces a lost connection as for any other read.
"""

from __future__ import annotations

import hashlib
import re
import select
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc

from notebook_tracker import env

# Seconds a pooled connection may sit unused before its next checkout pings it.
PING_AFTER_IDLE_S = 10.0
# Texts a connection keeps prepared (least recently used dropped beyond), and the number of
# runs of one text before it is prepared.
MAX_PREPARED = 64
PREPARE_AT = 2

_PLACEHOLDER = re.compile(r"(?<!%)%\((\w+)\)s")
_STATE = "notebook_tracker.prepared"
_IDLE_SINCE = "notebook_tracker.idle_since"
_unpreparable: set[str] = set()
_names_of: dict[str, tuple[str, ...]] = {}


def _pg_type(value: Any) -> str | None:
    """The declared type of a parameter, or None when this value cannot be prepared for."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if -(2**63) <= value < 2**63 else None
    if isinstance(value, float):
        return "double precision"
    if isinstance(value, str):
        return "unknown"  # inferred from where it is used, as a quoted literal would be
    if isinstance(value, (list, tuple)) and value:
        # A type test per element, not a recursive call: a 50,000-id list cost 0.3 s that way.
        if all(type(v) is str for v in value):
            return "text[]"
        if all(type(v) is int and -(2**63) <= v < 2**63 for v in value):
            return "bigint[]"
    return None


class _Prepared:
    """One connection's prepared texts and how often it ran the others."""

    def __init__(self, dbapi_conn: Any) -> None:
        self.dbapi_conn = dbapi_conn
        self.names: OrderedDict[tuple[str, tuple[str, ...]], tuple[str, list[str]]] = OrderedDict()
        self.seen: OrderedDict[str, int] = OrderedDict()
        # Texts of kept statements (values quoted in) -> their prepared names; and a counter
        # that makes each name new on this connection, whatever was prepared before.
        self.literal: OrderedDict[bytes, bytes] = OrderedDict()
        self.made = 0

    def count(self, statement: str) -> int:
        n = self.seen.pop(statement, 0) + 1
        self.seen[statement] = n
        if len(self.seen) > 4 * MAX_PREPARED:
            self.seen.popitem(last=False)
        return n


def _state(conn: Any) -> _Prepared:
    fairy = conn.connection
    info = fairy.info
    state: _Prepared | None = info.get(_STATE)
    if state is None or state.dbapi_conn is not fairy.dbapi_connection:
        state = info[_STATE] = _Prepared(fairy.dbapi_connection)
    return state


def _prepare(
    cursor: Any, state: _Prepared, statement: str, types: tuple[str, ...]
) -> tuple[str, list[str]] | None:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    body = _PLACEHOLDER.sub(number, statement).replace("%%", "%")
    digest = hashlib.sha1(f"{statement}\0{types}".encode()).hexdigest()[:16]
    name = f"nt_{digest}"
    ordered = ", ".join(types[names.index(n)] for n in names) if names else ""
    try:
        cursor.execute(
            f"PREPARE {name} ({ordered}) AS {body}" if names else f"PREPARE {name} AS {body}"
        )
    except Exception:
        if _closed(cursor.connection):
            # A lost connection, not a refusal: the caller's error, and the pool's new
            # connection prepares this text as before.
            raise
        _unpreparable.add(statement)  # a refusal: run this text unprepared from now on
        return None
    if len(state.names) >= MAX_PREPARED:
        _, (old, _) = state.names.popitem(last=False)
        cursor.execute(f"DEALLOCATE {old}")
    state.names[(statement, types)] = (name, names)
    return name, names


def _placeholders(statement: str) -> tuple[str, ...]:
    """The statement's parameter names in order of first appearance, parsed once per text
    (the regex over a search's 1-3 KB of SQL cost ~35 us a statement, twice a search)."""
    names = _names_of.get(statement)
    if names is None:
        if len(_names_of) >= 4 * MAX_PREPARED:
            _names_of.clear()
        names = _names_of[statement] = tuple(dict.fromkeys(_PLACEHOLDER.findall(statement)))
    return names


def _rewrite(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    if (
        executemany
        or getattr(cursor, "name", None)  # a server-side cursor: DECLARE cannot EXECUTE
        or not isinstance(parameters, dict)
        or statement[:6].upper() != "SELECT"
        or statement in _unpreparable
    ):
        return statement, parameters
    # Types in the order of first appearance, as _prepare numbers the placeholders.
    types: list[str] = []
    for name in _placeholders(statement):
        declared = _pg_type(parameters[name]) if name in parameters else None
        if declared is None:
            return statement, parameters
        types.append(declared)
    key = (statement, tuple(types))
    state = _state(conn)
    found = state.names.get(key)
    if found is None:
        if state.count(statement) < PREPARE_AT:
            return statement, parameters
        found = _prepare(cursor, state, statement, key[1])
        if found is None:
            return statement, parameters
    else:
        state.names.move_to_end(key)
    prepared, names = found
    args = ", ".join(f"%({n})s" for n in names)
    return (f"EXECUTE {prepared}({args})" if names else f"EXECUTE {prepared}"), parameters


def _closed(dbapi_conn: Any) -> bool:
    closed = getattr(dbapi_conn, "closed", False)  # psycopg2: an int, psycopg 3: a bool
    return bool(closed)


def _server_spoke(dbapi_conn: Any) -> bool:
    """Whether the server sent anything to this idle connection. An idle autocommit session
    is sent nothing but the notice of its end (a restart, pg_terminate_backend) and EOF, so
    this finds such a connection without a round trip; a `select` costs microseconds."""
    try:
        readable, _, _ = select.select([dbapi_conn.fileno()], [], [], 0)
    except (OSError, ValueError):  # no socket any more
        return True
    return bool(readable)


def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    idle_since = record.info.get(_IDLE_SINCE)
    recent = idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S
    if recent and not _closed(dbapi_conn) and not _server_spoke(dbapi_conn):
        return
    try:
        with dbapi_conn.cursor() as cursor:
            cursor.execute("SET extra_float_digits = 3")
        if not dbapi_conn.autocommit:  # the writer's: hand it out outside any transaction
            dbapi_conn.commit()
    except Exception as error:  # noqa: BLE001 - a dead connection: the pool opens a new one
        raise sa_exc.DisconnectionError(str(error)) from error


def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
    if record is not None:
        record.info[_IDLE_SINCE] = time.monotonic()


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Shortest-exact float8 text (PostgreSQL 12+) whatever the server's default: the reads
    # that bring values as text (float8[] arrays, sql_run_columns.py) must round-trip every double.
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET extra_float_digits = 3")


# Kept statements -> (the statement, its SQL and parameters as SQLAlchemy ran them first). The
# statement is held so that no other object takes its id while it is listed here.
_kept: dict[int, tuple[Any, str, dict[str, Any]]] = {}
_KEPT_MAX = 256


def kept_rows(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    """The driver's rows of `stmt`, a SELECT the caller keeps and runs again unchanged."""
    found = _kept.get(id(stmt))
    if found is not None and found[0] is stmt:
        try:
            return _literal_rows(conn, found[1], found[2])
        except conn.dialect.loaded_dbapi.Error:
            _state(conn).literal.clear()  # the server may hold names this state forgot
    result = conn.execute(stmt)  # raises the store's error for a failure (db_errors.py)
    try:
        rows = list(result.cursor.fetchall())
        context = result.context
    finally:
        result.close()
    parameters = context.parameters[0] if context.parameters else {}
    if conn.dialect.driver == "psycopg2" and isinstance(parameters, dict):
        if len(_kept) >= _KEPT_MAX:
            _kept.clear()
        _kept[id(stmt)] = (stmt, context.statement, dict(parameters))
    return rows


def _literal_rows(conn: Connection, statement: str, parameters: dict[str, Any]) -> list[Any]:
    state = _state(conn)
    with state.dbapi_conn.cursor() as cursor:
        # Quoted by this connection: how a value is quoted depends on its session's settings.
        text: bytes = cursor.mogrify(statement, parameters)
        if not env.postgres_prepare():
            cursor.execute(text)
            return list(cursor.fetchall())
        name = state.literal.get(text)
        if name is not None:
            state.literal.move_to_end(text)
            cursor.execute(b"EXECUTE " + name)
            return list(cursor.fetchall())
        state.made += 1
        name = b"nt_kept_%d" % state.made
        # One round trip: the eviction, the PREPARE and its first EXECUTE.
        sql = b"PREPARE " + name + b" AS " + text + b"; EXECUTE " + name
        evicted = None
        if len(state.literal) >= MAX_PREPARED:
            evicted = state.literal.popitem(last=False)[1]
            sql = b"DEALLOCATE " + evicted + b"; " + sql
        cursor.execute(sql)
        state.literal[text] = name
        return list(cursor.fetchall())


def ping_when_idle(engine: Engine) -> None:
    """Ping `engine`'s pooled connections at checkout only after PING_AFTER_IDLE_S idle or when
    the server sent them something (the reader's way, above), instead of `pool_pre_ping`'s
    round trip each checkout. The writer engine too: a transaction ends before its connection
    goes back to the pool, so an idle one is sent nothing either but the notice of its end."""
    event.listen(engine, "checkout", _on_checkout)
    event.listen(engine, "checkin", _on_checkin)


def create_reader(url: str, **pool: Any) -> Engine:
    """The PostgreSQL reader engine: autocommit, idle pings, prepared SELECTs."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT", **pool)
    event.listen(engine, "connect", _on_connect)
    ping_when_idle(engine)
    # psycopg 3 prepares by itself (its prepare_threshold).
    if engine.dialect.driver == "psycopg2" and env.postgres_prepare():
        event.listen(engine, "before_cursor_execute", _rewrite, retval=True)
    return engine


__all__ = [
    "MAX_PREPARED",
    "PING_AFTER_IDLE_S",
    "PREPARE_AT",
    "create_reader",
    "kept_rows",
    "ping_when_idle",
]
