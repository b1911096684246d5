"""Turns what happens to a device into messages for everyone subscribed to it.

Registered as a listener of the device store, so a change made through any door
(Business Connect control, ThinQ control-async, the control API, a timer, a DR signal)
reaches ThinQ event subscribers, Business Connect push subscribers and ThinQ Connect
clients (over MQTT, to each subscribed client's topic) alike.
"""

from __future__ import annotations

from typing import Any

from mockserver import messages
from mockserver.backends.connect import device_info
from mockserver.backends.devices import (
    Device,
    DeviceAdded,
    DeviceChange,
    DeviceEvent,
    DevicePush,
    DeviceUpdate,
)
from mockserver.backends.sandbox import Sandbox
from mockserver.callbacks import DeliveryEngine
from mockserver.wire import iso_timestamp

STATE = "DEVICE_STATUS"
PUSH = "DEVICE_PUSH"
REGISTERED = "DEVICE_REGISTERED"
UNREGISTERED = "DEVICE_UNREGISTERED"
ALIAS_CHANGED = "DEVICE_ALIAS_CHANGED"


class Notifier:
    def __init__(self, sandbox: Sandbox, engine: DeliveryEngine) -> None:
        self.sandbox = sandbox
        self.engine = engine

    def __call__(self, event: DeviceEvent) -> None:
        if isinstance(event, DeviceChange):
            self._thinq_events(event)
            self._business_connect(event.device, STATE, report=event.changed)
            self._connect_events(event)
        elif isinstance(event, DevicePush):
            self._thinq_pushes(event)
            self._business_connect(event.device, PUSH, push_code=event.code)
            self._connect_pushes(event)
        elif isinstance(event, DeviceUpdate) and "alias" in event.fields:
            self._connect_owner(event.device, ALIAS_CHANGED, alias=event.device.alias)
        elif isinstance(event, DeviceAdded):
            self._connect_owner(event.device, REGISTERED, deviceInfo=device_info(event.device))
        # Going on- or offline is no status report: no API sends one.

    def _timestamp(self) -> str:
        return iso_timestamp(self.sandbox.clock.now())

    def _thinq_events(self, change: DeviceChange) -> None:
        subscribers = [
            (s.service_id, s.user_number)
            for s in self.sandbox.thinq.event_subscribers(change.device)
        ]
        self._to_thinq(change.device, STATE, subscribers, report=change.changed)

    def _thinq_pushes(self, push: DevicePush) -> None:
        subscribers = self.sandbox.thinq.push_subscribers(push.device)
        self._to_thinq(push.device, PUSH, subscribers, push_code=push.code)

    def _to_thinq(
        self,
        device: Device,
        push_type: str,
        subscribers: list[tuple[str, str]],
        **content: Any,
    ) -> None:
        for service_id, user_number in subscribers:
            service = self.sandbox.accounts.services.get(service_id)
            body = messages.thinq_message(
                push_type=push_type,
                device=device,
                service_id=service_id,
                user_number=user_number,
                timestamp=self._timestamp(),
                **content,
            )
            self.engine.enqueue(
                service.delivery_url if service else None,
                body,
                kind=push_type,
                device_id=device.device_id,
            )

    def _business_connect(self, device: Device, push_type: str, **content: Any) -> None:
        device_id = device.device_id
        for partner in self.sandbox.accounts.partners.values():
            if device_id not in partner.push_subscriptions:
                continue
            body = messages.business_connect_message(
                push_type=push_type, device=device, timestamp=self._timestamp(), **content
            )
            self.engine.enqueue(partner.delivery_url, body, kind=push_type, device_id=device_id)

    # ------------------------------------------------------------------ ThinQ Connect
    # Subscriptions belong to a client (x-client-id): its MQTT topic hears of them.
    def _connect_events(self, change: DeviceChange) -> None:
        subscribers = [
            (s.client_id, s.user_number)
            for s in self.sandbox.connect.event_subscribers(change.device.device_id)
        ]
        self._to_connect(change.device, STATE, subscribers, report=change.changed)

    def _connect_pushes(self, push: DevicePush) -> None:
        subscribers = self.sandbox.connect.push_subscribers(push.device.device_id)
        self._to_connect(push.device, PUSH, subscribers, pushCode=push.code)

    def _connect_owner(self, device: Device, push_type: str, **content: Any) -> None:
        """Registrations, removals, renames: to the clients of the device's owner that
        subscribed to them (``POST /connect/push/devices``)."""
        if not device.owner:
            return
        clients = self.sandbox.connect.device_push_subscribers(device.owner)
        self._to_connect(device, push_type, [(c, device.owner) for c in clients], **content)

    def _to_connect(
        self,
        device: Device,
        push_type: str,
        subscribers: list[tuple[str, str]],
        **content: Any,
    ) -> None:
        channel = self.engine.mqtt
        for client_id, user_number in subscribers:
            body = messages.connect_message(
                push_type=push_type,
                device=device,
                user_number=user_number,
                timestamp=self._timestamp(),
                **content,
            )
            url = channel.url_for(client_id) if channel is not None else ""
            self.engine.enqueue(url, body, kind=push_type, device_id=device.device_id)
