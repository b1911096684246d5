"""A parsed profile's value types: what ``reader`` makes of a profile dict.

A profile becomes sections (one, or one per location of a location-wrapped profile) of
resources, of entries (one, or one per key of a list resource), of attributes, each with
the values it allows when read (``Choice`` or ``Span``) and when written.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mockserver.profiles.power import PowerRule
from mockserver.profiles.values import is_number, same_value, show_value

READ = "r"
WRITE = "w"
KINDS = ("enum", "range", "boolean", "number", "string")
# The readable boolean that, when false, makes a device refuse every command.
REMOTE_CONTROL = ("remoteControlEnable", "remoteControlEnabled")


class ProfileError(ValueError):
    """A profile that cannot be used, naming where it came from and the JSON path at fault."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {problem}")


def _tidy(number: float) -> int | float:
    """Grid arithmetic without float noise: 18 + 3 * 0.5 is 19.5, 18 + 2 * 0.5 is 19."""
    rounded = round(number, 9)
    return int(rounded) if rounded == int(rounded) else rounded


@dataclass(frozen=True)
class Choice:
    """The listed values of an enum or boolean attribute."""

    values: tuple[Any, ...]

    def contains(self, value: Any) -> bool:
        return any(same_value(value, allowed) for allowed in self.values)

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
        text = f"{show_value(self.low)}..{show_value(self.high)} step {show_value(self.step)}"
        return f"{text} except {show_value(self.excluded)}" if self.excluded else text

    def on_grid(self, value: float) -> bool:
        steps = (value - self.low) / self.step
        return abs(steps - round(steps)) < 1e-6

    def is_excluded(self, value: float) -> bool:
        return any(abs(value - other) < 1e-9 for other in self.excluded)

    def problem(self, value: float, side: str) -> str | None:
        if value < self.low - 1e-9 or value > self.high + 1e-9:
            return f"{show_value(value)} is outside the {side} range {self.describe()}"
        if not self.on_grid(value):
            return f"{show_value(value)} is not on a step of the {side} range {self.describe()}"
        if self.is_excluded(value):
            return f"{show_value(value)} is excluded from the {side} range {self.describe()}"
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
            if same_value(value, self.constant):
                return None
            return f"{show_value(value)} differs from the fixed value {show_value(self.constant)}"
        if self.kind == "range":
            assert isinstance(domain, Span)
            if not is_number(value):
                wanted = f"a number in the {label} range {domain.describe()}"
                return f"expected {wanted}, got {show_value(value)}"
            return domain.problem(value, label)
        if self.kind == "number":
            return None if is_number(value) else f"expected a number, got {show_value(value)}"
        if self.kind == "string":
            return None if isinstance(value, str) else f"expected a string, got {show_value(value)}"
        assert isinstance(domain, Choice)
        if self.kind == "boolean" and not isinstance(value, bool):
            return f"expected true or false, got {show_value(value)}"
        if not domain.contains(value):
            allowed = show_value(list(domain.values))
            return f"{show_value(value)} is not one of the {label} values {allowed}"
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
        return next((entry for entry in self.entries if same_value(entry.key, key)), None)

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

    def is_remote_off(self, current: dict[str, Any]) -> bool:
        """Whether ``current`` (this section's part of a status) has remote control off."""
        if not self.remote:
            return False
        resource, attribute = REMOTE_CONTROL
        return (current.get(resource) or {}).get(attribute) is False

    def is_power_off(self, current: dict[str, Any]) -> bool:
        """Whether ``current`` (this section's part of a status) shows the device off."""
        return self.power is not None and self.power.is_off(current)


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
