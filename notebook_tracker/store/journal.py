"""An append-only file of requests waiting for one tracking server, kept through outages.

One journal per process and server, under `<cache>/journal/<hash of the server URL>/`, named
`<pid>-<random>.ntj` and locked (`flock`) by its process while it lives: a journal whose lock
can be taken belongs to a process that is gone, and the next process logging to that server
adopts it and replays it.

A record is a 13-byte header (magic, kind, payload length, CRC-32 of kind and payload) and its
payload. A process killed in the middle of a write leaves a torn last record: the CRC (or the
length running past the end) gives it away, and reading stops there. Delivered records are
not rewritten: an ACK record appended after them holds the byte offset up to which everything
is delivered, so a restart resumes after it. Data is fsync'ed when it is appended (once per
batch of records); ACKs are not (a process kill keeps them in the page cache; only a power cut
can lose one, and then a batch is sent twice).
"""

from __future__ import annotations

import errno
import hashlib
import os
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from notebook_tracker import env
from notebook_tracker.errors import JournalFull

MAGIC = b"NTJ1"
HEADER = struct.Struct("<4sBII")
DATA, END, ACK = 1, 2, 3
SUFFIX = ".ntj"
DEFAULT_MAX_BYTES = env.DEFAULT_JOURNAL_MAX_BYTES


@dataclass
class Entry:
    """One DATA or END record: where it starts and ends in the file, and what it holds."""

    kind: int
    payload: bytes
    start: int
    end: int


def journal_root() -> Path:
    """`$NOTEBOOK_TRACKER_JOURNAL_DIR`, else `journal/` in notebook-tracker's cache folder."""
    return env.journal_dir()


def server_dir(server_uri: str) -> Path:
    digest = hashlib.sha256(server_uri.rstrip("/").encode("utf-8")).hexdigest()[:16]
    return journal_root() / digest


def max_bytes() -> int:
    return env.journal_max_bytes()


def _lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): journals are never adopted there
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def scan(fd: int, start: int = 0) -> Iterator[tuple[int, bytes, int, int]]:
    """(kind, payload, start, end) of each whole record from `start`; stops at a torn one."""
    size = os.fstat(fd).st_size
    pos = start
    while pos + HEADER.size <= size:
        header = os.pread(fd, HEADER.size, pos)
        if len(header) < HEADER.size:  # truncated meanwhile (everything was delivered)
            return
        magic, kind, length, crc = HEADER.unpack(header)
        end = pos + HEADER.size + length
        if magic != MAGIC or end > size:
            return
        payload = os.pread(fd, length, pos + HEADER.size)
        if len(payload) < length or zlib.crc32(payload, zlib.crc32(bytes((kind,)))) != crc:
            return
        yield kind, payload, pos, end
        pos = end


def frame(kind: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(bytes((kind,))))
    return HEADER.pack(MAGIC, kind, len(payload), crc) + payload


class Journal:
    """One journal file, locked by this process for as long as it is open."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self.delivered_to = 0  # byte offset up to which every record was delivered
        self.valid_end = 0  # end of the last whole record (a torn tail lies past it)
        self.data_end = 0  # end of the last DATA or END record
        for kind, payload, _start, end in scan(fd):
            if kind == ACK:
                self.delivered_to = max(self.delivered_to, struct.unpack("<Q", payload)[0])
            else:
                self.data_end = end
            self.valid_end = end
        self.torn_bytes = os.fstat(fd).st_size - self.valid_end

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, server_uri: str) -> Journal:
        """A new journal for this process; the folder names the server in `server.txt`."""
        folder = server_dir(server_uri)
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / "server.txt"
        if not marker.exists():
            marker.write_text(server_uri + "\n", encoding="utf-8")
        name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Locked before it gets the name other processes look for, so none adopts it meanwhile.
        creating = folder / (name + ".creating")
        fd = os.open(creating, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        _lock(fd)
        path = folder / (name + SUFFIX)
        os.rename(creating, path)
        return cls(path, fd)

    @classmethod
    def adopt_orphans(cls, server_uri: str, own: Path | None = None) -> list[Journal]:
        """Journals of this server whose process is gone (their lock is free), oldest first."""
        folder = server_dir(server_uri)
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*" + SUFFIX), key=_mtime):
            if own is not None and path == own:
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
            except OSError:
                continue  # removed by another process meanwhile
            if not _lock(fd) or not path.exists():
                os.close(fd)
                continue
            found.append(cls(path, fd))
        return found

    # -- writing ---------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.valid_end

    def append(self, records: list[tuple[int, bytes]], limit: int) -> None:
        """Append records as one write and fsync; JournalFull when it would pass `limit` bytes."""
        blob = b"".join(frame(kind, payload) for kind, payload in records)
        if self.valid_end + len(blob) > limit:
            raise JournalFull(
                f"The journal {self.path} would grow past {limit} bytes ({env.JOURNAL_MAX_BYTES})."
            )
        if self.torn_bytes:  # drop a torn tail first, or records after it could not be read
            os.ftruncate(self._fd, self.valid_end)
            self.torn_bytes = 0
        try:
            written = os.write(self._fd, blob)
            if written < len(blob):  # a full disk mid-write: the records are not all there
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self._fd)
        except OSError:
            os.ftruncate(self._fd, self.valid_end)
            raise
        self.valid_end += len(blob)
        self.data_end = self.valid_end

    def ack(self, offset: int) -> None:
        """Everything before `offset` is delivered; once all is, the file starts over empty."""
        self.delivered_to = offset
        if offset >= self.data_end:
            os.ftruncate(self._fd, 0)
            self.valid_end = self.delivered_to = self.data_end = 0
            return
        record = frame(ACK, struct.pack("<Q", offset))
        os.write(self._fd, record)
        self.valid_end += len(record)

    # -- reading ---------------------------------------------------------------------------------
    def pending(self) -> Iterator[Entry]:
        """DATA and END records not delivered yet, in the order they were written."""
        for kind, payload, start, end in scan(self._fd, self.delivered_to):
            if end > self.valid_end:
                return
            if kind in (DATA, END):
                yield Entry(kind, payload, start, end)

    @property
    def has_pending(self) -> bool:
        return self.data_end > self.delivered_to

    def release_copy(self) -> None:
        """In a forked child: close this copy of the file only (the parent keeps its lock)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self, remove_if_empty: bool = True) -> None:
        if self._fd < 0:
            return
        empty = not self.has_pending
        if empty and remove_if_empty:
            try:
                self.path.unlink()
            except OSError:
                pass
        else:
            os.fsync(self._fd)
        os.close(self._fd)  # releases the lock: a later process may adopt what is left
        self._fd = -1


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
