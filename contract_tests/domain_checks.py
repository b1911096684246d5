"""Checks beyond the schema: what a response means, not only what it looks like.

Schemathesis proves each answer has the documented shape. These prove the behaviour
the specs describe in prose: a control shows in the next status, a deleted resource is
gone, an asynchronous call yields one callback per device. Each is a small named
function that raises ``CheckFailed`` (what was expected, what came), ``CheckSkipped``
(why it could not run here) or ``Unimplemented`` (the server answered 501), and returns
a short note on success. They discover ids through the API itself, so they run against
any server that holds at least one controllable device.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from contract_tests.lgapi import LgApi
from contract_tests.receiver import CallbackReceiver
from contract_tests.report import Finding, Outcome, Status
from contract_tests.schemas import thinq_problems


class CheckFailed(AssertionError):
    pass


class CheckSkipped(Exception):
    pass


class Unimplemented(Exception):
    def __init__(self, operation: str, answer: httpx.Response) -> None:
        super().__init__(
            f"{operation} answered 501 Not Implemented: {answer.text[:200]}. Implement it, "
            "or run with --skip-unimplemented to report it as skipped."
        )
        self.operation = operation


@dataclass
class DomainContext:
    api: LgApi
    receiver: CallbackReceiver | None = None  # receives the service's ThinQ callbacks
    no_receiver_reason: str = ""
    callback_timeout: float = 10.0
    skip_unimplemented: bool = False
    bc_available: bool = True  # is Business Connect served at the same base URL


DomainCheck = Callable[[DomainContext], str]


# ------------------------------------------------------------------------- helpers


def expect(answer: httpx.Response, status: int, what: str) -> Any:
    """The JSON body of ``answer`` if it has ``status``; otherwise say what came instead."""
    request = answer.request
    operation = f"{request.method} {request.url.path}"
    if answer.status_code == 501:
        raise Unimplemented(operation, answer)
    if answer.status_code != status:
        raise CheckFailed(
            f"{what}: {operation} answered {answer.status_code}, expected {status}: "
            f"{answer.text[:300]}"
        )
    try:
        return answer.json()
    except ValueError as exc:
        raise CheckFailed(f"{what}: {operation} answered {status} without JSON") from exc


@dataclass(frozen=True)
class Command:
    resource: str
    attribute: str
    value: Any

    def body(self) -> dict[str, Any]:
        return {self.resource: {self.attribute: self.value}}

    def __str__(self) -> str:
        return f"{self.resource}.{self.attribute} = {self.value!r}"


# Resources whose change would leave the device refusing later commands (power, timers).
_AVOID = ("operation", "timer", "sleeptimer", "power")


def commands_for(profile: dict[str, Any], status: dict[str, Any]) -> list[Command]:
    """Commands this device accepts that would change what its status reads, best first.

    Only readable-and-writable booleans, enums and ranges of plain (non-list) resources,
    so the effect can be read back; power and timers last, as they constrain the rest.
    """
    found: list[tuple[int, Command]] = []
    properties = profile.get("property", profile)
    if not isinstance(properties, dict):
        return []
    for resource, attributes in properties.items():
        current_resource = status.get(resource)
        if not isinstance(attributes, dict) or not isinstance(current_resource, dict):
            continue
        for attribute, spec in attributes.items():
            if not isinstance(spec, dict) or not {"r", "w"} <= set(spec.get("mode", [])):
                continue
            value = _another_value(spec, current_resource.get(attribute))
            if value is None:
                continue
            rank = {"boolean": 0, "enum": 1, "range": 2}[spec["type"]]
            if any(word in resource.lower() for word in _AVOID):
                rank += 10
            found.append((rank, Command(resource, attribute, value)))
    return [command for _, command in sorted(found, key=lambda item: item[0])]


def _another_value(spec: dict[str, Any], current: Any) -> Any:
    writable = (spec.get("value") or {}).get("w")
    kind = spec.get("type")
    if kind == "boolean":
        return (not current) if isinstance(current, bool) else None
    if kind == "enum" and isinstance(writable, list):
        readable = (spec.get("value") or {}).get("r") or writable
        others = [v for v in writable if v != current and v in readable]
        return others[0] if others else None
    if kind == "range" and isinstance(writable, dict):
        low, high, step = writable.get("min"), writable.get("max"), writable.get("step") or 1
        if not all(isinstance(v, int | float) for v in (low, high, step)):
            return None
        for candidate in (low, low + step, high):
            if candidate != current and low <= candidate <= high:
                return candidate
    return None


def _bc_devices(ctx: DomainContext, account: str) -> list[str]:
    body = expect(ctx.api.bc("GET", "/v1/devices", account=account), 200, "list devices")
    items = body.get("response") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise CheckFailed(
            f"GET /v1/devices ({account}) answered 200 without a list of devices in "
            f"`response`: {str(body)[:300]}"
        )
    return [item["deviceId"] for item in items if "deviceId" in item]


def _user_devices(ctx: DomainContext) -> set[str] | None:
    """The user's devices as Business Connect lists them, when it is served alongside."""
    if not ctx.bc_available:
        return None
    try:
        return set(_bc_devices(ctx, "IN-HEADER"))
    except (CheckFailed, Unimplemented):
        return None


def _reachable_devices(ctx: DomainContext) -> Iterator[tuple[str, str]]:
    for account in ("REGISTERED", "IN-HEADER"):
        for device_id in _bc_devices(ctx, account):
            yield account, device_id


def _wait_quiet(
    receiver: CallbackReceiver, predicate: Callable[[Any], bool], timeout: float
) -> list[Any]:
    """Bodies matching ``predicate`` once none has arrived for a second (or at timeout)."""
    deadline = time.monotonic() + timeout
    seen = -1
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        found = receiver.bodies(predicate)
        if len(found) != seen:
            seen, quiet_since = len(found), time.monotonic()
        elif found and time.monotonic() - quiet_since > 1.0:
            return found
        time.sleep(0.05)
    return receiver.bodies(predicate)


# ------------------------------------------------------------------------- Business Connect


def control_shows_in_status(ctx: DomainContext) -> str:
    """After a control answered 200, the device's status reads the value sent."""
    tried = []
    for account, device_id in _reachable_devices(ctx):
        profile_answer = ctx.api.bc("GET", f"/v1/devices/profile/{device_id}", account=account)
        status_answer = ctx.api.bc("GET", f"/v1/devices/{device_id}", account=account)
        if profile_answer.status_code != 200 or status_answer.status_code != 200:
            continue
        profile = profile_answer.json().get("response") or {}
        status = status_answer.json().get("response") or {}
        for command in commands_for(profile, status)[:3]:
            answer = ctx.api.bc(
                "POST", f"/v1/devices/{device_id}", account=account, json=command.body()
            )
            tried.append(f"{device_id[:12]}... {command}: {answer.status_code}")
            if answer.status_code != 200:
                continue  # refused for a documented reason (powered off, offline...)
            after = (
                expect(
                    ctx.api.bc("GET", f"/v1/devices/{device_id}", account=account),
                    200,
                    "status after a control",
                ).get("response")
                or {}
            )
            shown = (after.get(command.resource) or {}).get(command.attribute)
            if shown != command.value:
                raise CheckFailed(
                    f"POST /v1/devices/{device_id} with {command.body()} answered 200, but "
                    f"GET /v1/devices/{device_id} then reads {command.resource}."
                    f"{command.attribute} = {shown!r}, expected {command.value!r}"
                )
            return f"{account} device {device_id[:12]}...: {command} shows in its status"
    if not tried:
        raise CheckSkipped(
            "no device with a readable and writable boolean, enum or range attribute was "
            "found through GET /v1/devices (REGISTERED and IN-HEADER)"
        )
    raise CheckFailed(
        "every control tried was refused, so no control could be read back: " + "; ".join(tried)
    )


def unsubscribed_device_is_gone(ctx: DomainContext) -> str:
    """A push subscription shows in GET /v1/push; once deleted it is gone and a second
    delete is 404."""
    devices = _bc_devices(ctx, "REGISTERED")
    if not devices:
        raise CheckSkipped("the partner's REGISTERED account lists no device")
    device_id = devices[0]
    path = f"/v1/push/{device_id}"
    ctx.api.bc("DELETE", path)  # a subscription left by an earlier run would answer 409
    expect(ctx.api.bc("POST", path), 200, "subscribe")
    listed = _subscribed(ctx)
    if device_id not in listed:
        raise CheckFailed(f"POST {path} answered 200 but GET /v1/push lists only {listed}")
    expect(ctx.api.bc("DELETE", path), 200, "unsubscribe")
    listed = _subscribed(ctx)
    if device_id in listed:
        raise CheckFailed(f"DELETE {path} answered 200 but GET /v1/push still lists it")
    again = ctx.api.bc("DELETE", path)
    if again.status_code != 404:
        raise CheckFailed(
            f"a second DELETE {path} answered {again.status_code}, expected 404 (4304): "
            f"{again.text[:300]}"
        )
    return f"device {device_id[:12]}...: subscribed, listed, deleted, gone, 404 on delete"


def _subscribed(ctx: DomainContext) -> list[str]:
    body = expect(ctx.api.bc("GET", "/v1/push"), 200, "list subscriptions")
    return [item.get("deviceId") for item in body.get("response") or []]


def deleted_dr_user_is_gone(ctx: DomainContext) -> str:
    """DR: a created group reads back; a created user reads back, and after DELETE it is
    404."""
    credentials = ctx.api.credentials
    suffix = secrets.token_hex(4)
    group_id = f"lgmock-contract-{suffix}"
    expect(
        ctx.api.bc(
            "POST",
            "/v1/dr/groups",
            json={
                "groupId": group_id,
                "partnerId": credentials.partner_id,
                "groupName": "lgmock contract check",
            },
        ),
        200,
        "create a DR group",
    )
    group = expect(ctx.api.bc("GET", f"/v1/dr/groups/{group_id}"), 200, "read the group back")
    if (group.get("data") or {}).get("groupId") != group_id:
        raise CheckFailed(f"GET /v1/dr/groups/{group_id} answered another group: {group}")
    body = {
        "userNo": credentials.user_number,
        "mail": "contract-check@example.com",
        "groupId": group_id,
        "accessToken": credentials.user_token,
        "refreshToken": f"lgmock-contract-refresh-{suffix}",
        "partner": {
            "partnerId": credentials.partner_id,
            "partnerUserId": f"contract-{suffix}",
            "authCodeExt": f"lgmock-contract-{suffix}",
        },
    }
    created = ctx.api.bc("POST", "/v1/dr/users", json=body)
    if created.status_code == 409:
        # Left by an earlier run: delete it and enrol again.
        ctx.api.bc("DELETE", f"/v1/dr/users/{credentials.user_number}")
        created = ctx.api.bc("POST", "/v1/dr/users", json=body)
    data = expect(created, 200, "enrol a DR user").get("data") or {}
    user_no = data.get("userNo") or credentials.user_number
    expect(ctx.api.bc("GET", f"/v1/dr/users/{user_no}"), 200, "read the DR user back")
    expect(ctx.api.bc("DELETE", f"/v1/dr/users/{user_no}"), 200, "delete the DR user")
    gone = ctx.api.bc("GET", f"/v1/dr/users/{user_no}")
    if gone.status_code != 404:
        raise CheckFailed(
            f"after DELETE /v1/dr/users/{user_no} answered 200, GET answered "
            f"{gone.status_code}, expected 404: {gone.text[:300]}"
        )
    return f"group {group_id} read back; user {user_no} enrolled, read, deleted, then 404"


# ------------------------------------------------------------------------- ThinQ


def callback_per_device(ctx: DomainContext) -> str:
    """status-async and profile-async: 202, then exactly one valid callback per device of
    the user, each with the 202's requestId."""
    receiver = _receiver(ctx)
    expected = _user_devices(ctx)
    seen: dict[str, set[str]] = {}
    for path in ("/v2/devices/profile-async", "/v2/devices/status-async"):
        accepted = expect(ctx.api.thinq("POST", path), 202, f"POST {path}")
        request_id = accepted.get("requestId")
        if not request_id:
            raise CheckFailed(f"POST {path} answered 202 without a requestId: {accepted}")

        ours = _answers(request_id)
        if expected is not None:
            try:
                bodies = receiver.wait_for(len(expected), ours, ctx.callback_timeout)
            except TimeoutError as exc:
                raise CheckFailed(
                    f"POST {path}: {exc}; the user has {len(expected)} devices"
                ) from exc
            time.sleep(0.3)  # a duplicate would arrive about now
            bodies = receiver.bodies(ours)
        else:
            bodies = _wait_quiet(receiver, ours, ctx.callback_timeout)
        devices = [_device_of(body) for body in bodies]
        if len(devices) != len(set(devices)):
            raise CheckFailed(f"POST {path}: a device had more than one callback: {devices}")
        for body in bodies:
            problems = thinq_problems(body)
            if problems:
                raise CheckFailed(f"POST {path}: a callback breaks the spec: {problems[:3]}")
        seen[path] = set(devices)
        if expected is not None and set(devices) != expected:
            raise CheckFailed(
                f"POST {path}: callbacks for {sorted(devices)}, but the user's devices "
                f"(GET /v1/devices, IN-HEADER) are {sorted(expected)}"
            )
    profiles, statuses = seen.values()
    if profiles != statuses:
        raise CheckFailed(
            f"profile-async answered for {sorted(profiles)}, status-async for {sorted(statuses)}"
        )
    if not statuses:
        raise CheckSkipped("the user has no device, so no callback was expected")
    return f"{len(statuses)} devices, one valid callback each, for profile-async and status-async"


def control_async_shows_in_status(ctx: DomainContext) -> str:
    """control-async: one DEVICE_CONTROL callback per device of the type; a device that
    answered success then reads the value in its next status-async callback."""
    receiver = _receiver(ctx)
    expected = _user_devices(ctx)
    profiles = _callbacks_of(ctx, receiver, "/v2/devices/profile-async", expected)
    statuses = _callbacks_of(ctx, receiver, "/v2/devices/status-async", expected)
    for device_id, profile_body in profiles.items():
        status = (statuses.get(device_id) or {}).get("result")
        profile = profile_body.get("result")
        if not isinstance(status, dict) or not isinstance(profile, dict):
            continue
        commands = commands_for(profile, status)
        if not commands:
            continue
        command = commands[0]
        device_type = profile_body["deviceType"]
        of_type = {d for d, body in profiles.items() if body.get("deviceType") == device_type}
        accepted = expect(
            ctx.api.thinq(
                "POST",
                "/v2/devices/control-async",
                json={"deviceType": device_type, "command": command.body()},
            ),
            202,
            "POST /v2/devices/control-async",
        )
        request_id = accepted.get("requestId")
        try:
            bodies = receiver.wait_for(
                len(of_type),
                _answers(request_id),
                ctx.callback_timeout,
            )
        except TimeoutError as exc:
            raise CheckFailed(
                f"control-async to {device_type} ({len(of_type)} devices): {exc}"
            ) from exc
        controlled = {_device_of(body): body for body in bodies}
        if set(controlled) != of_type:
            raise CheckFailed(
                f"control-async to {device_type}: callbacks for {sorted(controlled)}, "
                f"devices of that type are {sorted(of_type)}"
            )
        mine = controlled[device_id]
        if mine.get("responseCode") != "0000":
            continue  # refused for a documented reason; its error callback is the answer
        after = _callbacks_of(ctx, receiver, "/v2/devices/status-async", expected)
        after = after.get(device_id) or {}
        shown = ((after.get("result") or {}).get(command.resource) or {}).get(command.attribute)
        if shown != command.value:
            raise CheckFailed(
                f"control-async {command} succeeded for {device_id}, but its next status-async "
                f"callback reads {shown!r}"
            )
        return f"{device_type} {device_id[:12]}...: {command} shows in the next status callback"
    raise CheckSkipped("no device of the user accepted a readable-and-writable command")


def _callbacks_of(
    ctx: DomainContext, receiver: CallbackReceiver, path: str, expected: set[str] | None
) -> dict[str, dict[str, Any]]:
    """deviceId -> the `response` part of each callback of one async call."""
    accepted = expect(ctx.api.thinq("POST", path), 202, f"POST {path}")
    request_id = accepted.get("requestId")
    if expected:
        try:
            bodies = receiver.wait_for(len(expected), _answers(request_id), ctx.callback_timeout)
        except TimeoutError as exc:
            raise CheckFailed(f"POST {path}: {exc}") from exc
    else:
        bodies = _wait_quiet(receiver, _answers(request_id), ctx.callback_timeout)
    if not bodies:
        raise CheckFailed(f"POST {path}: no callback within {ctx.callback_timeout:g} s")
    return {_device_of(body): body.get("response") or {} for body in bodies}


def _answers(request_id: str | None) -> Callable[[Any], bool]:
    """Does a received body answer the call that was given ``request_id``?"""
    return lambda body: isinstance(body, dict) and body.get("requestId") == request_id


def _receiver(ctx: DomainContext) -> CallbackReceiver:
    if ctx.receiver is None:
        raise CheckSkipped(ctx.no_receiver_reason or "no callback receiver is registered")
    return ctx.receiver


def _device_of(body: Any) -> str:
    return str(((body or {}).get("response") or {}).get("deviceId"))


# ------------------------------------------------------------------------- running them

BC_CHECKS: tuple[DomainCheck, ...] = (
    control_shows_in_status,
    unsubscribed_device_is_gone,
    deleted_dr_user_is_gone,
)
THINQ_CHECKS: tuple[DomainCheck, ...] = (callback_per_device, control_async_shows_in_status)


def run_check(suite: str, check: DomainCheck, ctx: DomainContext) -> Outcome:
    outcome = Outcome(suite, check.__name__, "domain", checks={check.__name__})
    started = time.monotonic()
    outcome.cases = 1
    try:
        outcome.note = check(ctx)
    except CheckSkipped as exc:
        outcome.status, outcome.note, outcome.cases = Status.SKIPPED, str(exc), 0
    except Unimplemented as exc:
        if ctx.skip_unimplemented:
            outcome.status, outcome.cases = Status.SKIPPED, 0
            outcome.note = f"{exc.operation} answers 501: skipped (--skip-unimplemented)"
        else:
            outcome.fail(Finding("operation_implemented", "Operation not implemented", str(exc)))
    except CheckFailed as exc:
        outcome.fail(Finding(check.__name__, " ".join((check.__doc__ or "").split()), str(exc)))
    except httpx.HTTPError as exc:
        outcome.status = Status.ERROR
        outcome.findings.append(Finding(check.__name__, "HTTP error", repr(exc)))
    outcome.duration = time.monotonic() - started
    return outcome
