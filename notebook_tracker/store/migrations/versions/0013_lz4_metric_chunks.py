"""PostgreSQL: metric chunks' columns are compressed with lz4, not pglz.

PostgreSQL compresses a column value once its row passes about 2 KB, with pglz unless told
otherwise. Two of a team server's writes pass it: every staged row (a request's 100 keys, their
names and 3 x 800 bytes of points) and every merged chunk of a key. pglz cost most of a merged
chunk's insert: 2,048 points took 3.2 ms to insert where lz4 took 0.9 (8,192 points: 11.9 ms
against 3.0), and under MLflow's JSON log-batch load from 4 clients those inserts (3.1 ms each)
were a fifth of PostgreSQL's statement time; a staged row's write went from 0.65-0.68 to
0.61-0.63 ms. lz4 stores such chunks 5-13% larger; reading them back takes the same time.

Only new values take lz4: rows already stored keep pglz, and PostgreSQL reads either. A server
built without lz4 (an option since PostgreSQL 14), or older than 14, keeps pglz: the upgrade
then changes nothing. SQLite does not compress, and is left alone.

Revision ID: 0013_lz4_metric_chunks
"""

from alembic import op
from sqlalchemy import text

revision = "0013_lz4_metric_chunks"
down_revision = "0012_row_stale_marking"
branch_labels = None
depends_on = None

COLUMNS = ("steps", "timestamps", "values", "key_index", "staged_keys")


def upgrade() -> None:
    if _has_lz4():
        _set_compression("lz4")


def downgrade() -> None:
    if _has_lz4():
        _set_compression("default")


def _has_lz4() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    found = bind.execute(
        text(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
    ).first()
    return found is not None


def _set_compression(method: str) -> None:
    changes = ", ".join(f'ALTER COLUMN "{name}" SET COMPRESSION {method}' for name in COLUMNS)
    op.execute(f"ALTER TABLE metric_chunks {changes}")
