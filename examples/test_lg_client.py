"""Tests of the sample client against the lgmock sandbox, through the pytest plugin.

`lg_sandbox` is a real `lgmock serve` process shared by the session; each test starts
with `reset()` so none depends on another. `callback_receiver` is a real HTTP receiver
the sandbox delivers ThinQ callbacks and Business Connect push messages to.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lg_client import BusinessConnectClient, LgApiError, ThinQAsyncClient

from contract_tests.sandbox import Sandbox, SandboxReceiver


@pytest.fixture
def sandbox(lg_sandbox: Sandbox) -> Sandbox:
    lg_sandbox.reset()
    return lg_sandbox


@pytest.fixture
def bc(sandbox: Sandbox) -> Iterator[BusinessConnectClient]:
    who = sandbox.credentials
    client = BusinessConnectClient(
        sandbox.base_url,
        who.api_key,
        who.api_secret,
        user_token=who.user_token,
        country=who.country,
    )
    yield client
    client.close()


@pytest.fixture
def thinq(sandbox: Sandbox) -> Iterator[ThinQAsyncClient]:
    who = sandbox.credentials
    client = ThinQAsyncClient(
        sandbox.base_url,
        service_id=who.service_id,
        service_key=who.service_key,
        user_token=who.user_token,
        country=who.country,
    )
    yield client
    client.close()


def air_conditioner(sandbox: Sandbox) -> str:
    partner = sandbox.credentials.partner_id
    return next(
        device["deviceId"]
        for device in sandbox.devices(deviceType="DEVICE_AIR_CONDITIONER")
        if partner in device.get("registeredTo", [])
    )


def test_a_control_shows_in_the_next_status(bc: BusinessConnectClient, sandbox: Sandbox) -> None:
    device = air_conditioner(sandbox)
    assert device in [item["deviceId"] for item in bc.devices()]
    before = bc.status(device)["powerSave"]["powerSaveEnabled"]
    bc.control(device, {"powerSave": {"powerSaveEnabled": not before}})
    assert bc.status(device)["powerSave"]["powerSaveEnabled"] is (not before)


def test_the_users_devices_are_listed_in_header(
    bc: BusinessConnectClient, sandbox: Sandbox
) -> None:
    owned = {
        device["deviceId"] for device in sandbox.devices(owner=sandbox.credentials.user_number)
    }
    assert {item["deviceId"] for item in bc.devices("IN-HEADER")} == owned


def test_an_expired_token_is_renewed(bc: BusinessConnectClient, sandbox: Sandbox) -> None:
    bc.devices()
    sandbox.advance_clock(24 * 3600 + 1)  # every token issued so far has expired
    assert bc.devices()  # the client met 401 4201, renewed its token and retried


def test_an_offline_device_refuses_a_control(bc: BusinessConnectClient, sandbox: Sandbox) -> None:
    device = air_conditioner(sandbox)
    sandbox.set_online(device, False)
    with pytest.raises(LgApiError) as refused:
        bc.control(device, {"powerSave": {"powerSaveEnabled": True}})
    assert (refused.value.status, refused.value.code) == (400, "4000")


def test_a_refused_value_names_the_field(bc: BusinessConnectClient, sandbox: Sandbox) -> None:
    with pytest.raises(LgApiError) as refused:
        bc.control(air_conditioner(sandbox), {"temperature": {"targetTemperature": 99}})
    assert refused.value.code == "4102"
    assert "targetTemperature" in refused.value.message


def test_a_documented_error_from_a_fault_rule(bc: BusinessConnectClient, sandbox: Sandbox) -> None:
    device = air_conditioner(sandbox)
    # The sandbox has a fault API: a 404/405/501 here (NotImplementedError) is a failure.
    rule = sandbox.add_fault(
        match={"operationId": "getStatusOfDevice"}, effect={"error": "4304"}, count=1
    )
    assert (rule["match"], rule["count"], rule["fired"]) == (
        {"operationId": "getStatusOfDevice"},
        1,
        0,
    )
    try:
        with pytest.raises(LgApiError) as refused:
            bc.status(device)
        assert (refused.value.status, refused.value.code) == (404, "4304")
        assert bc.status(device)  # the rule fired once
    finally:
        sandbox.clear_faults()


def test_status_async_calls_back_once_per_device(
    thinq: ThinQAsyncClient, sandbox: Sandbox, callback_receiver: SandboxReceiver
) -> None:
    owned = {
        device["deviceId"] for device in sandbox.devices(owner=sandbox.credentials.user_number)
    }
    request_id = thinq.request_statuses()
    callbacks = callback_receiver.wait_for_request(request_id, count=len(owned))
    assert {body["response"]["deviceId"] for body in callbacks} == owned
    assert all(body["responseCode"] == "0000" for body in callbacks)


def test_an_offline_device_answers_in_its_own_callback(
    thinq: ThinQAsyncClient, sandbox: Sandbox, callback_receiver: SandboxReceiver
) -> None:
    mine = sandbox.devices(owner=sandbox.credentials.user_number)
    offline = mine[0]["deviceId"]
    sandbox.set_online(offline, False)
    request_id = thinq.request_statuses()
    callbacks = callback_receiver.wait_for_request(request_id, count=len(mine))
    by_device = {body["response"]["deviceId"]: body for body in callbacks}
    assert by_device[offline]["responseCode"] == "1222"  # device not connected
    assert sum(body["responseCode"] == "0000" for body in callbacks) == len(mine) - 1


def test_a_push_subscription_delivers_state_changes(
    bc: BusinessConnectClient, sandbox: Sandbox, callback_receiver: SandboxReceiver
) -> None:
    device = air_conditioner(sandbox)
    bc.subscribe(device)
    assert bc.subscriptions() == [device]
    wind = "HIGH" if bc.status(device)["airFlow"]["windStrength"] != "HIGH" else "LOW"
    sandbox.change_state(device, {"airFlow": {"windStrength": wind}})  # from the device side

    def reports_it(body: Any) -> bool:
        return ((body.get("report") or {}).get("airFlow") or {}).get("windStrength") == wind

    # A running air conditioner also reports its drifting temperature: wait for ours.
    message = callback_receiver.wait_for(1, reports_it)[0]
    assert (message["pushType"], message["deviceId"]) == ("DEVICE_STATUS", device)
    assert {body["deviceId"] for body in callback_receiver.bc_bodies()} == {device}
