"""--state-file: a sandbox stopped or killed comes back with everything it acknowledged.

Real processes throughout: ``lgmock serve`` is stopped with SIGTERM or killed with
SIGKILL right after its answers, restarted on the same SQLite file, and asked again.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from mockserver import journal_file
from mockserver.persistence import VERSION
from tests.api.test_thinq_async import call_async, thinq_headers
from tests.support import (
    KR_AC,
    KR_FRIDGE,
    KR_TOKEN,
    KR_USER,
    OFFICE_AC,
    RunningServer,
    bc_headers,
    free_port,
    lgmock_command,
    start_server,
    stop_server,
    user_headers,
    wait_until,
)

pytestmark = pytest.mark.e2e


@pytest.mark.slow
def test_sigterm_then_restart_restores_everything(tmp_path: Path) -> None:
    state_file = tmp_path / "state.db"
    server = start_server(tmp_path, "--state-file", str(state_file))
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        http.post("/_sandbox/clock", json={"set": "2031-05-01T12:00:00+00:00", "freeze": True})
        headers = bc_headers(http)
        assert http.post(f"/bc/v1/push/{OFFICE_AC}", headers=headers).status_code == 200
        command = {"operation": {"airConOperationMode": "POWER_OFF"}}
        assert (
            http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=headers, json=command).status_code
            == 200
        )
        http.get(
            "/bc/v1/devices", headers={**user_headers(http, KR_TOKEN, "KR"), "X-Use-Account": "bad"}
        )
        http.post(
            "/_sandbox/faults",
            json={"match": {"operationId": "getUserNumber"}, "effect": {"error": "5000"}},
        )
        before = http.get("/_sandbox/state").json()
        journal_before = http.get("/_sandbox/journal", params={"limit": 1000}).json()
        callbacks_before = http.get("/_sandbox/callbacks", params={"limit": 1000}).json()
    server.process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal: exit by SIGTERM is normal.
    assert server.process.wait(timeout=15) in (0, -signal.SIGTERM)
    assert state_file.read_bytes().startswith(b"SQLite format 3\x00")

    again = start_server(tmp_path, "--state-file", str(state_file))
    try:
        assert "state restored" in again.log()
        with httpx.Client(base_url=again.base_url, timeout=10) as http:
            assert http.get("/_sandbox/state").json() == before
            journal = http.get("/_sandbox/journal", params={"limit": 1000}).json()
            # The GET of the journal itself is not journaled (control API), so equal.
            assert journal == journal_before
            # Pending deliveries are restored and retried (their attempts go on growing).
            after = http.get("/_sandbox/callbacks", params={"limit": 1000}).json()["items"]
            before_items = callbacks_before["items"]
            assert [(d["id"], d["body"]) for d in after] == [
                (d["id"], d["body"]) for d in before_items
            ]
            for old, new in zip(before_items, after, strict=True):
                assert new["attempts"][: len(old["attempts"])] == old["attempts"]
            # The old token still works (signed with the partner's key, clock restored).
            assert http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=headers).status_code == 200
    finally:
        again.process.send_signal(signal.SIGINT)
        assert again.process.wait(timeout=15) in (0, 1, -signal.SIGINT)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "corrupt JSON"),
        ('{"format": "lgmock-state", "version": 99}', "version 99"),
        ('{"hello": 1}', "not an lgmock state file"),
        (
            '{"format": "lgmock-state", "version": 1, "journal": [], "callbacks": [],'
            ' "scenario": {"devices": [{"deviceId": "x"}]}}',
            "incompatible",
        ),
    ],
)
def test_unusable_state_file_stops_the_start_and_is_kept(
    tmp_path: Path, content: str, reason: str
) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(content)
    assert_start_refused(state_file, reason)


def assert_start_refused(state_file: Path, reason: str) -> None:
    """`lgmock serve --state-file` stops with exit 2 and ``reason``; the file is unchanged."""
    before = state_file.read_bytes()
    result = subprocess.run(
        [*lgmock_command(), "serve", "--port", str(free_port()), "--state-file", str(state_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert reason in result.stderr and str(state_file) in result.stderr
    assert state_file.read_bytes() == before


def sqlite_file(path: Path, version: str) -> None:
    """A state database written by an lgmock whose format version is ``version``."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)", [("format", "lgmock-state"), ("version", version)]
    )
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda p: sqlite_file(p, str(VERSION + 1)),
            f"version '{VERSION + 1}', this lgmock reads {VERSION}",
        ),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16), "not a usable"),
    ],
)
def test_unusable_state_database_stops_the_start_and_is_kept(
    tmp_path: Path, make: Callable[[Path], None], reason: str
) -> None:
    state_file = tmp_path / "state.db"
    make(state_file)
    assert_start_refused(state_file, reason)


def kill9_and_restart(server: RunningServer, tmp_path: Path, state_file: Path) -> RunningServer:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=15)
    return start_server(tmp_path, "--state-file", str(state_file))


def target_temperature(http: httpx.Client, headers: dict[str, str], device_id: str) -> int:
    answer = http.get(f"/bc/v1/devices/{device_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]["temperature"]["targetTemperature"]


@pytest.mark.slow
def test_kill9_right_after_acknowledged_changes_loses_none(tmp_path: Path) -> None:
    state_file = tmp_path / "state.db"
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            headers = bc_headers(http)
            before = target_temperature(http, headers, OFFICE_AC)
            target = 19 if before != 19 else 20
            # A device change through the control API, a Business Connect control, and
            # changes of entity families (clock, fault rules, a partner, a subscription).
            state = http.patch(
                f"/_sandbox/devices/{KR_AC}/state",
                json={"temperature": {"currentTemperature": 27}},
            )
            assert state.status_code == 200, state.text
            power = {"operation": {"airConOperationMode": "POWER_ON"}}
            answer = http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=headers, json=power)
            assert answer.status_code == 200, answer.text
            control = {"temperature": {"targetTemperature": target}}
            answer = http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=headers, json=control)
            assert answer.status_code == 200, answer.text
            assert http.post(f"/bc/v1/push/{OFFICE_AC}", headers=headers).status_code == 200
            rule = {"match": {"operationId": "getUserNumber"}, "effect": {"error": "5000"}}
            assert http.post("/_sandbox/faults", json=rule).status_code == 201
            once = {"match": {"operationId": "getDevices"}, "effect": {"error": "4304"}, "count": 1}
            assert http.post("/_sandbox/faults", json=once).status_code == 201
            assert http.get("/bc/v1/devices", headers=headers).status_code == 404  # fired
            moment = "2031-05-01T12:00:00+00:00"
            http.post("/_sandbox/clock", json={"set": moment, "freeze": True})
            update = {"callbackUrl": "http://127.0.0.1:1/moved"}
            assert http.patch("/_sandbox/partners/acme-energy", json=update).status_code == 200
            expected = http.get("/_sandbox/state").json()
        # SIGKILL at once: no shutdown, no periodic write in between.
        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert http.get("/_sandbox/state").json() == expected
            headers = bc_headers(http)
            assert target_temperature(http, headers, OFFICE_AC) == target
            # The rule fired once before the crash: spent, it does not fire again.
            assert http.get("/bc/v1/devices", headers=headers).status_code == 200
    finally:
        stop_server(server)


def test_kill9_keeps_the_journal_its_file_was_given(tmp_path: Path) -> None:
    state_file = tmp_path / "state.db"
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            headers = bc_headers(http)  # journaled: the token call
            for _ in range(5):
                assert http.get(f"/bc/v1/devices/{OFFICE_AC}", headers=headers).status_code == 200
            journal = http.get("/_sandbox/journal", params={"limit": 1000}).json()
        assert len(journal["items"]) == 6
        # The journal's file is written by a thread within a tick (0.5 s); it is no
        # database locked by the server, so it can be read while the server runs.
        requests = journal_file.path_for(state_file)
        deadline = time.monotonic() + 10
        while len(journal_file.read(requests)) < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert http.get("/_sandbox/journal", params={"limit": 1000}).json() == journal
    finally:
        stop_server(server)


@pytest.mark.slow
def test_reset_after_a_restart_goes_back_to_the_scenario(tmp_path: Path) -> None:
    state_file = tmp_path / "state.db"
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            scenario_state = http.get("/_sandbox/state").json()
            http.patch(f"/_sandbox/devices/{KR_FRIDGE}", json={"online": False})
            assert http.get("/_sandbox/state").json() != scenario_state
        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            devices = {d["deviceId"]: d for d in http.get("/_sandbox/state").json()["devices"]}
            assert devices[KR_FRIDGE]["online"] is False
            assert http.post("/_sandbox/reset").status_code == 200
            after = http.get("/_sandbox/state").json()
            assert after["devices"] == scenario_state["devices"]
        # The reset itself was committed: a second crash keeps the reset state.
        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert http.get("/_sandbox/state").json()["devices"] == scenario_state["devices"]
    finally:
        stop_server(server)


@pytest.mark.slow
def test_kill9_with_pending_deliveries_delivers_them_after_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "state.db"
    down = CallbackReceiver()  # a reserved port nobody listens on yet
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            state = http.get("/_sandbox/state").json()
            state["delivery"] = {
                **state["delivery"],
                "attempts": 50,
                "backoffInitial": 0.05,
                "backoffMax": 0.2,
            }
            for service in state["services"]:
                service["callbackUrl"] = down.url
            assert http.post("/_sandbox/scenario", json=state).status_code == 200
            request_id = call_async(http, "POST", "profile-async")
            devices = len([d for d in state["devices"] if d.get("owner") == KR_USER])

            def tried_twice() -> dict[str, Any] | None:  # a few failed attempts each
                answer = http.get("/_sandbox/callbacks", params={"requestId": request_id})
                items = answer.json()["items"]
                done = len(items) == devices and all(len(d["attempts"]) >= 2 for d in items)
                return answer.json() if done else None

            pending = wait_until(tried_twice, what="every delivery tried twice")
            assert pending["total"] == devices
            tried = {d["id"]: len(d["attempts"]) for d in pending["items"]}
            assert all(d["status"] == "pending" for d in pending["items"]) and min(tried.values())
        server = kill9_and_restart(server, tmp_path, state_file)
        with down:
            bodies = down.wait_for(devices, lambda b: b.get("requestId") == request_id, 20)
        assert len({b["response"]["deviceId"] for b in bodies}) == devices
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            after = http.get("/_sandbox/callbacks", params={"requestId": request_id}).json()
            assert {d["status"] for d in after["items"]} == {"delivered"}
            # The attempts made before the crash are still counted (committed at most a
            # tick before the kill), and the delivery went on from there.
            for item in after["items"]:
                assert len(item["attempts"]) >= 2
                assert item["attempts"][-1]["outcome"] == "ok"
    finally:
        stop_server(server)


@pytest.mark.slow
def test_a_json_state_file_of_format_1_is_migrated(tmp_path: Path) -> None:
    # What the first lgmock wrote: the whole state as one JSON snapshot.
    server = start_server(tmp_path)
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            http.patch(f"/_sandbox/devices/{KR_FRIDGE}", json={"online": False})
            bc_headers(http)  # one journaled call
            state = http.get("/_sandbox/state").json()
            journal = http.get("/_sandbox/journal").json()["items"]
    finally:
        stop_server(server)
    legacy = {
        "format": "lgmock-state",
        "version": 1,
        "savedAt": "2030-01-01T00:00:00",
        "scenario": state,
        "journal": list(reversed(journal)),
        "callbacks": [],
    }
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(legacy))
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            restored = http.get("/_sandbox/state").json()
            assert restored["devices"] == state["devices"]
            assert http.get("/_sandbox/journal").json()["items"] == journal
        assert state_file.read_bytes().startswith(b"SQLite format 3\x00")
        assert json.loads(state_file.with_name("state.json.v1.json").read_text()) == legacy
        # And from now on it is a database like any other: it survives a SIGKILL.
        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert http.get("/_sandbox/state").json()["devices"] == state["devices"]
    finally:
        stop_server(server)


@pytest.mark.slow
def test_kill9_right_after_a_fleet_fan_out_loses_none_of_it(tmp_path: Path) -> None:
    # A user with more devices than a ThinQ operation does before its 202 without a
    # state file (1,000): with one, the whole fan-out is committed before the answer.
    generated = subprocess.run(
        [*lgmock_command(), "scenario", "generate", "--devices", "1200", "--users", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    fleet = json.loads(generated.stdout)
    down = CallbackReceiver()
    fleet["services"][0]["callbackUrl"] = down.url
    fleet["delivery"] = {"attempts": 100, "backoffInitial": 0.1, "backoffMax": 0.5}
    scenario_file = tmp_path / "fleet.json"
    scenario_file.write_text(json.dumps(fleet))
    state_file = tmp_path / "state.db"
    server = start_server(
        tmp_path, "--scenario", str(scenario_file), "--state-file", str(state_file)
    )
    user, service = fleet["users"][0], fleet["services"][0]
    headers = thinq_headers(
        user["accessToken"],
        user["countryCode"],
        service=service["serviceId"],
        service_key=service["serviceKey"],
    )
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            answer = http.post("/v2/devices/status-async", headers=headers)
            assert answer.status_code == 202, answer.text
            request_id = answer.json()["requestId"]
        server = kill9_and_restart(server, tmp_path, state_file)
        with down:
            bodies = down.wait_for(1200, lambda b: b.get("requestId") == request_id, 60)
        assert len({b["response"]["deviceId"] for b in bodies}) == 1200
    finally:
        stop_server(server)


@pytest.mark.slow
def test_kill9_keeps_thinq_connect_clients_subscriptions_and_controls(tmp_path: Path) -> None:
    from tests.support import connect_headers

    client = {"type": "MQTT", "service-code": "SVC202", "device-type": "607", "allowExist": True}
    state_file = tmp_path / "state.db"
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert http.post("/_sandbox/clock", json={"freeze": True}).status_code == 200
            calls = [
                ("POST", "/connect/client", client),
                ("POST", f"/connect/push/{KR_AC}/subscribe", None),
                (
                    "POST",
                    f"/connect/event/{KR_FRIDGE}/subscribe",
                    {"expire": {"unit": "HOUR", "timer": 48}},
                ),
                ("POST", "/connect/push/devices", None),
                (
                    "POST",
                    f"/connect/devices/{KR_AC}/control",
                    {"airConJobMode": {"currentJobMode": "FAN"}},
                ),
            ]
            for method, path, body in calls:
                answer = http.request(method, path, headers=connect_headers(), json=body)
                assert answer.status_code == 200, (path, answer.text)
            expected = http.get("/_sandbox/state").json()
            assert expected["thinqConnect"]["clients"][0]["clientId"] == "lgmock-test-client"
        # SIGKILL right after the last 200.
        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert http.get("/_sandbox/state").json() == expected
            push = http.get("/connect/push", headers=connect_headers()).json()["response"]
            assert push == [{"deviceId": KR_AC}]
            events = http.get("/connect/event", headers=connect_headers()).json()["response"]
            assert [e["deviceId"] for e in events] == [KR_FRIDGE]
            state = http.get(f"/connect/devices/{KR_AC}/state", headers=connect_headers())
            assert state.json()["response"]["airConJobMode"]["currentJobMode"] == "FAN"
            again = http.post(f"/connect/push/{KR_AC}/subscribe", headers=connect_headers())
            assert again.json()["error"]["code"] == "1207"
    finally:
        stop_server(server)
