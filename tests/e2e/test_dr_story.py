"""End to end: an aggregator's whole DR lifecycle against a real `lgmock serve`.

Enrol a user with two air conditioners, group them, create an event, let one device opt
out, move the sandbox clock into and past the window, watch both devices through the
Device API and the callbacks, then download the event's data zip and read it.
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
import yaml

from contract_tests.receiver import CallbackReceiver, push_type
from lgspecs.data import default_scenario
from mockserver.wire import new_message_id
from tests.api.test_thinq_async import SERVICE, thinq_headers
from tests.support import KR_AC, KR_TOKEN, KR_USER, bc_token, user_headers

pytestmark = pytest.mark.e2e

PARTNER = "acme-energy"
BEDROOM_AC = "5a3c1f0e9b7d2c4a6e8f0b1d3c5e7a9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c"
DR = "/bc/v1/dr"
MINUTE = 60_000
COOLING = {
    "operation": {"airConOperationMode": "POWER_ON"},
    "airConJobMode": {"currentJobMode": "COOL"},
}


def story_scenario() -> dict[str, Any]:
    """The default scenario, with a second air conditioner for KR2024000000001 and both
    cooling a warm room."""
    document = yaml.safe_load(default_scenario().read_text())
    for device in document["devices"]:
        if device["deviceId"] == KR_AC:
            device["status"] = {
                **COOLING,
                "temperature": {"currentTemperature": 30, "targetTemperature": 22},
            }
    document["devices"].append(
        {
            "deviceId": BEDROOM_AC,
            "deviceType": "DEVICE_AIR_CONDITIONER",
            "modelName": "RAC_056905_WW",
            "alias": "Bedroom air conditioner",
            "owner": KR_USER,
            "homeId": "home-kr-1",
            "profile": "air_conditioner/basic.json",
            "status": {
                **COOLING,
                "temperature": {"currentTemperature": 29, "targetTemperature": 20},
            },
        }
    )
    return document


def ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def target_temperature(http: httpx.Client, device_id: str) -> int:
    headers = user_headers(http, KR_TOKEN, "KR")
    answer = http.get(f"/bc/v1/devices/{device_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]["temperature"]["targetTemperature"]


def target_reports(receiver: CallbackReceiver, device_id: str) -> list[Any]:
    """Target temperatures one device reported: ThinQ events and Business Connect pushes.

    (Current temperatures drift on their own while an air conditioner runs; only a
    signal or a user moves the target.)
    """
    found = []
    for body in receiver.bodies(lambda b: push_type(b) == "DEVICE_STATUS"):
        inner = body.get("response", body)
        temperature = (inner.get("report") or {}).get("temperature") or {}
        if inner.get("deviceId") == device_id and "targetTemperature" in temperature:
            found.append(temperature["targetTemperature"])
    return found


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Callbacks are asynchronous: wait for ``condition`` (not inside the receiver's lock)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the expected callbacks did not arrive"
        time.sleep(0.02)


def test_dr_story(http: httpx.Client) -> None:
    assert http.post("/_sandbox/scenario", json=story_scenario()).status_code == 200
    clock = http.post("/_sandbox/clock", json={"freeze": True}).json()
    now = int(datetime.fromisoformat(clock["now"]).timestamp() * 1000)
    with CallbackReceiver() as receiver:
        # Both ways a partner hears about devices: ThinQ events and Business Connect push.
        http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": receiver.url})
        http.patch(f"/_sandbox/partners/{PARTNER}", json={"callbackUrl": receiver.url})
        events = http.post(
            "/v2/devices/event-async",
            headers=thinq_headers(),
            json={"expire": {"unit": "HOUR", "timer": 24}},
        )
        assert events.status_code == 202, events.text
        for device_id in (KR_AC, BEDROOM_AC):
            push = http.post(f"/bc/v1/push/{device_id}", headers=user_headers(http, KR_TOKEN, "KR"))
            assert push.status_code == 200, push.text

        h = {
            "X-Api-Key": "acme-api-key-0001",
            "X-Api-Token": bc_token(http),
            "X-Message-Id": new_message_id(),
            "X-Country-Code": "KR",
        }
        # 1. a group, and the user enrolled in it
        group = {"groupId": "k-apt-1168011000", "groupName": "Apgujeong", "partnerId": PARTNER}
        ok(http.post(f"{DR}/groups", headers=h, json=group))
        enrol = {
            "userNo": KR_USER,
            "accessToken": "emp-access-token",
            "refreshToken": "emp-refresh-token",
            "groupId": group["groupId"],
            "partner": {"partnerId": PARTNER, "authCodeExt": "oauth-code-1"},
        }
        ok(http.post(f"{DR}/users", headers=h, json=enrol))
        devices = {
            d["deviceId"]: d for d in ok(http.get(f"{DR}/users/{KR_USER}/devices", headers=h))
        }
        assert devices[KR_AC]["groupId"] == devices[BEDROOM_AC]["groupId"] == group["groupId"]

        # 2. an event over the group: air conditioners kept within 26..28 °C, then restored
        event = {
            "eventId": "2026-peak-01",
            "eventName": "Evening peak",
            "partnerId": PARTNER,
            "startTs": now + 10 * MINUTE,
            "endTs": now + 70 * MINUTE,
            "targets": [{"targetType": "GROUP", "targetIds": [group["groupId"]]}],
            "signals": [
                {
                    "signalId": "2026-peak-01-signal-01",
                    "deviceType": "DEVICE_AIR_CONDITIONER",
                    "modelNames": [],
                    "signalType": "CONTROL_RESTORE",
                    "signalData": {"temperature": {"min": 26, "max": 28, "unit": "C"}},
                    "controlType": "Temperature",
                    "restoreType": "Temperature",
                }
            ],
        }
        assert ok(http.post(f"{DR}/events", headers=h, json=event)) == {"eventId": event["eventId"]}

        # 3. the bedroom air conditioner opts out
        opt_out = {"type": "DEVICE", "id": BEDROOM_AC, "opt": "OUT"}
        assert (
            ok(http.post(f"{DR}/events/{event['eventId']}/targets", headers=h, json=opt_out))
            == opt_out
        )

        # 4. into the window: the living room AC is raised to 26, the bedroom AC untouched
        assert http.post("/_sandbox/clock", json={"advance": 15 * 60}).status_code == 200
        assert target_temperature(http, KR_AC) == 26
        assert target_temperature(http, BEDROOM_AC) == 20
        listed = {
            d["deviceId"]: d["opt"]
            for d in ok(http.get(f"{DR}/users/{KR_USER}/devices", headers=h))
        }
        assert listed[KR_AC] == "IN" and listed[BEDROOM_AC] == "OUT"
        eventually(lambda: 26 in target_reports(receiver, KR_AC))
        assert target_reports(receiver, BEDROOM_AC) == []

        # 5. past the window: CONTROL_RESTORE put the living room AC back
        assert http.post("/_sandbox/clock", json={"advance": 60 * 60}).status_code == 200
        assert target_temperature(http, KR_AC) == 22
        assert target_temperature(http, BEDROOM_AC) == 20
        one = ok(http.get(f"{DR}/users/{KR_USER}/devices/{KR_AC}", headers=h))
        assert one["opt"] == "OUT"
        eventually(lambda: target_reports(receiver, KR_AC)[-1:] == [22])
        assert target_reports(receiver, BEDROOM_AC) == []

    # 6. the event's data zip: created, ready a second later, downloaded, read
    made = ok(http.post(f"{DR}/data-zip/files", headers=h, json={"eventId": event["eventId"]}))
    assert http.post("/_sandbox/clock", json={"advance": 2}).status_code == 200
    url = ok(http.get(f"{DR}/data-zip/files/{made['fileName']}", headers=h))["presignedUrl"]
    download = httpx.get(url)
    assert download.status_code == 200, download.text
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    summary = json.loads(archive.read("event.json"))
    assert summary["eventId"] == event["eventId"] and summary["phase"] == "finished"
    assert summary["startTs"] == event["startTs"] and summary["endTs"] == event["endTs"]
    assert {KR_AC, BEDROOM_AC} <= {d["deviceId"] for d in summary["devices"]}

    living = list(csv.DictReader(io.StringIO(archive.read(f"devices/{KR_AC}.csv").decode())))
    bedroom = list(csv.DictReader(io.StringIO(archive.read(f"devices/{BEDROOM_AC}.csv").decode())))
    target = "temperature.targetTemperature"
    assert living[0]["reason"] == "start" and int(living[0]["epochMs"]) == event["startTs"]
    assert living[-1]["reason"] == "end" and int(living[-1]["epochMs"]) == event["endTs"]
    during, after = living[:-1], living[-1]
    assert {r["opt"] for r in during} == {"IN"} and {r["participating"] for r in during} == {"true"}
    assert {r[target] for r in during} == {"26"} and after[target] == "22"
    assert after["participating"] == "false"
    assert len([r for r in living if r["reason"] == "interval"]) == 11  # every 5 minutes
    # the modelled load (50 W + 120 W per degree of cooling) falls with the raised set point
    current = "temperature.currentTemperature"
    start = living[0]
    assert int(start["estimatedPowerW"]) == 50 + 120 * max(0, int(start[current]) - 26)
    assert int(start["estimatedPowerW"]) < 50 + 120 * max(0, int(start[current]) - 22)
    assert {r["opt"] for r in bedroom} == {"OUT"} and {r[target] for r in bedroom} == {"20"}
    assert {r["participating"] for r in bedroom} == {"false"}
