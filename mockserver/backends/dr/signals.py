"""What a DR signal does to one device, and what the monitoring data records of it.

A signal never bypasses the device simulator: the backend turns each planned change into
``DeviceStore.change_from_device`` (so the profile checks it and every subscriber hears
it). Which attributes a control type moves, and how a bound becomes a value the device
accepts, is decided here, once, for every device type (spec-notes, "DR behaviour").
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mockserver.backends.devices import Device
from mockserver.backends.dr.model import (
    TEMPERATURE,
    TWO_SET_TEMPERATURE,
    Signal,
    TemperatureBounds,
    Touched,
    ref_key,
)
from mockserver.profiles import AttributeRef, DeviceProfile, Span
from mockserver.profiles.layout import location_name
from mockserver.profiles.values import is_number, same_value

# Which attributes each control type keeps within the signal's temperature bounds:
# ThinQ's names (thinqconnect: temperature.targetTemperature; the two-set resources'
# heat/cool set points).
TWO_SET_PREFIX = "twoSetTemperature"
MONITORED_NAMES = ("targetTemperature", "currentTemperature")

# A rough air conditioner load model for the monitoring data, so that a DR event shows as
# a reduction: not a measurement, and no other device type gets one (spec-notes DR-09).
AC_BASE_W = 50
AC_FAN_W = 50
AC_PER_DEGREE_W = 120


@dataclass(frozen=True)
class Planned:
    """One attribute change a signal asks of a device."""

    ref: AttributeRef
    current: Any
    new: Any
    restore: bool

    @property
    def key(self) -> str:
        return key_of(self.ref)


def key_of(ref: AttributeRef) -> str:
    return ref_key(ref.location, ref.resource, ref.key, ref.name)


def controlled_refs(device: Device, control_type: str) -> list[AttributeRef]:
    refs = []
    for ref in device.profile.attributes():
        attribute = ref.attribute
        if not attribute.readable or attribute.kind not in ("range", "number"):
            continue
        if control_type == TEMPERATURE and attribute.name == "targetTemperature":
            refs.append(ref)
        elif (
            control_type == TWO_SET_TEMPERATURE
            and ref.resource.startswith(TWO_SET_PREFIX)
            and "TargetTemperature" in attribute.name
        ):
            refs.append(ref)
    return refs


def read_value(
    device: Device,
    location: str | None,
    resource: str,
    key_field: str | None,
    key: str | None,
    attribute: str,
) -> Any:
    """One attribute's value in the device's status (None when the status lacks it)."""
    status = device.status
    if isinstance(status, list):
        section = next(
            (i for i in status if isinstance(i, dict) and location_name(i) == location), None
        )
    else:
        section = status
    if not isinstance(section, dict):
        return None
    entry = section.get(resource)
    if key_field is not None:
        items = entry if isinstance(entry, list) else []
        entry = next((i for i in items if isinstance(i, dict) and i.get(key_field) == key), None)
    return entry.get(attribute) if isinstance(entry, dict) else None


def read_ref(device: Device, ref: AttributeRef) -> Any:
    return read_value(device, ref.location, ref.resource, ref.key_field, ref.key, ref.name)


def command_for(touched: Touched, value: Any) -> dict[str, Any]:
    """The device change that sets ``touched``'s attribute to ``value`` (restore)."""
    body: dict[str, Any] = {touched.attribute: value}
    if touched.key_field is not None:
        body = {touched.key_field: touched.key, **body}
    change: dict[str, Any] = {touched.resource: body}
    if touched.location is not None:
        return {"location": {"locationName": touched.location}, **change}
    return change


def unit_of(device: Device, ref: AttributeRef) -> str:
    """C or F: the entry's unit key or unit attribute, the profile's unit, else C."""
    if ref.key_field == "unit" and ref.key in ("C", "F"):
        return ref.key
    sibling = read_value(device, ref.location, ref.resource, ref.key_field, ref.key, "unit")
    if sibling in ("C", "F"):
        return str(sibling)
    if ref.attribute.unit in ("C", "F"):
        return str(ref.attribute.unit)
    if ref.name.endswith("F"):
        return "F"
    return "C"


def convert(value: float, source: str, target: str) -> float:
    if source == target:
        return value
    return value * 9 / 5 + 32 if target == "F" else (value - 32) * 5 / 9


def clamp(value: float, bounds: TemperatureBounds, unit: str, ref: AttributeRef) -> float:
    """``value`` kept within the bounds and on a value the device can report.

    The device's range is its writable one when it has one (a signal sets what a user
    could set), else its readable one. Bounds outside that range give its nearest end: a
    signal cannot make a device hold what its profile forbids.
    """
    low = convert(bounds.low, bounds.unit, unit)
    high = convert(bounds.high, bounds.unit, unit)
    domain = ref.attribute.start_domain()
    if not isinstance(domain, Span):
        return _tidy(min(max(value, low), high))
    lowest, highest = domain.low, _down(domain, domain.high)
    if low >= highest:
        return highest
    if high <= lowest:
        return lowest
    low, high = max(low, lowest), min(high, highest)
    if value < low:
        return min(_up(domain, low), highest)
    if value > high:
        return max(_down(domain, high), lowest)
    return value


def _up(domain: Span, value: float) -> float:
    return _tidy(domain.low + math.ceil((value - domain.low) / domain.step - 1e-9) * domain.step)


def _down(domain: Span, value: float) -> float:
    return _tidy(domain.low + math.floor((value - domain.low) / domain.step + 1e-9) * domain.step)


def _tidy(number: float) -> float:
    rounded = round(number, 6)
    return int(rounded) if rounded == int(rounded) else rounded


def plan(device: Device, signals: list[Signal]) -> list[Planned]:
    """The changes ``signals`` ask of ``device`` now, in order; later signals win."""
    wanted: dict[str, Planned] = {}
    for signal in signals:
        if signal.temperature is None:
            continue
        kind = signal.control_type
        for ref in controlled_refs(device, kind):
            key = key_of(ref)
            earlier = wanted.get(key)
            current = read_ref(device, ref)
            value = earlier.new if earlier else current
            if not is_number(value):
                continue
            new = clamp(value, signal.temperature, unit_of(device, ref), ref)
            restore = signal.restores(kind) or bool(earlier and earlier.restore)
            wanted[key] = Planned(ref, current, new, restore)
    return [p for p in wanted.values() if not same_value(p.new, p.current)]


# ------------------------------------------------------------------------- monitoring


def power_state(device: Device) -> str:
    """ON/OFF by the profile's power rule, "" for a device without one."""
    try:
        if device.profile.power_rule() is None:
            return ""
        return "OFF" if device.profile.is_power_off(device.status) else "ON"
    except KeyError:  # several locations, none of them named: no single answer
        return ""


def estimated_power_w(device: Device) -> int | None:
    if "AIR_CONDITIONER" not in device.device_type or not isinstance(device.status, dict):
        return None
    if power_state(device) == "OFF":
        return 0
    mode = (device.status.get("airConJobMode") or {}).get("currentJobMode")
    if mode == "FAN":
        return AC_FAN_W
    temperature = device.status.get("temperature")
    if not isinstance(temperature, dict):
        return None
    current, target = temperature.get("currentTemperature"), temperature.get("targetTemperature")
    if not (is_number(current) and is_number(target)):
        return None
    return round(AC_BASE_W + AC_PER_DEGREE_W * max(0, current - target))


def monitored_values(device: Device) -> dict[str, Any]:
    return {key: read_ref(device, ref) for key, ref in _monitored(device.profile)}


# Per profile (a fleet shares a few): the attributes a monitoring row reads, with keys.
_MONITORED: weakref.WeakKeyDictionary[DeviceProfile, tuple[tuple[str, AttributeRef], ...]] = (
    weakref.WeakKeyDictionary()
)


def _monitored(profile: DeviceProfile) -> tuple[tuple[str, AttributeRef], ...]:
    known = _MONITORED.get(profile)
    if known is None:
        known = _MONITORED[profile] = tuple(
            (key_of(ref), ref)
            for ref in profile.attributes()
            if ref.attribute.readable
            and (
                ref.name in MONITORED_NAMES
                or (ref.resource.startswith(TWO_SET_PREFIX) and "TargetTemperature" in ref.name)
            )
        )
    return known


def sample(
    device: Device, at_ms: int, reason: str, opt: str, participating: bool
) -> dict[str, Any]:
    """One row of a device's monitoring series."""
    moment = datetime.fromtimestamp(at_ms / 1000, UTC)
    return {
        "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epochMs": at_ms,
        "reason": reason,
        "opt": opt,
        "participating": participating,
        "online": device.online,
        "powerState": power_state(device),
        "estimatedPowerW": estimated_power_w(device),
        "values": monitored_values(device),
    }


def same_reading(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two rows say the same of the device (time and reason aside)."""
    ignored = ("timestamp", "epochMs", "reason")
    return {k: v for k, v in a.items() if k not in ignored} == {
        k: v for k, v in b.items() if k not in ignored
    }
