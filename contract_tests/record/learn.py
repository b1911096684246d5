"""What the upstream's answers say about the partner's world, kept to become a scenario.

The learner reads only answers the checks passed (a drifted answer is reported, never
believed) and keeps, per kind:

- partners (by the API key they call with; the key itself is never kept), the devices
  registered to them and their push subscriptions;
- users (by their bearer token, likewise never kept): country, user number, devices;
- ThinQ services (by id) and the callback URL their callbacks are relayed to;
- devices: type, model, alias, owner, profile, last status;
- DR groups, and ThinQ event and push subscriptions (from their callbacks).

Credentials are known only by fingerprint; the scenario gets fresh sandbox ones.
Two answers that contradict each other about one device (its type, its profile) make
the device *contradicted*: it is left out, with the reason, rather than learned from
either answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contract_tests.record.drift import Exchange, Judgement
from contract_tests.record.redact import bearer, fingerprint


@dataclass
class PartnerSeen:
    number: int
    partner_id: str | None = None
    devices: list[str] = field(default_factory=list)  # registered to it, as listed
    push_subscriptions: set[str] = field(default_factory=set)


@dataclass
class UserSeen:
    number: int
    country: str | None = None
    user_number: str | None = None
    devices: list[str] = field(default_factory=list)
    pat: bool = False  # called ThinQ Connect with a personal access token


@dataclass
class ServiceSeen:
    service_id: str
    callback_url: str | None = None


@dataclass
class DeviceSeen:
    device_id: str
    device_type: str | None = None
    model_name: str | None = None
    alias: str | None = None
    group_id: str | None = None  # a WashTower's pairing id (deviceInfo.groupId)
    parent_id: str | None = None  # an indoor unit's outdoor unit (deviceInfo.parentId)
    owner: str | None = None  # a UserSeen key
    registered_to: list[str] = field(default_factory=list)  # PartnerSeen keys
    profile: Any = None
    status: Any = None
    contradictions: list[str] = field(default_factory=list)
    distrusted: list[str] = field(default_factory=list)  # drifted answers about it


@dataclass
class Pending:
    """An async call answered 202: its callbacks name this requestId."""

    user: str | None
    service_id: str | None
    operation_id: str
    body: Any


class Learner:
    def __init__(self) -> None:
        self.partners: dict[str, PartnerSeen] = {}
        self.users: dict[str, UserSeen] = {}
        self.services: dict[str, ServiceSeen] = {}
        self.devices: dict[str, DeviceSeen] = {}
        self.dr_groups: dict[str, dict[str, Any]] = {}
        self.event_subscriptions: dict[tuple[str, str], dict[str, Any]] = {}
        self.push_subscriptions: dict[tuple[str, str], str] = {}
        self.pending: dict[str, Pending] = {}
        self.not_learned: list[str] = []  # why an answer taught nothing
        self.tokens: dict[str, str] = {}  # API token fingerprint -> partner key

    # ------------------------------------------------------------------ callers
    def partner(self, exchange: Exchange) -> str | None:
        key = exchange.request_header("x-api-key")
        if key:
            found = fingerprint(key)
        else:
            token = exchange.request_header("x-api-token")
            found = self.tokens.get(fingerprint(token)) if token else None
        if found is None:
            return None
        if found not in self.partners:
            self.partners[found] = PartnerSeen(len(self.partners) + 1)
        return found

    def user(self, exchange: Exchange) -> str | None:
        token = bearer(exchange.request_header("authorization"))
        if token is None:
            return None
        key = fingerprint(token)
        if key not in self.users:
            self.users[key] = UserSeen(len(self.users) + 1)
        country = exchange.request_header("x-country-code")
        if country:
            self.users[key].country = country.upper()
        return key

    def service(self, exchange: Exchange) -> str | None:
        service_id = exchange.request_header("x-service-id")
        if service_id and service_id not in self.services:
            self.services[service_id] = ServiceSeen(service_id)
        return service_id

    def device(self, device_id: str) -> DeviceSeen:
        if device_id not in self.devices:
            self.devices[device_id] = DeviceSeen(device_id)
        return self.devices[device_id]

    # ------------------------------------------------------------------ answers
    def learn(self, exchange: Exchange, judgement: Judgement) -> None:
        """Take what one relayed call says, if its answer passed every check."""
        operation = judgement.operation_id
        if operation is None:
            return
        if judgement.findings:
            device_id = judgement.path_parameters.get("deviceId")
            if device_id:
                titles = ", ".join(dict.fromkeys(f.title for f in judgement.findings))
                self.device(device_id).distrusted.append(f"{operation} drifted ({titles})")
            self.not_learned.append(
                f"{operation} ({exchange.method} {exchange.path} at {exchange.at}): its answer "
                "drifted from the spec, so nothing was learned from it"
            )
            return
        if not 200 <= exchange.status < 300:
            return
        learn = getattr(self, f"_{operation}", None)
        if learn is not None:
            learn(exchange, judgement.path_parameters, exchange.json())

    def _reach(self, exchange: Exchange) -> tuple[str | None, str | None]:
        """(partner key, user key) whose devices a Business Connect call reached."""
        partner = self.partner(exchange)
        account = (exchange.request_header("x-use-account") or "").upper()
        user = self.user(exchange) if account == "IN-HEADER" else None
        return (partner if account != "IN-HEADER" else None), user

    def _createAPIToken(self, exchange: Exchange, _: dict[str, str], body: Any) -> None:  # noqa: N802
        partner = self.partner(exchange)
        token = body.get("access_token") if isinstance(body, dict) else None
        if partner and isinstance(token, str):
            self.tokens[fingerprint(token)] = partner

    def _getDevices(self, exchange: Exchange, _: dict[str, str], body: Any) -> None:  # noqa: N802
        partner, user = self._reach(exchange)
        self._listed(body, partner, user)

    def _getDeviceList(self, exchange: Exchange, _: dict[str, str], body: Any) -> None:  # noqa: N802
        # ThinQ Connect: the devices of the user whose PAT is the bearer token. Its
        # x-api-key is the SDK's own, not a partner's: no partner is involved.
        self._listed(body, None, self._pat_user(exchange))

    def _getDeviceProfile(  # noqa: N802
        self, exchange: Exchange, parameters: dict[str, str], body: Any
    ) -> None:
        self._take_profile(self._pat_device(exchange, parameters), exchange, body)

    def _getDeviceState(  # noqa: N802
        self, exchange: Exchange, parameters: dict[str, str], body: Any
    ) -> None:
        self._take_status(self._pat_device(exchange, parameters), body)

    def _pat_user(self, exchange: Exchange) -> str | None:
        user = self.user(exchange)
        if user is not None:
            self.users[user].pat = True
            self.users[user].country = (
                exchange.request_header("x-country") or self.users[user].country
            )
        return user

    def _pat_device(self, exchange: Exchange, parameters: dict[str, str]) -> DeviceSeen | None:
        device_id = parameters.get("deviceId")
        if not device_id:
            return None
        device = self.device(device_id)
        self._place(device, None, self._pat_user(exchange))
        return device

    def _listed(self, body: Any, partner: str | None, user: str | None) -> None:
        for item in (body or {}).get("response") or []:
            if not isinstance(item, dict) or not isinstance(item.get("deviceId"), str):
                continue
            info = item.get("deviceInfo") if isinstance(item.get("deviceInfo"), dict) else {}
            device = self.device(item["deviceId"])
            self._fact(device, "device_type", info.get("deviceType"), "deviceType")
            self._fact(device, "model_name", info.get("modelName"), "modelName")
            if isinstance(info.get("alias"), str):
                device.alias = info["alias"]  # a user may rename a device: the last wins
            self._fact(device, "group_id", info.get("groupId"), "groupId")
            self._fact(device, "parent_id", info.get("parentId"), "parentId")
            self._place(device, partner, user)

    def _getProfileOfDevice(  # noqa: N802
        self, exchange: Exchange, parameters: dict[str, str], body: Any
    ) -> None:
        self._take_profile(self._addressed(exchange, parameters), exchange, body)

    def _getStatusOfDevice(  # noqa: N802
        self, exchange: Exchange, parameters: dict[str, str], body: Any
    ) -> None:
        self._take_status(self._addressed(exchange, parameters), body)

    def _take_profile(self, device: DeviceSeen | None, exchange: Exchange, body: Any) -> None:
        """A profile answer (both APIs put the profile in ``response``)."""
        if device is not None and isinstance(body, dict):
            self._profile(device, body.get("response"), f"{exchange.method} {exchange.path}")

    def _take_status(self, device: DeviceSeen | None, body: Any) -> None:
        if device is not None and isinstance(body, dict) and body.get("response") is not None:
            device.status = body["response"]

    # A control answers the status after it (device-status-res), the newest one known.
    _controlDevice = _getStatusOfDevice

    def _listDevicesSubscribed(  # noqa: N802
        self, exchange: Exchange, _: dict[str, str], body: Any
    ) -> None:
        partner = self.partner(exchange)
        if partner is None or not isinstance(body, dict):
            return
        listed = {
            item["deviceId"]
            for item in body.get("response") or []
            if isinstance(item, dict) and isinstance(item.get("deviceId"), str)
        }
        self.partners[partner].push_subscriptions = listed

    def _subscribePushMessages(  # noqa: N802
        self, exchange: Exchange, parameters: dict[str, str], _: Any
    ) -> None:
        partner = self.partner(exchange)
        if partner and parameters.get("deviceId"):
            self.partners[partner].push_subscriptions.add(parameters["deviceId"])

    def _unsubscribePushMessages(  # noqa: N802
        self, exchange: Exchange, parameters: dict[str, str], _: Any
    ) -> None:
        partner = self.partner(exchange)
        if partner and parameters.get("deviceId"):
            self.partners[partner].push_subscriptions.discard(parameters["deviceId"])

    def _getUserNumber(self, exchange: Exchange, _: dict[str, str], body: Any) -> None:  # noqa: N802
        user = self.user(exchange)
        number = ((body or {}).get("response") or {}).get("userNumber")
        if user and isinstance(number, str):
            self.users[user].user_number = number

    def _createOrUpdateDrGroup(  # noqa: N802
        self, exchange: Exchange, _: dict[str, str], __: Any
    ) -> None:
        group = exchange.request_json()
        partner = self.partner(exchange)
        if isinstance(group, dict) and isinstance(group.get("groupId"), str):
            self.dr_groups[group["groupId"]] = {**group, "_partner": partner}

    def _getDrGroup(self, exchange: Exchange, _: dict[str, str], body: Any) -> None:  # noqa: N802
        partner = self.partner(exchange)
        for group in _dr_groups(body):
            self.dr_groups[group["groupId"]] = {**group, "_partner": partner}

    def _listDrGroupsOfPartner(  # noqa: N802
        self, exchange: Exchange, parameters: dict[str, str], body: Any
    ) -> None:
        # The one answer that names the caller's partnerId: the path it was asked by.
        partner = self.partner(exchange)
        if partner and parameters.get("partnerId"):
            self.partners[partner].partner_id = parameters["partnerId"]
        self._getDrGroup(exchange, parameters, body)

    def _createDrUser(self, exchange: Exchange, _: dict[str, str], __: Any) -> None:  # noqa: N802
        body = exchange.request_json()
        user = body.get("userNo") if isinstance(body, dict) else None
        self.not_learned.append(
            f"DR user {user or '(no userNo)'}: not learned, its accessToken, refreshToken and "
            "authCodeExt are secrets; enrol it again in the sandbox"
        )

    def _async(self, exchange: Exchange, _: dict[str, str], body: Any) -> None:
        request_id = body.get("requestId") if isinstance(body, dict) else None
        if isinstance(request_id, str):
            self.pending[request_id] = Pending(
                self.user(exchange),
                self.service(exchange),
                str(exchange.path.rsplit("/", 1)[-1]),
                exchange.request_json(),
            )

    _profileAsync = _statusAsync = _controlAsync = _async
    _subscribeEventAsync = _unsubscribeEventAsync = _async
    _subscribePushAsync = _unsubscribePushAsync = _async

    # ------------------------------------------------------------------ callbacks
    def learn_callback(self, body: Any, problems: list[str]) -> None:
        """A ThinQ callback or message the upstream delivered, if it passed the spec."""
        if problems or not isinstance(body, dict):
            return
        inner = body.get("response") if isinstance(body.get("response"), dict) else {}
        device_id = inner.get("deviceId")
        if not isinstance(device_id, str) or "error" in inner:
            return
        pending = self.pending.get(body.get("requestId") or "")
        device = self.device(device_id)
        self._fact(device, "device_type", inner.get("deviceType"), "deviceType")
        user = pending.user if pending else None
        if user is not None:
            if isinstance(inner.get("userNumber"), str):
                self.users[user].user_number = inner["userNumber"]
            self._place(device, None, user)
        kind = inner.get("pushType")
        service = inner.get("serviceId") if isinstance(inner.get("serviceId"), str) else None
        user_number = inner.get("userNumber") if isinstance(inner.get("userNumber"), str) else ""
        if kind == "DEVICE_PROFILE":
            self._profile(device, inner.get("result"), f"a DEVICE_PROFILE callback of {device_id}")
        elif kind == "DEVICE_STATUS" and "result" in inner:
            device.status = inner["result"]
        elif kind == "DEVICE_STATUS" and isinstance(inner.get("report"), dict | list):
            self._report(device, inner["report"])
        elif kind == "DEVICE_EVENT_SUBSCRIBED" and service:
            hours = _timer_hours(pending.body if pending else None)
            expires = datetime.now(UTC) + timedelta(hours=hours)
            self.event_subscriptions[(service, device_id)] = {
                "serviceId": service,
                "userNumber": user_number,
                "deviceId": device_id,
                "expiresAt": expires.isoformat(timespec="seconds"),
            }
        elif kind == "DEVICE_EVENT_UNSUBSCRIBED" and service:
            self.event_subscriptions.pop((service, device_id), None)
        elif kind in ("DEVICE_PUSH_SUBSCRIBED", "USER_PUSH_SUBSCRIBED") and service:
            self.push_subscriptions[(service, device_id)] = user_number
        elif kind == "DEVICE_PUSH_UNSUBSCRIBED" and service:
            self.push_subscriptions.pop((service, device_id), None)

    # ------------------------------------------------------------------ helpers
    def _addressed(self, exchange: Exchange, parameters: dict[str, str]) -> DeviceSeen | None:
        device_id = parameters.get("deviceId")
        if not device_id:
            return None
        device = self.device(device_id)
        partner, user = self._reach(exchange)
        self._place(device, partner, user)
        return device

    def _place(self, device: DeviceSeen, partner: str | None, user: str | None) -> None:
        if partner is not None:
            if partner not in device.registered_to:
                device.registered_to.append(partner)
            if device.device_id not in self.partners[partner].devices:
                self.partners[partner].devices.append(device.device_id)
        if user is not None:
            if device.owner is not None and device.owner != user:
                device.contradictions.append("two users' device lists both name it")
            device.owner = device.owner or user
            if device.device_id not in self.users[user].devices:
                self.users[user].devices.append(device.device_id)

    def _fact(self, device: DeviceSeen, attribute: str, value: Any, name: str) -> None:
        """A fact a device never changes: a second, different value contradicts the first."""
        if not isinstance(value, str) or not value:
            return
        known = getattr(device, attribute)
        if known is not None and known != value:
            device.contradictions.append(f"its {name} was answered as {known!r} and as {value!r}")
        elif known is None:
            setattr(device, attribute, value)

    def _profile(self, device: DeviceSeen, profile: Any, where: str) -> None:
        if not isinstance(profile, dict):
            return
        if device.profile is not None and device.profile != profile:
            device.contradictions.append(f"{where} answered a profile other than an earlier one")
        elif device.profile is None:
            device.profile = profile

    def _report(self, device: DeviceSeen, report: Any) -> None:
        """A DEVICE_STATUS message carries what changed: merged into the last status."""
        if isinstance(device.status, dict) and isinstance(report, dict):
            device.status = _merged(device.status, report)
        elif device.status is None:
            self.not_learned.append(
                f"a status report of {device.device_id} came before any full status of it"
            )


def _merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _dr_groups(body: Any) -> list[dict[str, Any]]:
    """DR group objects in an answer (one group, or a list of them), by their groupId."""
    candidates: list[Any] = []
    for value in (body, (body or {}).get("response") if isinstance(body, dict) else None):
        if isinstance(value, list):
            candidates += value
        elif isinstance(value, dict):
            candidates.append(value)
            for inner in value.values():
                if isinstance(inner, list):
                    candidates += inner
    return [g for g in candidates if isinstance(g, dict) and isinstance(g.get("groupId"), str)]


def _timer_hours(body: Any) -> int:
    timer = ((body or {}).get("expire") or {}).get("timer") if isinstance(body, dict) else None
    return timer if isinstance(timer, int) and 1 <= timer <= 24 else 1
