"""Time-driven devices in-process: cycles and temperature drift on a frozen sandbox clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from lgspecs import data
from mockserver import scenario, simulation
from mockserver.backends.devices import Device, DeviceChange, DevicePush
from mockserver.backends.sandbox import Sandbox
from mockserver.simulation.sections import body_at, value_of

START_AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
MINUTE = 60


@dataclass
class Heard:
    """Every change and push of the sandbox's devices, each status checked on the way."""

    changes: list[DeviceChange] = field(default_factory=list)
    pushes: list[DevicePush] = field(default_factory=list)

    def __call__(self, event: DeviceChange | DevicePush) -> None:
        if isinstance(event, DevicePush):
            self.pushes.append(event)
            return
        self.changes.append(event)
        problems = event.device.profile.validate_status(event.device.status)
        assert problems == [], f"{event.device.device_type}: {problems}"

    def of(self, device: Device) -> list[DeviceChange]:
        return [c for c in self.changes if c.device is device]

    def codes(self, device: Device) -> list[str]:
        return [p.code for p in self.pushes if p.device is device]

    def clear(self) -> None:
        self.changes.clear()
        self.pushes.clear()


def build(document: dict[str, Any] | None = None) -> tuple[Sandbox, Heard]:
    document = document or scenario.read_file(data.default_scenario())
    sandbox = scenario.load(document)
    sandbox.clock.set(START_AT)
    sandbox.clock.freeze()
    simulation.attach(sandbox)  # scenario.load alone does not; Runtime does
    heard = Heard()
    sandbox.devices.on_change(heard)
    return sandbox, heard


@pytest.fixture
def sandbox_and_heard() -> tuple[Sandbox, Heard]:
    return build()


@pytest.fixture
def sandbox(sandbox_and_heard: tuple[Sandbox, Heard]) -> Sandbox:
    return sandbox_and_heard[0]


@pytest.fixture
def heard(sandbox_and_heard: tuple[Sandbox, Heard]) -> Heard:
    return sandbox_and_heard[1]


def device_of(sandbox: Sandbox, device_type: str) -> Device:
    return next(d for d in sandbox.devices.devices.values() if d.device_type == device_type)


SWITCHES = {
    "DEVICE_WASHER": "washerOperationMode",
    "DEVICE_WASHTOWER_WASHER": "washerOperationMode",
    "DEVICE_DRYER": "dryerOperationMode",
    "DEVICE_WASHTOWER_DRYER": "dryerOperationMode",
    "DEVICE_DISH_WASHER": "dishWasherOperationMode",
    "DEVICE_STYLER": "stylerOperationMode",
}


def command(sandbox: Sandbox, device: Device, action: str) -> None:
    sandbox.devices.control(device.device_id, {"operation": {SWITCHES[device.device_type]: action}})


def advance(sandbox: Sandbox, seconds: float) -> None:
    sandbox.clock.advance(seconds)
    sandbox.tick()


def run_state(device: Device) -> str:
    return value_of(_body(device), "runState.currentState")


def remaining(device: Device) -> int:
    body = _body(device)
    return value_of(body, "timer.remainHour") * 60 + value_of(body, "timer.remainMinute")


def total(device: Device) -> int:
    body = _body(device)
    return value_of(body, "timer.totalHour") * 60 + value_of(body, "timer.totalMinute")


def _body(device: Device) -> dict[str, Any]:
    location = "MAIN" if device.profile.is_location_wrapped else None
    return body_at(device.status, location)


# ---------------------------------------------------------------------- cycles


def test_a_washer_cycle_runs_through_its_phases_to_the_end(sandbox: Sandbox, heard: Heard) -> None:
    washer = device_of(sandbox, "DEVICE_WASHER")
    count = value_of(_body(washer), "cycle.cycleCount")
    command(sandbox, washer, "START")
    assert (run_state(washer), remaining(washer), total(washer)) == ("RUNNING", 60, 60)
    advance(sandbox, 30)
    assert remaining(washer) == 60  # rounded up: the display reads 0:00 only at the end
    advance(sandbox, 30)
    assert remaining(washer) == 59
    advance(sandbox, 35 * MINUTE)  # 36 min in: rinsing
    assert (run_state(washer), remaining(washer)) == ("RINSING", 24)
    advance(sandbox, 15 * MINUTE)  # 51 min in: spinning
    assert (run_state(washer), remaining(washer)) == ("SPINNING", 9)
    assert heard.codes(washer) == []
    advance(sandbox, 9 * MINUTE)
    assert (run_state(washer), remaining(washer), total(washer)) == ("END", 0, 60)
    assert value_of(_body(washer), "cycle.cycleCount") == count + 1
    assert heard.codes(washer) == ["WASHING_IS_COMPLETE"]
    advance(sandbox, 3600)
    assert heard.codes(washer) == ["WASHING_IS_COMPLETE"]
    assert run_state(washer) == "END"


@pytest.mark.parametrize(
    ("device_type", "first_state", "last_state", "minutes", "push"),
    [
        ("DEVICE_WASHER", "RUNNING", "SPINNING", 60, "WASHING_IS_COMPLETE"),
        ("DEVICE_WASHTOWER_WASHER", "RUNNING", "SPINNING", 60, "WASHING_IS_COMPLETE"),
        ("DEVICE_DRYER", "DRYING", "COOLING", 90, "DRYING_IS_COMPLETE"),
        ("DEVICE_WASHTOWER_DRYER", "DRYING", "COOLING", 90, "DRYING_IS_COMPLETE"),
        ("DEVICE_DISH_WASHER", "RUNNING", "DRYING", 120, "CLEANING_IS_COMPLETE"),
        ("DEVICE_STYLER", "STEAM", "DRYING", 30, "STYLING_IS_COMPLETE"),
    ],
)
def test_each_cycle_appliance_ends_with_its_push(
    sandbox: Sandbox,
    heard: Heard,
    device_type: str,
    first_state: str,
    last_state: str,
    minutes: int,
    push: str,
) -> None:
    device = device_of(sandbox, device_type)
    command(sandbox, device, "START")
    assert (run_state(device), remaining(device), total(device)) == (first_state, minutes, minutes)
    advance(sandbox, (minutes - 1) * MINUTE)
    assert (run_state(device), remaining(device)) == (last_state, 1)
    assert heard.codes(device) == []
    advance(sandbox, MINUTE)
    assert (run_state(device), remaining(device)) == ("END", 0)
    assert heard.codes(device) == [push]
    assert push in device.profile.push_codes


def test_a_clock_jump_ends_a_cycle_with_one_change_and_one_push(
    sandbox: Sandbox, heard: Heard
) -> None:
    dryer = device_of(sandbox, "DEVICE_DRYER")
    command(sandbox, dryer, "START")
    heard.clear()
    advance(sandbox, 7200)
    [change] = heard.of(dryer)
    assert change.source == "device"
    assert change.changed["runState"] == {"currentState": "END"}
    assert heard.codes(dryer) == ["DRYING_IS_COMPLETE"]


def test_stop_pauses_and_start_resumes(sandbox: Sandbox, heard: Heard) -> None:
    washer = device_of(sandbox, "DEVICE_WASHER")
    command(sandbox, washer, "START")
    advance(sandbox, 10 * MINUTE)
    command(sandbox, washer, "STOP")
    assert (run_state(washer), remaining(washer)) == ("PAUSE", 50)
    command(sandbox, washer, "STOP")  # a repeated STOP changes nothing
    advance(sandbox, 5 * 3600)
    assert (run_state(washer), remaining(washer)) == ("PAUSE", 50)
    assert heard.codes(washer) == []
    command(sandbox, washer, "START")
    assert (run_state(washer), remaining(washer)) == ("RUNNING", 50)
    advance(sandbox, 50 * MINUTE)
    assert run_state(washer) == "END" and heard.codes(washer) == ["WASHING_IS_COMPLETE"]


def test_start_while_running_changes_nothing(sandbox: Sandbox) -> None:
    styler = device_of(sandbox, "DEVICE_STYLER")
    command(sandbox, styler, "START")
    advance(sandbox, 10 * MINUTE)
    command(sandbox, styler, "START")
    assert remaining(styler) == 20
    advance(sandbox, 20 * MINUTE)
    assert run_state(styler) == "END"
    command(sandbox, styler, "START")  # after the end: a new cycle
    assert (run_state(styler), remaining(styler)) == ("STEAM", 30)


def test_power_off_abandons_the_cycle(sandbox: Sandbox, heard: Heard) -> None:
    dishwasher = device_of(sandbox, "DEVICE_DISH_WASHER")
    command(sandbox, dishwasher, "START")
    advance(sandbox, 10 * MINUTE)
    command(sandbox, dishwasher, "POWER_OFF")
    assert (run_state(dishwasher), remaining(dishwasher)) == ("POWER_OFF", 0)
    advance(sandbox, 4 * 3600)
    assert run_state(dishwasher) == "POWER_OFF" and heard.codes(dishwasher) == []
    command(sandbox, dishwasher, "POWER_ON")
    command(sandbox, dishwasher, "START")
    assert (run_state(dishwasher), remaining(dishwasher)) == ("RUNNING", 120)


def test_cycles_survive_an_export_and_a_reload(sandbox: Sandbox) -> None:
    washer = device_of(sandbox, "DEVICE_WASHER")
    dryer = device_of(sandbox, "DEVICE_DRYER")
    command(sandbox, washer, "START")
    command(sandbox, dryer, "START")
    advance(sandbox, 20 * MINUTE)
    command(sandbox, dryer, "STOP")
    # What a state file holds, loaded into a new sandbox (as a restart does).
    again, heard = build(scenario.export(sandbox))
    washer, dryer = device_of(again, "DEVICE_WASHER"), device_of(again, "DEVICE_DRYER")
    assert (run_state(washer), remaining(washer)) == ("RUNNING", 40)
    advance(again, 39 * MINUTE)
    assert run_state(washer) == "SPINNING" and heard.codes(washer) == []
    advance(again, MINUTE)
    assert run_state(washer) == "END" and heard.codes(washer) == ["WASHING_IS_COMPLETE"]
    assert (run_state(dryer), remaining(dryer)) == ("PAUSE", 70)
    command(again, dryer, "START")
    advance(again, 70 * MINUTE)
    assert run_state(dryer) == "END" and heard.codes(dryer) == ["DRYING_IS_COMPLETE"]


def test_device_side_changes_steer_the_cycle(sandbox: Sandbox, heard: Heard) -> None:
    washer = device_of(sandbox, "DEVICE_WASHER")
    command(sandbox, washer, "START")
    # QA makes the washer finish sooner (PATCH /_sandbox/devices/{id}/state).
    sandbox.devices.change_from_device(
        washer.device_id, {"timer": {"remainHour": 0, "remainMinute": 5}}
    )
    advance(sandbox, 5 * MINUTE)
    assert run_state(washer) == "END" and heard.codes(washer) == ["WASHING_IS_COMPLETE"]
    # A device that reports running by itself, with no time: a whole cycle from now.
    dryer = device_of(sandbox, "DEVICE_DRYER")
    sandbox.devices.change_from_device(dryer.device_id, {"runState": {"currentState": "RUNNING"}})
    assert (run_state(dryer), remaining(dryer), total(dryer)) == ("DRYING", 90, 90)
    # An error stops the cycle: no end, no push (QA raises pushes explicitly).
    sandbox.devices.change_from_device(dryer.device_id, {"runState": {"currentState": "ERROR"}})
    advance(sandbox, 3 * 3600)
    assert run_state(dryer) == "ERROR" and heard.codes(dryer) == []


def test_a_scenario_can_start_with_a_running_cycle() -> None:
    document = scenario.read_file(data.default_scenario())
    styler = next(d for d in document["devices"] if d["deviceType"] == "DEVICE_STYLER")
    styler["status"] = {
        "runState": {"currentState": "RUNNING"},
        "timer": {"remainHour": 0, "remainMinute": 20, "totalHour": 0, "totalMinute": 30},
    }
    sandbox, heard = build(document)
    device = device_of(sandbox, "DEVICE_STYLER")
    advance(sandbox, MINUTE)  # the state the scenario chose stays until a phase boundary
    assert (run_state(device), remaining(device)) == ("RUNNING", 19)
    advance(sandbox, MINUTE)  # 12 of 30 minutes done: the styler's second phase
    assert (run_state(device), remaining(device)) == ("REFRESHING", 18)
    advance(sandbox, 18 * MINUTE)
    assert run_state(device) == "END" and heard.codes(device) == ["STYLING_IS_COMPLETE"]


def test_a_device_added_while_running_is_resumed(sandbox: Sandbox, heard: Heard) -> None:
    item = {
        "deviceId": "added-washer",
        "deviceType": "DEVICE_WASHER",
        "owner": "US2024000000002",
        "profile": "washer/basic.json",
        "status": {
            "location": {"locationName": "MAIN"},
            "runState": {"currentState": "RINSING"},
            "timer": {"remainHour": 0, "remainMinute": 8, "totalHour": 1, "totalMinute": 0},
        },
    }
    added = scenario.add_device(sandbox, item)  # POST /_sandbox/devices
    advance(sandbox, 8 * MINUTE)
    assert run_state(added) == "END" and heard.codes(added) == ["WASHING_IS_COMPLETE"]


def test_setting_the_clock_back_neither_runs_nor_undoes_a_cycle(sandbox: Sandbox) -> None:
    washer = device_of(sandbox, "DEVICE_WASHER")
    command(sandbox, washer, "START")
    advance(sandbox, 20 * MINUTE)
    sandbox.clock.set(START_AT)
    sandbox.tick()
    assert remaining(washer) == 40
    advance(sandbox, 40 * MINUTE)
    assert run_state(washer) == "END"


# ---------------------------------------------------------------------- climate


def test_an_air_conditioner_drifts_towards_its_target(sandbox: Sandbox, heard: Heard) -> None:
    ac = device_of(sandbox, "DEVICE_AIR_CONDITIONER")
    sandbox.devices.change_from_device(ac.device_id, {"temperature": {"currentTemperature": 30}})
    sandbox.devices.control(ac.device_id, {"temperature": {"targetTemperature": 22}})
    heard.clear()
    advance(sandbox, 4 * MINUTE)
    assert ac.status["temperature"]["currentTemperature"] == 30 and heard.of(ac) == []
    advance(sandbox, MINUTE)
    assert ac.status["temperature"]["currentTemperature"] == 29
    advance(sandbox, 12 * MINUTE)  # 17 min in: three steps, one change
    assert ac.status["temperature"]["currentTemperature"] == 27
    assert len(heard.of(ac)) == 2
    advance(sandbox, 3600)
    assert ac.status["temperature"]["currentTemperature"] == 22
    assert len(heard.of(ac)) == 3
    advance(sandbox, 3600)
    assert len(heard.of(ac)) == 3
    # A new target: the drift follows it, upwards too.
    sandbox.devices.control(ac.device_id, {"temperature": {"targetTemperature": 24}})
    advance(sandbox, 10 * MINUTE)
    assert ac.status["temperature"]["currentTemperature"] == 24


def test_a_powered_off_air_conditioner_does_not_drift(sandbox: Sandbox) -> None:
    ac = device_of(sandbox, "DEVICE_AIR_CONDITIONER")
    sandbox.devices.change_from_device(ac.device_id, {"temperature": {"currentTemperature": 30}})
    sandbox.devices.control(ac.device_id, {"temperature": {"targetTemperature": 22}})
    sandbox.devices.control(ac.device_id, {"operation": {"airConOperationMode": "POWER_OFF"}})
    advance(sandbox, 3600)
    assert ac.status["temperature"]["currentTemperature"] == 30
    sandbox.devices.control(ac.device_id, {"operation": {"airConOperationMode": "POWER_ON"}})
    advance(sandbox, 10 * MINUTE)
    assert ac.status["temperature"]["currentTemperature"] == 28


def test_an_indoor_unit_drifts_in_half_degrees(sandbox: Sandbox) -> None:
    idu = device_of(sandbox, "IDU")
    sandbox.devices.change_from_device(idu.device_id, {"temperature": {"currentTemperature": 23.5}})
    sandbox.devices.control(idu.device_id, {"temperature": {"targetTemperature": 25}})
    advance(sandbox, 150)
    assert idu.status["temperature"]["currentTemperature"] == 24
    assert isinstance(idu.status["temperature"]["currentTemperature"], int)
    advance(sandbox, 3600)
    assert idu.status["temperature"]["currentTemperature"] == 25


def test_a_device_reading_restarts_the_step(sandbox: Sandbox) -> None:
    ac = device_of(sandbox, "DEVICE_AIR_CONDITIONER")
    sandbox.devices.control(ac.device_id, {"temperature": {"targetTemperature": 20}})
    sandbox.devices.change_from_device(ac.device_id, {"temperature": {"currentTemperature": 25}})
    advance(sandbox, 4 * MINUTE)
    sandbox.devices.change_from_device(ac.device_id, {"temperature": {"currentTemperature": 26}})
    advance(sandbox, 4 * MINUTE)
    assert ac.status["temperature"]["currentTemperature"] == 26
    advance(sandbox, MINUTE)
    assert ac.status["temperature"]["currentTemperature"] == 25


# ---------------------------------------------------------------------- cost


def test_ticks_with_nothing_running_cost_next_to_nothing() -> None:
    document = scenario.read_file(data.default_scenario())
    sandbox = scenario.load(document)
    sandbox.clock.freeze()
    simulator = simulation.attach(sandbox)
    # Settle the default scenario's air conditioners on their targets.
    sandbox.clock.advance(24 * 3600)
    sandbox.tick()
    assert len(simulator.cycles) == 0 and len(simulator.climate) == 0
    started = time.perf_counter()
    now = sandbox.clock.now()
    for _ in range(20_000):
        simulator.tick(now)
    assert time.perf_counter() - started < 1.0
