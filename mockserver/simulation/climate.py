"""Air conditioners: while one is on, the room's temperature drifts towards its target.

The current temperature moves one step of its readable range at a time, at one degree
per ``SECONDS_PER_DEGREE`` of sandbox time (a half-degree step every 150 s), and stops
at the target (or at the last step before it, when the target lies between steps).
The rate is a sandbox invention (docs/spec-notes.md, "Time-driven devices"). Like the
cycles, the drift is computed from elapsed time: one clock jump, one status change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from mockserver.backends.devices import Device, DeviceChange, DeviceInfo
from mockserver.profiles import DeviceProfile, Span
from mockserver.simulation.sections import readable, value_of

Report = Callable[[str, dict[str, Any]], bool]

SECONDS_PER_DEGREE = 300.0
SWITCH = "operation.airConOperationMode"  # air conditioners, system ones and indoor units
CURRENT = "temperature.currentTemperature"
TARGET = "temperature.targetTemperature"


@dataclass(frozen=True)
class Thermostat:
    """What an air conditioner's profile lets its current temperature be."""

    device_id: str
    span: Span  # the readable range of the current temperature

    @property
    def interval(self) -> float:
        """Seconds one step of the current temperature takes."""
        return SECONDS_PER_DEGREE * float(self.span.step)

    def steps_to(self, current: Any, target: Any) -> int:
        """Signed whole steps from ``current`` towards ``target`` (0: there, or not usable)."""
        if not _is_number(current) or not _is_number(target):
            return 0
        gap = (target - current) / self.span.step
        return int(math.copysign(math.floor(abs(gap) + 1e-9), gap))

    def moved(self, current: float, steps: int) -> int | float:
        value = current + steps * self.span.step
        value = min(max(value, self.span.low), self.span.high)
        rounded = round(value, 9)  # no float noise: 23.5 + 0.5 is 24, reported as 24
        return int(rounded) if rounded == int(rounded) else rounded


def thermostat_of(device: Device, device_id: str | None = None) -> Thermostat | None:
    profile = device.profile
    if profile.is_location_wrapped:
        return None
    rule = profile.power_rule()
    if rule is None or rule.switch != SWITCH or rule.state != SWITCH:
        return None
    attributes = readable(profile, None)
    current = attributes.get(CURRENT)
    span = current.attribute.read if current else None
    if TARGET not in attributes or not isinstance(span, Span) or span.step <= 0:
        return None
    return Thermostat(device.device_id if device_id is None else device_id, span)


class Climate:
    """The drifting air conditioners of one sandbox."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self._thermostats: dict[str, Thermostat] = {}
        # One reading of each profile, shared by its devices (None: not a thermostat).
        self._by_profile: dict[int, tuple[DeviceProfile, Thermostat | None]] = {}
        # Drifting devices: since when the step now in progress has been under way.
        self._since: dict[str, datetime] = {}
        self._devices: dict[str, Device] = {}
        # The earliest moment any drifting device can be due a step (possibly too early
        # after a device stopped drifting; never too late). advance() runs before every
        # request and after every device change: with thousands of air conditioners it
        # must not look at each of them every time.
        self._next_due: datetime | None = None

    def _of_profile(self, device: DeviceInfo) -> Thermostat | None:
        known = self._by_profile.get(id(device.profile))
        if known is None:
            known = self._by_profile[id(device.profile)] = (
                device.profile,
                thermostat_of(device, ""),  # type: ignore[arg-type]
            )
        return known[1]

    def thermostat(self, device: Device) -> Thermostat | None:
        found = self._thermostats.get(device.device_id)
        if found is None:
            template = self._of_profile(device)
            if template is None:
                return None
            found = self._thermostats[device.device_id] = replace(
                template, device_id=device.device_id
            )
            self._devices[device.device_id] = device
        return found

    def would_drift(self, device: DeviceInfo, status: Any) -> bool:
        """Whether a device with ``status`` drifts (read from its record, nothing kept)."""
        template = self._of_profile(device)
        if template is None or device.profile.is_power_off(status):
            return False
        return template.steps_to(value_of(status, CURRENT), value_of(status, TARGET)) != 0

    def adopt(self, device: Device, now: datetime) -> None:
        thermostat = self.thermostat(device)
        if thermostat is not None:
            self._follow(thermostat, device, now, restart=True)

    def heard(self, change: DeviceChange, now: datetime) -> None:
        thermostat = self.thermostat(change.device)
        changed = change.changed
        if thermostat is None or not isinstance(changed, dict):
            return
        if "temperature" not in changed and "operation" not in changed:
            return
        # A new reading from the device restarts the step; a new target does not.
        restart = change.source == "device" and value_of(changed, CURRENT) is not None
        self._follow(thermostat, change.device, now, restart=restart)

    def advance(self, now: datetime) -> None:
        if self._next_due is None or now < self._next_due:
            return
        for device_id, since in list(self._since.items()):
            thermostat = self._thermostats[device_id]
            due = int((now - since).total_seconds() // thermostat.interval)
            if due <= 0:
                continue
            device = self._devices[device_id]
            wanted = _steps_wanted(thermostat, device)
            if wanted == 0:
                del self._since[device_id]
                continue
            steps = int(math.copysign(min(due, abs(wanted)), wanted))
            value = thermostat.moved(value_of(device.status, CURRENT), steps)
            self._report(device_id, {"temperature": {"currentTemperature": value}})
            if steps == wanted:
                del self._since[device_id]
            else:
                self._since[device_id] = since + timedelta(seconds=due * thermostat.interval)
        self._next_due = min(
            (
                since + timedelta(seconds=self._thermostats[d].interval)
                for d, since in self._since.items()
            ),
            default=None,
        )

    def shift(self, delta: timedelta) -> None:
        for device_id in self._since:
            self._since[device_id] += delta
        if self._next_due is not None:
            self._next_due += delta

    def __len__(self) -> int:
        return len(self._since)

    def _follow(
        self, thermostat: Thermostat, device: Device, now: datetime, *, restart: bool
    ) -> None:
        if _steps_wanted(thermostat, device) == 0:
            self._since.pop(device.device_id, None)
        elif restart or device.device_id not in self._since:
            self._since[device.device_id] = now
            due = now + timedelta(seconds=thermostat.interval)
            self._next_due = due if self._next_due is None else min(self._next_due, due)


def _steps_wanted(thermostat: Thermostat, device: Device) -> int:
    """Signed steps still to drift; 0 when the device is off or at its target."""
    if device.profile.is_power_off(device.status):
        return 0
    status = device.status
    return thermostat.steps_to(value_of(status, CURRENT), value_of(status, TARGET))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
