"""The device simulator core: profiles, generated statuses, commands and device changes."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.errors import ApiError, Err
from mockserver.profiles import (
    QUALIFIERS,
    AttributeRef,
    DeviceProfile,
    ProfileError,
    Span,
    load_profile_file,
    resolve_profile,
)

PROFILES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "profiles"
FIXTURES = sorted(f"{path.parent.name}/{path.name}" for path in PROFILES_DIR.glob("*/basic.json"))
REQUIRED_TYPES = [
    "refrigerator",
    "kimchi_refrigerator",
    "washer",
    "dryer",
    "washtower_washer",
    "washtower_dryer",
    "styler",
    "dish_washer",
    "oven",
    "cooktop",
    "microwave_oven",
    "air_conditioner",
    "system_air_conditioner",
    "system_air_conditioner_idu",
    "air_purifier",
    "dehumidifier",
    "humidifier",
    "robot_cleaner",
    "water_heater",
    "system_boiler",
    "ventilator",
    "ceiling_fan",
    "wine_cellar",
    "water_purifier",
    "hood",
]
CYCLE_TYPES = ["washer", "washtower_washer", "dryer", "washtower_dryer", "dish_washer", "styler"]

# Each property test runs once per fixture; keep the whole file well under 20 s.
PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@cache
def load(ref: str) -> DeviceProfile:
    return resolve_profile(ref, PROFILES_DIR)


def fresh(ref: str, seed: int = 0) -> Any:
    return load(ref).initial_status(random.Random(seed))


def refused(reason: Err, call: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    assert caught.value.reason is reason, caught.value.describe()
    return caught.value


def sections(profile: DeviceProfile) -> list[str | None]:
    return list(profile.locations) if profile.is_location_wrapped else [None]


def with_power(refs: list[str]) -> list[str]:
    return [ref for ref in refs if load(ref).power_rule(sections(load(ref))[0]) is not None]


def with_remote(ref: str) -> bool:
    return any(r.resource == "remoteControlEnable" for r in load(ref).attributes())


# ---------------------------------------------------------------------------------------
# building commands for property tests


@dataclass(frozen=True)
class Part:
    """One attribute assignment in a command, possibly deliberately wrong."""

    location: str | None
    resource: str
    key_field: str | None
    key: str | None
    name: str
    value: Any

    @classmethod
    def of(cls, ref: AttributeRef, value: Any, name: str | None = None) -> Part:
        return cls(ref.location, ref.resource, ref.key_field, ref.key, name or ref.name, value)


def build(parts: list[Part], as_list: bool) -> tuple[dict[str, Any], list[str]]:
    """A command from ``parts`` (one location), and the JSON path of each part in it."""
    body: dict[str, Any] = {}
    paths: list[str] = []
    for part in parts:
        if part.key_field is None:
            body.setdefault(part.resource, {})[part.name] = part.value
            paths.append(f"{part.resource}.{part.name}")
            continue
        keys = {p.key for p in parts if p.resource == part.resource}
        if as_list or len(keys) > 1:
            entries = body.setdefault(part.resource, [])
            entry = next((e for e in entries if e[part.key_field] == part.key), None)
            if entry is None:
                entry = {part.key_field: part.key}
                entries.append(entry)
            entry[part.name] = part.value
            paths.append(f"{part.resource}[{entries.index(entry)}].{part.name}")
        else:
            entry = body.setdefault(part.resource, {part.key_field: part.key})
            entry[part.name] = part.value
            paths.append(f"{part.resource}.{part.name}")
    location = parts[0].location
    if location is not None:
        body = {"location": {"locationName": location}, **body}
    return body, paths


def valid_value(ref: AttributeRef) -> st.SearchStrategy[Any]:
    attribute = ref.attribute
    domain = attribute.write
    if isinstance(domain, Span):
        allowed = [v for v in domain.allowed(400)]
        return st.sampled_from(allowed)
    if domain is not None:
        return st.sampled_from(domain.values)
    if attribute.kind == "number":
        return st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)
    return st.text(max_size=12)


def invalid_value(ref: AttributeRef) -> st.SearchStrategy[Any]:
    attribute = ref.attribute
    domain = attribute.write
    not_a_number = st.text(max_size=5) | st.booleans() | st.none() | st.just([1])
    if attribute.kind == "range":
        assert isinstance(domain, Span)
        outside = st.integers(1, 50).flatmap(
            lambda k: st.sampled_from([domain.high + k * domain.step, domain.low - k * domain.step])
        )
        options = [outside, not_a_number, st.just(domain.low + domain.step / 2 + 1e-3)]
        if domain.count() > 1:
            options.append(st.just(domain.low + domain.step / 2))
        if domain.excluded:
            options.append(st.sampled_from(domain.excluded))
        return st.one_of(options)
    if attribute.kind == "number":
        return st.text(max_size=5) | st.booleans() | st.none()
    if attribute.kind == "string":
        return st.integers() | st.booleans() | st.none()
    if attribute.kind == "boolean":
        assert domain is not None
        wrong = st.integers(0, 1) | st.sampled_from(["true", "false"]) | st.none()
        missing = [v for v in (True, False) if v not in domain.values]
        return wrong | st.sampled_from(missing) if missing else wrong
    assert domain is not None
    unknown = st.text(min_size=1, max_size=8).map(lambda text: f"NOT_{text}")
    return unknown | st.integers() | st.booleans() | st.none()


def writable(profile: DeviceProfile, location: str | None) -> list[AttributeRef]:
    return [r for r in profile.attributes() if r.attribute.writable and r.location == location]


@st.composite
def valid_command(
    draw: st.DrawFn, profile: DeviceProfile, location: str | None = None
) -> tuple[dict[str, Any], list[tuple[AttributeRef, Any]]]:
    """A command setting 1-4 writable attributes of one location to writable values."""
    if location is None and profile.is_location_wrapped:
        location = draw(st.sampled_from(profile.locations))
    refs = writable(profile, location)
    chosen = draw(st.lists(st.sampled_from(refs), min_size=1, max_size=4, unique=True))
    pairs = [(ref, draw(valid_value(ref))) for ref in chosen]
    command, _ = build([Part.of(ref, value) for ref, value in pairs], draw(st.booleans()))
    return command, pairs


@st.composite
def invalid_command(draw: st.DrawFn, profile: DeviceProfile) -> tuple[dict[str, Any], str]:
    """A command with exactly one fault, and the JSON path the refusal must name."""
    location = draw(st.sampled_from(sections(profile)))
    refs = [r for r in profile.attributes() if r.location == location]
    kinds = ["value", "value", "value", "unknown attribute", "unknown resource"]
    read_only = [
        r
        for r in refs
        if r.attribute.readable and not r.attribute.writable and r.name not in QUALIFIERS
    ]
    if read_only:
        kinds.append("read-only")
    keyed = [r for r in refs if r.key_field == "locationName"]
    if keyed or profile.is_location_wrapped:
        kinds.append("unknown location")
    kind = draw(st.sampled_from(kinds))
    valid_refs = writable(profile, location)
    as_list = draw(st.booleans())

    if kind == "unknown location":
        if profile.is_location_wrapped and (not keyed or draw(st.booleans())):
            ref = draw(st.sampled_from(valid_refs))
            command, _ = build([Part.of(ref, draw(valid_value(ref)))], as_list)
            command["location"] = {"locationName": "NOWHERE"}
            return command, "location.locationName"
        ref = draw(st.sampled_from(keyed))
        part = Part(ref.location, ref.resource, ref.key_field, "NOWHERE", ref.name, 1)
        command, paths = build([part], as_list)
        return command, paths[0].rsplit(".", 1)[0] + ".locationName"

    if kind == "unknown resource":
        bad = Part(location, "noSuchResource", None, None, "anything", 1)
        command, paths = build([bad], as_list)
        return command, "noSuchResource"

    if kind == "value":
        bad_ref = draw(st.sampled_from(valid_refs))
        bad = Part.of(bad_ref, draw(invalid_value(bad_ref)))
    elif kind == "read-only":
        bad_ref = draw(st.sampled_from(read_only))
        bad = Part.of(bad_ref, 1)
    else:
        bad_ref = draw(st.sampled_from(refs))
        bad = Part.of(bad_ref, 1, name="noSuchAttribute")

    # A valid assignment beside the fault must not be applied either (atomicity).
    others = [r for r in valid_refs if (r.resource, r.key) != (bad_ref.resource, bad_ref.key)]
    parts = [bad]
    if others and draw(st.booleans()):
        other = draw(st.sampled_from(others))
        parts = [Part.of(other, draw(valid_value(other))), bad]
    command, paths = build(parts, as_list)
    return command, paths[-1]


def value_in(status: Any, part: Part) -> Any:
    body = status
    if part.location is not None:
        body = next(s for s in status if s["location"]["locationName"] == part.location)
    resource = body[part.resource]
    if part.key_field is not None:
        resource = next(e for e in resource if e[part.key_field] == part.key)
    return resource[part.name]


# ---------------------------------------------------------------------------------------
# fixtures


def test_every_required_type_has_a_fixture() -> None:
    missing = [t for t in REQUIRED_TYPES if f"{t}/basic.json" not in FIXTURES]
    assert not missing
    assert (PROFILES_DIR / "README.md").is_file()


@pytest.mark.parametrize("ref", FIXTURES)
def test_fixture_loads_unchanged(ref: str) -> None:
    profile = load(ref)
    assert profile.raw == json.loads((PROFILES_DIR / ref).read_text())
    assert all(isinstance(code, str) for code in profile.push_codes)
    assert profile.push_codes == profile.raw.get("notification", {}).get("push", [])
    assert any(r.attribute.writable for r in profile.attributes()) or ref.startswith(
        "water_purifier"
    )


@pytest.mark.parametrize("ref", FIXTURES)
def test_initial_status_is_valid_and_deterministic(ref: str) -> None:
    profile = load(ref)
    for seed in range(50):
        status = profile.initial_status(random.Random(seed))
        assert profile.validate_status(status) == [], seed
        assert status == profile.initial_status(random.Random(seed))


@pytest.mark.parametrize("ref", FIXTURES)
def test_a_status_reapplied_as_a_device_change_is_a_no_op(ref: str) -> None:
    # How a scenario exported with its statuses loads back: each status is a change.
    profile, status = load(ref), fresh(ref, 3)
    for change in status if isinstance(status, list) else [status]:
        new, changed = profile.apply_device_change(status, change)
        assert new == status
        assert not changed


@pytest.mark.parametrize("ref", FIXTURES)
def test_initial_status_is_idle_powered_and_remote_controllable(ref: str) -> None:
    profile = load(ref)
    status = fresh(ref)
    for location in sections(profile):
        assert not profile.is_power_off(status, location)
        assert not profile.is_remote_off(status, location)


@pytest.mark.parametrize("type_name", CYCLE_TYPES)
def test_cycle_appliances_have_what_the_cycle_clock_needs(type_name: str) -> None:
    profile = load(f"{type_name}/basic.json")
    names = {(r.resource, r.name) for r in profile.attributes()}
    for needed in [
        ("runState", "currentState"),
        ("remoteControlEnable", "remoteControlEnabled"),
        ("timer", "remainHour"),
        ("timer", "remainMinute"),
        ("timer", "totalHour"),
        ("timer", "totalMinute"),
    ]:
        assert needed in names
    rule = profile.power_rule(sections(profile)[0])
    assert rule is not None and rule.switch.startswith("operation.")
    switch = next(r for r in profile.attributes() if f"{r.resource}.{r.name}" == rule.switch)
    assert {"START", "STOP", "POWER_OFF"} <= set(switch.attribute.write.values)
    status = fresh(f"{type_name}/basic.json")
    assert value_in(status, Part(sections(profile)[0], "runState", None, None, "currentState", 0))


# ---------------------------------------------------------------------------------------
# commands: property tests


@pytest.mark.parametrize("ref", FIXTURES)
@PROPERTY
@given(data=st.data())
def test_valid_commands_are_applied(ref: str, data: st.DataObject) -> None:
    profile = load(ref)
    if not any(r.attribute.writable for r in profile.attributes()):
        return
    status = fresh(ref, data.draw(st.integers(0, 5)))
    before = copy.deepcopy(status)
    command, pairs = data.draw(valid_command(profile))
    new, changed = profile.apply_command(status, command)
    assert status == before  # the caller's status is never modified
    assert profile.validate_status(new) == []
    for ref, value in pairs:
        part = Part.of(ref, value)
        if not ref.attribute.readable:
            assert value_in(changed, part) == value  # an action is reported, never stored
            continue
        assert value_in(new, part) == value
        if value_in(before, part) != value:
            assert value_in(changed, part) == value


@pytest.mark.parametrize("ref", FIXTURES)
@PROPERTY
@given(data=st.data())
def test_invalid_commands_are_refused_and_change_nothing(ref: str, data: st.DataObject) -> None:
    profile = load(ref)
    if not any(r.attribute.writable for r in profile.attributes()):
        return
    status = fresh(ref)
    before = copy.deepcopy(status)
    command, field = data.draw(invalid_command(profile))
    error = refused(Err.INVALID_COMMAND, profile.apply_command, status, command)
    assert error.field == field, (command, error.describe())
    assert error.message.startswith(f"{field}: ")
    assert status == before


@pytest.mark.parametrize("ref", with_power(FIXTURES))
@PROPERTY
@given(data=st.data())
def test_powered_off_devices_accept_only_power_on(ref: str, data: st.DataObject) -> None:
    profile = load(ref)
    location = data.draw(st.sampled_from(sections(profile)))
    rule = profile.power_rule(location)
    assert rule is not None
    switch = next(r for r in writable(profile, location) if f"{r.resource}.{r.name}" == rule.switch)
    off, _ = profile.apply_command(fresh(ref), switch.command(rule.off_value))
    assert profile.is_power_off(off, location)
    before = copy.deepcopy(off)

    command, pairs = data.draw(valid_command(profile, location))
    turns_on = any(
        f"{ref.resource}.{ref.name}" == rule.switch and rule.turns_on(value) for ref, value in pairs
    )
    if turns_on:
        on, _ = profile.apply_command(off, command)
        assert not profile.is_power_off(on, location)
    else:
        error = refused(Err.DEVICE_POWER_OFF, profile.apply_command, off, command)
        assert error.field == rule.switch
    assert off == before


@pytest.mark.parametrize("ref", [ref for ref in FIXTURES if with_remote(ref)])
@PROPERTY
@given(data=st.data())
def test_remote_control_off_refuses_every_command(ref: str, data: st.DataObject) -> None:
    profile = load(ref)
    location = data.draw(st.sampled_from(sections(profile)))
    remote = next(
        r
        for r in profile.attributes()
        if r.location == location and r.name == "remoteControlEnabled"
    )
    status, _ = profile.apply_device_change(fresh(ref), remote.command(False))
    assert profile.is_remote_off(status, location)
    before = copy.deepcopy(status)
    command, _ = data.draw(valid_command(profile, location))
    error = refused(Err.DEVICE_REMOTE_OFF, profile.apply_command, status, command)
    assert error.field == "remoteControlEnable.remoteControlEnabled"
    assert status == before
    others = [name for name in sections(profile) if name != location]
    if others:  # another burner or oven cavity is still under remote control
        other_command, _ = data.draw(valid_command(profile, others[0]))
        profile.apply_command(status, other_command)


# ---------------------------------------------------------------------------------------
# commands: examples


def test_business_connect_and_sdk_styles_of_a_list_resource_agree() -> None:
    profile, status = load("refrigerator/basic.json"), fresh("refrigerator/basic.json")
    listed = {"temperature": [{"targetTemperature": 0, "locationName": "FRIDGE", "unit": "C"}]}
    single = {"temperature": {"locationName": "FRIDGE", "targetTemperature": 0, "unit": "C"}}
    new_listed, changed = profile.apply_command(status, listed)
    new_single, _ = profile.apply_command(status, single)
    assert new_listed == new_single
    fridge = next(e for e in new_listed["temperature"] if e["locationName"] == "FRIDGE")
    assert fridge["targetTemperature"] == 0
    if status["temperature"][0]["targetTemperature"] != 0:
        assert changed == {"temperature": [{"locationName": "FRIDGE", "targetTemperature": 0}]}
    both = {
        "temperature": [
            {"locationName": "FREEZER", "targetTemperature": -23},
            {"locationName": "FRIDGE", "targetTemperature": 5},
        ]
    }
    new, _ = profile.apply_command(status, both)
    assert [e["targetTemperature"] for e in new["temperature"]] == [5, -23]


def test_the_seed_examples_are_accepted() -> None:
    fridge = load("refrigerator/basic.json")
    status = fresh("refrigerator/basic.json")
    # Start from values the examples change, so each change is visible.
    status["refrigeration"]["expressMode"] = False
    status["powerSave"]["powerSaveEnabled"] = False

    def fridge_of(some: Any) -> dict[str, Any]:
        return next(e for e in some["temperature"] if e["locationName"] == "FRIDGE")

    fridge_of(status)["targetTemperature"] = 2
    before = copy.deepcopy(status)
    # Each seed example, and how its change reads (the read-only unit it repeats is not
    # a change), then what the new status must show.
    examples = [
        (
            {"refrigeration": {"expressMode": True}},
            {"refrigeration": {"expressMode": True}},
            lambda new: new["refrigeration"]["expressMode"] is True,
        ),
        (
            {"powerSave": {"powerSaveEnabled": True}},
            {"powerSave": {"powerSaveEnabled": True}},
            lambda new: new["powerSave"]["powerSaveEnabled"] is True,
        ),
        (
            {"temperature": [{"targetTemperature": 0, "locationName": "FRIDGE", "unit": "C"}]},
            {"temperature": [{"locationName": "FRIDGE", "targetTemperature": 0}]},
            lambda new: fridge_of(new) == {**fridge_of(before), "targetTemperature": 0},
        ),
    ]
    for command, expected_change, shows_it in examples:
        new, changed = fridge.apply_command(status, command)
        assert changed == expected_change, command
        assert shows_it(new), (command, new)
        assert status == before, "apply_command must not modify the status it is given"


def test_a_list_entry_must_be_named_when_there_are_several() -> None:
    profile, status = load("refrigerator/basic.json"), fresh("refrigerator/basic.json")
    error = refused(
        Err.INVALID_COMMAND,
        profile.apply_command,
        status,
        {"temperature": {"targetTemperature": 3}},
    )
    assert error.field == "temperature.locationName"
    assert "FRIDGE" in error.message and "FREEZER" in error.message
    error = refused(
        Err.INVALID_COMMAND,
        profile.apply_command,
        status,
        {"temperature": [{"locationName": "FRIDGE", "targetTemperature": 3}] * 2},
    )
    assert error.field == "temperature[1].locationName"


def test_a_read_only_unit_may_be_repeated_but_not_changed() -> None:
    profile, status = load("refrigerator/basic.json"), fresh("refrigerator/basic.json")
    error = refused(
        Err.INVALID_COMMAND,
        profile.apply_command,
        status,
        {"temperature": {"locationName": "FRIDGE", "targetTemperature": 3, "unit": "F"}},
    )
    assert error.field == "temperature.unit"
    assert "'C'" in error.message


def test_refusal_messages_say_what_is_allowed() -> None:
    profile, status = load("air_conditioner/basic.json"), fresh("air_conditioner/basic.json")
    error = refused(
        Err.INVALID_COMMAND,
        profile.apply_command,
        status,
        {"airConJobMode": {"currentJobMode": "HEAT"}},
    )
    assert error.field == "airConJobMode.currentJobMode"
    assert error.message == (
        "airConJobMode.currentJobMode: 'HEAT' is not one of the writable values "
        "['COOL', 'AIR_DRY', 'FAN']"
    )
    cases = {
        17: "17 is outside the writable range 18..30 step 1",
        18.5: "18.5 is not on a step of the writable range 18..30 step 1",
        True: "expected a number in the writable range 18..30 step 1, got true",
        "20": "expected a number in the writable range 18..30 step 1, got '20'",
    }
    for value, message in cases.items():
        command = {"temperature": {"targetTemperature": value}}
        error = refused(Err.INVALID_COMMAND, profile.apply_command, status, command)
        assert error.message == f"temperature.targetTemperature: {message}"
    error = refused(
        Err.INVALID_COMMAND, profile.apply_command, status, {"powerSave": {"powerSaveEnabled": 1}}
    )
    assert error.message == "powerSave.powerSaveEnabled: expected true or false, got 1"
    error = refused(
        Err.INVALID_COMMAND, profile.apply_command, status, {"temperature": {"unit": "C"}}
    )
    assert error.field == "command"  # a repeated unit alone sets nothing
    washer = load("washer/basic.json")
    error = refused(
        Err.INVALID_COMMAND,
        washer.apply_command,
        fresh("washer/basic.json"),
        {"timer": {"relativeHourToStop": 2}},
    )
    assert "excluded from the writable range 0..19 step 1 except [1, 2]" in error.message


def test_half_degree_steps() -> None:
    profile = load("system_air_conditioner_idu/basic.json")
    status = fresh("system_air_conditioner_idu/basic.json")
    new, _ = profile.apply_command(status, {"temperature": {"targetTemperature": 22.5}})
    assert new["temperature"]["targetTemperature"] == 22.5
    error = refused(
        Err.INVALID_COMMAND,
        profile.apply_command,
        status,
        {"temperature": {"targetTemperature": 22.25}},
    )
    assert "step 0.5" in error.message


@pytest.mark.parametrize("command", [None, "COOL", 5, True, [], [{"powerSave": {}}], {}])
def test_a_command_must_be_a_non_empty_object(command: Any) -> None:
    profile, status = load("air_conditioner/basic.json"), fresh("air_conditioner/basic.json")
    error = refused(Err.INVALID_COMMAND, profile.apply_command, status, command)
    assert error.field == "command"


def test_empty_resources_are_refused() -> None:
    profile, status = load("air_conditioner/basic.json"), fresh("air_conditioner/basic.json")
    for command, field in [
        ({"powerSave": {}}, "powerSave"),
        ({"powerSave": True}, "powerSave"),
        ({"airFlow": {"windStrength": "LOW"}, "powerSave": {}}, "powerSave"),
    ]:
        assert refused(Err.INVALID_COMMAND, profile.apply_command, status, command).field == field


def test_location_wrapped_commands() -> None:
    oven, status = load("oven/basic.json"), fresh("oven/basic.json")
    command = {
        "location": {"locationName": "UPPER"},
        "cook": {"cookMode": "BAKE"},
        "temperature": {"targetTemperature": 180, "unit": "C"},
    }
    new, changed = oven.apply_command(status, command)
    upper = next(s for s in new if s["location"]["locationName"] == "UPPER")
    assert upper["cook"]["cookMode"] == "BAKE"
    assert next(e for e in upper["temperature"] if e["unit"] == "C")["targetTemperature"] == 180
    assert all(item["location"]["locationName"] == "UPPER" for item in changed)
    error = refused(Err.INVALID_COMMAND, oven.apply_command, status, {"cook": {"cookMode": "BAKE"}})
    assert error.field == "location.locationName"
    assert "UPPER" in error.message and "LOWER" in error.message
    both = [
        {"location": {"locationName": "UPPER"}, "cook": {"cookMode": "ROAST"}},
        {"location": {"locationName": "LOWER"}, "cook": {"cookMode": "ROAST"}},
    ]
    new, _ = oven.apply_command(status, both)
    assert [s["cook"]["cookMode"] for s in new] == ["ROAST", "ROAST"]
    error = refused(Err.INVALID_COMMAND, oven.apply_command, status, [both[0], both[0]])
    assert error.field == "[1].location"


def test_one_location_need_not_be_named() -> None:
    washer, status = load("washer/basic.json"), fresh("washer/basic.json")
    named = {"location": {"locationName": "MAIN"}, "operation": {"washerOperationMode": "START"}}
    _, changed = washer.apply_command(status, named)
    _, changed_unnamed = washer.apply_command(
        status, {"operation": {"washerOperationMode": "START"}}
    )
    # A write-only action is reported as changed although no status holds it.
    assert changed == changed_unnamed == [named]


def test_cycle_appliance_power_moves_the_run_state() -> None:
    washer, status = load("washer/basic.json"), fresh("washer/basic.json")
    assert status[0]["runState"]["currentState"] == "INITIAL"
    off, changed = washer.apply_command(status, {"operation": {"washerOperationMode": "POWER_OFF"}})
    assert off[0]["runState"]["currentState"] == "POWER_OFF"
    assert changed[0]["runState"] == {"currentState": "POWER_OFF"}
    error = refused(
        Err.DEVICE_POWER_OFF,
        washer.apply_command,
        off,
        {"operation": {"washerOperationMode": "START"}},
    )
    assert "POWER_ON" in error.message
    on, _ = washer.apply_command(off, {"operation": {"washerOperationMode": "POWER_ON"}})
    assert on[0]["runState"]["currentState"] == "INITIAL"
    washer.apply_command(on, {"operation": {"washerOperationMode": "START"}})


def test_climate_power_off_refuses_power_off_again() -> None:
    profile, status = load("air_conditioner/basic.json"), fresh("air_conditioner/basic.json")
    off_command = {"operation": {"airConOperationMode": "POWER_OFF"}}
    off, changed = profile.apply_command(status, off_command)
    assert changed == off_command
    refused(Err.DEVICE_POWER_OFF, profile.apply_command, off, off_command)
    on, _ = profile.apply_command(
        off,
        {
            "operation": {"airConOperationMode": "POWER_ON"},
            "temperature": {"targetTemperature": 26},
        },
    )
    assert on["operation"]["airConOperationMode"] == "POWER_ON"
    assert on["temperature"]["targetTemperature"] == 26


# ---------------------------------------------------------------------------------------
# device changes and status checks


def test_device_changes_follow_readable_values_and_ignore_power() -> None:
    profile, status = load("air_conditioner/basic.json"), fresh("air_conditioner/basic.json")
    off, _ = profile.apply_command(status, {"operation": {"airConOperationMode": "POWER_OFF"}})
    warmer, changed = profile.apply_device_change(
        off, {"temperature": {"currentTemperature": 31, "targetTemperature": 16}}
    )
    assert warmer["temperature"] == {"currentTemperature": 31, "targetTemperature": 16, "unit": "C"}
    assert changed["temperature"]["targetTemperature"] == 16  # readable though not writable
    error = refused(
        Err.INVALID_COMMAND,
        profile.apply_device_change,
        off,
        {"temperature": {"targetTemperature": 15}},
    )
    assert "readable range 16..30" in error.message
    error = refused(
        Err.INVALID_COMMAND,
        profile.apply_device_change,
        off,
        {"operation": {"airCleanOperationMode": "START"}},
    )
    assert error.field == "operation.airCleanOperationMode"
    fridge = load("refrigerator/basic.json")
    opened, changed = fridge.apply_device_change(
        fresh("refrigerator/basic.json"), {"doorStatus": {"doorState": "OPEN"}}
    )
    assert opened["doorStatus"] == [{"locationName": "MAIN", "doorState": "OPEN"}]
    assert changed == {"doorStatus": [{"locationName": "MAIN", "doorState": "OPEN"}]}


def test_constants_cannot_change() -> None:
    washer, status = load("washer/basic.json"), fresh("washer/basic.json")
    assert status[0]["detergent"] == {"detergentSetting": "NORMAL"}
    # Repeating them is harmless: a whole status re-applied as a change is a no-op.
    for item in status:
        assert washer.apply_device_change(status, item) == (status, [])
    error = refused(
        Err.INVALID_COMMAND,
        washer.apply_device_change,
        status,
        {"detergent": {"detergentSetting": "STRONG"}},
    )
    assert error.field == "detergent.detergentSetting"


def test_validate_status_names_each_problem() -> None:
    profile = load("refrigerator/basic.json")
    status = fresh("refrigerator/basic.json")
    status["powerSave"]["powerSaveEnabled"] = "yes"
    status["temperature"][1]["targetTemperature"] = 3
    status["noSuchResource"] = {}
    del status["sabbath"]
    status["refrigeration"].pop("expressMode")
    status["doorStatus"].append({"locationName": "MAIN", "doorState": "CLOSE"})
    problems = profile.validate_status(status)
    expected = [
        "powerSave.powerSaveEnabled: expected true or false, got 'yes'",
        "temperature[1].targetTemperature: 3 is outside the readable range -24..-14 step 1",
        "noSuchResource: unknown resource",
        "sabbath: missing",
        "refrigeration.expressMode: missing",
        "doorStatus[1].locationName: duplicate entry 'MAIN'",
    ]
    for problem in expected:
        assert problem in problems, problems
    assert len(problems) == len(expected)
    assert profile.validate_status({"powerSave": {"powerSaveEnabled": True}}, partial=True) == []
    washer = load("washer/basic.json")
    assert washer.validate_status({}) == ["status: expected a list of locations, got dict"]
    assert washer.validate_status([], partial=True) == []
    assert washer.validate_status([]) == ["status: location 'MAIN' is missing"]
    write_only = [
        {"location": {"locationName": "MAIN"}, "operation": {"washerOperationMode": "START"}}
    ]
    assert washer.validate_status(write_only, partial=True) == [
        "[0].operation.washerOperationMode: write-only attribute, it has no status value"
    ]


# ---------------------------------------------------------------------------------------
# loading


INLINE = {
    "property": {
        "runState": {"currentState": {"type": "enum", "mode": ["r"], "value": {"r": ["RUNNING"]}}},
        "fan": {
            "speed": {
                "type": "range",
                "mode": ["r", "w"],
                "value": {"r": {"min": 0, "max": 3}, "w": {"min": 1, "max": 3}},
            },
            "label": {"type": "string", "mode": ["r", "w"]},
        },
    }
}


def test_an_inline_profile_works() -> None:
    profile = resolve_profile(copy.deepcopy(INLINE), PROFILES_DIR)
    assert profile.source == "<inline>"
    assert profile.raw == INLINE
    status = profile.initial_status(random.Random(3))
    assert status["runState"] == {"currentState": "RUNNING"}
    assert profile.validate_status(status) == []
    new, changed = profile.apply_command(status, {"fan": {"speed": 2, "label": "hall"}})
    assert new["fan"] == {"speed": 2, "label": "hall"}
    refused(Err.INVALID_COMMAND, profile.apply_command, status, {"fan": {"speed": 0}})
    assert profile.push_codes == [] and profile.locations == []


def _broken(path: str, value: Any) -> dict[str, Any]:
    """The refrigerator fixture with one value replaced (``path`` in dotted/indexed form)."""
    data = copy.deepcopy(load("refrigerator/basic.json").raw)
    keys = [
        int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")
    ]
    target = data
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "property.temperature[0].targetTemperature.value.w",
            {"min": 8, "max": 7, "step": 1},
            "refrigerator/basic.json: property.temperature[0].targetTemperature.value.w: "
            "min 8 > max 7",
        ),
        (
            "property.powerSave.powerSaveEnabled.type",
            "colour",
            "refrigerator/basic.json: property.powerSave.powerSaveEnabled.type: "
            "'colour' is not one of",
        ),
        (
            "property.powerSave.powerSaveEnabled.mode",
            ["x"],
            "refrigerator/basic.json: property.powerSave.powerSaveEnabled.mode:",
        ),
        (
            "property.refrigeration.freshAirFilter.value.w",
            ["OFF", "TURBO"],
            "refrigerator/basic.json: property.refrigeration.freshAirFilter.value.w: "
            "writable values ['TURBO'] are not readable values",
        ),
        (
            "property.refrigeration.freshAirFilter.value.r",
            [],
            "refrigerator/basic.json: property.refrigeration.freshAirFilter.value.r: ",
        ),
        (
            "property.temperature[1].targetTemperature.value.w",
            {"min": -30, "max": -14, "step": 1},
            "property.temperature[1].targetTemperature.value.w: writable range -30..-14 step 1 "
            "exceeds readable range -24..-14 step 1",
        ),
        (
            "property.temperature[0].targetTemperature.value.r",
            {"min": 0, "max": 7, "step": 0},
            "property.temperature[0].targetTemperature.value.r.step: must be positive, got 0",
        ),
        (
            "property.temperature[1].locationName",
            "FRIDGE",
            "property.temperature[1].locationName: duplicate locationName 'FRIDGE'",
        ),
        ("property.doorStatus[0]", {"doorState": "OPEN"}, "property.doorStatus[0]: every entry"),
        ("notification.push", "DOOR_IS_OPEN", "notification.push: expected a list"),
        ("property", [], "refrigerator/basic.json: property: expected"),
    ],
)
def test_a_broken_profile_names_the_path(path: str, value: Any, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        DeviceProfile.from_dict(_broken(path, value), source="refrigerator/basic.json")
    assert str(caught.value).startswith(message) or message in str(caught.value), caught.value
    assert isinstance(caught.value, ValueError)


def test_broken_location_wrapped_profiles() -> None:
    raw = copy.deepcopy(load("oven/basic.json").raw)
    raw["property"][1]["location"]["locationName"] = "UPPER"
    with pytest.raises(ProfileError, match=r"property\[1\]\.location\.locationName: duplicate"):
        DeviceProfile.from_dict(raw)
    with pytest.raises(ProfileError, match="<inline>: property: missing"):
        DeviceProfile.from_dict({"notification": {"push": []}})


def test_a_broken_file_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "toaster"
    folder.mkdir()
    (folder / "basic.json").write_text('{"property": {')
    with pytest.raises(ProfileError, match=r"^toaster/basic\.json: invalid JSON at line 1"):
        resolve_profile("toaster/basic.json", tmp_path)
    (folder / "basic.json").write_text(json.dumps({"property": {"a": {"b": 3}}}))
    with pytest.raises(ProfileError, match=r"^toaster/basic\.json: property\.a\.b: expected"):
        load_profile_file(folder / "basic.json")


@pytest.mark.parametrize(
    "ref",
    [
        "../scenarios/default.yaml",
        "refrigerator/../../scenarios/default.yaml",
        "/etc/passwd",
        str(PROFILES_DIR.parent / "scenarios" / "default.yaml"),
    ],
)
def test_paths_may_not_leave_the_fixtures(ref: str) -> None:
    with pytest.raises(ProfileError, match="leaves the profile fixtures folder"):
        resolve_profile(ref, PROFILES_DIR)


def test_resolving_fixture_paths() -> None:
    with pytest.raises(ProfileError, match="no such profile fixture; available: .*washer/basic"):
        resolve_profile("toaster/basic.json", PROFILES_DIR)
    with pytest.raises(ProfileError):
        resolve_profile("", PROFILES_DIR)
    # Given the fixtures folder itself, its profiles folder is used.
    assert (
        resolve_profile("washer/basic.json", PROFILES_DIR.parent).raw
        == load("washer/basic.json").raw
    )
