"""The control API's first part: health, reset, scenario load and state export."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from tests.support import OFFICE_AC, bc_headers

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
