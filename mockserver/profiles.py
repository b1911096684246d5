"""The device simulator core: a ThinQ device profile, and what it allows a status to become.

A profile (the JSON LG serves as a device's profile, read the way LG's ``thinqconnect``
SDK reads it) names resources, their attributes, each attribute's type, whether it can be
read and/or written, and the values allowed each way::

    {"property": {"<resource>": {"<attribute>": {"type": "enum", "mode": ["r", "w"],
                                                 "value": {"r": [...], "w": [...]}}}},
     "notification": {"push": ["WASHING_IS_COMPLETE"]}}

Three shapes occur and are all handled by one model:

* a resource is a dict of attributes (``airConJobMode.currentJobMode``);
* a resource is a list of entries told apart by a plain-string key field, ``locationName``
  (``temperature: [{"locationName": "FRIDGE", ...}]``) or ``unit``
  (``temperatureInUnits: [{"unit": "C", ...}]``);
* the whole ``property`` is a list of location-wrapped sections
  (``[{"location": {"locationName": "MAIN"}, "runState": {...}}]``: washer, oven, cooktop).

Other plain strings inside a resource (``"detergentSetting": "NORMAL"``) are constants:
they appear in a status as they are and a command may only repeat them.

A status mirrors the profile with values; a command is a partial status of writable
attributes. This module checks and applies both and knows nothing of HTTP: it raises
``ApiError`` with an API-neutral reason and the JSON path at fault, and ``errors.py``
decides what each API answers.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver.errors import ApiError, Err

Status = dict[str, Any] | list[dict[str, Any]]

READ = "r"
WRITE = "w"
KINDS = ("enum", "range", "boolean", "number", "string")
# Plain-string fields that tell the entries of a list resource apart, by preference.
ENTRY_KEYS = ("locationName", "unit")
# Read-only attributes a command may repeat (with the device's current value) to say what
# its other values mean: Business Connect's example sets a fridge with
# {"targetTemperature": 0, "locationName": "FRIDGE", "unit": "C"} although unit is read-only.
QUALIFIERS = frozenset({"unit"})
REMOTE_CONTROL = ("remoteControlEnable", "remoteControlEnabled")
ROOT = "command"


@dataclass(frozen=True)
class PowerRule:
    """How one kind of appliance is switched on and off, and how to tell it is off.

    ``switch`` is the ``resource.attribute`` a command writes to switch power. ``state`` is
    the readable ``resource.attribute`` whose value says whether the device is off; for
    climate appliances it is the switch itself, for cycle appliances (washer, dryer...)
    the switch is write-only and the run state tells. ``on_values`` lists the switch
    values that turn power on (None: any value but ``off_value``).
    """

    switch: str
    state: str
    off_value: str = "POWER_OFF"
    on_values: frozenset[str] | None = None

    def turns_on(self, value: Any) -> bool:
        if self.on_values is None:
            return value != self.off_value
        return value in self.on_values


def _switched(attribute: str) -> PowerRule:
    return PowerRule(switch=attribute, state=attribute)


def _cycle(attribute: str) -> PowerRule:
    return PowerRule(
        switch=attribute,
        state="runState.currentState",
        on_values=frozenset({"POWER_ON", "WAKE_UP"}),
    )


# Attribute names as the SDK spells them (thinqconnect.devices.*: note ``ceilingfan``
# and ``vent``); ``ceilingFanOperationMode`` is kept for profiles written by hand. The
# first rule whose switch is writable and whose state is readable in a profile (or in one
# location of a location-wrapped profile) governs it.
POWER_RULES: tuple[PowerRule, ...] = (
    _switched("operation.airConOperationMode"),
    _switched("operation.airPurifierOperationMode"),
    _switched("operation.airFanOperationMode"),
    _switched("operation.dehumidifierOperationMode"),
    _switched("operation.humidifierOperationMode"),
    _switched("operation.ceilingfanOperationMode"),
    _switched("operation.ceilingFanOperationMode"),
    _switched("operation.boilerOperationMode"),
    _switched("operation.waterHeaterOperationMode"),
    _switched("operation.ventOperationMode"),
    _switched("operation.hoodOperationMode"),
    _cycle("operation.washerOperationMode"),
    _cycle("operation.dryerOperationMode"),
    _cycle("operation.stylerOperationMode"),
    _cycle("operation.dishWasherOperationMode"),
)

# Run states a cycle appliance shows once switched on, by preference (and at start).
IDLE_STATES = ("INITIAL", "STANDBY", "SLEEP", "CHARGING")
# Starting values chosen before any random one, so a fresh device looks idle and accepts
# remote commands; a value the profile does not allow is skipped.
PREFERRED_START: dict[str, tuple[Any, ...]] = {
    "remoteControlEnabled": (True,),
    "currentState": IDLE_STATES,
    "doorState": ("CLOSE",),
    "cockState": ("NORMAL",),
    "sterilizingState": ("OFF",),
    "rinseRefill": (False,),
    "powerLevel": (0,),
}
# Resources whose attributes start at their lowest value: a timer that is not running.
RESTING_RESOURCES = frozenset({"timer", "sleepTimer"})


class ProfileError(ValueError):
    """A profile that cannot be used, naming where it came from and the JSON path at fault."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {problem}")


# ---------------------------------------------------------------------------------------
# value domains


def _show(value: Any) -> str:
    """A value as a message shows it: strings quoted like the examples, the rest as JSON."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _is_number(value: Any) -> bool:
    # bool is an int in Python but never a number in a profile.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type: True must not match 1, nor 1 match "1"."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _tidy(number: float) -> int | float:
    """Grid arithmetic without float noise: 18 + 3 * 0.5 is 19.5, 18 + 2 * 0.5 is 19."""
    rounded = round(number, 9)
    return int(rounded) if rounded == int(rounded) else rounded


@dataclass(frozen=True)
class Choice:
    """The listed values of an enum or boolean attribute."""

    values: tuple[Any, ...]

    def contains(self, value: Any) -> bool:
        return any(_same(value, allowed) for allowed in self.values)

    def sample(self, rng: random.Random) -> Any:
        return rng.choice(self.values)

    def lowest(self) -> Any:
        return self.values[0]


@dataclass(frozen=True)
class Span:
    """The values of a range attribute: ``low`` to ``high`` on ``step``, minus ``excluded``."""

    low: int | float
    high: int | float
    step: int | float
    excluded: tuple[int | float, ...] = ()

    def describe(self) -> str:
        text = f"{_show(self.low)}..{_show(self.high)} step {_show(self.step)}"
        return f"{text} except {_show(self.excluded)}" if self.excluded else text

    def on_grid(self, value: float) -> bool:
        steps = (value - self.low) / self.step
        return abs(steps - round(steps)) < 1e-6

    def is_excluded(self, value: float) -> bool:
        return any(abs(value - other) < 1e-9 for other in self.excluded)

    def problem(self, value: float, side: str) -> str | None:
        if value < self.low - 1e-9 or value > self.high + 1e-9:
            return f"{_show(value)} is outside the {side} range {self.describe()}"
        if not self.on_grid(value):
            return f"{_show(value)} is not on a step of the {side} range {self.describe()}"
        if self.is_excluded(value):
            return f"{_show(value)} is excluded from the {side} range {self.describe()}"
        return None

    def count(self) -> int:
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

    def at(self, index: int) -> int | float:
        return _tidy(self.low + index * self.step)

    def allowed(self, limit: int) -> Iterator[int | float]:
        """Allowed values from the bottom, at most ``limit`` grid points looked at."""
        for index in range(min(self.count(), limit)):
            value = self.at(index)
            if not self.is_excluded(value):
                yield value

    def lowest(self) -> int | float:
        return next(self.allowed(len(self.excluded) + 1))

    def sample(self, rng: random.Random) -> int | float:
        count = self.count()
        for _ in range(32):
            value = self.at(rng.randrange(count))
            if not self.is_excluded(value):
                return value
        return self.lowest()


Domain = Choice | Span


@dataclass(frozen=True)
class Attribute:
    """One attribute of a resource (or of one entry of a list resource)."""

    name: str
    kind: str  # one of KINDS, or "constant" for a plain string in the profile
    readable: bool
    writable: bool
    read: Domain | None = None
    write: Domain | None = None
    constant: Any = None
    unit: str | None = None

    def domain(self, side: str) -> Domain | None:
        return self.read if side == READ else self.write

    def problem(self, value: Any, side: str) -> str | None:
        """Why ``value`` may not be this attribute's value on ``side`` (r or w), or None."""
        label = "readable" if side == READ else "writable"
        domain = self.domain(side)
        if self.kind == "constant":
            if _same(value, self.constant):
                return None
            return f"{_show(value)} differs from the fixed value {_show(self.constant)}"
        if self.kind == "range":
            assert isinstance(domain, Span)
            if not _is_number(value):
                wanted = f"a number in the {label} range {domain.describe()}"
                return f"expected {wanted}, got {_show(value)}"
            return domain.problem(value, label)
        if self.kind == "number":
            return None if _is_number(value) else f"expected a number, got {_show(value)}"
        if self.kind == "string":
            return None if isinstance(value, str) else f"expected a string, got {_show(value)}"
        assert isinstance(domain, Choice)
        if self.kind == "boolean" and not isinstance(value, bool):
            return f"expected true or false, got {_show(value)}"
        if not domain.contains(value):
            return f"{_show(value)} is not one of the {label} values {_show(list(domain.values))}"
        return None

    def start_domain(self) -> Domain | None:
        # A writable attribute starts on a value a client could also set (w is within r).
        return self.write if self.writable and self.write is not None else self.read


@dataclass(frozen=True)
class Entry:
    """The attributes of a dict resource, or of one entry of a list resource."""

    key: str | None  # the entry's key value ("FRIDGE", "C"); None for a dict resource
    attributes: dict[str, Attribute]


@dataclass(frozen=True)
class Resource:
    name: str
    key_field: str | None  # "locationName" or "unit" for a list resource, else None
    entries: tuple[Entry, ...]

    @property
    def is_list(self) -> bool:
        return self.key_field is not None

    def entry(self, key: Any) -> Entry | None:
        return next((entry for entry in self.entries if _same(entry.key, key)), None)

    def keys(self) -> list[str | None]:
        return [entry.key for entry in self.entries]


@dataclass(frozen=True)
class Section:
    """The resources of a whole profile, or of one location of a location-wrapped profile."""

    location: str | None
    resources: dict[str, Resource]
    power: PowerRule | None
    remote: bool  # has a readable remoteControlEnable.remoteControlEnabled

    def find(self, dotted: str) -> Attribute | None:
        resource_name, _, attribute_name = dotted.partition(".")
        resource = self.resources.get(resource_name)
        if resource is None or resource.is_list:
            return None
        return resource.entries[0].attributes.get(attribute_name)

    def where(self) -> str:
        return f" at location {self.location!r}" if self.location else ""


@dataclass(frozen=True)
class AttributeRef:
    """Where one attribute lives in a profile, and how to address it in a command."""

    location: str | None  # the section's location in a location-wrapped profile
    resource: str
    key_field: str | None  # for a list resource: the field naming the entry
    key: str | None  # for a list resource: the entry's value of that field
    attribute: Attribute

    @property
    def name(self) -> str:
        return self.attribute.name

    def command(self, value: Any, *, as_list: bool = False) -> dict[str, Any]:
        """A one-attribute command (dict style, or Business Connect's list style)."""
        body: dict[str, Any] = {self.attribute.name: value}
        if self.key_field is not None:
            body = {self.key_field: self.key, **body}
        section: dict[str, Any] = {self.resource: [body] if as_list else body}
        if self.location is not None:
            return {"location": {"locationName": self.location}, **section}
        return section


# ---------------------------------------------------------------------------------------
# reading a profile


class _Reader:
    """Turns a profile dict into sections, raising ProfileError at the first fault."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> ProfileError:
        return ProfileError(self.source, path, problem)

    def sections(self, prop: Any) -> tuple[list[Section], bool]:
        if isinstance(prop, dict):
            if not prop:
                raise self.fail("property", "no resources")
            return [self.section(None, prop, "property")], False
        if not isinstance(prop, list) or not prop:
            raise self.fail("property", "expected an object of resources or a list of locations")
        sections: list[Section] = []
        for index, item in enumerate(prop):
            path = f"property[{index}]"
            if not isinstance(item, dict):
                raise self.fail(path, "expected an object with a location and resources")
            name = _location_name(item)
            if not name:
                raise self.fail(f"{path}.location.locationName", "expected a location name")
            if any(section.location == name for section in sections):
                raise self.fail(f"{path}.location.locationName", f"duplicate location {name!r}")
            body = {key: value for key, value in item.items() if key != "location"}
            if not body:
                raise self.fail(path, "no resources")
            sections.append(self.section(name, body, path))
        return sections, True

    def section(self, location: str | None, body: dict[str, Any], path: str) -> Section:
        resources = {
            name: self.resource(name, value, f"{path}.{name}") for name, value in body.items()
        }
        draft = Section(location, resources, None, False)
        remote = draft.find(".".join(REMOTE_CONTROL))
        return Section(
            location,
            resources,
            _power_rule(draft),
            remote is not None and remote.readable and remote.kind == "boolean",
        )

    def resource(self, name: str, value: Any, path: str) -> Resource:
        if isinstance(value, dict):
            return Resource(name, None, (self.entry(None, value, path),))
        if not isinstance(value, list) or not value:
            raise self.fail(path, "expected an object of attributes or a list of entries")
        key_field = self.key_field(value, path)
        entries: list[Entry] = []
        for index, item in enumerate(value):
            key = item[key_field]
            if any(entry.key == key for entry in entries):
                raise self.fail(f"{path}[{index}].{key_field}", f"duplicate {key_field} {key!r}")
            entries.append(self.entry(key, item, f"{path}[{index}]"))
        return Resource(name, key_field, tuple(entries))

    def key_field(self, items: list[Any], path: str) -> str:
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(f"{path}[{index}]", "expected an object of attributes")
        for field in ENTRY_KEYS:
            if all(isinstance(item.get(field), str) for item in items):
                return field
        raise self.fail(
            f"{path}[0]",
            f"every entry of a list resource needs a plain-string {' or '.join(ENTRY_KEYS)}",
        )

    def entry(self, key: str | None, body: dict[str, Any], path: str) -> Entry:
        if not body:
            raise self.fail(path, "no attributes")
        attributes = {
            name: self.attribute(name, spec, f"{path}.{name}") for name, spec in body.items()
        }
        return Entry(key, attributes)

    def attribute(self, name: str, spec: Any, path: str) -> Attribute:
        if isinstance(spec, str):
            return Attribute(name, "constant", readable=True, writable=False, constant=spec)
        if not isinstance(spec, dict):
            raise self.fail(path, "expected an attribute object or a plain string")
        kind = spec.get("type")
        if kind not in KINDS:
            raise self.fail(f"{path}.type", f"{_show(kind)} is not one of {_show(list(KINDS))}")
        mode = spec.get("mode")
        if (
            not isinstance(mode, list)
            or not mode
            or any(side not in (READ, WRITE) for side in mode)
            or len(set(mode)) != len(mode)
        ):
            raise self.fail(f"{path}.mode", 'expected a list of "r" and/or "w"')
        unit = spec.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise self.fail(f"{path}.unit", "expected a string")
        value = spec.get("value", {})
        if not isinstance(value, dict):
            raise self.fail(f"{path}.value", 'expected an object with "r" and/or "w"')
        domains = {side: self.domain(kind, value, side, f"{path}.value.{side}") for side in mode}
        read, write = domains.get(READ), domains.get(WRITE)
        if read is not None and write is not None:
            self.check_within(read, write, f"{path}.value.w")
        return Attribute(name, kind, READ in mode, WRITE in mode, read, write, unit=unit)

    def domain(self, kind: str, value: dict[str, Any], side: str, path: str) -> Domain | None:
        raw = value.get(side)
        if kind == "enum":
            if not isinstance(raw, list) or not raw:
                raise self.fail(path, "an enum needs a non-empty list of values")
            if any(isinstance(item, dict | list) or item is None for item in raw):
                raise self.fail(path, "enum values must be strings, numbers or booleans")
            return Choice(tuple(raw))
        if kind == "boolean":
            if raw is None:
                return Choice((True, False))
            if not isinstance(raw, list) or not raw or not all(isinstance(v, bool) for v in raw):
                raise self.fail(path, "expected a non-empty list of true/false")
            return Choice(tuple(raw))
        if kind == "range":
            return self.span(raw, path)
        return None  # number and string: any value of the type

    def span(self, raw: Any, path: str) -> Span:
        if not isinstance(raw, dict):
            raise self.fail(path, "a range needs an object with min, max and step")
        low, high, step = raw.get("min"), raw.get("max"), raw.get("step", 1)
        for label, number in (("min", low), ("max", high), ("step", step)):
            if not _is_number(number):
                raise self.fail(f"{path}.{label}", f"expected a number, got {_show(number)}")
        if low > high:
            raise self.fail(path, f"min {_show(low)} > max {_show(high)}")
        if step <= 0:
            raise self.fail(f"{path}.step", f"must be positive, got {_show(step)}")
        excluded = raw.get("except", [])
        if not isinstance(excluded, list) or not all(_is_number(item) for item in excluded):
            raise self.fail(f"{path}.except", "expected a list of numbers")
        span = Span(low, high, step, tuple(excluded))
        if next(span.allowed(len(excluded) + 1), None) is None:
            raise self.fail(path, f"no value is allowed by {span.describe()}")
        return span

    def check_within(self, read: Domain, write: Domain, path: str) -> None:
        # A command may only set values a status may hold, or statuses would go invalid.
        if isinstance(read, Choice) and isinstance(write, Choice):
            stray = [value for value in write.values if not read.contains(value)]
            if stray:
                raise self.fail(path, f"writable values {_show(stray)} are not readable values")
            return
        assert isinstance(read, Span) and isinstance(write, Span)
        if write.low < read.low - 1e-9 or write.high > read.high + 1e-9:
            raise self.fail(
                path, f"writable range {write.describe()} exceeds readable range {read.describe()}"
            )
        ratio = write.step / read.step
        if not read.on_grid(write.low) or abs(ratio - round(ratio)) > 1e-6:
            raise self.fail(
                path,
                f"writable range {write.describe()} is off the readable steps {read.describe()}",
            )
        clash = [value for value in read.excluded if write.problem(value, "writable") is None]
        if clash:
            raise self.fail(path, f"writable values {_show(clash)} are excluded when read")


def _power_rule(section: Section) -> PowerRule | None:
    for rule in POWER_RULES:
        switch, state = section.find(rule.switch), section.find(rule.state)
        if switch is not None and switch.writable and state is not None and state.readable:
            return rule
    return None


def _check_meta(reader: _Reader, data: dict[str, Any]) -> list[str]:
    notification = data.get("notification") or {}
    if not isinstance(notification, dict):
        raise reader.fail("notification", "expected an object")
    push = notification.get("push", [])
    if not isinstance(push, list) or not all(isinstance(code, str) for code in push):
        raise reader.fail("notification.push", "expected a list of push codes (strings)")
    errors = data.get("error") or []
    if not isinstance(errors, list) or not all(isinstance(code, str) for code in errors):
        raise reader.fail("error", "expected a list of error codes (strings)")
    return list(push)


# ---------------------------------------------------------------------------------------
# the profile


@dataclass(frozen=True)
class _Edit:
    """One validated attribute change, ready to apply."""

    section: Section
    resource: Resource
    entry: Entry
    attribute: Attribute
    value: Any


def _refuse(path: str, problem: str) -> ApiError:
    return ApiError(Err.INVALID_COMMAND, f"{path}: {problem}", field=path)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class DeviceProfile:
    """A parsed profile: builds, checks and changes statuses of devices that use it."""

    def __init__(
        self,
        raw: dict[str, Any],
        sections: list[Section],
        wrapped: bool,
        push_codes: list[str],
        source: str,
    ) -> None:
        self.raw = raw
        self.source = source
        self.push_codes = push_codes
        self.is_location_wrapped = wrapped
        self._sections = sections
        self.locations = self._location_names()

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<inline>") -> DeviceProfile:
        reader = _Reader(source)
        if not isinstance(data, dict):
            raise reader.fail("", "a profile must be a JSON object")
        if "property" not in data:
            raise reader.fail("property", "missing: a profile needs its resources")
        push = _check_meta(reader, data)
        sections, wrapped = reader.sections(data["property"])
        return cls(copy.deepcopy(data), sections, wrapped, push, source)

    def __repr__(self) -> str:
        return f"DeviceProfile({self.source!r})"

    def _location_names(self) -> list[str]:
        if self.is_location_wrapped:
            return [section.location for section in self._sections if section.location]
        names: list[str] = []
        for resource in self._sections[0].resources.values():
            if resource.key_field == "locationName":
                names.extend(key for key in resource.keys() if key and key not in names)
        return names

    # ---- introspection

    def attributes(self) -> Iterator[AttributeRef]:
        """Every attribute (constants included), in profile order."""
        for section in self._sections:
            for resource in section.resources.values():
                for entry in resource.entries:
                    for attribute in entry.attributes.values():
                        if resource.is_list and attribute.name == resource.key_field:
                            continue
                        yield AttributeRef(
                            section.location,
                            resource.name,
                            resource.key_field,
                            entry.key,
                            attribute,
                        )

    def power_rule(self, location: str | None = None) -> PowerRule | None:
        return self._section_named(location).power

    def is_power_off(self, status: Status, location: str | None = None) -> bool:
        """Whether the device (or ``location``, needed when there are several) is off."""
        section = self._section_named(location)
        return self._power_off(section, self._section_status(status, section))

    def is_remote_off(self, status: Status, location: str | None = None) -> bool:
        section = self._section_named(location)
        return self._remote_off(section, self._section_status(status, section))

    def _section_named(self, location: str | None) -> Section:
        if location is None and len(self._sections) == 1:
            return self._sections[0]
        for section in self._sections:
            if section.location == location:
                return section
        raise KeyError(f"{self.source}: no location {location!r}; locations: {self.locations}")

    # ---- statuses

    def initial_status(self, rng: random.Random) -> Status:
        """A full, valid status of an idle, powered, remotely controllable device."""
        sections = [self._initial_section(section, rng) for section in self._sections]
        if not self.is_location_wrapped:
            return sections[0]
        return [
            {"location": {"locationName": section.location}, **body}
            for section, body in zip(self._sections, sections, strict=True)
        ]

    def _initial_section(self, section: Section, rng: random.Random) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for resource in section.resources.values():
            items = [
                {
                    name: _initial_value(section, resource, attribute, rng)
                    for name, attribute in entry.attributes.items()
                    if attribute.readable
                }
                for entry in resource.entries
            ]
            items = [item for item in items if item]  # write-only resources hold no state
            if items:
                body[resource.name] = items if resource.is_list else items[0]
        return body

    def validate_status(self, status: Any, *, partial: bool = False) -> list[str]:
        """Every way ``status`` does not fit this profile ([] when it fits).

        With ``partial`` a status may leave out resources, entries and attributes (a
        scenario's ``status:`` override); what it does say must still be right.
        """
        problems: list[str] = []
        if not self.is_location_wrapped:
            self._check_section(self._sections[0], status, "", partial, problems)
            return problems
        if not isinstance(status, list):
            return [f"status: expected a list of locations, got {type(status).__name__}"]
        seen: set[str] = set()
        for index, item in enumerate(status):
            path = f"[{index}]"
            if not isinstance(item, dict):
                problems.append(f"{path}: expected an object")
                continue
            name = _location_name(item)
            section = next((s for s in self._sections if s.location == name), None)
            if section is None:
                problems.append(
                    f"{path}.location.locationName: {_show(name)} is not one of {self.locations}"
                )
                continue
            if name in seen:
                problems.append(f"{path}.location.locationName: duplicate location {name!r}")
            seen.add(section.location or "")
            body = {key: value for key, value in item.items() if key != "location"}
            self._check_section(section, body, path, partial, problems)
        if not partial:
            problems.extend(
                f"status: location {section.location!r} is missing"
                for section in self._sections
                if section.location not in seen
            )
        return problems

    def _check_section(
        self, section: Section, body: Any, path: str, partial: bool, problems: list[str]
    ) -> None:
        if not isinstance(body, dict):
            problems.append(f"{path or 'status'}: expected an object of resources")
            return
        for name, value in body.items():
            rpath = _join(path, name)
            resource = section.resources.get(name)
            if resource is None:
                problems.append(f"{rpath}: unknown resource")
            elif resource.is_list:
                self._check_list(resource, value, rpath, partial, problems)
            elif not isinstance(value, dict):
                problems.append(f"{rpath}: expected an object of attributes")
            else:
                self._check_entry(resource.entries[0], value, rpath, partial, problems)
        if partial:
            return
        for resource in section.resources.values():
            if resource.name not in body and _has_state(resource):
                problems.append(f"{_join(path, resource.name)}: missing")

    def _check_list(
        self, resource: Resource, value: Any, path: str, partial: bool, problems: list[str]
    ) -> None:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list of entries")
            return
        seen: list[Any] = []
        for index, item in enumerate(value):
            ipath = f"{path}[{index}]"
            key = item.get(resource.key_field) if isinstance(item, dict) else None
            entry = resource.entry(key)
            if not isinstance(item, dict) or entry is None:
                problems.append(
                    f"{ipath}.{resource.key_field}: {_show(key)} is not one of {resource.keys()}"
                )
                continue
            if key in seen:
                problems.append(f"{ipath}.{resource.key_field}: duplicate entry {key!r}")
            seen.append(key)
            self._check_entry(entry, item, ipath, partial, problems)
        if not partial:
            problems.extend(
                f"{path}: entry {resource.key_field}={entry.key!r} is missing"
                for entry in resource.entries
                if entry.key not in seen and any(a.readable for a in entry.attributes.values())
            )

    def _check_entry(
        self, entry: Entry, item: dict[str, Any], path: str, partial: bool, problems: list[str]
    ) -> None:
        for name, value in item.items():
            apath = _join(path, name)
            attribute = entry.attributes.get(name)
            if attribute is None:
                problems.append(f"{apath}: unknown attribute")
            elif not attribute.readable:
                problems.append(f"{apath}: write-only attribute, it has no status value")
            elif (problem := attribute.problem(value, READ)) is not None:
                problems.append(f"{apath}: {problem}")
        if not partial:
            problems.extend(
                f"{_join(path, name)}: missing"
                for name, attribute in entry.attributes.items()
                if attribute.readable and name not in item
            )

    # ---- changes

    def apply_command(self, status: Status, command: Any) -> tuple[Status, Status]:
        """Apply a client's command: (new full status, the part that changed).

        The command is checked whole first (shape, attributes, values, then remote
        control and power) and ``status`` is never modified: on any refusal nothing
        changed. ``changed`` mirrors the status shape (a list of location-wrapped entries
        for location-wrapped profiles); write-only attributes set by the command (e.g.
        ``washerOperationMode``) are in it although no status holds them.
        """
        edits = self._parse(command, WRITE, status)
        for section in _distinct(edit.section for edit in edits):
            current = self._section_status(status, section)
            self._check_state_rules(section, current, [e for e in edits if e.section is section])
        return self._apply(status, edits, with_side_effects=True)

    def apply_device_change(self, status: Status, change: Any) -> tuple[Status, Status]:
        """Apply a change reported by the device itself (a cycle ending, a door opening).

        Any readable attribute may change to any readable value; no power or remote
        rules apply. Same atomicity and return values as ``apply_command``.
        """
        edits = self._parse(change, READ, status)
        return self._apply(status, edits, with_side_effects=False)

    # -- parsing: command -> edits, or ApiError(INVALID_COMMAND)

    def _parse(self, command: Any, side: str, status: Status) -> list[_Edit]:
        if self.is_location_wrapped:
            parts = self._split_locations(command)
        else:
            if not isinstance(command, dict):
                raise _refuse(ROOT, f"must be a JSON object, got {_json_type(command)}")
            parts = [(self._sections[0], command, "")]
        if not parts or not any(body for _, body, _ in parts):
            raise _refuse(ROOT, "is empty: name at least one resource and attribute to set")
        edits: list[_Edit] = []
        for section, body, path in parts:
            current = self._section_status(status, section)
            edits.extend(self._parse_section(section, body, path, side, current))
        # Repeating fixed values (a whole exported status, say) is fine, but a client's
        # command that sets nothing at all is a mistake worth reporting.
        if side == WRITE and not edits:
            raise _refuse(ROOT, "sets nothing: it only repeats fixed values")
        return edits

    def _split_locations(self, command: Any) -> list[tuple[Section, dict[str, Any], str]]:
        if isinstance(command, dict):
            items, paths = [command], [""]
        elif isinstance(command, list):
            items, paths = command, [f"[{index}]" for index in range(len(command))]
        else:
            raise _refuse(ROOT, f"must be a JSON object, got {_json_type(command)}")
        parts: list[tuple[Section, dict[str, Any], str]] = []
        for item, path in zip(items, paths, strict=True):
            if not isinstance(item, dict):
                raise _refuse(path or ROOT, f"must be a JSON object, got {_json_type(item)}")
            section = self._locate(item.get("location"), _join(path, "location"))
            if any(other is section for other, _, _ in parts):
                raise _refuse(_join(path, "location"), f"location {section.location!r} repeated")
            body = {key: value for key, value in item.items() if key != "location"}
            parts.append((section, body, path))
        return parts

    def _locate(self, location: Any, path: str) -> Section:
        names = self.locations
        if location is None:
            if len(self._sections) == 1:
                return self._sections[0]
            raise _refuse(
                _join(path, "locationName"), f"required: this device has locations {names}"
            )
        name = location.get("locationName") if isinstance(location, dict) else None
        if not isinstance(location, dict) or not isinstance(name, str):
            raise _refuse(path, 'expected {"locationName": ...}')
        for section in self._sections:
            if section.location == name:
                return section
        raise _refuse(_join(path, "locationName"), f"{_show(name)} is not one of {names}")

    def _parse_section(
        self, section: Section, body: dict[str, Any], path: str, side: str, current: dict[str, Any]
    ) -> list[_Edit]:
        if not body:
            raise _refuse(path or ROOT, "names no resource to set")
        edits: list[_Edit] = []
        for name, value in body.items():
            rpath = _join(path, name)
            resource = section.resources.get(name)
            if resource is None:
                raise _refuse(
                    rpath, f"unknown resource; this device has {_show(list(section.resources))}"
                )
            if resource.is_list:
                edits.extend(self._parse_list(section, resource, value, rpath, side, current))
            elif not isinstance(value, dict):
                raise _refuse(rpath, f"expected an object of attributes, got {_json_type(value)}")
            else:
                entry = resource.entries[0]
                state = current.get(name) if isinstance(current.get(name), dict) else {}
                edits.extend(self._parse_entry(section, resource, entry, value, rpath, side, state))
        return edits

    def _parse_list(
        self,
        section: Section,
        resource: Resource,
        value: Any,
        path: str,
        side: str,
        current: dict[str, Any],
    ) -> list[_Edit]:
        # The SDK sends one entry as an object, Business Connect's example a list of them.
        if isinstance(value, dict):
            items, paths = [value], [path]
        elif isinstance(value, list) and value:
            items, paths = value, [f"{path}[{index}]" for index in range(len(value))]
        else:
            raise _refuse(path, "expected an entry object or a non-empty list of entries")
        edits: list[_Edit] = []
        chosen: list[Entry] = []
        for item, ipath in zip(items, paths, strict=True):
            if not isinstance(item, dict):
                raise _refuse(ipath, f"expected an entry object, got {_json_type(item)}")
            entry = self._pick_entry(resource, item, ipath)
            if any(entry is other for other in chosen):
                raise _refuse(
                    _join(ipath, str(resource.key_field)), f"entry {entry.key!r} repeated"
                )
            chosen.append(entry)
            state = _find_entry(current.get(resource.name), resource, entry) or {}
            edits.extend(self._parse_entry(section, resource, entry, item, ipath, side, state))
        return edits

    def _pick_entry(self, resource: Resource, item: dict[str, Any], path: str) -> Entry:
        field = str(resource.key_field)
        if field not in item:
            if len(resource.entries) == 1:
                return resource.entries[0]
            raise _refuse(
                _join(path, field), f"required: '{resource.name}' has entries {resource.keys()}"
            )
        entry = resource.entry(item[field])
        if entry is None:
            raise _refuse(
                _join(path, field), f"{_show(item[field])} is not one of {resource.keys()}"
            )
        return entry

    def _parse_entry(
        self,
        section: Section,
        resource: Resource,
        entry: Entry,
        item: dict[str, Any],
        path: str,
        side: str,
        state: dict[str, Any],
    ) -> list[_Edit]:
        if not item:
            raise _refuse(path, "names no attribute to set")
        edits: list[_Edit] = []
        for name, value in item.items():
            if resource.is_list and name == resource.key_field:
                continue  # it chose the entry
            apath = _join(path, name)
            attribute = entry.attributes.get(name)
            if attribute is None:
                known = [n for n in entry.attributes if n != resource.key_field]
                raise _refuse(
                    apath, f"unknown attribute of '{resource.name}'; it has {_show(known)}"
                )
            if attribute.kind == "constant" or (
                side == WRITE and _is_echo(attribute, value, state)
            ):
                if (problem := attribute.problem(value, READ)) is not None:
                    raise _refuse(apath, f"{problem}; it cannot be changed")
                continue
            if side == WRITE and not attribute.writable:
                writable = [n for n, a in entry.attributes.items() if a.writable]
                hint = (
                    f"; writable attributes of '{resource.name}': {_show(writable)}"
                    if writable
                    else f"; '{resource.name}' has no writable attribute"
                )
                raise _refuse(apath, f"read-only attribute{_echo_hint(attribute, state)}{hint}")
            if side == READ and not attribute.readable:
                raise _refuse(apath, "write-only attribute: the device reports no value for it")
            if (problem := attribute.problem(value, side)) is not None:
                raise _refuse(apath, problem)
            edits.append(_Edit(section, resource, entry, attribute, value))
        return edits

    # -- remote control and power

    def _check_state_rules(
        self, section: Section, current: dict[str, Any], edits: list[_Edit]
    ) -> None:
        if self._remote_off(section, current):
            raise ApiError(
                Err.DEVICE_REMOTE_OFF,
                f"remote control is off on the device{section.where()} "
                f"({'.'.join(REMOTE_CONTROL)} is false): it accepts no command",
                field=".".join(REMOTE_CONTROL),
            )
        rule = section.power
        if rule is None or not self._power_off(section, current):
            return
        if any(_dotted(edit) == rule.switch and rule.turns_on(edit.value) for edit in edits):
            return
        switch = section.find(rule.switch)
        values = switch.write.values if switch and isinstance(switch.write, Choice) else ()
        ons = [value for value in values if rule.turns_on(value)]
        accepted = f"only {rule.switch} set to one of {_show(ons)}" if ons else "no command"
        raise ApiError(
            Err.DEVICE_POWER_OFF,
            f"the device{section.where()} is powered off ({rule.state} is "
            f"{_show(rule.off_value)}): it accepts {accepted}",
            field=rule.switch,
        )

    def _remote_off(self, section: Section, current: dict[str, Any]) -> bool:
        if not section.remote:
            return False
        resource, attribute = REMOTE_CONTROL
        return (current.get(resource) or {}).get(attribute) is False

    def _power_off(self, section: Section, current: dict[str, Any]) -> bool:
        rule = section.power
        if rule is None:
            return False
        resource, _, attribute = rule.state.partition(".")
        state = current.get(resource)
        return isinstance(state, dict) and _same(state.get(attribute), rule.off_value)

    # -- applying edits

    def _section_status(self, status: Any, section: Section) -> dict[str, Any]:
        if not self.is_location_wrapped:
            return status if isinstance(status, dict) else {}
        for item in status if isinstance(status, list) else []:
            location = item.get("location") if isinstance(item, dict) else None
            if isinstance(location, dict) and location.get("locationName") == section.location:
                return item
        return {}

    def _apply(
        self, status: Status, edits: list[_Edit], *, with_side_effects: bool
    ) -> tuple[Status, Status]:
        new = copy.deepcopy(status)
        if self.is_location_wrapped and not isinstance(new, list):
            raise TypeError(f"{self.source}: a status of this profile is a list of locations")
        if not self.is_location_wrapped and not isinstance(new, dict):
            raise TypeError(f"{self.source}: a status of this profile is an object")
        changes: list[_Edit] = []
        for edit in edits:
            if self._set(new, edit):
                changes.append(edit)
        if with_side_effects:
            changes.extend(self._power_side_effects(new, edits))
        return new, self._changed(changes)

    def _set(self, status: Status, edit: _Edit) -> bool:
        """Write one edit into ``status``; True when it changed something worth reporting."""
        if not edit.attribute.readable:
            return True  # an action (START, POWER_OFF): reported, never stored
        target = self._target(status, edit.section, edit.resource, edit.entry)
        before = target.get(edit.attribute.name, _MISSING)
        target[edit.attribute.name] = edit.value
        return before is _MISSING or not _same(before, edit.value)

    def _target(
        self, status: Status, section: Section, resource: Resource, entry: Entry
    ) -> dict[str, Any]:
        """The dict holding ``entry``'s values in ``status``, created when missing."""
        body = self._section_status(status, section)
        if self.is_location_wrapped and not body:
            body = {"location": {"locationName": section.location}}
            assert isinstance(status, list)
            status.append(body)
        if not resource.is_list:
            if not isinstance(body.get(resource.name), dict):
                body[resource.name] = {}
            return body[resource.name]
        if not isinstance(body.get(resource.name), list):
            body[resource.name] = []
        found = _find_entry(body[resource.name], resource, entry)
        if found is None:
            found = {str(resource.key_field): entry.key}
            body[resource.name].append(found)
        return found

    def _power_side_effects(self, status: Status, edits: list[_Edit]) -> list[_Edit]:
        """A write-only power switch moves the run state that tells power (cycle appliances)."""
        effects: list[_Edit] = []
        for edit in edits:
            rule = edit.section.power
            if rule is None or rule.state == rule.switch or _dotted(edit) != rule.switch:
                continue
            state = edit.section.find(rule.state)
            if state is None or not isinstance(state.read, Choice):
                continue
            current = self._section_status(status, edit.section)
            if _same(edit.value, rule.off_value):
                target = rule.off_value
            elif rule.turns_on(edit.value) and self._power_off(edit.section, current):
                target = next((s for s in IDLE_STATES if state.read.contains(s)), None)
            else:
                continue
            if target is None or not state.read.contains(target):
                continue
            resource_name = rule.state.partition(".")[0]
            resource = edit.section.resources[resource_name]
            effect = _Edit(edit.section, resource, resource.entries[0], state, target)
            if self._set(status, effect):
                effects.append(effect)
        return effects

    def _changed(self, changes: list[_Edit]) -> Status:
        bodies: dict[str | None, dict[str, Any]] = {}
        for edit in changes:
            body = bodies.setdefault(edit.section.location, {})
            name = edit.resource.name
            if not edit.resource.is_list:
                body.setdefault(name, {})[edit.attribute.name] = edit.value
                continue
            entries = body.setdefault(name, [])
            found = _find_entry(entries, edit.resource, edit.entry)
            if found is None:
                found = {str(edit.resource.key_field): edit.entry.key}
                entries.append(found)
            found[edit.attribute.name] = edit.value
        if not self.is_location_wrapped:
            return bodies.get(None, {})
        return [
            {"location": {"locationName": section.location}, **bodies[section.location]}
            for section in self._sections
            if section.location in bodies
        ]


_MISSING = object()


def _location_name(item: dict[str, Any]) -> str | None:
    location = item.get("location")
    name = location.get("locationName") if isinstance(location, dict) else None
    return name if isinstance(name, str) and name else None


def _has_state(resource: Resource) -> bool:
    return any(a.readable for entry in resource.entries for a in entry.attributes.values())


def _find_entry(items: Any, resource: Resource, entry: Entry) -> dict[str, Any] | None:
    if not isinstance(items, list):
        return None
    field = str(resource.key_field)
    for item in items:
        if isinstance(item, dict) and _same(item.get(field), entry.key):
            return item
    return None


def _is_echo(attribute: Attribute, value: Any, state: dict[str, Any]) -> bool:
    """A read-only qualifier repeated with the device's current value: allowed, not a change."""
    return (
        attribute.name in QUALIFIERS
        and attribute.readable
        and not attribute.writable
        and attribute.name in state
        and _same(state[attribute.name], value)
    )


def _echo_hint(attribute: Attribute, state: dict[str, Any]) -> str:
    if attribute.name in QUALIFIERS and attribute.name in state:
        return f" (a command may only repeat its current value {_show(state[attribute.name])})"
    return f" (mode {_show(['r'])})"


def _dotted(edit: _Edit) -> str:
    return f"{edit.resource.name}.{edit.attribute.name}"


def _distinct(sections: Iterator[Section]) -> list[Section]:
    seen: list[Section] = []
    for section in sections:
        if not any(section is other for other in seen):
            seen.append(section)
    return seen


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _initial_value(
    section: Section, resource: Resource, attribute: Attribute, rng: random.Random
) -> Any:
    if attribute.kind == "constant":
        return attribute.constant
    dotted = f"{resource.name}.{attribute.name}"
    rule = section.power
    preferred: tuple[Any, ...] = PREFERRED_START.get(attribute.name, ())
    if rule is not None and dotted == rule.state and rule.state == rule.switch:
        preferred = ("POWER_ON",)  # a climate device starts on, so first commands work
    for candidate in preferred:
        if attribute.problem(candidate, READ) is None and (
            not attribute.writable or attribute.problem(candidate, WRITE) is None
        ):
            return candidate
    domain = attribute.start_domain()
    if attribute.kind == "number":
        return 0 if resource.name in RESTING_RESOURCES else rng.randint(0, 100)
    if attribute.kind == "string":
        return ""
    assert domain is not None
    if resource.name in RESTING_RESOURCES and attribute.read is not None:
        return attribute.read.lowest()  # 0 is "not set" even where a client may only set 1+
    if resource.name in RESTING_RESOURCES or attribute.name == "currentState":
        return domain.lowest()
    if rule is not None and dotted == rule.state and isinstance(domain, Choice):
        awake = [value for value in domain.values if not _same(value, rule.off_value)]
        if awake:
            return awake[0]
    return domain.sample(rng)


# ---------------------------------------------------------------------------------------
# files


def load_profile_file(path: Path, *, source: str | None = None) -> DeviceProfile:
    """Read one profile JSON file; errors name it as ``<type dir>/<file>`` unless told."""
    path = Path(path)
    name = source or f"{path.parent.name}/{path.name}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(name, "", "no such file") from None
    except OSError as exc:
        raise ProfileError(name, "", f"cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            name, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return DeviceProfile.from_dict(data, source=name)


def resolve_profile(ref: str | dict[str, Any], fixtures_dir: Path) -> DeviceProfile:
    """A scenario's ``profile:``: a path relative to the profile fixtures, or an inline object.

    ``fixtures_dir`` is the profiles folder (``fixtures/profiles``); given ``fixtures/``
    itself, its ``profiles`` folder is used. A path may not leave that folder.
    """
    if isinstance(ref, dict):
        return DeviceProfile.from_dict(ref, source="<inline>")
    if not isinstance(ref, str) or not ref.strip():
        raise ProfileError(
            "<profile>", "", "expected a fixture path like 'refrigerator/basic.json' or an object"
        )
    root = fixtures_dir.resolve()
    if not (root / ref).is_file() and (root / "profiles").is_dir():
        root = (root / "profiles").resolve()
    candidate = (root / ref).resolve()
    if not candidate.is_relative_to(root):
        raise ProfileError(ref, "", f"refused: the path leaves the profile fixtures folder {root}")
    if not candidate.is_file():
        known = sorted(str(p.relative_to(root)) for p in root.glob("*/*.json"))
        raise ProfileError(ref, "", f"no such profile fixture; available: {', '.join(known)}")
    return load_profile_file(candidate, source=ref)
