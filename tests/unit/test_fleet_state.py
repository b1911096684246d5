"""Copy-on-write devices: a reset drops what changed, exports stay exact, changes are told."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockserver import scenario
from mockserver.backends.dr.checks import parse_group
from mockserver.runtime import Runtime

PARTNER = "fleet-partner"
USER = "KR2024000000777"
TYPES = [
    ("DEVICE_AIR_CONDITIONER", "air_conditioner/basic.json"),
    ("DEVICE_WASHER", "washer/basic.json"),
    ("DEVICE_REFRIGERATOR", "refrigerator/basic.json"),
    ("DEVICE_DISH_WASHER", "dish_washer/basic.json"),
]


def fleet_document(count: int = 400) -> dict[str, Any]:
    devices = []
    for index in range(count):
        device_type, profile = TYPES[index % len(TYPES)]
        devices.append(
            {
                "deviceId": f"{index:064x}",
                "deviceType": device_type,
                "modelName": f"MODEL-{index % 7}",
                "alias": f"Device {index}",
                "owner": USER,
                "registeredTo": [PARTNER],
                "profile": profile,
            }
        )
    return {
        "name": "fleet",
        "seed": 7,
        "clock": {"now": "2026-01-01T00:00:00+00:00", "frozen": True},
        "partners": [
            {
                "partnerId": PARTNER,
                "apiKey": "fleet-key",
                "apiSecret": "fleet-secret",
                "callbackUrl": "http://127.0.0.1:9/lg",
            }
        ],
        "services": [
            {"serviceId": "fleet-service", "serviceKey": "fleet-service-key"},
        ],
        "users": [{"userNumber": USER, "accessToken": "fleet-token", "countryCode": "KR"}],
        "devices": devices,
        "dr": {
            "groups": [{"groupId": "block-a", "partnerId": PARTNER}],
        },
    }


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


def test_reset_restores_a_changed_device_dr_entity_subscription_and_clock() -> None:
    runtime = Runtime(fleet_document(), "<fleet>")
    before = canonical(scenario.export(runtime.sandbox))
    sandbox = runtime.sandbox
    ac = f"{0:064x}"
    sandbox.devices.control(ac, {"temperature": {"targetTemperature": 18}})
    sandbox.devices.set_online(f"{1:064x}", False)
    sandbox.accounts.partners[PARTNER].push_subscriptions.add(ac)
    sandbox.thinq.subscribe_events(
        sandbox.accounts.services["fleet-service"], sandbox.accounts.users[USER], 1
    )
    sandbox.dr.put_group(PARTNER, parse_group({"groupId": "block-b", "partnerId": PARTNER}, "body"))
    sandbox.clock.advance(3600)
    assert canonical(scenario.export(sandbox)) != before

    reset = runtime.reset()
    assert reset is not sandbox
    assert canonical(scenario.export(reset)) == before
    assert reset.devices.get(ac).status == scenario.load(fleet_document()).devices.get(ac).status
    assert reset.devices.changed_ids() == set()
    assert reset.clock.now().isoformat() == "2026-01-01T00:00:00+00:00"


def test_a_reset_shares_the_fleet_and_materialises_nothing() -> None:
    runtime = Runtime(fleet_document(), "<fleet>")
    fleet = runtime.sandbox.devices.fleet
    runtime.sandbox.devices.control(f"{4:064x}", {"temperature": {"targetTemperature": 20}})
    reset = runtime.reset()
    assert reset.devices.fleet is fleet
    assert not any(reset.devices.is_materialised(device_id) for device_id in fleet.records)


def test_export_load_export_is_identical_after_changes() -> None:
    sandbox = scenario.load(fleet_document())
    sandbox.devices.control(f"{0:064x}", {"temperature": {"targetTemperature": 19}})
    sandbox.devices.set_online(f"{2:064x}", False)
    for all_statuses in (True, False):
        first = scenario.export(sandbox, all_statuses=all_statuses)
        again = scenario.export(scenario.load(first), all_statuses=all_statuses)
        assert canonical(again) == canonical(first)


def test_the_compact_export_writes_only_statuses_that_differ() -> None:
    sandbox = scenario.load(fleet_document(40))
    changed = f"{0:064x}"
    sandbox.devices.control(changed, {"temperature": {"targetTemperature": 19}})
    compact = scenario.export(sandbox, all_statuses=False)
    with_status = [entry["deviceId"] for entry in compact["devices"] if "status" in entry]
    assert with_status == [changed]
    full = scenario.export(scenario.load(compact))
    assert canonical(full) == canonical(scenario.export(sandbox))


def test_the_streamed_export_is_the_export() -> None:
    sandbox = scenario.load(fleet_document(1200))
    sandbox.devices.control(f"{8:064x}", {"temperature": {"targetTemperature": 21}})
    text = b"".join(scenario.export_stream(sandbox))
    assert canonical(json.loads(text)) == canonical(scenario.export(sandbox))


def test_take_changes_names_changed_devices_and_families_once() -> None:
    sandbox = scenario.load(fleet_document(20))
    assert not sandbox.take_changes()
    ac, washer = f"{0:064x}", f"{1:064x}"
    sandbox.devices.control(ac, {"temperature": {"targetTemperature": 18}})
    sandbox.devices.set_online(washer, False)
    sandbox.dr.put_group(PARTNER, parse_group({"groupId": "block-b", "partnerId": PARTNER}, "body"))
    sandbox.thinq.subscribe_push(
        sandbox.accounts.services["fleet-service"], sandbox.accounts.users[USER]
    )
    changes = sandbox.take_changes()
    assert changes.devices == {ac, washer}
    assert changes.families == {"dr", "thinqAsync"}
    assert not sandbox.take_changes()


def test_every_device_change_is_heard_online_included() -> None:
    sandbox = scenario.load(fleet_document(8))
    heard: list[Any] = []
    sandbox.devices.on_change(heard.append)
    sandbox.devices.set_online(f"{1:064x}", False)
    sandbox.devices.control(f"{0:064x}", {"temperature": {"targetTemperature": 18}})
    kinds = [type(event).__name__ for event in heard]
    assert kinds == ["DeviceUpdate", "DeviceChange"]
    assert heard[0].fields == ("online",)


def test_listing_a_fleet_materialises_no_device() -> None:
    sandbox = scenario.load(fleet_document(100))
    listed = sandbox.devices.registered_to(PARTNER)
    assert len(listed) == 100
    assert not any(sandbox.devices.is_materialised(info.device_id) for info in listed)
    assert sandbox.devices.owned_ids(USER)[:2] == (f"{0:064x}", f"{1:064x}")


def test_an_empty_scenario_file_is_refused_with_what_to_write() -> None:
    for text in ("", "\n", "# nothing but a comment\n"):
        with pytest.raises(scenario.ScenarioError, match="the scenario is empty"):
            scenario.parse(text, "empty.yaml")
    assert scenario.load(scenario.parse("devices: []", "none.yaml")).devices.count() == 0


def test_schema_and_reference_problems_come_in_one_pass() -> None:
    document = fleet_document(3)
    document["partners"][0]["roles"] = ["postToken", "getEverything"]
    document["devices"][0]["deviceType"] = "not a type"
    document["devices"][2]["owner"] = "KR0000000000000"
    with pytest.raises(scenario.ScenarioError) as refused:
        scenario.load(document, "fleet.yaml")
    problems = refused.value.problems
    assert any(
        p.startswith("fleet.yaml: $.partners[0].roles[1]: 'getEverything' is not one of")
        for p in problems
    ), problems
    assert any(p.startswith("fleet.yaml: $.devices[0].deviceType:") for p in problems), problems
    # Found although the schema refused an earlier entry, at the entry's own index.
    assert "fleet.yaml: $.devices[2].owner: no user 'KR0000000000000' in $.users" in problems
