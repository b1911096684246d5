"""What runs beside the requests: the sandbox clock's ticker and the state file's saves.

Time-driven behaviour (token expiry, DR windows, wash cycles) is kept current by a tick
before every request and every TICK_SECONDS; the state file is written every
SAVE_SECONDS and once more at shutdown (uvicorn's answer to SIGTERM and SIGINT).
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.runtime import Runtime

log = logging.getLogger("lgmock")

TICK_SECONDS = 0.5
SAVE_SECONDS = 5.0  # how often the state file is written while serving


class Ticker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None

    def ensure_started(self) -> None:
        """Start ticking on the running loop (at lifespan start-up, or the first request)."""
        if self._task is None:
            self._task = asyncio.create_task(self._tick_forever(), name="lgmock-ticker")
            self.runtime.started()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.runtime.save()

    async def _tick_forever(self) -> None:
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.runtime.tick()
                if time.monotonic() - last_save >= SAVE_SECONDS:
                    last_save = time.monotonic()
                    self.runtime.save()
            except Exception:  # a bug in one ticker must not stop time for the rest
                log.exception("sandbox tick failed")

    async def lifespan(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the lifespan protocol to ``app``, starting and stopping the ticker with it."""

        async def receive_and_act() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.ensure_started()
            elif message["type"] == "lifespan.shutdown":
                self.stop()
            return message

        await app(scope, receive_and_act, send)
