"""Device API over HTTP: reach by account, profile, status, control and its refusals."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lgspecs.data import profiles_dir
from tests.api.test_token_and_auth import assert_refused
from tests.support import (
    KR_AC,
    KR_FRIDGE,
    KR_TOKEN,
    OFFICE_AC,
    US_TOKEN,
    US_WASHER,
    VENTILATOR_OFFLINE,
    VIEWER_KEY,
    VIEWER_SECRET,
    bc_headers,
    user_headers,
)


def device_ids(answer: httpx.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {item["deviceId"] for item in answer.json()["response"]}


def scenario_devices(http: httpx.Client) -> list[dict[str, Any]]:
    return http.get("/_sandbox/state").json()["devices"]


def test_registered_account_lists_the_partners_devices(http: httpx.Client) -> None:
    expected = {d["deviceId"] for d in scenario_devices(http) if "acme-energy" in d["registeredTo"]}
    listed = device_ids(http.get("/bc/v1/devices", headers=bc_headers(http)))
    assert listed == expected and len(listed) >= 5


def test_another_partner_sees_only_its_own_registered_devices(http: httpx.Client) -> None:
    headers = bc_headers(http, key=VIEWER_KEY, secret=VIEWER_SECRET)
    assert device_ids(http.get("/bc/v1/devices", headers=headers)) == {OFFICE_AC}


def test_in_header_account_lists_the_users_devices(http: httpx.Client) -> None:
    expected = {d["deviceId"] for d in scenario_devices(http) if d["owner"] == "KR2024000000001"}
    listed = device_ids(http.get("/bc/v1/devices", headers=user_headers(http, KR_TOKEN, "KR")))
    assert listed == expected and KR_FRIDGE in listed


def test_list_items_follow_the_spec(http: httpx.Client) -> None:
    answer = http.get("/bc/v1/devices", headers=user_headers(http, KR_TOKEN, "KR"))
    items = {i["deviceId"]: i["deviceInfo"] for i in answer.json()["response"]}
    assert all("deviceType" in info for info in items.values())
    washtower = [i for i in items.values() if i["deviceType"].startswith("DEVICE_WASHTOWER")]
    assert len(washtower) == 2 and len({i["groupId"] for i in washtower}) == 1
    registered = http.get("/bc/v1/devices", headers=bc_headers(http)).json()["response"]
    assert any(item["deviceInfo"].get("parentId") for item in registered)


@pytest.mark.parametrize(
    ("drop", "country", "names"),
    [("Authorization", "KR", "Authorization"), ("X-Country-Code", None, "X-Country-Code")],
)
def test_in_header_needs_authorization_and_country(
    http: httpx.Client, drop: str, country: str | None, names: str
) -> None:
    headers = user_headers(http, KR_TOKEN, "KR")
    headers.pop(drop)
    assert_refused(http.get("/bc/v1/devices", headers=headers), 400, "4101", names)


def test_in_header_with_another_country_is_4101(http: httpx.Client) -> None:
    headers = user_headers(http, KR_TOKEN, "US")
    assert_refused(http.get("/bc/v1/devices", headers=headers), 400, "4101", "X-Country-Code")


def test_in_header_with_unknown_bearer_is_4201(http: httpx.Client) -> None:
    headers = user_headers(http, "who-is-this", "KR")
    assert_refused(http.get("/bc/v1/devices", headers=headers), 401, "4201", "Authorization")


@pytest.mark.parametrize(
    ("device_id", "bearer", "country"),
    [
        (KR_FRIDGE, None, None),  # a user's device through the REGISTERED account
        (US_WASHER, KR_TOKEN, "KR"),  # another user's device
        (OFFICE_AC, US_TOKEN, "US"),  # a registered device through a user
        ("no-such-device", None, None),
    ],
)
def test_device_outside_reach_is_not_found(
    http: httpx.Client, device_id: str, bearer: str | None, country: str | None
) -> None:
    headers = user_headers(http, bearer, country) if bearer else bc_headers(http)
    for url in (f"/bc/v1/devices/{device_id}", f"/bc/v1/devices/profile/{device_id}"):
        assert_refused(http.get(url, headers=headers), 404, "4304", "deviceId")


def test_profile_is_the_fixture(http: httpx.Client) -> None:
    answer = http.get(
        f"/bc/v1/devices/profile/{KR_FRIDGE}", headers=user_headers(http, KR_TOKEN, "KR")
    )
    assert answer.status_code == 200
    fixture = json.loads((profiles_dir() / "refrigerator" / "basic.json").read_text())
    assert answer.json()["response"] == fixture


def test_refrigerator_status_has_its_locations(http: httpx.Client) -> None:
    answer = http.get(f"/bc/v1/devices/{KR_FRIDGE}", headers=user_headers(http, KR_TOKEN, "KR"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["messageId"] and body["timestamp"]
    locations = {entry["locationName"] for entry in body["response"]["temperature"]}
    assert {"FRIDGE", "FREEZER"} <= locations


def writable_range(profile: dict[str, Any], resource: str, attribute: str) -> dict[str, Any]:
    return profile["property"][resource][attribute]["value"]["w"]


def get_json(http: httpx.Client, url: str, headers: dict[str, str]) -> Any:
    answer = http.get(url, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]


def test_control_changes_the_status_and_answers_it(http: httpx.Client) -> None:
    headers = bc_headers(http)
    profile = get_json(http, f"/bc/v1/devices/profile/{OFFICE_AC}", headers)
    http.post(
        f"/bc/v1/devices/{OFFICE_AC}",
        headers=headers,
        json={"operation": {"airConOperationMode": "POWER_ON"}},
    )
    bounds = writable_range(profile, "temperature", "targetTemperature")
    target = bounds["max"]
    answer = http.post(
        f"/bc/v1/devices/{OFFICE_AC}",
        headers=headers,
        json={"temperature": {"targetTemperature": target}},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["temperature"]["targetTemperature"] == target
    status = get_json(http, f"/bc/v1/devices/{OFFICE_AC}", headers)
    assert status == answer.json()["response"]


def test_refrigerator_control_by_location_in_both_command_styles(http: httpx.Client) -> None:
    headers = user_headers(http, KR_TOKEN, "KR")
    profile = get_json(http, f"/bc/v1/devices/profile/{KR_FRIDGE}", headers)
    fridge = next(e for e in profile["property"]["temperature"] if e["locationName"] == "FRIDGE")
    low = fridge["targetTemperature"]["value"]["w"]["min"]
    for command in (
        {"temperature": {"locationName": "FRIDGE", "targetTemperature": low}},
        {"temperature": [{"locationName": "FRIDGE", "targetTemperature": low + 1}]},
    ):
        answer = http.post(f"/bc/v1/devices/{KR_FRIDGE}", headers=headers, json=command)
        assert answer.status_code == 200, answer.text
    status = get_json(http, f"/bc/v1/devices/{KR_FRIDGE}", headers)
    fridge_now = next(e for e in status["temperature"] if e["locationName"] == "FRIDGE")
    assert fridge_now["targetTemperature"] == low + 1


INVALID_AC_COMMANDS = [
    ({"noSuchResource": {"x": 1}}, "noSuchResource"),
    ({"temperature": {"noSuchAttribute": 1}}, "noSuchAttribute"),
    ({"temperature": {"currentTemperature": 20}}, "currentTemperature"),  # read-only
    ({"temperature": {"targetTemperature": 99}}, "targetTemperature"),  # out of range
    ({"temperature": {"targetTemperature": "cold"}}, "targetTemperature"),  # wrong type
    ({"airConJobMode": {"currentJobMode": "NOT_A_MODE"}}, "currentJobMode"),
    ({}, "empty"),
]


@pytest.mark.parametrize(("command", "names"), INVALID_AC_COMMANDS)
def test_invalid_control_is_4102_naming_the_field_and_changes_nothing(
    http: httpx.Client, command: dict[str, Any], names: str
) -> None:
    headers = bc_headers(http)
    http.post(
        f"/bc/v1/devices/{OFFICE_AC}",
        headers=headers,
        json={"operation": {"airConOperationMode": "POWER_ON"}},
    )
    before = get_json(http, f"/bc/v1/devices/{OFFICE_AC}", headers)
    answer = http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=headers, json=command)
    assert_refused(answer, 400, "4102", names)
    assert get_json(http, f"/bc/v1/devices/{OFFICE_AC}", headers) == before


def test_unknown_location_is_4102(http: httpx.Client) -> None:
    headers = user_headers(http, KR_TOKEN, "KR")
    command = {"temperature": {"locationName": "GARAGE", "targetTemperature": 3}}
    answer = http.post(f"/bc/v1/devices/{KR_FRIDGE}", headers=headers, json=command)
    assert_refused(answer, 400, "4102", "GARAGE")


def test_command_that_is_not_json_is_4102(http: httpx.Client) -> None:
    headers = {**bc_headers(http), "Content-Type": "application/json"}
    answer = http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=headers, content=b"{oops")
    assert_refused(answer, 400, "4102", "JSON")


def test_powered_off_device_refuses_other_commands(http: httpx.Client) -> None:
    headers = user_headers(http, KR_TOKEN, "KR")
    off = {"operation": {"airConOperationMode": "POWER_OFF"}}
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=headers, json=off).status_code == 200
    job = {"airConJobMode": {"currentJobMode": "COOL"}}
    answer = http.post(f"/bc/v1/devices/{KR_AC}", headers=headers, json=job)
    assert_refused(answer, 400, "4102", "power")
    on = {"operation": {"airConOperationMode": "POWER_ON"}}
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=headers, json=on).status_code == 200
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=headers, json=job).status_code == 200


def test_offline_device_refuses_control_but_reports_last_status(http: httpx.Client) -> None:
    headers = bc_headers(http)
    last = get_json(http, f"/bc/v1/devices/{VENTILATOR_OFFLINE}", headers)
    profile = get_json(http, f"/bc/v1/devices/profile/{VENTILATOR_OFFLINE}", headers)
    # An offline device still answers a status: the one it last reported, of its profile.
    assert last and set(last) <= set(profile["property"]), last
    resource = next(iter(profile["property"]))
    answer = http.post(f"/bc/v1/devices/{VENTILATOR_OFFLINE}", headers=headers, json={resource: {}})
    assert_refused(answer, 400, "4000", "not connected")
    assert get_json(http, f"/bc/v1/devices/{VENTILATOR_OFFLINE}", headers) == last


def test_a_control_is_seen_by_every_account_that_reaches_the_device(http: httpx.Client) -> None:
    acme = bc_headers(http)
    viewer = bc_headers(http, key=VIEWER_KEY, secret=VIEWER_SECRET)
    command = {"operation": {"airConOperationMode": "POWER_OFF"}}
    assert http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=acme, json=command).status_code == 200
    seen = get_json(http, f"/bc/v1/devices/{OFFICE_AC}", viewer)
    assert seen["operation"]["airConOperationMode"] == "POWER_OFF"


def test_body_that_is_not_utf8_is_4102_not_a_500(http: httpx.Client) -> None:
    headers = {**bc_headers(http), "Content-Type": "application/json"}
    answer = http.post(f"/bc/v1/devices/{OFFICE_AC}", headers=headers, content=b'{"\xff": 1}')
    assert_refused(answer, 400, "4102", "not valid")


def test_the_control_api_renames_a_device_as_its_owner_would(http: httpx.Client) -> None:
    answer = http.patch(f"/_sandbox/devices/{KR_AC}", json={"alias": "Bedroom AC"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"deviceId": KR_AC, "online": True, "alias": "Bedroom AC"}
    listed = http.get("/_sandbox/state").json()["devices"]
    assert next(d for d in listed if d["deviceId"] == KR_AC)["alias"] == "Bedroom AC"
    for body in ({}, {"alias": ""}, {"colour": "red"}):
        refused = http.patch(f"/_sandbox/devices/{KR_AC}", json=body)
        assert refused.status_code == 400, (body, refused.text)
