"""LG's own MQTT client (``thinqconnect.ThinQMQTTClient``) bound to a sandbox.

The one thing replaced is the SDK's download of Amazon's root CA: the client trusts the
sandbox's CA instead (``GET /_sandbox/mqtt/ca.pem``). Everything else is the SDK's: it
registers the client, makes its key and CSR, has the certificate signed, reads the
topic from ``subscriptions`` and connects with mutual TLS to the host of ``mqttServer``.

The SDK blocks its event loop while it connects and subscribes (it waits on awscrt's
futures), so the client runs on a loop of its own in a thread: the caller's loop, and a
sandbox or broker served from it, go on meanwhile. Messages land in ``messages``, parsed.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx

CA_PATH = "/_sandbox/mqtt/ca.pem"


class MqttClientError(RuntimeError):
    """The SDK's client could not be prepared or did not connect."""


def sandbox_ca(base_url: str) -> str:
    answer = httpx.get(base_url.rstrip("/") + CA_PATH, timeout=10)
    answer.raise_for_status()
    return answer.text


class SandboxMqttClient:
    """One SDK MQTT client in a thread of its own.

    ``make_api``: builds the ``ThinQApi`` the SDK's client calls (on the client's own
    loop, so its aiohttp session lives there); ``ca_pem``: what it trusts.
    """

    def __init__(
        self,
        make_api: Callable[[], Awaitable[Any]],
        client_id: str,
        ca_pem: str,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.client_id = client_id
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.raw: list[tuple[str, bytes, bool]] = []  # (topic, payload, dup) as received
        self.sdk_client: Any = None
        self.connect_seconds: float | None = None
        self._make_api = make_api
        self._ca_pem = ca_pem
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._api: Any = None

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(self._timeout)

    def _on_message(
        self, topic: str, payload: bytes, dup: bool, qos: Any, retain: bool, **_: Any
    ) -> None:
        self.raw.append((topic, payload, dup))
        try:
            self.messages.put(json.loads(payload))
        except ValueError:
            self.messages.put({"unparsed": payload.decode(errors="replace")})

    def start(self) -> SandboxMqttClient:
        """Register, get a certificate, connect and subscribe, as Home Assistant does."""
        self._thread.start()
        self._run(self._start())
        return self

    async def _start(self) -> None:
        from thinqconnect import ThinQMQTTClient

        self._api = await self._make_api()
        client = await ThinQMQTTClient(self._api, self.client_id, self._on_message)
        ca_pem = self._ca_pem

        async def sandbox_root_certificate(timeout: int = 15) -> str:
            return ca_pem

        client._get_root_certificate = sandbox_root_certificate
        if not await client.async_prepare_mqtt():
            raise MqttClientError("the SDK could not prepare its MQTT client (CSR or certificate)")
        started = time.perf_counter()
        await client.async_connect_mqtt()
        self.connect_seconds = time.perf_counter() - started
        if not client.is_connected:
            raise MqttClientError(f"the SDK's client did not connect to {client.mqtt_server}")
        self.sdk_client = client

    @property
    def api(self) -> Any:
        """The ``ThinQApi`` the client was prepared with (for subscribe calls)."""
        return self._api

    def call(self, coroutine_function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run an SDK coroutine (e.g. ``client.api.async_post_push_subscribe``) on the
        client's loop."""

        async def run() -> Any:
            return await coroutine_function(*args)

        return self._run(run())

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first message (from now on, in order) ``predicate`` accepts; the ones
        before it are dropped. AssertionError naming what came if none does in time."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching MQTT message in {timeout}s; got {seen}")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(message):
                return message
            seen.append(message)

    def stop(self) -> None:
        """Unsubscribe and disconnect as the SDK does, then end the thread."""
        try:
            if self.sdk_client is not None:
                connection = self.sdk_client._mqtt_connection
                self._run(self.sdk_client.async_disconnect())
                if connection is not None:
                    connection.disconnect().result(self._timeout)
            session = getattr(self._api, "_session", None)
            if session is not None:
                self._run(session.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self._timeout)


def connected_client(
    base_url: str, user: dict[str, Any], *, client_id: str | None = None
) -> SandboxMqttClient:
    """The SDK's client of a scenario ``user`` (its ``pat``, ``countryCode``) on the
    sandbox at ``base_url``, started: what the ``thinq_connect_mqtt`` fixture yields."""
    from contract_tests.thinq_connect import sdk_api

    name = client_id or f"lgmock-mqtt-{uuid.uuid4().hex[:12]}"

    async def make_api() -> Any:
        return sdk_api(base_url, user, client_id=name)

    client = SandboxMqttClient(make_api, name, sandbox_ca(base_url))
    try:
        return client.start()
    except BaseException:
        client.stop()
        raise
