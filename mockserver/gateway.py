"""The outermost ASGI layer: what happens to every call before and after connexion.

For each HTTP request it gives the call its request id and sandbox, keeps time-driven
behaviour current (the sandbox ticks before every request and every TICK_SECONDS),
applies ``Prefer`` and fault rules, adds the tracking headers every vendor answer
carries, and journals vendor API calls with what the client got wrong.

Faults live here rather than in connexion's middleware because some of them act on the
connection itself: a dropped connection must happen before any framework answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from contextvars import ContextVar
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver import limits, operations
from mockserver.errors import (
    Api,
    ApiError,
    Err,
    api_for_path,
    iso_timestamp,
    new_message_id,
    render_error,
)
from mockserver.faults import FaultRule, parse_prefer
from mockserver.handlers.context import current_headers, current_request_id, current_runtime
from mockserver.journal import BODY_CAP, JournalEntry
from mockserver.runtime import Runtime

log = logging.getLogger("lgmock")

TICK_SECONDS = 0.5  # also how often the state file commits what changed without a request
# A value uvicorn treats as "close the connection, send nothing": an ASGI app must
# return None, and uvicorn closes the transport without a response when it does not.
DROP_CONNECTION = "lgmock: drop the connection"

# Refusals caused by the request itself: what the contract report calls violations.
CLIENT_FAULTS = {
    Err.MISSING_HEADER,
    Err.INVALID_HEADER,
    Err.INVALID_MESSAGE_ID,
    Err.MISSING_BODY_FIELD,
    Err.INVALID_BODY,
    Err.TOKEN_MISSING,
    Err.INVALID_COMMAND,
    Err.NOT_FOUND_ROUTE,
    Err.METHOD_NOT_ALLOWED,
}

# Set per call; the error handlers in app.py add what the client got wrong.
current_record: ContextVar[dict[str, Any] | None] = ContextVar("current_record", default=None)


def note_refusal(error: ApiError, code: str) -> None:
    """Called by the error handlers: remember the answer's code and any violation."""
    record = current_record.get()
    if record is None:
        return
    record["code"] = code
    if error.reason in CLIENT_FAULTS and error.vendor_code is None:
        record["violations"].append(
            {"code": code, "field": error.field or "", "message": error.describe()}
        )


class QuietDrops(logging.Filter):
    """Keeps uvicorn's complaint about DROP_CONNECTION (a deliberate fault) out of logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.args and DROP_CONNECTION in record.args)


class Gateway:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._ticker: asyncio.Task[None] | None = None

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.runtime.tick()
                self.runtime.save()
            except Exception:  # a bug in one ticker must not stop time for the rest
                log.exception("sandbox tick failed")

    def _start(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick_forever(), name="lgmock-ticker")
            self.runtime.started()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_and_act() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start()
            elif message["type"] == "lifespan.shutdown":
                # uvicorn's answer to SIGTERM and SIGINT: write the state before exiting.
                if self._ticker is not None:
                    self._ticker.cancel()
                self.runtime.close_state_file()
            return message

        await self.app(scope, receive_and_act, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return None
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return None
        self._start()
        self.runtime.sandbox.tick()
        request_id = new_message_id()
        runtime_token = current_runtime.set(self.runtime)
        request_token = current_request_id.set(request_id)
        try:
            api = api_for_path(scope["path"])
            if self.runtime.store is not None:
                send = self._committing(api, scope, send)
            body, refusal = await read_body(api, scope, receive)
            receive = replay(body, receive)
            if api is Api.SANDBOX:
                if refusal is not None:
                    await self._send_error(api, scope, _headers(scope), refusal, send)
                else:
                    await self.app(scope, receive, send)
                return None
            return await self._vendor_call(api, scope, receive, send, request_id, refusal)
        finally:
            current_request_id.reset(request_token)
            current_runtime.reset(runtime_token)

    def _committing(self, api: Api, scope: Scope, send: Send) -> Send:
        """``send``, committing the state file before the response starts: a change is on
        disk before the client hears it was made. If the commit fails the client gets a
        500 instead, so nothing is acknowledged that a crash would lose."""
        failed = False

        async def send_committed(message: Message) -> None:
            nonlocal failed
            if failed:
                return  # the app's own answer, replaced by the 500
            if message["type"] == "http.response.start":
                try:
                    self.runtime.commit()
                except (sqlite3.Error, OSError) as exc:
                    log.error("state file commit failed: %s", exc, exc_info=exc)
                    failed = True
                    error = ApiError(Err.INTERNAL, f"the state file could not be written: {exc}")
                    await self._send_error(api, scope, _headers(scope), error, send)
                    return
            await send(message)

        return send_committed

    # ------------------------------------------------------------------ vendor calls
    async def _vendor_call(
        self,
        api: Api,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        refusal: ApiError | None,
    ) -> Any:
        started = time.perf_counter()
        headers = _headers(scope)
        operation = operations.find(scope["method"], scope["path"])
        path_params = operation.path_params(scope["path"]) if operation else {}
        sandbox = self.runtime.sandbox
        entry = JournalEntry(
            id=self.runtime.journal.next_id(),
            at=iso_timestamp(sandbox.clock.now()),
            api=api.value,
            operation_id=operation.operation_id if operation else None,
            caller=self._caller(api, headers),
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            request_headers=headers,
            request_body=b"",
        )
        record: dict[str, Any] = {"violations": [], "code": None}
        record_token = current_record.set(record)
        headers_token = current_headers.set(headers)
        message_id = headers.get("x-message-id")
        body_parts: list[bytes] = []
        response_parts: list[bytes] = []

        async def receive_journaled() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body_parts.append(message.get("body", b""))
            return message

        async def send_journaled(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers.setdefault("X-Request-Id", request_id)
                if message_id:
                    response_headers.setdefault("X-Message-Id", message_id)
                entry.status = message["status"]
                entry.response_headers = dict(response_headers.items())
            elif message["type"] == "http.response.body":
                response_parts.append(message.get("body", b""))
            await send(message)

        try:
            facts = {
                "api": api.value,
                "operationId": entry.operation_id,
                "method": scope["method"],
                "path": scope["path"],
                "deviceId": path_params.get("deviceId"),
                "caller": entry.caller,
            }
            if refusal is not None:  # over a body limit: refused before anything parses it
                await receive_journaled()
                await self._send_error(api, scope, headers, refusal, send_journaled)
                return None
            outcome = await self._apply_faults(api, scope, headers, facts, entry, send_journaled)
            if outcome is DROP_CONNECTION:
                entry.status = 0
                return DROP_CONNECTION
            if outcome is None:
                await self.app(scope, receive_journaled, send_journaled)
        finally:
            current_record.reset(record_token)
            current_headers.reset(headers_token)
            entry.request_body = b"".join(body_parts)[:BODY_CAP]
            entry.response_body = b"".join(response_parts)[:BODY_CAP]
            entry.violations = record["violations"]
            entry.response_code = record["code"] or entry.response_headers.get("x-response-code")
            entry.duration_ms = (time.perf_counter() - started) * 1000
            self.runtime.journal.add(entry)
        return None

    def _caller(self, api: Api, headers: dict[str, str]) -> str | None:
        accounts = self.runtime.sandbox.accounts
        if api is Api.BUSINESS_CONNECT:
            key = headers.get("x-api-key")
            partner = next((p for p in accounts.partners.values() if p.api_key == key), None)
            return partner.partner_id if partner else key
        return headers.get("x-service-id")

    async def _apply_faults(
        self,
        api: Api,
        scope: Scope,
        headers: dict[str, str],
        facts: dict[str, str | None],
        entry: JournalEntry,
        send: Send,
    ) -> Any:
        """Apply Prefer and the first matching rule; None means: serve the call normally."""
        try:
            preference = parse_prefer(headers.get("prefer"), api)
        except ApiError as error:
            await self._send_error(api, scope, headers, error, send)
            return "refused"
        if preference.delay_ms:
            await asyncio.sleep(preference.delay_ms / 1000)
        if preference.error:
            entry.fault = f"Prefer: error={preference.error}"
            forced = ApiError(Err.BAD_REQUEST, "forced by Prefer", vendor_code=preference.error)
            await self._send_error(api, scope, headers, forced, send)
            return "faulted"
        rule = self.runtime.sandbox.faults.fire("request", facts)
        if rule is None:
            return None
        entry.fault = rule.id
        return await self._rule_effect(rule, api, scope, headers, send)

    async def _rule_effect(
        self, rule: FaultRule, api: Api, scope: Scope, headers: dict[str, str], send: Send
    ) -> Any:
        name, value = next(iter(rule.effect.items()))
        if name == "delay":
            await asyncio.sleep(int(value) / 1000)
            return None
        if name == "error":
            forced = ApiError(Err.BAD_REQUEST, f"fault rule {rule.id}", vendor_code=str(value))
            await self._send_error(api, scope, headers, forced, send)
        elif name == "status":
            await _send_raw(send, int(value), b"injected by lgmock fault rule", "text/plain")
        elif name == "drop":
            return DROP_CONNECTION
        elif name == "truncate":
            # Headers promise a whole JSON body; half of it arrives, then the connection ends.
            body = json.dumps({"messageId": "", "response": {"truncated": "x" * 64}}).encode()
            await send(_start(200, len(body), "application/json"))
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            return DROP_CONNECTION
        elif name == "malformed":
            await _send_raw(send, 200, b'{"messageId": "', "application/json")
        return "faulted"

    async def _send_error(
        self, api: Api, scope: Scope, headers: dict[str, str], error: ApiError, send: Send
    ) -> None:
        rendered = render_error(
            api,
            error,
            path=scope["path"],
            message_id=headers.get("x-message-id"),
            request_id=current_request_id.get(),
            timestamp=iso_timestamp(self.runtime.sandbox.clock.now()),
        )
        note_refusal(error, rendered.headers.get("X-Response-Code", ""))
        body = json.dumps(rendered.body, ensure_ascii=False).encode()
        start = _start(rendered.status, len(body), "application/json")
        start["headers"] += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in rendered.headers.items()
        ]
        await send(start)
        await send({"type": "http.response.body", "body": body})


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


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _start(status: int, length: int, content_type: str) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", content_type.encode()),
            (b"content-length", str(length).encode()),
        ],
    }


async def _send_raw(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(_start(status, len(body), content_type))
    await send({"type": "http.response.body", "body": body})
