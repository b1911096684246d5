"""Partners are kept apart, and tokens are checked, for every Business Connect and DR
operation, over HTTP against a real `lgmock serve`.

A rival partner holding every role calls each operation on acme-energy's devices,
subscriptions, DR groups, users, events and zips: each call is refused (or, for a
listing, shows none of acme's) and the sandbox's whole state is what it was. A token
signed with another key, expired on the sandbox clock, or issued to a partner that no
longer exists gets 401 4201 from each operation. Data-zip names cannot leave their
folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
import yaml

from lgspecs.data import default_scenario
from mockserver.wire import new_message_id
from tests.support import KR_AC, KR_TOKEN, KR_USER, OFFICE_AC, bc_token

PARTNER = "acme-energy"
RIVAL, RIVAL_KEY, RIVAL_SECRET = "rival-energy", "rival-api-key-0003", "rival-api-secret-0003"
RIVAL_DEVICE = "7a11" + "0" * 60
ALL_ROLES = ["postToken", "getDevices", "pushEvents", "manageUsers", "getDrUsers"]
DR = "/bc/v1/dr"
MINUTE = 60_000


def scenario_with_rival() -> dict[str, Any]:
    """The default scenario, a rival partner with every role and one device of its own."""
    document = yaml.safe_load(default_scenario().read_text())
    document["partners"].append(
        {"partnerId": RIVAL, "apiKey": RIVAL_KEY, "apiSecret": RIVAL_SECRET, "roles": ALL_ROLES}
    )
    document["devices"].append(
        {
            "deviceId": RIVAL_DEVICE,
            "deviceType": "DEVICE_AIR_CONDITIONER",
            "modelName": "RAC_056905_WW",
            "alias": "Rival's air conditioner",
            "registeredTo": [RIVAL],
            "profile": "air_conditioner/basic.json",
        }
    )
    return document


def headers_for(http: httpx.Client, path: str, token: str, key: str) -> dict[str, str]:
    headers = {"X-Api-Key": key, "X-Api-Token": token, "X-Message-Id": new_message_id()}
    if path.startswith(DR):
        headers["X-Country-Code"] = "KR"
    elif path.startswith(("/bc/v1/users", "/bc/v1/user/")):
        headers.update(
            {
                "X-Use-Account": "IN-HEADER",
                "Authorization": f"Bearer {KR_TOKEN}",
                "X-Country-Code": "KR",
            }
        )
    else:
        headers["X-Use-Account"] = "REGISTERED"
    return headers


def ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body.get("data", body.get("response"))


@pytest.fixture
def acme(http: httpx.Client) -> dict[str, Any]:
    """acme-energy's things: a push subscription, a DR group, user, event and zip."""
    assert http.post("/_sandbox/scenario", json=scenario_with_rival()).status_code == 200
    clock = http.post("/_sandbox/clock", json={"freeze": True}).json()
    from datetime import datetime

    now = int(datetime.fromisoformat(clock["now"]).timestamp() * 1000)
    token = bc_token(http)
    h = lambda path: headers_for(http, path, token, "acme-api-key-0001")  # noqa: E731
    ok(http.post(f"/bc/v1/push/{OFFICE_AC}", headers=h("/bc/v1/push")))
    group = {"groupId": "g-acme", "partnerId": PARTNER}
    ok(http.post(f"{DR}/groups", headers=h(DR), json=group))
    user = {
        "userNo": KR_USER,
        "accessToken": "emp-access-token",
        "refreshToken": "emp-refresh-token",
        "groupId": "g-acme",
        "partner": {"partnerId": PARTNER, "authCodeExt": "auth-acme"},
    }
    ok(http.post(f"{DR}/users", headers=h(DR), json=user))
    ok(http.post(f"{DR}/events", headers=h(DR), json=event(now, "ev-acme", PARTNER)))
    made = ok(http.post(f"{DR}/data-zip/files", headers=h(DR), json={"eventId": "ev-acme"}))
    assert http.post("/_sandbox/clock", json={"advance": 2}).status_code == 200
    url = ok(http.get(f"{DR}/data-zip/files/{made['fileName']}", headers=h(DR)))["presignedUrl"]
    return {"now": now, "zip": made["fileName"], "url": url}


def event(now: int, event_id: str, partner: str, targets: list | None = None) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventName": "peak",
        "partnerId": partner,
        "startTs": now + 10 * MINUTE,
        "endTs": now + 40 * MINUTE,
        "targets": [{"targetType": "USER", "targetIds": [KR_USER]}] if targets is None else targets,
        "signals": [
            {
                "signalId": f"{event_id}-s1",
                "deviceType": "DEVICE_AIR_CONDITIONER",
                "signalType": "CONTROL_RESTORE",
                "controlType": "Temperature",
                "restoreType": "Temperature",
                "signalData": {"temperature": {"min": 26, "max": 28, "unit": "C"}},
            }
        ],
    }


# Every Business Connect and DR operation a partner calls on another partner's things.
# (operationId, method, path, body) - the body is made from the fixture's facts.
ON_ACME: list[tuple[str, str, str, Callable[[dict[str, Any]], Any]]] = [
    ("getProfileOfDevice", "GET", f"/bc/v1/devices/profile/{OFFICE_AC}", lambda a: None),
    ("getStatusOfDevice", "GET", f"/bc/v1/devices/{OFFICE_AC}", lambda a: None),
    (
        "controlDevice",
        "POST",
        f"/bc/v1/devices/{OFFICE_AC}",
        lambda a: {"operation": {"airConOperationMode": "POWER_OFF"}},
    ),
    ("subscribePushMessages", "POST", f"/bc/v1/push/{OFFICE_AC}", lambda a: None),
    ("unsubscribePushMessages", "DELETE", f"/bc/v1/push/{OFFICE_AC}", lambda a: None),
    (
        "createOrUpdateDrGroup",
        "POST",
        f"{DR}/groups",
        lambda a: {"groupId": "g-acme", "groupName": "taken", "partnerId": PARTNER},
    ),
    (
        "createOrUpdateDrGroup (new, in acme's name)",
        "POST",
        f"{DR}/groups",
        lambda a: {"groupId": "g-new", "partnerId": PARTNER},
    ),
    ("getDrGroup", "GET", f"{DR}/groups/g-acme", lambda a: None),
    ("listDrGroupsOfPartner", "GET", f"{DR}/partners/{PARTNER}/groups", lambda a: None),
    (
        "createDrUser (in acme's name)",
        "POST",
        f"{DR}/users",
        lambda a: {
            "userNo": KR_USER,
            "accessToken": "x",
            "refreshToken": "y",
            "partner": {"partnerId": PARTNER, "authCodeExt": "auth-acme"},
        },
    ),
    ("deleteDrUser", "DELETE", f"{DR}/users/{KR_USER}", lambda a: None),
    ("getDrUser", "GET", f"{DR}/users/{KR_USER}", lambda a: None),
    ("listDrUserDevices", "GET", f"{DR}/users/{KR_USER}/devices", lambda a: None),
    ("getDrUserDevice", "GET", f"{DR}/users/{KR_USER}/devices/{KR_AC}", lambda a: None),
    (
        "createOrUpdateDrEvent (acme's event)",
        "POST",
        f"{DR}/events",
        lambda a: event(a["now"], "ev-acme", PARTNER),
    ),
    (
        "createOrUpdateDrEvent (acme's id, own name)",
        "POST",
        f"{DR}/events",
        lambda a: event(a["now"], "ev-acme", RIVAL, targets=[]),
    ),
    (
        "createDrEventTarget",
        "POST",
        f"{DR}/events/ev-acme/targets",
        lambda a: {"type": "DEVICE", "id": KR_AC, "opt": "OUT"},
    ),
    (
        "updateDrEventTarget",
        "POST",
        f"{DR}/events/ev-acme/targets/{KR_USER}",
        lambda a: {"opt": "OUT"},
    ),
    (
        "batchDrEventTargets",
        "POST",
        f"{DR}/events/ev-acme/targets/batch",
        lambda a: [{"action": "update", "path": f"/{KR_USER}", "value": {"opt": "OUT"}}],
    ),
    ("createDrDataZipFile", "POST", f"{DR}/data-zip/files", lambda a: {"eventId": "ev-acme"}),
    ("getDrDataZipFile", "GET", f"{DR}/data-zip/files/{{zip}}", lambda a: None),
]


@pytest.mark.parametrize(
    ("operation", "method", "path", "body"), ON_ACME, ids=[row[0] for row in ON_ACME]
)
def test_a_partner_cannot_read_or_change_another_partners_things(
    http: httpx.Client,
    acme: dict[str, Any],
    operation: str,
    method: str,
    path: str,
    body: Callable[[dict[str, Any]], Any],
) -> None:
    before = http.get("/_sandbox/state").json()
    path = path.format(**acme)
    headers = headers_for(http, path, bc_token(http, RIVAL_KEY, RIVAL_SECRET), RIVAL_KEY)
    answer = http.request(method, path, headers=headers, json=body(acme))
    assert answer.status_code in (403, 404, 409), f"{operation}: {answer.text}"
    assert answer.headers["X-Response-Code"][0] == "4"
    # Nothing of acme's leaks into the refusal, and nothing changed.
    for secret in ("auth-acme", "emp-access-token", "presignedUrl"):
        assert secret not in answer.text
    assert http.get("/_sandbox/state").json() == before


def test_listings_show_a_partner_only_its_own(http: httpx.Client, acme: dict[str, Any]) -> None:
    token = bc_token(http, RIVAL_KEY, RIVAL_SECRET)

    def rival(path: str) -> Any:
        return ok(http.get(path, headers=headers_for(http, path, token, RIVAL_KEY)))

    assert [d["deviceId"] for d in rival("/bc/v1/devices")] == [RIVAL_DEVICE]
    assert OFFICE_AC not in json.dumps(rival("/bc/v1/push"))
    assert rival(f"{DR}/partners/{RIVAL}/groups") == []


def test_disconnecting_from_one_partner_leaves_the_other_connected(
    http: httpx.Client, acme: dict[str, Any]
) -> None:
    rival_token = bc_token(http, RIVAL_KEY, RIVAL_SECRET)
    path = "/bc/v1/user/service"
    answer = http.delete(path, headers=headers_for(http, path, rival_token, RIVAL_KEY))
    assert answer.status_code == 200, answer.text
    acme_token = bc_token(http)
    mine = http.get(
        "/bc/v1/users", headers=headers_for(http, "/bc/v1/users", acme_token, "acme-api-key-0001")
    )
    assert mine.status_code == 200, mine.text
    theirs = http.get(
        "/bc/v1/users", headers=headers_for(http, "/bc/v1/users", rival_token, RIVAL_KEY)
    )
    assert theirs.status_code in (401, 403, 404), theirs.text


# ---------------------------------------------------------------------- tokens

# Every operation that takes an API token (all but createAPIToken), on acme's own things,
# with bodies that would be accepted: only the token is wrong.
WITH_TOKEN: list[tuple[str, str, Callable[[dict[str, Any]], Any]]] = [
    ("GET", "/bc/v1/devices", lambda a: None),
    ("GET", f"/bc/v1/devices/profile/{OFFICE_AC}", lambda a: None),
    ("GET", f"/bc/v1/devices/{OFFICE_AC}", lambda a: None),
    (
        "POST",
        f"/bc/v1/devices/{OFFICE_AC}",
        lambda a: {"operation": {"airConOperationMode": "POWER_ON"}},
    ),
    ("GET", "/bc/v1/push", lambda a: None),
    ("POST", f"/bc/v1/push/{KR_AC}", lambda a: None),
    ("DELETE", f"/bc/v1/push/{OFFICE_AC}", lambda a: None),
    ("GET", "/bc/v1/users", lambda a: None),
    ("DELETE", "/bc/v1/user/service", lambda a: None),
    *[(method, path, body) for _, method, path, body in ON_ACME if path.startswith(DR)],
]


def forged(partner_token: str) -> str:
    """The same claims, signed with a key that is not the partner's."""
    claims = jwt.decode(partner_token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(partner_token).get("kid")
    return jwt.encode(claims, b"k" * 32, algorithm="HS256", headers={"kid": kid} if kid else None)


def expired(http: httpx.Client, _token: str) -> str:
    token = bc_token(http)
    assert http.post("/_sandbox/clock", json={"advance": 24 * 3600 + 1}).status_code == 200
    return token


def of_deleted_partner(http: httpx.Client, _token: str) -> str:
    token = bc_token(http)
    # The same scenario, acme-energy gone: its token names a partner that no longer is.
    document = scenario_with_rival()
    document["partners"] = [p for p in document["partners"] if p["partnerId"] != PARTNER]
    for device in document["devices"]:
        device["registeredTo"] = [p for p in device.get("registeredTo", []) if p != PARTNER]
    assert http.post("/_sandbox/scenario", json=document).status_code == 200, document
    return token


CASES: dict[str, Callable[[httpx.Client, str], str]] = {
    "signed with another key": lambda http, token: forged(token),
    "expired on the sandbox clock": expired,
    "for a deleted partner": of_deleted_partner,
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_operation_refuses_a_bad_token_with_4201(
    http: httpx.Client, acme: dict[str, Any], case: str
) -> None:
    token = CASES[case](http, bc_token(http))
    wrong = []
    for method, path, body in WITH_TOKEN:
        path = path.format(**acme)
        headers = headers_for(http, path, token, "acme-api-key-0001")
        answer = http.request(method, path, headers=headers, json=body(acme))
        if answer.status_code != 401 or answer.headers.get("X-Response-Code") != "4201":
            wrong.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
    assert wrong == []


def test_forged_token_keeps_the_partners_claims() -> None:
    # Guards the case above: the forgery differs from a real token only in its signature.
    real = jwt.encode({"sub": PARTNER, "roles": ALL_ROLES}, b"s" * 32, algorithm="HS256")
    fake = forged(real)
    assert jwt.decode(fake, options={"verify_signature": False}) == jwt.decode(
        real, options={"verify_signature": False}
    )
    assert fake.split(".")[2] != real.split(".")[2]


# ---------------------------------------------------------------------- zip names

ESCAPES = [
    "..%2F..%2Fpyproject.toml",
    "%2E%2E%2F%2E%2E%2Fpyproject.toml",
    "..%5C..%5Cpyproject.toml",
    "%2Fetc%2Fpasswd",
    "%2F%2Fetc%2Fpasswd",
    "C%3A%5Cwindows%5Cwin.ini",
    "data-zip-ev-acme-1.zip%00.txt",
    "%2E%2E",
]


@pytest.mark.parametrize("name", ESCAPES)
def test_zip_names_cannot_leave_their_folder(
    http: httpx.Client, acme: dict[str, Any], name: str
) -> None:
    token = bc_token(http)
    headers = headers_for(http, DR, token, "acme-api-key-0001")
    listed = http.get(f"{DR}/data-zip/files/{name}", headers=headers)
    assert listed.status_code in (400, 404, 405), listed.text
    assert b"[project]" not in listed.content and b"root:" not in listed.content
    # The presigned download with acme's own valid signature, the name swapped.
    query = acme["url"].split("?", 1)[1]
    download = http.get(f"/_sandbox/files/{name}?{query}")
    assert download.status_code in (400, 403, 404, 405), download.text
    assert b"[project]" not in download.content and b"root:" not in download.content


def test_the_real_zip_still_downloads(http: httpx.Client, acme: dict[str, Any]) -> None:
    download = httpx.get(acme["url"])
    assert download.status_code == 200 and download.content[:2] == b"PK"
