"""What the artifact-location attack tests share: canaries outside the roots, an SSRF listener.

A canary is a directory outside every artifact root holding a file with a secret; tests assert
it is never read (the secret never appears in an answer), listed or deleted. The SSRF listener
is a loopback TCP socket that records every connection: the server must never connect to it.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

SECRET = "canary-secret-7f3a"
# What a relayed answer would carry: an entry named after the secret.
_BODY = json.dumps({"files": [{"path": SECRET, "is_dir": False, "file_size": 1}]}).encode()
_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class Canary:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.file = self.dir / "secret.txt"
        self.file.write_text(SECRET)
        # Shaped like a run's folder, so a path check on names alone would accept it.
        self.run_file = self.dir / "artifacts" / "secret.txt"
        self.run_file.parent.mkdir(exist_ok=True)
        self.run_file.write_text(SECRET)

    def intact(self) -> bool:
        return (
            self.file.read_text() == SECRET
            and self.run_file.read_text() == SECRET
            and sorted(p.name for p in self.dir.iterdir()) == ["artifacts", "secret.txt"]
        )


class SsrfListener:
    """A loopback listener counting connections (and what was sent) until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(1)
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                self.received.append(data or b"<connected>")
                try:
                    conn.sendall(_ANSWER)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
