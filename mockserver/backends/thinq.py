"""The ThinQ asynchronous API's rules: services, per-device outcomes, subscriptions.

Each operation returns one ``Outcome`` per device: what that device's callback will
say. Rendering the callbacks and sending them is not the backend's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mockserver.backends.accounts import Accounts, Service, User
from mockserver.backends.devices import DeviceInfo, DeviceStore
from mockserver.clock import SandboxClock
from mockserver.errors import ApiError, Err

PROFILE = "DEVICE_PROFILE"
STATUS = "DEVICE_STATUS"
CONTROL = "DEVICE_CONTROL"
EVENT_SUBSCRIBED = "DEVICE_EVENT_SUBSCRIBED"
EVENT_UNSUBSCRIBED = "DEVICE_EVENT_UNSUBSCRIBED"
PUSH_SUBSCRIBED = "DEVICE_PUSH_SUBSCRIBED"
PUSH_UNSUBSCRIBED = "DEVICE_PUSH_UNSUBSCRIBED"
# Every pushType of a callback answering a request, as the seed's examples name them.
SEED_PUSH_TYPES = (
    PROFILE,
    STATUS,
    CONTROL,
    EVENT_SUBSCRIBED,
    EVENT_UNSUBSCRIBED,
    PUSH_SUBSCRIBED,
    PUSH_UNSUBSCRIBED,
)


@dataclass
class Outcome:
    """One device's part of an asynchronous call: a result, or the error it met."""

    device: DeviceInfo
    push_type: str
    result: Any = None
    error: ApiError | None = None


@dataclass
class EventSubscription:
    service_id: str
    user_number: str
    device_id: str
    expires_at: float  # sandbox clock, seconds since the epoch


@dataclass
class ThinqOptions:
    push_subscribed_type: str = PUSH_SUBSCRIBED


class ThinqBackend:
    def __init__(
        self,
        accounts: Accounts,
        devices: DeviceStore,
        clock: SandboxClock,
        options: ThinqOptions | None = None,
    ) -> None:
        self.accounts = accounts
        self.devices = devices
        self.clock = clock
        self.options = options or ThinqOptions()
        self.event_subscriptions: dict[tuple[str, str], EventSubscription] = {}
        self.push_subscriptions: dict[tuple[str, str], str] = {}  # -> user number
        # Set by the sandbox: marks the thinqAsync family changed (the state file).
        self.changed: Callable[[], None] = _nothing

    # ------------------------------------------------------------------ callers
    def service(self, service_id: str | None, service_key: str | None) -> Service:
        service = self.accounts.services.get(service_id or "")
        if service is None or service.service_key != service_key:
            raise ApiError(
                Err.INVALID_SERVICE_KEY,
                "x-service-id and x-service-key do not name a registered service",
                field="x-service-key",
            )
        return service

    def user(self, access_token: str, country: str | None) -> User:
        user = self.accounts.find_user(access_token)
        if user is None:
            raise ApiError(Err.TOKEN_INVALID, "unknown access token", field="Authorization")
        if (country or "").upper() != user.country_code:
            raise ApiError(
                Err.INVALID_HEADER,
                f"x-country-code {country} is not the user's country {user.country_code}",
                field="x-country-code",
            )
        return user

    def owned(self, user: User) -> list[DeviceInfo]:
        return self.devices.owned_by(user.user_number)

    # ------------------------------------------------------------------ queries
    # Each operation works on the user's devices, or on ``devices``, a part of them (a
    # fan-out over a fleet is done in parts, handlers/thinq.py).

    def _devices(self, user: User, devices: list[DeviceInfo] | None) -> list[DeviceInfo]:
        return self.owned(user) if devices is None else devices

    def profiles(self, user: User, devices: list[DeviceInfo] | None = None) -> list[Outcome]:
        # Profiles are cloud data: an offline device still has one.
        return [Outcome(d, PROFILE, result=d.profile.raw) for d in self._devices(user, devices)]

    def statuses(self, user: User, devices: list[DeviceInfo] | None = None) -> list[Outcome]:
        outcomes = []
        for device in self._devices(user, devices):
            if device.online:
                # Read, not kept: a status query over a fleet materialises nothing.
                status = self.devices.status_of(device.device_id)
                outcomes.append(Outcome(device, STATUS, result=status))
            else:
                outcomes.append(Outcome(device, STATUS, error=_offline(device)))
        return outcomes

    def control(
        self,
        user: User,
        device_type: str,
        command: Any,
        devices: list[DeviceInfo] | None = None,
    ) -> list[Outcome]:
        outcomes = []
        for device in self._devices(user, devices):
            if device.device_type != device_type:
                continue
            try:
                # A list is several commands applied in order (spec-notes TQ-09).
                for step in command if isinstance(command, list) else [command]:
                    self.devices.control(device.device_id, step)
            except ApiError as error:
                outcomes.append(Outcome(device, CONTROL, error=error))
            else:
                outcomes.append(Outcome(device, CONTROL, result={}))
        return outcomes

    # ------------------------------------------------------------------ events
    def subscribe_events(
        self, service: Service, user: User, hours: int, devices: list[DeviceInfo] | None = None
    ) -> list[Outcome]:
        expires = (self.clock.now() + timedelta(hours=hours)).timestamp()
        outcomes = []
        for device in self._devices(user, devices):
            # Subscribing again renews the expiry from now (seed 000).
            self.event_subscriptions[(service.service_id, device.device_id)] = EventSubscription(
                service.service_id, user.user_number, device.device_id, expires
            )
            outcomes.append(Outcome(device, EVENT_SUBSCRIBED, result={}))
        self.changed()
        return outcomes

    def unsubscribe_events(
        self, service: Service, user: User, devices: list[DeviceInfo] | None = None
    ) -> list[Outcome]:
        outcomes = []
        for device in self._devices(user, devices):
            key = (service.service_id, device.device_id)
            if self._live_event_subscription(key) is None:
                error = ApiError(
                    Err.NOT_SUBSCRIBED, f"device {device.device_id} has no event subscription"
                )
                outcomes.append(Outcome(device, EVENT_UNSUBSCRIBED, error=error))
            else:
                del self.event_subscriptions[key]
                outcomes.append(Outcome(device, EVENT_UNSUBSCRIBED, result={}))
        self.changed()
        return outcomes

    def _live_event_subscription(self, key: tuple[str, str]) -> EventSubscription | None:
        subscription = self.event_subscriptions.get(key)
        if subscription is None:
            return None
        if subscription.expires_at <= self.clock.timestamp():
            # Expiry is silent (spec-notes TQ-11): the subscription just stops.
            del self.event_subscriptions[key]
            self.changed()
            return None
        return subscription

    def event_subscribers(self, device: DeviceInfo) -> list[EventSubscription]:
        # By service, not by scanning every subscription: a fan-out over a fleet asks
        # this once per device.
        if not self.event_subscriptions:
            return []
        keys = [(service_id, device.device_id) for service_id in self.accounts.services]
        live = (self._live_event_subscription(k) for k in keys)
        return [s for s in live if s is not None]

    # ------------------------------------------------------------------ pushes
    def subscribe_push(
        self, service: Service, user: User, devices: list[DeviceInfo] | None = None
    ) -> list[Outcome]:
        kind = self.options.push_subscribed_type
        outcomes = []
        for device in self._devices(user, devices):
            key = (service.service_id, device.device_id)
            if key in self.push_subscriptions:
                error = ApiError(
                    Err.ALREADY_SUBSCRIBED, f"device {device.device_id} is already subscribed"
                )
                outcomes.append(Outcome(device, kind, error=error))
            else:
                self.push_subscriptions[key] = user.user_number
                outcomes.append(Outcome(device, kind, result={}))
        self.changed()
        return outcomes

    def unsubscribe_push(
        self, service: Service, user: User, devices: list[DeviceInfo] | None = None
    ) -> list[Outcome]:
        outcomes = []
        for device in self._devices(user, devices):
            key = (service.service_id, device.device_id)
            if self.push_subscriptions.pop(key, None) is None:
                error = ApiError(
                    Err.NOT_SUBSCRIBED,
                    f"device {device.device_id} has no push subscription",
                    vendor_code="1206",
                )
                outcomes.append(Outcome(device, PUSH_UNSUBSCRIBED, error=error))
            else:
                outcomes.append(Outcome(device, PUSH_UNSUBSCRIBED, result={}))
        self.changed()
        return outcomes

    def push_subscribers(self, device: DeviceInfo) -> list[tuple[str, str]]:
        """(service id, user number) of every push subscription of ``device``."""
        found = []
        for service_id in self.accounts.services if self.push_subscriptions else ():
            user_number = self.push_subscriptions.get((service_id, device.device_id))
            if user_number is not None:
                found.append((service_id, user_number))
        return found


def _nothing() -> None:
    pass


def _offline(device: DeviceInfo) -> ApiError:
    return ApiError(Err.DEVICE_OFFLINE, f"device {device.device_id} is not connected")
