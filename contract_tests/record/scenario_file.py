"""The learned state in the scenario format, with what could not be learned on top.

Credentials are sandbox ones made here (``rec-...``): the real ones were only ever
forwarded. Names no answer gave (a partner's id, a user's number) are made up and
listed. The file is then checked by ``lgmock scenario check`` itself (the simulator is
the judge of what it can model, and the kit does not import it):

- a device whose profile the simulator refuses is kept in *replay* form: its profile
  becomes the read-only shape of its recorded status, so the sandbox answers that
  status as recorded (and refuses every command, as nothing in it is writable);
- a device whose recorded status its own recorded profile refuses is left out: the
  two answers contradict each other, and neither is believed.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from contract_tests.record.learn import Learner

# "file: $.devices[3].profile: reason" as `lgmock scenario check` prints a problem.
DEVICE_PROBLEM = re.compile(r"\$\.devices\[(\d+)\](\.profile|\.status)?[^:]*: (.*)")
GROUP_PROBLEM = re.compile(r"\$\.dr\.groups\[(\d+)\][^:]*: (.*)")
MAX_ROUNDS = 3


@dataclass
class Written:
    scenario: dict[str, Any]
    notes: list[str]  # what could not be learned, and why
    replayed: list[str]  # devices kept with their statuses as recorded
    remaining: list[str] = field(default_factory=list)  # problems the check still found

    @property
    def devices(self) -> int:
        return len(self.scenario.get("devices") or [])


def build(learner: Learner, upstream: str) -> tuple[dict[str, Any], list[str]]:
    """The scenario document and the notes of what it leaves out or made up."""
    notes = list(dict.fromkeys(learner.not_learned))
    partner_ids: dict[str, str] = {}
    partners = []
    for key, seen in learner.partners.items():
        partner_id = seen.partner_id
        if partner_id is None:
            partner_id = f"recorded-partner-{seen.number}"
            notes.append(
                f"partner {seen.number}: no answer named its partnerId (GET "
                f"/v1/dr/partners/{{partnerId}}/groups does); called {partner_id!r} here"
            )
        partner_ids[key] = partner_id
        partners.append(
            {
                "partnerId": partner_id,
                "apiKey": _sandbox_secret("api-key"),
                "apiSecret": _sandbox_secret("api-secret"),
            }
        )
    user_numbers: dict[str, str] = {}
    users = []
    for key, seen in learner.users.items():
        number = seen.user_number
        if number is None:
            number = f"RECORDED-USER-{seen.number}"
            notes.append(
                f"user {seen.number}: no answer named the user number (GET /v1/users "
                f"does); called {number!r} here"
            )
        country = seen.country
        if country is None:
            country = "US"
            notes.append(f"user {number}: no call named the country; US assumed")
        user_numbers[key] = number
        user = {
            "userNumber": number,
            "accessToken": _sandbox_secret("user-token"),
            "countryCode": country,
        }
        if seen.pat:
            user["pat"] = _sandbox_secret("pat")
        users.append(user)
    devices = []
    for device in learner.devices.values():
        entry = _device(device, partner_ids, user_numbers, notes)
        if entry is not None:
            devices.append(entry)
    kept = {entry["deviceId"] for entry in devices}
    for entry in devices:
        if entry.get("parentId") and entry["parentId"] not in kept:
            notes.append(
                f"device {entry['deviceId']}: its parent {entry['parentId']} was not learned, "
                "so the sandbox lists it without a parentId"
            )
            del entry["parentId"]
    for key, seen in learner.partners.items():
        subscribed = sorted(seen.push_subscriptions & kept)
        if subscribed:
            next(p for p in partners if p["partnerId"] == partner_ids[key])["pushSubscriptions"] = (
                subscribed
            )
    services = [
        {
            "serviceId": s.service_id,
            "serviceKey": _sandbox_secret("service-key"),
            **({"callbackUrl": s.callback_url} if s.callback_url else {}),
        }
        for s in learner.services.values()
    ]
    document: dict[str, Any] = {
        "name": f"recorded from {upstream}",
        "partners": partners,
        "services": services,
        "users": users,
        "devices": devices,
    }
    groups = _dr_groups(learner, partner_ids, notes)
    if groups:
        document["dr"] = {"groups": groups}
    thinq = _thinq(learner, {s["serviceId"] for s in services}, kept)
    if thinq:
        document["thinqAsync"] = thinq
    return document, notes


def write(learner: Learner, upstream: str, out: Path) -> Written:
    """Build, check with lgmock itself, mend what the check refuses, and write ``out``."""
    document, notes = build(learner, upstream)
    replayed: list[str] = []
    remaining: list[str] = []
    for _ in range(MAX_ROUNDS):
        remaining = check(document)
        if not remaining:
            break
        if not _mend(document, remaining, replayed, notes):
            break
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_text(document, notes, replayed, remaining, upstream), encoding="utf-8")
    return Written(document, notes, replayed, remaining)


def check(document: dict[str, Any]) -> list[str]:
    """The problems `lgmock scenario check` finds in ``document`` (none: it loads)."""
    from contract_tests.processes import lgmock_command

    with tempfile.TemporaryDirectory(prefix="lgmock-record-") as folder:
        path = Path(folder) / "scenario.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        done = subprocess.run(
            [*lgmock_command(), "scenario", "check", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode == 0:
        return []
    return [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]


def replay_profile(status: Any) -> dict[str, Any] | None:
    """A profile the simulator models that holds exactly ``status``, every attribute read-only.

    Strings, numbers and booleans become read-only attributes of their type; list
    resources keep their entries' key (``locationName``, ``unit``) as a constant; a
    status of location sections (washers, ovens) keeps its sections. None when some
    value has no such form (a nested object, a list of plain values, null).
    """
    if isinstance(status, list):
        sections = []
        for section in status:
            if not isinstance(section, dict) or not isinstance(section.get("location"), dict):
                return None
            body = _resources({k: v for k, v in section.items() if k != "location"})
            if body is None:
                return None
            sections.append({"location": section["location"], **body})
        return {"property": sections} if sections else None
    if not isinstance(status, dict):
        return None
    resources = _resources(status)
    return {"property": resources} if resources else None


def _resources(status: dict[str, Any]) -> dict[str, Any] | None:
    resources: dict[str, Any] = {}
    for name, value in status.items():
        if isinstance(value, dict):
            entry = _attributes(value, keys=())
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            key = next(
                (
                    k
                    for k in ("locationName", "unit")
                    if all(isinstance(v.get(k), str) for v in value)
                ),
                None,
            )
            entries = [_attributes(v, keys=(key,)) for v in value] if key else [None]
            entry = None if any(e is None for e in entries) else entries
        else:
            entry = None
        if entry is None:
            return None
        resources[name] = entry
    return resources


def _attributes(values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any] | None:
    attributes: dict[str, Any] = {}
    for name, value in values.items():
        if name in keys:
            attributes[name] = value  # the entry's key: a constant of the profile
        elif isinstance(value, bool):
            attributes[name] = {"type": "boolean", "mode": ["r"]}
        elif isinstance(value, int | float):
            attributes[name] = {"type": "number", "mode": ["r"]}
        elif isinstance(value, str):
            attributes[name] = {"type": "string", "mode": ["r"]}
        else:
            return None
    return attributes or None


# ---------------------------------------------------------------------- pieces


def _device(
    device: Any, partner_ids: dict[str, str], user_numbers: dict[str, str], notes: list[str]
) -> dict[str, Any] | None:
    name = device.device_id
    if device.contradictions:
        notes.append(
            f"device {name}: left out, answers contradict each other: "
            + "; ".join(dict.fromkeys(device.contradictions))
        )
        return None
    if device.device_type is None:
        notes.append(f"device {name}: left out, no answer named its deviceType (GET /v1/devices)")
        return None
    if device.profile is None and device.distrusted:
        notes.append(
            f"device {name}: left out, no answer about its profile passed the checks: "
            + "; ".join(dict.fromkeys(device.distrusted))
        )
        return None
    if device.profile is None:
        notes.append(
            f"device {name}: left out, its profile was never asked for "
            f"(GET /v1/devices/profile/{name}, or POST /v2/devices/profile-async)"
        )
        return None
    entry: dict[str, Any] = {"deviceId": name, "deviceType": device.device_type}
    if device.model_name:
        entry["modelName"] = device.model_name
    if device.alias is not None:
        entry["alias"] = device.alias
    if device.group_id:
        entry["groupId"] = device.group_id
    if device.parent_id:
        entry["parentId"] = device.parent_id
    if device.owner is not None:
        entry["owner"] = user_numbers[device.owner]
    if device.registered_to:
        entry["registeredTo"] = [partner_ids[key] for key in device.registered_to]
    entry["profile"] = device.profile
    if device.status is not None:
        entry["status"] = device.status
    else:
        notes.append(f"device {name}: no status seen; the sandbox generates one from its profile")
    return entry


def _mend(
    document: dict[str, Any], problems: list[str], replayed: list[str], notes: list[str]
) -> bool:
    """Replay or leave out the devices the check refused; False when nothing could change."""
    devices = document["devices"]
    verdicts: dict[int, tuple[str, str]] = {}
    for line in problems:
        match = DEVICE_PROBLEM.search(line)
        if match and int(match[1]) < len(devices):
            verdicts.setdefault(int(match[1]), (match[2] or "", match[3]))
    groups = (document.get("dr") or {}).get("groups") or []
    refused_groups: dict[int, str] = {}
    for line in problems:
        match = GROUP_PROBLEM.search(line)
        if match and int(match[1]) < len(groups):
            refused_groups.setdefault(int(match[1]), match[2])
    for index, reason in refused_groups.items():
        notes.append(f"DR group {groups[index].get('groupId')}: left out: {reason}")
    if refused_groups:
        document["dr"]["groups"] = [g for i, g in enumerate(groups) if i not in refused_groups]
    if not verdicts:
        return bool(refused_groups)
    drop: set[int] = set()
    for index, (where, reason) in verdicts.items():
        device = devices[index]
        name = device["deviceId"]
        if name in replayed:
            notes.append(f"device {name}: left out, even its replay form does not load: {reason}")
            drop.add(index)
        elif where == ".profile":
            profile = replay_profile(device.get("status"))
            if profile is None:
                notes.append(
                    f"device {name}: left out, the simulator cannot model its profile "
                    f"({reason}) and its status has no read-only form"
                )
                drop.add(index)
            else:
                device["profile"] = profile
                replayed.append(name)
        elif where == ".status":
            notes.append(
                f"device {name}: left out, its recorded status contradicts its recorded "
                f"profile: {reason}"
            )
            drop.add(index)
        else:
            notes.append(f"device {name}: left out: {reason}")
            drop.add(index)
    gone = {devices[i]["deviceId"] for i in drop}
    document["devices"] = [d for i, d in enumerate(devices) if i not in drop]
    for partner in document["partners"]:
        if "pushSubscriptions" in partner:
            partner["pushSubscriptions"] = [
                d for d in partner["pushSubscriptions"] if d not in gone
            ]
    thinq = document.get("thinqAsync") or {}
    for key in ("eventSubscriptions", "pushSubscriptions"):
        if key in thinq:
            thinq[key] = [s for s in thinq[key] if s["deviceId"] not in gone]
    return True


def _dr_groups(
    learner: Learner, partner_ids: dict[str, str], notes: list[str]
) -> list[dict[str, Any]]:
    fields = ("groupId", "groupName", "areaCode", "buildingCode", "comment")
    groups = []
    for group in learner.dr_groups.values():
        partner = group.get("_partner")
        partner_id = partner_ids.get(partner) if partner else None
        if partner_id is None:
            notes.append(
                f"DR group {group['groupId']}: left out, no partner of this recording made it"
            )
            continue
        # An empty field is one the answer does not fill: the scenario leaves it out.
        groups.append(
            {"partnerId": partner_id, **{k: group[k] for k in fields if _text_value(group.get(k))}}
        )
    return groups


def _text_value(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _thinq(learner: Learner, services: set[str], devices: set[str]) -> dict[str, Any]:
    events = [
        s
        for (service, device), s in learner.event_subscriptions.items()
        if service in services and device in devices
    ]
    pushes = [
        {"serviceId": service, "deviceId": device, "userNumber": user}
        for (service, device), user in learner.push_subscriptions.items()
        if service in services and device in devices
    ]
    found: dict[str, Any] = {}
    if events:
        found["eventSubscriptions"] = events
    if pushes:
        found["pushSubscriptions"] = pushes
    return found


def _sandbox_secret(kind: str) -> str:
    return f"rec-{kind}-{secrets.token_hex(8)}"


def _text(
    document: dict[str, Any],
    notes: list[str],
    replayed: list[str],
    remaining: list[str],
    upstream: str,
) -> str:
    when = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        f"Recorded by `lgmock record` from {upstream} at {when}.",
        "Every credential below is a sandbox one made by the recorder, not yours: call",
        "the sandbox with these (`lgmock serve --scenario THIS_FILE` prints them).",
        "",
    ]
    if replayed:
        lines.append("Replayed as recorded (the simulator cannot model their profiles; each")
        lines.append("answers its recorded status, read-only):")
        lines += [f"  - device {name}" for name in replayed]
        lines.append("")
    lines.append("Not learned:" if notes else "Not learned: nothing.")
    lines += ["  - " + " ".join(note.split()) for note in notes]
    if remaining:
        lines += ["", "`lgmock scenario check` still refuses this file:"]
        lines += ["  - " + " ".join(line.split()) for line in remaining]
    head = "".join(f"# {line}".rstrip() + "\n" for line in lines)
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    return head + body
