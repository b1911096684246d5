"""The outermost ASGI layer: what happens to every call before and after the APIs.

For each HTTP request it opens the call's ``RequestRecord`` (request id, API, headers
read once), keeps time-driven behaviour current, and is the one place that adds the
tracking headers every answer carries (``X-Request-Id``; for the vendor APIs also the
echoed ``X-Message-Id`` and ``X-Response-Code``). Vendor API calls are journaled
(``call_journal``) and may meet an injected fault (``fault_injection``) before they are
served by the compiled ``pipeline``; the ticker and state saving are ``lifespan``'s.
What no operation matches (Swagger UI, unknown routes) goes to connexion's app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lgspecs import mounts
from mockserver import fault_injection, limits, operations, request_context
from mockserver.answers import send_error
from mockserver.call_journal import JournalTap
from mockserver.errors import SUCCESS_CODES, Api, ApiError
from mockserver.fault_injection import Injection
from mockserver.handlers.auth import caller_name
from mockserver.lifespan import GroupCommit, Ticker
from mockserver.pipeline import Pipeline
from mockserver.request_context import RequestRecord
from mockserver.runtime import Runtime
from mockserver.wire import new_message_id

log = logging.getLogger("lgmock")

# A value uvicorn treats as "close the connection, send nothing": an ASGI app must
# return None, and uvicorn closes the transport without a response when it does not.
DROP_CONNECTION = "lgmock: drop the connection"


class QuietDrops(logging.Filter):
    """Keeps uvicorn's complaint about DROP_CONNECTION (a deliberate fault) out of logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.args and DROP_CONNECTION in record.args)


class Gateway:
    def __init__(self, app: ASGIApp, runtime: Runtime, pipeline: Pipeline) -> None:
        self.app = app  # connexion's: Swagger UI, and answers for paths no operation has
        self.runtime = runtime
        self.pipeline = pipeline
        self.ticker = Ticker(runtime)
        self.group_commit = GroupCommit(runtime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] == "lifespan":
            await self.ticker.lifespan(self.app, scope, receive, send)
            return None
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return None
        self.ticker.ensure_started()
        self.runtime.sandbox.tick()
        record = _open_record(scope, self.runtime)
        token = request_context.begin(record)
        self.group_commit.in_flight += 1
        try:
            operation = operations.find(record.method, record.path)
            if operation is not None:
                record.operation_id = operation.operation_id
                record.path_params = operation.path_params(record.path)
            body, refusal = await read_body(record.api, scope, receive)
            receive = replay(body, receive)

            async def serve(send: Send) -> None:
                if refusal is not None:  # over a body limit: refused before any parsing
                    await send_error(send, record.api, refusal)
                elif operation is None:  # Swagger UI, or connexion's 404 / 405
                    await self.app(scope, receive, send)
                else:
                    bound = self.pipeline.find(operation)
                    await self.pipeline.serve(bound, record, body, scope, receive, send)

            if record.api is Api.SANDBOX:
                await serve(self._answering(record, send))
                return None
            return await self._vendor_call(record, body, refusal is not None, serve, send)
        finally:
            self.group_commit.in_flight -= 1
            request_context.end(token)

    def _answering(self, record: RequestRecord, send: Send) -> Send:
        """``send`` as the app's answers go out: the state file committed first (a change
        is on disk before the client hears of it), then the tracking headers."""
        send = _tracking_headers(record, send)
        if self.runtime.store is not None:
            send = self.group_commit.wrap(record.api, send)
        return send

    async def _vendor_call(
        self,
        record: RequestRecord,
        body: bytes,
        refused: bool,
        serve: Callable[[Send], Awaitable[None]],
        send: Send,
    ) -> Any:
        """A vendor API call: journaled, and open to injected faults."""
        record.caller = caller_name(record.api, record.headers)
        tap = JournalTap(record, body)
        # Tracking headers outside the tap: the journal keeps the answer as the client
        # got it, X-Request-Id and X-Response-Code included.
        send = self._answering(record, tap.send(send))
        try:
            # A body over the limits is refused as it is, faults or not.
            outcome = Injection.SERVE if refused else await fault_injection.apply(record, send)
            if outcome is Injection.DROP:
                tap.dropped()
                return DROP_CONNECTION
            if outcome is Injection.SERVE:
                await serve(send)
        finally:
            tap.write()
        return None


async def read_body(api: Api, scope: Scope, receive: Receive) -> tuple[bytes, ApiError | None]:
    """The request body, read at most to the API's size limit, and the refusal it earns.

    A declared Content-Length over the limit is refused before a byte is read; a body
    sent without one is read until it passes the limit. What is read is replayed to the
    app by ``replay``, so nothing downstream reads the client twice.
    """
    bounds = limits.limits_for(api)
    length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    refusal = limits.check_length(length.decode("latin-1") if length else None, bounds)
    if refusal is not None:
        return b"", refusal
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        part = message.get("body", b"")
        size += len(part)
        if size > bounds.max_bytes:
            return b"".join(parts), limits.too_large(size, bounds)
        parts.append(part)
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    return body, limits.check_body(body, bounds)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the body already read, then whatever the client sends."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive_again() -> Message:
        return pending.pop() if pending else await receive()

    return receive_again


def _open_record(scope: Scope, runtime: Runtime) -> RequestRecord:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    path = scope["path"]
    host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("localhost", 80)))
    return RequestRecord(
        request_id=new_message_id(),
        api=mounts.api_for_path(path),
        method=scope["method"],
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        runtime=runtime,
        base_url=f"{scope.get('scheme', 'http')}://{host}",
    )


def _tracking_headers(record: RequestRecord, send: Send) -> Send:
    """The one place tracking headers are added, to every answer whoever wrote it."""
    vendor = record.api is not Api.SANDBOX

    async def send_tracked(message: Message) -> None:
        if message["type"] == "http.response.start":
            raw = message["headers"] = list(message.get("headers", []))
            present = {name.lower() for name, _ in raw}
            added = [(b"x-request-id", record.request_id)]
            if vendor:
                if record.message_id:
                    added.append((b"x-message-id", record.message_id))
                code = record.response_code
                if code is None and message["status"] < 400:
                    code = SUCCESS_CODES.get(record.api)
                if code:
                    added.append((b"x-response-code", code))
            raw.extend(
                (name, value.encode("latin-1")) for name, value in added if name not in present
            )
        await send(message)

    return send_tracked
