"""Statuses of a profile: the one a new device starts with, and whether a given one fits.

A status mirrors the profile with values: every readable attribute of every resource,
entry and location holds one of its readable values.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mockserver.profiles.layout import Layout, Status, location_name
from mockserver.profiles.model import READ, WRITE, Attribute, Choice, Entry, Resource, Section
from mockserver.profiles.power import IDLE_STATES
from mockserver.profiles.values import join_path, json_copy, same_value, show_value

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


# ---------------------------------------------------------------------------------------
# the initial status


def initial_status(layout: Layout, rng: random.Random) -> Status:
    """``DeviceProfile.initial_status``: an idle, powered, remotely controllable device."""
    return StatusPlan(layout).make(rng)


Sampler = Callable[[random.Random], Any]


class StatusPlan:
    """How a profile's initial statuses are made, worked out once per profile.

    Most starting values depend on the profile alone (constants, preferred and resting
    values); the plan keeps them in a template and makes a status by copying it and
    drawing the random ones in the order the profile lists them, so the same seed and
    device id give the same status as drawing every value in turn would. A fleet makes
    thousands of statuses from one plan.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.templates: list[dict[str, Any]] = []
        # (section index, resource, entry index or None, attribute, how to draw it)
        self.slots: list[tuple[int, str, int | None, str, Sampler]] = []
        for index, section in enumerate(layout.sections):
            self.templates.append(self._template(index, section))

    def _template(self, index: int, section: Section) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for resource in section.resources.values():
            items = []
            slots = []
            for entry in resource.entries:
                item: dict[str, Any] = {}
                for name, attribute in entry.attributes.items():
                    if not attribute.readable:
                        continue
                    value, sampler = _initial_rule(section, resource, attribute)
                    item[name] = value
                    if sampler is not None:
                        slots.append((len(items), name, sampler))
                if item:  # write-only resources hold no state
                    items.append(item)
                elif slots and slots[-1][0] == len(items):
                    slots.pop()  # pragma: no cover - an empty item has no slots
            if items:
                body[resource.name] = items if resource.is_list else items[0]
                for position, name, sampler in slots:
                    where = position if resource.is_list else None
                    self.slots.append((index, resource.name, where, name, sampler))
        return body

    def make(self, rng: random.Random) -> Status:
        bodies = [json_copy(template) for template in self.templates]
        for index, resource, position, name, sampler in self.slots:
            holder = bodies[index][resource]
            if position is not None:
                holder = holder[position]
            holder[name] = sampler(rng)
        for section, body in zip(self.layout.sections, bodies, strict=True):
            _settle_room(section, body)
        if not self.layout.wrapped:
            return bodies[0]
        return [
            {"location": {"locationName": section.location}, **body}
            for section, body in zip(self.layout.sections, bodies, strict=True)
        ]


def _random_percent(rng: random.Random) -> int:
    return rng.randint(0, 100)


def _initial_rule(
    section: Section, resource: Resource, attribute: Attribute
) -> tuple[Any, Sampler | None]:
    """An attribute's starting value, or how to draw it: (value, None) or (None, sampler)."""
    if attribute.kind == "constant":
        return attribute.constant, None
    dotted = f"{resource.name}.{attribute.name}"
    rule = section.power
    preferred: tuple[Any, ...] = PREFERRED_START.get(attribute.name, ())
    if rule is not None and dotted == rule.state and rule.state == rule.switch:
        preferred = ("POWER_ON",)  # a climate device starts on, so first commands work
    for candidate in preferred:
        if attribute.problem(candidate, READ) is None and (
            not attribute.writable or attribute.problem(candidate, WRITE) is None
        ):
            return candidate, None
    domain = attribute.start_domain()
    if attribute.kind == "number":
        return (0, None) if resource.name in RESTING_RESOURCES else (None, _random_percent)
    if attribute.kind == "string":
        return "", None
    assert domain is not None
    # Only readable attributes get here, so a resting one always has a read domain.
    if resource.name in RESTING_RESOURCES and attribute.read is not None:
        return attribute.read.lowest(), None  # 0 is "not set" even where a client may only set 1+
    if attribute.name == "currentState":
        return domain.lowest(), None
    if rule is not None and dotted == rule.state and isinstance(domain, Choice):
        awake = [value for value in domain.values if not same_value(value, rule.off_value)]
        if awake:
            return awake[0], None
    return None, domain.sample


def _settle_room(section: Section, body: dict[str, Any]) -> None:
    """An idle climate device's room is at its set point: nothing drifts until told to.

    So an untouched fleet has nothing in motion and the simulator needs to look at none
    of it (docs/scale.md); a new target (or a reading set by QA) starts the drift.
    """
    values = body.get("temperature")
    resource = section.resources.get("temperature")
    if not isinstance(values, dict) or resource is None or resource.is_list:
        return
    current = resource.entries[0].attributes.get("currentTemperature")
    target = values.get("targetTemperature")
    if current is None or "currentTemperature" not in values or target is None:
        return
    if current.problem(target, READ) is None:
        values["currentTemperature"] = target


# ---------------------------------------------------------------------------------------
# checking a status


def validate_status(layout: Layout, status: Any, *, partial: bool = False) -> list[str]:
    """``DeviceProfile.validate_status``: every way ``status`` does not fit ([] when it fits)."""
    problems: list[str] = []
    if not layout.wrapped:
        _check_section(layout.sections[0], status, "", partial, problems)
        return problems
    if not isinstance(status, list):
        return [f"status: expected a list of locations, got {type(status).__name__}"]
    seen: set[str] = set()
    for index, item in enumerate(status):
        path = f"[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{path}: expected an object")
            continue
        name = location_name(item)
        section = next((s for s in layout.sections if s.location == name), None)
        if section is None:
            problems.append(
                f"{path}.location.locationName: {show_value(name)} is not one of {layout.locations}"
            )
            continue
        if name in seen:
            problems.append(f"{path}.location.locationName: duplicate location {name!r}")
        seen.add(section.location or "")
        body = {key: value for key, value in item.items() if key != "location"}
        _check_section(section, body, path, partial, problems)
    if not partial:
        problems.extend(
            f"status: location {section.location!r} is missing"
            for section in layout.sections
            if section.location not in seen
        )
    return problems


def _check_section(
    section: Section, body: Any, path: str, partial: bool, problems: list[str]
) -> None:
    if not isinstance(body, dict):
        problems.append(f"{path or 'status'}: expected an object of resources")
        return
    for name, value in body.items():
        rpath = join_path(path, name)
        resource = section.resources.get(name)
        if resource is None:
            problems.append(f"{rpath}: unknown resource")
        elif resource.is_list:
            _check_list(resource, value, rpath, partial, problems)
        elif not isinstance(value, dict):
            problems.append(f"{rpath}: expected an object of attributes")
        else:
            _check_entry(resource.entries[0], value, rpath, partial, problems)
    if partial:
        return
    for resource in section.resources.values():
        if resource.name not in body and _has_state(resource):
            problems.append(f"{join_path(path, resource.name)}: missing")


def _check_list(
    resource: Resource, value: Any, path: str, partial: bool, problems: list[str]
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
                f"{ipath}.{resource.key_field}: {show_value(key)} is not one of {resource.keys()}"
            )
            continue
        if key in seen:
            problems.append(f"{ipath}.{resource.key_field}: duplicate entry {key!r}")
        seen.append(key)
        _check_entry(entry, item, ipath, partial, problems)
    if not partial:
        problems.extend(
            f"{path}: entry {resource.key_field}={entry.key!r} is missing"
            for entry in resource.entries
            if entry.key not in seen and any(a.readable for a in entry.attributes.values())
        )


def _check_entry(
    entry: Entry, item: dict[str, Any], path: str, partial: bool, problems: list[str]
) -> None:
    for name, value in item.items():
        apath = join_path(path, name)
        attribute = entry.attributes.get(name)
        if attribute is None:
            problems.append(f"{apath}: unknown attribute")
        elif not attribute.readable:
            problems.append(f"{apath}: write-only attribute, it has no status value")
        elif (problem := attribute.problem(value, READ)) is not None:
            problems.append(f"{apath}: {problem}")
    if not partial:
        problems.extend(
            f"{join_path(path, name)}: missing"
            for name, attribute in entry.attributes.items()
            if attribute.readable and name not in item
        )


def _has_state(resource: Resource) -> bool:
    return any(a.readable for entry in resource.entries for a in entry.attributes.values())
