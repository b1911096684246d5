"""``lgmock scenario generate``: a fleet scenario of any size, the same for the same seed.

Partners, their ThinQ services, users (owners, with a home each), devices of the chosen
types registered to their owner's partner, and DR groups and enrolments, with names from
Faker in each country's locale. Every device uses a fixture profile; its id has the
ThinQ form (64 hexadecimal digits).

The output is JSON text, one device per line: JSON is valid YAML, so the file is a
`fleet.yaml` for any YAML tool, and lgmock reads it with Python's JSON parser, which takes
a fraction of a second for 100,000 devices where a YAML parser takes half a minute
(docs/scale.md). ``--format yaml`` writes block YAML for small, hand-edited fleets.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from faker import Faker


@dataclass(frozen=True)
class Kind:
    """One device type the generator can make: its fixture profile and LG model names."""

    profile: str
    models: tuple[str, ...]
    label_en: str
    label_ko: str


KINDS: dict[str, Kind] = {
    "DEVICE_AIR_CONDITIONER": Kind(
        "air_conditioner/basic.json",
        ("RAC_056905_WW", "PAC_910604_US", "LW1817IVSM", "SQ07BCAWAS"),
        "air conditioner",
        "에어컨",
    ),
    "DEVICE_WASHER": Kind(
        "washer/basic.json",
        ("WM4000HWA", "WM3600HWA", "F24V9GBP2TE", "FX24KS"),
        "washer",
        "세탁기",
    ),
    "DEVICE_DRYER": Kind(
        "dryer/basic.json", ("DLEX4000W", "DLE3600W", "RD20GNG"), "dryer", "건조기"
    ),
    "DEVICE_REFRIGERATOR": Kind(
        "refrigerator/basic.json",
        ("M871GBB551", "LRMVS3006S", "LRFXC2416S", "S834MC78"),
        "refrigerator",
        "냉장고",
    ),
    "DEVICE_DISH_WASHER": Kind(
        "dish_washer/basic.json", ("LDFN4542S", "LDP6810SS", "DUE6BGL"), "dishwasher", "식기세척기"
    ),
    "DEVICE_AIR_PURIFIER": Kind(
        "air_purifier/basic.json",
        ("AS330DWR0", "AS281DAW", "AS301DNPA"),
        "air purifier",
        "공기청정기",
    ),
    "DEVICE_ROBOT_CLEANER": Kind(
        "robot_cleaner/basic.json", ("R975GM", "R5-PROH", "B95AWBH"), "robot cleaner", "로봇청소기"
    ),
    "DEVICE_SYSTEM_BOILER": Kind(
        "system_boiler/basic.json", ("AHNW1632H3", "AHNW09608A0"), "boiler", "보일러"
    ),
    "DEVICE_STYLER": Kind("styler/basic.json", ("S5MB", "S3WER"), "styler", "스타일러"),
    "DEVICE_DEHUMIDIFIER": Kind(
        "dehumidifier/basic.json", ("UD501KOG5", "DQ203PSBA"), "dehumidifier", "제습기"
    ),
    "DEVICE_WATER_HEATER": Kind(
        "water_heater/basic.json", ("APHWC501M", "APHWC801M"), "water heater", "온수기"
    ),
    "DEVICE_OVEN": Kind("oven/basic.json", ("LREL6325F", "LSEL6337F"), "oven", "오븐"),
}
# The eight types of a mixed fleet when none are chosen.
DEFAULT_TYPES = (
    "DEVICE_AIR_CONDITIONER",
    "DEVICE_WASHER",
    "DEVICE_DRYER",
    "DEVICE_REFRIGERATOR",
    "DEVICE_DISH_WASHER",
    "DEVICE_AIR_PURIFIER",
    "DEVICE_ROBOT_CLEANER",
    "DEVICE_SYSTEM_BOILER",
)
# Faker's locale for a country code; a country not listed gets English names.
LOCALES = {
    "KR": "ko_KR",
    "US": "en_US",
    "GB": "en_GB",
    "CA": "en_CA",
    "AU": "en_AU",
    "DE": "de_DE",
    "FR": "fr_FR",
    "ES": "es_ES",
    "IT": "it_IT",
    "NL": "nl_NL",
    "JP": "ja_JP",
    "BR": "pt_BR",
    "IN": "en_IN",
}
ROOMS_EN = ("living room", "bedroom", "kitchen", "study", "utility room", "office")
ROOMS_KO = ("거실", "안방", "주방", "서재", "다용도실", "사무실")
USERS_PER_GROUP = 50  # users of one partner in one DR group


class GeneratorError(ValueError):
    """Options that cannot make a fleet; the message says which and why."""


def resolve_types(names: list[str] | None) -> tuple[str, ...]:
    """``--types``: deviceType names or fixture folders (``washer``), in the given order."""
    if not names:
        return DEFAULT_TYPES
    folders = {kind.profile.split("/")[0]: name for name, kind in KINDS.items()}
    chosen = []
    for raw in names:
        for name in filter(None, (part.strip() for part in raw.split(","))):
            found = name.upper() if name.upper() in KINDS else folders.get(name.lower())
            if found is None and f"DEVICE_{name.upper()}" in KINDS:
                found = f"DEVICE_{name.upper()}"
            if found is None:
                raise GeneratorError(
                    f"--types: unknown device type {name!r}; known: {', '.join(KINDS)}"
                )
            chosen.append(found)
    return tuple(dict.fromkeys(chosen))


def generate(
    devices: int,
    *,
    types: tuple[str, ...] = DEFAULT_TYPES,
    partners: int = 1,
    users: int | None = None,
    countries: tuple[str, ...] = ("KR",),
    seed: int = 0,
) -> dict[str, Any]:
    """The scenario document (see ``write`` for its text)."""
    if devices < 0:
        raise GeneratorError("--devices must be 0 or more")
    if partners < 1:
        raise GeneratorError("--partners must be at least 1")
    users = max(1, devices // 100) if users is None else users
    if users < 1:
        raise GeneratorError("--users must be at least 1")
    for country in countries:
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise GeneratorError(f"--country: {country!r} is not a two-letter country code")
    fakers = {}
    for index, country in enumerate(countries):
        fake = Faker(LOCALES.get(country, "en_US"))
        fake.seed_instance(seed * 1000 + index)
        fakers[country] = fake
    english = Faker("en_US")
    english.seed_instance(seed)

    partner_entries = [_partner(english, seed, index) for index in range(partners)]
    user_entries = []
    homes = []
    for index in range(users):
        country = countries[index % len(countries)]
        user_entries.append(
            {
                "userNumber": f"{country}{2024_000_000_000 + index + 1}",
                "accessToken": _token(seed, "user", index),
                "countryCode": country,
                # ThinQ Connect's personal access token: every generated user can use it.
                "pat": f"thinqpat_{_hex(seed, 'pat', index)[:40]}",
            }
        )
        homes.append(_hex(seed, "home", index)[:32])
    owners = [fakers[u["countryCode"]].first_name() for u in user_entries]

    device_entries = []
    for index in range(devices):
        device_type = types[index % len(types)]
        kind = KINDS[device_type]
        owner = index % users
        user = user_entries[owner]
        fake = fakers[user["countryCode"]]
        device_entries.append(
            {
                "deviceId": _hex(seed, "device", index),
                "deviceType": device_type,
                "modelName": kind.models[fake.random_int(0, len(kind.models) - 1)],
                "alias": _alias(fake, user["countryCode"], owners[owner], kind),
                "owner": user["userNumber"],
                "registeredTo": [partner_entries[owner % partners]["partnerId"]],
                "profile": kind.profile,
                "homeId": homes[owner],
            }
        )
    return {
        "name": f"fleet of {devices} devices (lgmock scenario generate, seed {seed})",
        "seed": seed,
        "partners": partner_entries,
        "services": [
            {
                "serviceId": f"{p['partnerId']}-thinq",
                "serviceKey": _token(seed, "service", index),
                # No callbackUrl: the sandbox's own inbox, never a port shared by a host.
            }
            for index, p in enumerate(partner_entries)
        ],
        "users": user_entries,
        "devices": device_entries,
        "dr": _dr(english, seed, partner_entries, user_entries),
    }


def _partner(fake: Faker, seed: int, index: int) -> dict[str, Any]:
    slug = re.sub(r"[^a-z0-9]+", "-", fake.company().lower()).strip("-")
    return {
        "partnerId": f"{slug}-{index + 1}",
        "apiKey": _token(seed, "api-key", index),
        "apiSecret": _token(seed, "api-secret", index),
        "roles": ["postToken", "getDevices", "pushEvents", "manageUsers", "getDrUsers"],
    }


def _dr(
    fake: Faker, seed: int, partners: list[dict[str, Any]], users: list[dict[str, Any]]
) -> dict[str, Any]:
    """One DR group per fifty users of a partner, every user enrolled with its partner."""
    groups: dict[str, dict[str, Any]] = {}
    enrolled = []
    for index, user in enumerate(users):
        partner_id = partners[index % len(partners)]["partnerId"]
        number = index // len(partners) // USERS_PER_GROUP
        group_id = f"{partner_id}-group-{number + 1}"
        if group_id not in groups:
            groups[group_id] = {
                "groupId": group_id,
                "partnerId": partner_id,
                "groupName": f"{fake.street_name()} {fake.building_number()}",
                "areaCode": fake.numerify("##########"),  # the seed: 10 digits
            }
        enrolled.append(
            {
                "userNo": user["userNumber"],
                "accessToken": user["accessToken"],
                "refreshToken": _token(seed, "refresh", index),
                "groupId": group_id,
                "partner": {"partnerId": partner_id, "authCodeExt": _token(seed, "auth", index)},
            }
        )
    return {"groups": list(groups.values()), "users": enrolled}


def _alias(fake: Faker, country: str, owner: str, kind: Kind) -> str:
    if country == "KR":
        return f"{owner}님 {fake.random_element(ROOMS_KO)} {kind.label_ko}"
    return f"{owner}'s {fake.random_element(ROOMS_EN)} {kind.label_en}"


def _hex(seed: int, what: str, index: int) -> str:
    return hashlib.sha256(f"lgmock-fleet:{seed}:{what}:{index}".encode()).hexdigest()


def _token(seed: int, what: str, index: int) -> str:
    return f"{what}-{_hex(seed, what, index)[:24]}"


def write(document: dict[str, Any], form: str = "json") -> Iterator[str]:
    """The document's text in pieces: JSON with one device per line, or block YAML."""
    if form == "yaml":
        yield yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
        return
    items = list(document.items())
    yield "{\n"
    for position, (key, value) in enumerate(items):
        comma = "," if position < len(items) - 1 else ""
        if isinstance(value, list) and value:
            yield f"  {json.dumps(key)}: [\n"
            for index, entry in enumerate(value):
                tail = "," if index < len(value) - 1 else ""
                yield f"    {json.dumps(entry, ensure_ascii=False)}{tail}\n"
            yield f"  ]{comma}\n"
        else:
            yield f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}\n"
    yield "}\n"
