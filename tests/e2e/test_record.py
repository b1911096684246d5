"""`lgmock record` between a client and a real upstream: drift found, a scenario learned.

The upstream is a second `lgmock serve` with a generated fleet (another seed than the
default scenario), the proxy is a real `lgmock record` process, the callbacks reach a
real receiver through the proxy's relay, and the recorded scenario is served by a
fresh `lgmock serve`, which must answer what the upstream answered.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.contracts import new_message_id
from contract_tests.receiver import CallbackReceiver
from tests.contract.recording import (
    Client,
    rewriting_relay,
    scenario_of,
    start_recording,
    stop_leftover_recorders,
)
from tests.contract.support import serving
from tests.doc_blocks import run_doc_block
from tests.support import (
    PARTNER_KEY,
    PARTNER_SECRET,
    RunningServer,
    free_port,
    lgmock_command,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(autouse=True)
def no_recorder_left() -> Iterator[None]:
    yield
    stop_leftover_recorders()


KR_PAT = "thinqpat_kr2024000000001_sandbox_pat_0001"  # the default scenario's
TYPES = "air_conditioner,washer,refrigerator,air_purifier"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict]]:
    folder = tmp_path_factory.mktemp("upstream")
    fleet = folder / "fleet.json"
    generated = subprocess.run(
        [*lgmock_command(), "scenario", "generate", "--devices", "8", "--users", "2"]
        + ["--types", TYPES, "--seed", "2027"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    fleet.write_text(generated.stdout, encoding="utf-8")
    running = start_server(folder, "--scenario", str(fleet))
    yield running, json.loads(generated.stdout)
    stop_server(running)


def secrets_of(fleet: dict[str, Any]) -> list[str]:
    found = [p[k] for p in fleet["partners"] for k in ("apiKey", "apiSecret")]
    found += [u["accessToken"] for u in fleet["users"]]
    found += [s["serviceKey"] for s in fleet["services"]]
    return found


def observe(client: Client, users: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client reads: the device list, each device's profile and status."""
    listed = client.bc("GET", "/devices")
    assert listed.status_code == 200, listed.text
    devices = listed.json()["response"]
    seen: dict[str, Any] = {"devices": devices, "profiles": {}, "statuses": {}, "users": {}}
    for item in devices:
        device_id = item["deviceId"]
        profile = client.bc("GET", f"/devices/profile/{device_id}")
        status = client.bc("GET", f"/devices/{device_id}")
        assert profile.status_code == status.status_code == 200, (profile.text, status.text)
        seen["profiles"][device_id] = profile.json()["response"]
        seen["statuses"][device_id] = status.json()["response"]
    for user in users:
        own = client.bc("GET", "/devices", user=user)
        number = client.bc("GET", "/users", user=user)
        assert own.status_code == number.status_code == 200, (own.text, number.text)
        seen["users"][number.json()["response"]["userNumber"]] = sorted(
            d["deviceId"] for d in own.json()["response"]
        )
    return seen


def test_a_client_run_through_the_proxy_records_a_scenario_that_answers_the_same(
    upstream: tuple[RunningServer, dict], tmp_path: Path
) -> None:
    server, fleet = upstream
    with CallbackReceiver() as receiver:
        proxy = start_recording(
            tmp_path, server.base_url, "--callbacks-via", f"{receiver.url}/thinq"
        )
        client = Client(proxy.base_url, fleet["partners"][0], fleet["services"][0])
        try:
            users = fleet["users"]
            # A control first (through the proxy), so the statuses read after it hold it.
            listed = client.bc("GET", "/devices").json()["response"]
            ac = next(
                d for d in listed if d["deviceInfo"]["deviceType"] == "DEVICE_AIR_CONDITIONER"
            )
            control = client.bc(
                "POST",
                f"/devices/{ac['deviceId']}",
                json={"temperature": {"targetTemperature": 25}},
            )
            assert control.status_code == 200, control.text
            # The ThinQ asynchronous API: a 202, then one callback per device of the user,
            # received by the proxy, checked, and relayed to the client's receiver.
            owner = users[0]
            accepted = client.thinq("POST", "status-async", owner)
            assert accepted.status_code == 202, accepted.text
            request_id = accepted.json()["requestId"]
            mine = [d for d in fleet["devices"] if d["owner"] == owner["userNumber"]]
            relayed = receiver.wait_for(
                len(mine),
                lambda b: isinstance(b, dict) and b.get("requestId") == request_id,
                timeout=20,
            )
            assert {b["response"]["deviceId"] for b in relayed} == {d["deviceId"] for d in mine}
            # Profiles through ThinQ too, and an event subscription (learned from callbacks).
            for call in ("profile-async", "event-async"):
                accepted = client.thinq("POST", call, owner)
                assert accepted.status_code == 202, accepted.text
                request_id = accepted.json()["requestId"]
                receiver.wait_for(
                    len(mine),
                    lambda b, r=request_id: isinstance(b, dict) and b.get("requestId") == r,
                    timeout=20,
                )
            # A push subscription and a DR group of the partner, which names its id.
            assert client.bc("POST", f"/push/{ac['deviceId']}").status_code == 200
            assert client.bc("GET", "/push").status_code == 200
            partner_id = fleet["partners"][0]["partnerId"]
            dr = {"X-Country-Code": "KR", "Content-Type": "application/json"}
            group = {"groupId": "recorded-group", "groupName": "Recorded", "partnerId": partner_id}
            assert client.bc("POST", "/dr/groups", headers=dr, json=group).status_code == 200
            groups = client.bc("GET", f"/dr/partners/{partner_id}/groups", headers=dr)
            assert groups.status_code == 200, groups.text
            before = observe(client, users)
        finally:
            client.close()
        assert proxy.stop() == 0, proxy.log()

    log = proxy.log()
    drift = proxy.drift_document()
    assert drift["drift"] == 0, json.dumps(drift["findings"], indent=2)
    assert drift["callbacksChecked"] >= len(mine)
    assert "0 drift findings" in log
    # The real credentials were forwarded, and are nowhere in what the recorder wrote.
    written = [
        proxy.out,
        proxy.drift,
        proxy.drift.with_suffix(".md"),
        proxy.drift.with_suffix(".xml"),
    ]
    for secret in secrets_of(fleet) + [client.token()]:
        for path in [*written, proxy.log_path]:
            assert secret not in path.read_text(encoding="utf-8"), f"{secret} in {path.name}"

    checked = subprocess.run(
        [*lgmock_command(), "scenario", "check", str(proxy.out)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    text = proxy.out.read_text(encoding="utf-8")
    assert text.startswith("# Recorded by `lgmock record`")
    recorded = scenario_of(proxy.out)
    assert recorded["services"][0]["callbackUrl"] == f"{receiver.url}/thinq"
    assert recorded["partners"][0]["partnerId"] == partner_id  # named by the DR path
    assert recorded["partners"][0]["pushSubscriptions"] == [ac["deviceId"]]
    assert group in recorded["dr"]["groups"]  # beside the fleet's own, listed by the partner
    subscribed = recorded["thinqAsync"]["eventSubscriptions"]
    assert {s["deviceId"] for s in subscribed} == {d["deviceId"] for d in mine}

    replay = start_server(tmp_path, "--scenario", str(proxy.out))
    try:
        by_number = {u["userNumber"]: u for u in recorded["users"]}
        sandbox_users = [by_number[u["userNumber"]] for u in users]
        client = Client(replay.base_url, recorded["partners"][0], recorded["services"][0])
        try:
            after = observe(client, sandbox_users)
            pushes = client.bc("GET", "/push").json()["response"]
            groups = client.bc("GET", f"/dr/partners/{partner_id}/groups", headers=dr).json()
        finally:
            client.close()
    finally:
        stop_server(replay)
    assert after["devices"] == before["devices"]
    assert after["profiles"] == before["profiles"]
    assert after["statuses"] == before["statuses"]
    assert after["users"] == before["users"]
    assert pushes == [{"deviceId": ac["deviceId"]}]
    assert "recorded-group" in json.dumps(groups)
    assert before["statuses"][ac["deviceId"]]["temperature"]["targetTemperature"] == 25


def test_the_recording_page_records_a_sandbox(server: RunningServer) -> None:
    run = run_doc_block(
        "docs/recording.md", "record-a-sandbox", sandbox=server.base_url, receiver_port=free_port()
    ).check()
    assert '"access_token"' in run.stdout  # the client's answer came through the proxy
    assert "# lgmock record: drift of" in run.stdout  # drift.md, after the scenario check
    assert "PASSED" in run.stdout
    assert "200 createAPIToken POST /bc/v1/token: ok" in run.background[0]


MYSTERY = {"level": {"type": "gauge", "mode": ["r"]}}  # a type the simulator does not read


def test_a_device_whose_profile_the_simulator_cannot_model_is_replayed_as_recorded(
    http: httpx.Client, server: RunningServer, tmp_path: Path
) -> None:
    partner = {"apiKey": PARTNER_KEY, "apiSecret": PARTNER_SECRET}
    listed = Client(server.base_url, partner, None)
    try:
        target = listed.bc("GET", "/devices").json()["response"][0]["deviceId"]
    finally:
        listed.close()

    def unmodellable(
        method: str, path: str, status: int, headers: dict[str, str], content: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if path == f"/bc/v1/devices/profile/{target}":
            answer = json.loads(content)
            answer["response"]["property"]["mystery"] = MYSTERY
            content = json.dumps(answer).encode()
        return status, headers, content

    with serving(rewriting_relay(server.base_url, unmodellable)) as (relay_url, _):
        proxy = start_recording(tmp_path, relay_url)
        client = Client(proxy.base_url, partner, None)
        try:
            before = observe(client, [])
        finally:
            client.close()
        assert proxy.stop() == 0, proxy.log()
    assert before["profiles"][target]["property"]["mystery"] == MYSTERY
    assert f"replayed as recorded: device {target}" in proxy.log()
    head = proxy.out.read_text(encoding="utf-8").split("\nname:")[0]
    assert f"#   - device {target}" in head and "Replayed as recorded" in head
    recorded = scenario_of(proxy.out)

    replay = start_server(tmp_path, "--scenario", str(proxy.out))
    client = Client(replay.base_url, recorded["partners"][0], None)
    try:
        after = observe(client, [])
        command = client.bc("POST", f"/devices/{target}", json={"operation": {"x": "y"}})
    finally:
        client.close()
        stop_server(replay)
    assert after["devices"] == before["devices"]
    assert after["statuses"] == before["statuses"]  # the replayed one too, as recorded
    others = [d for d in before["profiles"] if d != target]
    assert others and all(after["profiles"][d] == before["profiles"][d] for d in others)
    assert command.status_code == 400  # nothing of a replayed device is writable


def connect_headers(pat: str) -> dict[str, str]:
    """What LG's thinqconnect SDK sends with each ThinQ Connect call."""
    return {
        "Authorization": f"Bearer {pat}",
        "x-country": "KR",
        "x-message-id": new_message_id(),
        "x-client-id": "lgmock-record-test",
        "x-api-key": "v6GFvkweNo7DK7yD3ylIZ9w52aKBU0eJ7wLXkSR3",
        "x-service-phase": "OP",
    }


def connect_view(base_url: str, pat: str) -> dict[str, Any]:
    with httpx.Client(base_url=f"{base_url}/connect", timeout=30) as http:
        listed = http.get("/devices", headers=connect_headers(pat))
        assert listed.status_code == 200, listed.text
        devices = listed.json()["response"]
        seen: dict[str, Any] = {"devices": devices, "profiles": {}, "states": {}}
        for item in devices:
            device_id = item["deviceId"]
            profile = http.get(f"/devices/{device_id}/profile", headers=connect_headers(pat))
            state = http.get(f"/devices/{device_id}/state", headers=connect_headers(pat))
            assert profile.status_code == state.status_code == 200, (profile.text, state.text)
            seen["profiles"][device_id] = profile.json()["response"]
            seen["states"][device_id] = state.json()["response"]
    return seen


def test_thinq_connect_calls_are_judged_and_learned_with_a_sandbox_pat(
    http: httpx.Client, server: RunningServer, tmp_path: Path
) -> None:
    proxy = start_recording(tmp_path, server.base_url, "--api", "connect")
    try:
        before = connect_view(proxy.base_url, KR_PAT)
    finally:
        assert proxy.stop() == 0, proxy.log()
    assert before["devices"], "the KR user owns devices in the default scenario"
    assert proxy.drift_document()["operations"] == {
        "connect GET /devices": 1,
        "connect GET /devices/{deviceId}/profile": len(before["devices"]),
        "connect GET /devices/{deviceId}/state": len(before["devices"]),
    }
    recorded = scenario_of(proxy.out)
    (user,) = recorded["users"]
    assert user["pat"].startswith("rec-pat-") and KR_PAT not in proxy.out.read_text()
    replay = start_server(tmp_path, "--scenario", str(proxy.out))
    try:
        after = connect_view(replay.base_url, user["pat"])
    finally:
        stop_server(replay)
    assert after == before
