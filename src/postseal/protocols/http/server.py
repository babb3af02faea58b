"""Running an ASGI app on a socket postseal binds itself.

Binding here (not inside uvicorn) turns "address in use" into a postseal error instead of
uvicorn's ``sys.exit``, and lets the composition root own start-up and shutdown (and the
signals) for every listener alike.
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from starlette.types import ASGIApp

from postseal.protocols.tls import bind_listening_socket

__all__ = ["HttpListener"]

_MAX_HEADER_BYTES = 16 * 1024


class HttpListener:
    def __init__(self, app: ASGIApp, *, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=5,
            limit_concurrency=256,
            h11_max_incomplete_event_size=_MAX_HEADER_BYTES,
        )
        self._server = uvicorn.Server(self._config)
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._socket is None:
            return self._port
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        self._socket = bind_listening_socket("http", self._host, self._port)
        self._config.load()
        self._server.lifespan = self._config.lifespan_class(self._config)
        await self._server.startup(sockets=[self._socket])
        logging.getLogger("postseal.http").info("http listening on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        if self._socket is None:
            return
        self._server.should_exit = True
        await self._server.shutdown(sockets=[self._socket])
        self._socket.close()
        self._socket = None
