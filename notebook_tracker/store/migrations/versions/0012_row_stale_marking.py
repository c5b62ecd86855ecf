"""PostgreSQL: a new value of a run being logged to marks nothing stale, so costs no trigger.

Migration 0008 marked a packed run stale from statement-level triggers on latest_metrics:
every upsert called them twice (INSERT ... ON CONFLICT fires the insert and the update
trigger), each locking the statement's runs and looking them up in `stale_run_values`. A
100-metric request to a running run, which is never packed, spent about 0.25 ms of
PostgreSQL's CPU on them: a fifth of its write.

Row-level triggers now mark the run instead, and only where a value can leave a packed text
behind:
- an inserted row (a key new to the run);
- an update of a settled row (`WHEN (OLD.settled)`): every writer marks the rows it writes
  unsettled (migration 0011), so only the first write to a settled run fires it, once a row;
- a deleted row (statement-level, as before: only a run's deletion deletes rows).
An update of an unsettled row fires nothing. That is safe because the packer no longer packs
a run that has unsettled rows (run_packer.py): a packed run's rows are all settled, so any
change to its values is an insert or an update of a settled row. A writer's trigger still
takes FOR KEY SHARE on the run first, so it waits for a packer holding the run and then lists
it stale, or the packer skips a run the writer holds.

A store packed before this may hold packed runs with unsettled rows (the packer took any run
then): the upgrade lists those stale, so they are read the normalized way until settled and
packed again.

SQLite's triggers are left as they are (its packer reads and writes in one write transaction).

Revision ID: 0012_row_stale_marking
"""

from alembic import op

revision = "0012_row_stale_marking"
down_revision = "0011_heap_only_latest_metrics"
branch_labels = None
depends_on = None

_ROW_FUNCTION = """
CREATE FUNCTION nt_mark_run_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM runs WHERE run_uuid = NEW.run_uuid FOR KEY SHARE;
    INSERT INTO stale_run_values (run_uuid)
        SELECT r.run_uuid FROM runs AS r
        WHERE r.run_uuid = NEW.run_uuid
          AND r.packed_values IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM stale_run_values AS s WHERE s.run_uuid = r.run_uuid);
    RETURN NULL;
END $$
"""
_STATEMENT_TRIGGERS = {"insert": "NEW", "update": "NEW"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for event in _STATEMENT_TRIGGERS:
        op.execute(f"DROP TRIGGER nt_stale_latest_metrics_{event} ON latest_metrics")
    op.execute(_ROW_FUNCTION)
    op.execute(
        "CREATE TRIGGER nt_stale_latest_metrics_insert AFTER INSERT ON latest_metrics "
        "FOR EACH ROW EXECUTE FUNCTION nt_mark_run_stale()"
    )
    op.execute(
        "CREATE TRIGGER nt_stale_latest_metrics_update AFTER UPDATE ON latest_metrics "
        "FOR EACH ROW WHEN (OLD.settled) EXECUTE FUNCTION nt_mark_run_stale()"
    )
    op.execute(
        "INSERT INTO stale_run_values (run_uuid) SELECT r.run_uuid FROM runs AS r "
        "WHERE r.packed_values IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM latest_metrics AS m WHERE m.run_uuid = r.run_uuid "
        "AND NOT m.settled) "
        "AND NOT EXISTS (SELECT 1 FROM stale_run_values AS s WHERE s.run_uuid = r.run_uuid)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for event, row in _STATEMENT_TRIGGERS.items():
        op.execute(f"DROP TRIGGER nt_stale_latest_metrics_{event} ON latest_metrics")
        op.execute(
            f"CREATE TRIGGER nt_stale_latest_metrics_{event} AFTER {event.upper()} ON "
            f"latest_metrics REFERENCING {row} TABLE AS changed_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION nt_mark_runs_stale()"
        )
    op.execute("DROP FUNCTION nt_mark_run_stale()")
