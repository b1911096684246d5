"""Business Connect Token, Device, Event and User operations, one function per operationId.

Each handler only translates: headers into a caller and a reach, the backend's objects
into the vendor's envelope. The request pipeline has already checked every declared header and
body against the spec; the rules that OpenAPI cannot express live in the backends.
"""

from __future__ import annotations

from typing import Any

from mockserver.backends.accounts import Partner
from mockserver.backends.business_connect import IN_HEADER, Reach
from mockserver.backends.devices import Device
from mockserver.errors import ApiError, Err
from mockserver.handlers.auth import partner as caller
from mockserver.handlers.auth import partner_user
from mockserver.handlers.context import Reply, bc_reply, header, sandbox


def reach(partner: Partner) -> Reach:
    """Whose devices this call may touch, from X-Use-Account (and the bearer for IN-HEADER)."""
    if header("x-use-account") != IN_HEADER:
        return Reach(partner)
    # IN-HEADER makes Authorization and X-Country-Code required: a rule of the seed's
    # prose that OpenAPI cannot state, so it is checked here with the header code.
    user = partner_user(partner)
    country = header("x-country-code")
    if not country:
        raise ApiError(
            Err.MISSING_HEADER,
            "X-Country-Code is required with X-Use-Account: IN-HEADER",
            field="X-Country-Code",
        )
    if country.upper() != user.country_code:
        raise ApiError(
            Err.INVALID_HEADER,
            f"X-Country-Code {country} is not the user's country {user.country_code}",
            field="X-Country-Code",
        )
    return Reach(partner, user)


def _list_item(device: Device, partner: Partner) -> dict[str, Any]:
    info: dict[str, Any] = {
        "deviceType": device.device_type,
        "alias": device.alias,
        "modelName": device.model_name,
        "reportable": device.device_id in partner.push_subscriptions,
    }
    if device.group_id:
        info["groupId"] = device.group_id
    if device.parent_id:
        info["parentId"] = device.parent_id
    return {"deviceId": device.device_id, "deviceInfo": info}


# ---------------------------------------------------------------------- Token API


async def create_api_token() -> Reply:
    token = sandbox().accounts.issue_token(header("x-api-key"), header("x-api-secret"))
    # api-token-res is the bare token object, without the device envelope.
    return {"access_token": token}, 200, {}


# ---------------------------------------------------------------------- Device API


async def get_devices() -> Reply:
    partner = caller("device")
    devices = sandbox().business_connect.devices_in_reach(reach(partner))
    return bc_reply([_list_item(device, partner) for device in devices])


async def get_profile_of_device(device_id: str) -> Reply:
    partner = caller("device")
    device = sandbox().business_connect.device(reach(partner), device_id)
    return bc_reply(device.profile.raw)


async def get_status_of_device(device_id: str) -> Reply:
    partner = caller("device")
    device = sandbox().business_connect.device(reach(partner), device_id)
    return bc_reply(device.status)


async def control_device(device_id: str, body: Any = None) -> Reply:
    partner = caller("device")
    device = sandbox().business_connect.control(reach(partner), device_id, body)
    return bc_reply(device.status)


# ---------------------------------------------------------------------- Event API


async def list_devices_subscribed() -> Reply:
    partner = caller("event")
    device_ids = sandbox().business_connect.subscribed(reach(partner))
    return bc_reply([{"deviceId": device_id} for device_id in device_ids])


async def subscribe_push_messages(device_id: str) -> Reply:
    partner = caller("event")
    sandbox().business_connect.subscribe(reach(partner), device_id)
    return bc_reply({})


async def unsubscribe_push_messages(device_id: str) -> Reply:
    partner = caller("event")
    sandbox().business_connect.unsubscribe(reach(partner), device_id)
    return bc_reply({})


# ---------------------------------------------------------------------- User API


async def get_user_number() -> Reply:
    partner = caller("user")
    user = partner_user(partner)
    return bc_reply({"userNumber": user.user_number})


async def disconnect_service() -> Reply:
    partner = caller("user")
    user = partner_user(partner)
    sandbox().business_connect.disconnect(partner, user)
    return bc_reply({})
