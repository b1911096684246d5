"""What a handler may know about the call it serves, and how it answers.

The ASGI wrapper in ``app.py`` sets the sandbox and the request id for each call;
handlers read them here instead of importing the app, so they stay plain functions.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from connexion import request

from mockserver.backends.sandbox import Sandbox
from mockserver.errors import iso_timestamp
from mockserver.runtime import Runtime

current_runtime: ContextVar[Runtime] = ContextVar("current_runtime")
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
# The request's headers, lower-cased, as the gateway read them: cheaper than asking
# connexion's request proxy once per header (about 1% of a call each).
current_headers: ContextVar[dict[str, str] | None] = ContextVar("current_headers", default=None)

Reply = tuple[Any, int, dict[str, str]]


def sandbox() -> Sandbox:
    return current_runtime.get().sandbox


def header(name: str) -> str | None:
    headers = current_headers.get()
    if headers is not None:
        return headers.get(name.lower())
    return request.headers.get(name)


def message_id() -> str | None:
    return header("x-message-id")


def now_timestamp() -> str:
    return iso_timestamp(sandbox().clock.now())


def tracking_headers(code: str) -> dict[str, str]:
    """X-Request-Id, X-Response-Code and the echoed X-Message-Id, on every vendor reply."""
    headers = {"X-Request-Id": current_request_id.get(), "X-Response-Code": code}
    if message_id():
        headers["X-Message-Id"] = message_id() or ""
    return headers


def bc_reply(response: Any, status: int = 200) -> Reply:
    """Business Connect's Device/Event/User success envelope: {messageId, timestamp, response}."""
    body = {"messageId": message_id() or "", "timestamp": now_timestamp(), "response": response}
    return body, status, tracking_headers("2000")


def dr_reply(data: Any, status: int = 200) -> Reply:
    """The DR success envelope: {code: 2000, data}."""
    return {"code": 2000, "data": data}, status, tracking_headers("2000")
