"""A handle on a running lgmock sandbox: its URLs, its credentials, its control API.

The pytest plugin's ``lg_sandbox`` fixture is one of these, and ``lgmock contract
server`` uses one to register its callback receiver when the server under test turns
out to be a sandbox. Every helper is one HTTP call to ``/_sandbox`` (openapi/sandbox.yaml),
so the handle works the same on a sandbox the plugin started and on one started by hand.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from contract_tests.contracts import api_root, mount
from contract_tests.credentials import Credentials
from contract_tests.lgapi import KitError, LgApi
from contract_tests.processes import ServeProcess
from contract_tests.receiver import CallbackReceiver, push_type


class SandboxError(KitError):
    """The sandbox refused a control call; the message carries its answer."""


class Sandbox:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.control_url = f"{self.base_url}{mount('sandbox').prefix}"
        self.bc_url = f"{api_root(self.base_url, 'bc')}/v1"
        # ThinQ's asynchronous operations live at /v2/devices/...-async.
        self.thinq_url = f"{self.base_url}{mount('thinq').prefix}"
        self._client = httpx.Client(base_url=self.control_url, timeout=timeout)
        self._api: LgApi | None = None
        self._state: dict[str, Any] | None = None
        # Run after every reset or scenario load (an attached receiver re-registers).
        self._after_load: list[Callable[[], None]] = []
        # Set when this handle's sandbox is a process the kit started.
        self.process: SandboxProcess | None = None

    @classmethod
    def detect(cls, base_url: str, timeout: float = 3.0) -> Sandbox | None:
        """The sandbox at ``base_url``, or None when something else answers there."""
        try:
            health = f"{base_url.rstrip('/')}{mount('sandbox').prefix}/health"
            answer = httpx.get(health, timeout=timeout)
            if answer.status_code == 200 and answer.json().get("status") == "ok":
                return cls(base_url)
        except (httpx.HTTPError, ValueError, AttributeError):
            pass
        return None

    def log(self) -> str:
        """The server log of a sandbox the kit started (empty for one started elsewhere)."""
        return self.process.log() if self.process is not None else ""

    def close(self) -> None:
        self._client.close()
        if self._api is not None:
            self._api.close()

    # ------------------------------------------------------------------ what is loaded
    def state(self) -> dict[str, Any]:
        """The whole state in the scenario format, secrets included."""
        self._state = self._call("GET", "/state")
        return self._state

    def _loaded(self) -> dict[str, Any]:
        return self._state if self._state is not None else self.state()

    @property
    def credentials(self) -> Credentials:
        """The first partner, user and service of the loaded scenario."""
        return Credentials.from_scenario(self._loaded())

    @property
    def partners(self) -> list[dict[str, Any]]:
        return list(self._loaded().get("partners", []))

    @property
    def users(self) -> list[dict[str, Any]]:
        return list(self._loaded().get("users", []))

    @property
    def services(self) -> list[dict[str, Any]]:
        return list(self._loaded().get("services", []))

    def devices(self, **match: Any) -> list[dict[str, Any]]:
        """Devices of the loaded scenario whose fields equal ``match`` (e.g. owner=...)."""
        return [
            device
            for device in self._loaded().get("devices", [])
            if all(device.get(key) == value for key, value in match.items())
        ]

    # ------------------------------------------------------------------ driving it
    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self) -> dict[str, Any]:
        """Back to the last scenario loaded; callbacks, subscriptions and tokens are gone."""
        self._state = None
        return self._loaded_hooks(self._call("POST", "/reset"))

    def load_scenario(self, scenario: dict[str, Any] | str | Path) -> dict[str, Any]:
        """Replace the state: a dict, a path to a YAML/JSON file, or YAML text."""
        self._state = None
        if isinstance(scenario, dict):
            return self._loaded_hooks(self._call("POST", "/scenario", json=scenario))
        text = Path(scenario).read_text(encoding="utf-8") if _is_path(scenario) else scenario
        answer = self._call(
            "POST", "/scenario", content=text, headers={"Content-Type": "application/yaml"}
        )
        return self._loaded_hooks(answer)

    def _loaded_hooks(self, answer: dict[str, Any]) -> dict[str, Any]:
        for hook in list(self._after_load):
            hook()
        return answer

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/clock", json={"advance": seconds})

    def set_clock(
        self, instant: str | None = None, *, freeze: bool | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if instant is not None:
            body["set"] = instant
        if freeze is not None:
            body["freeze"] = freeze
        return self._call("POST", "/clock", json=body)

    def set_online(self, device_id: str, online: bool) -> dict[str, Any]:
        return self._call("PATCH", f"/devices/{device_id}", json={"online": online})

    def change_state(self, device_id: str, change: dict[str, Any]) -> dict[str, Any]:
        """A change reported by the device itself (subscribers receive it as an event)."""
        return self._call("PATCH", f"/devices/{device_id}/state", json=change)

    def raise_push(self, device_id: str, code: str) -> dict[str, Any]:
        return self._call("POST", f"/devices/{device_id}/push", json={"code": code})

    def set_service_callback(self, service_id: str, url: str | None) -> str | None:
        """Point a ThinQ service's callbacks at ``url``; returns the URL it had."""
        previous = _callback_of(self.services, "serviceId", service_id)
        self._call("PATCH", f"/services/{service_id}", json={"callbackUrl": url})
        self._state = None
        return previous

    def set_partner_callback(self, partner_id: str, url: str | None) -> str | None:
        """Point a partner's push deliveries at ``url``; returns the URL it had."""
        previous = _callback_of(self.partners, "partnerId", partner_id)
        self._call("PATCH", f"/partners/{partner_id}", json={"callbackUrl": url})
        self._state = None
        return previous

    def callbacks(self, limit: int = 1000, **filters: Any) -> list[dict[str, Any]]:
        """Deliveries from the journal, newest first; filters: requestId, deviceId, status, kind."""
        params = {key: value for key, value in filters.items() if value is not None}
        return self._call("GET", "/callbacks", params={**params, "limit": limit})["items"]

    def inbox(self, limit: int = 1000, **filters: Any) -> list[dict[str, Any]]:
        """What the sandbox's own inbox received (the callbacks of a service or partner
        with no receiver registered), newest first, bodies included; filters: serviceId,
        partnerId, requestId, deviceId, kind."""
        params = {key: value for key, value in filters.items() if value is not None}
        return self._call("GET", "/inbox", params={**params, "limit": limit})["items"]

    def journal(self, limit: int = 1000, **filters: Any) -> list[dict[str, Any]]:
        params = {key: value for key, value in filters.items() if value is not None}
        return self._call("GET", "/journal", params={**params, "limit": limit})["items"]

    def add_fault(
        self,
        match: dict[str, Any] | None = None,
        effect: dict[str, Any] | None = None,
        **rule: Any,
    ) -> dict[str, Any]:
        """Add a fault rule (POST /_sandbox/faults); e.g. match={"operationId": ...},
        effect={"error": "4304"}, count=1. Raises NotImplementedError on a sandbox whose
        fault API has not landed yet."""
        body = {"match": match or {}, "effect": effect or {}, **rule}
        answer = self._client.post("/faults", json=body)
        if answer.status_code in (404, 405, 501):
            raise NotImplementedError(
                f"this sandbox has no fault API yet (POST {self.control_url}/faults answered "
                f"{answer.status_code}); use a `Prefer: error=<code>` header on the call instead"
            )
        return self._checked(answer, "POST", "/faults")

    def clear_faults(self) -> None:
        answer = self._client.delete("/faults")
        if answer.status_code not in (200, 204, 404, 405, 501):
            self._checked(answer, "DELETE", "/faults")

    # ------------------------------------------------------------------ calling the APIs
    @property
    def api(self) -> LgApi:
        """An LG API caller as the loaded scenario's first partner, user and service."""
        credentials = self.credentials
        if self._api is None or self._api.credentials != credentials:
            if self._api is not None:
                self._api.close()
            self._api = LgApi(self.base_url, credentials)
        return self._api

    def token(self) -> str:
        """A fresh Business Connect API token for the first partner."""
        return self.api.token()

    def bc_headers(
        self, account: str = "REGISTERED", *, token: str | None = None
    ) -> dict[str, str]:
        """Headers of one Business Connect call (fresh X-Message-Id, a token, the account)."""
        return self.api.bc_headers(account, token=token)

    def thinq_headers(self) -> dict[str, str]:
        """Headers of one ThinQ asynchronous call as the first user and service."""
        return self.api.thinq_headers()

    # ------------------------------------------------------------------ plumbing
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._checked(self._client.request(method, path, **kwargs), method, path)

    def _checked(self, answer: httpx.Response, method: str, path: str) -> Any:
        if answer.status_code >= 400:
            raise SandboxError(
                f"{method} {self.control_url}{path} answered {answer.status_code}: "
                f"{answer.text[:1000]}"
            )
        if not answer.content:
            return None
        try:
            return answer.json()
        except json.JSONDecodeError:
            return answer.text


def _is_path(value: str | Path) -> bool:
    if isinstance(value, Path):
        return True
    # One line naming an existing file is a path; anything else is YAML text.
    return "\n" not in value and Path(value).is_file()


def _callback_of(items: list[dict[str, Any]], key: str, wanted: str) -> str | None:
    for item in items:
        if item.get(key) == wanted:
            return item.get("callbackUrl")
    return None


# ------------------------------------------------------------------------- a receiver on it


class SandboxReceiver(CallbackReceiver):
    """A callback receiver every service and partner of a sandbox delivers to.

    ThinQ callbacks arrive under ``/thinq``, Business Connect push messages under
    ``/bc``. It stays registered across ``reset()`` and ``load_scenario()`` of the
    sandbox it is attached to, until ``detach()``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._sandbox: Sandbox | None = None
        self._originals: dict[tuple[str, str], str | None] = {}

    @property
    def thinq_url(self) -> str:
        return f"{self.url}/thinq"

    @property
    def bc_url(self) -> str:
        return f"{self.url}/bc"

    def attach(self, sandbox: Sandbox) -> SandboxReceiver:
        self._sandbox = sandbox
        sandbox._after_load.append(self._register)
        self._register()
        return self

    def detach(self) -> None:
        """Stop receiving: each service and partner gets back the URL it had."""
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is None:
            return
        if self._register in sandbox._after_load:
            sandbox._after_load.remove(self._register)
        state = sandbox.state()
        for service in state.get("services", []):
            if service.get("callbackUrl") == self.thinq_url:
                original = self._originals.get(("service", service["serviceId"]))
                sandbox.set_service_callback(service["serviceId"], original)
        for partner in state.get("partners", []):
            if partner.get("callbackUrl") == self.bc_url:
                original = self._originals.get(("partner", partner["partnerId"]))
                sandbox.set_partner_callback(partner["partnerId"], original)

    def _register(self) -> None:
        assert self._sandbox is not None
        state = self._sandbox.state()
        for kind, key, url in (
            ("services", "serviceId", self.thinq_url),
            ("partners", "partnerId", self.bc_url),
        ):
            for item in state.get(kind, []):
                # Kept even when it is this receiver's own URL already (a scenario naming
                # its port): what is given back is exactly what was replaced. Only an
                # attach or a reset or load through this handle gets here, so the state
                # read holds the scenario's URLs, never ones this receiver set.
                self._originals[(kind[:-1], item[key])] = item.get("callbackUrl")
                if kind == "services":
                    self._sandbox.set_service_callback(item[key], url)
                else:
                    self._sandbox.set_partner_callback(item[key], url)

    # ------------------------------------------------------------------ waiting helpers
    def wait_for_request(self, request_id: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """The callbacks of one asynchronous call (its 202's requestId)."""
        return self.wait_for(
            count,
            lambda body: isinstance(body, dict) and body.get("requestId") == request_id,
            timeout,
        )

    def wait_for_push_type(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """Callbacks or messages of one pushType (DEVICE_STATUS, DEVICE_PUSH, ...)."""
        return self.wait_for(count, lambda body: push_type(body) == kind, timeout)

    def wait_for_device(self, device_id: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        return self.wait_for(count, lambda body: _device_of(body) == device_id, timeout)

    def thinq_bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received if r.path.startswith("/thinq")]

    def bc_bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received if r.path.startswith("/bc")]


def _device_of(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    inner = body.get("response")
    if isinstance(inner, dict) and "deviceId" in inner:
        return inner["deviceId"]
    return body.get("deviceId")


# ------------------------------------------------------------------------- a process


class SandboxProcess(ServeProcess):
    """``lgmock serve`` on a free port, as a child process (what the pytest plugin starts).

    The project's one launcher (``processes.ServeProcess``) with the plugin's options.
    """

    def __init__(
        self,
        *,
        scenario: Path | None = None,
        port: int = 0,
        log_dir: Path | None = None,
        extra_args: tuple[str, ...] = (),
        wait: float = 30.0,
    ) -> None:
        directory = log_dir or Path.cwd()
        args = ["--scenario", str(scenario)] if scenario is not None else []
        super().__init__(
            *args,
            *extra_args,
            log_path=directory / f"lgmock-sandbox-{os.getpid()}-{next(_process_numbers)}.log",
            cwd=directory,
            port=port,
            wait=wait,
        )


_process_numbers = itertools.count(1)
