"""Scenarios: the YAML/JSON that describes a whole sandbox, in and out.

``load`` checks a document against the shipped JSON Schema and then against the
relations a schema cannot express (owners exist, profiles load, status overrides fit
their profile), so a bad file is refused before anything starts, with its name, the
path inside it and the reason. ``export`` writes the same format back: an exported
state loads into an identical sandbox.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from mockserver.backends.accounts import ALL_ROLES, Partner, Service, User
from mockserver.backends.devices import Device, initial_status
from mockserver.backends.sandbox import Sandbox
from mockserver.backends.thinq import PUSH_SUBSCRIBED, EventSubscription
from mockserver.callbacks import DeliverySettings
from mockserver.clock import SandboxClock
from mockserver.errors import ApiError
from mockserver.paths import profiles_dir
from mockserver.profiles import ProfileError, resolve_profile

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
    """YAML or JSON text to a scenario document (JSON is YAML, so one parser reads both)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [f"{source}: not valid YAML or JSON: {exc}"]) from exc
    if document is None:
        document = {}
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


def validate(document: dict[str, Any], source: str) -> None:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        raise ScenarioError(
            source, [f"{source}: {_pointer(e.absolute_path)}: {e.message}" for e in errors]
        )


def _pointer(path: Any) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def load(document: dict[str, Any], source: str = "<scenario>") -> Sandbox:
    """Build a sandbox from a scenario document, or raise ScenarioError listing every problem."""
    validate(document, source)
    problems: list[str] = []
    clock_spec = document.get("clock") or {}
    clock = SandboxClock(
        datetime.fromisoformat(clock_spec["now"]) if clock_spec.get("now") else None,
        frozen=bool(clock_spec.get("frozen", False)),
    )
    sandbox = Sandbox(seed=int(document.get("seed", 0)), name=document.get("name", ""), clock=clock)

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
            disconnected_from=set(item.get("disconnectedFrom", [])),
        )
        _collect(problems, f"{source}: $.users[{index}]", sandbox.accounts.add_user, user)

    for index, item in enumerate(document.get("devices", [])):
        where = f"{source}: $.devices[{index}]"
        device = _build_device(sandbox, item, where, problems)
        if device is not None:
            _collect(problems, where, sandbox.devices.add, device)

    _check_references(sandbox, document, source, problems)
    _load_delivery(sandbox, document.get("delivery") or {})
    for index, rule in enumerate(document.get("faults", [])):
        try:
            sandbox.faults.add(rule)
        except ApiError as exc:
            problems.append(f"{source}: $.faults[{index}]: {exc.describe()}")
    _load_thinq(sandbox, document.get("thinqAsync") or {})
    problems.extend(sandbox.dr.load(document.get("dr") or {}, source))
    if problems:
        raise ScenarioError(source, problems)
    return sandbox


def _collect(problems: list[str], where: str, action: Any, *args: Any) -> None:
    try:
        action(*args)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")


def _build_device(
    sandbox: Sandbox, item: dict[str, Any], where: str, problems: list[str]
) -> Device | None:
    try:
        profile = resolve_profile(item["profile"], profiles_dir())
    except (ProfileError, OSError) as exc:
        problems.append(f"{where}.profile: {exc}")
        return None
    device_id = item["deviceId"]
    status = initial_status(profile, sandbox.seed, device_id)
    override = item.get("status")
    if override:
        try:
            for change in override if isinstance(override, list) else [override]:
                status, _ = profile.apply_device_change(status, change)
        except ApiError as exc:
            problems.append(f"{where}.status: {exc.describe()}")
            return None
    return Device(
        device_id=device_id,
        device_type=item["deviceType"],
        model_name=item.get("modelName", ""),
        alias=item.get("alias", ""),
        profile=profile,
        profile_ref=item["profile"],
        status=status,
        owner=item.get("owner"),
        registered_to=list(item.get("registeredTo", [])),
        online=bool(item.get("online", True)),
        group_id=item.get("groupId"),
        parent_id=item.get("parentId"),
        home_id=item.get("homeId"),
    )


def _check_references(
    sandbox: Sandbox, document: dict[str, Any], source: str, problems: list[str]
) -> None:
    """Relations between entries, reported at the document's own indexes."""
    partners = sandbox.accounts.partners
    users = sandbox.accounts.users
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
        if device.parent_id and device.parent_id not in sandbox.devices.devices:
            problems.append(f"{source}: $.parentId: no device {device.parent_id!r}")
        if device.device_id in sandbox.devices.devices:
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


def export(sandbox: Sandbox) -> dict[str, Any]:
    """The whole state in the scenario format, secrets included (it is a sandbox)."""
    accounts = sandbox.accounts
    return {
        "name": sandbox.name,
        "seed": sandbox.seed,
        "clock": sandbox.clock.to_dict(),
        "partners": [
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
        "services": [
            {"serviceId": s.service_id, "serviceKey": s.service_key, "callbackUrl": s.callback_url}
            for s in accounts.services.values()
        ],
        "users": [
            {
                "userNumber": u.user_number,
                "accessToken": u.access_token,
                "countryCode": u.country_code,
                "disconnectedFrom": sorted(u.disconnected_from),
            }
            for u in accounts.users.values()
        ],
        "devices": [export_device(d) for d in sandbox.devices.devices.values()],
        "delivery": {
            name: getattr(sandbox.delivery, field) for name, field in DELIVERY_FIELDS.items()
        },
        "thinqAsync": _export_thinq(sandbox),
        "faults": sandbox.faults.export(),
        "dr": sandbox.dr.export(),
    }


def export_device(device: Device) -> dict[str, Any]:
    return {
        "deviceId": device.device_id,
        "deviceType": device.device_type,
        "modelName": device.model_name,
        "alias": device.alias,
        "owner": device.owner,
        "registeredTo": list(device.registered_to),
        "profile": device.profile_ref,
        "status": device.status,
        "online": device.online,
        "groupId": device.group_id,
        "parentId": device.parent_id,
        "homeId": device.home_id,
    }
