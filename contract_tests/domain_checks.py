"""Checks beyond the schema: what a response means, not only what it looks like.

Schemathesis proves each answer has the documented shape. These prove the behaviour
the specs describe in prose: a control shows in the next status, a deleted resource is
gone, an asynchronous call yields one callback per device. Each is a small named
function that raises ``CheckFailed`` (what was expected, what came, and the answer that
showed it: its request becomes a curl line to reproduce it, credentials filtered),
``CheckSkipped`` (why it could not run here) or ``Unimplemented`` (the server answered
501), and returns a short note on success. They discover ids through the API itself, so
they run against any server that holds at least one controllable device.

A foreign server may answer anything; ``run_check`` turns every answer, and every lack
of one (a closed connection, a timeout), into an outcome: a checker reports what it
met, it never crashes.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from contract_tests.lgapi import KitError, LgApi
from contract_tests.receiver import CallbackReceiver
from contract_tests.report import Finding, Outcome, Status
from contract_tests.reproduce import curl
from contract_tests.schemas import thinq_problems


class CheckFailed(AssertionError):
    """What a domain check found: what the spec leads one to expect, what came instead,
    and the answer that showed it (its request becomes the finding's reproduce command)."""

    def __init__(
        self, summary: str, *, expected: str, got: str, answer: httpx.Response | None = None
    ) -> None:
        super().__init__(f"{summary}\nExpected: {expected}\nGot: {got}")
        self.summary = summary
        self.expected = expected
        self.got = got
        self.answer = answer


class CheckSkipped(Exception):
    pass


class Unimplemented(Exception):
    def __init__(self, operation: str, answer: httpx.Response) -> None:
        super().__init__(
            f"{operation} answered 501 Not Implemented: {answer.text[:200]}. Implement it, "
            "or run with --skip-unimplemented to report it as skipped."
        )
        self.operation = operation
        self.answer = answer


@dataclass
class DomainContext:
    api: LgApi
    receiver: CallbackReceiver | None = None  # receives the service's ThinQ callbacks
    no_receiver_reason: str = ""
    callback_timeout: float = 10.0
    skip_unimplemented: bool = False
    bc_available: bool = True  # is Business Connect served at the same base URL


DomainCheck = Callable[[DomainContext], str]


# ------------------------------------------------------------------------- reading answers
# A foreign server may answer anything: HTML, an empty body, a string where an object
# is due. Every value read from an answer goes through these, so a shape the spec does
# not allow becomes a CheckFailed naming it, never an exception of the checker's own.

_MISSING = object()
_KINDS = {dict: "an object", list: "an array", str: "a string"}


def describe(value: Any) -> str:
    """A value as a finding shows it: its JSON type, then the start of it."""
    if value is _MISSING:
        return "nothing (the member is missing)"
    if value is None:
        return "null"
    kind = {bool: "a boolean", int: "a number", float: "a number"}.get(type(value))
    kind = kind or next((name for t, name in _KINDS.items() if isinstance(value, t)), "a value")
    return f"{kind}: {json.dumps(value, ensure_ascii=False, default=str)[:200]}"


def answered(answer: httpx.Response) -> str:
    """An answer in one line: status, Content-Type, the start of the body."""
    kind = answer.headers.get("content-type", "no Content-Type")
    text = answer.content[:300].decode("utf-8", "replace")
    return f"{answer.status_code} ({kind}) " + (repr(text) if text else "with an empty body")


def _operation(answer: httpx.Response) -> str:
    return f"{answer.request.method} {answer.request.url.path}"


def expect_status(answer: httpx.Response, status: int, what: str) -> None:
    """``answer`` has ``status``; its body is not read here (schemathesis judges it)."""
    if answer.status_code == 501:
        raise Unimplemented(_operation(answer), answer)
    if answer.status_code != status:
        raise CheckFailed(
            f"{what}: {_operation(answer)} answered {answer.status_code}",
            expected=f"{status}",
            got=answered(answer),
            answer=answer,
        )


def expect(answer: httpx.Response, status: int, what: str) -> Any:
    """The JSON body of ``answer`` if it has ``status``; otherwise say what came instead."""
    expect_status(answer, status, what)
    try:
        return json.loads(answer.content)
    except (ValueError, RecursionError):
        raise CheckFailed(
            f"{what}: {_operation(answer)} answered {status} without a JSON body",
            expected="a JSON body",
            got=answered(answer),
            answer=answer,
        ) from None


def expect_object(answer: httpx.Response, status: int, what: str) -> dict[str, Any]:
    """The body of ``answer`` if it has ``status`` and is a JSON object."""
    body = expect(answer, status, what)
    if not isinstance(body, dict):
        raise CheckFailed(
            f"{what}: {_operation(answer)} answered {status} with a body that is not an object",
            expected="a JSON object",
            got=describe(body),
            answer=answer,
        )
    return body


def member(body: dict[str, Any], key: str, kind: type, what: str, answer: httpx.Response) -> Any:
    """``body[key]`` if it is of ``kind`` (dict, list or str)."""
    value = body.get(key, _MISSING)
    if not isinstance(value, kind):
        raise CheckFailed(
            f"{what}: {_operation(answer)} answered `{key}` that is not {_KINDS[kind]}",
            expected=f"`{key}`: {_KINDS[kind]}",
            got=describe(value),
            answer=answer,
        )
    return value


def optional(body: dict[str, Any], key: str, kind: type, what: str, answer: httpx.Response) -> Any:
    """``body[key]`` if it is of ``kind``; None if it is missing (the spec allows that)."""
    return member(body, key, kind, what, answer) if key in body else None


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def same(shown: Any, sent: Any) -> bool:
    """JSON equality: a boolean is not the number 1, an integer equals its float."""
    if isinstance(shown, bool) or isinstance(sent, bool):
        return shown is sent
    if isinstance(shown, int | float) and isinstance(sent, int | float):
        return shown == sent
    return type(shown) is type(sent) and shown == sent


def segment(value: str) -> str:
    """An id a server gave, as one path segment of the next request."""
    return quote(value, safe="")


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
_RANKS = {"boolean": 0, "enum": 1, "range": 2}


def commands_for(profile: Any, status: Any) -> list[Command]:
    """Commands this device accepts that would change what its status reads, best first.

    Only readable-and-writable booleans, enums and ranges of plain (non-list) resources,
    so the effect can be read back; power and timers last, as they constrain the rest.
    A profile or status of another shape offers no command (the caller says so).
    """
    if not isinstance(profile, dict) or not isinstance(status, dict):
        return []
    found: list[tuple[int, Command]] = []
    properties = profile.get("property", profile)
    if not isinstance(properties, dict):
        return []
    for resource, attributes in properties.items():
        current_resource = status.get(resource)
        if not isinstance(attributes, dict) or not isinstance(current_resource, dict):
            continue
        for attribute, spec in attributes.items():
            if not isinstance(spec, dict) or spec.get("type") not in _RANKS:
                continue
            mode = spec.get("mode")
            if not isinstance(mode, list) or not {"r", "w"} <= {m for m in mode if m in "rw"}:
                continue
            value = _another_value(spec, current_resource.get(attribute))
            if value is None:
                continue
            rank = _RANKS[spec["type"]]
            if any(word in resource.lower() for word in _AVOID):
                rank += 10
            found.append((rank, Command(resource, attribute, value)))
    return [command for _, command in sorted(found, key=lambda item: item[0])]


def _another_value(spec: dict[str, Any], current: Any) -> Any:
    values = spec.get("value")
    if not isinstance(values, dict):
        return None
    writable = values.get("w")
    kind = spec.get("type")
    if kind == "boolean":
        return (not current) if isinstance(current, bool) else None
    if kind == "enum" and isinstance(writable, list):
        readable = values.get("r")
        readable = readable if isinstance(readable, list) and readable else writable
        others = [v for v in writable if isinstance(v, str) and v != current and v in readable]
        return others[0] if others else None
    if kind == "range" and isinstance(writable, dict):
        low, high, step = writable.get("min"), writable.get("max"), writable.get("step", 1)
        if not all(_finite(v) for v in (low, high, step)) or step <= 0:
            return None
        for candidate in (low, low + step, high):
            if not same(candidate, current) and low <= candidate <= high:
                return candidate
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bc_devices(ctx: DomainContext, account: str) -> list[str]:
    what = f"list devices ({account})"
    answer = ctx.api.bc("GET", "/v1/devices", account=account)
    items = member(expect_object(answer, 200, what), "response", list, what, answer)
    devices = []
    for item in items:
        device_id = dig(item, "deviceId")
        if not isinstance(device_id, str) or not device_id:
            raise CheckFailed(
                f"{what}: GET /v1/devices listed a device without a deviceId",
                expected="each item of `response` an object with a `deviceId` string",
                got=describe(item),
                answer=answer,
            )
        devices.append(device_id)
    return devices


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
    tried: list[str] = []
    last: httpx.Response | None = None
    for account, device_id in _reachable_devices(ctx):
        path = f"/v1/devices/{segment(device_id)}"
        profile_answer = ctx.api.bc(
            "GET", f"/v1/devices/profile/{segment(device_id)}", account=account
        )
        status_answer = ctx.api.bc("GET", path, account=account)
        for answer in (profile_answer, status_answer):
            if answer.status_code >= 500:
                expect_status(answer, 200, f"read {account} device {device_id}")
        if profile_answer.status_code != 200 or status_answer.status_code != 200:
            continue  # refused for a documented reason (offline, not this account's...)
        what = f"read {account} device {device_id}"
        profile = member(
            expect_object(profile_answer, 200, what), "response", dict, what, profile_answer
        )
        status = member(
            expect_object(status_answer, 200, what), "response", dict, what, status_answer
        )
        for command in commands_for(profile, status)[:3]:
            last = ctx.api.bc("POST", path, account=account, json=command.body())
            tried.append(f"{device_id[:12]}... {command}: {last.status_code}")
            if last.status_code != 200:
                continue  # refused for a documented reason (powered off, offline...)
            what = "status after a control"
            after_answer = ctx.api.bc("GET", path, account=account)
            after = member(
                expect_object(after_answer, 200, what), "response", dict, what, after_answer
            )
            shown = dig(after, command.resource, command.attribute)
            if not same(shown, command.value):
                raise CheckFailed(
                    f"POST {path} with {command.body()} answered 200, but the status "
                    "read next does not show it",
                    expected=f"{command.resource}.{command.attribute} = {command.value!r}",
                    got=f"{command.resource}.{command.attribute} = {shown!r}",
                    answer=after_answer,
                )
            return f"{account} device {device_id[:12]}...: {command} shows in its status"
    if not tried:
        raise CheckSkipped(
            "no device with a readable and writable boolean, enum or range attribute was "
            "found through GET /v1/devices (REGISTERED and IN-HEADER)"
        )
    raise CheckFailed(
        "every control tried was refused, so no control could be read back",
        expected="at least one control answered 200",
        got="; ".join(tried),
        answer=last,
    )


def unsubscribed_device_is_gone(ctx: DomainContext) -> str:
    """A push subscription shows in GET /v1/push; once deleted it is gone and a second
    delete is 404."""
    devices = _bc_devices(ctx, "REGISTERED")
    if not devices:
        raise CheckSkipped("the partner's REGISTERED account lists no device")
    device_id = devices[0]
    path = f"/v1/push/{segment(device_id)}"
    ctx.api.bc("DELETE", path)  # a subscription left by an earlier run would answer 409
    expect_status(ctx.api.bc("POST", path), 200, "subscribe")
    listed, answer = _subscribed(ctx)
    if device_id not in listed:
        raise CheckFailed(
            f"POST {path} answered 200 but GET /v1/push does not list the device",
            expected=f"{device_id} listed",
            got=f"{listed}",
            answer=answer,
        )
    expect_status(ctx.api.bc("DELETE", path), 200, "unsubscribe")
    listed, answer = _subscribed(ctx)
    if device_id in listed:
        raise CheckFailed(
            f"DELETE {path} answered 200 but GET /v1/push still lists the device",
            expected=f"{device_id} not listed",
            got=f"{listed}",
            answer=answer,
        )
    again = ctx.api.bc("DELETE", path)
    if again.status_code != 404:
        raise CheckFailed(
            f"a second DELETE {path} did not answer 404",
            expected="404 (4304: the subscription is gone)",
            got=answered(again),
            answer=again,
        )
    return f"device {device_id[:12]}...: subscribed, listed, deleted, gone, 404 on delete"


def _subscribed(ctx: DomainContext) -> tuple[list[Any], httpx.Response]:
    what = "list subscriptions"
    answer = ctx.api.bc("GET", "/v1/push")
    items = member(expect_object(answer, 200, what), "response", list, what, answer)
    return [dig(item, "deviceId") for item in items], answer


def deleted_dr_user_is_gone(ctx: DomainContext) -> str:
    """DR: a created group reads back; a created user reads back, and after DELETE it is
    404."""
    credentials = ctx.api.credentials
    suffix = secrets.token_hex(4)
    group_id = f"lgmock-contract-{suffix}"
    expect_status(
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
    read = ctx.api.bc("GET", f"/v1/dr/groups/{group_id}")
    group = expect_object(read, 200, "read the group back")
    if dig(group, "data", "groupId") != group_id:
        raise CheckFailed(
            f"GET /v1/dr/groups/{group_id} answered another group",
            expected=f"data.groupId = {group_id!r}",
            got=f"data.groupId = {describe(dig(group, 'data', 'groupId'))}",
            answer=read,
        )
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
        ctx.api.bc("DELETE", f"/v1/dr/users/{segment(credentials.user_number)}")
        created = ctx.api.bc("POST", "/v1/dr/users", json=body)
    what = "enrol a DR user"
    data = optional(expect_object(created, 200, what), "data", dict, what, created) or {}
    # The answer may leave the userNo out; then it is the one sent.
    user_no = optional(data, "userNo", str, what, created) or credentials.user_number
    path = f"/v1/dr/users/{segment(user_no)}"
    expect_status(ctx.api.bc("GET", path), 200, "read the DR user back")
    expect_status(ctx.api.bc("DELETE", path), 200, "delete the DR user")
    gone = ctx.api.bc("GET", path)
    if gone.status_code != 404:
        raise CheckFailed(
            f"after DELETE {path} answered 200, GET still finds the user",
            expected="404",
            got=answered(gone),
            answer=gone,
        )
    return f"group {group_id} read back; user {user_no} enrolled, read, deleted, then 404"


# ------------------------------------------------------------------------- ThinQ


def _accepted(ctx: DomainContext, path: str, **kwargs: Any) -> tuple[str, httpx.Response]:
    """POST an asynchronous call; its requestId once it answered 202."""
    answer = ctx.api.thinq("POST", path, **kwargs)
    request_id = expect_object(answer, 202, f"POST {path}").get("requestId", _MISSING)
    if not isinstance(request_id, str) or not request_id:
        raise CheckFailed(
            f"POST {path} answered 202 without a requestId",
            expected="`requestId`: a string",
            got=describe(request_id),
            answer=answer,
        )
    return request_id, answer


def _valid_callbacks(path: str, bodies: list[Any], answer: httpx.Response) -> None:
    for body in bodies:
        problems = thinq_problems(body)
        if problems:
            raise CheckFailed(
                f"POST {path}: a callback breaks the spec",
                expected="callbacks valid per the ThinQ spec's Callback schema",
                got="; ".join(problems[:3]) + f" in {describe(body)}",
                answer=answer,
            )


def callback_per_device(ctx: DomainContext) -> str:
    """status-async and profile-async: 202, then exactly one valid callback per device of
    the user, each with the 202's requestId."""
    receiver = _receiver(ctx)
    expected = _user_devices(ctx)
    seen: dict[str, set[str]] = {}
    for path in ("/v2/devices/profile-async", "/v2/devices/status-async"):
        request_id, accepted = _accepted(ctx, path)
        ours = _answers(request_id)
        if expected is not None:
            try:
                bodies = receiver.wait_for(len(expected), ours, ctx.callback_timeout)
            except TimeoutError as exc:
                raise CheckFailed(
                    f"POST {path}: too few callbacks",
                    expected=f"one callback per device of the user ({len(expected)})",
                    got=str(exc),
                    answer=accepted,
                ) from exc
            time.sleep(0.3)  # a duplicate would arrive about now
            bodies = receiver.bodies(ours)
        else:
            bodies = _wait_quiet(receiver, ours, ctx.callback_timeout)
        _valid_callbacks(path, bodies, accepted)
        devices = [_device_of(body) for body in bodies]
        if len(devices) != len(set(devices)):
            raise CheckFailed(
                f"POST {path}: a device had more than one callback",
                expected="one callback per device",
                got=f"callbacks for {sorted(devices)}",
                answer=accepted,
            )
        seen[path] = set(devices)
        if expected is not None and set(devices) != expected:
            raise CheckFailed(
                f"POST {path}: the callbacks are not for the user's devices",
                expected=f"{sorted(expected)} (GET /v1/devices, IN-HEADER)",
                got=f"{sorted(devices)}",
                answer=accepted,
            )
    profiles, statuses = seen.values()
    if profiles != statuses:
        raise CheckFailed(
            "profile-async and status-async answered for different devices",
            expected=f"status-async for {sorted(profiles)}, as profile-async",
            got=f"{sorted(statuses)}",
            answer=accepted,
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
        status = dig(statuses.get(device_id), "result")
        commands = commands_for(dig(profile_body, "result"), status)
        device_type = profile_body.get("deviceType")
        if not commands or not isinstance(device_type, str):
            continue
        command = commands[0]
        of_type = {d for d, body in profiles.items() if body.get("deviceType") == device_type}
        path = "/v2/devices/control-async"
        request_id, accepted = _accepted(
            ctx, path, json={"deviceType": device_type, "command": command.body()}
        )
        try:
            bodies = receiver.wait_for(len(of_type), _answers(request_id), ctx.callback_timeout)
        except TimeoutError as exc:
            raise CheckFailed(
                f"control-async to {device_type}: too few callbacks",
                expected=f"one DEVICE_CONTROL callback per device of the type ({len(of_type)})",
                got=str(exc),
                answer=accepted,
            ) from exc
        _valid_callbacks(path, bodies, accepted)
        controlled = {_device_of(body): body for body in bodies}
        if set(controlled) != of_type:
            raise CheckFailed(
                f"control-async to {device_type}: the callbacks are not for its devices",
                expected=f"{sorted(of_type)}",
                got=f"{sorted(controlled)}",
                answer=accepted,
            )
        if controlled[device_id].get("responseCode") != "0000":
            continue  # refused for a documented reason; its error callback is the answer
        after = _callbacks_of(ctx, receiver, "/v2/devices/status-async", expected)
        shown = dig(after.get(device_id), "result", command.resource, command.attribute)
        if not same(shown, command.value):
            raise CheckFailed(
                f"control-async {command} succeeded for {device_id}, but its next "
                "status-async callback does not show it",
                expected=f"{command.resource}.{command.attribute} = {command.value!r}",
                got=f"{command.resource}.{command.attribute} = {shown!r}",
                answer=accepted,
            )
        return f"{device_type} {device_id[:12]}...: {command} shows in the next status callback"
    raise CheckSkipped("no device of the user accepted a readable-and-writable command")


def _callbacks_of(
    ctx: DomainContext, receiver: CallbackReceiver, path: str, expected: set[str] | None
) -> dict[str, dict[str, Any]]:
    """deviceId -> the `response` part of each callback of one async call."""
    request_id, accepted = _accepted(ctx, path)
    if expected:
        try:
            bodies = receiver.wait_for(len(expected), _answers(request_id), ctx.callback_timeout)
        except TimeoutError as exc:
            raise CheckFailed(
                f"POST {path}: too few callbacks",
                expected=f"one callback per device of the user ({len(expected)})",
                got=str(exc),
                answer=accepted,
            ) from exc
    else:
        bodies = _wait_quiet(receiver, _answers(request_id), ctx.callback_timeout)
    if not bodies:
        raise CheckFailed(
            f"POST {path}: no callback",
            expected=f"callbacks within {ctx.callback_timeout:g} s",
            got="none",
            answer=accepted,
        )
    _valid_callbacks(path, bodies, accepted)
    responses = {_device_of(body): body.get("response") for body in bodies}
    return {device: part for device, part in responses.items() if isinstance(part, dict)}


def _answers(request_id: str | None) -> Callable[[Any], bool]:
    """Does a received body answer the call that was given ``request_id``?"""
    return lambda body: isinstance(body, dict) and body.get("requestId") == request_id


def _receiver(ctx: DomainContext) -> CallbackReceiver:
    if ctx.receiver is None:
        raise CheckSkipped(ctx.no_receiver_reason or "no callback receiver is registered")
    return ctx.receiver


def _device_of(body: Any) -> str:
    return str(dig(body, "response", "deviceId"))


# ------------------------------------------------------------------------- running them

BC_CHECKS: tuple[DomainCheck, ...] = (
    control_shows_in_status,
    unsubscribed_device_is_gone,
    deleted_dr_user_is_gone,
)
THINQ_CHECKS: tuple[DomainCheck, ...] = (callback_per_device, control_async_shows_in_status)


def run_check(suite: str, check: DomainCheck, ctx: DomainContext) -> Outcome:
    """Run one check; whatever the server answered, the outcome says so (never raises)."""
    name = check.__name__
    outcome = Outcome(suite, name, "domain", checks={name})
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
            reproduce = _reproduce(ctx, exc.answer.request)
            outcome.fail(
                Finding("operation_implemented", "Operation not implemented", str(exc), reproduce)
            )
    except CheckFailed as exc:
        outcome.fail(_finding(name, check, exc, ctx))
    except KitError as exc:  # the token endpoint stopped giving tokens mid-run
        outcome.fail(Finding(name, "No API token", str(exc)))
    except httpx.HTTPError as exc:  # refused, closed or timed out: no answer at all
        outcome.fail(_no_answer(name, exc, ctx))
    except Exception as exc:  # a shape no reader above foresaw: still a finding, not a crash
        outcome.status = Status.ERROR
        last = ctx.api.last_answer
        got = answered(last) if last is not None else "no answer yet"
        outcome.findings.append(
            Finding(
                name,
                "The check could not read an answer",
                f"{type(exc).__name__}: {exc}\nLast answer: {got}\n"
                "This is a defect of the kit: please report it with this finding.",
                _reproduce(ctx, last.request) if last is not None else "",
            )
        )
    outcome.duration = time.monotonic() - started
    return outcome


def _finding(name: str, check: DomainCheck, exc: CheckFailed, ctx: DomainContext) -> Finding:
    title = " ".join((check.__doc__ or name).split())
    message = f"{exc.summary}\nExpected: {exc.expected}\nGot: {exc.got}"
    reproduce = ""
    if exc.answer is not None:
        request = exc.answer.request
        message += f"\nRequest: {request.method} {request.url}"
        reproduce = _reproduce(ctx, request)
    return Finding(name, title, message, reproduce)


def _no_answer(name: str, exc: httpx.HTTPError, ctx: DomainContext) -> Finding:
    try:
        request: httpx.Request | None = exc.request
    except RuntimeError:  # an error raised before any request was built
        request = None
    where = f"{request.method} {request.url}" if request is not None else "a request"
    return Finding(
        name,
        "No answer",
        f"{where}: {type(exc).__name__}: {exc or 'no detail'}\n"
        f"Expected: an HTTP answer within {ctx.api.timeout:g} s (--request-timeout)",
        _reproduce(ctx, request) if request is not None else "",
    )


def _reproduce(ctx: DomainContext, request: httpx.Request) -> str:
    return curl(request, ctx.api.credentials, token_url=f"{ctx.api.bc_url}/v1/token")
