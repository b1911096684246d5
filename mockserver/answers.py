"""How an answer is put on the wire when no framework writes it: the one ASGI sender.

Also the one place a refusal is rendered *for the call being served*: ``error_answer``
gives the renderer (``error_answers.respond``) what it needs of the call and writes what
the answer decided (its code, the client's fault) into the call's ``RequestRecord``.
"""

from __future__ import annotations

from starlette.types import Message, Send

from mockserver import request_context
from mockserver.error_answers import Call, ErrorAnswer, respond
from mockserver.errors import Api, ApiError
from mockserver.wire import iso_timestamp

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


def error_answer(api: Api, error: ApiError) -> ErrorAnswer:
    """``error`` rendered for the call being served, and recorded on its record."""
    record = request_context.current_or_none()
    if record is None:  # outside a request (nothing to echo, nothing to record)
        return respond(api, error)
    call = Call(
        path=record.path,
        message_id=record.message_id or "",
        timestamp=iso_timestamp(record.runtime.sandbox.clock.now()),
    )
    answer = respond(api, error, call)
    record.answered_with(answer.code)
    if answer.violation is not None:
        violation = answer.violation
        record.violated(violation.code, violation.field, violation.message)
    return answer


async def send_error(send: Send, api: Api, error: ApiError) -> None:
    """``error`` rendered and recorded for the call being served, then sent."""
    answer = error_answer(api, error)
    await send_answer(send, answer.status, answer.body, JSON, answer.headers)
