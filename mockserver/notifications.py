"""Turns what happens to a device into messages for everyone subscribed to it.

Registered as a listener of the device store, so a change made through any door
(Business Connect control, ThinQ control-async, the control API, a timer, a DR signal)
reaches ThinQ event subscribers and Business Connect push subscribers alike.
"""

from __future__ import annotations

from typing import Any

from mockserver import messages
from mockserver.backends.devices import Device, DeviceChange, DeviceEvent, DevicePush
from mockserver.backends.sandbox import Sandbox
from mockserver.callbacks import DeliveryEngine
from mockserver.wire import iso_timestamp

STATE = "DEVICE_STATUS"
PUSH = "DEVICE_PUSH"


class Notifier:
    def __init__(self, sandbox: Sandbox, engine: DeliveryEngine) -> None:
        self.sandbox = sandbox
        self.engine = engine

    def __call__(self, event: DeviceEvent) -> None:
        if isinstance(event, DeviceChange):
            self._thinq_events(event)
            self._business_connect(event.device, STATE, report=event.changed)
        elif isinstance(event, DevicePush):
            self._thinq_pushes(event)
            self._business_connect(event.device, PUSH, push_code=event.code)
        # A DeviceUpdate (online, ...) is no status report: neither API sends one.

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
