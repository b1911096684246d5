"""A generated fleet on a real `lgmock serve`: reset, state export and fan-out, over HTTP.

Each of the fleet's two users owns 1,200 devices, more than a ThinQ operation handles
before its 202 (handlers/thinq.py INLINE_DEVICES), so the fan-out in parts is exercised.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from mockserver import generator
from mockserver.wire import new_message_id
from tests.api.test_thinq_async import thinq_headers
from tests.doc_blocks import run_doc_block
from tests.support import RunningServer, lgmock_command, start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEVICES = 2_400


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, receiver: CallbackReceiver) -> dict:
    document = generator.generate(DEVICES, users=2, seed=11)
    # A frozen clock, so that a state read twice is the same text.
    document["clock"] = {"now": "2026-03-02T09:00:00+00:00", "frozen": True}
    for service in document["services"]:
        service["callbackUrl"] = f"{receiver.url}/thinq"
    for partner in document["partners"]:
        partner["callbackUrl"] = f"{receiver.url}/lg"
    return document


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fleet: dict) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("fleet")
    path = folder / "fleet.yaml"
    path.write_text("".join(generator.write(fleet)), encoding="utf-8")
    running = start_server(folder, "--scenario", str(path), wait=120)
    yield running
    stop_server(running)
    assert "Traceback" not in running.log(), running.log()


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        assert client.post("/_sandbox/reset").status_code == 200
        yield client


def partner_headers(http: httpx.Client, fleet: dict, **extra: str) -> dict[str, str]:
    partner = fleet["partners"][0]
    token = http.post(
        "/bc/v1/token",
        headers={"X-Api-Key": partner["apiKey"], "X-Api-Secret": partner["apiSecret"]},
    ).json()["access_token"]
    return {
        "X-Api-Key": partner["apiKey"],
        "X-Api-Token": token,
        "X-Message-Id": new_message_id(),
        **extra,
    }


def state(http: httpx.Client) -> str:
    answer = http.get("/_sandbox/state")
    assert answer.status_code == 200, answer.text
    return json.dumps(answer.json(), sort_keys=True)


def test_reset_restores_a_device_a_dr_entity_a_subscription_and_the_clock(
    http: httpx.Client, fleet: dict
) -> None:
    before = state(http)
    ac = fleet["devices"][0]["deviceId"]
    headers = partner_headers(http, fleet, **{"X-Use-Account": "REGISTERED"})
    change = {"temperature": {"targetTemperature": 18}}
    assert http.patch(f"/_sandbox/devices/{ac}/state", json=change).status_code == 200
    assert http.patch(f"/_sandbox/devices/{ac}", json={"online": False}).status_code == 200
    assert http.post(f"/bc/v1/push/{ac}", headers=headers).status_code == 200
    group = {"groupId": "fleet-extra-group", "partnerId": fleet["partners"][0]["partnerId"]}
    dr = partner_headers(http, fleet, **{"X-Country-Code": "KR"})
    assert http.post("/bc/v1/dr/groups", headers=dr, json=group).status_code == 200
    assert http.post("/_sandbox/clock", json={"advance": 7200}).status_code == 200
    changed = json.loads(state(http))
    assert changed != json.loads(before)
    device = next(d for d in changed["devices"] if d["deviceId"] == ac)
    assert device["online"] is False and device["status"]["temperature"]["targetTemperature"] == 18

    assert http.post("/_sandbox/reset").status_code == 200
    assert state(http) == before


def test_export_load_export_is_identical(http: httpx.Client, fleet: dict) -> None:
    washer = fleet["devices"][1]["deviceId"]
    change = {"runState": {"currentState": "RUNNING"}}
    change = [{"location": {"locationName": "MAIN"}, **change}]
    assert http.patch(f"/_sandbox/devices/{washer}/state", json=change).status_code == 200
    exported = http.get("/_sandbox/state").json()
    assert len(exported["devices"]) == DEVICES
    loaded = http.post("/_sandbox/scenario", json=exported)
    assert loaded.status_code == 200, loaded.text
    again = http.get("/_sandbox/state").json()
    assert json.dumps(again, sort_keys=True) == json.dumps(exported, sort_keys=True)


def test_listing_names_every_device_of_the_partner(http: httpx.Client, fleet: dict) -> None:
    headers = partner_headers(http, fleet, **{"X-Use-Account": "REGISTERED"})
    answer = http.get("/bc/v1/devices", headers=headers)
    assert answer.status_code == 200, answer.text
    listed = [item["deviceId"] for item in answer.json()["response"]]
    assert listed == [d["deviceId"] for d in fleet["devices"]]


def test_a_fan_out_bigger_than_one_part_delivers_one_callback_per_device(
    http: httpx.Client, fleet: dict, receiver: CallbackReceiver
) -> None:
    receiver.clear()
    service, user = fleet["services"][0], fleet["users"][0]
    owned = [d["deviceId"] for d in fleet["devices"] if d["owner"] == user["userNumber"]]
    assert len(owned) > 1_000  # more than the 202 waits for
    headers = thinq_headers(
        user["accessToken"],
        user["countryCode"],
        service=service["serviceId"],
        service_key=service["serviceKey"],
    )
    answer = http.post("/v2/devices/status-async", headers=headers)
    assert answer.status_code == 202, answer.text
    request_id = answer.json()["requestId"]

    def ours(body: Any) -> bool:
        return isinstance(body, dict) and body.get("requestId") == request_id

    received = receiver.wait_for(len(owned), predicate=ours, timeout=60)
    devices = [body["response"]["deviceId"] for body in received]
    assert sorted(devices) == sorted(owned)


def test_generate_writes_the_same_file_for_the_same_seed(tmp_path: Path) -> None:
    command = [*lgmock_command(), "scenario", "generate", "--devices", "50", "--users", "3"]
    first = subprocess.run([*command, "--seed", "9"], capture_output=True, text=True, check=True)
    again = subprocess.run([*command, "--seed", "9"], capture_output=True, text=True, check=True)
    assert first.stdout == again.stdout and json.loads(first.stdout)["devices"]
    path = tmp_path / "fleet.yaml"
    path.write_text(first.stdout, encoding="utf-8")
    checked = subprocess.run(
        [*lgmock_command(), "scenario", "check", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0 and "ok (50 devices)" in checked.stdout, checked.stderr


def test_the_generate_block_of_the_scale_page(server: RunningServer) -> None:
    run = run_doc_block("docs/scale.md", "generate-fleet", sandbox=server.base_url).check()
    assert "fleet.yaml: ok (10000 devices)" in run.stdout
