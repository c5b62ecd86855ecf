"""Keep-alive HTTP connections to one tracking server: one per thread, never shared by a fork.

A synchronous call (`log_param`, `set_tag`, a flush) is one small request; what it costs is
mostly set-up that need not be repeated: the TCP (and TLS) handshake, name resolution, and a
general-purpose client's per-request machinery. So each thread keeps one `http.client`
connection to the server and reuses it; a process forked from this one (a notebook's
multiprocessing worker) opens its own instead of writing into its parent's socket. A
connection the server has closed while idle is re-opened once, transparently.

Used for whole (non-streamed) requests with bytes bodies to plain `http://` servers no proxy
applies to; anything else goes through `requests`, which knows proxies, streaming and the CA
bundles users configure for TLS.
"""

from __future__ import annotations

import http.client
import os
import threading
import urllib.request
from urllib.parse import urlsplit

# A reused connection the server closed while it sat idle fails in one of these ways.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def usable(base_url: str) -> bool:
    """Whether requests to `base_url` may go straight over a connection of this module: plain
    HTTP, and no proxy configured for it in the environment."""
    parts = urlsplit(base_url)
    if parts.scheme != "http":
        return False
    if "http" not in urllib.request.getproxies():
        return True
    return bool(urllib.request.proxy_bypass(parts.hostname or ""))


class Connections:
    def __init__(self, base_url: str, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or ""
        self.port = parts.port
        self.timeout_s = timeout_s
        self._local = threading.local()

    def send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request on this thread's connection."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        while True:  # at most twice: a fresh connection is never retried
            conn, reused = self._connection()
            try:
                return self._exchange(conn, method, target, body, headers)
            except _STALE:
                self.drop()
                if not reused:
                    raise
            except http.client.HTTPException as exc:
                self.drop()
                raise ConnectionError(f"bad HTTP from the server: {exc!r}") from exc
            except OSError:
                self.drop()
                raise

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> tuple[int, dict[str, str], bytes]:
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self.drop()
        return resp.status, dict(resp.getheaders()), data

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it has carried a request before."""
        held = getattr(self._local, "held", None)
        pid = os.getpid()
        if held is not None and held[0] == pid:
            return held[1], True
        # None yet, or the parent's (after a fork): leave the parent's socket alone.
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        self._local.held = (pid, conn)
        return conn, False

    def drop(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None and held[0] == os.getpid():
            held[1].close()
