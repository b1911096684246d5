"""The DR bodies' rules that OpenAPI does not state, checked into plain objects.

The request pipeline has already checked what the served schema says (types of declared fields, the
`required` lists); these checks add the prose rules of the seed and the sandbox's
choices (spec-notes BC-32, BC-35, BC-36, BC-39 to BC-42, "DR behaviour"). The same functions read a
scenario's ``dr:`` block, so a scenario is refused for exactly what a request would be.
Every problem names its field from ``root`` (``body`` for a request, ``$.dr.events[0]``
for a scenario) and raises ``ApiError`` with 4102's reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mockserver.backends.dr.model import (
    CONTROL_TYPES,
    EMPTY,
    OPT_IN,
    OPTS,
    RESTORE_TYPES,
    SIGNAL_TYPES,
    TARGET_TYPES,
    TEMPERATURE,
    TWO_SET_TEMPERATURE,
    DrEvent,
    DrGroup,
    DrUser,
    Signal,
    Target,
    TemperatureBounds,
)
from mockserver.errors import ApiError, Err
from mockserver.profiles.values import is_number

TEMPERATURE_UNITS = ("C", "F")


def at(root: str, name: str | int) -> str:
    return f"{root}[{name}]" if isinstance(name, int) else f"{root}.{name}"


def missing(field: str) -> ApiError:
    return ApiError(Err.MISSING_BODY_FIELD, f"{field}: is required", field=field)


def invalid(field: str, why: str) -> ApiError:
    return ApiError(Err.INVALID_BODY, f"{field}: {why}", field=field)


def as_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(field, f"must be a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def text(body: dict[str, Any], name: str, root: str, *, required: bool = True) -> str | None:
    field = at(root, name)
    value = body.get(name)
    if value is None:
        if required:
            raise missing(field)
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, f"must be a non-empty string, got {_kind(value)} {value!r}")
    return value


def choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value is None:
        raise missing(field)
    if value not in allowed:
        raise invalid(field, f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def epoch(body: dict[str, Any], name: str, root: str, digits: int, unit: str) -> int | None:
    """An integral timestamp of exactly ``digits`` digits (BC-36: the unit is in the size)."""
    field = at(root, name)
    value = body.get(name)
    if value is None:
        return None
    # is_number also refuses NaN and Infinity, which Python's JSON parser lets through.
    if not is_number(value) or value != int(value) or value <= 0:
        raise invalid(field, f"must be a positive whole number of {unit}, got {value!r}")
    number = int(value)
    if len(str(number)) != digits:
        raise invalid(
            field,
            f"must be {digits} digits ({unit} since the epoch), got {number} "
            f"({len(str(number))} digits)",
        )
    return number


def opt(body: dict[str, Any], root: str) -> str:
    return choice(body.get("opt"), OPTS, at(root, "opt"))


# ------------------------------------------------------------------------------- groups


def parse_group(body: Any, root: str) -> DrGroup:
    body = as_object(body, root)
    group = DrGroup(
        group_id=_required(body, "groupId", root),
        partner_id=_required(body, "partnerId", root),
        group_name=text(body, "groupName", root, required=False),
        area_code=text(body, "areaCode", root, required=False),
        building_code=text(body, "buildingCode", root, required=False),
        comment=text(body, "comment", root, required=False),
    )
    # The seed's prose: a 10-digit 법정동 code and a 25-digit building management number.
    if group.area_code is not None and not re.fullmatch(r"\d{10}", group.area_code):
        raise invalid(at(root, "areaCode"), f"must be 10 digits, got {group.area_code!r}")
    if group.building_code is not None and not re.fullmatch(r"\d{25}", group.building_code):
        raise invalid(at(root, "buildingCode"), f"must be 25 digits, got {group.building_code!r}")
    return group


def _required(body: dict[str, Any], name: str, root: str) -> str:
    value = text(body, name, root)
    assert value is not None
    return value


# -------------------------------------------------------------------------------- users


def parse_user(body: Any, root: str, now_s: int) -> DrUser:
    body = as_object(body, root)
    user_no = _required(body, "userNo", root)
    access_token = _required(body, "accessToken", root)
    refresh_token = _required(body, "refreshToken", root)
    if body.get("partner") is None:
        raise missing(at(root, "partner"))
    partner_root = at(root, "partner")
    partner = as_object(body["partner"], partner_root)
    partner_id = _required(partner, "partnerId", partner_root)
    auth_code = _required(partner, "authCodeExt", partner_root)
    insert_ts = epoch(body, "insertTs", root, 10, "seconds")
    update_ts = epoch(body, "updateTs", root, 10, "seconds")
    return DrUser(
        user_no=user_no,
        partner_id=partner_id,
        auth_code_ext=auth_code,
        access_token=access_token,
        refresh_token=refresh_token,
        # "If empty, default timestamp will be added automatically."
        insert_ts=insert_ts or now_s,
        update_ts=update_ts or insert_ts or now_s,
        mail=text(body, "mail", root, required=False),
        group_id=text(body, "groupId", root, required=False),
        program_id=text(partner, "programId", partner_root, required=False),
        program_name=text(partner, "programName", partner_root, required=False),
        partner_user_id=text(partner, "partnerUserId", partner_root, required=False),
    )


# ------------------------------------------------------------------------------- events


def parse_event(body: Any, root: str, previous: dict[str, Target] | None = None) -> DrEvent:
    """An event body; ``previous`` are the targets of the event it updates (opt is kept)."""
    body = as_object(body, root)
    event_id = _required(body, "eventId", root)
    event_name = _required(body, "eventName", root)
    partner_id = _required(body, "partnerId", root)
    start = epoch(body, "startTs", root, 13, "milliseconds")
    end = epoch(body, "endTs", root, 13, "milliseconds")
    if start is None:
        raise missing(at(root, "startTs"))
    if end is None:
        raise missing(at(root, "endTs"))
    if end <= start:
        raise invalid(at(root, "endTs"), f"must be after startTs ({end} <= {start})")
    if body.get("targets") is None:
        raise missing(at(root, "targets"))
    return DrEvent(
        event_id=event_id,
        partner_id=partner_id,
        event_name=event_name,
        start_ms=start,
        end_ms=end,
        targets=parse_event_targets(body["targets"], at(root, "targets"), previous or {}),
        signals=parse_signals(body.get("signals"), at(root, "signals")),
    )


def parse_event_targets(value: Any, root: str, previous: dict[str, Target]) -> dict[str, Target]:
    """``[{targetType, targetIds, opt?}]`` -> targets by id (ids are unique in an event).

    A target the event already had keeps its opt unless the group states one: updating
    an event must not undo a customer's opt-out.
    """
    if not isinstance(value, list):
        raise invalid(root, f"must be an array, got {_kind(value)}")
    targets: dict[str, Target] = {}
    for index, raw in enumerate(value):
        where = at(root, index)
        item = as_object(raw, where)
        kind = choice(item.get("targetType"), TARGET_TYPES, at(where, "targetType"))
        ids = item.get("targetIds")
        ids_field = at(where, "targetIds")
        if ids is None:
            raise missing(ids_field)
        if not isinstance(ids, list) or not ids:
            raise invalid(ids_field, "must be a non-empty array of ids")
        # `opt` is not in the seed's event body; the sandbox accepts it so a scenario can
        # state which targets have opted out (an exported state carries it).
        stated = item.get("opt")
        if stated is not None:
            choice(stated, OPTS, at(where, "opt"))
        for position, target_id in enumerate(ids):
            id_field = at(ids_field, position)
            if not isinstance(target_id, str) or not target_id.strip():
                raise invalid(id_field, f"must be a non-empty string, got {target_id!r}")
            known = targets.get(target_id)
            if known is not None and known.type != kind:
                raise invalid(
                    id_field,
                    f"{target_id!r} is already a {known.type} target of this event: "
                    "a target id names one target (BC-41)",
                )
            if known is None:
                before = previous.get(target_id)
                kept = before.opt if before is not None and before.type == kind else OPT_IN
                targets[target_id] = Target(kind, target_id, stated or kept)
    return targets


def parse_signals(value: Any, root: str) -> list[Signal]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(root, f"must be an array, got {_kind(value)}")
    signals: list[Signal] = []
    for index, raw in enumerate(value):
        signal = parse_signal(raw, at(root, index))
        if any(s.signal_id == signal.signal_id for s in signals):
            raise invalid(at(at(root, index), "signalId"), f"{signal.signal_id!r} is used twice")
        signals.append(signal)
    return signals


def parse_signal(raw: Any, root: str) -> Signal:
    item = as_object(raw, root)
    signal_id = _required(item, "signalId", root)
    device_type = _required(item, "deviceType", root)
    signal_type = choice(item.get("signalType"), SIGNAL_TYPES, at(root, "signalType"))
    models = item.get("modelNames")
    if models is None:
        models = []
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise invalid(at(root, "modelNames"), "must be an array of model names")
    control = item.get("controlType")
    control_type = (
        EMPTY if control is None else choice(control, CONTROL_TYPES, at(root, "controlType"))
    )
    restore = item.get("restoreType")
    restore_type = (
        None if restore is None else choice(restore, RESTORE_TYPES, at(root, "restoreType"))
    )
    data = item.get("signalData")
    data = {} if data is None else as_object(data, at(root, "signalData"))
    bounds = None
    if control_type in (TEMPERATURE, TWO_SET_TEMPERATURE):
        bounds = _bounds(data.get("temperature"), at(at(root, "signalData"), "temperature"))
    return Signal(
        raw=dict(item),
        signal_id=signal_id,
        device_type=device_type,
        model_names=list(models),
        signal_type=signal_type,
        control_type=control_type,
        restore_type=restore_type,
        temperature=bounds,
    )


def _bounds(value: Any, root: str) -> TemperatureBounds:
    if value is None:
        raise missing(root)
    data = as_object(value, root)
    numbers: dict[str, float] = {}
    for name in ("min", "max"):
        number = data.get(name)
        if number is None:
            raise missing(at(root, name))
        if not is_number(number):
            raise invalid(at(root, name), f"must be a finite number, got {number!r}")
        numbers[name] = number
    if numbers["min"] > numbers["max"]:
        raise invalid(
            at(root, "max"), f"must not be below min ({numbers['max']} < {numbers['min']})"
        )
    unit = choice(data.get("unit", "C"), TEMPERATURE_UNITS, at(root, "unit"))
    return TemperatureBounds(numbers["min"], numbers["max"], unit)


# ------------------------------------------------------------------------------ targets


def parse_target(body: Any, root: str) -> Target:
    """createDrEventTarget's ``{type, id, opt}`` (and a batch create's ``value``)."""
    body = as_object(body, root)
    kind = choice(body.get("type"), TARGET_TYPES, at(root, "type"))
    return Target(kind, _required(body, "id", root), opt(body, root))


@dataclass(frozen=True)
class BatchItem:
    action: str
    path: str
    value: dict[str, Any]
    raw: dict[str, Any]


def parse_batch(body: Any, root: str) -> list[BatchItem]:
    """The batch's shape (a malformed body refuses the whole call; items fail one by one)."""
    if not isinstance(body, list):
        raise invalid(root, f"must be an array of operations, got {_kind(body)}")
    items: list[BatchItem] = []
    for index, raw in enumerate(body):
        where = at(root, index)
        item = as_object(raw, where)
        for name in ("action", "path", "value"):
            if item.get(name) is None:
                raise missing(at(where, name))
        for name in ("action", "path"):
            if not isinstance(item[name], str):
                raise invalid(at(where, name), f"must be a string, got {_kind(item[name])}")
        value = as_object(item["value"], at(where, "value"))
        items.append(BatchItem(item["action"], item["path"], value, item))
    return items


# ----------------------------------------------------------------------------- data zip


@dataclass(frozen=True)
class ZipRequest:
    event_id: str
    targets: list[Target] | None  # None: every target of the event


def parse_zip_request(body: Any, root: str) -> ZipRequest:
    body = as_object(body, root)
    event_id = _required(body, "eventId", root)
    raw_targets = body.get("targets")
    if raw_targets is None:
        return ZipRequest(event_id, None)
    field = at(root, "targets")
    if not isinstance(raw_targets, list):
        raise invalid(field, f"must be an array, got {_kind(raw_targets)}")
    targets: list[Target] = []
    for index, raw in enumerate(raw_targets):
        where = at(field, index)
        item = as_object(raw, where)
        kind = choice(item.get("targetType"), TARGET_TYPES, at(where, "targetType"))
        targets.append(Target(kind, _required(item, "targetId", where)))
    return ZipRequest(event_id, targets)
