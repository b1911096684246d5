"""A small sample client for LG's Business Connect and ThinQ asynchronous APIs (httpx).

What a partner would write, kept short: it gets and renews its API token, sends a fresh
X-Message-Id on every call, reads the vendor error envelopes into one exception, and
turns ThinQ's asynchronous calls into request ids to match callbacks with. Its tests
(``test_lg_client.py``) run it against the lgmock sandbox through the pytest plugin.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx


def new_message_id() -> str:
    """What both APIs require per call: url-safe base64 of a UUIDv4, no padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class LgApiError(Exception):
    """A refusal, with the HTTP status and the vendor's code (e.g. 400 / "4102")."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class BusinessConnectClient:
    """Business Connect (``{base}/bc/v1``) as one partner; optionally on behalf of a user."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        user_token: str | None = None,
        country: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._http = httpx.Client(base_url=f"{base_url.rstrip('/')}/bc/v1", timeout=timeout)
        self._key = api_key
        self._secret = api_secret
        self._user_token = user_token
        self._country = country
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ devices
    def devices(self, account: str = "REGISTERED") -> list[dict[str, Any]]:
        """REGISTERED: the partner's own devices; IN-HEADER: the user's."""
        return self._call("GET", "/devices", account)

    def profile(self, device_id: str, account: str = "REGISTERED") -> dict[str, Any]:
        return self._call("GET", f"/devices/profile/{device_id}", account)

    def status(self, device_id: str, account: str = "REGISTERED") -> dict[str, Any]:
        return self._call("GET", f"/devices/{device_id}", account)

    def control(
        self, device_id: str, command: dict[str, Any], account: str = "REGISTERED"
    ) -> dict[str, Any]:
        return self._call("POST", f"/devices/{device_id}", account, json=command)

    # ------------------------------------------------------------------ push subscriptions
    def subscribe(self, device_id: str) -> None:
        self._call("POST", f"/push/{device_id}", "REGISTERED")

    def unsubscribe(self, device_id: str) -> None:
        self._call("DELETE", f"/push/{device_id}", "REGISTERED")

    def subscriptions(self) -> list[str]:
        return [item["deviceId"] for item in self._call("GET", "/push", "REGISTERED")]

    # ------------------------------------------------------------------ plumbing
    def _call(self, method: str, path: str, account: str, **kwargs: Any) -> Any:
        answer = self._send(method, path, account, **kwargs)
        if answer.status_code == 401:
            # 4201: the token expired (24 h) or was revoked; get a new one, once.
            self._token = None
            answer = self._send(method, path, account, **kwargs)
        if answer.status_code != 200:
            error = _json(answer).get("error") or {}
            raise LgApiError(
                answer.status_code,
                str(error.get("code") or answer.headers.get("X-Response-Code", "")),
                str(error.get("message") or answer.text),
            )
        return _json(answer).get("response")

    def _send(self, method: str, path: str, account: str, **kwargs: Any) -> httpx.Response:
        headers = {
            "X-Api-Key": self._key,
            "X-Api-Token": self._api_token(),
            "X-Message-Id": new_message_id(),
            "X-Use-Account": account,
        }
        if account == "IN-HEADER":
            if not (self._user_token and self._country):
                raise ValueError("IN-HEADER calls need the user's token and country")
            headers["Authorization"] = f"Bearer {self._user_token}"
            headers["X-Country-Code"] = self._country
        return self._http.request(method, path, headers=headers, **kwargs)

    def _api_token(self) -> str:
        if self._token is None:
            answer = self._http.post(
                "/token", headers={"X-Api-Key": self._key, "X-Api-Secret": self._secret}
            )
            if answer.status_code != 200:
                error = _json(answer).get("error") or {}
                raise LgApiError(answer.status_code, str(error.get("code")), answer.text)
            self._token = answer.json()["access_token"]
        return self._token


class ThinQAsyncClient:
    """ThinQ's asynchronous API as one service, for one user: every call answers 202 and
    a request id; the results arrive as callbacks at the service's callback URL."""

    def __init__(
        self,
        base_url: str,
        *,
        service_id: str,
        service_key: str,
        user_token: str,
        country: str,
        timeout: float = 10.0,
    ) -> None:
        self._http = httpx.Client(base_url=f"{base_url.rstrip('/')}/v2/devices", timeout=timeout)
        self._headers = {
            "Authorization": f"Bearer {user_token}",
            "x-service-id": service_id,
            "x-service-key": service_key,
            "x-country-code": country,
        }

    def close(self) -> None:
        self._http.close()

    def request_profiles(self) -> str:
        return self._accepted("POST", "/profile-async")

    def request_statuses(self) -> str:
        return self._accepted("POST", "/status-async")

    def control(self, device_type: str, command: dict[str, Any]) -> str:
        """Every device of ``device_type`` the user owns; one callback per device."""
        return self._accepted(
            "POST", "/control-async", json={"deviceType": device_type, "command": command}
        )

    def subscribe_events(self, hours: int = 1) -> str:
        return self._accepted(
            "POST", "/event-async", json={"expire": {"unit": "HOUR", "timer": hours}}
        )

    def unsubscribe_events(self) -> str:
        return self._accepted("DELETE", "/event-async")

    def _accepted(self, method: str, path: str, **kwargs: Any) -> str:
        headers = {**self._headers, "x-message-id": new_message_id()}
        answer = self._http.request(method, path, headers=headers, **kwargs)
        body = _json(answer)
        if answer.status_code != 202:
            error = (body.get("response") or {}).get("error") or {}
            raise LgApiError(
                answer.status_code,
                str(error.get("code") or body.get("responseCode")),
                str(error.get("message") or answer.text),
            )
        return str(body["requestId"])


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
