"""Fault injection (Prefer and rules) and the request journal, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from mockserver.errors import BC_CODES, THINQ_CODES
from tests.api.test_thinq_async import SERVICE, call_async, kr_devices, thinq_headers
from tests.support import KR_AC, KR_TOKEN, OFFICE_AC, bc_headers, user_headers, wait_until


def fault(http: httpx.Client, **rule: object) -> dict:
    answer = http.post("/_sandbox/faults", json=rule)
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.mark.parametrize("code", sorted(c for c in BC_CODES if c != "2000"))
def test_every_business_connect_code_through_prefer(http: httpx.Client, code: str) -> None:
    info = BC_CODES[code]
    for path, dr in (("/bc/v1/devices", False), ("/bc/v1/dr/groups/g1", True)):
        headers = {**bc_headers(http), "Prefer": f"error={code}", "X-Country-Code": "KR"}
        answer = http.get(path, headers=headers)
        assert answer.status_code == info.status, answer.text
        assert answer.headers["X-Response-Code"] == code
        assert answer.headers["X-Message-Id"] == headers["X-Message-Id"]
        body = answer.json()
        if dr:
            assert body["code"] == int(code) and info.title in body["message"]
        else:
            assert body["error"]["code"] == code and info.title in body["error"]["message"]


@pytest.mark.parametrize("code", sorted(THINQ_CODES))
def test_every_thinq_code_through_prefer(http: httpx.Client, code: str) -> None:
    info = THINQ_CODES[code]
    answer = http.post(
        "/v2/devices/status-async", headers={**thinq_headers(), "Prefer": f"error={code}"}
    )
    assert answer.status_code == info.status
    body = answer.json()
    assert body["responseCode"] == code and body["statusCode"] == info.status
    assert body["response"]["error"]["code"] == code


def test_unknown_prefer_code_is_refused_naming_the_header(http: httpx.Client) -> None:
    answer = http.get("/bc/v1/devices", headers={**bc_headers(http), "Prefer": "error=9999"})
    assert answer.status_code == 400 and answer.headers["X-Response-Code"] == "4101"
    assert "Prefer" in answer.json()["error"]["message"]
    thinq = http.post(
        "/v2/devices/status-async", headers={**thinq_headers(), "Prefer": "error=4304"}
    )
    assert thinq.status_code == 400 and thinq.json()["responseCode"] == "1102"


def test_prefer_delay(http: httpx.Client) -> None:
    headers = bc_headers(http)
    started = time.monotonic()
    answer = http.get("/bc/v1/devices", headers={**headers, "Prefer": "delay=400"})
    assert answer.status_code == 200 and time.monotonic() - started >= 0.4


def test_codes_catalogue(http: httpx.Client) -> None:
    codes = http.get("/_sandbox/codes").json()
    assert {c["code"] for c in codes["bc"]} == set(BC_CODES)
    assert {c["code"] for c in codes["thinq"]} == set(THINQ_CODES)


def test_error_rule_by_device_with_count(http: httpx.Client) -> None:
    rule = fault(http, match={"deviceId": OFFICE_AC}, effect={"error": "5000"}, count=2)
    headers = bc_headers(http)
    codes = [http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=headers).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    assert http.get("/bc/v1/devices", headers=headers).status_code == 200  # other ops untouched
    [listed] = http.get("/_sandbox/faults").json()["items"]
    assert listed["id"] == rule["id"] and listed["fired"] == 2


def test_status_rule_by_caller_and_path_glob(http: httpx.Client) -> None:
    fault(http, match={"caller": "viewer-co", "path": "/bc/v1/devices*"}, effect={"status": 503})
    assert http.get("/bc/v1/devices", headers=bc_headers(http)).status_code == 200
    viewer = bc_headers(http, key="viewer-api-key-0002", secret="viewer-api-secret-0002")
    answer = http.get("/bc/v1/devices", headers=viewer)
    assert answer.status_code == 503 and answer.text == "injected by lgmock fault rule"


def test_delay_rule(http: httpx.Client) -> None:
    fault(http, match={"operationId": "getDevices"}, effect={"delay": 300})
    headers = bc_headers(http)
    started = time.monotonic()
    assert http.get("/bc/v1/devices", headers=headers).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_dropped_connection_is_seen_by_a_real_client(http: httpx.Client) -> None:
    fault(http, match={"operationId": "getDevices"}, effect={"drop": True}, count=1)
    headers = bc_headers(http)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/bc/v1/devices", headers=headers)
    assert http.get("/bc/v1/devices", headers=headers).status_code == 200


def test_truncated_and_malformed_answers(http: httpx.Client) -> None:
    headers = bc_headers(http)
    fault(http, match={"operationId": "getDevices"}, effect={"truncate": True}, count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/bc/v1/devices", headers=headers)
    fault(http, match={"operationId": "getDevices"}, effect={"malformed": True}, count=1)
    answer = http.get("/bc/v1/devices", headers=headers)
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        answer.json()


def test_probability_zero_never_fires_and_rules_can_be_removed(http: httpx.Client) -> None:
    rule = fault(http, match={"operationId": "getDevices"}, effect={"status": 500}, probability=0)
    headers = bc_headers(http)
    assert all(http.get("/bc/v1/devices", headers=headers).status_code == 200 for _ in range(5))
    assert http.delete(f"/_sandbox/faults/{rule['id']}").status_code == 204
    gone = http.delete(f"/_sandbox/faults/{rule['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "FAULT_RULE_NOT_FOUND"
    fault(http, effect={"status": 500})
    assert http.delete("/_sandbox/faults").status_code == 204
    assert http.get("/_sandbox/faults").json()["items"] == []


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"effect": {"error": "7777"}}, "'7777' is not a documented code of bc or thinq"),
        ({"effect": {"status": 500, "delay": 1}}, "body.effect: {"),
        ({"effect": {"teleport": True}}, "effect must have exactly one of"),
        ({"target": "callback", "effect": {"truncate": True}}, "for a callback rule"),
    ],
)
def test_bad_rules_are_refused(http: httpx.Client, rule: dict, named: str) -> None:
    before = http.get("/_sandbox/faults").json()["items"]
    answer = http.post("/_sandbox/faults", json=rule)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "INVALID_BODY" and named in error["message"], error
    assert http.get("/_sandbox/faults").json()["items"] == before  # nothing half added


@pytest.mark.parametrize(
    ("match", "named"),
    [
        ({"operationId": "getStatus"}, "did you mean getStatusOfDevice"),
        ({"operationId": "getDevices", "api": "thinq"}, "not an operation of thinq"),
        ({"operationId": "addFault"}, "not an operation of bc or thinq"),  # the control API's
    ],
)
def test_a_rule_for_an_unknown_operation_is_refused(
    http: httpx.Client, match: dict, named: str
) -> None:
    answer = http.post("/_sandbox/faults", json={"match": match, "effect": {"status": 503}})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "INVALID_BODY"
    assert "match.operationId" in error["message"] and named in error["message"]
    assert http.get("/_sandbox/faults").json()["items"] == []


def test_a_scenario_fault_for_an_unknown_operation_is_refused(http: httpx.Client) -> None:
    state = http.get("/_sandbox/state").json()
    state["faults"] = [{"match": {"operationId": "getStatus"}, "effect": {"status": 503}}]
    answer = http.post("/_sandbox/scenario", json=state)
    assert answer.status_code == 400, answer.text
    assert any("$.faults[0]" in p and "getStatus" in p for p in answer.json()["error"]["problems"])


@pytest.fixture
def receiver(http: httpx.Client) -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as running:
        http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": running.url})
        yield running


def test_callback_drop_and_duplicate(http: httpx.Client, receiver: CallbackReceiver) -> None:
    fault(http, target="callback", match={"deviceId": KR_AC}, effect={"drop": True}, count=1)
    request_id = call_async(http, "POST", "profile-async")
    owned = len(kr_devices(http))
    bodies = receiver.wait_for(owned - 1, lambda b: b.get("requestId") == request_id)

    # The dropped delivery is settled (failed) once the engine has dealt with it: only
    # then can the receiver's silence about it mean anything.
    def failed_for_the_ac() -> dict[str, Any] | None:
        params = {"deviceId": KR_AC, "status": "failed"}
        answer = http.get("/_sandbox/callbacks", params=params).json()
        return answer if answer["items"] else None

    dropped = wait_until(failed_for_the_ac, what="the dropped delivery recorded as failed")
    assert KR_AC not in {b["response"]["deviceId"] for b in receiver.bodies()}
    assert dropped["items"][0]["attempts"][0]["outcome"].startswith("dropped by fault rule")
    assert len(bodies) == owned - 1
    receiver.clear()
    fault(http, target="callback", match={"deviceId": KR_AC}, effect={"duplicate": True}, count=1)
    request_id = call_async(http, "POST", "profile-async")
    receiver.wait_for(owned + 1, lambda b: b.get("requestId") == request_id)
    ac = [b for b in receiver.bodies() if b["response"]["deviceId"] == KR_AC]
    assert len(ac) == 2 and ac[0] == ac[1]


def test_callback_reorder_and_delay(http: httpx.Client, receiver: CallbackReceiver) -> None:
    call_async(http, "POST", "event-async")
    receiver.wait_for(len(kr_devices(http)))
    receiver.clear()
    fault(
        http,
        target="callback",
        match={"deviceId": KR_AC, "kind": "DEVICE_STATUS"},
        effect={"reorder": True},
        count=1,
    )
    for value in (20, 21):
        http.patch(
            f"/_sandbox/devices/{KR_AC}/state", json={"temperature": {"currentTemperature": value}}
        )
    bodies = receiver.wait_for(2)
    seen = [b["response"]["report"]["temperature"]["currentTemperature"] for b in bodies]
    assert seen == [21, 20]
    receiver.clear()
    fault(http, target="callback", match={"deviceId": KR_AC}, effect={"delay": 400}, count=1)
    started = time.monotonic()
    http.patch(f"/_sandbox/devices/{KR_AC}/state", json={"temperature": {"currentTemperature": 22}})
    receiver.wait_for(1)
    assert time.monotonic() - started >= 0.4


def test_journal_records_calls_callers_and_violations(http: httpx.Client) -> None:
    http.delete("/_sandbox/journal")
    headers = bc_headers(http)
    assert http.get("/bc/v1/devices", headers=headers).status_code == 200
    bad = {k: v for k, v in headers.items() if k != "X-Use-Account"}
    assert http.get("/bc/v1/devices", headers=bad).status_code == 400
    assert http.post("/v2/devices/status-async", headers=thinq_headers()).status_code == 202
    journal = http.get("/_sandbox/journal").json()
    ops = [e["operationId"] for e in journal["items"]]
    assert ops[:3] == ["statusAsync", "getDevices", "getDevices"]  # newest first
    newest_bc = journal["items"][1]
    assert newest_bc["caller"] == "acme-energy" and newest_bc["response"]["status"] == 400
    assert newest_bc["violations"] == [
        {"code": "4101", "field": "X-Use-Account", "message": newest_bc["violations"][0]["message"]}
    ]
    assert "X-Use-Account" in newest_bc["violations"][0]["message"]
    assert journal["items"][2]["violations"] == []
    assert journal["items"][0]["caller"] == SERVICE
    only_bad = http.get("/_sandbox/journal", params={"violations": "true"}).json()
    assert only_bad["total"] == 1
    by_status = http.get("/_sandbox/journal", params={"status": 400, "operationId": "getDevices"})
    assert by_status.json()["total"] == 1
    page = http.get("/_sandbox/journal", params={"limit": 1, "offset": 1}).json()
    assert (
        page["total"] >= 3 and len(page["items"]) == 1 and page["items"][0]["id"] == newest_bc["id"]
    )


def test_journal_survives_reset_and_can_be_cleared(http: httpx.Client) -> None:
    http.delete("/_sandbox/journal")
    http.get("/bc/v1/devices", headers=bc_headers(http))
    http.post("/_sandbox/reset")
    assert http.get("/_sandbox/journal").json()["total"] >= 1
    assert http.delete("/_sandbox/journal").status_code == 204
    assert http.get("/_sandbox/journal").json()["total"] == 0


def test_journal_notes_the_fault_that_shaped_an_answer(http: httpx.Client) -> None:
    http.delete("/_sandbox/journal")
    headers = {**user_headers(http, KR_TOKEN, "KR"), "Prefer": "error=4202"}
    http.get("/bc/v1/devices", headers=headers)
    [entry] = [e for e in http.get("/_sandbox/journal").json()["items"] if e["fault"]]
    assert entry["fault"] == "Prefer: error=4202" and entry["response"]["code"] == "4202"
    assert entry["violations"] == []


def test_add_device(http: httpx.Client) -> None:
    item = {
        "deviceId": "extra-ac",
        "deviceType": "DEVICE_AIR_CONDITIONER",
        "owner": "KR2024000000001",
        "profile": "air_conditioner/basic.json",
    }
    answer = http.post("/_sandbox/devices", json=item)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"]["operation"]["airConOperationMode"]
    listed = http.get("/bc/v1/devices", headers=user_headers(http, KR_TOKEN, "KR")).json()
    assert "extra-ac" in {d["deviceId"] for d in listed["response"]}
    again = http.post("/_sandbox/devices", json=item)
    assert again.status_code == 400 and "exists already" in again.text
    bad = http.post("/_sandbox/devices", json={**item, "deviceId": "x2", "owner": "NOBODY"})
    assert bad.status_code == 400 and "$.owner" in bad.text
    inline = {
        **item,
        "deviceId": "x3",
        "profile": {
            "property": {
                "power": {
                    "on": {
                        "type": "boolean",
                        "mode": ["r", "w"],
                        "value": {"r": [True, False], "w": [True, False]},
                    }
                }
            }
        },
    }
    assert http.post("/_sandbox/devices", json=inline).status_code == 201
