"""ThinQ Connect push: LG's own MQTT client (``ThinQMQTTClient`` on awscrt) against the
real broker of the ``server`` fixture, over mutual TLS, receives every message type, and
only what its subscriptions ask for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contract_tests.thinq_mqtt import SandboxMqttClient, connected_client
from tests.doc_blocks import run_doc_block
from tests.support import (
    KR_AC,
    KR_FRIDGE,
    KR_PAT,
    KR_TOKEN,
    KR_USER,
    US_PAT,
    US_USER,
    RunningServer,
    user_headers,
)

KR = {"userNumber": KR_USER, "pat": KR_PAT, "countryCode": "KR"}
US = {"userNumber": US_USER, "pat": US_PAT, "countryCode": "US"}


@pytest.fixture
def kr_client(http: httpx.Client, server: RunningServer) -> Iterator[SandboxMqttClient]:
    client = connected_client(server.base_url, KR)
    try:
        yield client
    finally:
        client.stop()


def of(push_type: str, device_id: str, **fields: Any):
    def match(message: dict[str, Any]) -> bool:
        return (
            message.get("pushType") == push_type
            and message.get("deviceId") == device_id
            and all(message.get(k) == v for k, v in fields.items())
        )

    return match


def settled_deliveries(http: httpx.Client, client: SandboxMqttClient) -> list[dict[str, Any]]:
    """The journal's deliveries to the client's topic, once none is pending (the client
    may hear a message before the broker's PUBACK reaches the sandbox)."""
    topic_url = f"/app/clients/{client.client_id}/push"
    deadline = time.monotonic() + 5
    while True:
        journal = http.get("/_sandbox/callbacks", params={"limit": 100}).json()["items"]
        mine = [d for d in journal if d["url"].endswith(topic_url)]
        if all(d["status"] != "pending" for d in mine) or time.monotonic() > deadline:
            return mine
        time.sleep(0.05)


def test_every_message_type_reaches_the_sdk_client(
    http: httpx.Client, kr_client: SandboxMqttClient
) -> None:
    api = kr_client.api
    kr_client.call(api.async_post_event_subscribe, KR_AC)
    kr_client.call(api.async_post_push_subscribe, KR_FRIDGE)
    kr_client.call(api.async_post_push_devices_subscribe)
    assert kr_client.sdk_client.topic_subscription == f"app/clients/{kr_client.client_id}/push"

    # A device-side change (the control API) and a control through another API.
    reading = http.patch(
        f"/_sandbox/devices/{KR_AC}/state", json={"temperature": {"currentTemperature": 33}}
    )
    assert reading.status_code == 200, reading.text
    status = kr_client.wait_for(of("DEVICE_STATUS", KR_AC))
    assert status["report"] == {"temperature": {"currentTemperature": 33}}
    assert status["deviceType"] == "DEVICE_AIR_CONDITIONER"
    assert status["userNumber"] == KR_USER
    off = {"operation": {"airConOperationMode": "POWER_OFF"}}
    headers = user_headers(http, KR_TOKEN, "KR")
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=headers, json=off).status_code == 200
    assert kr_client.wait_for(of("DEVICE_STATUS", KR_AC))["report"] == off

    pushed = http.post(f"/_sandbox/devices/{KR_FRIDGE}/push", json={"code": "DOOR_IS_OPEN"})
    assert pushed.status_code == 200, pushed.text
    push = kr_client.wait_for(of("DEVICE_PUSH", KR_FRIDGE))
    assert push["pushCode"] == "DOOR_IS_OPEN"
    assert push["deviceType"] == "DEVICE_REFRIGERATOR"

    renamed = http.patch(f"/_sandbox/devices/{KR_AC}", json={"alias": "Bedroom AC"})
    assert renamed.status_code == 200, renamed.text
    assert kr_client.wait_for(of("DEVICE_ALIAS_CHANGED", KR_AC))["alias"] == "Bedroom AC"

    new = {
        "deviceId": "mqtt-new-ac",
        "deviceType": "DEVICE_AIR_CONDITIONER",
        "modelName": "RAC_056905_WW",
        "alias": "New AC",
        "owner": KR_USER,
        "profile": "air_conditioner/basic.json",
    }
    assert http.post("/_sandbox/devices", json=new).status_code == 201
    registered = kr_client.wait_for(of("DEVICE_REGISTERED", "mqtt-new-ac"))
    assert registered["deviceInfo"]["alias"] == "New AC"
    assert registered["deviceInfo"]["deviceType"] == "DEVICE_AIR_CONDITIONER"

    # Each was a delivery of the engine: journaled, to the client's topic, delivered.
    mqtt = settled_deliveries(http, kr_client)
    assert {d["kind"] for d in mqtt} == {
        "DEVICE_STATUS",
        "DEVICE_PUSH",
        "DEVICE_ALIAS_CHANGED",
        "DEVICE_REGISTERED",
    }
    assert all(d["url"].startswith("mqtts://127.") and d["status"] == "delivered" for d in mqtt)
    # And the dashboard's Callbacks page lists them like any delivery.
    page = http.get("/_dashboard/callbacks/rows")
    assert page.status_code == 200
    assert f"/app/clients/{kr_client.client_id}/push" in page.text
    assert "DEVICE_ALIAS_CHANGED" in page.text


def test_only_subscribed_clients_hear_of_a_device(
    http: httpx.Client, server: RunningServer, kr_client: SandboxMqttClient
) -> None:
    kr_client.call(kr_client.api.async_post_event_subscribe, KR_AC)
    unsubscribed = connected_client(server.base_url, KR)
    us = connected_client(server.base_url, US)
    try:
        answer = http.patch(
            f"/_sandbox/devices/{KR_AC}/state", json={"temperature": {"currentTemperature": 27}}
        )
        assert answer.status_code == 200
        kr_client.wait_for(of("DEVICE_STATUS", KR_AC))
        # The other two: the broker had the time to deliver anything they were sent.
        time.sleep(1.0)
        assert unsubscribed.messages.empty() and not unsubscribed.raw
        assert us.messages.empty() and not us.raw
        journal = http.get("/_sandbox/callbacks", params={"deviceId": KR_AC}).json()["items"]
        urls = {d["url"] for d in journal if d["url"].startswith("mqtts://")}
        assert len(urls) == 1, urls  # one delivery, to the subscribed client's topic only
        assert urls.pop().endswith(f"/app/clients/{kr_client.client_id}/push")
    finally:
        unsubscribed.stop()
        us.stop()


def test_push_messages_are_faultable_like_callbacks(
    http: httpx.Client, kr_client: SandboxMqttClient
) -> None:
    kr_client.call(kr_client.api.async_post_push_subscribe, KR_FRIDGE)
    drop = {
        "target": "callback",
        "match": {"kind": "DEVICE_PUSH"},
        "effect": {"drop": True},
        "count": 1,
    }
    assert http.post("/_sandbox/faults", json=drop).status_code in (200, 201)
    http.post(f"/_sandbox/devices/{KR_FRIDGE}/push", json={"code": "DOOR_IS_OPEN"})
    twice = {
        "target": "callback",
        "match": {"kind": "DEVICE_PUSH"},
        "effect": {"duplicate": True},
        "count": 1,
    }
    assert http.post("/_sandbox/faults", json=twice).status_code in (200, 201)
    http.post(f"/_sandbox/devices/{KR_FRIDGE}/push", json={"code": "FROZEN_IS_COMPLETE"})
    first = kr_client.wait_for(of("DEVICE_PUSH", KR_FRIDGE))
    second = kr_client.wait_for(of("DEVICE_PUSH", KR_FRIDGE))
    # The dropped one never came; the duplicated one came twice.
    assert first["pushCode"] == second["pushCode"] == "FROZEN_IS_COMPLETE"
    mine = [d for d in settled_deliveries(http, kr_client) if d["kind"] == "DEVICE_PUSH"]
    assert sorted(d["status"] for d in mine) == ["delivered", "delivered", "failed"]


def test_a_csr_that_is_not_one_is_refused_naming_the_field(
    http: httpx.Client, kr_client: SandboxMqttClient
) -> None:
    from thinqconnect import ThinQAPIException

    api = kr_client.api
    with pytest.raises(ThinQAPIException) as refused:
        kr_client.call(api.async_post_client_certificate, {"service-code": "SVC202", "csr": "MIIB"})
    assert "csr" in refused.value.message


def test_the_docs_say_where_the_broker_is(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block("docs/home-assistant.md", "channel", sandbox=server.base_url).check()
    assert '"running":true' in run.stdout
    assert '"mqttServer":"mqtts://127.' in run.stdout
    assert "-----BEGIN CERTIFICATE-----" in run.stdout


def test_what_is_sent_while_the_client_is_away_arrives_when_it_is_back(
    http: httpx.Client, kr_client: SandboxMqttClient
) -> None:
    """A persistent session (the SDK connects with clean_session false): the broker keeps
    a QoS 1 message for a client that is away and sends it when the client is back."""
    kr_client.call(kr_client.api.async_post_event_subscribe, KR_AC)
    connection = kr_client.sdk_client._mqtt_connection
    connection.disconnect().result(10)
    answer = http.patch(
        f"/_sandbox/devices/{KR_AC}/state", json={"airQualitySensor": {"humidity": 44}}
    )
    assert answer.status_code == 200, answer.text
    [delivery] = settled_deliveries(http, kr_client)
    assert delivery["status"] == "delivered"  # to the broker, which holds it
    assert kr_client.messages.empty()
    resumed = connection.connect().result(10)
    assert resumed["session_present"] is True
    message = kr_client.wait_for(of("DEVICE_STATUS", KR_AC))
    assert message["report"] == {"airQualitySensor": {"humidity": 44}}
