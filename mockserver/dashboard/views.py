"""What each dashboard page shows, read from the running sandbox (no HTTP, no HTML).

Every function here only reads: the dashboard changes state exclusively through the
control API, from the browser, so the UI adds no second way to change anything.
Lists are cut to a page while they are read (newest first, stopping at ``limit``), so a
page costs what it shows, not what the journal or the fleet holds, unless a filter has
to look further to fill it.
"""

from __future__ import annotations

import itertools
import json
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from mockserver import operations, scenario
from mockserver.backends import inbox
from mockserver.backends.devices import Device, DeviceInfo
from mockserver.backends.sandbox import Sandbox
from mockserver.callbacks import Delivery, DeliveryEngine
from mockserver.errors import CATALOGUES, Api
from mockserver.journal import Journal, JournalEntry
from mockserver.profiles.model import AttributeRef, Choice, Span
from mockserver.profiles.power import IDLE_STATES
from mockserver.profiles.values import show_value

Filter = TypeVar("Filter", "DeviceFilter", "JournalFilter", "DeliveryFilter")
PAGE_SIZE = 50
# Rows a live update adds at most (once a second): what a person can follow, and the
# bound on what an open page costs a busy sandbox. A reload lists PAGE_SIZE.
LIVE_ROWS = 20
# Request headers a copied curl command leaves out: curl sets them itself.
CURL_SKIP = {"host", "content-length", "connection", "accept-encoding", "user-agent"}


# ---------------------------------------------------------------------- filters


def from_query(kind: type[Filter], params: Mapping[str, str]) -> Filter:
    """A filter from a page's query string: one text field per query parameter."""
    return kind(**{f.name: params.get(f.name, "").strip() for f in fields(kind)})


# ---------------------------------------------------------------------- devices


@dataclass(frozen=True)
class DeviceFilter:
    partner: str = ""
    user: str = ""
    type: str = ""
    text: str = ""

    def accepts(self, device: DeviceInfo) -> bool:
        if self.partner and self.partner not in device.registered_to:
            return False
        if self.user and device.owner != self.user:
            return False
        if self.type and device.device_type != self.type:
            return False
        if self.text:
            needle = self.text.lower()
            haystack = f"{device.device_id} {device.alias} {device.model_name}".lower()
            return needle in haystack
        return True


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int
    number: int  # 1-based
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.number * self.size, self.total)


def device_page(sandbox: Sandbox, chosen: DeviceFilter, number: int) -> Page:
    # Records for untouched devices (a fleet's filter builds no status); full devices
    # for the rows shown only (docs/scale.md).
    devices: Iterable[DeviceInfo] = sandbox.devices.infos()
    if chosen != DeviceFilter():
        devices = [d for d in devices if chosen.accepts(d)]
        total = len(devices)
    else:
        total = len(sandbox.devices.devices)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(number, 1), pages)
    start = (number - 1) * PAGE_SIZE
    shown = itertools.islice(devices, start, start + PAGE_SIZE)
    rows = [device_row(sandbox.devices.get(d.device_id)) for d in shown]
    return Page(rows, total, number, PAGE_SIZE)


def device_row(device: Device) -> dict[str, Any]:
    """The device as the scenario format names it, plus what the page derives."""
    return {
        **scenario.export_device(device),
        "power": power_label(device),
        "summary": status_summary(device.status),
    }


def power_label(device: Device) -> str:
    """ "on", "off", or "" for a device without a power switch (a fridge, a sensor)."""
    labels = []
    for location in _sections(device):
        if device.profile.power_rule(location) is not None:
            off = device.profile.is_power_off(device.status, location)
            labels.append("off" if off else "on")
    return "/".join(labels)


def _sections(device: Device) -> list[str | None]:
    """The locations that have their own power (location-wrapped profiles), else [None]."""
    profile = device.profile
    return list(profile.locations) if profile.is_location_wrapped else [None]


def status_summary(status: Any, limit: int = 4) -> str:
    pairs = list(itertools.islice(_flatten(status), limit + 1))
    text = ", ".join(f"{k}={show_value(v)}" for k, v in pairs[:limit])
    return text + (", ..." if len(pairs) > limit else "")


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "location" and isinstance(inner, dict):
                continue
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for item in value:
            name = _item_name(item)
            yield from _flatten(item, f"{prefix}[{name}]" if prefix else f"[{name}]")
    else:
        yield prefix, value


def _item_name(item: Any) -> str:
    if isinstance(item, dict):
        if _location_of(item):
            return str(_location_of(item))
        for key in ("locationName", "unit"):
            if key in item:
                return str(item[key])
    return "?"


@dataclass(frozen=True)
class AttributeView:
    """One profile attribute on the device page: what it allows, what it is now."""

    label: str  # resource.attribute, with its location or list key
    kind: str
    mode: str  # "r", "w" or "rw"
    read: str  # the readable values, described
    write: str
    current: Any
    settable: bool  # may the device report a new value (readable, not a constant)
    choices: list[Any]  # for a select: enum values, or [True, False]
    low: Any = None
    high: Any = None
    step: Any = None
    command: str = ""  # the change body as JSON, with VALUE_MARK where the value goes


VALUE_MARK = "__lgmock_value__"


def attribute_views(device: Device) -> list[AttributeView]:
    views = []
    for ref in device.profile.attributes():
        attribute = ref.attribute
        label = f"{ref.resource}.{ref.name}"
        if ref.key is not None:
            label = f"{ref.resource}[{ref.key}].{ref.name}"
        if ref.location is not None:
            label = f"{ref.location}: {label}"
        read, write = attribute.read, attribute.write
        span = read if isinstance(read, Span) else None
        choices = list(read.values) if isinstance(read, Choice) else []
        settable = attribute.readable and attribute.kind != "constant"
        views.append(
            AttributeView(
                label=label,
                kind=attribute.kind,
                mode=("r" if attribute.readable else "") + ("w" if attribute.writable else ""),
                read=_describe(read) if attribute.readable else "",
                write=_describe(write) if attribute.writable else "",
                current=value_at(device.status, ref),
                settable=settable,
                choices=choices,
                low=span.low if span else None,
                high=span.high if span else None,
                step=span.step if span else None,
                command=json.dumps(ref.command(VALUE_MARK)) if settable else "",
            )
        )
    return views


def _describe(domain: Choice | Span | None) -> str:
    if isinstance(domain, Span):
        return domain.describe()
    if isinstance(domain, Choice):
        return ", ".join(show_value(v) for v in domain.values)
    return "any"


def value_at(status: Any, ref: AttributeRef) -> Any:
    """The current value of one attribute in a status (None when the status has none)."""
    part: Any = status
    if ref.location is not None:
        items = status if isinstance(status, list) else []
        part = next((item for item in items if _location_of(item) == ref.location), {})
    resource = part.get(ref.resource) if isinstance(part, dict) else None
    if ref.key_field is not None:
        entries = resource if isinstance(resource, list) else []
        resource = next(
            (e for e in entries if isinstance(e, dict) and e.get(ref.key_field) == ref.key), None
        )
    return resource.get(ref.name) if isinstance(resource, dict) else None


def _location_of(item: Any) -> Any:
    location = item.get("location") if isinstance(item, dict) else None
    return location.get("locationName") if isinstance(location, dict) else None


@dataclass(frozen=True)
class PowerAction:
    label: str  # "Power on", "Power off (FRIDGE)"
    body: str  # the device change, JSON


def power_actions(device: Device) -> list[PowerAction]:
    """Switching power from the device's side: the change its power state attribute reports.

    For climate appliances the state is the switch itself (POWER_ON / POWER_OFF); for
    cycle appliances it is ``runState.currentState``, whose "on" is an idle state.
    """
    actions = []
    for location in _sections(device):
        rule = device.profile.power_rule(location)
        if rule is None:
            continue
        ref = next(
            (
                r
                for r in device.profile.attributes()
                if r.location == location and f"{r.resource}.{r.name}" == rule.state
            ),
            None,
        )
        if ref is None or not isinstance(ref.attribute.read, Choice):
            continue
        values = ref.attribute.read.values
        candidates = ("POWER_ON", *IDLE_STATES)
        on = next((v for v in candidates if v in values and v != rule.off_value), None)
        where = f" ({location})" if location else ""
        if on is not None:
            actions.append(PowerAction(f"Power on{where}", json.dumps(ref.command(on))))
        if rule.off_value in values:
            actions.append(
                PowerAction(f"Power off{where}", json.dumps(ref.command(rule.off_value)))
            )
    return actions


# ---------------------------------------------------------------------- requests


@dataclass(frozen=True)
class JournalFilter:
    api: str = ""
    operation: str = ""
    status: str = ""
    code: str = ""
    caller: str = ""
    device: str = ""

    def accepts(self, entry: JournalEntry) -> bool:
        return (
            (not self.api or entry.api == self.api)
            and (not self.operation or entry.operation_id == self.operation)
            and (not self.status or str(entry.status) == self.status)
            and (not self.code or (entry.response_code or "") == self.code)
            and (not self.caller or entry.caller == self.caller)
            and (not self.device or self._mentions_device(entry))
        )

    def _mentions_device(self, entry: JournalEntry) -> bool:
        # A device id travels in the path (most operations) or in the body (ThinQ
        # asynchronous calls list their devices there).
        return self.device in entry.path or self.device.encode() in entry.request_body


def journal_rows(
    journal: Journal, chosen: JournalFilter, *, after: int = 0, limit: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    """Newest first: the entries after id ``after`` that pass the filter, at most ``limit``."""
    rows = []
    for entry in reversed(journal.entries):
        if entry.id <= after or len(rows) >= limit:
            break
        if chosen.accepts(entry):
            rows.append(journal_row(entry))
    return rows


def journal_row(entry: JournalEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "api": entry.api,
        "operationId": entry.operation_id,
        "caller": entry.caller,
        "method": entry.method,
        "path": entry.path + (f"?{entry.query}" if entry.query else ""),
        "status": entry.status,
        "code": entry.response_code,
        "message": refusal_message(entry) if entry.status >= 400 else None,
        "violations": entry.violations,
        "fault": entry.fault,
        "durationMs": round(entry.duration_ms, 1),
    }


def refusal_message(entry: JournalEntry) -> str | None:
    """The message of an error envelope, in whichever envelope the API answers."""
    try:
        body = json.loads(entry.response_body)
    except (ValueError, UnicodeDecodeError):
        return entry.response_body[:200].decode("utf-8", "replace") or None
    if not isinstance(body, dict):
        return None
    error = body.get("error") or (body.get("response") or {}).get("error") or body
    message = error.get("message") if isinstance(error, dict) else None
    return str(message) if message else None


def find_entry(journal: Journal, entry_id: int) -> JournalEntry | None:
    return next((e for e in reversed(journal.entries) if e.id == entry_id), None)


def curl_command(entry: JournalEntry, base_url: str) -> str:
    url = base_url.rstrip("/") + entry.path + (f"?{entry.query}" if entry.query else "")
    parts = ["curl", "-X", entry.method, shlex.quote(url)]
    for name, value in entry.request_headers.items():
        if name not in CURL_SKIP:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if entry.request_body:
        parts += ["--data-raw", shlex.quote(entry.request_body.decode("utf-8", "replace"))]
    return " ".join(parts)


def pretty_body(raw: bytes) -> str:
    if not raw:
        return ""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


# ---------------------------------------------------------------------- callbacks


@dataclass(frozen=True)
class DeliveryFilter:
    device: str = ""
    kind: str = ""
    status: str = ""

    def accepts(self, delivery: Delivery) -> bool:
        return (
            (not self.device or delivery.device_id == self.device)
            and (not self.kind or delivery.kind == self.kind)
            and (not self.status or delivery.status == self.status)
        )


def inbox_recipient(url: str) -> str:
    """'service X' or 'partner Y' for a delivery to the sandbox's inbox; '' for a URL."""
    to = inbox.recipient(url)
    if to is None:
        return ""
    kind, owner = to
    return f"{'service' if kind == inbox.SERVICES else 'partner'} {owner}"


def delivery_rows(
    engine: DeliveryEngine, chosen: DeliveryFilter, limit: int = PAGE_SIZE
) -> list[Delivery]:
    rows = []
    for delivery in reversed(engine.journal.values()):
        if len(rows) >= limit:
            break
        if chosen.accepts(delivery):
            rows.append(delivery)
    return rows


# ---------------------------------------------------------------------- faults


@dataclass(frozen=True)
class OperationChoice:
    api: str
    operation_id: str
    method: str
    path: str


def vendor_apis() -> list[str]:
    """The journal's API names a request filter may choose (every API but the control API)."""
    return [api.value for api in Api if api is not Api.SANDBOX]


def vendor_operations() -> list[OperationChoice]:
    """Every operation a request fault rule may name: those of the vendor specs."""
    return sorted(
        (
            OperationChoice(op.api.value, op.operation_id, op.method, op.template)
            for op in operations.table()
            if op.api is not Api.SANDBOX
        ),
        key=lambda op: (op.api, op.operation_id),
    )


def documented_codes() -> dict[str, list[tuple[str, int, str]]]:
    """Per vendor API: (code, status, title) of every documented error code."""
    return {
        api.value: sorted(
            (info.code, info.status, info.title)
            for info in catalogue.codes.values()
            if info.status >= 400
        )
        for api, catalogue in CATALOGUES.items()
        if api is not Api.SANDBOX
    }
