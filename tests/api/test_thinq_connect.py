"""ThinQ Connect over plain HTTP: the SDK's headers, the envelopes, each refusal's code.

What LG's own SDK does with these answers is in test_thinq_connect_sdk.py; here each
rule is checked on the wire, status, code and envelope, the way a client without the
SDK would meet it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.api.test_token_and_auth import assert_refused
from tests.support import (
    KR_AC,
    KR_FRIDGE,
    KR_PAT,
    KR_TOKEN,
    OFFICE_AC,
    US_PAT,
    US_WASHER,
    connect_headers,
    user_headers,
)

CLIENT_BODY = {"type": "MQTT", "service-code": "SVC202", "device-type": "607", "allowExist": True}


def ok(answer: httpx.Response, headers: dict[str, str]) -> Any:
    """The ``response`` of a 200 in ThinQ Connect's envelope, echoing the message id."""
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"messageId", "timestamp", "response"}
    assert body["messageId"] == headers["x-message-id"]
    assert answer.headers["X-Message-Id"] == headers["x-message-id"]
    return body["response"]


def kr_owned(http: httpx.Client) -> list[str]:
    devices = http.get("/_sandbox/state").json()["devices"]
    return [d["deviceId"] for d in devices if d["owner"] == "KR2024000000001"]


def test_devices_are_the_pat_users_own_in_scenario_order(http: httpx.Client) -> None:
    headers = connect_headers()
    listed = ok(http.get("/connect/devices", headers=headers), headers)
    assert [d["deviceId"] for d in listed] == kr_owned(http)
    washer = next(d for d in listed if d["deviceInfo"]["deviceType"] == "DEVICE_WASHTOWER_WASHER")
    assert washer["deviceInfo"]["groupId"] == "171807013576723372"
    assert all(d["deviceInfo"]["reportable"] is True for d in listed)


def test_state_is_the_one_business_connect_reads(http: httpx.Client) -> None:
    headers = connect_headers()
    state = ok(http.get(f"/connect/devices/{KR_FRIDGE}/state", headers=headers), headers)
    bc = http.get(f"/bc/v1/devices/{KR_FRIDGE}", headers=user_headers(http, KR_TOKEN, "KR"))
    assert state == bc.json()["response"]


def test_a_control_here_shows_in_business_connect_and_back(http: httpx.Client) -> None:
    headers = connect_headers()
    answer = http.post(
        f"/connect/devices/{KR_AC}/control",
        headers={**headers, "x-conditional-control": "true"},
        json={"airConJobMode": {"currentJobMode": "FAN"}},
    )
    assert ok(answer, headers) == {}
    bc_headers = user_headers(http, KR_TOKEN, "KR")
    bc = http.get(f"/bc/v1/devices/{KR_AC}", headers=bc_headers).json()["response"]
    assert bc["airConJobMode"]["currentJobMode"] == "FAN"
    changed = http.post(
        f"/bc/v1/devices/{KR_AC}",
        headers=bc_headers,
        json={"airConJobMode": {"currentJobMode": "AIR_DRY"}},
    )
    assert changed.status_code == 200, changed.text
    headers = connect_headers()
    state = ok(http.get(f"/connect/devices/{KR_AC}/state", headers=headers), headers)
    assert state["airConJobMode"]["currentJobMode"] == "AIR_DRY"


def test_out_of_range_control_is_2207_and_changes_nothing(http: httpx.Client) -> None:
    headers = connect_headers()
    before = ok(http.get(f"/connect/devices/{KR_AC}/state", headers=headers), headers)
    answer = http.post(
        f"/connect/devices/{KR_AC}/control",
        headers=connect_headers(),
        json={"temperature": {"targetTemperature": 99}},
    )
    body = assert_refused(answer, 400, "2207", "targetTemperature")
    assert set(body) == {"messageId", "timestamp", "error"}
    headers = connect_headers()
    assert ok(http.get(f"/connect/devices/{KR_AC}/state", headers=headers), headers) == before


@pytest.mark.parametrize(
    ("change", "status", "code", "names"),
    [
        ({"Authorization": None}, 400, "1101", "Authorization"),
        ({"Authorization": "Bearer nobody-has-this-pat"}, 400, "1103", "personal access"),
        ({"Authorization": KR_PAT}, 400, "1103", "Bearer"),
        ({"x-country": "US"}, 400, "1216", "x-country"),
        ({"x-country": "korea"}, 400, "1216", "x-country"),
        ({"x-message-id": "short"}, 400, "1104", "x-message-id"),
        ({"x-message-id": None}, 400, "1101", "x-message-id"),
        ({"x-client-id": None}, 400, "1101", "x-client-id"),
        ({"x-api-key": "another-key"}, 401, "1301", "x-api-key"),
        ({"x-service-phase": "DEV"}, 400, "1216", "x-service-phase"),
    ],
)
def test_header_refusals(
    http: httpx.Client, change: dict[str, str | None], status: int, code: str, names: str
) -> None:
    headers: dict[str, Any] = {**connect_headers(), **change}
    headers = {name: value for name, value in headers.items() if value is not None}
    assert_refused(http.get("/connect/devices", headers=headers), status, code, names)


def test_device_refusals(http: httpx.Client) -> None:
    assert_refused(
        http.get("/connect/devices/no-such-device/state", headers=connect_headers()),
        404,
        "1205",
        "deviceId",
    )
    # A device of the other user, and one registered only to a partner: not owned.
    for device in (US_WASHER, OFFICE_AC):
        answer = http.get(f"/connect/devices/{device}/profile", headers=connect_headers())
        assert_refused(answer, 404, "1212", "deviceId")
    headers = connect_headers(US_PAT, "US")
    assert ok(http.get(f"/connect/devices/{US_WASHER}/profile", headers=headers), headers)


def test_offline_device_state_is_1222_but_its_profile_is_served(http: httpx.Client) -> None:
    assert http.patch(f"/_sandbox/devices/{KR_AC}", json={"online": False}).status_code == 200
    answer = http.get(f"/connect/devices/{KR_AC}/state", headers=connect_headers())
    assert_refused(answer, 400, "1222")
    answer = http.post(
        f"/connect/devices/{KR_AC}/control",
        headers=connect_headers(),
        json={"airConJobMode": {"currentJobMode": "FAN"}},
    )
    assert_refused(answer, 400, "1222")
    headers = connect_headers()
    assert ok(http.get(f"/connect/devices/{KR_AC}/profile", headers=headers), headers)


def test_powered_off_device_refuses_with_2304(http: httpx.Client) -> None:
    off = {"operation": {"airConOperationMode": "POWER_OFF"}}
    headers = connect_headers()
    assert (
        ok(http.post(f"/connect/devices/{KR_AC}/control", headers=headers, json=off), headers) == {}
    )
    answer = http.post(
        f"/connect/devices/{KR_AC}/control",
        headers=connect_headers(),
        json={"airConJobMode": {"currentJobMode": "FAN"}},
    )
    assert_refused(answer, 400, "2304", "airConOperationMode")


def test_prefer_error_answers_that_code_in_this_envelope(http: httpx.Client) -> None:
    headers = {**connect_headers(), "Prefer": "error=2210"}
    body = assert_refused(http.get("/connect/devices", headers=headers), 503, "2210")
    assert body["messageId"] == headers["x-message-id"]
    # A code of another API is not one of this API's.
    answer = http.get("/connect/devices", headers={**connect_headers(), "Prefer": "error=4304"})
    assert_refused(answer, 400, "1216", "Prefer")


def test_a_fault_rule_for_this_api_fires_here(http: httpx.Client) -> None:
    rule = {
        "match": {"api": "connect", "operationId": "getDeviceState"},
        "effect": {"error": "2209"},
    }
    assert http.post("/_sandbox/faults", json=rule).status_code in (200, 201)
    answer = http.get(f"/connect/devices/{KR_AC}/state", headers=connect_headers())
    assert_refused(answer, 500, "2209")
    answer = http.get("/connect/devices", headers=connect_headers())
    assert answer.status_code == 200, answer.text


def test_calls_are_journaled_as_this_api_by_the_pat_user(http: httpx.Client) -> None:
    headers = connect_headers()
    http.get(f"/connect/devices/{KR_AC}/state", headers=headers)
    page = http.get("/_sandbox/journal", params={"api": "connect", "limit": 5}).json()
    newest = page["items"][0]
    assert newest["operationId"] == "getDeviceState"
    assert newest["caller"] == "KR2024000000001"


def test_push_and_event_subscriptions_belong_to_the_client(http: httpx.Client) -> None:
    mine, other = connect_headers(client_id="client-a"), connect_headers(client_id="client-b")
    url = f"/connect/push/{KR_AC}/subscribe"
    assert ok(http.post(url, headers=mine), mine) == {}
    again = connect_headers(client_id="client-a")
    assert_refused(http.post(url, headers=again), 400, "1207", "deviceId")
    assert ok(http.get("/connect/push", headers=mine), mine) == [{"deviceId": KR_AC}]
    assert ok(http.get("/connect/push", headers=other), other) == []
    answer = http.delete(f"/connect/push/{KR_AC}/unsubscribe", headers=other)
    assert_refused(answer, 404, "1206", "deviceId")

    body = {"expire": {"unit": "HOUR", "timer": 2}}
    assert ok(http.post(f"/connect/event/{KR_AC}/subscribe", headers=mine, json=body), mine) == {}
    events = ok(http.get("/connect/event", headers=mine), mine)
    assert [e["deviceId"] for e in events] == [KR_AC]
    # Two hours later on the sandbox clock the subscription has ended, silently.
    assert http.post("/_sandbox/clock", json={"advance": 7201}).status_code == 200
    assert ok(http.get("/connect/event", headers=mine), mine) == []
    answer = http.delete(f"/connect/event/{KR_AC}/unsubscribe", headers=connect_headers("x", "KR"))
    assert_refused(answer, 400, "1103")
    answer = http.delete(
        f"/connect/event/{KR_AC}/unsubscribe", headers=connect_headers(client_id="client-a")
    )
    assert_refused(answer, 404, "1204", "deviceId")


def test_clients_register_once_unless_allowed_to_exist(http: httpx.Client) -> None:
    headers = connect_headers(client_id="client-a")
    assert ok(http.post("/connect/client", headers=headers, json=CLIENT_BODY), headers) == {}
    strict = {**CLIENT_BODY, "allowExist": False}
    answer = http.post(
        "/connect/client", headers=connect_headers(client_id="client-a"), json=strict
    )
    assert_refused(answer, 400, "1225", "x-client-id")
    headers = connect_headers(client_id="client-a")
    assert (
        ok(http.request("DELETE", "/connect/client", headers=headers, json=CLIENT_BODY), headers)
        == {}
    )
    headers = connect_headers(client_id="client-a")
    answer = http.request("DELETE", "/connect/client", headers=headers, json=CLIENT_BODY)
    assert_refused(answer, 404, "1213", "x-client-id")


def sdk_csr() -> str:
    """A certificate request as the SDK's MQTT client makes one: base64 DER, no armour."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lg_thinq")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA512())
    pem = csr.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return "".join(pem.strip().splitlines()[1:-1])


def test_a_csr_is_signed_by_the_sandbox_ca_for_the_calling_client(http: httpx.Client) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lg_thinq")]))
        .sign(key, hashes.SHA256())
    )
    body = "".join(csr.public_bytes(serialization.Encoding.PEM).decode().splitlines()[1:-1])
    headers = connect_headers(client_id="client-a")
    http.post("/connect/client", headers=headers, json=CLIENT_BODY)
    headers = connect_headers(client_id="client-a")
    answer = http.post(
        "/connect/client/certificate", headers=headers, json={"service-code": "SVC202", "csr": body}
    )
    result = ok(answer, headers)["result"]
    assert result["subscriptions"] == ["app/clients/client-a/push"]
    cert = x509.load_pem_x509_certificate(result["certificatePem"].encode())
    ca = x509.load_pem_x509_certificate(http.get("/_sandbox/mqtt/ca.pem").content)
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "client-a"


def test_a_csr_that_is_not_one_is_refused_naming_it(http: httpx.Client) -> None:
    headers = connect_headers(client_id="client-a")
    http.post("/connect/client", headers=headers, json=CLIENT_BODY)
    answer = http.post(
        "/connect/client/certificate",
        headers=connect_headers(client_id="client-a"),
        json={"service-code": "SVC202", "csr": "MIIB"},
    )
    assert_refused(answer, 400, "1102", "csr")


def test_route_names_this_server(http: httpx.Client, server: Any) -> None:
    headers = connect_headers()
    route = ok(http.get("/connect/route", headers=headers), headers)
    assert route["apiServer"] == f"{server.base_url}/connect"
    assert route["mqttServer"].startswith("mqtts://")


def test_energy_usage_is_simulated_from_the_sandbox_clock(http: httpx.Client) -> None:
    http.post("/_sandbox/clock", json={"set": "2026-12-07T12:00:00+00:00"})
    headers = connect_headers()
    profile = ok(http.get(f"/connect/devices/energy/{KR_AC}/profile", headers=headers), headers)
    assert profile == {"result": {"property": ["totalEnergy"]}}
    query = {"property": "totalEnergy", "period": "DAILY", "startDate": "20261201"}
    url = f"/connect/devices/energy/{KR_AC}/usage"
    headers = connect_headers()
    days = ok(http.get(url, params={**query, "endDate": "20261207"}, headers=headers), headers)
    entries = days["result"]["dataList"]
    assert [e["usedDate"] for e in entries] == [f"202612{d:02}" for d in range(1, 8)]
    assert all(e["totalEnergy"] > 0 for e in entries)
    # Today so far is about half a day at noon.
    assert entries[-1]["totalEnergy"] < max(e["totalEnergy"] for e in entries[:-1])
    headers = connect_headers()
    again = ok(http.get(url, params={**query, "endDate": "20261207"}, headers=headers), headers)
    assert again == days
    future = http.get(url, params={**query, "endDate": "20261208"}, headers=connect_headers())
    assert_refused(future, 400, "1102", "endDate")
    wrong = http.get(
        url, params={**query, "period": "MONTHLY", "endDate": "202612"}, headers=connect_headers()
    )
    assert_refused(wrong, 400, "1102", "startDate")
    styler = "ceef2ad5845f99a59818e0019ada5a43a3101da8675676f8ed13137b9568e33e"
    robot = "74abf76e40f05f88f845ab9ae319dabc660d6ec9aa9760c10b1de9766f66edd1"
    assert (
        http.get(f"/connect/devices/energy/{styler}/profile", headers=connect_headers()).status_code
        == 200
    )
    answer = http.get(f"/connect/devices/energy/{robot}/profile", headers=connect_headers())
    assert_refused(answer, 400, "2201")


def test_pat_is_in_the_exported_state(http: httpx.Client) -> None:
    users = {u["userNumber"]: u for u in http.get("/_sandbox/state").json()["users"]}
    assert users["KR2024000000001"]["pat"] == KR_PAT
    assert users["US2024000000002"]["pat"] == US_PAT
