"""A user's response address: what the DCC POSTs there, collected in a queue.

DCC Boxed sends device responses, alerts and DCC alerts to the response URL a
user configures; a user system, a test or a benchmark needs somewhere to take
them. This is that place, on 127.0.0.1 and a free port unless told otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web


class ResponseReceiver:
    """`async with ResponseReceiver() as r:` then POSTs to `r.url` land in `r.received`.

    `on_body` (optional) sees every body as it arrives, before it is queued, for a
    caller that timestamps arrivals.
    """

    def __init__(
        self,
        path: str = "/responses",
        host: str = "127.0.0.1",
        port: int = 0,
        on_body: Callable[[bytes], None] | None = None,
    ) -> None:
        self.path, self.host, self._port = path, host, port
        self.on_body = on_body
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.on_body is not None:
            self.on_body(body)
        await self.received.put(body)
        return web.Response(text="ok")

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post(self.path, self._take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self._port
        self.url = f"http://{self.host}:{port}{self.path}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
