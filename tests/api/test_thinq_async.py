"""ThinQ asynchronous API over HTTP: 202 at once, one callback per device at a real receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver, push_type
from mockserver.wire import new_message_id
from tests.api.test_token_and_auth import assert_refused
from tests.support import (
    KR_AC,
    KR_FRIDGE,
    KR_TOKEN,
    KR_USER,
    OFFICE_AC,
    bc_headers,
    user_headers,
)

SERVICE = "acme-thinq-service"
SERVICE_KEY = "acme-thinq-service-key"


@pytest.fixture
def receiver(http: httpx.Client) -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as running:
        answer = http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": running.url})
        assert answer.status_code == 200, answer.text
        yield running


def thinq_headers(
    token: str = KR_TOKEN,
    country: str = "KR",
    *,
    service: str = SERVICE,
    service_key: str = SERVICE_KEY,
) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "x-message-id": new_message_id(),
        "x-service-id": service,
        "x-service-key": service_key,
        "x-country-code": country,
    }


def kr_devices(http: httpx.Client) -> dict[str, dict[str, Any]]:
    devices = http.get("/_sandbox/state").json()["devices"]
    return {d["deviceId"]: d for d in devices if d["owner"] == KR_USER}


def accepted(answer: httpx.Response, headers: dict[str, str]) -> str:
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["responseCode"] == "0000" and body["statusCode"] == 202
    assert body["response"] == {} and body["messageId"] == headers["x-message-id"]
    assert len(body["requestId"]) == 22
    return body["requestId"]


def other_job_mode(http: httpx.Client, headers: dict[str, str]) -> str:
    """A writable job mode the KR air conditioner is not in, so a control changes it."""
    profile = http.get(f"/bc/v1/devices/profile/{KR_AC}", headers=headers).json()["response"]
    status = http.get(f"/bc/v1/devices/{KR_AC}", headers=headers).json()["response"]
    modes = profile["property"]["airConJobMode"]["currentJobMode"]["value"]["w"]
    return next(m for m in modes if m != status["airConJobMode"]["currentJobMode"])


def call_async(
    http: httpx.Client,
    method: str,
    operation: str,
    json: Any = None,
    *,
    token: str = KR_TOKEN,
    country: str = "KR",
) -> str:
    """Call one /v2/devices/<operation>, check its 202, return the requestId."""
    headers = thinq_headers(token, country)
    answer = http.request(method, f"/v2/devices/{operation}", headers=headers, json=json)
    return accepted(answer, headers)


def of_request(request_id: str):
    return lambda body: body.get("requestId") == request_id


def test_profile_async_delivers_one_profile_per_device(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    headers = thinq_headers()
    request_id = accepted(http.post("/v2/devices/profile-async", headers=headers), headers)
    devices = kr_devices(http)
    bodies = receiver.wait_for(len(devices), of_request(request_id))
    assert {b["response"]["deviceId"] for b in bodies} == set(devices)
    for body in bodies:
        assert body["responseCode"] == "0000" and body["statusCode"] == 200
        assert body["messageId"] == headers["x-message-id"]
        response = body["response"]
        assert response["pushType"] == "DEVICE_PROFILE"
        assert response["serviceId"] == SERVICE and response["userNumber"] == KR_USER
        assert response["deviceType"] == devices[response["deviceId"]]["deviceType"]
        assert "property" in response["result"]


def test_status_async_shows_the_state_business_connect_sees(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    bc = user_headers(http, KR_TOKEN, "KR")
    command = {"airConJobMode": {"currentJobMode": "FAN"}}
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=bc, json=command).status_code == 200
    headers = thinq_headers()
    request_id = accepted(http.post("/v2/devices/status-async", headers=headers), headers)
    bodies = receiver.wait_for(len(kr_devices(http)), of_request(request_id))
    ac = next(b for b in bodies if b["response"]["deviceId"] == KR_AC)
    assert ac["response"]["pushType"] == "DEVICE_STATUS"
    assert ac["response"]["result"]["airConJobMode"]["currentJobMode"] == "FAN"
    bc_status = http.get(f"/bc/v1/devices/{KR_AC}", headers=bc).json()["response"]
    assert ac["response"]["result"] == bc_status


def test_control_async_controls_every_device_of_the_type(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    body = {
        "deviceType": "DEVICE_AIR_CONDITIONER",
        "command": {"airConJobMode": {"currentJobMode": "FAN"}},
    }
    request_id = call_async(http, "POST", "control-async", body)
    [callback] = receiver.wait_for(1, of_request(request_id))
    assert callback["response"]["deviceId"] == KR_AC
    assert callback["response"]["pushType"] == "DEVICE_CONTROL"
    assert callback["response"]["result"] == {}
    status = http.get(f"/bc/v1/devices/{KR_AC}", headers=user_headers(http, KR_TOKEN, "KR"))
    assert status.json()["response"]["airConJobMode"]["currentJobMode"] == "FAN"


def test_control_async_partial_failure(http: httpx.Client, receiver: CallbackReceiver) -> None:
    # A second KR air conditioner, powered off, refuses; the first one obeys.
    state = http.get("/_sandbox/state").json()
    twin = dict(next(d for d in state["devices"] if d["deviceId"] == KR_AC))
    twin.update(deviceId="kr-ac-2", alias="Bedroom air conditioner")
    twin["status"] = {"operation": {"airConOperationMode": "POWER_OFF"}}
    state["devices"].append(twin)
    assert http.post("/_sandbox/scenario", json=state).status_code == 200
    http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": receiver.url})
    body = {
        "deviceType": "DEVICE_AIR_CONDITIONER",
        "command": {"airConJobMode": {"currentJobMode": "FAN"}},
    }
    request_id = call_async(http, "POST", "control-async", body)
    callbacks = {c["response"]["deviceId"]: c for c in receiver.wait_for(2, of_request(request_id))}
    assert callbacks[KR_AC]["responseCode"] == "0000"
    failed = callbacks["kr-ac-2"]
    assert failed["responseCode"] == "2304" and failed["statusCode"] == 400
    assert failed["response"]["error"]["code"] == "2304"
    assert "result" not in failed["response"]


def test_control_async_of_a_type_the_user_lacks_sends_nothing(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    body = {
        "deviceType": "DEVICE_WASHER",
        "command": {"operation": {"washerOperationMode": "START"}},
    }
    request_id = call_async(http, "POST", "control-async", body)
    journal = http.get("/_sandbox/callbacks", params={"requestId": request_id}).json()
    assert journal["total"] == 0


def test_event_subscription_delivers_changes_until_it_expires(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    http.post("/_sandbox/clock", json={"freeze": True})
    request_id = call_async(http, "POST", "event-async", {"expire": {"unit": "HOUR", "timer": 2}})
    subscribed = receiver.wait_for(len(kr_devices(http)), of_request(request_id))
    assert {push_type(b) for b in subscribed} == {"DEVICE_EVENT_SUBSCRIBED"}
    # A control through Business Connect reaches the ThinQ subscriber as an event.
    bc = user_headers(http, KR_TOKEN, "KR")
    command = {"airConJobMode": {"currentJobMode": other_job_mode(http, bc)}}
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=bc, json=command).status_code == 200
    [event] = receiver.wait_for(1, is_event)
    assert event["response"]["deviceId"] == KR_AC
    assert event["response"]["report"] == command
    # A device-side change too.
    change = http.patch(
        f"/_sandbox/devices/{KR_AC}/state", json={"temperature": {"currentTemperature": 25}}
    )
    assert change.status_code == 200, change.text
    receiver.wait_for(2, is_event)
    # Past the expiry on the sandbox clock: nothing more.
    http.post("/_sandbox/clock", json={"advance": 2 * 3600})
    command = {"airConJobMode": {"currentJobMode": other_job_mode(http, bc)}}
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=bc, json=command).status_code == 200
    journal = http.get(
        "/_sandbox/callbacks", params={"deviceId": KR_AC, "kind": "DEVICE_STATUS"}
    ).json()
    assert journal["total"] == 2


def is_event(body: Any) -> bool:
    """A state report that follows a subscription (it answers no request)."""
    return push_type(body) == "DEVICE_STATUS" and "requestId" not in body


def test_event_resubscription_renews_and_unsubscribe_ends(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    http.post("/_sandbox/clock", json={"freeze": True})
    call_async(http, "POST", "event-async")
    http.post("/_sandbox/clock", json={"advance": 1800})
    call_async(http, "POST", "event-async")
    http.post("/_sandbox/clock", json={"advance": 3000})  # 80 min after the first
    http.patch(f"/_sandbox/devices/{KR_AC}/state", json={"temperature": {"currentTemperature": 26}})
    receiver.wait_for(1, lambda b: push_type(b) == "DEVICE_STATUS")
    request_id = call_async(http, "DELETE", "event-async")
    gone = receiver.wait_for(len(kr_devices(http)), of_request(request_id))
    assert {push_type(b) for b in gone} == {"DEVICE_EVENT_UNSUBSCRIBED"}
    assert all(b["responseCode"] == "0000" for b in gone)
    again = call_async(http, "DELETE", "event-async")
    assert {
        b["responseCode"] for b in receiver.wait_for(len(kr_devices(http)), of_request(again))
    } == {"1204"}


def test_push_subscription_and_notifications(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    request_id = call_async(http, "POST", "push-async")
    confirmations = receiver.wait_for(len(kr_devices(http)), of_request(request_id))
    assert {push_type(b) for b in confirmations} == {"DEVICE_PUSH_SUBSCRIBED"}
    profile = http.get(
        f"/bc/v1/devices/profile/{KR_FRIDGE}", headers=user_headers(http, KR_TOKEN, "KR")
    )
    code = profile.json()["response"]["notification"]["push"][0]
    assert http.post(f"/_sandbox/devices/{KR_FRIDGE}/push", json={"code": code}).status_code == 200
    [push] = receiver.wait_for(1, lambda b: push_type(b) == "DEVICE_PUSH")
    assert push["response"]["pushCode"] == code and push["response"]["deviceId"] == KR_FRIDGE
    twice = call_async(http, "POST", "push-async")
    assert {
        b["responseCode"] for b in receiver.wait_for(len(kr_devices(http)), of_request(twice))
    } == {"1207"}
    off = call_async(http, "DELETE", "push-async")
    assert {push_type(b) for b in receiver.wait_for(len(kr_devices(http)), of_request(off))} == {
        "DEVICE_PUSH_UNSUBSCRIBED"
    }


def test_unknown_push_code_is_refused(http: httpx.Client) -> None:
    answer = http.post(f"/_sandbox/devices/{KR_FRIDGE}/push", json={"code": "NOT_A_CODE"})
    assert answer.status_code == 400 and "NOT_A_CODE" in answer.text


@pytest.mark.parametrize(
    ("change", "status", "code", "names"),
    [
        ({"x-service-key": "wrong"}, 401, "1301", "x-service-key"),
        ({"x-service-id": "nobody"}, 401, "1301", "x-service-key"),
        ({"Authorization": "Bearer who"}, 401, "1103", "Authorization"),
        ({"x-country-code": "US"}, 400, "1102", "x-country-code"),
        ({"x-message-id": "bad"}, 400, "1104", "x-message-id"),
        ({"x-service-id": None}, 400, "1101", "x-service-id"),
        ({"Authorization": None}, 400, "1101", "Authorization"),
    ],
)
def test_synchronous_refusals(
    http: httpx.Client, change: dict[str, str | None], status: int, code: str, names: str
) -> None:
    headers = thinq_headers()
    for name, value in change.items():
        headers.pop(name)
        if value is not None:
            headers[name] = value
    answer = http.post("/v2/devices/status-async", headers=headers)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["responseCode"] == code and body["statusCode"] == status
    assert body["response"]["error"]["code"] == code
    assert names in body["response"]["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"command": {}},
        {"deviceType": "DEVICE_AIR_CONDITIONER"},
        {"deviceType": "lower", "command": {}},
    ],
)
def test_control_body_refusals(http: httpx.Client, body: dict) -> None:
    answer = http.post("/v2/devices/control-async", headers=thinq_headers(), json=body)
    assert answer.status_code == 400
    assert answer.json()["responseCode"] in {"1101", "1102"}


@pytest.mark.parametrize("timer", [0, 25, "1"])
def test_event_timer_outside_1_to_24_is_refused(http: httpx.Client, timer: Any) -> None:
    answer = http.post(
        "/v2/devices/event-async", headers=thinq_headers(), json={"expire": {"timer": timer}}
    )
    assert answer.status_code == 400 and answer.json()["responseCode"] == "1102"


def test_users_path_of_the_seed_is_not_served(http: httpx.Client) -> None:
    answer = http.delete("/v2/users/event-async", headers=thinq_headers())
    assert answer.status_code == 404 and answer.json()["responseCode"] == "1000"


def test_business_connect_push_subscription_delivers_to_the_partner(
    http: httpx.Client,
) -> None:
    with CallbackReceiver() as partner_receiver:
        http.patch("/_sandbox/partners/acme-energy", json={"callbackUrl": partner_receiver.url})
        bc = user_headers(http, KR_TOKEN, "KR")
        assert http.post(f"/bc/v1/push/{KR_AC}", headers=bc).status_code == 200
        status_before = http.get(f"/bc/v1/devices/{KR_AC}", headers=bc).json()["response"]
        command = {"airConJobMode": {"currentJobMode": other_job_mode(http, bc)}}
        assert http.post(f"/bc/v1/devices/{KR_AC}", headers=bc, json=command).status_code == 200
        [message] = partner_receiver.wait_for(1)
        assert message["pushType"] == "DEVICE_STATUS" and message["deviceId"] == KR_AC
        assert message["report"] == command
        # Not subscribed: the registered office AC changes (200), and nothing is queued for it.
        office = http.post(
            f"/bc/v1/devices/{OFFICE_AC}",
            headers=bc_headers(http),
            json={"operation": {"airConOperationMode": "POWER_OFF"}},
        )
        assert office.status_code == 200, office.text

        def queued(device: str) -> int:
            return http.get("/_sandbox/callbacks", params={"deviceId": device}).json()["total"]

        assert queued(KR_AC) == 1  # the delivery journal does list push messages...
        assert queued(OFFICE_AC) == 0  # ...and none was queued for the office AC
        # A second change of the subscribed AC is the marker: once it has arrived, a message
        # about the office AC (queued before it) would have arrived too.
        back = {
            "airConJobMode": {"currentJobMode": status_before["airConJobMode"]["currentJobMode"]}
        }
        assert http.post(f"/bc/v1/devices/{KR_AC}", headers=bc, json=back).status_code == 200
        messages = partner_receiver.wait_for(2)
        assert [m["deviceId"] for m in messages] == [KR_AC, KR_AC]
        assert messages[1]["report"] == back


def test_reports_validate_against_assert_refused_shape(http: httpx.Client) -> None:
    # The ThinQ envelope is not the Business Connect one: assert_refused must not accept it.
    answer = http.post("/v2/devices/status-async", headers=thinq_headers("who"))
    assert answer.status_code == 401, answer.text
    assert answer.headers["X-Response-Code"] == "1103"
    assert answer.json()["responseCode"] == "1103"
    assert answer.json()["response"]["error"]["code"] == "1103"
    # Status and code agree, so the only thing assert_refused can trip on is the envelope.
    with pytest.raises(KeyError, match="error"):
        assert_refused(answer, 401, "1103")
