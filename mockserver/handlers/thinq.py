"""ThinQ asynchronous operations, one function per operationId.

Each answers 202 at once and queues one callback per device with the delivery engine;
nothing here waits on a partner's receiver.
"""

from __future__ import annotations

from typing import Any

from mockserver import messages
from mockserver.backends.accounts import Service, User
from mockserver.backends.thinq import Outcome
from mockserver.errors import iso_timestamp
from mockserver.handlers.auth import thinq_caller as _caller
from mockserver.handlers.context import Reply, header, runtime, sandbox


def _accept(service: Service, user: User, outcomes: list[Outcome]) -> Reply:
    """Queue one callback per outcome, all tied to a fresh requestId, and answer 202."""
    request_id = messages.new_request_id()
    message_id = header("x-message-id") or ""
    timestamp = iso_timestamp(sandbox().clock.now())
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
            service.callback_url,
            body,
            kind=outcome.push_type,
            request_id=request_id,
            device_id=outcome.device.device_id,
        )
    return messages.thinq_accepted(message_id, request_id, timestamp), 202, {}


async def profile_async() -> Reply:
    service, user = _caller()
    return _accept(service, user, sandbox().thinq.profiles(user))


async def status_async() -> Reply:
    service, user = _caller()
    return _accept(service, user, sandbox().thinq.statuses(user))


async def control_async(body: dict[str, Any]) -> Reply:
    service, user = _caller()
    outcomes = sandbox().thinq.control(user, body["deviceType"], body["command"])
    return _accept(service, user, outcomes)


async def subscribe_event_async(body: dict[str, Any] | None = None) -> Reply:
    service, user = _caller()
    hours = int(((body or {}).get("expire") or {}).get("timer", 1))
    return _accept(service, user, sandbox().thinq.subscribe_events(service, user, hours))


async def unsubscribe_event_async() -> Reply:
    service, user = _caller()
    return _accept(service, user, sandbox().thinq.unsubscribe_events(service, user))


async def subscribe_push_async() -> Reply:
    service, user = _caller()
    return _accept(service, user, sandbox().thinq.subscribe_push(service, user))


async def unsubscribe_push_async() -> Reply:
    service, user = _caller()
    return _accept(service, user, sandbox().thinq.unsubscribe_push(service, user))
