"""What runs beside the requests: the sandbox clock's ticker and the state file's saves.

Time-driven behaviour (token expiry, DR windows, wash cycles) is kept current by a tick
before every request and every TICK_SECONDS. With a state file, every response is
preceded by a commit of what its request changed (``committing``), and every tick
commits what changed without a request (deliveries, time-driven devices, the journal);
the file is closed cleanly at shutdown (uvicorn's answer to SIGTERM and SIGINT).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.answers import send_error
from mockserver.errors import Api, ApiError, Err
from mockserver.runtime import Runtime

log = logging.getLogger("lgmock")

TICK_SECONDS = 0.5


class Ticker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None

    def ensure_started(self) -> None:
        """Start ticking on the running loop (at lifespan start-up, or the first request)."""
        if self._task is None:
            self._task = asyncio.create_task(self._tick_forever(), name="lgmock-ticker")
            self.runtime.started()
            # What start built (specs, compiled checks, the loaded fleet) lives as long as
            # the server: out of the collector's sight, a full collection walks only what
            # requests made since. Unfrozen, each one stalled every request for 40-80 ms
            # (the p99 of bench_devices.py, benchmarks/README.md).
            gc.freeze()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.runtime.close_state_file()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.runtime.tick()
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


def committing(runtime: Runtime, api: Api, send: Send) -> Send:
    """``send``, committing the state file before the response starts.

    A change is on disk before the client hears it was made. If the commit fails the
    client gets a 500 instead of the app's answer, so nothing is acknowledged that a
    crash would lose.
    """
    failed = False

    async def send_committed(message: Message) -> None:
        nonlocal failed
        if failed:
            return  # the app's own answer, replaced by the 500
        if message["type"] == "http.response.start":
            try:
                runtime.commit()
            except (sqlite3.Error, OSError) as exc:
                log.error("state file commit failed: %s", exc, exc_info=exc)
                failed = True
                error = ApiError(Err.INTERNAL, f"the state file could not be written: {exc}")
                await send_error(send, api, error)
                return
        await send(message)

    return send_committed
