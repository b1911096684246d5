"""How an answer is put on the wire when no framework writes it: the one ASGI sender."""

from __future__ import annotations

from starlette.types import Message, Send

from mockserver import request_context
from mockserver.errors import Api, ApiError, respond

JSON = "application/json"


def start_message(
    status: int, length: int, content_type: str | None, headers: dict[str, str] | None = None
) -> Message:
    raw = [(b"content-length", str(length).encode("latin-1"))]
    if content_type:
        raw.append((b"content-type", content_type.encode("latin-1")))
    for name, value in (headers or {}).items():
        raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return {"type": "http.response.start", "status": status, "headers": raw}


async def send_answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: str | None = JSON,
    headers: dict[str, str] | None = None,
) -> None:
    await send(start_message(status, len(body), content_type, headers))
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, api: Api, error: ApiError) -> None:
    """``error`` rendered by errors.respond for the call being served."""
    answer = respond(api, error, request_context.current_or_none())
    await send_answer(send, answer.status, answer.body, JSON, answer.headers)
