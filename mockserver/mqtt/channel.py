"""ThinQ Connect's push channel: the authority, the broker and the sandbox's publisher,
one of each per server process (they outlive resets and scenario loads).

The ThinQ Connect API hands out what a client needs (``GET /route``: ``route_url``;
``POST /client/certificate``: ``certificate``), and the delivery engine publishes every
message through ``publish``: a delivery to ``mqtts://ADDRESS:8883/TOPIC`` is one QoS 1
PUBLISH, delivered when the broker acknowledges it (PUBACK). What the broker then owes
a client that is away (a persistent session) it keeps and sends when the client is back.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import tempfile
from pathlib import Path

import aiomqtt

from mockserver.mqtt import addresses
from mockserver.mqtt.authority import PUBLISHER, Authority
from mockserver.mqtt.broker import Broker, BrokerError, find_mosquitto

log = logging.getLogger("lgmock.mqtt")

SCHEME = "mqtts://"
ADDRESS_FILE = "address"  # the last run's address, tried first after a restart
PUBLISH_TIMEOUT = 5.0
# What GET /route names when no broker runs: where LG's SDK would go, nothing listens.
NO_BROKER_ROUTE = "mqtts://127.0.0.1:8883"


def topic_for(client_id: str) -> str:
    """The one topic a client reads (as AWS IoT Core names it for ThinQ Connect)."""
    return f"app/clients/{client_id}/push"


class PushChannel:
    """What ``backends.connect.PushChannel`` asks for (``route_url``, ``certificate``),
    and the engine's ``publish``.

    The authority always; the broker when it could be started (``off`` says why not:
    then certificates are still issued, and deliveries to MQTT clients fail, journaled)."""

    def __init__(
        self,
        authority: Authority,
        broker: Broker | None,
        folder: Path,
        *,
        temporary: bool,
        off: str | None = None,
    ) -> None:
        self.authority = authority
        self.broker = broker
        self.folder = folder
        self.off = off
        self._temporary = temporary
        self._client: aiomqtt.Client | None = None
        self._connecting: asyncio.Lock | None = None

    # ------------------------------------------------------------------ for the API
    @property
    def route_url(self) -> str:
        """``mqttServer`` of ``GET /route`` (the SDK keeps the host, drops the port)."""
        if self.broker is None:
            return NO_BROKER_ROUTE
        return f"{SCHEME}{self.broker.address}:{self.broker.port}"

    def certificate(self, client_id: str, csr: str) -> tuple[str, list[str]]:
        """(certificatePem, subscriptions) for a client's CSR; CsrError if unusable."""
        return self.authority.sign_client(csr, client_id), [topic_for(client_id)]

    def url_for(self, client_id: str) -> str:
        """Where the delivery engine sends a client's messages ("" with no broker: the
        engine journals such a delivery as failed, saying there is no receiver)."""
        if self.broker is None:
            return ""
        return f"{self.route_url}/{topic_for(client_id)}"

    # ------------------------------------------------------------------ publishing
    def _tls(self) -> ssl.SSLContext:
        credentials = self.authority.publisher_credentials()
        cert, key = self.folder / "publisher.pem", self.folder / "publisher.key"
        cert.write_bytes(credentials.cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(credentials.key_pem)
        context = ssl.create_default_context(cadata=self.authority.ca_pem.decode("ascii"))
        context.load_cert_chain(cert, key)
        return context

    async def _connected(self) -> aiomqtt.Client:
        assert self.broker is not None
        if self._client is not None:
            return self._client
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._client is None:
                client = aiomqtt.Client(
                    self.broker.address,
                    self.broker.port,
                    identifier=PUBLISHER,
                    tls_context=self._tls(),
                    # Lanes publish concurrently: paho's default of 20 in flight would
                    # make them queue behind one another.
                    max_inflight_messages=1000,
                    timeout=PUBLISH_TIMEOUT,
                )
                # Up to one publish per lane is pending at a time, by design: aiomqtt's
                # warning past 10 would fill the server's log under any fan-out.
                client.pending_calls_threshold = 100_000
                await client.__aenter__()
                self._client = client
        return self._client

    async def publish(self, url: str, payload: bytes) -> str:
        """Publish one delivery; the attempt's outcome ("ok", or what went wrong)."""
        if self.broker is None or not url.startswith(self.route_url + "/"):
            # A journal restored after a restart without mosquitto, or on another address.
            return f"no MQTT broker at {url.split('/app/')[0]}"
        topic = url[len(self.route_url) + 1 :]
        try:
            client = await self._connected()
            await client.publish(topic, payload, qos=1, timeout=PUBLISH_TIMEOUT)
        except aiomqtt.MqttError as exc:
            await self._drop_client()
            return f"broker error: {exc}"
        except TimeoutError:
            await self._drop_client()
            return "timeout"
        return "ok"

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.__aexit__(None, None, None)
            except aiomqtt.MqttError:
                pass

    # ------------------------------------------------------------------ lifetime
    async def close(self) -> None:
        await self._drop_client()

    def stop(self) -> None:
        """Stop the broker and give its address back (again: nothing more)."""
        if self.broker is not None:
            self.broker.stop()
            self.broker.claim.release()
        if self._temporary:
            shutil.rmtree(self.folder, ignore_errors=True)


def open_channel(state_file: Path | None = None, *, broker: bool = True) -> PushChannel:
    """The authority, and a broker on a loopback address of its own unless ``broker`` is
    false or it cannot be started (then ``off`` says why).

    With a state file, the channel's folder is ``FILE.mqtt`` beside it: the authority
    (so certificates given before a restart still work), the broker's persistence (its
    queued messages) and the address, tried first again.
    """
    if state_file is not None:
        folder, temporary = Path(f"{state_file}.mqtt"), False
    else:
        folder, temporary = Path(tempfile.mkdtemp(prefix="lgmock-mqtt-")), True
    authority = Authority.kept_in(folder)
    if not broker:
        return PushChannel(authority, None, folder, temporary=temporary, off="--no-mqtt")
    executable = find_mosquitto()
    if executable is None:
        off = "mosquitto is not installed (Debian: apt-get install mosquitto)"
        return PushChannel(authority, None, folder, temporary=temporary, off=off)
    address_file = folder / ADDRESS_FILE
    preferred = address_file.read_text().strip() if address_file.exists() else None
    try:
        claim = addresses.claim(preferred)
    except addresses.NoAddress as exc:
        return PushChannel(authority, None, folder, temporary=temporary, off=str(exc))
    running = Broker(folder, claim, authority)
    try:
        running.start(executable)
    except BrokerError as exc:
        claim.release()
        return PushChannel(authority, None, folder, temporary=temporary, off=str(exc))
    address_file.write_text(claim.address)
    return PushChannel(authority, running, folder, temporary=temporary)
