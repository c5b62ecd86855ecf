"""A tornado app served from a background thread, for tests whose client code blocks."""

from __future__ import annotations

import asyncio
import threading

import tornado.ioloop
import tornado.web
from helpers import free_port


class ThreadServer:
    def __init__(self, app: tornado.web.Application) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(app,), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "server thread did not start"

    def _run(self, app: tornado.web.Application) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self.server = app.listen(self.port, "127.0.0.1")
        self.loop = tornado.ioloop.IOLoop.current()
        self._ready.set()
        self.loop.start()

    def stop(self) -> None:
        def shutdown() -> None:
            self.server.stop()
            self.loop.stop()

        self.loop.add_callback(shutdown)
        self._thread.join(10)
