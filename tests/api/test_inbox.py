"""The sandbox's own inbox: with no receiver registered, callbacks are delivered there
(GET /_sandbox/inbox), bodies included, and never to a port of the host."""

from __future__ import annotations

import time
from typing import Any

import httpx

from contract_tests.receiver import CallbackReceiver
from tests.api.test_thinq_async import SERVICE, call_async, kr_devices, other_job_mode
from tests.support import KR_AC, KR_TOKEN, user_headers

SERVICE_INBOX = f"/_sandbox/inbox/services/{SERVICE}"
PARTNER_INBOX = "/_sandbox/inbox/partners/acme-energy"


def inbox(http: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = http.get("/_sandbox/inbox", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for_inbox(http: httpx.Client, count: int, timeout: float = 10, **params: Any) -> list:
    """The inbox's items matching ``params`` once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        items = inbox(http, **params)["items"]
        if len(items) >= count or time.monotonic() > deadline:
            assert len(items) == count, items
            return items
        time.sleep(0.05)


def test_the_default_scenario_delivers_thinq_callbacks_to_the_inbox(http: httpx.Client) -> None:
    state = http.get("/_sandbox/state").json()
    assert [s.get("callbackUrl") for s in state["services"]] == [None]
    assert {p.get("callbackUrl") for p in state["partners"]} == {None}
    request_id = call_async(http, "POST", "status-async")
    devices = kr_devices(http)
    items = wait_for_inbox(http, len(devices), requestId=request_id)
    assert {i["deviceId"] for i in items} == set(devices)
    for item in items:
        assert item["serviceId"] == SERVICE and item["partnerId"] is None
        assert item["kind"] == "DEVICE_STATUS" and item["receivedAt"]
        body = item["body"]  # the callback a receiver would have got, whole
        assert body["requestId"] == request_id and body["responseCode"] == "0000"
        assert body["response"]["deviceId"] == item["deviceId"]
        assert body["response"]["serviceId"] == SERVICE and "result" in body["response"]
    # The delivery journal shows them delivered to the inbox address, one attempt each.
    journal = http.get("/_sandbox/callbacks", params={"requestId": request_id}).json()["items"]
    assert {d["id"] for d in journal} == {i["deliveryId"] for i in items}
    for delivery in journal:
        assert delivery["url"] == SERVICE_INBOX and delivery["status"] == "delivered"
        assert [a["outcome"] for a in delivery["attempts"]] == ["ok"]
        assert delivery["body"] == next(
            i["body"] for i in items if i["deliveryId"] == delivery["id"]
        )


def test_a_service_whose_receiver_is_removed_is_served_and_delivers_to_the_inbox(
    http: httpx.Client,
) -> None:
    with CallbackReceiver() as receiver:
        http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": receiver.url})
        first = call_async(http, "POST", "profile-async")
        receiver.wait_for(len(kr_devices(http)), lambda b: b.get("requestId") == first)
        assert inbox(http, requestId=first)["total"] == 0  # the receiver got them, not the inbox
        answer = http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": None})
        assert answer.status_code == 200 and answer.json()["callbackUrl"] is None
        second = call_async(http, "POST", "profile-async")  # 202, not 400 1203
        items = wait_for_inbox(http, len(kr_devices(http)), requestId=second)
        assert {i["body"]["response"]["pushType"] for i in items} == {"DEVICE_PROFILE"}
        assert all(r.body.get("requestId") != second for r in receiver.received)


def test_business_connect_push_messages_go_to_the_partners_inbox(http: httpx.Client) -> None:
    bc = user_headers(http, KR_TOKEN, "KR")
    assert http.post(f"/bc/v1/push/{KR_AC}", headers=bc).status_code == 200
    command = {"airConJobMode": {"currentJobMode": other_job_mode(http, bc)}}
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=bc, json=command).status_code == 200
    [item] = wait_for_inbox(http, 1, partnerId="acme-energy")
    assert item["serviceId"] is None and item["deviceId"] == KR_AC
    assert item["body"]["pushType"] == "DEVICE_STATUS" and item["body"]["report"] == command
    [delivery] = http.get("/_sandbox/callbacks", params={"deviceId": KR_AC}).json()["items"]
    assert delivery["url"] == PARTNER_INBOX and delivery["status"] == "delivered"
    # Filters: another partner's inbox, another kind, another device hold nothing of it.
    assert inbox(http, partnerId="viewer-co")["total"] == 0
    assert inbox(http, serviceId=SERVICE)["total"] == 0
    assert inbox(http, kind="DEVICE_PUSH")["total"] == 0
    assert inbox(http, deviceId=KR_AC, kind="DEVICE_STATUS")["total"] == 1


def test_the_inbox_pages_newest_first_and_a_reset_empties_it(http: httpx.Client) -> None:
    first = call_async(http, "POST", "status-async")
    second = call_async(http, "POST", "status-async")
    owned = len(kr_devices(http))
    wait_for_inbox(http, owned, requestId=second)
    everything = inbox(http, limit=1000)
    assert everything["total"] == 2 * owned
    assert [i["body"]["requestId"] for i in everything["items"]] == [second] * owned + [
        first
    ] * owned
    page = inbox(http, limit=2, offset=owned - 1)
    assert [i["body"]["requestId"] for i in page["items"]] == [second, first]
    assert http.post("/_sandbox/reset").status_code == 200
    assert inbox(http) == {"total": 0, "items": []}


def test_callback_fault_rules_apply_to_the_inbox(http: httpx.Client) -> None:
    rule = {"target": "callback", "match": {"deviceId": KR_AC}, "effect": {"drop": True}}
    answer = http.post("/_sandbox/faults", json=rule)
    assert answer.status_code == 201, answer.text
    request_id = call_async(http, "POST", "status-async")
    owned = len(kr_devices(http))
    items = wait_for_inbox(http, owned - 1, requestId=request_id)
    assert KR_AC not in {i["deviceId"] for i in items}
    [dropped] = http.get(
        "/_sandbox/callbacks", params={"requestId": request_id, "deviceId": KR_AC}
    ).json()["items"]
    assert dropped["status"] == "failed" and dropped["fault"] == answer.json()["id"]


def test_inbox_queries_are_checked_against_the_spec(http: httpx.Client) -> None:
    for params in ({"limit": 0}, {"offset": -1}, {"limit": "many"}):
        answer = http.get("/_sandbox/inbox", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert next(iter(params)) in answer.text
