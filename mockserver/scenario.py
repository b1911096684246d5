"""Scenarios: the YAML/JSON that describes a whole sandbox, in and out.

``load`` checks a document against the shipped JSON Schema and then against the
relations a schema cannot express (owners exist, profiles load, status overrides fit
their profile), so a bad file is refused before anything starts, with its name, the
path inside it and the reason. ``export`` writes the same format back: an exported
state loads into an identical sandbox.

Loading is split so that a reset costs what the small entity families cost, never the
fleet's size (docs/scale.md): ``prepare`` checks a document once (a compiled schema
validator, one parsed profile per profile reference, devices as immutable records) and
``build`` makes a fresh sandbox from the result, as often as the server resets.
"""

from __future__ import annotations

import copy
import gc
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import yaml
from jsonschema import Draft202012Validator

from lgspecs.data import profiles_dir
from mockserver.backends.accounts import ALL_ROLES, Partner, Service, User
from mockserver.backends.connect import Client as ConnectClient
from mockserver.backends.connect import EventSubscription as ConnectEventSubscription
from mockserver.backends.devices import Device, DeviceRecord, Fleet, initial_status
from mockserver.backends.sandbox import Sandbox
from mockserver.backends.thinq import PUSH_SUBSCRIBED, EventSubscription
from mockserver.clock import ClockRangeError, SandboxClock, check_instant
from mockserver.delivery_settings import DeliverySettings
from mockserver.errors import ApiError
from mockserver.profiles import DeviceProfile, ProfileError, resolve_profile

SCHEMA_FILE = Path(__file__).with_name("scenario.schema.json")


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; ``problems`` are 'source: path: reason' lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(problems))


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema() -> dict[str, Any]:
    return dict(_validator().schema)


def parse(text: str, source: str = "<request body>") -> dict[str, Any]:
    """YAML or JSON text to a scenario document (JSON is YAML, so one parser reads both).

    JSON is tried first: it is valid YAML, and Python's JSON parser reads a 100,000-device
    fleet in a fraction of a second where the YAML one takes half a minute (the
    generator writes JSON syntax for that reason, docs/scale.md).
    """
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            with no_gc_passes():
                document = json.loads(stripped)
        except ValueError:
            pass  # YAML flow style, or broken: the YAML parser says which
        else:
            return _mapping(document, source)
    try:
        document = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [f"{source}: not valid YAML or JSON: {exc}"]) from exc
    if document is None:
        # A file with nothing in it is a mistake (a wrong path, a failed redirect), not a
        # wish for an empty sandbox, which is written `devices: []` (docs/scale.md).
        raise ScenarioError(
            source,
            [
                f"{source}: $: the scenario is empty; an empty sandbox is written "
                "`devices: []`, and `lgmock scenario generate` writes a fleet"
            ],
        )
    return _mapping(document, source)


@contextmanager
def no_gc_passes() -> Iterator[None]:
    """No cyclic garbage collection while a scenario is read or prepared.

    Building a fleet makes millions of objects that all stay alive; each collector pass
    would walk every one of them again (about half of a 100,000-device load's time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# libyaml's parser when PyYAML was built with it (as its wheels are): several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mapping(document: Any, source: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ScenarioError(
            source, [f"{source}: $: a scenario is a mapping, not {type(document).__name__}"]
        )
    return document


def read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), [f"{path}: cannot read: {exc.strerror}"]) from exc
    return parse(text, str(path))


@cache
def _fast_validator() -> Any:
    """The same schema compiled by jsonschema_rs: about 50 times faster on a big fleet."""
    return jsonschema_rs.validator_for(_validator().schema, validate_formats=True)


# Lists whose entries are checked one by one: an entry the schema refuses is left out of
# the later checks (references, rules), so every other problem is still reported.
ENTRY_LISTS = ("partners", "services", "users", "devices", "faults")


@dataclass
class SchemaReport:
    problems: list[str]
    refused: dict[str, set[int]]  # entries of ENTRY_LISTS the schema refused, by list
    whole: bool  # a problem outside those entries: later checks cannot run

    def skip(self, key: str) -> set[int]:
        return self.refused.get(key, set())


def validate(document: dict[str, Any], source: str) -> None:
    """Raise ScenarioError naming every schema problem; a valid document costs little."""
    report = check_schema(document, source)
    if report.problems:
        raise ScenarioError(source, report.problems)


def check_schema(document: dict[str, Any], source: str) -> SchemaReport:
    """Every schema problem, and which entries they are in."""
    if _fast_validator().is_valid(document):
        return SchemaReport([], {}, False)
    # The messages come from the reference validator (their wording is the one users
    # see everywhere else), run only on the entries that failed: a fleet of 100,000
    # devices with one bad entry is re-checked in one entry's time.
    failing: dict[str, set[int]] = {}
    for error in _fast_validator().iter_errors(document):
        path = list(error.instance_path)
        if len(path) >= 2 and isinstance(document.get(path[0]), list):
            failing.setdefault(path[0], set()).add(int(path[1]))
    slim = dict(document)
    where: dict[str, list[int]] = {}
    for key, indexes in failing.items():
        where[key] = sorted(indexes)
        slim[key] = [document[key][index] for index in where[key]]
    errors = []
    whole = False
    for error in _validator().iter_errors(slim):
        path = list(error.absolute_path)
        if len(path) >= 2 and path[0] in where and isinstance(path[1], int):
            path[1] = where[path[0]][path[1]]
        if len(path) < 2 or path[0] not in ENTRY_LISTS:
            whole = True
        errors.append((path, error.message))
    errors.sort(key=lambda item: [(0, p, "") if isinstance(p, int) else (1, 0, p) for p in item[0]])
    problems = [f"{source}: {_pointer(path)}: {message}" for path, message in errors]
    refused = {key: set(indexes) for key, indexes in where.items() if key in ENTRY_LISTS}
    return SchemaReport(problems, refused, whole)


def _pointer(path: Any) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


@dataclass(frozen=True)
class Prepared:
    """A checked scenario: what every reset builds a sandbox from, without checking again.

    ``document`` holds everything but the devices (never changed: each build reads a
    copy); the devices are the ``fleet``'s immutable records.
    """

    document: dict[str, Any]
    source: str
    fleet: Fleet

    def build(self) -> Sandbox:
        problems: list[str] = []
        sandbox = _build(self, problems)
        if problems:  # checked by prepare(); a reset cannot meet new problems
            raise ScenarioError(self.source, problems)
        return sandbox


def prepare(document: dict[str, Any], source: str = "<scenario>") -> tuple[Prepared, Sandbox]:
    """Check a scenario once and build its first sandbox; ScenarioError lists every problem.

    Problems of every kind come in one pass: schema, profiles and statuses, references
    between entries, and the rules of each entity family.
    """
    with no_gc_passes():
        return _prepare(document, source)


def _prepare(document: dict[str, Any], source: str) -> tuple[Prepared, Sandbox]:
    report = check_schema(document, source)
    if report.whole:
        raise ScenarioError(source, report.problems)
    problems: list[str] = list(report.problems)
    if report.refused:
        # Leave the refused entries out, and report what the rest still gets wrong.
        document = {
            key: [item for i, item in enumerate(value) if i not in report.skip(key)]
            if key in report.refused
            else value
            for key, value in document.items()
        }
        problems.extend(_unshifted(_prepare_rest(document, source), report.refused))
        raise ScenarioError(source, problems)
    return _prepare_checked(document, source, problems)


def _prepare_rest(document: dict[str, Any], source: str) -> list[str]:
    try:
        _prepare_checked(document, source, [])
    except ScenarioError as exc:
        return exc.problems
    return []


def _unshifted(problems: list[str], refused: dict[str, set[int]]) -> list[str]:
    """Problems found with refused entries left out, at the entries' own indexes."""

    def original(key: str, index: int) -> int:
        for gone in sorted(refused.get(key, ())):
            if gone <= index:
                index += 1
        return index

    pattern = re.compile(r"\$\.(" + "|".join(ENTRY_LISTS) + r")\[(\d+)\]")
    return [
        pattern.sub(lambda m: f"$.{m[1]}[{original(m[1], int(m[2]))}]", line) for line in problems
    ]


def _prepare_checked(
    document: dict[str, Any], source: str, problems: list[str]
) -> tuple[Prepared, Sandbox]:
    seed = int(document.get("seed", 0))
    records = _device_records(document.get("devices") or [], seed, source, problems)
    fleet = Fleet(seed, [])
    try:
        fleet = Fleet(seed, records)
    except ValueError:
        seen: set[str] = set()
        for index, item in enumerate(document.get("devices") or []):
            if item["deviceId"] in seen:
                problems.append(
                    f"{source}: $.devices[{index}]: device {item['deviceId']!r} is defined twice"
                )
            seen.add(item["deviceId"])
        fleet = Fleet(seed, list({r.device_id: r for r in records}.values()))
    rest = copy.deepcopy({key: value for key, value in document.items() if key != "devices"})
    prepared = Prepared(rest, source, fleet)
    _check_references(document, source, problems)
    sandbox = _build(prepared, problems)
    if problems:
        raise ScenarioError(source, problems)
    return prepared, sandbox


def load(document: dict[str, Any], source: str = "<scenario>") -> Sandbox:
    """Build a sandbox from a scenario document, or raise ScenarioError listing every problem."""
    return prepare(document, source)[1]


def _build(prepared: Prepared, problems: list[str]) -> Sandbox:
    """A fresh sandbox over the prepared fleet: the entity families, built from a copy."""
    document = copy.deepcopy(prepared.document)
    source = prepared.source
    clock_spec = document.get("clock") or {}
    start = datetime.fromisoformat(clock_spec["now"]) if clock_spec.get("now") else None
    if start is not None:
        try:
            start = check_instant(start)
        except ClockRangeError as exc:
            problems.append(f"{source}: $.clock.now: {exc}")
            start = None
    clock = SandboxClock(start, frozen=bool(clock_spec.get("frozen", False)))
    sandbox = Sandbox(
        seed=prepared.fleet.seed, name=document.get("name", ""), clock=clock, fleet=prepared.fleet
    )

    for index, item in enumerate(document.get("partners", [])):
        partner = Partner(
            partner_id=item["partnerId"],
            api_key=item["apiKey"],
            api_secret=item["apiSecret"],
            roles=list(item.get("roles", ALL_ROLES)),
            callback_url=item.get("callbackUrl"),
            push_subscriptions=set(item.get("pushSubscriptions", [])),
        )
        _collect(problems, f"{source}: $.partners[{index}]", sandbox.accounts.add_partner, partner)
    for item in document.get("services", []):
        service = Service(item["serviceId"], item["serviceKey"], item.get("callbackUrl"))
        sandbox.accounts.services[service.service_id] = service
    for index, item in enumerate(document.get("users", [])):
        user = User(
            user_number=item["userNumber"],
            access_token=item["accessToken"],
            country_code=item["countryCode"],
            pat=item.get("pat"),
            disconnected_from=set(item.get("disconnectedFrom", [])),
        )
        _collect(problems, f"{source}: $.users[{index}]", sandbox.accounts.add_user, user)

    _load_delivery(sandbox, document.get("delivery") or {})
    for index, rule in enumerate(document.get("faults", [])):
        try:
            sandbox.faults.add(rule)
        except ApiError as exc:
            problems.append(f"{source}: $.faults[{index}]: {exc.describe()}")
    _load_thinq(sandbox, document.get("thinqAsync") or {})
    _load_connect(sandbox, document.get("thinqConnect") or {})
    problems.extend(sandbox.dr.load(document.get("dr") or {}, source))
    return sandbox


def _collect(problems: list[str], where: str, action: Any, *args: Any) -> None:
    try:
        action(*args)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")


class _Profiles:
    """One parsed profile per profile reference (a flyweight shared by all its devices)."""

    def __init__(self) -> None:
        self._by_ref: dict[str, DeviceProfile | Exception] = {}

    def get(self, ref: str | dict[str, Any]) -> DeviceProfile:
        key = ref if isinstance(ref, str) else json.dumps(ref, sort_keys=True)
        found = self._by_ref.get(key)
        if found is None:
            try:
                found = resolve_profile(ref, profiles_dir())
            except (ProfileError, OSError) as exc:
                found = exc
            self._by_ref[key] = found
        if isinstance(found, Exception):
            raise found
        return found


def _device_records(
    items: list[dict[str, Any]], seed: int, source: str, problems: list[str]
) -> list[DeviceRecord]:
    profiles = _Profiles()
    # Repeated texts (types, models, partner lists) are kept once, not once per device.
    shared: dict[Any, Any] = {}
    records = []
    for index, item in enumerate(items):
        record = _record(item, seed, profiles, shared, f"{source}: $.devices[{index}]", problems)
        if record is not None:
            records.append(record)
    return records


def _record(
    item: dict[str, Any],
    seed: int,
    profiles: _Profiles,
    shared: dict[Any, Any],
    where: str,
    problems: list[str],
) -> DeviceRecord | None:
    try:
        profile = profiles.get(item["profile"])
    except (ProfileError, OSError) as exc:
        problems.append(f"{where}.profile: {exc}")
        return None
    device_id = item["deviceId"]
    status = None
    override = item.get("status")
    if override:
        status = initial_status(profile, seed, device_id)
    if override and _same_json(override, status):
        # The generated status itself (an exported state of an untouched device): kept
        # as "generated", so a reloaded export costs what the scenario did.
        status = None
    elif override:
        try:
            for change in override if isinstance(override, list) else [override]:
                status, _ = profile.apply_device_change(status, change)
        except ApiError as exc:
            problems.append(f"{where}.status: {exc.describe()}")
            return None

    one = shared.setdefault
    ref = item["profile"]
    get = item.get
    device_type, model, owner = item["deviceType"], get("modelName", ""), get("owner")
    partners = tuple(get("registeredTo", ()))
    return DeviceRecord(
        device_id=device_id,
        device_type=one(device_type, device_type),
        model_name=one(model, model),
        alias=get("alias", ""),
        profile=profile,
        profile_ref=one(ref, ref) if isinstance(ref, str) else ref,
        status=status,
        owner=one(owner, owner),
        registered_to=one(partners, partners),
        online=bool(get("online", True)),
        group_id=get("groupId"),
        parent_id=get("parentId"),
        home_id=get("homeId"),
    )


def _same_json(one: Any, other: Any) -> bool:
    """Equal as JSON text (so 1 and True, or 1 and 1.0, differ)."""
    try:
        return orjson.dumps(one) == orjson.dumps(other)
    except TypeError:
        return False


def _build_device(
    sandbox: Sandbox, item: dict[str, Any], where: str, problems: list[str]
) -> Device | None:
    """One device added to a running sandbox (POST /_sandbox/devices)."""
    record = _record(item, sandbox.seed, _Profiles(), {}, where, problems)
    if record is None:
        return None
    status = record.status
    if status is None:
        status = initial_status(record.profile, sandbox.seed, record.device_id)
    return Device.from_record(record, status)


def _check_references(document: dict[str, Any], source: str, problems: list[str]) -> None:
    """Relations between entries, reported at the document's own indexes."""
    partners = {item["partnerId"] for item in document.get("partners", [])}
    users = {item["userNumber"] for item in document.get("users", [])}
    device_ids = {item["deviceId"] for item in document.get("devices", [])}
    for index, item in enumerate(document.get("devices", [])):
        where = f"{source}: $.devices[{index}]"
        owner = item.get("owner")
        if owner and owner not in users:
            problems.append(f"{where}.owner: no user {owner!r} in $.users")
        for partner_id in item.get("registeredTo", []):
            if partner_id not in partners:
                problems.append(f"{where}.registeredTo: no partner {partner_id!r} in $.partners")
        parent = item.get("parentId")
        if parent and parent not in device_ids:
            problems.append(f"{where}.parentId: no device {parent!r} in $.devices")
    for index, item in enumerate(document.get("partners", [])):
        for device_id in item.get("pushSubscriptions", []):
            if device_id not in device_ids:
                problems.append(
                    f"{source}: $.partners[{index}].pushSubscriptions: no device {device_id!r}"
                )


def add_device(sandbox: Sandbox, item: dict[str, Any], source: str = "<request body>") -> Device:
    """One more device in a running sandbox, checked as a scenario's devices entry is."""
    device_schema = _validator().schema["properties"]["devices"]["items"]
    checker = Draft202012Validator(
        {**device_schema, "$defs": _validator().schema["$defs"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    problems = [
        f"{source}: {_pointer(e.absolute_path)}: {e.message}" for e in checker.iter_errors(item)
    ]
    if problems:
        raise ScenarioError(source, problems)
    device = _build_device(sandbox, item, f"{source}: $", problems)
    if device is not None:
        if device.owner and device.owner not in sandbox.accounts.users:
            problems.append(f"{source}: $.owner: no user {device.owner!r}")
        for partner_id in device.registered_to:
            if partner_id not in sandbox.accounts.partners:
                problems.append(f"{source}: $.registeredTo: no partner {partner_id!r}")
        if device.parent_id and not sandbox.devices.has(device.parent_id):
            problems.append(f"{source}: $.parentId: no device {device.parent_id!r}")
        if sandbox.devices.has(device.device_id):
            problems.append(f"{source}: $.deviceId: device {device.device_id!r} exists already")
    if problems or device is None:
        raise ScenarioError(source, problems)
    sandbox.devices.add(device)
    return device


# scenario name -> DeliverySettings field
DELIVERY_FIELDS = {
    "attempts": "attempts",
    "backoffInitial": "backoff_initial",
    "backoffMax": "backoff_max",
    "connectTimeout": "connect_timeout",
    "readTimeout": "read_timeout",
}


def _load_delivery(sandbox: Sandbox, spec: dict[str, Any]) -> None:
    values = {field: spec[name] for name, field in DELIVERY_FIELDS.items() if name in spec}
    sandbox.delivery = DeliverySettings(**values)


def _load_thinq(sandbox: Sandbox, spec: dict[str, Any]) -> None:
    thinq = sandbox.thinq
    thinq.options.push_subscribed_type = spec.get("pushSubscribedType", PUSH_SUBSCRIBED)
    for item in spec.get("eventSubscriptions", []):
        expires = datetime.fromisoformat(item["expiresAt"]).timestamp()
        key = (item["serviceId"], item["deviceId"])
        thinq.event_subscriptions[key] = EventSubscription(
            item["serviceId"], item["userNumber"], item["deviceId"], expires
        )
    for item in spec.get("pushSubscriptions", []):
        thinq.push_subscriptions[(item["serviceId"], item["deviceId"])] = item["userNumber"]


def _export_thinq(sandbox: Sandbox) -> dict[str, Any]:
    thinq = sandbox.thinq
    return {
        "pushSubscribedType": thinq.options.push_subscribed_type,
        "eventSubscriptions": [
            {
                "serviceId": s.service_id,
                "userNumber": s.user_number,
                "deviceId": s.device_id,
                "expiresAt": datetime.fromtimestamp(s.expires_at, UTC).isoformat(),
            }
            for s in thinq.event_subscriptions.values()
        ],
        "pushSubscriptions": [
            {"serviceId": service_id, "deviceId": device_id, "userNumber": user_number}
            for (service_id, device_id), user_number in thinq.push_subscriptions.items()
        ],
    }


def _load_connect(sandbox: Sandbox, spec: dict[str, Any]) -> None:
    connect = sandbox.connect
    for item in spec.get("clients", []):
        connect.clients[item["clientId"]] = ConnectClient(
            item["clientId"],
            item["userNumber"],
            item["type"],
            item["serviceCode"],
            item["deviceType"],
        )
    for item in spec.get("pushSubscriptions", []):
        connect.push_subscriptions[(item["clientId"], item["deviceId"])] = item["userNumber"]
    for item in spec.get("eventSubscriptions", []):
        expires = datetime.fromisoformat(item["expiresAt"]).timestamp()
        subscription = ConnectEventSubscription(
            item["clientId"], item["userNumber"], item["deviceId"], expires
        )
        connect.event_subscriptions[(item["clientId"], item["deviceId"])] = subscription
    for item in spec.get("devicePushClients", []):
        connect.device_push_clients[item["clientId"]] = item["userNumber"]


def _export_connect(sandbox: Sandbox) -> dict[str, Any]:
    connect = sandbox.connect
    return {
        "clients": [
            {
                "clientId": c.client_id,
                "userNumber": c.user_number,
                "type": c.kind,
                "serviceCode": c.service_code,
                "deviceType": c.device_type,
            }
            for c in connect.clients.values()
        ],
        "pushSubscriptions": [
            {"clientId": client_id, "deviceId": device_id, "userNumber": user_number}
            for (client_id, device_id), user_number in connect.push_subscriptions.items()
        ],
        "eventSubscriptions": [
            {
                "clientId": s.client_id,
                "userNumber": s.user_number,
                "deviceId": s.device_id,
                "expiresAt": datetime.fromtimestamp(s.expires_at, UTC).isoformat(),
            }
            for s in connect.event_subscriptions.values()
        ],
        "devicePushClients": [
            {"clientId": client_id, "userNumber": user_number}
            for client_id, user_number in connect.device_push_clients.items()
        ],
    }


def export(sandbox: Sandbox, *, all_statuses: bool = True) -> dict[str, Any]:
    """The whole state in the scenario format, secrets included (it is a sandbox).

    Without ``all_statuses`` a device the sandbox never changed is written without its
    status: it is the generated one, made again from the seed on load (what a state
    file needs; far smaller and faster to load at fleet size).
    """
    return {**export_entities(sandbox), "devices": list(_devices(sandbox, all_statuses))}


def export_entities(sandbox: Sandbox, families: Any = None) -> dict[str, Any]:
    """Everything but the devices, by scenario key; only ``families`` when given."""
    accounts = sandbox.accounts
    makers = {
        "name": lambda: sandbox.name,
        "seed": lambda: sandbox.seed,
        "clock": lambda: sandbox.clock.to_dict(),
        "partners": lambda: [
            {
                "partnerId": p.partner_id,
                "apiKey": p.api_key,
                "apiSecret": p.api_secret,
                "roles": list(p.roles),
                "callbackUrl": p.callback_url,
                "pushSubscriptions": sorted(p.push_subscriptions),
            }
            for p in accounts.partners.values()
        ],
        "services": lambda: [
            {"serviceId": s.service_id, "serviceKey": s.service_key, "callbackUrl": s.callback_url}
            for s in accounts.services.values()
        ],
        "users": lambda: [
            {
                "userNumber": u.user_number,
                "accessToken": u.access_token,
                "countryCode": u.country_code,
                **({"pat": u.pat} if u.pat else {}),
                "disconnectedFrom": sorted(u.disconnected_from),
            }
            for u in accounts.users.values()
        ],
        "delivery": lambda: {
            name: getattr(sandbox.delivery, field) for name, field in DELIVERY_FIELDS.items()
        },
        "thinqAsync": lambda: _export_thinq(sandbox),
        "thinqConnect": lambda: _export_connect(sandbox),
        "faults": lambda: sandbox.faults.export(),
        "dr": lambda: sandbox.dr.export(),
    }
    wanted = makers if families is None else [name for name in makers if name in families]
    return {name: makers[name]() for name in wanted}


def _devices(sandbox: Sandbox, all_statuses: bool) -> Iterator[dict[str, Any]]:
    store = sandbox.devices
    # The ids first: a device added while a stream is being written must not break it.
    for device_id in list(store.ids()):
        info = store.info(device_id)
        if info is None:
            continue
        if all_statuses:
            yield export_device(info, store.status_of(device_id))
        elif store.has_generated_status(device_id) or _back_to_generated(store, device_id):
            yield export_device(info, None)
        else:
            yield export_device(info, store.status_of(device_id))


def _back_to_generated(store: Any, device_id: str) -> bool:
    """A changed device whose status is the generated one again (only ``online`` moved)."""
    record = store.fleet.records.get(device_id)
    if record is None or record.status is not None:
        return False
    generated = initial_status(record.profile, store.fleet.seed, device_id)
    return _same_json(store.status_of(device_id), generated)


def export_stream(sandbox: Sandbox, *, all_statuses: bool = True) -> Iterator[bytes]:
    """``export`` as JSON text in pieces (500 devices each), never the whole text.

    Each device is read when its piece is made: a server that answers other requests
    between pieces writes each device as it was at that moment (docs/scale.md).
    """
    head = export_entities(sandbox)
    text = json.dumps(head, ensure_ascii=False)
    yield text[:-1].encode() + b', "devices": ['
    batch: list[str] = []
    first = True
    for entry in _devices(sandbox, all_statuses):
        batch.append(json.dumps(entry, ensure_ascii=False))
        if len(batch) == 500:
            yield ((", " if not first else "") + ", ".join(batch)).encode()
            first, batch = False, []
    if batch:
        yield ((", " if not first else "") + ", ".join(batch)).encode()
    yield b"]}"


def export_device(device: Any, status: Any = ...) -> dict[str, Any]:
    """One devices entry; ``status`` None leaves it out (the generated one)."""
    entry = {
        "deviceId": device.device_id,
        "deviceType": device.device_type,
        "modelName": device.model_name,
        "alias": device.alias,
        "owner": device.owner,
        "registeredTo": list(device.registered_to),
        "profile": device.profile_ref,
        "status": device.status if status is ... else status,
        "online": device.online,
        "groupId": device.group_id,
        "parentId": device.parent_id,
        "homeId": device.home_id,
    }
    if entry["status"] is None:
        del entry["status"]
    return entry
