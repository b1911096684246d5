"""The stock lg_thinq config entry of Home Assistant 2025.4, set up against the sandbox:
its entities, a service call, a device-side change arriving over MQTT, a device going
offline."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import pytest
from conftest import Sandbox
from homeassistant.components.lg_thinq.const import CONF_CONNECT_CLIENT_ID, DOMAIN
from homeassistant.const import CONF_ACCESS_TOKEN, CONF_COUNTRY, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

pytestmark = [pytest.mark.homeassistant, pytest.mark.slow]

PARTNER_KEY = "acme-api-key-0001"
PARTNER_SECRET = "acme-api-secret-0001"
KR_TOKEN = "kr-user-oauth-token-0001"
KR_AC = "373ddcaeef12fcf760555414ccf3b595ccf9d9de097ffa01b7f57153efd2f66c"
CLIENT_ID = "lgmock-home-assistant-tier"


async def set_up(hass: HomeAssistant, sandbox: Sandbox) -> MockConfigEntry:
    user = sandbox.pat_user()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="lgmock",
        unique_id=user["pat"],
        data={
            CONF_ACCESS_TOKEN: user["pat"],
            CONF_CONNECT_CLIENT_ID: CLIENT_ID,
            CONF_COUNTRY: user["countryCode"],
        },
    )
    entry.add_to_hass(hass)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def tear_down(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def entity_of(hass: HomeAssistant, device_id: str, key: str) -> str:
    """The entity of a device's property (lg_thinq's unique id: DEVICEID_KEY)."""
    registry = er.async_get(hass)
    for entry in registry.entities.values():
        if entry.platform == DOMAIN and entry.unique_id == f"{device_id}_{key}":
            return entry.entity_id
    known = sorted(e.unique_id for e in registry.entities.values() if device_id in e.unique_id)
    raise AssertionError(f"no entity {device_id}_{key}; the device has {known}")


def bc_status(sandbox: Sandbox, device_id: str) -> dict[str, Any]:
    """The device's status read through Business Connect, as the KR user."""
    http = sandbox.http
    token = http.post(
        "/bc/v1/token", headers={"X-Api-Key": PARTNER_KEY, "X-Api-Secret": PARTNER_SECRET}
    ).json()["access_token"]
    headers = {
        "X-Api-Key": PARTNER_KEY,
        "X-Api-Token": token,
        "X-Message-Id": base64.urlsafe_b64encode(uuid.uuid4().bytes)[:-2].decode(),
        "X-Use-Account": "IN-HEADER",
        "Authorization": f"Bearer {KR_TOKEN}",
        "X-Country-Code": "KR",
    }
    answer = http.get(f"/bc/v1/devices/{device_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()["response"]
    return body[0] if isinstance(body, list) else body


async def wait_until(check, timeout: float) -> float:
    """Seconds until ``check()`` is true; AssertionError after ``timeout``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


POWER = "air_con_operation_mode"  # the air conditioner's power switch
HUMIDITY = "humidity"  # its air quality sensor's humidity


async def test_every_device_of_the_pat_user_has_entities_with_the_sandbox_state(
    hass: HomeAssistant, sdk_on_sandbox: Sandbox
):
    sandbox = sdk_on_sandbox
    entry = await set_up(hass, sandbox)
    try:
        state = sandbox.state()
        user = sandbox.pat_user()
        owned = [d for d in state["devices"] if d.get("owner") == user["userNumber"]]
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        ids = {next(iter(d.identifiers))[1] for d in devices}
        assert ids == {d["deviceId"] for d in owned}
        for device in devices:
            assert er.async_entries_for_device(er.async_get(hass), device.id), device.name
        status = bc_status(sandbox, KR_AC)
        power = hass.states.get(entity_of(hass, KR_AC, POWER)).state
        assert power == (
            "on" if status["operation"]["airConOperationMode"] == "POWER_ON" else "off"
        )
        humidity = hass.states.get(entity_of(hass, KR_AC, HUMIDITY)).state
        assert float(humidity) == status["airQualitySensor"]["humidity"]
    finally:
        await tear_down(hass, entry)


async def test_a_service_call_changes_the_sandbox_device(
    hass: HomeAssistant, sdk_on_sandbox: Sandbox
):
    sandbox = sdk_on_sandbox
    entry = await set_up(hass, sandbox)
    try:
        switch = entity_of(hass, KR_AC, POWER)
        was_on = bc_status(sandbox, KR_AC)["operation"]["airConOperationMode"] == "POWER_ON"
        service, expected = ("turn_off", "POWER_OFF") if was_on else ("turn_on", "POWER_ON")
        await hass.services.async_call("switch", service, {"entity_id": switch}, blocking=True)
        assert bc_status(sandbox, KR_AC)["operation"]["airConOperationMode"] == expected
    finally:
        await tear_down(hass, entry)


async def test_a_device_side_change_reaches_the_entity_over_mqtt_within_5_s(
    hass: HomeAssistant, sdk_on_sandbox: Sandbox
):
    sandbox = sdk_on_sandbox
    entry = await set_up(hass, sandbox)
    try:
        sensor = entity_of(hass, KR_AC, HUMIDITY)
        reading = 61 if float(hass.states.get(sensor).state) != 61 else 57
        answer = sandbox.http.patch(
            f"/_sandbox/devices/{KR_AC}/state",
            json={"airQualitySensor": {"humidity": reading}},
        )
        assert answer.status_code == 200, answer.text
        # No poll: the coordinator has no update interval, so only the MQTT message can
        # bring the new reading.
        seconds = await wait_until(lambda: float(hass.states.get(sensor).state) == reading, 5)
        deliveries = sandbox.http.get(
            "/_sandbox/callbacks", params={"deviceId": KR_AC, "kind": "DEVICE_STATUS"}
        ).json()["items"]
        assert any(
            d["url"].startswith("mqtts://") and d["status"] == "delivered" for d in deliveries
        )
        print(f"device-side change reached Home Assistant in {seconds:.2f} s")
    finally:
        await tear_down(hass, entry)


async def test_a_device_taken_offline_becomes_unavailable(
    hass: HomeAssistant, sdk_on_sandbox: Sandbox
):
    sandbox = sdk_on_sandbox
    entry = await set_up(hass, sandbox)
    try:
        switch = entity_of(hass, KR_AC, POWER)
        assert hass.states.get(switch).state != STATE_UNAVAILABLE
        answer = sandbox.http.patch(f"/_sandbox/devices/{KR_AC}", json={"online": False})
        assert answer.status_code == 200, answer.text
        await hass.services.async_call(
            "homeassistant", "update_entity", {"entity_id": switch}, blocking=True
        )
        await hass.async_block_till_done()
        assert hass.states.get(switch).state == STATE_UNAVAILABLE
    finally:
        await tear_down(hass, entry)
