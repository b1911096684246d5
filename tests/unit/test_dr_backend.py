"""The DR backend in-process: rules, event windows on devices, data files, scenarios."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from typing import Any

import pytest

from mockserver import scenario
from mockserver.backends.dr import checks as dr_checks
from mockserver.backends.dr import signals as dr_signals
from mockserver.backends.dr.model import TemperatureBounds
from mockserver.backends.sandbox import Sandbox
from mockserver.errors import ApiError, Err

P1, P2 = "power-co", "other-co"
U1, U2, LG_ONLY = "KR1", "KR2", "KR3"
AC1, AC2, FRIDGE, AC_OTHER = "ac-1", "ac-2", "fridge-1", "ac-9"
START = 1767225600000  # 2026-01-01T00:00:00Z, the frozen sandbox clock
MINUTE = 60_000


# The handlers parse DR bodies into the model's objects before calling the backend;
# these do the same for the backend's tests.
def as_group(body: Any) -> Any:
    return dr_checks.parse_group(body, "body")


def as_user(dr: Any, body: Any) -> Any:
    return dr_checks.parse_user(body, "body", int(dr.clock.timestamp()))


def as_target(body: Any) -> Any:
    return dr_checks.parse_target(body, "body")


def as_opt(body: Any) -> str:
    return dr_checks.opt(dr_checks.as_object(body, "body"), "body")


def as_batch(body: Any) -> Any:
    return dr_checks.parse_batch(body, "body")


def as_zip(body: Any) -> Any:
    return dr_checks.parse_zip_request(body, "body")


def _ac(device_id: str, owner: str, target: int, model: str = "RAC_056905_WW") -> dict:
    return {
        "deviceId": device_id,
        "deviceType": "DEVICE_AIR_CONDITIONER",
        "modelName": model,
        "owner": owner,
        "homeId": f"home-{owner}",
        "profile": "air_conditioner/basic.json",
        "status": {
            "operation": {"airConOperationMode": "POWER_ON"},
            "airConJobMode": {"currentJobMode": "COOL"},
            "temperature": {"currentTemperature": 30, "targetTemperature": target},
        },
    }


SCENARIO: dict[str, Any] = {
    "name": "dr-unit",
    "clock": {"now": "2026-01-01T00:00:00+00:00", "frozen": True},
    "partners": [
        {"partnerId": P1, "apiKey": "k1", "apiSecret": "s1"},
        {"partnerId": P2, "apiKey": "k2", "apiSecret": "s2"},
    ],
    "users": [
        {"userNumber": U1, "accessToken": "t1", "countryCode": "KR"},
        {"userNumber": U2, "accessToken": "t2", "countryCode": "KR"},
        {"userNumber": LG_ONLY, "accessToken": "t3", "countryCode": "KR"},
    ],
    "devices": [
        _ac(AC1, U1, 22),
        _ac(AC2, U1, 20, model="PAC_910604_US"),
        {
            "deviceId": FRIDGE,
            "deviceType": "DEVICE_REFRIGERATOR",
            "owner": U1,
            "profile": "refrigerator/basic.json",
        },
        _ac(AC_OTHER, U2, 22),
    ],
}


@pytest.fixture
def sandbox() -> Sandbox:
    return scenario.load(copy.deepcopy(SCENARIO), "dr-unit.yaml")


def user_body(user_no: str = U1, partner: str = P1, code: str = "auth-1", **extra: Any) -> dict:
    return {
        "userNo": user_no,
        "accessToken": "emp-access",
        "refreshToken": "emp-refresh",
        "partner": {"partnerId": partner, "authCodeExt": code},
        **extra,
    }


def signal(**extra: Any) -> dict:
    return {
        "signalId": "s1",
        "deviceType": "DEVICE_AIR_CONDITIONER",
        "signalType": "CONTROL_RESTORE",
        "controlType": "Temperature",
        "restoreType": "Temperature",
        "signalData": {"temperature": {"min": 26, "max": 28, "unit": "C"}},
        **extra,
    }


def event_body(**extra: Any) -> dict:
    body = {
        "eventId": "e1",
        "eventName": "peak",
        "partnerId": P1,
        "startTs": START + 10 * MINUTE,
        "endTs": START + 40 * MINUTE,
        "targets": [{"targetType": "USER", "targetIds": [U1]}],
        "signals": [signal()],
    }
    body.update(extra)
    return body


@pytest.fixture
def enrolled(sandbox: Sandbox) -> Sandbox:
    dr = sandbox.dr
    dr.put_group(P1, as_group({"groupId": "g1", "partnerId": P1, "areaCode": "1168011000"}))
    dr.create_user(P1, as_user(dr, user_body(groupId="g1")))
    return sandbox


def refused(action: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        action()
    return caught.value


def target_temperature(sandbox: Sandbox, device_id: str) -> Any:
    return sandbox.devices.get(device_id).status["temperature"]["targetTemperature"]


def move(sandbox: Sandbox, minutes: float) -> None:
    sandbox.clock.advance(minutes * 60)
    sandbox.tick()


# ---------------------------------------------------------------------- groups and users


def test_group_upsert_and_isolation(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_group(P1, as_group({"groupId": "g1", "partnerId": P1, "groupName": "renamed"}))
    assert dr.group(P1, "g1").to_api()["groupName"] == "renamed"
    assert [g.group_id for g in dr.groups_of(P1, P1)] == ["g1"]
    assert refused(lambda: dr.group(P2, "g1")).reason is Err.DR_GROUP_NOT_FOUND
    taken = refused(lambda: dr.put_group(P2, as_group({"groupId": "g1", "partnerId": P2})))
    assert taken.reason is Err.DR_GROUP_EXISTS
    assert refused(lambda: dr.groups_of(P1, P2)).reason is Err.FORBIDDEN
    assert refused(lambda: dr.groups_of(P1, "nobody")).reason is Err.DR_PARTNER_NOT_FOUND
    foreign = refused(lambda: dr.put_group(P1, as_group({"groupId": "g2", "partnerId": P2})))
    assert foreign.reason is Err.FORBIDDEN and foreign.field == "body.partnerId"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"groupId": "g", "partnerId": P1, "areaCode": "123"}, "body.areaCode"),
        ({"groupId": "g", "partnerId": P1, "buildingCode": "12"}, "body.buildingCode"),
        ({"groupId": "", "partnerId": P1}, "body.groupId"),
    ],
)
def test_group_body_rules(sandbox: Sandbox, body: dict, field: str) -> None:
    error = refused(lambda: sandbox.dr.put_group(P1, as_group(body)))
    assert error.reason is Err.INVALID_BODY and error.field == field


def test_user_rules(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    user = dr.user(P1, U1)
    assert user.group_id == "g1" and user.insert_ts == START // 1000
    assert dr.user_view(user) == {
        "userNo": U1,
        "drHomeId": f"home-{U1}",
        "partnerId": P1,
        "groupId": "g1",
    }
    assert (
        refused(lambda: dr.create_user(P1, as_user(dr, user_body(code="x")))).reason
        is Err.DR_USER_EXISTS
    )
    same_code = refused(lambda: dr.create_user(P2, as_user(dr, user_body(U2, P2, "auth-1"))))
    assert same_code.reason is Err.DR_AUTH_CODE_CONNECTED
    assert same_code.field == "body.partner.authCodeExt"
    no_group = refused(
        lambda: dr.create_user(P1, as_user(dr, user_body(U2, code="c2", groupId="g9")))
    )
    assert no_group.reason is Err.DR_GROUP_NOT_FOUND and no_group.field == "body.groupId"
    assert refused(lambda: dr.user(P2, U1)).reason is Err.DR_USER_NOT_FOUND
    seconds = refused(
        lambda: dr.create_user(P1, as_user(dr, user_body(U2, code="c2", insertTs=START)))
    )
    assert seconds.reason is Err.INVALID_BODY and seconds.field == "body.insertTs"


def test_partner_user_id_links_one_user(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    body = user_body(U2, code="c2")
    body["partner"]["partnerUserId"] = "crm-7"
    dr.create_user(P1, as_user(dr, body))
    again = user_body(LG_ONLY, code="c3")
    again["partner"]["partnerUserId"] = "crm-7"
    assert (
        refused(lambda: dr.create_user(P1, as_user(dr, again))).reason is Err.DR_PARTNER_USER_EXISTS
    )


def test_user_devices_come_from_the_simulator(enrolled: Sandbox) -> None:
    views = [v.to_api() for v in enrolled.dr.user_devices(P1, U1)]
    assert [v["deviceId"] for v in views] == [AC1, AC2, FRIDGE]
    first = views[0]
    assert first["userNo"] == U1 and first["groupId"] == "g1" and first["homeId"] == f"home-{U1}"
    assert first["drParticipate"] is True and first["opt"] == "OUT"
    assert first["macAddress"] == views[0]["macAddress"] != views[1]["macAddress"]
    missing = refused(lambda: enrolled.dr.user_device(P1, U1, AC_OTHER))
    assert missing.reason is Err.DR_DEVICE_NOT_FOUND


# ---------------------------------------------------------------------- events and targets


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"eventName": None}, Err.MISSING_BODY_FIELD, "body.eventName"),
        ({"startTs": START // 1000}, Err.INVALID_BODY, "body.startTs"),
        ({"endTs": START + 10 * MINUTE}, Err.INVALID_BODY, "body.endTs"),
        ({"startTs": START - 90 * MINUTE, "endTs": START - MINUTE}, Err.INVALID_BODY, "body.endTs"),
        ({"targets": [{"targetType": "HOME", "targetIds": ["x"]}]}, Err.INVALID_BODY, None),
        ({"targets": [{"targetType": "USER", "targetIds": []}]}, Err.INVALID_BODY, None),
        ({"signals": [signal(signalType="STOP")]}, Err.INVALID_BODY, "body.signals[0].signalType"),
        ({"signals": [signal(controlType="Cool")]}, Err.INVALID_BODY, None),
        ({"signals": [signal(signalData={})]}, Err.MISSING_BODY_FIELD, None),
        ({"signals": [signal(), signal()]}, Err.INVALID_BODY, "body.signals[1].signalId"),
        ({"signals": [{"signalId": "s"}]}, Err.MISSING_BODY_FIELD, "body.signals[0].deviceType"),
    ],
)
def test_event_body_rules(enrolled: Sandbox, change: dict, reason: Err, field: str | None) -> None:
    body = {k: v for k, v in event_body(**change).items() if v is not None}
    error = refused(lambda: enrolled.dr.put_event(P1, body))
    assert error.reason is reason, error
    if field:
        assert error.field == field


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ({"targetType": "GROUP", "targetIds": ["g9"]}, Err.DR_GROUP_NOT_FOUND),
        ({"targetType": "USER", "targetIds": ["nobody"]}, Err.DR_USER_NOT_FOUND),
        ({"targetType": "USER", "targetIds": [LG_ONLY]}, Err.DR_PARTNER_USER_NOT_FOUND),
        ({"targetType": "DEVICE", "targetIds": [AC_OTHER]}, Err.DR_DEVICE_NOT_FOUND),
    ],
)
def test_unknown_event_targets(enrolled: Sandbox, target: dict, reason: Err) -> None:
    error = refused(lambda: enrolled.dr.put_event(P1, event_body(targets=[target])))
    assert error.reason is reason and error.field == "body.targets[0].targetIds[0]"


def test_event_upsert_keeps_opt_and_isolates_partners(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body())
    dr.update_target(P1, "e1", U1, as_opt({"opt": "OUT"}))
    dr.put_event(P1, event_body(eventName="renamed"))
    event = dr.event(P1, "e1")
    assert event.event_name == "renamed" and event.targets[U1].opt == "OUT"
    dr.create_user(P2, as_user(dr, user_body(U2, P2, "c2")))
    other = event_body(partnerId=P2, targets=[{"targetType": "USER", "targetIds": [U2]}])
    assert refused(lambda: dr.put_event(P2, other)).reason is Err.DR_EVENT_EXISTS
    assert refused(lambda: dr.event(P2, "e1")).reason is Err.DR_EVENT_NOT_FOUND


def test_target_operations(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body())
    added = dr.add_target(P1, "e1", as_target({"type": "DEVICE", "id": AC2, "opt": "OUT"}))
    assert added.to_api() == {"type": "DEVICE", "id": AC2, "opt": "OUT"}
    again = refused(
        lambda: dr.add_target(P1, "e1", as_target({"type": "DEVICE", "id": AC2, "opt": "IN"}))
    )
    assert again.reason is Err.DR_TARGET_EXISTS
    assert refused(lambda: dr.update_target(P1, "e1", "x", as_opt({"opt": "IN"}))).reason is (
        Err.DR_TARGET_NOT_FOUND
    )
    assert (
        refused(lambda: dr.update_target(P1, "e1", AC2, as_opt({"opt": "MAYBE"}))).field
        == "body.opt"
    )
    # a second event over the same time may not name the same device as a DEVICE target
    second = event_body(eventId="e2", targets=[{"targetType": "DEVICE", "targetIds": [AC2]}])
    assert refused(lambda: dr.put_event(P1, second)).reason is Err.DR_DEVICE_EXISTS
    later = {**second, "startTs": START + 50 * MINUTE, "endTs": START + 60 * MINUTE}
    dr.put_event(P1, later)


def test_batch_applies_good_items_and_reports_bad_ones(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body())
    results = dr.batch_targets(
        P1,
        "e1",
        as_batch(
            [
                {
                    "action": "create",
                    "path": "/",
                    "value": {"type": "DEVICE", "id": AC1, "opt": "IN"},
                },
                {"action": "update", "path": "/missing", "value": {"opt": "OUT"}},
                {"action": "replace", "path": f"/{U1}", "value": {"opt": "OUT"}},
                {"action": "delete", "path": f"/{U1}", "value": {}},
                {
                    "action": "create",
                    "path": "/x",
                    "value": {"type": "USER", "id": U1, "opt": "IN"},
                },
            ]
        ),
    )
    reasons = [r.error.reason if r.error else None for r in results]
    assert reasons == [None, Err.DR_TARGET_NOT_FOUND, None, Err.INVALID_BODY, Err.INVALID_BODY]
    event = dr.event(P1, "e1")
    assert event.targets[AC1].opt == "IN" and event.targets[U1].opt == "OUT"
    malformed = refused(lambda: dr.batch_targets(P1, "e1", as_batch([{"action": "create"}])))
    assert malformed.reason is Err.MISSING_BODY_FIELD and malformed.field == "body[0].path"


# ---------------------------------------------------------------------- windows on devices


def test_window_applies_restores_and_spares_opted_out(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body(targets=[{"targetType": "GROUP", "targetIds": ["g1"]}]))
    dr.add_target(P1, "e1", as_target({"type": "DEVICE", "id": AC2, "opt": "OUT"}))
    move(enrolled, 5)
    assert target_temperature(enrolled, AC1) == 22  # not yet
    move(enrolled, 10)
    assert target_temperature(enrolled, AC1) == 26  # raised into 26..28
    assert target_temperature(enrolled, AC2) == 20  # opted out: untouched
    opts = {v.device.device_id: v.to_api()["opt"] for v in dr.user_devices(P1, U1)}
    assert opts == {AC1: "IN", AC2: "OUT", FRIDGE: "OUT"}
    move(enrolled, 30)
    assert target_temperature(enrolled, AC1) == 22  # CONTROL_RESTORE put it back
    event = dr.event(P1, "e1")
    assert event.phase == "finished" and not event.controls
    rows = event.series[AC1].rows
    assert rows[0]["reason"] == "start" and rows[-1]["reason"] == "end"
    assert rows[0]["epochMs"] == START + 10 * MINUTE and rows[-1]["epochMs"] == START + 40 * MINUTE
    assert rows[0]["values"]["temperature.targetTemperature"] == 26
    assert rows[-1]["values"]["temperature.targetTemperature"] == 22
    assert {r["opt"] for r in event.series[AC2].rows} == {"OUT"}


def test_a_clock_jump_over_the_whole_window_still_runs_it(enrolled: Sandbox) -> None:
    enrolled.dr.put_event(P1, event_body(signals=[signal(signalType="CONTROL")]))
    move(enrolled, 120)
    assert target_temperature(enrolled, AC1) == 26  # CONTROL: no restore
    rows = enrolled.dr.event(P1, "e1").series[AC1].rows
    assert [r["reason"] for r in rows] == ["start", *["interval"] * 5, "end"]


def test_values_are_kept_within_bounds_and_restored(enrolled: Sandbox) -> None:
    enrolled.dr.put_event(P1, event_body())
    move(enrolled, 11)
    enrolled.devices.control(AC1, {"temperature": {"targetTemperature": 18}})
    enrolled.tick()
    assert target_temperature(enrolled, AC1) == 26
    move(enrolled, 40)
    assert target_temperature(enrolled, AC1) == 22


def test_opting_out_during_the_window_restores_at_once(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body())
    move(enrolled, 11)
    assert target_temperature(enrolled, AC1) == 26
    dr.add_target(P1, "e1", as_target({"type": "DEVICE", "id": AC1, "opt": "OUT"}))
    assert target_temperature(enrolled, AC1) == 22
    assert dr.event(P1, "e1").series[AC1].rows[-1]["reason"] == "opt"


def test_model_names_and_fahrenheit_bounds(enrolled: Sandbox) -> None:
    only_pac = signal(
        modelNames=["PAC_910604_US"],
        signalData={"temperature": {"min": 77, "max": 79, "unit": "F"}},
    )
    enrolled.dr.put_event(P1, event_body(signals=[only_pac]))
    move(enrolled, 11)
    assert target_temperature(enrolled, AC1) == 22  # another model
    assert target_temperature(enrolled, AC2) == 25  # 77 F = 25 C


def test_deleting_a_user_releases_its_devices(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body())
    move(enrolled, 11)
    dr.delete_user(P1, U1)
    assert target_temperature(enrolled, AC1) == 22
    assert U1 not in dr.event(P1, "e1").targets
    assert refused(lambda: dr.user(P1, U1)).reason is Err.DR_USER_NOT_FOUND


def test_signal_changes_reach_device_listeners(enrolled: Sandbox) -> None:
    heard: list[Any] = []
    enrolled.devices.on_change(heard.append)
    enrolled.dr.put_event(P1, event_body())
    move(enrolled, 11)
    assert [c.device.device_id for c in heard] == [AC1, AC2]
    assert all(c.source == "device" for c in heard)


def test_a_long_window_and_a_long_jump_stay_bounded(enrolled: Sandbox) -> None:
    year = 365 * 24 * 60 * MINUTE
    enrolled.dr.put_event(P1, event_body(endTs=START + year))
    move(enrolled, 2 * 365 * 24 * 60)
    event = enrolled.dr.event(P1, "e1")
    rows = event.series[AC1].rows
    assert event.phase == "finished" and rows[-1]["reason"] == "end"
    assert len([r for r in rows if r["reason"] == "interval"]) == 7 * 24 * 12


def test_empty_signals_take_part_without_changing_anything(enrolled: Sandbox) -> None:
    empty = signal(controlType="Empty", signalData={})
    enrolled.dr.put_event(P1, event_body(signals=[empty]))
    move(enrolled, 11)
    assert target_temperature(enrolled, AC1) == 22
    views = {v.device.device_id: v.to_api()["opt"] for v in enrolled.dr.user_devices(P1, U1)}
    assert views[AC1] == "IN" and views[FRIDGE] == "OUT"


def test_excluded_devices_are_never_controlled() -> None:
    document = copy.deepcopy(SCENARIO)
    document["dr"] = {
        "users": [user_body(excludedDevices=[AC2])],
        "events": [event_body(startTs=START - MINUTE)],
    }
    sandbox = scenario.load(document, "excluded.yaml")
    sandbox.tick()
    assert target_temperature(sandbox, AC1) == 26 and target_temperature(sandbox, AC2) == 20
    views = {v.device.device_id: v.to_api() for v in sandbox.dr.user_devices(P1, U1)}
    assert views[AC2]["drParticipate"] is False and views[AC2]["opt"] == "OUT"
    assert views[AC1]["drParticipate"] is True and views[AC1]["opt"] == "IN"


def test_an_update_can_move_a_running_event_later(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body())
    move(enrolled, 11)
    assert target_temperature(enrolled, AC1) == 26
    later = event_body(startTs=START + 60 * MINUTE, endTs=START + 90 * MINUTE)
    dr.put_event(P1, later)
    assert dr.event(P1, "e1").phase == "scheduled"
    assert target_temperature(enrolled, AC1) == 22
    move(enrolled, 50)
    assert target_temperature(enrolled, AC1) == 26


# ---------------------------------------------------------------------- data files


def test_data_zip_lifecycle(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body())
    move(enrolled, 45)
    made = dr.create_file(
        P1, as_zip({"eventId": "e1", "targets": [{"targetType": "USER", "targetId": U1}]})
    )
    assert made.file_name == f"data-zip-e1-{START + 45 * MINUTE}.zip"
    assert refused(lambda: dr.file(P1, made.file_name)).reason is Err.DR_ZIP_FILE_NOT_FOUND
    assert refused(lambda: dr.file(P2, made.file_name)).reason is Err.DR_ZIP_TASK_NOT_FOUND
    move(enrolled, 0.05)
    url = dr.presigned_url(dr.file(P1, made.file_name), "http://sandbox:1")
    assert url.startswith(f"http://sandbox:1/_sandbox/files/{made.file_name}?expires=")
    expires = int(url.split("expires=")[1].split("&")[0])
    signature = url.split("signature=")[1]
    archive = zipfile.ZipFile(io.BytesIO(dr.open_file(made.file_name, expires, signature)))
    summary = json.loads(archive.read("event.json"))
    assert summary["eventId"] == "e1" and summary["targets"][0]["targetId"] == U1
    assert {d["deviceId"] for d in summary["devices"]} == {AC1, AC2, FRIDGE}
    lines = archive.read(f"devices/{AC1}.csv").decode().splitlines()
    assert lines[0].startswith("timestamp,epochMs,reason,opt,participating")
    assert lines[1].split(",")[2:5] == ["start", "IN", "true"]
    tampered = refused(lambda: dr.open_file(made.file_name, expires + 1, signature))
    assert tampered.reason is Err.FORBIDDEN
    move(enrolled, 16)
    assert refused(lambda: dr.open_file(made.file_name, expires, signature)).reason is (
        Err.FORBIDDEN
    )
    not_a_target = {"eventId": "e1", "targets": [{"targetType": "GROUP", "targetId": U1}]}
    assert (
        refused(lambda: dr.create_file(P1, as_zip(not_a_target))).reason is Err.DR_TARGET_NOT_FOUND
    )


def test_an_unsigned_name_is_never_served(enrolled: Sandbox) -> None:
    error = refused(lambda: enrolled.dr.open_file("../../etc/passwd", 9999999999, "x"))
    assert error.reason is Err.FORBIDDEN
    dr = enrolled.dr
    signed = dr.presigner.signature("nothing.zip", 9999999999)
    missing = refused(lambda: dr.open_file("nothing.zip", 9999999999, signed))
    assert missing.reason is Err.DR_ZIP_FILE_NOT_FOUND


# ---------------------------------------------------------------------- scenarios


def test_export_load_export_is_identical_mid_window(enrolled: Sandbox) -> None:
    dr = enrolled.dr
    dr.put_event(P1, event_body())
    dr.add_target(P1, "e1", as_target({"type": "DEVICE", "id": AC2, "opt": "OUT"}))
    move(enrolled, 11)
    dr.create_file(P1, as_zip({"eventId": "e1"}))
    first = scenario.export(enrolled)
    again = scenario.load(copy.deepcopy(first), "export")
    assert scenario.export(again) == first
    assert first["dr"]["events"][0]["progress"]["controls"][AC1][0]["previous"] == 22
    # the reloaded sandbox still knows what to restore
    move(again, 40)
    assert target_temperature(again, AC1) == 22


def test_scenario_problems_name_the_path(sandbox: Sandbox) -> None:
    document = copy.deepcopy(SCENARIO)
    document["dr"] = {
        "groups": [{"groupId": "g1", "partnerId": "nobody"}],
        "users": [user_body(U1, P1, "c", groupId="g9")],
        "events": [event_body(startTs=123)],
    }
    with pytest.raises(scenario.ScenarioError) as caught:
        scenario.load(document, "bad.yaml")
    assert caught.value.problems == [
        "bad.yaml: $.dr.groups[0].partnerId: no partner 'nobody' in $.partners",
        "bad.yaml: $.dr.users[0].groupId: no group 'g9' of partner power-co",
        "bad.yaml: $.dr.events[0].startTs: must be 13 digits (milliseconds since the epoch), "
        "got 123 (3 digits)",
    ]


# ---------------------------------------------------------------------- signal arithmetic


@pytest.mark.parametrize(
    ("value", "low", "high", "unit", "expected"),
    [
        (22, 26, 28, "C", 26),
        (29, 26, 28, "C", 28),
        (27, 26, 28, "C", 27),
        (22, 26.5, 28, "C", 27),  # the device's step is 1
        (22, 32, 35, "C", 30),  # beyond the device's range: its nearest end
        (22, 5, 10, "C", 18),  # the readable range starts at 16; writable at 18
        (22, 80, 86, "F", 27),
    ],
)
def test_clamp(
    sandbox: Sandbox, value: float, low: float, high: float, unit: str, expected: float
) -> None:
    device = sandbox.devices.get(AC1)
    (ref,) = dr_signals.controlled_refs(device, "Temperature")
    clamped = dr_signals.clamp(value, TemperatureBounds(low, high, unit), "C", ref)
    assert clamped == expected
