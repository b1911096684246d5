"""The delivery engine over real HTTP: retries, order, journal, redelivery, schemas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver, push_type
from contract_tests.schemas import business_connect_problems, thinq_problems
from mockserver.backends.thinq import SEED_PUSH_TYPES
from tests.api.test_thinq_async import (
    SERVICE,
    accepted,
    call_async,
    kr_devices,
    of_request,
    other_job_mode,
    thinq_headers,
)
from tests.support import KR_AC, KR_FRIDGE, KR_TOKEN, RunningServer, user_headers, wait_until


def load_with_delivery(http: httpx.Client, url: str, **delivery: Any) -> None:
    state = http.get("/_sandbox/state").json()
    state["delivery"] = {**state["delivery"], **delivery}
    for service in state["services"]:
        service["callbackUrl"] = url
    assert http.post("/_sandbox/scenario", json=state).status_code == 200


@pytest.fixture
def receiver(http: httpx.Client) -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as running:
        http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": running.url})
        yield running


def journal(http: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    return http.get("/_sandbox/callbacks", params={**filters, "limit": 1000}).json()["items"]


@pytest.mark.slow
def test_receiver_down_then_up_loses_nothing(http: httpx.Client) -> None:
    down = CallbackReceiver()  # a reserved port nobody listens on yet
    load_with_delivery(http, down.url, attempts=20, backoffInitial=0.05, backoffMax=0.3)
    headers = thinq_headers()
    request_id = accepted(http.post("/v2/devices/status-async", headers=headers), headers)

    def all_tried() -> list[dict[str, Any]]:
        entries = journal(http, requestId=request_id)
        return entries if entries and all(e["attempts"] for e in entries) else []

    entries = wait_until(all_tried, what="every delivery tried at least once")
    assert all(e["status"] == "pending" for e in entries)
    assert {a["outcome"] for e in entries for a in e["attempts"]} == {"connect error"}
    with down:
        bodies = down.wait_for(len(kr_devices(http)), of_request(request_id))
    assert len({b["response"]["deviceId"] for b in bodies}) == len(kr_devices(http))
    assert all(e["status"] == "delivered" for e in journal(http, requestId=request_id))


@pytest.mark.slow
def test_receiver_answering_500_then_200(http: httpx.Client, receiver: CallbackReceiver) -> None:
    load_with_delivery(http, receiver.url, backoffInitial=0.05)
    receiver.behaviour.statuses = [500, 503]
    headers = thinq_headers()
    request_id = accepted(http.post("/v2/devices/profile-async", headers=headers), headers)
    receiver.wait_for(len(kr_devices(http)), lambda b: b.get("requestId") == request_id)
    deadline = time.monotonic() + 5
    while any(e["status"] != "delivered" for e in journal(http, requestId=request_id)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    outcomes = [a["outcome"] for e in journal(http, requestId=request_id) for a in e["attempts"]]
    assert outcomes.count("http 500") == 1 and outcomes.count("http 503") == 1
    assert all(a["latencyMs"] >= 0 for e in journal(http) for a in e["attempts"])


def test_slow_receiver_never_delays_the_202(http: httpx.Client, receiver: CallbackReceiver) -> None:
    receiver.behaviour.delay = 1.0
    headers = thinq_headers()
    started = time.monotonic()
    request_id = accepted(http.post("/v2/devices/status-async", headers=headers), headers)
    assert time.monotonic() - started < 0.5
    receiver.wait_for(len(kr_devices(http)), of_request(request_id), timeout=15)


@pytest.mark.slow
def test_read_timeout_is_retried(http: httpx.Client, receiver: CallbackReceiver) -> None:
    load_with_delivery(http, receiver.url, readTimeout=0.2, backoffInitial=0.05, attempts=10)
    receiver.behaviour.delay = 0.5
    headers = thinq_headers()
    request_id = accepted(http.post("/v2/devices/profile-async", headers=headers), headers)
    wait_until(
        lambda: any(
            a["outcome"] == "timeout"
            for e in journal(http, requestId=request_id)
            for a in e["attempts"]
        ),
        what="an attempt that timed out",
    )
    receiver.behaviour.delay = 0
    receiver.wait_for(len(kr_devices(http)), of_request(request_id))
    outcomes = {a["outcome"] for e in journal(http, requestId=request_id) for a in e["attempts"]}
    assert "timeout" in outcomes


@pytest.mark.slow
def test_given_up_delivery_can_be_redelivered(http: httpx.Client) -> None:
    down = CallbackReceiver()
    load_with_delivery(http, down.url, attempts=2, backoffInitial=0.01)
    headers = thinq_headers()
    request_id = accepted(http.post("/v2/devices/profile-async", headers=headers), headers)
    deadline = time.monotonic() + 5
    while len(journal(http, requestId=request_id, status="failed")) < len(kr_devices(http)):
        assert time.monotonic() < deadline, journal(http, requestId=request_id)
        time.sleep(0.05)
    failed = journal(http, requestId=request_id, status="failed")[0]
    assert len(failed["attempts"]) == 2
    with down:
        again = http.post(f"/_sandbox/callbacks/{failed['id']}/redeliver")
        assert again.status_code == 200 and again.json()["status"] == "pending"
        [body] = down.wait_for(1)
    assert body == failed["body"]
    missing = http.post("/_sandbox/callbacks/cb-999999/redeliver")
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"]["code"] == "DELIVERY_NOT_FOUND"
    assert "cb-999999" in missing.json()["error"]["message"]


def test_messages_of_one_device_arrive_in_order(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    call_async(http, "POST", "event-async")
    receiver.wait_for(len(kr_devices(http)))
    receiver.clear()
    temperatures = list(range(18, 30))
    for value in temperatures:
        answer = http.patch(
            f"/_sandbox/devices/{KR_AC}/state", json={"temperature": {"currentTemperature": value}}
        )
        assert answer.status_code == 200, answer.text
    bodies = receiver.wait_for(len(temperatures))
    seen = [b["response"]["report"]["temperature"]["currentTemperature"] for b in bodies]
    assert seen == temperatures


def test_every_kind_of_message_validates_against_its_spec(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    bc = user_headers(http, KR_TOKEN, "KR")
    with CallbackReceiver() as partner:
        http.patch("/_sandbox/partners/acme-energy", json={"callbackUrl": partner.url})
        assert http.post(f"/bc/v1/push/{KR_AC}", headers=bc).status_code == 200
        assert http.post(f"/bc/v1/push/{KR_FRIDGE}", headers=bc).status_code == 200
        http.patch(f"/_sandbox/devices/{KR_AC}", json={"online": False})
        for method, path, body in [
            ("POST", "profile-async", None),
            ("POST", "status-async", None),  # includes an offline failure
            ("POST", "event-async", {"expire": {"timer": 3}}),
            ("POST", "push-async", None),
            ("POST", "push-async", None),  # 1207 failures
            ("DELETE", "push-async", None),
            ("DELETE", "event-async", None),
            ("DELETE", "event-async", None),  # 1204 failures
        ]:
            if path == "event-async" and method == "POST":
                http.patch(f"/_sandbox/devices/{KR_AC}", json={"online": True})
            answer = http.request(method, f"/v2/devices/{path}", headers=thinq_headers(), json=body)
            assert answer.status_code == 202, answer.text
            if path == "event-async" and method == "POST":
                command = {"airConJobMode": {"currentJobMode": other_job_mode(http, bc)}}
                http.post(f"/bc/v1/devices/{KR_AC}", headers=bc, json=command)
            if path == "push-async" and method == "POST":
                code = http.get(f"/bc/v1/devices/profile/{KR_FRIDGE}", headers=bc).json()
                http.post(
                    f"/_sandbox/devices/{KR_FRIDGE}/push",
                    json={"code": code["response"]["notification"]["push"][0]},
                )
        control = {"deviceType": "DEVICE_AIR_CONDITIONER", "command": {"nope": {"x": 1}}}
        http.post("/v2/devices/control-async", headers=thinq_headers(), json=control)
        deadline = time.monotonic() + 10
        while journal(http, status="pending"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        thinq_bodies = receiver.bodies()
        partner_bodies = partner.bodies()
    kinds = {push_type(b) for b in thinq_bodies}
    assert kinds >= {*SEED_PUSH_TYPES, "DEVICE_PUSH"}
    codes = {b["responseCode"] for b in thinq_bodies}
    assert {"0000", "1222", "1207", "1204", "2207"} <= codes
    for body in thinq_bodies:
        assert thinq_problems(body) == [], body
    assert {b["pushType"] for b in partner_bodies} == {"DEVICE_STATUS", "DEVICE_PUSH"}
    for body in partner_bodies:
        assert business_connect_problems(body) == [], body


def test_schema_check_catches_a_broken_callback() -> None:
    broken = {"messageId": "m", "requestId": "r", "response": {"pushType": "DEVICE_STATUS"}}
    assert thinq_problems(broken)


def test_user_push_subscribed_spelling_is_configurable(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    state = http.get("/_sandbox/state").json()
    state["thinqAsync"]["pushSubscribedType"] = "USER_PUSH_SUBSCRIBED"
    state["services"][0]["callbackUrl"] = receiver.url
    assert http.post("/_sandbox/scenario", json=state).status_code == 200
    request_id = call_async(http, "POST", "push-async")
    bodies = receiver.wait_for(len(kr_devices(http)), of_request(request_id))
    assert {push_type(b) for b in bodies} == {"USER_PUSH_SUBSCRIBED"}
    assert all(thinq_problems(b) == [] for b in bodies)


@pytest.mark.slow
def test_resets_during_backoff_send_each_later_delivery_once_in_order(
    http: httpx.Client, server: RunningServer
) -> None:
    """Resets while deliveries wait for their retry: none of them crosses a reset, and
    the deliveries after the last one are delivered once each, in order per device."""
    log_start = len(server.log())
    with CallbackReceiver() as receiver:
        receiver.behaviour.statuses = [503] * 1_000_000  # refuses until told otherwise
        load_with_delivery(http, receiver.url, attempts=100, backoffInitial=0.1, backoffMax=0.3)
        devices = kr_devices(http)
        before: list[str] = []
        for _ in range(8):
            before.append(call_async(http, "POST", "status-async"))
            time.sleep(0.25)  # attempted, refused: each lane waits for its retry timer
            assert http.post("/_sandbox/reset").status_code == 200
        # At once, while the old lanes' retry timers are due: the new lanes (same
        # receiver, same devices) wait in backoff beside them, then the receiver accepts.
        after = [call_async(http, "POST", "status-async") for _ in range(3)]
        time.sleep(0.8)
        receiver.behaviour.statuses.clear()
        accepting = time.monotonic()
        deadline = accepting + 10
        while any(e["status"] != "delivered" for e in journal(http)):
            assert time.monotonic() < deadline, journal(http)
            time.sleep(0.05)
        time.sleep(0.6)  # longer than any retry timer: a duplicate would arrive by now
        answered = list(zip(receiver.received, receiver.answered, strict=True))
    delivered = [r.body for r, status in answered if status == 200]
    assert not [b for b in delivered if b["requestId"] in before]  # nothing crossed a reset
    arrived: dict[str, list[str]] = {}
    for body in delivered:
        arrived.setdefault(body["response"]["deviceId"], []).append(body["requestId"])
    assert arrived == {device_id: after for device_id in devices}  # once each, in order
    entries = journal(http)
    assert sorted(e["requestId"] for e in entries) == sorted(after * len(devices))
    log = server.log()[log_start:]
    assert "Traceback" not in log and "IndexError" not in log, log
