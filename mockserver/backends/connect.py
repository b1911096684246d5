"""The ThinQ Connect API's rules: PAT callers, devices answered at once, clients, subscriptions.

ThinQ Connect is what LG's own SDK (``thinqconnect``) calls: a user's personal access
token (PAT) reaches that user's devices, and every answer is synchronous. The devices,
profiles and statuses are the simulator's (``DeviceStore``), so a control here is what
Business Connect and the ThinQ asynchronous API read next, and the other way round.

The push channel (MQTT with mutual TLS: the certificate ``POST /client/certificate``
signs, the broker ``GET /route`` names) is not this module's: it is a ``PushChannel``
the sandbox plugs in. Until one is plugged in, the route names the address LG's SDK
would connect to and a certificate request answers 501 (not implemented yet), as the
portal documents that status. ``push_subscribers``, ``event_subscribers`` and
``device_push_clients`` say who hears of what, for whoever delivers the messages.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from mockserver.backends.accounts import Accounts, User
from mockserver.backends.devices import Device, DeviceInfo, DeviceStore, Status
from mockserver.clock import SandboxClock
from mockserver.errors import ApiError, Err

# The key every copy of LG's SDK sends (``thinqconnect.const.API_KEY``): public, in the
# SDK's source. The sandbox accepts it and nothing else (spec-notes TC-03).
SDK_API_KEY = "v6GFvkweNo7DK7yD3ylIZ9w52aKBU0eJ7wLXkSR3"
SERVICE_PHASES = ("OP", "QA")
# Where LG's SDK connects when nothing else is said: the port is dropped by the SDK,
# which always uses 8883 (issue 22 replaces this with the sandbox's own broker).
DEFAULT_MQTT_SERVER = "mqtts://127.0.0.1:8883"
MAX_EVENT_HOURS = 4464  # what the SDK asks for: 186 days
# Energy figures a device reports, per device type, and a typical day's use in Wh.
ENERGY_PROPERTY = "totalEnergy"
DAILY_WH: dict[str, int] = {
    "DEVICE_AIR_CONDITIONER": 6500,
    "DEVICE_REFRIGERATOR": 1200,
    "DEVICE_KIMCHI_REFRIGERATOR": 700,
    "DEVICE_WASHER": 900,
    "DEVICE_DRYER": 2200,
    "DEVICE_WASHTOWER_WASHER": 900,
    "DEVICE_WASHTOWER_DRYER": 2200,
    "DEVICE_STYLER": 800,
    "DEVICE_DISH_WASHER": 1100,
    "DEVICE_WATER_HEATER": 3800,
    "DEVICE_SYSTEM_BOILER": 9000,
    "DEVICE_DEHUMIDIFIER": 1500,
    "DEVICE_AIR_PURIFIER": 300,
}
MAX_DAYS = 31  # a DAILY query spans at most a month (spec-notes TC-09)
MAX_MONTHS = 12


class PushChannel(Protocol):
    """The MQTT side of ThinQ Connect, filled in by the broker (issue 22)."""

    @property
    def route_url(self) -> str | None:
        """``mqtts://host:port`` of the broker for ``GET /route``; None without a broker."""
        ...

    def certificate(self, client_id: str, csr: str) -> tuple[str, list[str]]:
        """Sign ``csr`` (base64 DER) for a client: (certificate PEM, its topics).

        Raises ValueError, with a message for the client, on a CSR it cannot sign.
        """
        ...


class NoPushChannel:
    """No broker yet: the route names LG's default, a certificate cannot be issued."""

    route_url = DEFAULT_MQTT_SERVER

    def certificate(self, client_id: str, csr: str) -> tuple[str, list[str]]:
        raise ApiError(
            Err.NOT_IMPLEMENTED,
            "this sandbox has no MQTT push channel, so it cannot sign a client certificate",
            field="csr",
        )


@dataclass
class Client:
    """A client registered with ``POST /client`` (the SDK's MQTT client)."""

    client_id: str
    user_number: str
    kind: str  # "MQTT"
    service_code: str
    device_type: str


@dataclass
class EventSubscription:
    client_id: str
    user_number: str
    device_id: str
    expires_at: float  # sandbox clock, seconds since the epoch


def device_info(device: DeviceInfo) -> dict[str, Any]:
    """What ThinQ Connect says of a device: in ``GET /devices``, and in the
    DEVICE_REGISTERED message (notifications.py)."""
    info: dict[str, Any] = {
        "deviceType": device.device_type,
        "modelName": device.model_name,
        "alias": device.alias,
        "reportable": True,
    }
    if device.group_id:
        info["groupId"] = device.group_id
    return info


class ConnectBackend:
    def __init__(
        self, accounts: Accounts, devices: DeviceStore, clock: SandboxClock, seed: int = 0
    ) -> None:
        self.accounts = accounts
        self.devices = devices
        self.clock = clock
        self.seed = seed
        self.push_channel: PushChannel = NoPushChannel()
        self.clients: dict[str, Client] = {}
        self.push_subscriptions: dict[tuple[str, str], str] = {}  # (client, device) -> user
        self.event_subscriptions: dict[tuple[str, str], EventSubscription] = {}
        self.device_push_clients: dict[str, str] = {}  # client id -> user number
        # Set by the sandbox: marks the thinqConnect family changed (the state file).
        self.changed: Callable[[], None] = _nothing

    # ------------------------------------------------------------------ callers
    def caller(self, pat: str, country: str, api_key: str) -> User:
        """The user of a PAT, if the call's country and the SDK's key go with it."""
        if api_key != SDK_API_KEY:
            raise ApiError(
                Err.INVALID_SERVICE_KEY,
                "x-api-key is not the ThinQ Connect SDK's key (thinqconnect.const.API_KEY)",
                field="x-api-key",
            )
        user = self.accounts.find_user_by_pat(pat)
        if user is None:
            raise ApiError(
                Err.TOKEN_INVALID,
                "unknown personal access token (GET /_sandbox/state lists each user's pat)",
                field="Authorization",
            )
        if country != user.country_code:
            raise ApiError(
                Err.INVALID_HEADER,
                f"x-country {country} is not the country of the token's user ({user.country_code})",
                field="x-country",
            )
        return user

    def route(self, api_server: str) -> dict[str, str]:
        web_socket = api_server.replace("http://", "ws://").replace("https://", "wss://")
        return {
            "apiServer": api_server,
            # Without a broker (mosquitto missing), where LG's SDK would look by default.
            "mqttServer": self.push_channel.route_url or DEFAULT_MQTT_SERVER,
            "webSocketServer": web_socket.rstrip("/") + "/ws",
        }

    # ------------------------------------------------------------------ devices
    def device_list(self, user: User) -> list[dict[str, Any]]:
        return [
            {"deviceId": device.device_id, "deviceInfo": device_info(device)}
            for device in self.devices.owned_by(user.user_number)
        ]

    def _owned(self, user: User, device_id: str) -> Device:
        if not self.devices.has(device_id):
            raise ApiError(Err.DEVICE_NOT_FOUND, f"no device {device_id}", field="deviceId")
        device = self.devices.get(device_id)
        if device.owner != user.user_number:
            raise ApiError(
                Err.DEVICE_NOT_FOUND,
                f"device {device_id} is not a device of user {user.user_number}",
                field="deviceId",
                vendor_code="1212",
            )
        return device

    def profile(self, user: User, device_id: str) -> dict[str, Any]:
        # Profiles are cloud data: an offline device still has one.
        return self._owned(user, device_id).profile.raw

    def state(self, user: User, device_id: str) -> Status:
        device = self._owned(user, device_id)
        if not device.online:
            raise ApiError(Err.DEVICE_OFFLINE, f"device {device_id} is not connected")
        return device.status

    def control(self, user: User, device_id: str, command: dict[str, Any]) -> None:
        """Apply ``command``; the profile refuses a value it does not allow, atomically."""
        self._owned(user, device_id)
        self.devices.control(device_id, command)

    # ------------------------------------------------------------------ energy
    def energy_profile(self, user: User, device_id: str) -> dict[str, Any]:
        device = self._owned(user, device_id)
        self._energy_base(device)
        return {"result": {"property": [ENERGY_PROPERTY]}}

    def energy_usage(
        self,
        user: User,
        device_id: str,
        energy_property: str,
        period: str,
        start: str,
        end: str,
    ) -> dict[str, Any]:
        """Usage simulated from the seed and the sandbox clock: the same every time."""
        device = self._owned(user, device_id)
        base = self._energy_base(device)
        if energy_property != ENERGY_PROPERTY:
            raise ApiError(
                Err.INVALID_BODY,
                f"property {energy_property!r} is not in the device's energy profile "
                f"([{ENERGY_PROPERTY!r}])",
                field="property",
            )
        today = self.clock.now().date()
        first, last = _period(period, start, "startDate"), _period(period, end, "endDate")
        if last < first:
            raise ApiError(Err.INVALID_BODY, "endDate is before startDate", field="endDate")
        if last > today:
            raise ApiError(
                Err.INVALID_BODY,
                f"endDate {end} is after today ({today:%Y%m%d}, sandbox clock)",
                field="endDate",
            )
        if period == "DAILY":
            days = (last - first).days + 1
            if days > MAX_DAYS:
                raise ApiError(
                    Err.INVALID_BODY,
                    f"a DAILY period spans at most {MAX_DAYS} days",
                    field="endDate",
                )
            entries = [
                {"usedDate": f"{day:%Y%m%d}", ENERGY_PROPERTY: self._day_wh(device, base, day)}
                for day in (first + timedelta(days=n) for n in range(days))
            ]
        else:
            months = (last.year - first.year) * 12 + last.month - first.month + 1
            if months > MAX_MONTHS:
                raise ApiError(
                    Err.INVALID_BODY,
                    f"a MONTHLY period spans at most {MAX_MONTHS} months",
                    field="endDate",
                )
            entries = []
            for n in range(months):
                year, month = divmod(first.month - 1 + n, 12)
                month_start = date(first.year + year, month + 1, 1)
                length = calendar.monthrange(month_start.year, month_start.month)[1]
                days_in = [month_start + timedelta(days=d) for d in range(length)]
                total = sum(self._day_wh(device, base, d) for d in days_in if d <= today)
                entries.append({"usedDate": f"{month_start:%Y%m}", ENERGY_PROPERTY: total})
        return {"result": {"dataList": entries}}

    def _energy_base(self, device: Device) -> int:
        base = DAILY_WH.get(device.device_type)
        if base is None:
            raise ApiError(
                Err.INVALID_COMMAND,
                f"device type {device.device_type} reports no energy usage",
                field="deviceId",
                vendor_code="2201",
            )
        return base

    def _day_wh(self, device: Device, base: int, day: date) -> int:
        """One day's use: the base, varied by the seed; today only up to the clock's hour."""
        rng = random.Random(f"{self.seed}:{device.device_id}:{day.isoformat()}")
        wh = round(base * (0.7 + 0.6 * rng.random()))
        now = self.clock.now()
        if day == now.date():
            wh = round(wh * (now.hour * 60 + now.minute) / (24 * 60))
        return wh

    # ------------------------------------------------------------------ clients
    def register_client(self, user: User, client_id: str, body: dict[str, Any]) -> None:
        existing = self.clients.get(client_id)
        if existing is not None:
            if existing.user_number != user.user_number:
                raise ApiError(
                    Err.BAD_REQUEST,
                    f"client {client_id} is registered by another user",
                    field="x-client-id",
                    vendor_code="1225",
                )
            if not body.get("allowExist", False):
                raise ApiError(
                    Err.BAD_REQUEST,
                    f"client {client_id} is already registered (send allowExist: true "
                    "to accept that)",
                    field="x-client-id",
                    vendor_code="1225",
                )
        self.clients[client_id] = Client(
            client_id, user.user_number, body["type"], body["service-code"], body["device-type"]
        )
        self.changed()

    def _client(self, user: User, client_id: str) -> Client:
        client = self.clients.get(client_id)
        if client is None or client.user_number != user.user_number:
            raise ApiError(
                Err.DEVICE_NOT_FOUND,
                f"client {client_id} is not registered (POST /client first)",
                field="x-client-id",
                vendor_code="1213",
            )
        return client

    def delete_client(self, user: User, client_id: str) -> None:
        self._client(user, client_id)
        del self.clients[client_id]
        self.changed()

    def issue_certificate(self, user: User, client_id: str, csr: str) -> dict[str, Any]:
        """The push channel's certificate for a registered client (issue 22's seam)."""
        client = self._client(user, client_id)
        try:
            pem, subscriptions = self.push_channel.certificate(client.client_id, csr)
        except ValueError as exc:
            raise ApiError(Err.INVALID_BODY, f"csr: {exc}", field="csr") from exc
        return {"result": {"certificatePem": pem, "subscriptions": subscriptions}}

    # ------------------------------------------------------------------ push
    # Subscriptions belong to the calling client (x-client-id) on one of the user's
    # devices: the client's MQTT topic is where their messages go (spec-notes TC-08).
    def push_list(self, user: User, client_id: str) -> list[dict[str, str]]:
        return [
            {"deviceId": device_id}
            for (client, device_id), owner in self.push_subscriptions.items()
            if client == client_id and owner == user.user_number
        ]

    def subscribe_push(self, user: User, client_id: str, device_id: str) -> None:
        self._owned(user, device_id)
        key = (client_id, device_id)
        if key in self.push_subscriptions:
            raise ApiError(
                Err.ALREADY_SUBSCRIBED,
                f"client {client_id} already receives the pushes of device {device_id}",
                field="deviceId",
            )
        self.push_subscriptions[key] = user.user_number
        self.changed()

    def unsubscribe_push(self, user: User, client_id: str, device_id: str) -> None:
        self._owned(user, device_id)
        if self.push_subscriptions.pop((client_id, device_id), None) is None:
            raise ApiError(
                Err.NOT_SUBSCRIBED,
                f"client {client_id} has no push subscription for device {device_id}",
                field="deviceId",
                vendor_code="1206",
            )
        self.changed()

    def push_subscribers(self, device_id: str) -> list[tuple[str, str]]:
        """(client id, user number) of every push subscription of a device."""
        if not self.push_subscriptions:
            return []
        return [(c, u) for (c, d), u in self.push_subscriptions.items() if d == device_id]

    # ------------------------------------------------------------------ device pushes
    def device_push_list(self, user: User) -> list[dict[str, str]]:
        return [
            {"clientId": client_id}
            for client_id, owner in self.device_push_clients.items()
            if owner == user.user_number
        ]

    def device_push_subscribers(self, user_number: str) -> list[str]:
        """Client ids told when a device of ``user_number`` is registered, removed, renamed."""
        return [c for c, owner in self.device_push_clients.items() if owner == user_number]

    def subscribe_device_push(self, user: User, client_id: str) -> None:
        if client_id in self.device_push_clients:
            raise ApiError(
                Err.ALREADY_SUBSCRIBED,
                f"client {client_id} is already told of device registrations",
                field="x-client-id",
            )
        self.device_push_clients[client_id] = user.user_number
        self.changed()

    def unsubscribe_device_push(self, user: User, client_id: str) -> None:
        if self.device_push_clients.get(client_id) != user.user_number:
            raise ApiError(
                Err.NOT_SUBSCRIBED,
                f"client {client_id} is not told of device registrations",
                field="x-client-id",
                vendor_code="1206",
            )
        del self.device_push_clients[client_id]
        self.changed()

    # ------------------------------------------------------------------ events
    def event_list(self, user: User, client_id: str) -> list[dict[str, str]]:
        found = []
        for key in [key for key in self.event_subscriptions if key[0] == client_id]:
            subscription = self._live(key)
            if subscription is not None and subscription.user_number == user.user_number:
                expires = datetime.fromtimestamp(subscription.expires_at, UTC)
                found.append({"deviceId": key[1], "expiredTime": expires.isoformat()})
        return found

    def subscribe_event(self, user: User, client_id: str, device_id: str, hours: int) -> None:
        self._owned(user, device_id)
        expires = (self.clock.now() + timedelta(hours=hours)).timestamp()
        # Subscribing again renews the expiry from now, as the asynchronous API does.
        self.event_subscriptions[(client_id, device_id)] = EventSubscription(
            client_id, user.user_number, device_id, expires
        )
        self.changed()

    def unsubscribe_event(self, user: User, client_id: str, device_id: str) -> None:
        self._owned(user, device_id)
        key = (client_id, device_id)
        if self._live(key) is None:
            raise ApiError(
                Err.NOT_SUBSCRIBED,
                f"client {client_id} has no event subscription for device {device_id}",
                field="deviceId",
            )
        del self.event_subscriptions[key]
        self.changed()

    def _live(self, key: tuple[str, str]) -> EventSubscription | None:
        subscription = self.event_subscriptions.get(key)
        if subscription is not None and subscription.expires_at <= self.clock.timestamp():
            del self.event_subscriptions[key]  # expiry is silent: it just stops
            self.changed()
            return None
        return subscription

    def event_subscribers(self, device_id: str) -> list[EventSubscription]:
        """The live event subscriptions of a device (whose clients hear its changes)."""
        if not self.event_subscriptions:
            return []
        keys = [key for key in self.event_subscriptions if key[1] == device_id]
        return [s for s in map(self._live, keys) if s is not None]


def _period(period: str, value: str, field: str) -> date:
    """The first day a ``YYYYMMDD`` (DAILY) or ``YYYYMM`` (MONTHLY) value names."""
    wanted = 8 if period == "DAILY" else 6
    if len(value) != wanted:
        raise ApiError(
            Err.INVALID_BODY,
            f"{field} {value!r} must be {'YYYYMMDD' if wanted == 8 else 'YYYYMM'} "
            f"for a {period} period",
            field=field,
        )
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]) if wanted == 8 else 1)
    except ValueError as exc:
        raise ApiError(Err.INVALID_BODY, f"{field} {value!r}: {exc}", field=field) from exc


def _nothing() -> None:
    pass
