"""Calls to the two LG APIs as one partner, user and service: headers done right.

The kit's own checks and the pytest plugin's helpers build requests here, so the rules
for a valid call (a fresh X-Message-Id per call, a token from POST /v1/token, the user's
bearer and country for IN-HEADER) live in one place.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from contract_tests.contracts import api_root, new_message_id, user_agent
from contract_tests.credentials import Credentials

# What an X-Api-Token header can carry (printable ASCII, no spaces around it).
TOKEN = re.compile(r"[!-~]+(?: +[!-~]+)*")


class KitError(Exception):
    """The kit cannot run as configured; the message says what to change."""


class LgApi:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        bc_url: str | None = None,
        thinq_url: str | None = None,
        connect_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.bc_url = (bc_url or api_root(self.base_url, "bc")).rstrip("/")
        self.connect_url = (connect_url or api_root(self.base_url, "connect")).rstrip("/")
        self.thinq_url = (thinq_url or api_root(self.base_url, "thinq")).rstrip("/")
        self.timeout = timeout
        # The last answer any call got, so a finding can show it even when the reader that
        # met it did not expect it.
        self.last_answer: httpx.Response | None = None
        self.client = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": user_agent()},
            event_hooks={"response": [self._remember]},
        )

    def _remember(self, answer: httpx.Response) -> None:
        self.last_answer = answer

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> LgApi:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ Business Connect
    def token(self) -> str:
        """A fresh API token; KitError naming the options to fix when it is refused."""
        url = f"{self.bc_url}/v1/token"
        try:
            answer = self.client.post(
                url,
                headers={
                    "X-Api-Key": self.credentials.api_key,
                    "X-Api-Secret": self.credentials.api_secret,
                },
            )
        except httpx.HTTPError as exc:
            raise KitError(f"POST {url} failed ({exc}); is the server running there?") from exc
        if answer.status_code in (404, 405):
            raise KitError(
                f"POST {url} answered {answer.status_code} {answer.text[:200]}: nothing takes "
                "a token there. Pass --bc-url with the base URL Business Connect's /v1 paths "
                "sit under (a mock serving the vendor spec at its root: --bc-url BASE_URL)"
            )
        if answer.status_code != 200:
            raise KitError(
                f"POST {url} answered {answer.status_code} {answer.text[:200]}: check --api-key "
                "and --api-secret (LGMOCK_API_KEY, LGMOCK_API_SECRET)"
            )
        try:
            token = json.loads(answer.content).get("access_token")
        except (ValueError, RecursionError, AttributeError):
            token = None
        # It travels as a header value next: printable ASCII, or no token at all.
        if not isinstance(token, str) or not token or not TOKEN.fullmatch(token):
            raise KitError(
                f"POST {url} answered 200 without an access_token string fit for a header: "
                f"{answer.text[:200]!r}"
            )
        return token

    def bc_headers(
        self, account: str = "REGISTERED", *, token: str | None = None
    ) -> dict[str, str]:
        """Headers of one Business Connect call; IN-HEADER adds the user's bearer and country."""
        headers = {
            "X-Api-Key": self.credentials.api_key,
            "X-Api-Token": token or self.token(),
            "X-Message-Id": new_message_id(),
            "X-Use-Account": account,
        }
        if account == "IN-HEADER":
            headers["Authorization"] = f"Bearer {self.credentials.user_token}"
            headers["X-Country-Code"] = self.credentials.country
        return headers

    def dr_headers(self, *, token: str | None = None) -> dict[str, str]:
        """DR operations take no X-Use-Account but require X-Country-Code."""
        return {
            "X-Api-Key": self.credentials.api_key,
            "X-Api-Token": token or self.token(),
            "X-Message-Id": new_message_id(),
            "X-Country-Code": self.credentials.country,
        }

    def bc(
        self,
        method: str,
        path: str,
        *,
        account: str = "REGISTERED",
        token: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = (
            self.dr_headers(token=token)
            if path.startswith("/v1/dr/")
            else self.bc_headers(account, token=token)
        )
        return self.client.request(method, f"{self.bc_url}{path}", headers=headers, **kwargs)

    # ------------------------------------------------------------------ ThinQ asynchronous
    def thinq_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.credentials.user_token}",
            "x-message-id": new_message_id(),
            "x-service-id": self.credentials.service_id,
            "x-service-key": self.credentials.service_key,
            "x-country-code": self.credentials.country,
        }

    def thinq(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(
            method, f"{self.thinq_url}{path}", headers=self.thinq_headers(), **kwargs
        )
