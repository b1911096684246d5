"""ThinQ asynchronous operations, one function per operationId.

Each answers 202 at once and queues one callback per device with the delivery engine;
nothing here waits on a partner's receiver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mockserver import messages
from mockserver.after_answer import Parts
from mockserver.backends.accounts import Service, User
from mockserver.backends.devices import DeviceInfo
from mockserver.backends.thinq import Outcome
from mockserver.handlers.auth import thinq_caller as _caller
from mockserver.handlers.context import Reply, header, runtime, sandbox
from mockserver.wire import iso_timestamp

# Up to this many devices an operation is done before its 202, so a client test can
# read the result right after it. A bigger fan-out (a fleet's user) answers 202 first
# and goes on in parts after the answer (``runtime.after_answer``), other requests
# served in between: the API is asynchronous, and 100,000 devices take seconds
# (docs/scale.md, spec-notes). With a state file it is all done before the 202.
INLINE_DEVICES = 1_000
PART = 500

Work = Callable[[list[DeviceInfo]], list[Outcome]]
Send = Callable[[list[Outcome]], None]


def _accept(service: Service, user: User, work: Work) -> Reply:
    """Do ``work`` on the user's devices, one callback each, under a fresh requestId; 202."""
    request_id = messages.new_request_id()
    message_id = header("x-message-id") or ""
    timestamp = iso_timestamp(sandbox().clock.now())
    devices = sandbox().thinq.owned(user)

    def send(outcomes: list[Outcome]) -> None:
        engine = runtime().deliveries
        for outcome in outcomes:
            body = messages.thinq_callback(
                message_id=message_id,
                request_id=request_id,
                push_type=outcome.push_type,
                device=outcome.device,
                service_id=service.service_id,
                user_number=user.user_number,
                timestamp=timestamp,
                result=outcome.result,
                error=outcome.error,
            )
            engine.enqueue(
                service.delivery_url,
                body,
                kind=outcome.push_type,
                request_id=request_id,
                device_id=outcome.device.device_id,
            )

    after = runtime().after_answer
    if len(devices) <= INLINE_DEVICES or after.inline:
        send(work(devices))
    else:
        send(work(devices[:PART]))
        after.start(f"fan-out of {len(devices)} devices", _rest(work, send, devices))
    return messages.thinq_accepted(message_id, request_id, timestamp), 202, {}


def _rest(work: Work, send: Send, devices: list[DeviceInfo]) -> Parts:
    """The rest of a big fan-out, a part at a time."""
    for start in range(PART, len(devices), PART):
        send(work(devices[start : start + PART]))
        yield


async def profile_async() -> Reply:
    service, user = _caller()
    thinq = sandbox().thinq
    return _accept(service, user, lambda devices: thinq.profiles(user, devices))


async def status_async() -> Reply:
    service, user = _caller()
    thinq = sandbox().thinq
    return _accept(service, user, lambda devices: thinq.statuses(user, devices))


async def control_async(body: dict[str, Any]) -> Reply:
    service, user = _caller()
    thinq = sandbox().thinq
    device_type, command = body["deviceType"], body["command"]
    return _accept(
        service, user, lambda devices: thinq.control(user, device_type, command, devices)
    )


async def subscribe_event_async(body: dict[str, Any] | None = None) -> Reply:
    service, user = _caller()
    thinq = sandbox().thinq
    hours = int(((body or {}).get("expire") or {}).get("timer", 1))
    return _accept(
        service, user, lambda devices: thinq.subscribe_events(service, user, hours, devices)
    )


async def unsubscribe_event_async() -> Reply:
    service, user = _caller()
    thinq = sandbox().thinq
    return _accept(service, user, lambda devices: thinq.unsubscribe_events(service, user, devices))


async def subscribe_push_async() -> Reply:
    service, user = _caller()
    thinq = sandbox().thinq
    return _accept(service, user, lambda devices: thinq.subscribe_push(service, user, devices))


async def unsubscribe_push_async() -> Reply:
    service, user = _caller()
    thinq = sandbox().thinq
    return _accept(service, user, lambda devices: thinq.unsubscribe_push(service, user, devices))
