"""Business Connect rules over the shared state: which devices a caller reaches, push
subscriptions per partner, and a user's disconnection from a partner's service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mockserver.backends.accounts import Accounts, Partner, User
from mockserver.backends.devices import Device, DeviceInfo, DeviceStore
from mockserver.errors import ApiError, Err

REGISTERED = "REGISTERED"
IN_HEADER = "IN-HEADER"


@dataclass(frozen=True)
class Reach:
    """Whose devices a call may touch: the partner's REGISTERED account, or one user's."""

    partner: Partner
    user: User | None = None

    @property
    def account(self) -> str:
        return IN_HEADER if self.user else REGISTERED


class BusinessConnectBackend:
    def __init__(self, accounts: Accounts, devices: DeviceStore) -> None:
        self.accounts = accounts
        self.devices = devices
        # Set by the sandbox: marks an entity family changed (the state file).
        self.changed: Callable[[str], None] = lambda family: None

    def devices_in_reach(self, reach: Reach) -> list[DeviceInfo]:
        """Listing material (ids, types, aliases): untouched devices stay records."""
        if reach.user is not None:
            return self.devices.owned_by(reach.user.user_number)
        return self.devices.registered_to(reach.partner.partner_id)

    def in_reach(self, reach: Reach, device: DeviceInfo) -> bool:
        if reach.user is not None:
            return device.owner == reach.user.user_number
        return reach.partner.partner_id in device.registered_to

    def device(self, reach: Reach, device_id: str) -> Device:
        # A device that exists but lies outside the caller's reach is reported exactly
        # like one that does not exist: the service must not reveal other accounts.
        info = self.devices.info(device_id)
        if info is not None and self.in_reach(reach, info):
            return self.devices.get(device_id)
        raise ApiError(
            Err.DEVICE_NOT_FOUND,
            f"no device {device_id} in the {reach.account} account",
            field="deviceId",
        )

    def control(self, reach: Reach, device_id: str, command: object) -> Device:
        self.device(reach, device_id)
        return self.devices.control(device_id, command)

    # ------------------------------------------------------------------ push
    def subscribed(self, reach: Reach) -> list[str]:
        subscribed = reach.partner.push_subscriptions
        return [d.device_id for d in self.devices_in_reach(reach) if d.device_id in subscribed]

    def _known(self, reach: Reach, device_id: str) -> None:
        """Raise as device() does, without materialising the device."""
        info = self.devices.info(device_id)
        if info is None or not self.in_reach(reach, info):
            self.device(reach, device_id)

    def subscribe(self, reach: Reach, device_id: str) -> None:
        self._known(reach, device_id)
        if device_id in reach.partner.push_subscriptions:
            raise ApiError(
                Err.ALREADY_SUBSCRIBED,
                f"device {device_id} is already subscribed",
                field="deviceId",
            )
        reach.partner.push_subscriptions.add(device_id)
        self.changed("partners")

    def unsubscribe(self, reach: Reach, device_id: str) -> None:
        self._known(reach, device_id)
        if device_id not in reach.partner.push_subscriptions:
            raise ApiError(
                Err.NOT_SUBSCRIBED, f"device {device_id} is not subscribed", field="deviceId"
            )
        reach.partner.push_subscriptions.discard(device_id)
        self.changed("partners")

    # ------------------------------------------------------------------ users
    def disconnect(self, partner: Partner, user: User) -> None:
        """The user leaves the partner's service: its subscriptions go, IN-HEADER stops."""
        for device_id in self.devices.owned_ids(user.user_number):
            partner.push_subscriptions.discard(device_id)
        user.disconnected_from.add(partner.partner_id)
        self.changed("partners")
        self.changed("users")
