"""Which store a CLI command uses: found the way git finds `.git`, named on stderr, and never
created by a command that only reads or changes what is already there."""

from __future__ import annotations

import re
from pathlib import Path

import click

from notebook_tracker import config
from notebook_tracker.errors import NotFound

URI_FORMS = (
    "a store folder (holding tracker.db or .notebook_tracker/), sqlite:///path/tracker.db, "
    "postgresql://… or http(s)://…"
)


def resolve_store_uri(tracking_uri: str | None, *, create: bool = False) -> str:
    """The store URI for `--tracking-uri` (or $NOTEBOOK_TRACKER_URI), else the nearest
    `.notebook_tracker/` at or above the working directory. A missing SQLite store is an error
    unless `create` (only commands that add something may start a store)."""
    if tracking_uri:
        uri = config.normalize_uri(tracking_uri)
        db = config.sqlite_path(uri)
        if db is not None and not create and not db.exists():
            raise NotFound(
                f"No store at {db}: nothing has been tracked there. "
                f"Pass --tracking-uri {URI_FORMS}."
            )
    else:
        found = config.find_store()
        if found is not None:
            uri = f"sqlite:///{found}"
        elif create:
            uri = config.default_tracking_uri()
        else:
            raise NotFound(
                f"No store found in {Path.cwd()} or any folder above it (looked for "
                f"{config.STORE_DIRNAME}/{config.DB_FILENAME}): run from your notebooks' folder "
                f"or pass --tracking-uri {URI_FORMS}."
            )
    click.echo(f"store: {describe(uri)}", err=True)
    return uri


def describe(uri: str) -> str:
    """The URI as shown to a person: a SQLite store as its path, passwords masked."""
    db = config.sqlite_path(uri)
    if db is not None:
        return str(db)
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", uri)
