"""The one error renderer: the status, body and headers each API answers a refusal with.

``respond`` turns an ``ApiError`` into an ``ErrorAnswer`` and nothing else: it reads no
request record and no clock, and writes nowhere. What it needs from the call (the path,
the echoed message id, the sandbox time) comes in as a ``Call``; what the call's record
must learn from the answer (its code, the client's fault) goes out on the answer, and
the caller records it (``answers.error_answer`` for the request path).

Each API's answer is two steps, both looked up in ``ENVELOPES`` by API, never chosen by
an if/else chain: the *refusal* (code, status, message: from the API's catalogue in
``errors.py``) and the *envelope* that wraps it. A new API adds one row: its catalogue
to ``errors.CATALOGUES`` and an ``Envelope`` here (``catalogued`` gives the refusal of
any catalogued API).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lgspecs.mounts import mount_of
from mockserver import json_codec
from mockserver.errors import (
    CLIENT_FAULTS,
    STATUS_OVERRIDES,
    Api,
    ApiError,
    Err,
    code_for,
    status_for,
)
from mockserver.wire import iso_timestamp


@dataclass(frozen=True)
class Call:
    """What an envelope may repeat of the call it answers."""

    path: str = ""
    message_id: str = ""  # the request's X-Message-Id, echoed ("" when it sent none)
    timestamp: str = ""  # the sandbox time in the platform's format; now when empty


@dataclass(frozen=True)
class Refusal:
    """An error answer's content before its envelope: code, HTTP status, message."""

    code: str
    status: int
    message: str


@dataclass(frozen=True)
class Violation:
    """What the client sent that broke the contract: the contract report lists it."""

    code: str
    field: str
    message: str


@dataclass(frozen=True)
class ErrorAnswer:
    """An error answer ready to send; tracking headers are added by the gateway.

    ``code`` is the answer's X-Response-Code (the reason's name in the control API);
    ``violation`` is set when the refusal is the client's fault.
    """

    status: int
    body: bytes
    headers: dict[str, str]
    code: str
    violation: Violation | None = None


Body = dict[str, Any]


@dataclass(frozen=True)
class Envelope:
    """How one API answers a refusal.

    ``refusal`` decides the code, status and message; ``wrap`` builds the body around
    them; ``reports_violations`` says whether the client's faults count against it in
    the contract report (the vendor APIs: yes; the sandbox's own control API: no).
    """

    refusal: Callable[[ApiError], Refusal]
    wrap: Callable[[ApiError, Refusal, Call], Body]
    reports_violations: bool = True


def respond(api: Api, error: ApiError, call: Call | None = None) -> ErrorAnswer:
    """The status, body and headers ``api`` answers ``error`` with, for ``call``."""
    call = call or Call()
    if not call.timestamp:
        call = Call(call.path, call.message_id, iso_timestamp())
    envelope = ENVELOPES[api]
    refusal = envelope.refusal(error)
    body = envelope.wrap(error, refusal, call)
    headers = {"Allow": ", ".join(error.allow)} if error.allow else {}
    violation = None
    if envelope.reports_violations and error.reason in CLIENT_FAULTS and not error.vendor_code:
        violation = Violation(refusal.code, error.field or "", error.describe())
    return ErrorAnswer(refusal.status, json_codec.dumps(body), headers, refusal.code, violation)


# ------------------------------------------------------------------ refusals


def catalogued(api: Api) -> Callable[[ApiError], Refusal]:
    """The refusal of a vendor API: the documented code, its status, its title first."""

    def refusal(error: ApiError) -> Refusal:
        info = code_for(api, error)
        detail = error.describe()
        message = f"{info.title}: {detail}" if detail != info.title else info.title
        return Refusal(info.code, status_for(error, info), message)

    return refusal


# The control API's objects that are missing answer 404; it documents no vendor codes.
SANDBOX_NOT_FOUND = frozenset(
    {
        Err.DEVICE_NOT_FOUND,
        Err.DR_ZIP_FILE_NOT_FOUND,
        Err.DELIVERY_NOT_FOUND,
        Err.FAULT_RULE_NOT_FOUND,
        Err.SERVICE_NOT_FOUND,
        Err.PARTNER_NOT_FOUND,
    }
)


def sandbox_refusal(error: ApiError) -> Refusal:
    """The control API answers the reason's name as its code."""
    if error.reason in SANDBOX_NOT_FOUND:
        status = 404
    elif error.reason is Err.FORBIDDEN:
        status = 403
    elif error.reason is Err.INTERNAL:
        status = 500
    else:
        status = STATUS_OVERRIDES.get(error.reason, 400)
    return Refusal(error.reason.name, status, error.describe())


# ------------------------------------------------------------------ envelopes

# The DR operations answer errors as {code, message} beside their {code, data} success.
DR_PATH_PREFIX = mount_of(Api.BUSINESS_CONNECT).prefix + "/v1/dr/"


def thinq_connect_body(error: ApiError, refusal: Refusal, call: Call) -> Body:
    """ThinQ Connect (what LG's SDK reads: ``payload["error"]["code"]``):
    ``{messageId, timestamp, error: {code, message}}``."""
    return {
        "messageId": call.message_id,
        "timestamp": call.timestamp,
        "error": {"code": refusal.code, "message": refusal.message},
    }


def business_connect_body(error: ApiError, refusal: Refusal, call: Call) -> Body:
    """Device/Event/User operations answer the ThinQ Connect envelope their success
    bodies mirror; the DR operations ``{code, message}``, beside their ``{code, data}``
    success shape."""
    if call.path.startswith(DR_PATH_PREFIX):
        return {"code": int(refusal.code), "message": refusal.message}
    return thinq_connect_body(error, refusal, call)


def thinq_async_body(error: ApiError, refusal: Refusal, call: Call) -> Body:
    """The asynchronous API wraps the error in its own envelope."""
    return {
        "messageId": call.message_id,
        "response": {"error": {"code": refusal.code, "message": refusal.message}},
        "responseCode": refusal.code,
        "statusCode": refusal.status,
        "timestamp": call.timestamp,
    }


def sandbox_body(error: ApiError, refusal: Refusal, call: Call) -> Body:
    """The control API answers ``{error: {code, message[, problems]}}``."""
    body: Body = {"error": {"code": refusal.code, "message": refusal.message}}
    if error.details:
        body["error"]["problems"] = error.details
    return body


ENVELOPES: dict[Api, Envelope] = {
    Api.BUSINESS_CONNECT: Envelope(catalogued(Api.BUSINESS_CONNECT), business_connect_body),
    Api.THINQ_ASYNC: Envelope(catalogued(Api.THINQ_ASYNC), thinq_async_body),
    Api.THINQ_CONNECT: Envelope(catalogued(Api.THINQ_CONNECT), thinq_connect_body),
    Api.SANDBOX: Envelope(sandbox_refusal, sandbox_body, reports_violations=False),
}
