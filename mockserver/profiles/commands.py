"""Commands and device-side changes: checked whole against a profile, then applied.

A command is a partial status of writable attributes; a device change (a cycle ending, a
door opening) is a partial status of readable ones. Each is parsed into edits, refused
with ``ApiError`` (an API-neutral reason and the JSON path at fault) if anything is
wrong, and only then applied to a copy of the status.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mockserver.errors import ApiError, Err
from mockserver.profiles.layout import Layout, Status
from mockserver.profiles.model import (
    READ,
    REMOTE_CONTROL,
    WRITE,
    Attribute,
    Choice,
    Entry,
    Resource,
    Section,
)
from mockserver.profiles.power import IDLE_STATES
from mockserver.profiles.values import join_path, json_copy, same_value, show_value

# Read-only attributes a command may repeat (with the device's current value) to say what
# its other values mean: Business Connect's example sets a fridge with
# {"targetTemperature": 0, "locationName": "FRIDGE", "unit": "C"} although unit is read-only.
QUALIFIERS = frozenset({"unit"})
ROOT = "command"


@dataclass(frozen=True)
class _Edit:
    """One validated attribute change, ready to apply."""

    section: Section
    resource: Resource
    entry: Entry
    attribute: Attribute
    value: Any


def apply_command(layout: Layout, status: Status, command: Any) -> tuple[Status, Status]:
    """``DeviceProfile.apply_command``: refuse or apply a client's command, all or nothing."""
    edits = _parse(layout, command, WRITE, status)
    for section in _distinct(edit.section for edit in edits):
        current = layout.section_status(status, section)
        _check_state_rules(section, current, [e for e in edits if e.section is section])
    return _apply(layout, status, edits, with_side_effects=True)


def apply_device_change(layout: Layout, status: Status, change: Any) -> tuple[Status, Status]:
    """``DeviceProfile.apply_device_change``: any readable value; no power or remote rules."""
    edits = _parse(layout, change, READ, status)
    return _apply(layout, status, edits, with_side_effects=False)


# ---------------------------------------------------------------------------------------
# parsing: command -> edits, or ApiError(INVALID_COMMAND)


def _parse(layout: Layout, command: Any, side: str, status: Status) -> list[_Edit]:
    if layout.wrapped:
        parts = _split_locations(layout, command)
    else:
        if not isinstance(command, dict):
            raise _refuse(ROOT, f"must be a JSON object, got {_json_type(command)}")
        parts = [(layout.sections[0], command, "")]
    if not parts or not any(body for _, body, _ in parts):
        raise _refuse(ROOT, "is empty: name at least one resource and attribute to set")
    edits: list[_Edit] = []
    for section, body, path in parts:
        current = layout.section_status(status, section)
        edits.extend(_parse_section(section, body, path, side, current))
    # Repeating fixed values (a whole exported status, say) is fine, but a client's
    # command that sets nothing at all is a mistake worth reporting.
    if side == WRITE and not edits:
        raise _refuse(ROOT, "sets nothing: it only repeats fixed values")
    return edits


def _split_locations(layout: Layout, command: Any) -> list[tuple[Section, dict[str, Any], str]]:
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
        section = _locate(layout, item.get("location"), join_path(path, "location"))
        if any(other is section for other, _, _ in parts):
            raise _refuse(join_path(path, "location"), f"location {section.location!r} repeated")
        body = {key: value for key, value in item.items() if key != "location"}
        parts.append((section, body, path))
    return parts


def _locate(layout: Layout, location: Any, path: str) -> Section:
    names = layout.locations
    if location is None:
        if len(layout.sections) == 1:
            return layout.sections[0]
        raise _refuse(
            join_path(path, "locationName"), f"required: this device has locations {names}"
        )
    name = location.get("locationName") if isinstance(location, dict) else None
    if not isinstance(location, dict) or not isinstance(name, str):
        raise _refuse(path, 'expected {"locationName": ...}')
    for section in layout.sections:
        if section.location == name:
            return section
    raise _refuse(join_path(path, "locationName"), f"{show_value(name)} is not one of {names}")


def _parse_section(
    section: Section, body: dict[str, Any], path: str, side: str, current: dict[str, Any]
) -> list[_Edit]:
    if not body:
        raise _refuse(path or ROOT, "names no resource to set")
    edits: list[_Edit] = []
    for name, value in body.items():
        rpath = join_path(path, name)
        resource = section.resources.get(name)
        if resource is None:
            raise _refuse(
                rpath, f"unknown resource; this device has {show_value(list(section.resources))}"
            )
        if resource.is_list:
            edits.extend(_parse_list(section, resource, value, rpath, side, current))
        elif not isinstance(value, dict):
            raise _refuse(rpath, f"expected an object of attributes, got {_json_type(value)}")
        else:
            entry = resource.entries[0]
            state = current.get(name) if isinstance(current.get(name), dict) else {}
            edits.extend(_parse_entry(section, resource, entry, value, rpath, side, state))
    return edits


def _parse_list(
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
        entry = _pick_entry(resource, item, ipath)
        if any(entry is other for other in chosen):
            raise _refuse(
                join_path(ipath, str(resource.key_field)), f"entry {entry.key!r} repeated"
            )
        chosen.append(entry)
        state = _find_entry(current.get(resource.name), resource, entry) or {}
        edits.extend(_parse_entry(section, resource, entry, item, ipath, side, state))
    return edits


def _pick_entry(resource: Resource, item: dict[str, Any], path: str) -> Entry:
    field = str(resource.key_field)
    if field not in item:
        if len(resource.entries) == 1:
            return resource.entries[0]
        raise _refuse(
            join_path(path, field), f"required: '{resource.name}' has entries {resource.keys()}"
        )
    entry = resource.entry(item[field])
    if entry is None:
        raise _refuse(
            join_path(path, field), f"{show_value(item[field])} is not one of {resource.keys()}"
        )
    return entry


def _parse_entry(
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
        apath = join_path(path, name)
        attribute = entry.attributes.get(name)
        if attribute is None:
            known = [n for n in entry.attributes if n != resource.key_field]
            raise _refuse(
                apath, f"unknown attribute of '{resource.name}'; it has {show_value(known)}"
            )
        if attribute.kind == "constant" or (side == WRITE and _is_echo(attribute, value, state)):
            if (problem := attribute.problem(value, READ)) is not None:
                raise _refuse(apath, f"{problem}; it cannot be changed")
            continue
        if side == WRITE and not attribute.writable:
            writable = [n for n, a in entry.attributes.items() if a.writable]
            hint = (
                f"; writable attributes of '{resource.name}': {show_value(writable)}"
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


def _is_echo(attribute: Attribute, value: Any, state: dict[str, Any]) -> bool:
    """A read-only qualifier repeated with the device's current value: allowed, not a change."""
    return (
        attribute.name in QUALIFIERS
        and attribute.readable
        and not attribute.writable
        and attribute.name in state
        and same_value(state[attribute.name], value)
    )


def _echo_hint(attribute: Attribute, state: dict[str, Any]) -> str:
    if attribute.name in QUALIFIERS and attribute.name in state:
        return f" (a command may only repeat its current value {show_value(state[attribute.name])})"
    return f" (mode {show_value(['r'])})"


def _refuse(path: str, problem: str) -> ApiError:
    return ApiError(Err.INVALID_COMMAND, f"{path}: {problem}", field=path)


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


# ---------------------------------------------------------------------------------------
# remote control and power


def _check_state_rules(section: Section, current: dict[str, Any], edits: list[_Edit]) -> None:
    if section.is_remote_off(current):
        raise ApiError(
            Err.DEVICE_REMOTE_OFF,
            f"remote control is off on the device{section.where()} "
            f"({'.'.join(REMOTE_CONTROL)} is false): it accepts no command",
            field=".".join(REMOTE_CONTROL),
        )
    rule = section.power
    if rule is None or not section.is_power_off(current):
        return
    if any(_dotted(edit) == rule.switch and rule.turns_on(edit.value) for edit in edits):
        return
    switch = section.find(rule.switch)
    values = switch.write.values if switch and isinstance(switch.write, Choice) else ()
    ons = [value for value in values if rule.turns_on(value)]
    accepted = f"only {rule.switch} set to one of {show_value(ons)}" if ons else "no command"
    raise ApiError(
        Err.DEVICE_POWER_OFF,
        f"the device{section.where()} is powered off ({rule.state} is "
        f"{show_value(rule.off_value)}): it accepts {accepted}",
        field=rule.switch,
    )


def _power_side_effects(layout: Layout, status: Status, edits: list[_Edit]) -> list[_Edit]:
    """A write-only power switch moves the run state that tells power (cycle appliances)."""
    effects: list[_Edit] = []
    for edit in edits:
        rule = edit.section.power
        if rule is None or rule.state == rule.switch or _dotted(edit) != rule.switch:
            continue
        state = edit.section.find(rule.state)
        if state is None or not isinstance(state.read, Choice):
            continue
        current = layout.section_status(status, edit.section)
        if same_value(edit.value, rule.off_value):
            target = rule.off_value
        elif rule.turns_on(edit.value) and edit.section.is_power_off(current):
            target = next((s for s in IDLE_STATES if state.read.contains(s)), None)
        else:
            continue
        if target is None or not state.read.contains(target):
            continue
        resource_name = rule.state.partition(".")[0]
        resource = edit.section.resources[resource_name]
        effect = _Edit(edit.section, resource, resource.entries[0], state, target)
        if _set(layout, status, effect):
            effects.append(effect)
    return effects


def _dotted(edit: _Edit) -> str:
    return f"{edit.resource.name}.{edit.attribute.name}"


def _distinct(sections: Iterator[Section]) -> list[Section]:
    seen: list[Section] = []
    for section in sections:
        if not any(section is other for other in seen):
            seen.append(section)
    return seen


# ---------------------------------------------------------------------------------------
# applying edits


_MISSING = object()


def _apply(
    layout: Layout, status: Status, edits: list[_Edit], *, with_side_effects: bool
) -> tuple[Status, Status]:
    new = json_copy(status)
    if layout.wrapped and not isinstance(new, list):
        raise TypeError(f"{layout.source}: a status of this profile is a list of locations")
    if not layout.wrapped and not isinstance(new, dict):
        raise TypeError(f"{layout.source}: a status of this profile is an object")
    changes: list[_Edit] = []
    for edit in edits:
        if _set(layout, new, edit):
            changes.append(edit)
    if with_side_effects:
        changes.extend(_power_side_effects(layout, new, edits))
    return new, _changed(layout, changes)


def _set(layout: Layout, status: Status, edit: _Edit) -> bool:
    """Write one edit into ``status``; True when it changed something worth reporting."""
    if not edit.attribute.readable:
        return True  # an action (START, POWER_OFF): reported, never stored
    target = _target(layout, status, edit.section, edit.resource, edit.entry)
    before = target.get(edit.attribute.name, _MISSING)
    target[edit.attribute.name] = edit.value
    return before is _MISSING or not same_value(before, edit.value)


def _target(
    layout: Layout, status: Status, section: Section, resource: Resource, entry: Entry
) -> dict[str, Any]:
    """The dict holding ``entry``'s values in ``status``, created when missing."""
    body = layout.section_status(status, section)
    if layout.wrapped and not body:
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


def _changed(layout: Layout, changes: list[_Edit]) -> Status:
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
    if not layout.wrapped:
        return bodies.get(None, {})
    return [
        {"location": {"locationName": section.location}, **bodies[section.location]}
        for section in layout.sections
        if section.location in bodies
    ]


def _find_entry(items: Any, resource: Resource, entry: Entry) -> dict[str, Any] | None:
    if not isinstance(items, list):
        return None
    field = str(resource.key_field)
    for item in items:
        if isinstance(item, dict) and same_value(item.get(field), entry.key):
            return item
    return None
