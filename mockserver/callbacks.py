"""The callback delivery engine: queue, workers, retries, journal.

Every message the sandbox sends to a partner (ThinQ asynchronous callbacks, event and
push messages, Business Connect push deliveries) goes through here, so delivery has one
behaviour everywhere:

- asynchronous: ``enqueue`` never waits on the network, so a ``202`` is never delayed;
- in order per lane: one lane per (receiver URL, device), a lane's next message waits
  for the one before it to be delivered or given up, while lanes run concurrently;
- at least once: connection errors, timeouts and non-2xx answers are retried with
  exponential backoff, up to ``attempts``; a delivery given up can be sent again;
- journaled: every attempt is recorded with its outcome and latency.

Two transports: a URL ``http(s)://`` is POSTed to; ``mqtts://ADDRESS:PORT/TOPIC`` (a
ThinQ Connect client's topic) is published with QoS 1 through the push channel
(``mqtt/channel.py``), delivered when the broker acknowledges it.

Outgoing HTTP uses aiohttp, not httpx as elsewhere in lgmock: measured on the 2-core
reference machine, httpx tops out near 1,100 POSTs/s from one process whatever its pool
settings, below the 2,000 deliveries/s a fan-out to thousands of devices needs; aiohttp
sustains about 10,000 (benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from mockserver import json_codec
from mockserver.backends import inbox
from mockserver.clock import SandboxClock
from mockserver.delivery_settings import DeliverySettings
from mockserver.faults import FaultRules
from mockserver.wire import iso_timestamp

if TYPE_CHECKING:
    from mockserver.mqtt.channel import PushChannel

log = logging.getLogger("lgmock.callbacks")
MQTT_SCHEME = "mqtts://"

REORDER_WAIT = 0.5  # seconds a "reorder" message waits for a message to overtake it
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass
class Attempt:
    at: str
    outcome: str  # "ok", "http 500", "timeout", "connect error", ...
    status_code: int | None
    latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "outcome": self.outcome,
            "statusCode": self.status_code,
            "latencyMs": round(self.latency_ms, 2),
        }


@dataclass
class Lane:
    """The deliveries to one (receiver URL, device), sent one at a time, in order.

    An object of its own, not just its key: a reset replaces every lane, and a worker
    or retry timer still holding an old one can tell (``DeliveryEngine._current``).
    """

    key: tuple[str, str | None]
    queue: deque[Delivery] = field(default_factory=deque)


@dataclass
class Delivery:
    id: str
    url: str
    body: dict[str, Any]
    kind: str  # pushType, or another name for the message
    request_id: str | None
    device_id: str | None
    created_at: str
    status: str = PENDING
    attempts: list[Attempt] = field(default_factory=list)
    # Set by a callback fault rule: wait before sending; let the next message overtake.
    delay_ms: int = 0
    reorder: bool = False
    fault: str | None = None

    @property
    def lane(self) -> tuple[str, str | None]:
        return (self.url, self.device_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "kind": self.kind,
            "requestId": self.request_id,
            "deviceId": self.device_id,
            "createdAt": self.created_at,
            "status": self.status,
            "attempts": [a.to_dict() for a in self.attempts],
            "fault": self.fault,
            "body": self.body,
        }


@functools.cache
def client_timeout(settings: DeliverySettings) -> aiohttp.ClientTimeout:
    """An attempt's timeouts: one object per settings (a scenario load brings new ones,
    which apply at once), not one per attempt."""
    return aiohttp.ClientTimeout(
        total=None, connect=settings.connect_timeout, sock_read=settings.read_timeout
    )


class DeliveryEngine:
    def __init__(self, clock: SandboxClock, settings: DeliverySettings | None = None) -> None:
        self.clock = clock
        self.settings = settings or DeliverySettings()
        self.journal: OrderedDict[str, Delivery] = OrderedDict()
        self._ids = itertools.count(1)
        self._lanes: dict[tuple[str, str | None], Lane] = {}
        self._ready: asyncio.Queue[Lane] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._client: aiohttp.ClientSession | None = None
        self._idle: asyncio.Event | None = None
        self.faults: FaultRules | None = None
        # ThinQ Connect's broker and publisher, when the server runs one.
        self.mqtt: PushChannel | None = None
        # For the state file: what changed since its last commit (unsaved, saved).
        self._new: dict[str, Delivery] = {}
        self._progressed: dict[str, Delivery] = {}
        self._forgotten: list[str] = []
        self._cleared = False
        # Who hears each change of a delivery (queued, attempted, given up, sent
        # again): an open dashboard. Empty unless someone watches.
        self.listeners: list[Callable[[Delivery], None]] = []

    def _changed(self, delivery: Delivery) -> None:
        if self.journal.get(delivery.id) is not delivery:
            return  # an attempt of before a reset, ending after it: not this state's
        self._progressed[delivery.id] = delivery
        if self.listeners:
            for listener in self.listeners:
                listener(delivery)

    # ------------------------------------------------------------------ intake
    def enqueue(
        self,
        url: str | None,
        body: dict[str, Any],
        *,
        kind: str,
        request_id: str | None = None,
        device_id: str | None = None,
    ) -> Delivery:
        """Queue one message. Must be called from the server's event loop.

        Without a URL (a partner that registered none) the message is journaled as
        failed at once, so a client test can see what it would have received.
        """
        delivery = Delivery(
            id=f"cb-{next(self._ids)}",
            url=url or "",
            body=body,
            kind=kind,
            request_id=request_id,
            device_id=device_id,
            created_at=iso_timestamp(self.clock.now()),
        )
        self._remember(delivery)
        if not url:
            self._give_up(delivery, "no callback URL registered")
            return delivery
        rule = (
            self.faults.fire("callback", {"deviceId": device_id, "kind": kind, "url": url})
            if self.faults
            else None
        )
        effect, value = next(iter(rule.effect.items())) if rule else (None, None)
        if rule is not None:
            delivery.fault = rule.id
        if effect == "drop":
            self._give_up(delivery, f"dropped by fault rule {rule.id}")
            return delivery
        delivery.delay_ms = int(value) if effect == "delay" else 0
        delivery.reorder = effect == "reorder"
        self._schedule(delivery)
        if effect == "duplicate":
            twin = Delivery(
                id=f"cb-{next(self._ids)}",
                url=url,
                body=body,
                kind=kind,
                request_id=request_id,
                device_id=device_id,
                created_at=delivery.created_at,
                fault=rule.id,
            )
            self._remember(twin)
            self._schedule(twin)
        return delivery

    def _give_up(self, delivery: Delivery, outcome: str) -> None:
        delivery.status = FAILED
        delivery.attempts.append(Attempt(delivery.created_at, outcome, None, 0.0))
        self._changed(delivery)

    def redeliver(self, delivery_id: str, url: str | None = None) -> Delivery:
        """Send a delivery again (given up, or delivered and wanted twice); to ``url``
        instead of its own when given (it keeps that URL). A pending one is left as is."""
        delivery = self.journal[delivery_id]
        if delivery.status == PENDING:
            return delivery
        if url is not None and url != delivery.url:
            delivery.url = url
            self._new[delivery.id] = delivery  # its message (the URL in it) written again
        if not delivery.url:
            return delivery
        delivery.status = PENDING
        self._schedule(delivery)
        self._changed(delivery)
        return delivery

    def _remember(self, delivery: Delivery) -> None:
        self.journal[delivery.id] = delivery
        self._new[delivery.id] = delivery
        while len(self.journal) > self.settings.journal_cap:
            oldest_id, oldest = next(iter(self.journal.items()))
            if oldest.status == PENDING:
                break  # never forget what is still owed
            del self.journal[oldest_id]
            if self._new.pop(oldest_id, None) is None:
                self._forgotten.append(oldest_id)
            self._progressed.pop(oldest_id, None)
        self._changed(delivery)

    def _schedule(self, delivery: Delivery) -> None:
        self._ensure_started()
        assert self._ready is not None and self._idle is not None
        self._idle.clear()
        lane = self._lanes.get(delivery.lane)
        if lane is None:
            lane = self._lanes[delivery.lane] = Lane(delivery.lane)
            lane.queue.append(delivery)
            self._ready.put_nowait(lane)
        else:
            lane.queue.append(delivery)  # its worker or retry timer gets to it in turn

    # ------------------------------------------------------------------ workers
    def _ensure_started(self) -> None:
        if self._workers:
            return
        self._ready = asyncio.Queue()
        self._idle = asyncio.Event()
        connector = aiohttp.TCPConnector(limit=self.settings.concurrency)
        self._client = aiohttp.ClientSession(
            connector=connector, headers={"Content-Type": "application/json"}
        )
        self._workers = [
            asyncio.create_task(self._work(), name=f"lgmock-delivery-{n}")
            for n in range(self.settings.concurrency)
        ]

    async def _work(self) -> None:
        assert self._ready is not None
        while True:
            lane = await self._ready.get()
            try:
                await self._serve(lane)
            except Exception:
                # A bug: said, and the lane tried again later; the worker lives on (a
                # dead one would leave its lanes, and in the end all, undelivered).
                log.exception("delivery worker: unexpected error on lane %s", lane.key)
                self._retry_later(lane, self.settings.backoff_max)

    def _current(self, lane: Lane) -> bool:
        """Whether ``lane`` is still this state's: a reset (``clear``) replaces them all,
        and whatever still holds an old one (a worker in an attempt, a retry timer)
        drops it instead of sending its deliveries into the new state."""
        return self._lanes.get(lane.key) is lane

    async def _serve(self, lane: Lane) -> None:
        """Send the first delivery of ``lane``; then hand the lane on (the next one),
        wait for its retry, or end it. A lane is held by one worker or timer at a time."""
        if not self._current(lane) or not lane.queue:
            return
        delivery = lane.queue[0]
        if delivery.reorder:
            # Fault rule "reorder": the next message of the lane overtakes this one;
            # wait briefly for one when none is queued yet.
            delivery.reorder = False
            if len(lane.queue) == 1:
                await asyncio.sleep(REORDER_WAIT)
            if not self._current(lane):
                return
            if len(lane.queue) > 1:
                lane.queue[0], lane.queue[1] = lane.queue[1], lane.queue[0]
                self._hand_on(lane)
                return
        if delivery.delay_ms:
            await asyncio.sleep(delivery.delay_ms / 1000)
            delivery.delay_ms = 0
            if not self._current(lane):
                return
        finished = await self._attempt(delivery)
        if not self._current(lane):
            return  # reset while the attempt ran: the lane went with the old state
        if not finished:
            # Retry later without holding a worker: the lane waits, others go on.
            self._retry_later(
                lane,
                min(
                    self.settings.backoff_initial * 2 ** (len(delivery.attempts) - 1),
                    self.settings.backoff_max,
                ),
            )
            return
        lane.queue.popleft()
        if lane.queue:
            self._hand_on(lane)
            return
        del self._lanes[lane.key]
        if not self._lanes and self._idle is not None:
            self._idle.set()

    def _hand_on(self, lane: Lane) -> None:
        assert self._ready is not None
        self._ready.put_nowait(lane)

    def _retry_later(self, lane: Lane, delay: float) -> None:
        def due() -> None:
            if self._current(lane):
                self._hand_on(lane)

        asyncio.get_running_loop().call_later(delay, due)

    async def _attempt(self, delivery: Delivery) -> bool:
        """One try; True when the delivery is finished (delivered or given up)."""
        if inbox.is_address(delivery.url):
            await asyncio.sleep(0)  # no socket to wait on: let requests be served between
            return self._into_inbox(delivery)
        started = time.perf_counter()
        status_code = None
        if delivery.url.startswith(MQTT_SCHEME):
            outcome = await self._publish(delivery)
        else:
            outcome, status_code = await self._post(delivery)
        latency = (time.perf_counter() - started) * 1000
        delivery.attempts.append(
            Attempt(iso_timestamp(self.clock.now()), outcome, status_code, latency)
        )
        if outcome == "ok":
            delivery.status = DELIVERED
        elif len(delivery.attempts) >= self.settings.attempts:
            delivery.status = FAILED
            log.warning("gave up delivering %s to %s: %s", delivery.id, delivery.url, outcome)
        self._changed(delivery)
        return delivery.status != PENDING

    async def _publish(self, delivery: Delivery) -> str:
        if self.mqtt is None:
            return "no MQTT broker in this server"
        return await self.mqtt.publish(delivery.url, json_codec.dumps(delivery.body))

    async def _post(self, delivery: Delivery) -> tuple[str, int | None]:
        assert self._client is not None
        status_code = None
        try:
            body, timeout = json_codec.dumps(delivery.body), client_timeout(self.settings)
            async with self._client.post(delivery.url, data=body, timeout=timeout) as answer:
                await answer.read()
                status_code = answer.status
            outcome = "ok" if 200 <= status_code < 300 else f"http {status_code}"
        except (TimeoutError, aiohttp.ServerTimeoutError):
            outcome = "timeout"
        except aiohttp.ClientConnectorError:
            outcome = "connect error"
        except aiohttp.ClientError as exc:
            outcome = f"error: {type(exc).__name__}"
        except Exception as exc:  # a bug: counted as a failed attempt, so it ends
            log.exception("delivery %s to %s: unexpected error", delivery.id, delivery.url)
            outcome = f"error: {type(exc).__name__}"
        return outcome, status_code

    def _into_inbox(self, delivery: Delivery) -> bool:
        """The sandbox's own inbox takes a message at once, without a socket: it can
        never reach another process, and a fan-out to it costs no HTTP round trip. The
        lane, its order and the callback fault rules applied all the same."""
        delivery.attempts.append(Attempt(iso_timestamp(self.clock.now()), "ok", None, 0.0))
        delivery.status = DELIVERED
        self._changed(delivery)
        return True

    # ------------------------------------------------------------------ control
    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued or retrying; False on timeout."""
        if not self._lanes or self._idle is None:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def restore(self, items: list[dict[str, Any]], *, saved: bool = True) -> None:
        """Take back a saved journal (state file); what was pending is sent on ``resume``.

        ``saved``: the items are in the state file already (False for a migrated file).
        """
        self.journal.clear()
        if saved:
            # A restart builds the sandbox before it restores the journal, and building
            # clears the engine: the file then holds these rows, and the next commit must
            # not delete them (a second crash would lose every delivery still owed).
            self._cleared = False
        for item in items:
            delivery = Delivery(
                id=item["id"],
                url=item["url"],
                body=item["body"],
                kind=item["kind"],
                request_id=item.get("requestId"),
                device_id=item.get("deviceId"),
                created_at=item["createdAt"],
                status=item["status"],
                attempts=[
                    Attempt(a["at"], a["outcome"], a.get("statusCode"), a.get("latencyMs", 0.0))
                    for a in item.get("attempts", [])
                ],
                fault=item.get("fault"),
            )
            self.journal[delivery.id] = delivery
            if not saved:
                self._new[delivery.id] = delivery
        numbers = [int(i.split("-")[-1]) for i in self.journal if i.split("-")[-1].isdigit()]
        self._ids = itertools.count(max(numbers, default=0) + 1)

    def resume(self) -> None:
        """Send what the journal still owes (after a restart). Needs the running loop."""
        for delivery in self.journal.values():
            if delivery.status == PENDING and delivery.url:
                self._schedule(delivery)

    def clear(self) -> None:
        """Forget the journal and drop what is queued (a sandbox reset)."""
        self.journal.clear()
        self._lanes.clear()
        self._new.clear()
        self._progressed.clear()
        self._forgotten.clear()
        self._cleared = True
        if self._idle is not None:
            self._idle.set()

    def has_unsaved(self) -> bool:
        return bool(self._cleared or self._new or self._progressed or self._forgotten)

    def unsaved(self) -> tuple[bool, list[Delivery], list[Delivery], list[str]]:
        """(cleared, new deliveries, ones whose status or attempts changed, ids forgotten)
        since the state file last committed: what it writes next. Kept until ``saved``."""
        progressed = [d for key, d in self._progressed.items() if key not in self._new]
        return self._cleared, list(self._new.values()), progressed, list(self._forgotten)

    def saved(self) -> None:
        """What ``unsaved`` said is committed."""
        self._cleared = False
        self._new = {}
        self._progressed = {}
        self._forgotten = []

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self._client is not None:
            await self._client.close()
            self._client = None

    def find(
        self,
        *,
        request_id: str | None = None,
        device_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> list[Delivery]:
        return [
            d
            for d in self.journal.values()
            if (request_id is None or d.request_id == request_id)
            and (device_id is None or d.device_id == device_id)
            and (status is None or d.status == status)
            and (kind is None or d.kind == kind)
        ]
