"""Store and startup failures read as one line naming the file or server and what to do.

Through the CLI (real processes), the Python API and a real server's HTTP answers: never SQL
text, bind parameters, a password or a traceback (unless --debug asks for one).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import free_port
from standalone_server import running_server
from test_secrets_in_logs import _one_error_line

from notebook_tracker.errors import StoreUnavailable, TrackerError

LEAKS = ("SELECT", "INSERT", "UPDATE ", "[SQL:", "[parameters:", "sqlalche.me", "Traceback")
PASSWORD = "pw-S3cret-91f2"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")}
    return subprocess.run(
        [sys.executable, "-m", "notebook_tracker.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )


def _assert_clean(text: str) -> None:
    for leak in (*LEAKS, PASSWORD):
        assert leak not in text, f"{leak!r} in:\n{text}"


def _unusable_sqlite(tmp_path: Path, case: str) -> tuple[Path, str]:
    """(database path, what the message must say) for one way a SQLite path can be unusable."""
    if case == "folder is a file":
        (tmp_path / "afile").write_text("not a folder")
        return tmp_path / "afile" / "sub" / "tracker.db", "a file is in the way"
    if case == "path is a folder":
        (tmp_path / "adir").mkdir()
        return tmp_path / "adir", "is a folder"
    if case == "not a database":
        (tmp_path / "garbage.db").write_bytes(os.urandom(8192))
        return tmp_path / "garbage.db", "not a SQLite database"
    if case == "read-only database":
        from notebook_tracker.store.sql import SqlStore

        SqlStore(f"sqlite:///{tmp_path / 'ro.db'}").writer.dispose()
        # Opened read-only by SQLite itself: file permissions would not stop root.
        return Path(f"{tmp_path / 'ro.db'}"), "is read-only"
    # Unwritable folder: permissions do not stop root, /proc stops everyone.
    if os.geteuid() == 0:
        return Path("/proc/tracker.db"), "cannot be opened"
    folder = tmp_path / "readonly"
    folder.mkdir(mode=0o555)
    return folder / "tracker.db", "not writable"


SQLITE_CASES = [
    "folder is a file",
    "path is a folder",
    "not a database",
    "unwritable folder",
    "read-only database",
]


def _sqlite_uri(path: Path, case: str) -> str:
    if case == "read-only database":
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return f"sqlite:///{path}"


@pytest.mark.parametrize("case", SQLITE_CASES)
def test_cli_names_an_unusable_sqlite_path(tmp_path: Path, case: str) -> None:
    path, says = _unusable_sqlite(tmp_path, case)
    result = _cli("experiments", "create", "demo", "--tracking-uri", _sqlite_uri(path, case))
    line = _one_error_line(result)
    assert str(path) in line and says in line
    _assert_clean(result.stdout + result.stderr)


@pytest.mark.parametrize("case", SQLITE_CASES)
def test_python_api_names_an_unusable_sqlite_path(tmp_path: Path, case: str) -> None:
    from notebook_tracker.client import TrackingClient

    path, says = _unusable_sqlite(tmp_path, case)
    with pytest.raises(StoreUnavailable) as raised:
        TrackingClient(_sqlite_uri(path, case)).create_experiment("demo")
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and says in message
    _assert_clean(message)


def _unreachable_postgres() -> tuple[str, int]:
    port = free_port()
    return f"postgresql://nt_user:{PASSWORD}@127.0.0.1:{port}/nt_db", port


def test_cli_names_an_unreachable_postgres_without_its_password() -> None:
    uri, port = _unreachable_postgres()
    result = _cli("runs", "list", "--tracking-uri", uri)
    line = _one_error_line(result)
    assert f"127.0.0.1:{port}" in line and "nt_db" in line and "Connection refused" in line
    _assert_clean(result.stdout + result.stderr)


def test_python_api_names_an_unreachable_postgres() -> None:
    import notebook_tracker as nt

    uri, port = _unreachable_postgres()
    nt.set_tracking_uri(uri)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            nt.start_run()
    finally:
        nt.set_tracking_uri(None)
    assert raised.value.http_status == 503
    assert f"127.0.0.1:{port}" in raised.value.message and "\n" not in raised.value.message
    _assert_clean(raised.value.message)


def test_server_start_against_an_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    uri, port = _unreachable_postgres()
    result = _cli(
        "server", "--backend-store-uri", uri, "--artifacts-destination", str(tmp_path / "a"),
        "--port", "0",
    )  # fmt: skip
    assert f"127.0.0.1:{port}" in _one_error_line(result)
    _assert_clean(result.stdout + result.stderr)


def test_server_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli(
            "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'x.db'}", "--port", str(port)
        )
    line = _one_error_line(result)
    assert f"Port {port} on 127.0.0.1 is already in use" in line and "--port" in line


def test_unsupported_uri_is_one_line_without_its_password() -> None:
    result = _cli("experiments", "list", "--tracking-uri", f"mysql://me:{PASSWORD}@db/x")
    assert "Unsupported tracking URI" in _one_error_line(result)
    _assert_clean(result.stderr)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path, _ = _unusable_sqlite(tmp_path, "path is a folder")
    args = ("experiments", "create", "demo", "--tracking-uri", f"sqlite:///{path}")
    by_flag = _cli("--debug", *args)
    by_env = _cli(*args, env={"NOTEBOOK_TRACKER_DEBUG": "1"})
    for result in (by_flag, by_env):
        assert result.returncode == 1
        assert "Traceback" in result.stderr and "StoreUnavailable" in result.stderr


def test_a_refused_constraint_is_still_an_integrity_error(tmp_path: Path) -> None:
    """Code that settles races catches IntegrityError; users read a TrackerError, no SQL."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from notebook_tracker.store.schema import experiments
    from notebook_tracker.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    duplicate = insert(experiments).values(
        experiment_id=0,
        name="Default",
        artifact_location="",
        lifecycle_stage="active",
        creation_time=0,
        last_update_time=0,
    )
    with pytest.raises(IntegrityError) as raised:
        with store.writer.begin() as conn:
            conn.execute(duplicate)
    error = raised.value
    assert isinstance(error, TrackerError) and error.http_status == 400
    assert error.error_code == "RESOURCE_ALREADY_EXISTS"
    assert str(tmp_path / "tracker.db") in str(error)
    _assert_clean(str(error))


class _Relay:
    """A TCP relay to a database that the test can cut, as if the database went down."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(), stops listening
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.postgres
def test_server_answers_503_with_a_clean_message_when_the_database_is_down(
    tmp_path: Path, postgres_uri: str
) -> None:
    from sqlalchemy.engine import make_url

    real = make_url(postgres_uri)
    relay = _Relay(real.host or "127.0.0.1", real.port or 5432)
    through_relay = real.set(host="127.0.0.1", port=relay.port)
    uri = through_relay.render_as_string(hide_password=False)
    password = real.password or ""
    search = "/api/2.0/mlflow/experiments/search?max_results=10"
    with running_server(tmp_path, uri, str(tmp_path / "artifacts"), workers=1) as server:
        assert _get(server.url + search)[0] == 200
        relay.cut()
        status, body = _get(server.url + search)
        log = server.log()
    assert status == 503, body
    assert body["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert f"127.0.0.1:{relay.port}" in body["message"] and real.database in body["message"]
    for text in (body["message"], log):
        _assert_clean(text)
        assert not password or password not in text
    assert "PostgreSQL database" in log  # logged, as one line


def test_server_with_an_unusable_artifacts_destination_is_one_line(tmp_path: Path) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    result = _cli(
        "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'x.db'}",
        "--artifacts-destination", str(in_the_way / "artifacts"), "--port", "0",
    )  # fmt: skip
    line = _one_error_line(result)
    assert str(in_the_way / "artifacts") in line and "--artifacts-destination" in line
    assert "listening" not in result.stdout


def _limit_file_size() -> None:
    import resource

    limit = 4 * 1024 * 1024  # room for the database, not for the upload below
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_is_a_503_with_one_log_line(tmp_path: Path) -> None:
    """Writing past the disk's room (here a file-size limit: EFBIG, as ENOSPC would be) is
    the operator's to fix: a JSON 503 for the client, one line in the log, no traceback."""
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "notebook_tracker.cli", "server", "--port", str(port),
                "--backend-store-uri", f"sqlite:///{tmp_path / 'store' / 'tracker.db'}",
            ],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_limit_file_size,
        )  # fmt: skip
    try:
        from helpers import port_is_open, wait_until

        wait_until(lambda: port_is_open("127.0.0.1", port), timeout=60, what="server")
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/big.bin"
        request = urllib.request.Request(url, data=os.urandom(6 * 1024 * 1024), method="PUT")
        try:
            urllib.request.urlopen(request, timeout=60)
            status, body = 200, {}
        except urllib.error.HTTPError as error:
            status, body = error.code, json.loads(error.read())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    log_text = log_path.read_text(errors="replace")
    assert status == 503, body
    assert body["error_code"] == "TEMPORARILY_UNAVAILABLE" and "storage" in body["message"]
    assert "Traceback" not in log_text and "big.bin" in log_text


def test_server_start_against_an_unusable_sqlite_path_is_one_line(tmp_path: Path) -> None:
    path, says = _unusable_sqlite(tmp_path, "unwritable folder")
    result = _cli("server", "--backend-store-uri", f"sqlite:///{path}", "--port", "0")
    line = _one_error_line(result)
    assert str(path) in line and says in line
    assert "listening" not in result.stdout
    _assert_clean(result.stdout + result.stderr)


def test_cli_against_an_unreachable_server_is_one_line() -> None:
    port = free_port()
    result = _cli("experiments", "list", "--tracking-uri", f"http://me:{PASSWORD}@127.0.0.1:{port}")
    line = _one_error_line(result)
    assert f"Cannot reach the tracking server at http://me:[secret]@127.0.0.1:{port}" in line
    assert "Is it running?" in line
    _assert_clean(result.stdout + result.stderr)
