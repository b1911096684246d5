"""The DR API over HTTP: each operation, each documented error, isolation, no 500s."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
import pytest
import yaml

from lgspecs.data import default_scenario
from mockserver.wire import new_message_id
from tests.api.test_token_and_auth import assert_refused
from tests.support import KR_AC, KR_FRIDGE, KR_USER, US_USER, US_WASHER, VIEWER_KEY, bc_token

PARTNER = "acme-energy"
RIVAL = "rival-energy"
RIVAL_KEY, RIVAL_SECRET = "rival-api-key-0003", "rival-api-secret-0003"
DR = "/bc/v1/dr"
MINUTE = 60_000


def dr_headers(http: httpx.Client, key: str = "acme-api-key-0001", **extra: str) -> dict:
    secret = {
        "acme-api-key-0001": "acme-api-secret-0001",
        VIEWER_KEY: "viewer-api-secret-0002",
        RIVAL_KEY: RIVAL_SECRET,
    }[key]
    headers = {
        "X-Api-Key": key,
        "X-Api-Token": bc_token(http, key, secret),
        "X-Message-Id": new_message_id(),
        "X-Country-Code": "KR",
    }
    headers.update(extra)
    return headers


@pytest.fixture
def h(http: httpx.Client) -> dict:
    return dr_headers(http)


def ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Response-Code"] == "2000"
    body = answer.json()
    assert body["code"] == 2000
    return body["data"]


def frozen_now(http: httpx.Client) -> int:
    """Freeze the sandbox clock; its instant in milliseconds."""
    http.post("/_sandbox/clock", json={"freeze": True})
    from datetime import datetime

    return int(datetime.fromisoformat(http.get("/_sandbox/clock").json()["now"]).timestamp() * 1000)


def advance(http: httpx.Client, seconds: float) -> None:
    assert http.post("/_sandbox/clock", json={"advance": seconds}).status_code == 200


def user_body(user_no: str = KR_USER, partner: str = PARTNER, code: str = "auth-kr", **extra: Any):
    return {
        "userNo": user_no,
        "accessToken": "emp-access-token",
        "refreshToken": "emp-refresh-token",
        "partner": {"partnerId": partner, "authCodeExt": code},
        **extra,
    }


def event_body(now: int, **extra: Any) -> dict:
    body = {
        "eventId": "ev-1",
        "eventName": "evening peak",
        "partnerId": PARTNER,
        "startTs": now + 10 * MINUTE,
        "endTs": now + 40 * MINUTE,
        "targets": [{"targetType": "USER", "targetIds": [KR_USER]}],
        "signals": [
            {
                "signalId": "ev-1-s1",
                "deviceType": "DEVICE_AIR_CONDITIONER",
                "signalType": "CONTROL_RESTORE",
                "controlType": "Temperature",
                "restoreType": "Temperature",
                "signalData": {"temperature": {"min": 29, "max": 30, "unit": "C"}},
            }
        ],
    }
    body.update(extra)
    return body


@pytest.fixture
def enrolled(http: httpx.Client, h: dict) -> dict:
    """A group, KR2024000000001 enrolled in it, and an event over the user: the setup most
    DR calls need."""
    now = frozen_now(http)
    ok(http.post(f"{DR}/groups", headers=h, json={"groupId": "g-1", "partnerId": PARTNER}))
    ok(http.post(f"{DR}/users", headers=h, json=user_body(groupId="g-1")))
    ok(http.post(f"{DR}/events", headers=h, json=event_body(now)))
    return {"now": now}


def load_with_rival(http: httpx.Client) -> None:
    """The default scenario plus a second partner holding the DR role."""
    document = yaml.safe_load(default_scenario().read_text())
    document["partners"].append(
        {
            "partnerId": RIVAL,
            "apiKey": RIVAL_KEY,
            "apiSecret": RIVAL_SECRET,
            "roles": ["postToken", "getDrUsers"],
        }
    )
    assert http.post("/_sandbox/scenario", json=document).status_code == 200


OPERATIONS = [
    ("POST", "/groups", {"groupId": "g", "partnerId": PARTNER}),
    ("GET", "/groups/g", None),
    ("GET", f"/partners/{PARTNER}/groups", None),
    ("POST", "/users", user_body()),
    ("DELETE", f"/users/{KR_USER}", None),
    ("GET", f"/users/{KR_USER}", None),
    ("GET", f"/users/{KR_USER}/devices", None),
    ("GET", f"/users/{KR_USER}/devices/{KR_AC}", None),
    ("POST", "/events", event_body(1767225600000)),
    ("POST", "/events/e/targets", {"type": "USER", "id": KR_USER, "opt": "IN"}),
    ("POST", f"/events/e/targets/{KR_USER}", {"opt": "OUT"}),
    ("POST", "/events/e/targets/batch", []),
    ("POST", "/data-zip/files", {"eventId": "e"}),
    ("GET", "/data-zip/files/data-zip-e-1700000000000.zip", None),
]


# ---------------------------------------------------------------------- every operation


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_every_operation_needs_the_dr_role(
    http: httpx.Client, method: str, path: str, body: Any
) -> None:
    headers = dr_headers(http, VIEWER_KEY)
    answer = http.request(method, DR + path, headers=headers, json=body)
    assert_refused(answer, 403, "4202", "getDrUsers")
    assert answer.headers["X-Message-Id"] == headers["X-Message-Id"]


@pytest.mark.parametrize(
    ("change", "status", "code", "names"),
    [
        ({"X-Country-Code": None}, 400, "4101", "X-Country-Code"),
        ({"X-Country-Code": "KOR"}, 400, "4101", "X-Country-Code"),
        ({"X-Api-Key": None}, 400, "4101", "X-Api-Key"),
        ({"X-Api-Token": None}, 400, "4103", "X-Api-Token"),
        ({"X-Api-Token": "abc"}, 400, "4103", "X-Api-Token"),
        ({"X-Api-Key": "unknown-key"}, 401, "4201", "X-Api-Key"),
        ({"X-Message-Id": "short"}, 400, "4101", "X-Message-Id"),
    ],
)
def test_header_refusals(
    http: httpx.Client, h: dict, change: dict, status: int, code: str, names: str
) -> None:
    headers = {k: v for k, v in {**h, **change}.items() if v is not None}
    assert_refused(http.get(f"{DR}/groups/g", headers=headers), status, code, names)


def test_lower_case_country_and_no_message_id_are_accepted(http: httpx.Client, h: dict) -> None:
    headers = {k: v for k, v in h.items() if k != "X-Message-Id"} | {"X-Country-Code": "us"}
    assert ok(http.get(f"{DR}/partners/{PARTNER}/groups", headers=headers)) == []


def test_expired_token_is_refused(http: httpx.Client, h: dict) -> None:
    advance(http, 24 * 3600 + 1)
    assert_refused(http.get(f"{DR}/groups/g", headers=h), 401, "4201", "expired")


def test_wrong_method_and_unknown_route(http: httpx.Client, h: dict) -> None:
    assert_refused(http.delete(f"{DR}/groups", headers=h), 405, "4000")
    assert_refused(http.post(f"{DR}/data-zip/files/x.zip", headers=h, json={}), 405, "4000")
    assert_refused(http.get(f"{DR}/nothing", headers=h), 404, "4000")


# ---------------------------------------------------------------------- groups


def test_group_lifecycle(http: httpx.Client, h: dict) -> None:
    group = {
        "groupId": "k-apt-1168011000",
        "groupName": "압구정 현대 1차 아파트",
        "partnerId": PARTNER,
        "areaCode": "1168011000",
        "buildingCode": "1168011000103690001004767",
        "comment": "first",
    }
    assert ok(http.post(f"{DR}/groups", headers=h, json=group)) == {"groupId": group["groupId"]}
    assert ok(http.get(f"{DR}/groups/{group['groupId']}", headers=h)) == group
    updated = {**group, "comment": "second"}
    ok(http.post(f"{DR}/groups", headers=h, json=updated))
    ok(http.post(f"{DR}/groups", headers=h, json={"groupId": "g-2", "partnerId": PARTNER}))
    listed = ok(http.get(f"{DR}/partners/{PARTNER}/groups", headers=h))
    assert [g["groupId"] for g in listed] == [group["groupId"], "g-2"]
    assert listed[0]["comment"] == "second"
    assert listed[1] == {
        "groupId": "g-2",
        "groupName": "",
        "partnerId": PARTNER,
        "areaCode": "",
        "buildingCode": "",
        "comment": "",
    }


@pytest.mark.parametrize(
    ("body", "status", "code", "names"),
    [
        ({"partnerId": PARTNER}, 400, "4102", "body.groupId"),
        ({"groupId": "g"}, 400, "4102", "body.partnerId"),
        ({"groupId": "g", "partnerId": PARTNER, "areaCode": "11"}, 400, "4102", "areaCode"),
        ({"groupId": 7, "partnerId": PARTNER}, 400, "4102", "groupId"),
        ({"groupId": "g", "partnerId": "nobody"}, 404, "4307", "nobody"),
        ({"groupId": "g", "partnerId": "viewer-co"}, 403, "4202", "partnerId"),
    ],
)
def test_group_refusals(
    http: httpx.Client, h: dict, body: dict, status: int, code: str, names: str
) -> None:
    assert_refused(http.post(f"{DR}/groups", headers=h, json=body), status, code, names)


def test_group_reads_refused(http: httpx.Client, h: dict) -> None:
    assert_refused(http.get(f"{DR}/groups/none", headers=h), 404, "4308", "none")
    assert_refused(http.get(f"{DR}/partners/nobody/groups", headers=h), 404, "4307")
    assert_refused(http.get(f"{DR}/partners/viewer-co/groups", headers=h), 403, "4202")
    assert_refused(http.post(f"{DR}/groups", headers=h), 400, "4102", "body")


# ---------------------------------------------------------------------- users


def test_user_lifecycle(http: httpx.Client, h: dict) -> None:
    ok(http.post(f"{DR}/groups", headers=h, json={"groupId": "g-1", "partnerId": PARTNER}))
    created = ok(http.post(f"{DR}/users", headers=h, json=user_body(groupId="g-1")))
    assert created == {"userNo": KR_USER}
    assert ok(http.get(f"{DR}/users/{KR_USER}", headers=h)) == {
        "userNo": KR_USER,
        "drHomeId": "home-kr-1",
        "partnerId": PARTNER,
        "groupId": "g-1",
    }
    devices = ok(http.get(f"{DR}/users/{KR_USER}/devices", headers=h))
    assert KR_AC in {d["deviceId"] for d in devices} and US_WASHER not in str(devices)
    ac = ok(http.get(f"{DR}/users/{KR_USER}/devices/{KR_AC}", headers=h))
    assert ac == next(d for d in devices if d["deviceId"] == KR_AC)
    assert ac["deviceType"] == "DEVICE_AIR_CONDITIONER" and ac["modelName"] == "PAC_910604_US"
    assert ac["alias"] == "Living room air conditioner" and ac["homeId"] == "home-kr-1"
    assert ac["groupId"] == "g-1" and ac["userNo"] == KR_USER
    assert ac["drParticipate"] is True and ac["opt"] == "OUT"
    assert len(ac["macAddress"]) == 16
    assert ok(http.delete(f"{DR}/users/{KR_USER}", headers=h)) == {"userNo": KR_USER}
    for answer in (
        http.get(f"{DR}/users/{KR_USER}", headers=h),
        http.get(f"{DR}/users/{KR_USER}/devices", headers=h),
        http.get(f"{DR}/users/{KR_USER}/devices/{KR_AC}", headers=h),
        http.delete(f"{DR}/users/{KR_USER}", headers=h),
    ):
        assert_refused(answer, 404, "4301", KR_USER)
    # deleted, the userNo can be enrolled again
    ok(http.post(f"{DR}/users", headers=h, json=user_body()))


@pytest.mark.parametrize(
    ("body", "status", "code", "names"),
    [
        ({k: v for k, v in user_body().items() if k != "partner"}, 400, "4102", "body.partner"),
        ({**user_body(), "accessToken": None}, 400, "4102", "accessToken"),
        (user_body() | {"partner": {"partnerId": PARTNER}}, 400, "4102", "authCodeExt"),
        (user_body(insertTs=1767225600000), 400, "4102", "body.insertTs"),
        (user_body(groupId="none"), 404, "4308", "body.groupId"),
        (user_body(partner="nobody"), 404, "4307", "nobody"),
        (user_body(partner="viewer-co"), 403, "4202", "partner.partnerId"),
    ],
)
def test_user_refusals(
    http: httpx.Client, h: dict, body: dict, status: int, code: str, names: str
) -> None:
    body = {k: v for k, v in body.items() if v is not None}
    assert_refused(http.post(f"{DR}/users", headers=h, json=body), status, code, names)


def test_user_conflicts(http: httpx.Client, h: dict) -> None:
    ok(http.post(f"{DR}/users", headers=h, json=user_body()))
    again = http.post(f"{DR}/users", headers=h, json=user_body(code="other"))
    assert_refused(again, 409, "4309", KR_USER)
    connected = http.post(f"{DR}/users", headers=h, json=user_body(US_USER, code="auth-kr"))
    assert_refused(connected, 409, "4312", "authCodeExt")


def test_device_of_another_user(http: httpx.Client, h: dict) -> None:
    ok(http.post(f"{DR}/users", headers=h, json=user_body()))
    answer = http.get(f"{DR}/users/{KR_USER}/devices/{US_WASHER}", headers=h)
    assert_refused(answer, 404, "4304", US_WASHER)


# ---------------------------------------------------------------------- events


def test_event_create_and_update(http: httpx.Client, h: dict, enrolled: dict) -> None:
    body = event_body(enrolled["now"], eventName="renamed")
    assert ok(http.post(f"{DR}/events", headers=h, json=body)) == {"eventId": "ev-1"}
    state = http.get("/_sandbox/state").json()["dr"]["events"]
    assert [e["eventName"] for e in state] == ["renamed"]


@pytest.mark.parametrize(
    ("change", "status", "code", "names"),
    [
        ({"eventName": None}, 400, "4102", "body.eventName"),
        ({"targets": None}, 400, "4102", "body.targets"),
        ({"startTs": "soon"}, 400, "4102", "startTs"),
        ({"startTs": 1767225600}, 400, "4102", "13 digits"),
        ({"endTs": 1000}, 400, "4102", "body.endTs"),
        ({"targets": [{"targetType": "HOUSE", "targetIds": ["x"]}]}, 400, "4102", "targetType"),
        ({"targets": [1]}, 400, "4102", "body.targets[0]"),
        ({"signals": [{"signalId": "s", "deviceType": "X"}]}, 400, "4102", "signalType"),
        ({"targets": [{"targetType": "GROUP", "targetIds": ["none"]}]}, 404, "4308", "none"),
        ({"targets": [{"targetType": "USER", "targetIds": ["KR0"]}]}, 404, "4301", "KR0"),
        ({"targets": [{"targetType": "USER", "targetIds": [US_USER]}]}, 404, "4313", US_USER),
        ({"targets": [{"targetType": "DEVICE", "targetIds": [US_WASHER]}]}, 404, "4304", ""),
        ({"partnerId": "viewer-co"}, 403, "4202", "partnerId"),
        ({"partnerId": "nobody"}, 404, "4307", "nobody"),
    ],
)
def test_event_refusals(
    http: httpx.Client, h: dict, enrolled: dict, change: dict, status: int, code: str, names: str
) -> None:
    body = {k: v for k, v in event_body(enrolled["now"], **change).items() if v is not None}
    body["eventId"] = "ev-2"
    assert_refused(http.post(f"{DR}/events", headers=h, json=body), status, code, names)


def test_event_signal_rules(http: httpx.Client, h: dict, enrolled: dict) -> None:
    base = event_body(enrolled["now"])["signals"][0]
    for signal, names in [
        ({**base, "controlType": "Cooler"}, "controlType"),
        ({**base, "restoreType": "ToU"}, "restoreType"),
        ({**base, "signalData": {}}, "signalData.temperature"),
        ({**base, "signalData": {"temperature": {"min": 30, "max": 20}}}, "max"),
        ({**base, "modelNames": [1]}, "modelNames"),
    ]:
        body = event_body(enrolled["now"], eventId="ev-2", signals=[signal])
        assert_refused(http.post(f"{DR}/events", headers=h, json=body), 400, "4102", names)


def test_window_already_over_is_refused(http: httpx.Client, h: dict, enrolled: dict) -> None:
    now = enrolled["now"]
    body = event_body(now, eventId="ev-2", startTs=now - 20 * MINUTE, endTs=now - MINUTE)
    assert_refused(http.post(f"{DR}/events", headers=h, json=body), 400, "4102", "already over")


def test_a_device_is_a_device_target_of_one_event_at_a_time(
    http: httpx.Client, h: dict, enrolled: dict
) -> None:
    now = enrolled["now"]
    device = [{"targetType": "DEVICE", "targetIds": [KR_AC]}]
    ok(http.post(f"{DR}/events", headers=h, json=event_body(now, eventId="ev-2", targets=device)))
    overlapping = event_body(now, eventId="ev-3", targets=device, startTs=now + 30 * MINUTE)
    assert_refused(http.post(f"{DR}/events", headers=h, json=overlapping), 409, "4314", "ev-2")
    target = {"type": "DEVICE", "id": KR_AC, "opt": "OUT"}
    assert_refused(http.post(f"{DR}/events/ev-1/targets", headers=h, json=target), 409, "4314")


# ---------------------------------------------------------------------- targets


def test_targets_create_update_and_refusals(http: httpx.Client, h: dict, enrolled: dict) -> None:
    target = {"type": "DEVICE", "id": KR_FRIDGE, "opt": "OUT"}
    assert ok(http.post(f"{DR}/events/ev-1/targets", headers=h, json=target)) == target
    again = http.post(f"{DR}/events/ev-1/targets", headers=h, json=target)
    assert_refused(again, 409, "4311", KR_FRIDGE)
    updated = ok(http.post(f"{DR}/events/ev-1/targets/{KR_FRIDGE}", headers=h, json={"opt": "IN"}))
    assert updated == {**target, "opt": "IN"}
    checks = [
        (http.post(f"{DR}/events/ev-1/targets/nobody", headers=h, json={"opt": "IN"}), 404, "4303"),
        (
            http.post(f"{DR}/events/none/targets/{KR_USER}", headers=h, json={"opt": "IN"}),
            404,
            "4302",
        ),
        (http.post(f"{DR}/events/none/targets", headers=h, json=target), 404, "4302"),
        (http.post(f"{DR}/events/ev-1/targets/{KR_USER}", headers=h, json={}), 400, "4102"),
        (
            http.post(f"{DR}/events/ev-1/targets/{KR_USER}", headers=h, json={"opt": "no"}),
            400,
            "4102",
        ),
        (
            http.post(f"{DR}/events/ev-1/targets", headers=h, json={"type": "USER", "id": "x"}),
            400,
            "4102",
        ),
        (
            http.post(f"{DR}/events/ev-1/targets", headers=h, json={**target, "type": "HOME"}),
            400,
            "4102",
        ),
        (
            http.post(
                f"{DR}/events/ev-1/targets",
                headers=h,
                json={"type": "GROUP", "id": "no", "opt": "IN"},
            ),
            404,
            "4308",
        ),
    ]
    for answer, status, code in checks:
        assert_refused(answer, status, code)


def test_batch_reports_each_item(http: httpx.Client, h: dict, enrolled: dict) -> None:
    items = [
        {"action": "create", "path": "/", "value": {"type": "DEVICE", "id": KR_AC, "opt": "OUT"}},
        {"action": "update", "path": "/KRXXX", "value": {"opt": "OUT"}},
        {"action": "replace", "path": f"/{KR_USER}", "value": {"opt": "OUT"}},
        {"action": "create", "path": "/", "value": {"type": "DEVICE", "id": KR_AC, "opt": "IN"}},
        {"action": "remove", "path": "/", "value": {}},
    ]
    results = ok(http.post(f"{DR}/events/ev-1/targets/batch", headers=h, json=items))
    assert [r["status"] for r in results] == ["success", "fail", "success", "fail", "fail"]
    assert [r.get("code") for r in results] == [None, 4303, None, 4311, 4102]
    assert all(
        r["action"] == i["action"] and r["path"] == i["path"]
        for r, i in zip(results, items, strict=True)
    )
    assert "KRXXX" in results[1]["message"]
    [event] = http.get("/_sandbox/state").json()["dr"]["events"]
    opts = {t["targetType"]: t["opt"] for t in event["targets"]}
    assert opts == {"USER": "OUT", "DEVICE": "OUT"}


def test_batch_request_level_refusals(http: httpx.Client, h: dict, enrolled: dict) -> None:
    item = {"action": "update", "path": f"/{KR_USER}", "value": {"opt": "IN"}}
    assert_refused(
        http.post(f"{DR}/events/none/targets/batch", headers=h, json=[item]), 404, "4302"
    )
    bad = http.post(f"{DR}/events/ev-1/targets/batch", headers=h, json=[{"action": "update"}])
    assert_refused(bad, 400, "4102", "path")
    assert_refused(http.post(f"{DR}/events/ev-1/targets/batch", headers=h, json=[7]), 400, "4102")
    assert_refused(http.post(f"{DR}/events/ev-1/targets/batch", headers=h, json={}), 400, "4102")


# ---------------------------------------------------------------------- data zip


def test_data_zip_lifecycle(http: httpx.Client, h: dict, enrolled: dict) -> None:
    advance(http, 45 * 60)
    made = ok(http.post(f"{DR}/data-zip/files", headers=h, json={"eventId": "ev-1"}))
    name = made["fileName"]
    assert name == f"data-zip-ev-1-{enrolled['now'] + 45 * MINUTE}.zip"
    assert_refused(http.get(f"{DR}/data-zip/files/{name}", headers=h), 404, "4306", "not ready")
    advance(http, 2)
    url = ok(http.get(f"{DR}/data-zip/files/{name}", headers=h))["presignedUrl"]
    assert url.startswith(f"{http.base_url}/_sandbox/files/{name}?expires=")
    download = httpx.get(url)
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert "event.json" in archive.namelist() and f"devices/{KR_AC}.csv" in archive.namelist()
    # tampered, or past its 15 minutes on the sandbox clock: refused
    assert httpx.get(url.replace("signature=", "signature=0")).status_code == 403
    assert httpx.get(url.replace("expires=", "expires=9")).status_code == 403
    advance(http, 16 * 60)
    expired = httpx.get(url)
    assert expired.status_code == 403 and "expired" in expired.json()["error"]["message"]
    # 24 hours on, the file itself is gone
    advance(http, 24 * 3600)
    h = dr_headers(http)
    assert_refused(http.get(f"{DR}/data-zip/files/{name}", headers=h), 404, "4306", "expired")


def test_data_zip_refusals(http: httpx.Client, h: dict, enrolled: dict) -> None:
    unknown_target = {"eventId": "ev-1", "targets": [{"targetType": "USER", "targetId": "KR9"}]}
    checks = [
        (http.post(f"{DR}/data-zip/files", headers=h, json={"eventId": "none"}), 404, "4302"),
        (http.post(f"{DR}/data-zip/files", headers=h, json=unknown_target), 404, "4303"),
        (http.post(f"{DR}/data-zip/files", headers=h, json={"targets": []}), 400, "4102"),
        (http.get(f"{DR}/data-zip/files/data-zip-x-1.zip", headers=h), 404, "4305"),
    ]
    for answer, status, code in checks:
        assert_refused(answer, status, code)


@pytest.mark.parametrize(
    "path",
    [
        "/_sandbox/files/data-zip-ev-1-1.zip?expires=9999999999&signature=abc",
        "/_sandbox/files/..%2F..%2Fetc%2Fpasswd?expires=9999999999&signature=abc",
        "/_sandbox/files/pyproject.toml?expires=9999999999&signature=abc",
    ],
)
def test_the_file_route_serves_only_signed_names(http: httpx.Client, path: str) -> None:
    answer = http.get(path)
    assert answer.status_code in (400, 403, 404) and b"[project]" not in answer.content


# ---------------------------------------------------------------------- isolation


def test_a_partner_sees_only_its_own_dr_data(http: httpx.Client) -> None:
    load_with_rival(http)
    h = dr_headers(http)
    now = frozen_now(http)
    ok(http.post(f"{DR}/groups", headers=h, json={"groupId": "g-1", "partnerId": PARTNER}))
    ok(http.post(f"{DR}/users", headers=h, json=user_body(groupId="g-1")))
    ok(http.post(f"{DR}/events", headers=h, json=event_body(now)))
    name = ok(http.post(f"{DR}/data-zip/files", headers=h, json={"eventId": "ev-1"}))["fileName"]
    rival = dr_headers(http, RIVAL_KEY)
    checks = [
        (http.get(f"{DR}/groups/g-1", headers=rival), 404, "4308"),
        (http.get(f"{DR}/partners/{PARTNER}/groups", headers=rival), 403, "4202"),
        (http.get(f"{DR}/users/{KR_USER}", headers=rival), 404, "4301"),
        (http.delete(f"{DR}/users/{KR_USER}", headers=rival), 404, "4301"),
        (http.get(f"{DR}/users/{KR_USER}/devices", headers=rival), 404, "4301"),
        (
            http.post(f"{DR}/events/ev-1/targets/{KR_USER}", headers=rival, json={"opt": "OUT"}),
            404,
            "4302",
        ),
        (http.post(f"{DR}/data-zip/files", headers=rival, json={"eventId": "ev-1"}), 404, "4302"),
        (http.get(f"{DR}/data-zip/files/{name}", headers=rival), 404, "4305"),
        # taking an id another partner holds
        (
            http.post(f"{DR}/groups", headers=rival, json={"groupId": "g-1", "partnerId": RIVAL}),
            409,
            "4315",
        ),
        (
            http.post(f"{DR}/users", headers=rival, json=user_body(partner=RIVAL, code="c2")),
            409,
            "4309",
        ),
        (
            http.post(
                f"{DR}/events",
                headers=rival,
                json=event_body(now, partnerId=RIVAL, targets=[]),
            ),
            409,
            "4310",
        ),
        # naming another partner's user as a target
        (
            http.post(
                f"{DR}/events",
                headers=rival,
                json=event_body(now, eventId="ev-r", partnerId=RIVAL),
            ),
            404,
            "4313",
        ),
    ]
    for answer, status, code in checks:
        assert_refused(answer, status, code)
    assert ok(http.get(f"{DR}/partners/{RIVAL}/groups", headers=rival)) == []


# ---------------------------------------------------------------------- state


def test_state_export_loads_back_identically(http: httpx.Client, h: dict, enrolled: dict) -> None:
    ok(
        http.post(
            f"{DR}/events/ev-1/targets",
            headers=h,
            json={"type": "DEVICE", "id": KR_AC, "opt": "OUT"},
        )
    )
    advance(http, 15 * 60)
    ok(http.post(f"{DR}/data-zip/files", headers=h, json={"eventId": "ev-1"}))
    first = http.get("/_sandbox/state").json()
    assert http.post("/_sandbox/scenario", json=first).status_code == 200
    second = http.get("/_sandbox/state").json()
    assert second["dr"] == first["dr"]
    assert second["dr"]["events"][0]["progress"]["phase"] == "active"


def test_a_bad_dr_block_is_refused_with_its_path(http: httpx.Client) -> None:
    document = yaml.safe_load(default_scenario().read_text())
    document["dr"] = {"users": [user_body(groupId="g-404")], "events": [{"eventId": "e"}]}
    answer = http.post("/_sandbox/scenario", json=document)
    assert answer.status_code == 400
    problems = answer.json()["error"]["problems"]
    assert any("$.dr.events[0]" in p and "eventName" in p for p in problems), problems


# ---------------------------------------------------------------------- never a 500


HOSTILE = [
    (
        "POST",
        "/events",
        b'{"eventId": "e", "eventName": "n", "partnerId": "acme-energy", '
        b'"startTs": NaN, "endTs": Infinity, "targets": []}',
    ),
    (
        "POST",
        "/events",
        b'{"eventId": "e", "eventName": "n", "partnerId": "acme-energy", '
        b'"startTs": 1e300, "endTs": 1e301, "targets": []}',
    ),
    (
        "POST",
        "/events",
        b'{"eventId": "e", "eventName": "n", "partnerId": "acme-energy", '
        b'"startTs": 1767225600000, "endTs": 1967225600000, "targets": [{"targetType": "USER", '
        b'"targetIds": [{"a": 1}]}], "signals": ["x", 1]}',
    ),
    (
        "POST",
        "/events",
        b'{"eventId": "e", "eventName": "n", "partnerId": "acme-energy", '
        b'"startTs": 1767225600000, "endTs": 1967225600000, "targets": [], "signals": [{"signalId":'
        b' "s", "deviceType": "D", "signalType": "CONTROL", "controlType": "Temperature", '
        b'"signalData": {"temperature": {"min": NaN, "max": 1}}}]}',
    ),
    (
        "POST",
        "/users",
        b'{"userNo": "u", "accessToken": "a", "refreshToken": "r", '
        b'"partner": {"partnerId": "acme-energy", "authCodeExt": "c"}, "insertTs": -Infinity}',
    ),
    ("POST", "/users", b"[]"),
    ("POST", "/groups", b'"text"'),
    ("POST", "/groups", b'{"groupId": "g", "partnerId": "acme-energy", "areaCode": 12}'),
    ("POST", "/events/e/targets/batch", b'[{"action": 1, "path": [], "value": "x"}]'),
    ("POST", "/events/e/targets", b'{"type": "USER", "id": "", "opt": "IN"}'),
    ("POST", "/data-zip/files", b'{"eventId": "e", "targets": [null, 3]}'),
    ("POST", "/data-zip/files", b"not json"),
    ("GET", "/data-zip/files/%00%ff", None),
    ("GET", "/users/%E2%98%83/devices/x%20y", None),
]


@pytest.mark.parametrize(("method", "path", "content"), HOSTILE)
def test_hostile_requests_never_get_a_500(
    http: httpx.Client, h: dict, method: str, path: str, content: bytes | None
) -> None:
    headers = {**h, "Content-Type": "application/json"}
    answer = http.request(method, DR + path, headers=headers, content=content)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["code"] == int(answer.headers["X-Response-Code"])
