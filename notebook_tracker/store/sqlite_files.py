"""Which file a SQLite tracking URL opens, for the files kept beside it (locks, its folder).

`sqlite:///file:/data/t.db?mode=ro&uri=true` opens /data/t.db: with `uri=true` SQLite reads
the database name as a `file:` URI. Taken as a plain path, its folder and lock files would be
made under a `file:` folder in the working directory.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.engine import URL, make_url


def database_file(url: URL | str) -> str | None:
    """The database file's path; None for a memory database (or no name)."""
    if isinstance(url, str):
        url = make_url(url)
    database = url.database
    if not database or database == ":memory:":
        return None
    if str(url.query.get("uri", "")).lower() not in ("true", "1") or not database.startswith(
        "file:"
    ):
        return database
    parts = urlsplit(database)
    if "memory" in (str(url.query.get("mode", "")), *parse_qs(parts.query).get("mode", [])):
        return None
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost"):
        return None  # SQLite refuses another host: there is no file of ours to look beside
    return path or None
