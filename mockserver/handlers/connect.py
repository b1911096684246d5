"""ThinQ Connect operations (what LG's ``thinqconnect`` SDK calls), one per operationId.

Each reads the caller (``auth.connect_caller``: the PAT's user and the x-client-id),
calls the backend and answers the platform's envelope ``{messageId, timestamp,
response}`` at once: nothing here is asynchronous.
"""

from __future__ import annotations

from typing import Any

from lgspecs.mounts import Api, mount_of
from mockserver import request_context
from mockserver.handlers.auth import connect_caller
from mockserver.handlers.context import Reply, bc_reply, sandbox

# ThinQ Connect's success envelope is Business Connect's Device API one: the same
# {messageId, timestamp, response} (Business Connect mirrors the platform's).
reply = bc_reply


async def get_route() -> Reply:
    connect_caller()
    # The API server is where this call came in: the host and port the client used.
    base_url = request_context.current().base_url
    return reply(sandbox().connect.route(base_url + mount_of(Api.THINQ_CONNECT).prefix))


async def get_device_list() -> Reply:
    user, _ = connect_caller()
    return reply(sandbox().connect.device_list(user))


async def get_device_profile(device_id: str) -> Reply:
    user, _ = connect_caller()
    return reply(sandbox().connect.profile(user, device_id))


async def get_device_state(device_id: str) -> Reply:
    user, _ = connect_caller()
    return reply(sandbox().connect.state(user, device_id))


async def post_device_control(device_id: str, body: dict[str, Any]) -> Reply:
    user, _ = connect_caller()
    sandbox().connect.control(user, device_id, body)
    return reply({})


async def get_energy_profile(device_id: str) -> Reply:
    user, _ = connect_caller()
    return reply(sandbox().connect.energy_profile(user, device_id))


async def get_energy_usage(
    device_id: str, property_: str, period: str, start_date: str, end_date: str
) -> Reply:
    # connexion passes the query parameter `property` as `property_` (a Python builtin).
    user, _ = connect_caller()
    connect = sandbox().connect
    usage = connect.energy_usage(user, device_id, property_, period, start_date, end_date)
    return reply(usage)


async def register_client(body: dict[str, Any]) -> Reply:
    user, client_id = connect_caller()
    sandbox().connect.register_client(user, client_id, body)
    return reply({})


async def delete_client(body: dict[str, Any]) -> Reply:
    user, client_id = connect_caller()
    sandbox().connect.delete_client(user, client_id)
    return reply({})


async def issue_client_certificate(body: dict[str, Any]) -> Reply:
    user, client_id = connect_caller()
    return reply(sandbox().connect.issue_certificate(user, client_id, body["csr"]))


async def get_push_subscriptions() -> Reply:
    user, client_id = connect_caller()
    return reply(sandbox().connect.push_list(user, client_id))


async def subscribe_push(device_id: str) -> Reply:
    user, client_id = connect_caller()
    sandbox().connect.subscribe_push(user, client_id, device_id)
    return reply({})


async def unsubscribe_push(device_id: str) -> Reply:
    user, client_id = connect_caller()
    sandbox().connect.unsubscribe_push(user, client_id, device_id)
    return reply({})


async def get_device_push_clients() -> Reply:
    user, _ = connect_caller()
    return reply(sandbox().connect.device_push_list(user))


async def subscribe_device_push() -> Reply:
    user, client_id = connect_caller()
    sandbox().connect.subscribe_device_push(user, client_id)
    return reply({})


async def unsubscribe_device_push() -> Reply:
    user, client_id = connect_caller()
    sandbox().connect.unsubscribe_device_push(user, client_id)
    return reply({})


async def get_event_subscriptions() -> Reply:
    user, client_id = connect_caller()
    return reply(sandbox().connect.event_list(user, client_id))


async def subscribe_event(device_id: str, body: dict[str, Any] | None = None) -> Reply:
    user, client_id = connect_caller()
    hours = int(((body or {}).get("expire") or {}).get("timer", 1))
    sandbox().connect.subscribe_event(user, client_id, device_id, hours)
    return reply({})


async def unsubscribe_event(device_id: str) -> Reply:
    user, client_id = connect_caller()
    sandbox().connect.unsubscribe_event(user, client_id, device_id)
    return reply({})
