"""What runs beside the requests: the sandbox clock's ticker and the state file's saves.

Time-driven behaviour (token expiry, DR windows, wash cycles) is kept current by a tick
before every request and every TICK_SECONDS. With a state file, every response is
preceded by a commit of what its request changed (``GroupCommit``), and every tick
commits what changed without a request (deliveries, time-driven devices) and hands the
request journal's new entries to its file; the file is closed cleanly at shutdown
(uvicorn's answer to SIGTERM and SIGINT).
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
YOUNG_COLLECTION_ALLOCATIONS = 20_000  # CPython's default: 700


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
            # A fleet's fan-out allocates a status and a delivery per device: at
            # CPython's default of 700 allocations per young collection, the collector
            # took 3.1 s of a 100,000-device control-async (3,100 young, 280 middle
            # and 15 full collections); at 20,000, 0.7 s (docs/scale.md).
            gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, *gc.get_threshold()[1:])

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.runtime.after_answer.stop_all()
        self.runtime.close_state_file()
        # Here, not after uvicorn's run(): uvicorn raises SIGTERM again once it is done.
        if self.runtime.mqtt is not None:
            self.runtime.mqtt.stop()

    async def _tick_forever(self) -> None:
        failing = False  # the state file refuses commits: said once, not twice a second
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.runtime.tick()
                self.runtime.save()
            except (sqlite3.Error, OSError) as exc:
                # No call waits on these changes: they stay owed, and the next tick (or
                # answer) writes them once the file can be written again.
                if not failing:
                    log.error("state file commit failed (retried each tick): %s", exc)
                failing = True
                continue
            except Exception:  # a bug in one ticker must not stop time for the rest
                log.exception("sandbox tick failed")
            if failing:
                log.warning("state file commits again")
                failing = False

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


class GroupCommit:
    """Commits the state file before responses start: once per turn of the event loop
    for all the responses ready in it.

    A change is on disk before the client hears it was made: a response waits for a
    commit that began after its handler returned. Under load, the calls of many
    connections finish in the same turn of the loop; one transaction for all of them
    costs what one costs (bench_devices.py --state-file, docs/durability.md). A call
    served alone (a client's test suite calling one at a time) commits at once, without
    the extra turn. If the commit fails, each of its responses is a 500 instead of the
    app's answer, and the state in memory is rolled back to what the file holds
    (``Runtime.commit_or_roll_back``): nothing is acknowledged that a crash would lose,
    and nothing refused stays visible.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._next: asyncio.Future[None] | None = None
        self.in_flight = 0  # requests being served (the gateway counts them)

    def wrap(self, api: Api, send: Send) -> Send:
        """``send``, its response started only once the state file is committed."""
        failed = False

        async def send_committed(message: Message) -> None:
            nonlocal failed
            if failed:
                return  # the app's own answer, replaced by the 500
            if message["type"] == "http.response.start" and self.runtime.has_unsaved():
                try:
                    if self.in_flight > 1 or self._next is not None:
                        await self._shared()
                    else:
                        self._commit()
                except (sqlite3.Error, OSError) as exc:
                    failed = True
                    error = ApiError(Err.INTERNAL, f"the state file could not be written: {exc}")
                    await send_error(send, api, error)
                    return
            await send(message)

        return send_committed

    def _shared(self) -> asyncio.Future[None]:
        # The first response of a turn schedules the commit after every callback already
        # queued (the other calls of this turn), and all of them wait for it.
        if self._next is None:
            loop = asyncio.get_running_loop()
            self._next = loop.create_future()
            loop.call_soon(self._run)
        return self._next

    def _run(self) -> None:
        done, self._next = self._next, None
        assert done is not None
        try:
            self._commit()
        except (sqlite3.Error, OSError) as exc:
            done.set_exception(exc)  # each waiting response answers it with a 500
        else:
            done.set_result(None)

    def _commit(self) -> None:
        try:
            self.runtime.commit_or_roll_back()
        except (sqlite3.Error, OSError) as exc:
            log.error("state file commit failed, answered 500, state rolled back: %s", exc)
            raise
