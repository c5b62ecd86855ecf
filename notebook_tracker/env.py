"""Every environment variable notebook-tracker reads: its name, its default and its parser.

The rest of the package calls the accessors below and never reads `os.environ` itself, so each
variable is parsed one way and a bad value gets one message naming the variable. Writing a
variable (handing the store or a run to a child process) uses these names too. A new variable
gets a name constant and an accessor here.
"""

from __future__ import annotations

import os
from pathlib import Path

TRACKING_URI = "NOTEBOOK_TRACKER_URI"
ARTIFACT_ROOT = "NOTEBOOK_TRACKER_ARTIFACT_ROOT"
EXPERIMENT_NAME = "NOTEBOOK_TRACKER_EXPERIMENT_NAME"
EXPERIMENT_ID = "NOTEBOOK_TRACKER_EXPERIMENT_ID"
RUN_ID = "NOTEBOOK_TRACKER_RUN_ID"
PARENT_RUN_ID = "NOTEBOOK_TRACKER_PARENT_RUN_ID"
SYNC_LOGGING = "NOTEBOOK_TRACKER_SYNC_LOGGING"
FLUSH_INTERVAL = "NOTEBOOK_TRACKER_FLUSH_INTERVAL"
HEARTBEAT_TIMEOUT = "NOTEBOOK_TRACKER_HEARTBEAT_TIMEOUT"
SQLITE_SYNCHRONOUS = "NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS"
POSTGRES_NO_PREPARE = "NOTEBOOK_TRACKER_POSTGRES_NO_PREPARE"
NO_CALL_CHANNEL = "NOTEBOOK_TRACKER_NO_CALL_CHANNEL"
SERVER_NO_UVLOOP = "NOTEBOOK_TRACKER_SERVER_NO_UVLOOP"
SPIN_WAIT_US = "NOTEBOOK_TRACKER_SPIN_WAIT_US"
S3_ENDPOINT_URL = "NOTEBOOK_TRACKER_S3_ENDPOINT_URL"
TRACKING_TOKEN = "NOTEBOOK_TRACKER_TOKEN"
REQUIRE_ALL = "NOTEBOOK_TRACKER_REQUIRE_ALL"
TEST_POSTGRES_URI = "NOTEBOOK_TRACKER_TEST_POSTGRES_URI"
TEST_S3_ENDPOINT = "NOTEBOOK_TRACKER_TEST_S3_ENDPOINT"
CACHE_DIR = "NOTEBOOK_TRACKER_CACHE_DIR"
JOURNAL_DIR = "NOTEBOOK_TRACKER_JOURNAL_DIR"
JOURNAL_MAX_BYTES = "NOTEBOOK_TRACKER_JOURNAL_MAX_BYTES"
MAX_BUFFERED_POINTS = "NOTEBOOK_TRACKER_MAX_BUFFERED_POINTS"
FRAMEWORK_AUTOLOG = "NOTEBOOK_TRACKER_FRAMEWORK_AUTOLOG"
ENABLE_SYSTEM_METRICS_LOGGING = "NOTEBOOK_TRACKER_ENABLE_SYSTEM_METRICS_LOGGING"
SYSTEM_METRICS_SAMPLING_INTERVAL = "NOTEBOOK_TRACKER_SYSTEM_METRICS_SAMPLING_INTERVAL"
SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING = "NOTEBOOK_TRACKER_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING"
SYSTEM_METRICS_NODE_ID = "NOTEBOOK_TRACKER_SYSTEM_METRICS_NODE_ID"

# Other tools' variables we honour, in the order they are consulted.
TOKEN_VARIABLES = (TRACKING_TOKEN, "MLFLOW_TRACKING_TOKEN")
S3_ENDPOINT_VARIABLES = (S3_ENDPOINT_URL, "MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
XDG_CACHE_HOME = "XDG_CACHE_HOME"
CONDA_EXE = "CONDA_EXE"
JUPYTER_SESSION_NAME = "JPY_SESSION_NAME"

DEFAULT_FLUSH_INTERVAL_S = 0.5
DEFAULT_HEARTBEAT_TIMEOUT_S = 600.0
DEFAULT_MAX_BUFFERED_POINTS = 1_000_000
DEFAULT_JOURNAL_MAX_BYTES = 1 << 30
DEFAULT_SQLITE_SYNCHRONOUS = "FULL"
SQLITE_SYNCHRONOUS_LEVELS = ("NORMAL", "FULL", "EXTRA")
_TRUE = ("1", "true", "yes")


# -- parsers ---------------------------------------------------------------------------------
def text(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    return os.environ.get(name) or None


def flag(name: str) -> bool:
    """True for 1/true/yes (any case); anything else, or unset, is False."""
    return os.environ.get(name, "").lower() in _TRUE


def positive_int(name: str, default: int) -> int:
    """A whole-number setting (underscores allowed), or a clear error naming it."""
    return whole_number(name, default, 1, "a positive whole number")


def whole_number(name: str, default: int, minimum: int, what: str) -> int:
    """A whole number of at least `minimum` (underscores allowed), or an error naming the
    variable and saying it must be `what`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise _invalid(f"{name} must be {what}, got {raw!r}.")
    return value


def seconds(name: str, default: float) -> float:
    """A duration in seconds (zero or more), or a clear error naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value >= 0 or value == float("inf"):
        raise _invalid(f"{name} must be a number of seconds (0 or more), got {raw!r}.")
    return value


def first_set(names: tuple[str, ...]) -> tuple[str, str] | None:
    """(name, value) of the first variable in `names` that is set and not empty."""
    for name in names:
        value = os.environ.get(name)
        if value:
            return name, value
    return None


def _invalid(message: str) -> Exception:
    from notebook_tracker.errors import InvalidParameter

    return InvalidParameter(message)


# -- the variables ---------------------------------------------------------------------------
def tracking_uri() -> str | None:
    return text(TRACKING_URI)


def artifact_root() -> str | None:
    return text(ARTIFACT_ROOT)


def experiment_id() -> str | None:
    return text(EXPERIMENT_ID)


def experiment_name() -> str | None:
    return text(EXPERIMENT_NAME)


def run_id() -> str | None:
    """The run a project runner handed to this process."""
    return text(RUN_ID)


def parent_run_id() -> str | None:
    return text(PARENT_RUN_ID)


def sync_logging() -> bool:
    return flag(SYNC_LOGGING)


def flush_interval_s() -> float:
    return seconds(FLUSH_INTERVAL, DEFAULT_FLUSH_INTERVAL_S)


def heartbeat_timeout_s() -> float:
    return seconds(HEARTBEAT_TIMEOUT, DEFAULT_HEARTBEAT_TIMEOUT_S)


def sqlite_synchronous() -> str:
    """SQLite's `PRAGMA synchronous` for every connection: FULL (default), NORMAL or EXTRA."""
    raw = os.environ.get(SQLITE_SYNCHRONOUS, "").strip()
    if not raw:
        return DEFAULT_SQLITE_SYNCHRONOUS
    if raw.upper() not in SQLITE_SYNCHRONOUS_LEVELS:
        raise _invalid(
            f"{SQLITE_SYNCHRONOUS} must be one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)} "
            f"(FULL survives a power loss, NORMAL only a process crash), got {raw!r}."
        )
    return raw.upper()


def postgres_prepare() -> bool:
    """Whether the PostgreSQL reader prepares repeated SELECTs (store/pg_reads.py); set
    NOTEBOOK_TRACKER_POSTGRES_NO_PREPARE=1 behind a pooler in transaction mode (PgBouncer),
    where a statement prepared on one server connection is unknown on the next."""
    return not flag(POSTGRES_NO_PREPARE)


def server_uvloop() -> bool:
    """Whether the standalone server's workers run on uvloop's event loop where it is
    installed (server/standalone.py); NOTEBOOK_TRACKER_SERVER_NO_UVLOOP=1 keeps asyncio's own
    (to compare the two, or rule uvloop out)."""
    return not flag(SERVER_NO_UVLOOP)


def call_channel() -> bool:
    """Whether a REST store asks the server to upgrade its kept connections to the call
    channel (wire/call_frames.py); NOTEBOOK_TRACKER_NO_CALL_CHANNEL=1 keeps every call HTTP
    (a proxy that mishandles upgrades, or to compare the two)."""
    return not flag(NO_CALL_CHANNEL)


def spin_wait_us(default: int) -> int:
    """Microseconds a synchronous call polls for its answer before sleeping
    (socket_wait.py), and a server for a lone client's next call; 0 never polls."""
    return whole_number(SPIN_WAIT_US, default, 0, "a whole number of microseconds (0 or more)")


def max_buffered_points() -> int:
    return positive_int(MAX_BUFFERED_POINTS, DEFAULT_MAX_BUFFERED_POINTS)


def journal_max_bytes() -> int:
    return positive_int(JOURNAL_MAX_BYTES, DEFAULT_JOURNAL_MAX_BYTES)


def tracking_token() -> tuple[str, str] | None:
    """(variable, token) of the first token variable set, unchecked."""
    return first_set(TOKEN_VARIABLES)


def s3_endpoint_url() -> str | None:
    """The first S3 endpoint URL set, or None for AWS itself."""
    found = first_set(S3_ENDPOINT_VARIABLES)
    return found[1] if found else None


def cache_dir() -> Path:
    """`$NOTEBOOK_TRACKER_CACHE_DIR`, else `$XDG_CACHE_HOME/notebook-tracker`, else ~/.cache."""
    explicit = text(CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = text(XDG_CACHE_HOME) or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "notebook-tracker"


def journal_dir() -> Path:
    """`$NOTEBOOK_TRACKER_JOURNAL_DIR`, else `journal/` in notebook-tracker's cache folder."""
    explicit = text(JOURNAL_DIR)
    if explicit:
        return Path(explicit).expanduser().resolve()
    return cache_dir() / "journal"


def conda_exe() -> str | None:
    return text(CONDA_EXE)


def jupyter_session_name() -> str | None:
    return text(JUPYTER_SESSION_NAME)


def require_all() -> bool:
    """CI's switch: every skipped test is a failure."""
    return flag(REQUIRE_ALL)


def raw(name: str) -> str | None:
    """The variable exactly as set (None when unset), for a parser that lives with its feature;
    prefer a typed accessor here."""
    return os.environ.get(name)


def inherited(name: str) -> str | None:
    """A variable the user set for a child process to inherit (e.g. docker's `-e NAME`)."""
    return raw(name)


def environment() -> dict[str, str]:
    """A copy of this process's environment, for a child process to start from."""
    return dict(os.environ)
