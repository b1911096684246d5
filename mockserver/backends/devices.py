"""The device simulator's state: every device, its profile, its one status.

Business Connect, the ThinQ asynchronous API and DR all read and change devices here,
so a control through one API is what the others see next. Listeners registered with
``on_change`` hear every accepted change (event callbacks, DR monitoring, journal).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mockserver.errors import ApiError, Err
from mockserver.profiles import DeviceProfile

Status = dict[str, Any] | list[Any]


@dataclass
class Device:
    device_id: str
    device_type: str
    model_name: str
    alias: str
    profile: DeviceProfile
    # How the scenario named the profile (a fixture path or the inline object); kept so
    # an exported state names it the same way.
    profile_ref: str | dict[str, Any]
    status: Status
    owner: str | None = None
    registered_to: list[str] = field(default_factory=list)
    online: bool = True
    group_id: str | None = None
    parent_id: str | None = None
    home_id: str | None = None


@dataclass(frozen=True)
class DeviceChange:
    device: Device
    changed: Status
    source: str  # "control" (an API call) or "device" (the device itself)


@dataclass(frozen=True)
class DevicePush:
    """A notification the device raised: one of its profile's notification.push codes."""

    device: Device
    code: str


Listener = Callable[[DeviceChange | DevicePush], None]


class DeviceStore:
    def __init__(self) -> None:
        self.devices: dict[str, Device] = {}
        self._listeners: list[Listener] = []

    def add(self, device: Device) -> None:
        if device.device_id in self.devices:
            raise ValueError(f"device {device.device_id!r} is defined twice")
        self.devices[device.device_id] = device

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def get(self, device_id: str) -> Device:
        try:
            return self.devices[device_id]
        except KeyError:
            raise ApiError(
                Err.DEVICE_NOT_FOUND, f"no device {device_id}", field="deviceId"
            ) from None

    def registered_to(self, partner_id: str) -> list[Device]:
        return [d for d in self.devices.values() if partner_id in d.registered_to]

    def owned_by(self, user_number: str) -> list[Device]:
        return [d for d in self.devices.values() if d.owner == user_number]

    def control(self, device_id: str, command: Any) -> Device:
        """Apply a command from a client; the profile decides what is allowed."""
        device = self.get(device_id)
        if not device.online:
            raise ApiError(Err.DEVICE_OFFLINE, f"device {device_id} is not connected")
        device.status, changed = device.profile.apply_command(device.status, command)
        if changed:
            self._notify(DeviceChange(device, changed, "control"))
        return device

    def change_from_device(self, device_id: str, change: Any) -> Device:
        """A change the device reports by itself (sandbox control API, timers, DR)."""
        device = self.get(device_id)
        device.status, changed = device.profile.apply_device_change(device.status, change)
        if changed:
            self._notify(DeviceChange(device, changed, "device"))
        return device

    def raise_push(self, device_id: str, code: str) -> Device:
        device = self.get(device_id)
        if code not in device.profile.push_codes:
            raise ApiError(
                Err.INVALID_BODY,
                f"{code!r} is not a push code of device {device_id}; "
                f"its profile has {device.profile.push_codes}",
                field="code",
            )
        self._notify(DevicePush(device, code))
        return device

    def set_online(self, device_id: str, online: bool) -> Device:
        device = self.get(device_id)
        device.online = online
        return device

    def _notify(self, change: DeviceChange | DevicePush) -> None:
        for listener in self._listeners:
            listener(change)


def initial_status(profile: DeviceProfile, seed: int, device_id: str) -> Status:
    """A device's generated status: the same for the same scenario seed and device id."""
    return profile.initial_status(random.Random(f"{seed}:{device_id}"))


def status_copy(device: Device) -> Status:
    return copy.deepcopy(device.status)
