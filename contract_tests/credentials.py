"""Who the contract kit calls as: a partner, a user (and their ThinQ Connect PAT), a ThinQ service.

Every value comes from a command-line option, else an ``LGMOCK_*`` environment
variable, else the built-in default scenario, so a run against a fresh ``lgmock serve``
needs no configuration and a run against staging needs only the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

import yaml

from lgspecs.data import default_scenario

# field name -> environment variable; the order is the order `--help` lists them in.
ENVIRONMENT = {
    "api_key": "LGMOCK_API_KEY",
    "api_secret": "LGMOCK_API_SECRET",
    "partner_id": "LGMOCK_PARTNER_ID",
    "user_token": "LGMOCK_USER_TOKEN",
    "user_number": "LGMOCK_USER_NUMBER",
    "country": "LGMOCK_COUNTRY",
    "service_id": "LGMOCK_SERVICE_ID",
    "service_key": "LGMOCK_SERVICE_KEY",
    "pat": "LGMOCK_PAT",
}


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str
    partner_id: str
    user_token: str
    user_number: str
    country: str
    service_id: str
    service_key: str
    pat: str = ""  # the user's ThinQ Connect personal access token

    @classmethod
    def resolve(
        cls,
        options: Mapping[str, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Options win over the environment, which wins over the default scenario."""
        options = options or {}
        environ = os.environ if environ is None else environ
        defaults = default_credentials()
        values: dict[str, str] = {}
        for item in fields(cls):
            given = options.get(item.name)
            values[item.name] = (
                given
                if given
                else environ.get(ENVIRONMENT[item.name]) or getattr(defaults, item.name)
            )
        return cls(**values)

    @classmethod
    def from_scenario(cls, document: Mapping[str, Any]) -> Credentials:
        """The first partner, user and service of a scenario (or a sandbox state export)."""
        partner = _first(document, "partners")
        user = _first(document, "users")
        service = _first(document, "services")
        return cls(
            api_key=partner.get("apiKey", ""),
            api_secret=partner.get("apiSecret", ""),
            partner_id=partner.get("partnerId", ""),
            user_token=user.get("accessToken", ""),
            user_number=user.get("userNumber", ""),
            country=user.get("countryCode", ""),
            service_id=service.get("serviceId", ""),
            service_key=service.get("serviceKey", ""),
            pat=user.get("pat", ""),
        )


@cache
def default_credentials() -> Credentials:
    with default_scenario().open(encoding="utf-8") as stream:
        return Credentials.from_scenario(yaml.safe_load(stream))


def _first(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    items = document.get(key) or []
    return items[0] if items and isinstance(items[0], dict) else {}
