"""The sandbox's own inbox: where callbacks go when no receiver is registered.

A service or partner without a ``callbackUrl`` has its callbacks delivered to an inbox
address of this sandbox, ``/_sandbox/inbox/services/{serviceId}`` or
``/_sandbox/inbox/partners/{partnerId}``. The address is a path, not a URL with a host
and port: it names the sandbox that queued the message, so no other process can
receive it, not after a restart on another port, not from a state loaded into another
sandbox (docs/control-api.md, "The inbox", says why it is no HTTP delivery).

What the inbox holds is the delivery journal's delivered messages to these addresses:
the bodies are kept once, in the journal, and a reset or scenario load empties both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote

PREFIX = "/_sandbox/inbox/"
SERVICES = "services"
PARTNERS = "partners"


class Attempt(Protocol):
    at: str


class Delivery(Protocol):
    """What the inbox reads of a delivery (callbacks.Delivery, which imports this module)."""

    id: str
    url: str
    kind: str
    status: str
    request_id: str | None
    device_id: str | None
    body: dict[str, Any]

    @property
    def attempts(self) -> Sequence[Attempt]: ...


def address(kind: str, owner_id: str) -> str:
    """The inbox address of a service's (``kind="services"``) or partner's callbacks."""
    return f"{PREFIX}{kind}/{quote(owner_id, safe='')}"


def is_address(url: str) -> bool:
    return url.startswith(PREFIX)


def recipient(url: str) -> tuple[str, str] | None:
    """(``services`` or ``partners``, its id) of an inbox address; None for any URL."""
    if not is_address(url):
        return None
    kind, _, owner = url[len(PREFIX) :].partition("/")
    return kind, unquote(owner)


@dataclass(frozen=True)
class InboxQuery:
    service_id: str | None = None
    partner_id: str | None = None
    request_id: str | None = None
    device_id: str | None = None
    kind: str | None = None

    def accepts(self, delivery: Delivery) -> bool:
        to = recipient(delivery.url)
        if to is None or delivery.status != "delivered":
            return False
        if self.service_id is not None and to != (SERVICES, self.service_id):
            return False
        if self.partner_id is not None and to != (PARTNERS, self.partner_id):
            return False
        return (
            (self.request_id is None or delivery.request_id == self.request_id)
            and (self.device_id is None or delivery.device_id == self.device_id)
            and (self.kind is None or delivery.kind == self.kind)
        )


def received(journal: Iterable[Delivery], query: InboxQuery) -> list[Delivery]:
    """The messages the inbox received that ``query`` accepts, in the order queued."""
    return [delivery for delivery in journal if query.accepts(delivery)]


def item(delivery: Delivery) -> dict[str, object]:
    """One received message as the control API shows it."""
    kind, owner = recipient(delivery.url) or ("", "")
    last = delivery.attempts[-1] if delivery.attempts else None
    return {
        "deliveryId": delivery.id,
        "serviceId": owner if kind == SERVICES else None,
        "partnerId": owner if kind == PARTNERS else None,
        "kind": delivery.kind,
        "requestId": delivery.request_id,
        "deviceId": delivery.device_id,
        "receivedAt": last.at if last else None,
        "body": delivery.body,
    }
