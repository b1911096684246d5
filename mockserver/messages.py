"""The bodies of what the sandbox sends to partners, built in one place.

- ThinQ asynchronous callbacks: one per device of a request, tied to it by requestId;
- ThinQ messages that follow a subscription: DEVICE_STATUS with a ``report``, DEVICE_PUSH
  with a ``pushCode`` (no requestId: they answer no request; spec-notes TQ-19);
- Business Connect push deliveries to a partner's callbackUrl (spec-notes BC-22);
- ThinQ Connect messages over MQTT, to a client's topic (spec-notes TC-MQ-01).
"""

from __future__ import annotations

import random
from typing import Any

from mockserver.backends.devices import Device
from mockserver.errors import Api, ApiError, code_for
from mockserver.wire import new_message_id

SUCCESS = "0000"
# requestIds look like the seed's examples: 22 characters of the 57-letter "shortuuid"
# alphabet (no 0, 1, I, O, l); clients must treat them as opaque (spec-notes TQ-08).
REQUEST_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ids = random.SystemRandom()


def new_request_id() -> str:
    return "".join(_ids.choice(REQUEST_ID_ALPHABET) for _ in range(22))


def thinq_accepted(message_id: str, request_id: str, timestamp: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "requestId": request_id,
        "response": {},
        "responseCode": SUCCESS,
        "statusCode": 202,
        "timestamp": timestamp,
    }


def _about(push_type: str, device: Device, service_id: str, user_number: str) -> dict[str, Any]:
    """What every ThinQ callback and message says about its device and caller."""
    return {
        "pushType": push_type,
        "deviceId": device.device_id,
        "deviceType": device.device_type,
        "serviceId": service_id,
        "userNumber": user_number,
    }


def thinq_callback(
    *,
    message_id: str,
    request_id: str,
    push_type: str,
    device: Device,
    service_id: str,
    user_number: str,
    timestamp: str,
    result: Any = None,
    error: ApiError | None = None,
) -> dict[str, Any]:
    """One device's callback: ``result`` on success, ``error`` and its code otherwise."""
    response = _about(push_type, device, service_id, user_number)
    if error is None:
        response["result"] = result if result is not None else {}
        code, status = SUCCESS, 200
    else:
        info = code_for(Api.THINQ_ASYNC, error)
        response["error"] = {"code": info.code, "message": f"{info.title}: {error.describe()}"}
        code, status = info.code, info.status
    return {
        "messageId": message_id,
        "requestId": request_id,
        "response": response,
        "responseCode": code,
        "statusCode": status,
        "timestamp": timestamp,
    }


def thinq_message(
    *,
    push_type: str,
    device: Device,
    service_id: str,
    user_number: str,
    timestamp: str,
    report: Any = None,
    push_code: str | None = None,
) -> dict[str, Any]:
    response = _about(push_type, device, service_id, user_number)
    if push_code is None:
        response["report"] = report
    else:
        response["pushCode"] = push_code
    return {
        "messageId": new_message_id(),
        "response": response,
        "responseCode": SUCCESS,
        "statusCode": 200,
        "timestamp": timestamp,
    }


def business_connect_message(
    *,
    push_type: str,
    device: Device,
    timestamp: str,
    report: Any = None,
    push_code: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messageId": new_message_id(),
        "timestamp": timestamp,
        "pushType": push_type,
        "deviceId": device.device_id,
        "deviceType": device.device_type,
    }
    if device.owner:
        body["userNumber"] = device.owner
    if push_code is None:
        body["report"] = report
    else:
        body["pushCode"] = push_code
    return body


def connect_message(
    *,
    push_type: str,
    device: Device,
    user_number: str,
    timestamp: str,
    **content: Any,
) -> dict[str, Any]:
    """A ThinQ Connect MQTT message: flat, as LG's SDK and Home Assistant read it
    (``pushType``, ``deviceId`` and ``deviceType`` always; then ``report``,
    ``pushCode``, ``deviceInfo`` or ``alias`` by type)."""
    return {
        "pushType": push_type,
        "deviceId": device.device_id,
        "deviceType": device.device_type,
        "userNumber": user_number,
        "timestamp": timestamp,
        **content,
    }
