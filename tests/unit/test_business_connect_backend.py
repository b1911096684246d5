"""Business Connect backend and scenarios, in-process: reach, subscriptions, disconnection."""

from __future__ import annotations

import copy
import json

import pytest

from lgspecs.data import default_scenario
from mockserver import scenario
from mockserver.backends.business_connect import Reach
from mockserver.backends.devices import DeviceChange
from mockserver.backends.sandbox import Sandbox
from mockserver.errors import ApiError, Err
from tests.support import KR_FRIDGE, KR_USER, OFFICE_AC, US_USER, US_WASHER, VENTILATOR_OFFLINE


@pytest.fixture(scope="module")
def document() -> dict:
    return scenario.read_file(default_scenario())


@pytest.fixture
def sandbox(document: dict) -> Sandbox:
    return scenario.load(copy.deepcopy(document), "default.yaml")


def reach(sandbox: Sandbox, user: str | None = None) -> Reach:
    partner = sandbox.accounts.partners["acme-energy"]
    return Reach(partner, sandbox.accounts.users[user] if user else None)


def test_default_scenario_meets_the_brief(sandbox: Sandbox) -> None:
    devices = sandbox.devices.devices.values()
    assert len(devices) >= 12 and len({d.device_type for d in devices}) >= 12
    assert len(sandbox.accounts.users) >= 2
    assert sandbox.devices.owned_by(KR_USER) and sandbox.devices.owned_by(US_USER)
    assert sandbox.devices.registered_to("acme-energy")


def test_reach_by_account(sandbox: Sandbox) -> None:
    bc = sandbox.business_connect
    registered = {d.device_id for d in bc.devices_in_reach(reach(sandbox))}
    assert OFFICE_AC in registered and KR_FRIDGE not in registered
    kr = {d.device_id for d in bc.devices_in_reach(reach(sandbox, KR_USER))}
    assert KR_FRIDGE in kr and US_WASHER not in kr and OFFICE_AC not in kr
    with pytest.raises(ApiError) as caught:
        bc.device(reach(sandbox, KR_USER), US_WASHER)
    assert caught.value.reason is Err.DEVICE_NOT_FOUND and caught.value.field == "deviceId"


def test_subscriptions(sandbox: Sandbox) -> None:
    bc = sandbox.business_connect
    bc.subscribe(reach(sandbox), OFFICE_AC)
    assert bc.subscribed(reach(sandbox)) == [OFFICE_AC]
    assert bc.subscribed(reach(sandbox, KR_USER)) == []
    with pytest.raises(ApiError) as caught:
        bc.subscribe(reach(sandbox), OFFICE_AC)
    assert caught.value.reason is Err.ALREADY_SUBSCRIBED
    bc.unsubscribe(reach(sandbox), OFFICE_AC)
    with pytest.raises(ApiError) as caught:
        bc.unsubscribe(reach(sandbox), OFFICE_AC)
    assert caught.value.reason is Err.NOT_SUBSCRIBED


def test_disconnect_removes_only_that_users_subscriptions(sandbox: Sandbox) -> None:
    bc = sandbox.business_connect
    bc.subscribe(reach(sandbox, KR_USER), KR_FRIDGE)
    bc.subscribe(reach(sandbox), OFFICE_AC)
    partner = sandbox.accounts.partners["acme-energy"]
    bc.disconnect(partner, sandbox.accounts.users[KR_USER])
    assert partner.push_subscriptions == {OFFICE_AC}
    assert "acme-energy" in sandbox.accounts.users[KR_USER].disconnected_from


def test_control_notifies_listeners_and_offline_refuses(sandbox: Sandbox) -> None:
    heard: list[DeviceChange] = []
    sandbox.devices.on_change(heard.append)
    sandbox.devices.control(OFFICE_AC, {"operation": {"airConOperationMode": "POWER_OFF"}})
    assert heard and heard[0].device.device_id == OFFICE_AC and heard[0].source == "control"
    with pytest.raises(ApiError) as caught:
        sandbox.devices.control(VENTILATOR_OFFLINE, {})
    assert caught.value.reason is Err.DEVICE_OFFLINE


def test_export_round_trips(sandbox: Sandbox) -> None:
    sandbox.business_connect.subscribe(reach(sandbox), OFFICE_AC)
    sandbox.devices.control(OFFICE_AC, {"operation": {"airConOperationMode": "POWER_OFF"}})
    sandbox.clock.freeze()  # a running clock moves between the two exports
    exported = json.loads(json.dumps(scenario.export(sandbox)))
    again = scenario.export(scenario.load(copy.deepcopy(exported), "export"))
    assert json.loads(json.dumps(again)) == exported


def test_same_seed_same_status_other_seed_other_status(document: dict) -> None:
    first = scenario.export(scenario.load(copy.deepcopy(document)))["devices"]
    second = scenario.export(scenario.load(copy.deepcopy(document)))["devices"]
    assert first == second
    reseeded = scenario.export(scenario.load({**copy.deepcopy(document), "seed": 1}))["devices"]
    assert reseeded != first


def test_inline_profile_and_status_override(document: dict) -> None:
    custom = copy.deepcopy(document)
    odu = next(d for d in custom["devices"] if d["deviceType"] == "ODU")
    assert isinstance(odu["profile"], dict)
    odu["status"] = {"runState": {"currentState": "ERROR"}}
    loaded = scenario.load(custom)
    assert loaded.devices.get(odu["deviceId"]).status["runState"]["currentState"] == "ERROR"


def test_problems_name_source_path_and_reason(document: dict) -> None:
    bad = copy.deepcopy(document)
    bad["devices"][0]["status"] = {"operation": {"airConOperationMode": "FLYING"}}
    bad["devices"][1]["owner"] = "NOBODY"
    bad["partners"].append(copy.deepcopy(bad["partners"][0]) | {"partnerId": "dup"})
    with pytest.raises(scenario.ScenarioError) as caught:
        scenario.load(bad, "bad.yaml")
    text = str(caught.value)
    assert "bad.yaml: $.devices[0].status" in text and "FLYING" in text
    assert "bad.yaml: $.devices[1].owner: no user 'NOBODY'" in text
    assert "bad.yaml: $.partners[2]: apiKey" in text


def test_unparseable_scenario() -> None:
    with pytest.raises(scenario.ScenarioError, match="not valid YAML"):
        scenario.parse("a: [", "x.yaml")
    with pytest.raises(scenario.ScenarioError, match="mapping"):
        scenario.parse("- 1", "x.yaml")
