"""Packed run values: `runs.packed_values`, a copy of each run's params, latest metrics and tags
as one text, read by big searches (store/packed_values.py), and what keeps it honest.

The normalized tables stay the truth. A NULL text means "not packed": the run is read the
normalized way and the packer (store/run_packer.py) packs it later, in bounded batches. Every
run starts NULL, so this migration rewrites no row and an existing store of any size upgrades
at once (the partial index over NULL texts is the only build that grows with the runs).

Triggers on params, tags and latest_metrics invalidate a run's text whatever writes them:
- SQLite: they set it NULL (one writer at a time, and the packer reads and writes in one
  write transaction, so no text can be built from values older than a committed write).
- PostgreSQL: they append the run to `stale_run_values` (read with the page: a run listed
  there is read the normalized way), once per run while it is listed. Setting the text NULL
  would lock the runs row, and two writers each touching two packed runs in opposite orders
  would deadlock. Each trigger first takes FOR KEY SHARE on the run's row: the packer locks
  the runs it packs FOR UPDATE (SKIP LOCKED), so a writer either waits for the packer's commit
  and then sees its text (and lists the run), or holds its lock first and the packer skips
  the run. Statement-level, with transition tables: one call per statement, not per row.

Revision ID: 0008_packed_run_values
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_packed_run_values"
down_revision = "0007_staged_metric_points"
branch_labels = None
depends_on = None

TABLES = ("params", "tags", "latest_metrics")
_EVENTS = (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))

_PG_FUNCTION = """
CREATE FUNCTION nt_mark_runs_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM runs WHERE run_uuid IN (SELECT run_uuid FROM changed_rows)
        ORDER BY run_uuid FOR KEY SHARE;
    INSERT INTO stale_run_values (run_uuid)
        SELECT r.run_uuid FROM runs AS r
        WHERE r.run_uuid IN (SELECT run_uuid FROM changed_rows)
          AND r.packed_values IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM stale_run_values AS s WHERE s.run_uuid = r.run_uuid);
    RETURN NULL;
END $$
"""


def _sqlite_triggers(table: str, event: str, row: str) -> list[str]:
    # `run_uuid = x`, not `IN (x, y)`: an IN list built a temporary table on every call.
    unpack = (
        "UPDATE runs SET packed_values = NULL WHERE run_uuid = {row}.run_uuid "
        "AND packed_values IS NOT NULL; END"
    )
    found = [
        f"CREATE TRIGGER nt_unpack_{table}_{event} AFTER {event.upper()} ON {table} BEGIN "
        + unpack.format(row=row)
    ]
    if event == "update":  # a value moved to another run (nothing does so) unpacks both
        found.append(
            f"CREATE TRIGGER nt_unpack_{table}_moved AFTER UPDATE ON {table} "
            "WHEN OLD.run_uuid IS NOT NEW.run_uuid BEGIN " + unpack.format(row="OLD")
        )
    return found


def _pg_trigger(table: str, event: str, row: str) -> str:
    return (
        f"CREATE TRIGGER nt_stale_{table}_{event} AFTER {event.upper()} ON {table} "
        f"REFERENCING {row} TABLE AS changed_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION nt_mark_runs_stale()"
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("runs", sa.Column("packed_values", sa.Text(), nullable=True))
    unpacked = sa.text("packed_values IS NULL")
    op.create_index(
        "ix_runs_unpacked", "runs", ["run_uuid"], sqlite_where=unpacked, postgresql_where=unpacked
    )
    op.create_table(
        "stale_run_values",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("run_uuid", sa.String(32), nullable=False),
    )
    op.create_index("ix_stale_run_values_run", "stale_run_values", ["run_uuid"])
    if not sqlite:
        op.execute(_PG_FUNCTION)
    for table in TABLES:
        for event, row in _EVENTS:
            for ddl in (
                _sqlite_triggers(table, event, row) if sqlite else [_pg_trigger(table, event, row)]
            ):
                op.execute(ddl)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        events = [event for event, _ in _EVENTS] + (["moved"] if sqlite else [])
        for event in events:
            name = f"nt_unpack_{table}_{event}" if sqlite else f"nt_stale_{table}_{event}"
            op.execute(f"DROP TRIGGER {name}" + ("" if sqlite else f" ON {table}"))
    if not sqlite:
        op.execute("DROP FUNCTION nt_mark_runs_stale()")
    op.drop_table("stale_run_values")
    op.drop_index("ix_runs_unpacked", table_name="runs")
    # Not a batch (copy, drop, rename): dropping `runs` would cascade to every run's values.
    if not sqlite or _sqlite_drops_columns():
        op.execute("ALTER TABLE runs DROP COLUMN packed_values")
    # An older SQLite keeps the column: code at 0007 never reads or writes it.


def _sqlite_drops_columns() -> bool:
    import sqlite3

    return sqlite3.sqlite_version_info >= (3, 35, 0)
