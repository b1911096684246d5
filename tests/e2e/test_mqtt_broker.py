"""The push channel's broker, judged by LG's own MQTT client over mutual TLS.

Until ThinQ Connect's ``POST /client/certificate`` is mounted, these sign the SDK's CSR
with the sandbox's authority as kept beside its state file (``FILE.mqtt``), the same
object the API will use.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from contract_tests.thinq_mqtt import MqttClientError, SandboxMqttClient
from mockserver.callbacks import DeliveryEngine
from mockserver.clock import SandboxClock
from mockserver.faults import FaultRules
from mockserver.mqtt.authority import Authority
from mockserver.mqtt.broker import find_mosquitto
from mockserver.mqtt.channel import PushChannel, open_channel
from tests.support import RunningServer, start_server, stop_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_mosquitto() is None and not os.environ.get("LGMOCK_REQUIRE_MQTT"),
        reason="mosquitto is not installed (CI installs it and sets LGMOCK_REQUIRE_MQTT)",
    ),
]


class AuthorityApi:
    """What ThinQMQTTClient calls of ThinQApi, answered from the sandbox's authority."""

    def __init__(self, base_url: str, authority: Authority, client_id: str) -> None:
        self.base_url, self.authority, self.client_id = base_url, authority, client_id

    async def async_get_route(self) -> dict[str, Any]:
        channel = httpx.get(f"{self.base_url}/_sandbox/mqtt").json()
        return {"mqttServer": channel["mqttServer"]}

    async def async_post_client_register(self, payload: Any) -> dict[str, Any]:
        return {}

    async def async_delete_client_register(self, payload: Any) -> dict[str, Any]:
        return {}

    async def async_post_client_certificate(self, body: dict[str, Any]) -> dict[str, Any]:
        pem = self.authority.sign_client(body["csr"], self.client_id)
        return {
            "result": {
                "certificatePem": pem,
                "subscriptions": [f"app/clients/{self.client_id}/push"],
            }
        }


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    folder = tmp_path_factory.mktemp("mqtt-broker")
    state = folder / "state.db"
    running = start_server(folder, "--state-file", str(state))
    yield running, state
    stop_server(running)


def sdk_client(
    server: RunningServer, authority: Authority, client_id: str, ca_pem: str
) -> SandboxMqttClient:
    async def make_api() -> AuthorityApi:
        return AuthorityApi(server.base_url, authority, client_id)

    return SandboxMqttClient(make_api, client_id, ca_pem, timeout=20)


def test_the_broker_has_a_loopback_address_of_its_own_and_the_ca_is_served(sandbox):
    server, _ = sandbox
    channel = httpx.get(f"{server.base_url}/_sandbox/mqtt").json()
    assert channel["running"] is True, channel
    address = ipaddress.ip_address(channel["address"])
    assert address.is_loopback and str(address) != "127.0.0.1"
    assert channel["mqttServer"] == f"mqtts://{address}:8883"
    assert 8883 in channel["ports"]
    answer = httpx.get(f"{server.base_url}/_sandbox/mqtt/ca.pem")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-pem-file"
    ca = x509.load_pem_x509_certificate(answer.content)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_the_sdk_client_connects_with_a_certificate_of_the_sandbox_ca(sandbox):
    server, state = sandbox
    authority = Authority.kept_in(Path(f"{state}.mqtt"))
    ca_pem = httpx.get(f"{server.base_url}/_sandbox/mqtt/ca.pem").text
    assert ca_pem == authority.ca_pem.decode()
    client = sdk_client(server, authority, "e2e-client-1", ca_pem).start()
    try:
        assert client.sdk_client.is_connected
        assert client.sdk_client.topic_subscription == "app/clients/e2e-client-1/push"
    finally:
        client.stop()


def test_a_certificate_of_another_ca_is_refused(sandbox, tmp_path: Path):
    server, _ = sandbox
    stranger = Authority.create()  # signs the SDK's CSR, but the broker trusts only its own
    ca_pem = httpx.get(f"{server.base_url}/_sandbox/mqtt/ca.pem").text
    client = sdk_client(server, stranger, "e2e-stranger", ca_pem)
    with pytest.raises(MqttClientError, match="did not connect"):
        client.start()
    client.stop()


def test_without_a_client_certificate_the_handshake_fails(sandbox):
    server, _ = sandbox
    channel = httpx.get(f"{server.base_url}/_sandbox/mqtt").json()
    ca_pem = httpx.get(f"{server.base_url}/_sandbox/mqtt/ca.pem").text
    context = ssl.create_default_context(cadata=ca_pem)
    with socket.create_connection((channel["address"], 8883), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=channel["address"]) as tls:
            # TLS 1.3: the broker's refusal of a missing certificate arrives with the
            # first read, not the handshake.
            with pytest.raises((ssl.SSLError, ConnectionError)):
                tls.sendall(b"\x10\x00")
                assert tls.recv(1) == b""
                raise ConnectionError("closed")


def test_two_sandboxes_never_share_an_address(sandbox, tmp_path: Path):
    first, _ = sandbox
    second = start_server(tmp_path)
    try:
        a = httpx.get(f"{first.base_url}/_sandbox/mqtt").json()["address"]
        b = httpx.get(f"{second.base_url}/_sandbox/mqtt").json()["address"]
        assert a != b
    finally:
        stop_server(second)


def test_the_delivery_engine_publishes_to_the_clients_topic_only():
    """The engine's MQTT transport, in-process over a real broker: a message for the
    client arrives once per delivery (a duplicate fault: twice), one for another
    client's topic never reaches it, and each attempt is journaled as delivered."""

    async def scenario() -> None:
        channel = open_channel()
        assert channel.broker is not None, channel.off
        ca = channel.authority.ca_pem.decode()

        async def make_api() -> ChannelApi:
            return ChannelApi(channel, "engine-client")

        client = SandboxMqttClient(make_api, "engine-client", ca, timeout=20)
        await asyncio.to_thread(client.start)
        engine = DeliveryEngine(SandboxClock())
        engine.mqtt = channel
        engine.faults = FaultRules(0)
        try:
            mine = engine.enqueue(
                channel.url_for("engine-client"), {"n": 1}, kind="DEVICE_STATUS", device_id="d"
            )
            other = engine.enqueue(
                channel.url_for("someone-else"), {"n": 2}, kind="DEVICE_STATUS", device_id="d"
            )
            engine.faults.add({"target": "callback", "effect": {"duplicate": True}})
            twice = engine.enqueue(
                channel.url_for("engine-client"), {"n": 3}, kind="DEVICE_PUSH", device_id="d"
            )
            assert await engine.drain(10)
            got = [await asyncio.to_thread(client.wait_for, lambda m: True) for _ in range(3)]
            assert sorted(m["n"] for m in got) == [1, 3, 3]
            await asyncio.sleep(0.5)
            assert client.messages.empty()
            for delivery in (mine, other, twice):
                assert delivery.status == "delivered"
                assert delivery.attempts[-1].outcome == "ok"
        finally:
            await asyncio.to_thread(client.stop)
            await engine.close()
            await channel.close()
            channel.stop()

    asyncio.run(scenario())


class ChannelApi(AuthorityApi):
    def __init__(self, channel: PushChannel, client_id: str) -> None:
        super().__init__("", channel.authority, client_id)
        self.channel = channel

    async def async_get_route(self) -> dict[str, Any]:
        return {"mqttServer": self.channel.route_url}


def test_the_ca_and_the_address_outlive_a_restart_with_the_state_file(tmp_path: Path):
    """A client certified before a restart trusts, and is trusted by, the broker after
    it: the authority is kept in FILE.mqtt, the address tried first again."""
    state = tmp_path / "state.db"
    first = start_server(tmp_path, "--state-file", str(state))
    try:
        before = httpx.get(f"{first.base_url}/_sandbox/mqtt").json()
        ca_before = httpx.get(f"{first.base_url}/_sandbox/mqtt/ca.pem").text
    finally:
        stop_server(first)
    again = start_server(tmp_path, "--state-file", str(state))
    try:
        after = httpx.get(f"{again.base_url}/_sandbox/mqtt").json()
        assert httpx.get(f"{again.base_url}/_sandbox/mqtt/ca.pem").text == ca_before
        assert after["mqttServer"] == before["mqttServer"]
        authority = Authority.kept_in(Path(f"{state}.mqtt"))
        client = sdk_client(again, authority, "e2e-after-restart", ca_before).start()
        try:
            assert client.sdk_client.is_connected
        finally:
            client.stop()
    finally:
        stop_server(again)
