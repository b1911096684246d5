"""Per-call faults: ``Prefer`` (error, delay) and the first matching fault rule.

They act in the outermost layer because some act on the connection itself: a dropped
connection must happen before any framework answers. ``apply`` says what became of the
call as an ``Injection``; the rules themselves live in ``faults.py``.
"""

from __future__ import annotations

import asyncio
import enum

from starlette.types import Send

from mockserver import json_codec
from mockserver.answers import JSON, send_answer, send_error, start_message
from mockserver.errors import ApiError, Err
from mockserver.faults import FaultRule, parse_prefer
from mockserver.request_context import RequestRecord


class Injection(enum.Enum):
    SERVE = "serve the call normally"
    ANSWERED = "a fault (or a bad Prefer) answered the call"
    DROP = "close the connection without (the rest of) an answer"


async def apply(record: RequestRecord, send: Send) -> Injection:
    """Apply Prefer and the first matching request fault rule of the sandbox."""
    try:
        preference = parse_prefer(record.header("prefer"), record.api)
    except ApiError as error:
        await send_error(send, record.api, error)
        return Injection.ANSWERED
    if preference.delay_ms:
        await asyncio.sleep(preference.delay_ms / 1000)
    if preference.error:
        record.faulted(f"Prefer: error={preference.error}")
        forced = ApiError(Err.BAD_REQUEST, "forced by Prefer", vendor_code=preference.error)
        await send_error(send, record.api, forced)
        return Injection.ANSWERED
    facts = {
        "api": record.api.value,
        "operationId": record.operation_id,
        "method": record.method,
        "path": record.path,
        "deviceId": record.path_params.get("deviceId"),
        "caller": record.caller,
    }
    rule = record.runtime.sandbox.faults.fire("request", facts)
    if rule is None:
        return Injection.SERVE
    record.faulted(rule.id)
    return await _rule_effect(rule, record, send)


async def _rule_effect(rule: FaultRule, record: RequestRecord, send: Send) -> Injection:
    name, value = next(iter(rule.effect.items()))
    if name == "delay":
        await asyncio.sleep(int(value) / 1000)
        return Injection.SERVE
    if name == "error":
        forced = ApiError(Err.BAD_REQUEST, f"fault rule {rule.id}", vendor_code=str(value))
        await send_error(send, record.api, forced)
    elif name == "status":
        await send_answer(send, int(value), b"injected by lgmock fault rule", "text/plain")
    elif name == "drop":
        return Injection.DROP
    elif name == "truncate":
        # Headers promise a whole JSON body; half of it arrives, then the connection ends.
        body = json_codec.dumps({"messageId": "", "response": {"truncated": "x" * 64}})
        await send(start_message(200, len(body), JSON))
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        return Injection.DROP
    elif name == "malformed":
        await send_answer(send, 200, b'{"messageId": "', JSON)
    return Injection.ANSWERED
