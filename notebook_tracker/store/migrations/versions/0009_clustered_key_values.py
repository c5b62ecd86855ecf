"""SQLite: params, tags and latest_metrics stored in (run_uuid, key) order (WITHOUT ROWID), in
place of migration 0006's covering (run_uuid, key, value) indexes.

A rowid table keyed (run_uuid, key) is three B-trees for one row: the table, its primary key
index and the covering index that lets many runs' values be read in run_uuid order. A table
stored in its primary key's order is that covering index itself, so each write changes one
B-tree fewer: a synchronous `log_param` commits two pages to the WAL instead of four, a
`set_tag` one instead of two, a `log_metric` four instead of five, and the commit's
fdatasync writes that much less. Reads walk the table as they walked the covering index.

Each table is copied into its new form, then dropped and the copy renamed; its other indexes
and the triggers of migration 0008 are made again from their own SQL. A row whose run no
longer exists (left by a store that once ran without foreign keys) is not copied. It rewrites
every row: 100,000 runs (1M rows) took 2.3 s. PostgreSQL is left as it is: its tables are
heaps either way, and its covering index on latest_metrics stays.

Revision ID: 0009_clustered_key_values
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0009_clustered_key_values"
down_revision = "0008_packed_run_values"
branch_labels = None
depends_on = None

# table -> migration 0006's covering index of it on SQLite, and that index's columns
COVERING = {
    "params": ("ix_params_run_key_value", '(run_uuid, "key", value)'),
    "tags": ("ix_tags_run_key_value", '(run_uuid, "key", value)'),
    "latest_metrics": ("ix_latest_metrics_run_key_value", '(run_uuid, "key", value, is_nan)'),
}
_NEW = "_nt_rebuilt"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, (covering, _) in COVERING.items():
            _rebuild(table, clustered=True, drop_index=covering, add_index=None)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, (covering, columns) in COVERING.items():
            add = f"CREATE INDEX {covering} ON {table} {columns}"
            _rebuild(table, clustered=False, drop_index=None, add_index=add)


def _rebuild(table: str, clustered: bool, drop_index: str | None, add_index: str | None) -> None:
    """Copy `table` into a table of the same columns and constraints, stored in primary key
    order or not, and put the copy in its place with the same indexes (but `drop_index`, and
    with `add_index`) and triggers."""
    conn = op.get_bind()

    def schema_sql(kind: str) -> list[tuple[str, str]]:
        rows = conn.execute(
            sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = :kind AND tbl_name = :table "
                "AND sql IS NOT NULL ORDER BY name"
            ),
            {"kind": kind, "table": table},
        )
        return [(str(name), str(sql)) for name, sql in rows]

    ((_, create),) = schema_sql("table")
    indexes = [sql for name, sql in schema_sql("index") if name != drop_index]
    triggers = [sql for _, sql in schema_sql("trigger")]
    head = re.match(rf'\s*CREATE TABLE\s+("{table}"|{table})\s*\(', create, re.IGNORECASE)
    if head is None:
        raise RuntimeError(f"unexpected definition of table {table}: {create[:200]}")
    body = re.sub(r"\)\s*WITHOUT\s+ROWID\s*$", ")", create[head.end() - 1 :].rstrip())
    columns = ", ".join(
        f'"{row[1]}"' for row in conn.execute(sa.text(f'PRAGMA table_info("{table}")'))
    )
    run = conn.exec_driver_sql  # SQL as written: no bind parameters parsed out of it
    # The store's engine makes the whole migration one transaction; a connection that commits
    # each DDL statement (a plain engine) may have left a copy behind when it was killed.
    run(f"DROP TABLE IF EXISTS {table}{_NEW}")
    run(f"CREATE TABLE {table}{_NEW} {body}" + (" WITHOUT ROWID" if clustered else ""))
    run(
        f"INSERT INTO {table}{_NEW} ({columns}) SELECT {columns} FROM {table} "
        "WHERE run_uuid IN (SELECT run_uuid FROM runs)"
    )
    run(f"DROP TABLE {table}")  # its indexes and triggers with it
    run(f"ALTER TABLE {table}{_NEW} RENAME TO {table}")
    for ddl in indexes + ([add_index] if add_index else []) + triggers:
        run(ddl)
