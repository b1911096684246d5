"""Reading a profile dict into the model, refusing it at the first fault.

Every fault raises ``ProfileError`` naming the profile's source and the JSON path at
fault, so a broken fixture or scenario says exactly what to fix.
"""

from __future__ import annotations

from typing import Any

from mockserver.profiles.layout import location_name
from mockserver.profiles.model import (
    KINDS,
    READ,
    REMOTE_CONTROL,
    WRITE,
    Attribute,
    Choice,
    Domain,
    Entry,
    ProfileError,
    Resource,
    Section,
    Span,
)
from mockserver.profiles.power import POWER_RULES, PowerRule
from mockserver.profiles.values import is_number, show_value

# Plain-string fields that tell the entries of a list resource apart, by preference.
ENTRY_KEYS = ("locationName", "unit")


def read_profile(data: Any, source: str) -> tuple[list[Section], bool, list[str]]:
    """A profile dict's sections, whether they are location-wrapped, and its push codes."""
    reader = _Reader(source)
    if not isinstance(data, dict):
        raise reader.fail("", "a profile must be a JSON object")
    if "property" not in data:
        raise reader.fail("property", "missing: a profile needs its resources")
    push = _check_meta(reader, data)
    sections, wrapped = reader.sections(data["property"])
    return sections, wrapped, push


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
            name = location_name(item)
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
            raise self.fail(
                f"{path}.type", f"{show_value(kind)} is not one of {show_value(list(KINDS))}"
            )
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
            if not is_number(number):
                raise self.fail(f"{path}.{label}", f"expected a number, got {show_value(number)}")
        if low > high:
            raise self.fail(path, f"min {show_value(low)} > max {show_value(high)}")
        if step <= 0:
            raise self.fail(f"{path}.step", f"must be positive, got {show_value(step)}")
        excluded = raw.get("except", [])
        if not isinstance(excluded, list) or not all(is_number(item) for item in excluded):
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
                raise self.fail(
                    path, f"writable values {show_value(stray)} are not readable values"
                )
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
            raise self.fail(path, f"writable values {show_value(clash)} are excluded when read")


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
