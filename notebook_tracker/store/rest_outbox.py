"""Buffered metric points on their way to a tracking server: none is lost without a word.

The metric buffer's flusher hands rows here. They are encoded once into `runs/log-batch` bodies
(one run, at most 1000 points each) and sent in order. When the server cannot be reached (after
the transport's short retries) the bodies go to this process's journal (journal.py) instead,
and so does everything logged after them, so order is kept; the flusher replays the journal
with backoff (0.5 s doubling to 5 s) and `flush()`/`end_run()` try at once. A journal left by a
process that died is adopted and replayed before this process's own points.

Only a refusal that can never succeed (the run is deleted or unknown, the batch is invalid)
drops points: a warning gives the count and the server's reason, and the next `flush()` or
`end_run()` raises it. A 401/403, a 5xx or an unknown endpoint keeps the points: they may be
delivered once the token or URL is fixed (by a later process, from the journal).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence

from notebook_tracker import env
from notebook_tracker.errors import (
    AuthRefused,
    JournalFull,
    MetricsRefused,
    MetricsUndelivered,
    TrackerError,
)
from notebook_tracker.lazy_log import LazyLogger
from notebook_tracker.store.journal import DATA, END, Journal, max_bytes, server_dir
from notebook_tracker.store.rest_encoding import POINTS_PER_FRAME, encode_bodies, encode_frames
from notebook_tracker.store.rest_transport import Transport
from notebook_tracker.wire import batch

_log = LazyLogger(__name__)

API = "api/2.0/mlflow/"
INGEST = "api/ingest"
REPLAY_BACKOFF_S = 0.5
REPLAY_MAX_BACKOFF_S = 5.0
# Refusals that resending cannot fix; anything else (5xx, 429, auth, wrong URL) keeps points.
_PERMANENT_CODES = frozenset({"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "BAD_REQUEST"})
_JSON = {"Content-Type": "application/json"}
_FRAME = {"Content-Type": batch.CONTENT_TYPE}


def _split(payload: bytes) -> tuple[str, int, bytes]:
    run_id, count, body = payload.split(b"\n", 2)
    return run_id.decode(), int(count), body


def _points(kind: int, payload: bytes) -> int:
    return _split(payload)[1] if kind == DATA else 0


def _permanent(error: TrackerError) -> bool:
    if isinstance(error, AuthRefused):
        return False
    return 400 <= error.http_status < 500 and error.error_code in _PERMANENT_CODES


class RestOutbox:
    """The sink of one process's metric buffer for one server (see MetricBuffer)."""

    def __init__(self, uri: str, token: str | None) -> None:
        self.uri = uri
        max_bytes()  # a bad NOTEBOOK_TRACKER_JOURNAL_MAX_BYTES is an error now, not mid-outage
        self.http = Transport(uri, token=token, max_retries=2, backoff_s=0.2, timeout_s=30.0)
        self.journal: Journal | None = None
        self.orphans: list[Journal] | None = None  # None until looked for (first tick)
        self.held: list[tuple[int, bytes]] = []  # encoded, but the journal could not take them
        self.kept_points = 0  # in the journal(s) or held, not yet delivered
        self.kept_end = False
        self.down_since: float | None = None
        self.reason = ""
        self.attempts = 0
        self.next_try = 0.0
        self.blocked_error: TrackerError | None = None
        self.refusal: MetricsRefused | None = None
        # Whether the server takes compact frames: None until it is asked (once it answers).
        self.compact: bool | None = None
        self.frame_points = POINTS_PER_FRAME  # fewer if the server's body limit is lower

    # -- the sink interface --------------------------------------------------------------------
    def write(self, rows: Sequence[tuple[str, str, float, int, int]]) -> None:
        records = [(DATA, payload) for payload in self._encode(rows)]
        self._send_or_keep(records)

    def end_run(
        self,
        run_id: str,
        status: str,
        end_time: int,
        rows: Sequence[tuple[str, str, float, int, int]] = (),
    ) -> None:
        """Points first, then the end of the run (kept in the journal too if it cannot go)."""
        end = json.dumps({"run_id": run_id, "status": status, "end_time": end_time})
        records = [(DATA, p) for p in self._encode(rows)] + [(END, end.encode())]
        self._send_or_keep(records)
        self.settle(raise_errors=True)

    def tick(self) -> None:
        """From the flusher, every interval: adopt journals of dead processes, replay if due."""
        if self.orphans is None:
            self._adopt()
        if self.backlog and time.monotonic() >= self.next_try:
            self._replay()

    def settle(self, raise_errors: bool) -> None:
        """Try to deliver what is kept (now, when raising); raise a refusal, then a backlog."""
        if self.orphans is None:
            self._adopt()
        if self.backlog and (raise_errors or time.monotonic() >= self.next_try):
            self._replay()
        if not raise_errors:
            return
        refusal, self.refusal = self.refusal, None
        if self.backlog:
            raise self._undelivered(refusal)
        if refusal is not None:
            raise refusal

    def blocked(self) -> TrackerError | None:
        """Why no more points can be taken (server down and journal unusable), or None."""
        if self.blocked_error is None:
            return None
        return MetricsUndelivered(
            f"{self._down_text()}, and {str(self.blocked_error).rstrip('.')}: "
            f"{self.kept_points} points are kept in the journal and in memory until it answers"
        )

    def close(self) -> None:
        """At exit: keep the journal on disk if it holds anything, and say where it is."""
        if self.held:
            self._to_journal()
        if self.backlog:
            _log.warning("notebook-tracker: %s", self._undelivered(None, exiting=True))
        for journal in [self.journal, *(self.orphans or [])]:
            if journal is not None:
                journal.close()
        self.journal, self.orphans = None, []

    def forget_after_fork(self) -> None:
        for journal in [self.journal, *(self.orphans or [])]:
            if journal is not None:
                journal.release_copy()

    # -- internals ------------------------------------------------------------------------------
    @property
    def backlog(self) -> bool:
        return self.kept_points > 0 or self.kept_end or bool(self.held)

    def _send_or_keep(self, records: list[tuple[int, bytes]]) -> None:
        if self.backlog:
            self._keep(records)
            if time.monotonic() >= self.next_try:
                self._replay()
            return
        for i, (kind, payload) in enumerate(records):
            if not self._deliver(kind, payload):
                self._keep(records[i:])
                return

    def _encode(self, rows: Sequence[tuple[str, str, float, int, int]]) -> list[bytes]:
        if self.compact is None and not self.backlog:
            self.compact = self._ask_compact()
        return encode_frames(rows, self.frame_points) if self.compact else encode_bodies(rows)

    def _ask_compact(self) -> bool | None:
        """Whether the server takes compact frames (GET api/ingest); None if it cannot say now
        (JSON meanwhile). A server without the endpoint (a stock MLflow server) answers 404."""
        probe = Transport(self.uri, token=self.http.token, max_retries=0, timeout_s=5.0)
        try:
            answer = probe.call("GET", INGEST)
        except TrackerError as error:
            return False if error.error_code == "ENDPOINT_NOT_FOUND" else None
        max_bytes = answer.get("max_bytes")
        if isinstance(max_bytes, int) and max_bytes > 0:
            # Half the body limit for points leaves the header (keys, run id) ample room.
            room = max_bytes // 2 // batch.POINT_BYTES
            self.frame_points = max(1, min(POINTS_PER_FRAME, room))
        return batch.FORMAT in answer.get("formats", [])

    def _send_data(self, body: bytes) -> None:
        if body[:4] != batch.MAGIC:
            self.http.request("POST", API + "runs/log-batch", data=body, headers=_JSON)
            return
        if self.compact is not False:
            try:
                self.http.request("POST", INGEST, data=body, headers=_FRAME)
                return
            except TrackerError as error:
                if error.error_code != "ENDPOINT_NOT_FOUND":
                    raise
                self.compact = False  # the server changed (e.g. to a stock MLflow): JSON now
        for payload in encode_bodies(batch.rows(batch.decode(body))):
            self.http.request(
                "POST", API + "runs/log-batch", data=_split(payload)[2], headers=_JSON
            )

    def _deliver(self, kind: int, payload: bytes) -> bool:
        """True when the server took the record (or refused it for good); False to keep it."""
        try:
            if kind == DATA:
                self._send_data(_split(payload)[2])
            elif kind == END:
                end = json.loads(payload)
                end["run_uuid"] = end["run_id"]
                self.http.call("POST", API + "runs/update", body=end)
        except TrackerError as error:
            if _permanent(error):
                self._refused(kind, payload, error)
                return True
            self._went_down(error)
            return False
        if self.down_since is not None and not self.backlog:
            self._came_back()
        return True

    def _keep(self, records: list[tuple[int, bytes]]) -> None:
        for kind, payload in records:
            self.kept_points += _points(kind, payload)
            self.kept_end = self.kept_end or kind == END
        self.held.extend(records)
        self._to_journal()

    def _to_journal(self) -> None:
        try:
            if self.journal is None:
                self.journal = Journal.create(self.uri)
            self.journal.append(self.held, max_bytes())
        except (JournalFull, OSError) as error:
            if isinstance(error, JournalFull):
                self.blocked_error = error
            else:
                where = self.journal.path if self.journal is not None else server_dir(self.uri)
                self.blocked_error = TrackerError(
                    f"the journal cannot be written in {where} ({error}; set {env.JOURNAL_DIR} "
                    "to a writable folder)"
                )
            return
        self.held = []
        self.blocked_error = None

    def _adopt(self) -> None:
        own = self.journal.path if self.journal is not None else None
        try:
            self.orphans = Journal.adopt_orphans(self.uri, own)
        except OSError as error:
            _log.warning("notebook-tracker could not look for journals to replay: %s", error)
            self.orphans = []
            return
        for orphan in self.orphans:
            entries = list(orphan.pending())
            points = sum(_points(e.kind, e.payload) for e in entries)
            self.kept_points += points
            self.kept_end = self.kept_end or any(e.kind == END for e in entries)
            if orphan.torn_bytes:
                _log.warning(
                    "notebook-tracker: the journal %s ends with a torn record (%d bytes, written "
                    "as its process was killed); it is skipped.",
                    orphan.path,
                    orphan.torn_bytes,
                )
            if points:
                _log.warning(
                    "notebook-tracker: replaying %d metric points that a process which exited "
                    "left undelivered for %s (journal %s).",
                    points,
                    self.uri,
                    orphan.path,
                )

    def _replay(self) -> bool:
        """Deliver kept records in order (orphans, own journal, then held); False if stopped."""
        if self.held:
            self._to_journal()
        for journal in [*(self.orphans or []), self.journal]:
            if journal is None:
                continue
            for entry in journal.pending():
                if not self._deliver(entry.kind, entry.payload):
                    return False
                self._delivered(entry.kind, entry.payload)
                journal.ack(entry.end)
        while self.held:
            kind, payload = self.held[0]
            if not self._deliver(kind, payload):
                return False
            self._delivered(kind, payload)
            self.held.pop(0)
        self.blocked_error = None  # nothing is waiting any more: the journal starts empty
        for orphan in self.orphans or []:
            orphan.close()
        self.orphans = []
        self.kept_points, self.kept_end = 0, False
        if self.down_since is not None:
            self._came_back()
        return True

    def _delivered(self, kind: int, payload: bytes) -> None:
        self.kept_points -= _points(kind, payload)

    def _refused(self, kind: int, payload: bytes, error: TrackerError) -> None:
        if kind == END:
            run_id = json.loads(payload)["run_id"]
            _log.warning(
                "notebook-tracker: the server at %s refused to end run %s: %s",
                self.uri,
                run_id,
                error,
            )
            return
        run_id, count, _ = _split(payload)
        text = (
            f"The tracking server at {self.uri} refused {count} metric points of run {run_id} "
            f"for good, so they were dropped: {error}"
        )
        _log.warning("notebook-tracker: %s", text)
        if self.refusal is None:
            self.refusal = MetricsRefused(text, error.error_code)
        else:
            self.refusal = MetricsRefused(
                f"{self.refusal} (and {count} more points of run {run_id}: {error})",
                error.error_code,
            )

    def _went_down(self, error: TrackerError) -> None:
        self.reason = str(error)
        if self.down_since is None:
            self.down_since = time.time()
            self.attempts = 0
            _log.warning(
                "notebook-tracker: %s Metric points are kept on disk and sent, in order, when it "
                "answers again.",
                self.reason if self.reason.endswith((".", ".)")) else self.reason + ".",
            )
        self.attempts += 1
        delay = min(REPLAY_MAX_BACKOFF_S, REPLAY_BACKOFF_S * 2 ** (self.attempts - 1))
        self.next_try = time.monotonic() + delay * (0.5 + random.random() / 2)

    def _came_back(self) -> None:
        _log.warning(
            "notebook-tracker: the tracking server at %s answers again after %.0f s; every kept "
            "point is delivered.",
            self.uri,
            time.time() - (self.down_since or time.time()),
        )
        self.down_since = None
        self.attempts = 0
        self.next_try = 0.0

    def _down_text(self) -> str:
        if self.down_since is None:
            return f"The tracking server at {self.uri} could not take the points yet"
        since = time.strftime("%H:%M:%S", time.localtime(self.down_since))
        return f"The tracking server at {self.uri} has failed since {since} ({self.reason})"

    def _undelivered(
        self, refusal: MetricsRefused | None, exiting: bool = False
    ) -> MetricsUndelivered:
        where = ", ".join(str(j.path) for j in self._journals()) or "memory"
        what = f"{self.kept_points} metric points"
        if self.kept_end:
            what += " and the end of a run"
        text = (
            f"{self._down_text().rstrip('.')}: {what} could not be delivered. They are kept in "
            f"{where} and will be sent, in order, when the server answers: "
            + ("" if exiting else "by this process, or ")
            + f"by the next process that starts a run on {self.uri}."
        )
        if self.held:
            text += f" ({len(self.held)} batches are only in memory: {self.blocked_error}.)"
        if refusal is not None:
            text += f" Also: {refusal}"
        error = MetricsUndelivered(text)
        error.journal_paths = [j.path for j in self._journals()]
        error.count = self.kept_points
        return error

    def _journals(self) -> list[Journal]:
        found = [j for j in self.orphans or [] if j.path.exists()]
        if self.journal is not None and self.journal.size > 0:
            found.append(self.journal)
        return found
