"""The control API's first part: health, reset, scenario load and state export."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import yaml

from contract_tests.receiver import CallbackReceiver
from tests.api.test_dr import PARTNER, advance, dr_headers, event_body, frozen_now, user_body
from tests.api.test_thinq_async import SERVICE, call_async
from tests.support import KR_AC, KR_USER, OFFICE_AC, bc_headers

SMALL_SCENARIO = {
    "name": "small",
    "seed": 7,
    "partners": [{"partnerId": "p1", "apiKey": "k1", "apiSecret": "s1"}],
    "users": [{"userNumber": "KR1", "accessToken": "t1", "countryCode": "KR"}],
    "devices": [
        {
            "deviceId": "d1",
            "deviceType": "DEVICE_AIR_CONDITIONER",
            "profile": "air_conditioner/basic.json",
            "registeredTo": ["p1"],
        }
    ],
}


def without_clock(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "clock"}


def test_health_names_the_scenario(http: httpx.Client) -> None:
    body = http.get("/_sandbox/health").json()
    assert body["status"] == "ok" and body["scenario"] == "default" and body["devices"] >= 12


def test_reset_undoes_changes(http: httpx.Client) -> None:
    before = without_clock(http.get("/_sandbox/state").json())
    assert http.post(f"/bc/v1/push/{OFFICE_AC}", headers=bc_headers(http)).status_code == 200
    assert without_clock(http.get("/_sandbox/state").json()) != before
    assert http.post("/_sandbox/reset").status_code == 200
    assert without_clock(http.get("/_sandbox/state").json()) == before


def test_load_json_scenario(http: httpx.Client) -> None:
    answer = http.post("/_sandbox/scenario", json=SMALL_SCENARIO)
    assert answer.status_code == 200, answer.text
    assert answer.json()["devices"] == 1 and answer.json()["scenario"] == "small"
    token = http.post("/bc/v1/token", headers={"X-Api-Key": "k1", "X-Api-Secret": "s1"})
    assert token.status_code == 200
    http.post("/_sandbox/reset")  # resets to the scenario just loaded
    assert http.get("/_sandbox/health").json()["scenario"] == "small"


def test_load_yaml_scenario(http: httpx.Client) -> None:
    text = yaml.safe_dump(SMALL_SCENARIO)
    answer = http.post(
        "/_sandbox/scenario", content=text.encode(), headers={"Content-Type": "application/yaml"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scenario"] == "small"


def test_bad_scenario_is_refused_with_path_and_reason_and_nothing_changes(
    http: httpx.Client,
) -> None:
    before = without_clock(http.get("/_sandbox/state").json())
    bad = json.loads(json.dumps(SMALL_SCENARIO))
    bad["devices"][0]["owner"] = "NOBODY"
    bad["devices"][0].pop("deviceType")
    bad["users"][0]["countryCode"] = "korea"
    answer = http.post("/_sandbox/scenario", json=bad)
    assert answer.status_code == 400
    problems = answer.json()["error"]["problems"]
    assert any("$.devices[0]" in p and "deviceType" in p for p in problems), problems
    assert any("$.users[0].countryCode" in p for p in problems), problems
    assert without_clock(http.get("/_sandbox/state").json()) == before


def test_profile_reference_problems_are_named(http: httpx.Client) -> None:
    bad = json.loads(json.dumps(SMALL_SCENARIO))
    bad["devices"][0]["profile"] = "no_such/profile.json"
    problems = http.post("/_sandbox/scenario", json=bad).json()["error"]["problems"]
    assert any("$.devices[0].profile" in p for p in problems), problems


def test_exported_state_loads_back_unchanged(http: httpx.Client) -> None:
    headers = bc_headers(http)
    http.post(f"/bc/v1/push/{OFFICE_AC}", headers=headers)
    http.post(
        f"/bc/v1/devices/{OFFICE_AC}",
        headers=headers,
        json={"operation": {"airConOperationMode": "POWER_OFF"}},
    )
    exported = http.get("/_sandbox/state").json()
    assert http.post("/_sandbox/scenario", json=exported).status_code == 200
    assert without_clock(http.get("/_sandbox/state").json()) == without_clock(exported)


def test_clock_advance_set_and_freeze(http: httpx.Client) -> None:
    frozen = http.post("/_sandbox/clock", json={"set": "2030-01-01T00:00:00+00:00", "freeze": True})
    assert frozen.json() == {"now": "2030-01-01T00:00:00+00:00", "frozen": True}
    moved = http.post("/_sandbox/clock", json={"advance": 90})
    assert moved.json()["now"] == "2030-01-01T00:01:30+00:00"
    assert http.post("/_sandbox/clock", json={"advance": -1}).status_code == 400


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/_sandbox/services/nobody", "SERVICE_NOT_FOUND"),
        ("/_sandbox/partners/nobody", "PARTNER_NOT_FOUND"),
    ],
)
def test_unknown_control_objects_have_their_own_codes(
    http: httpx.Client, path: str, code: str
) -> None:
    # A missing object is not a missing route (NOT_FOUND_ROUTE): the code says which.
    answer = http.patch(path, json={"callbackUrl": None})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == code


def reads(http: httpx.Client) -> dict[str, Any]:
    """Everything the control API and a partner can read back, as a fresh start shows it
    (the running clock's instant aside: it moves)."""
    state = http.get("/_sandbox/state").json()
    health = http.get("/_sandbox/health").json()
    dr = dr_headers(http)
    return {
        "state": {**state, "clock": {"frozen": state["clock"]["frozen"]}},
        "health": {k: v for k, v in health.items() if k != "clock"},
        "faults": http.get("/_sandbox/faults").json(),
        "callbacks": http.get("/_sandbox/callbacks", params={"limit": 1000}).json(),
        "dr groups": http.get(f"/bc/v1/dr/partners/{PARTNER}/groups", headers=dr).json()["data"],
        "dr user": http.get(f"/bc/v1/dr/users/{KR_USER}", headers=dr).status_code,
    }


@pytest.mark.slow
def test_a_reset_brings_back_every_family_exactly(http: httpx.Client) -> None:
    assert http.post("/_sandbox/reset").status_code == 200
    fresh = reads(http)
    journal_before = http.get("/_sandbox/journal", params={"limit": 1000}).json()["items"]
    # Dirty every family: fault rules, callback URLs, an added device, a device's state,
    # DR groups, users, events and files, deliveries still owed, the clock.
    rule = {"match": {"operationId": "getDevices"}, "effect": {"error": "4304"}, "count": 5}
    assert http.post("/_sandbox/faults", json=rule).status_code == 201
    nowhere = CallbackReceiver().url  # a port nobody listens on: deliveries stay owed
    assert http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": nowhere}).is_success
    assert http.patch(f"/_sandbox/partners/{PARTNER}", json={"callbackUrl": nowhere}).is_success
    added = {
        "deviceId": "extra-ac",
        "deviceType": "DEVICE_AIR_CONDITIONER",
        "owner": KR_USER,
        "profile": "air_conditioner/basic.json",
    }
    assert http.post("/_sandbox/devices", json=added).status_code == 201
    change = {"temperature": {"currentTemperature": 27}}
    assert http.patch(f"/_sandbox/devices/{KR_AC}/state", json=change).status_code == 200
    assert http.patch(f"/_sandbox/devices/{OFFICE_AC}", json={"online": False}).is_success
    h = dr_headers(http)
    now = frozen_now(http)
    group = {"groupId": "g-1", "partnerId": PARTNER}
    assert http.post("/bc/v1/dr/groups", headers=h, json=group).status_code == 200
    assert http.post("/bc/v1/dr/users", headers=h, json=user_body(groupId="g-1")).is_success
    assert http.post("/bc/v1/dr/events", headers=h, json=event_body(now)).is_success
    advance(http, 45 * 60)
    zipped = http.post("/bc/v1/dr/data-zip/files", headers=h, json={"eventId": "ev-1"})
    assert zipped.status_code == 200, zipped.text
    call_async(http, "POST", "status-async")
    assert http.post(f"/bc/v1/push/{OFFICE_AC}", headers=bc_headers(http)).status_code == 200
    dirty = reads(http)
    assert any(e["status"] == "pending" for e in dirty["callbacks"]["items"])
    for name in fresh:
        assert dirty[name] != fresh[name], name  # each read shows its family dirtied

    assert http.post("/_sandbox/reset").status_code == 200
    after = reads(http)
    for name in fresh:
        assert after[name] == fresh[name], name
    time.sleep(0.5)  # owed deliveries had their retry timers: none fires into the new state
    assert reads(http)["callbacks"] == fresh["callbacks"]
    # The request journal is the one thing a reset keeps (a client's CI reads the report
    # over a run that resets between tests): what was journaled before is still there.
    journal = http.get("/_sandbox/journal", params={"limit": 1000}).json()["items"]
    assert all(entry in journal for entry in journal_before)
    assert len(journal) > len(journal_before)
