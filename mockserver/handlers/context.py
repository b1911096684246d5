"""What a handler may know about the call it serves, and how it answers.

The gateway opens a ``RequestRecord`` (``mockserver.request_context``) for each call;
handlers read the sandbox and the request's headers through these helpers instead of
importing the app, so they stay plain functions. Tracking headers (X-Request-Id,
X-Message-Id, X-Response-Code) are not a handler's business: the gateway adds them.
"""

from __future__ import annotations

from typing import Any

from mockserver import request_context
from mockserver.backends.sandbox import Sandbox
from mockserver.runtime import Runtime
from mockserver.wire import iso_timestamp

Reply = tuple[Any, int, dict[str, str]]


def runtime() -> Runtime:
    return request_context.current().runtime


def sandbox() -> Sandbox:
    return request_context.current().runtime.sandbox


def header(name: str) -> str | None:
    return request_context.current().header(name)


def message_id() -> str | None:
    return request_context.current().message_id


def now_timestamp() -> str:
    return iso_timestamp(sandbox().clock.now())


def bc_reply(response: Any, status: int = 200) -> Reply:
    """Business Connect's Device/Event/User success envelope: {messageId, timestamp, response}."""
    body = {"messageId": message_id() or "", "timestamp": now_timestamp(), "response": response}
    return body, status, {}


def dr_reply(data: Any, status: int = 200) -> Reply:
    """The DR success envelope: {code: 2000, data}."""
    return {"code": 2000, "data": data}, status, {}
