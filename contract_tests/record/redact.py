"""Secrets recognised once: nothing the recorder prints or writes carries one in clear.

The proxy forwards credentials untouched (the upstream needs them); everything derived
from a call (drift findings, reproduce commands, the live log, the scenario) goes
through ``Redactor``. It knows the credential headers of both LG APIs and the JSON
fields that hold tokens or keys, and it remembers every secret value it has seen, so a
token echoed back in an error message is scrubbed too.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

# Credential headers of Business Connect and ThinQ -> the variable a reproduce command
# reads the value from (the user fills it in; the file never holds it).
SECRET_HEADERS = {
    "x-api-key": "LG_API_KEY",
    "x-api-secret": "LG_API_SECRET",
    "x-api-token": "LG_API_TOKEN",
    "authorization": "LG_USER_TOKEN",
    "x-service-key": "LG_SERVICE_KEY",
    "cookie": "LG_COOKIE",
}
# JSON fields holding a secret, compared without case and underscores: token answers
# (`access_token`), DR users (`accessToken`, `refreshToken`, `authCodeExt`), scenarios.
SECRET_FIELDS = frozenset(
    {
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "token",
        "authcodeext",
        "apikey",
        "apisecret",
        "servicekey",
        "secret",
        "clientsecret",
        "password",
        "pat",
    }
)
FILTERED = "[Filtered]"
# Headers that belong to one hop of a connection, never forwarded as they are.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


def fingerprint(secret: str) -> str:
    """A stable in-memory key for a credential (the same token is the same user)."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Redactor:
    """Scrubs headers, JSON and text of every secret known to it."""

    MIN_LENGTH = 6  # shorter values would scrub ordinary words

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def remember(self, value: str | None) -> None:
        if value and len(value) >= self.MIN_LENGTH:
            self._seen.add(value)

    def remember_headers(self, headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            if name.lower() in SECRET_HEADERS:
                self.remember(value)
                self.remember(bearer(value))

    def remember_json(self, value: Any) -> None:
        for secret in _secret_values(value):
            self.remember(secret)

    def text(self, text: str) -> str:
        # Longest first: a token that contains another is replaced whole.
        for secret in sorted(self._seen, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, FILTERED)
        return text

    def json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: FILTERED if is_secret_field(key) and item else self.json(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def body(self, content: bytes, limit: int = 2000) -> str:
        """A body as text for a report: JSON with its secret fields filtered, cut at ``limit``."""
        try:
            shown = json.dumps(self.json(json.loads(content)), ensure_ascii=False)
        except ValueError:
            shown = self.text(content.decode("utf-8", "replace"))
        return shown if len(shown) <= limit else shown[:limit] + f"... ({len(shown)} chars)"

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: (FILTERED if name.lower() in SECRET_HEADERS else self.text(value))
            for name, value in headers.items()
        }

    def curl(
        self, method: str, url: str, headers: Iterable[tuple[str, str]], content: bytes
    ) -> str:
        """A curl line replaying a call, each credential read from an environment variable."""
        parts = ["curl", "-i", "-X", method, shlex.quote(self.text(url))]
        for name, value in headers:
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in ("host", "accept-encoding", "user-agent"):
                continue
            variable = SECRET_HEADERS.get(lower)
            if variable is None:
                shown = shlex.quote(f"{name}: {self.text(value)}")
            elif lower == "authorization" and bearer(value):
                shown = f'"{name}: Bearer ${variable}"'
            else:
                shown = f'"{name}: ${variable}"'
            parts += ["-H", shown]
        if content:
            try:
                data = json.dumps(self.json(json.loads(content)), ensure_ascii=False)
            except ValueError:
                data = self.text(content.decode("utf-8", "replace"))
            parts += ["--data-raw", shlex.quote(data)]
        return " ".join(parts)


def is_secret_field(name: str) -> bool:
    return name.replace("_", "").replace("-", "").lower() in SECRET_FIELDS


def _secret_values(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if is_secret_field(key) and isinstance(item, str):
                yield item
            else:
                yield from _secret_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secret_values(item)
