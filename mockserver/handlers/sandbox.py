"""The sandbox control API (openapi/sandbox.yaml), one function per operationId."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mockserver import scenario
from mockserver.backends import inbox
from mockserver.callbacks import PENDING, Delivery
from mockserver.clock import ClockRangeError, check_advance, check_instant
from mockserver.errors import CATALOGUES, ApiError, Err
from mockserver.handlers.context import Reply, runtime

if TYPE_CHECKING:
    from mockserver.mqtt.channel import PushChannel


def _health() -> dict[str, Any]:
    return {"status": "ok", **runtime().sandbox.summary()}


async def get_health() -> Reply:
    return _health(), 200, {}


async def reset_sandbox() -> Reply:
    runtime().reset()
    return _health(), 200, {}


async def load_scenario(body: Any = None) -> Reply:
    source = "<request body>"
    try:
        if isinstance(body, dict):
            document = body
        else:
            # YAML arrives as bytes: the pipeline parses only JSON media types.
            try:
                text = body.decode("utf-8") if isinstance(body, bytes) else str(body or "")
            except UnicodeDecodeError as exc:
                raise ApiError(Err.INVALID_BODY, "scenario is not UTF-8", field="body") from exc
            document = scenario.parse(text, source)
        runtime().load(document, source)
    except scenario.ScenarioError as exc:
        raise ApiError(
            Err.INVALID_BODY,
            f"scenario refused, the state did not change ({len(exc.problems)} problem(s))",
            details=exc.problems,
        ) from exc
    return _health(), 200, {}


async def get_scenario_schema() -> Reply:
    return scenario.schema(), 200, {}


async def get_state() -> Any:
    """The state as a stream: at 100,000 devices the text is never held whole."""
    import asyncio

    from starlette.responses import StreamingResponse

    pieces = scenario.export_stream(runtime().sandbox)

    async def stream() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece
            await asyncio.sleep(0)  # other requests and deliveries go on meanwhile

    return StreamingResponse(stream(), media_type="application/json")


async def get_clock() -> Reply:
    return runtime().sandbox.clock.to_dict(), 200, {}


def _in_clock_range(check: Callable[..., object], name: str, *args: Any) -> None:
    """``check(*args)``, its ClockRangeError refused as the body's field ``name``."""
    try:
        check(*args)
    except ClockRangeError as exc:
        raise ApiError(Err.INVALID_BODY, f"{name}: {exc}", field=f"body.{name}") from exc


async def set_clock(body: dict[str, Any]) -> Reply:
    moment = None
    if "set" in body:
        try:
            moment = datetime.fromisoformat(body["set"])
        except ValueError as exc:
            raise ApiError(Err.INVALID_BODY, f"set: {exc}", field="body.set") from exc
        _in_clock_range(check_instant, "set", moment)
    sandbox = runtime().sandbox
    advance = float(body["advance"]) if "advance" in body else None
    if advance is not None:
        _in_clock_range(check_advance, "advance", moment or sandbox.clock.now(), advance)
    # Every value is checked before any is applied: a refused call changes nothing.
    freeze = body.get("freeze")
    sandbox.set_clock(
        at=moment, advance=advance, freeze=freeze if isinstance(freeze, bool) else None
    )
    return sandbox.clock.to_dict(), 200, {}


# ---------------------------------------------------------------------- callbacks


async def list_callbacks(
    request_id: str | None = None,
    device_id: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Reply:
    found = runtime().deliveries.find(
        request_id=request_id, device_id=device_id, status=status, kind=kind
    )
    found.reverse()  # newest first
    page = found[offset : offset + limit]
    return {"total": len(found), "items": [d.to_dict() for d in page]}, 200, {}


async def list_inbox(
    service_id: str | None = None,
    partner_id: str | None = None,
    request_id: str | None = None,
    device_id: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Reply:
    query = inbox.InboxQuery(service_id, partner_id, request_id, device_id, kind)
    found = inbox.received(runtime().deliveries.journal.values(), query)
    found.reverse()  # newest first
    page = found[offset : offset + limit]
    return {"total": len(found), "items": [inbox.item(d) for d in page]}, 200, {}


def _delivery(delivery_id: str) -> Delivery:
    delivery = runtime().deliveries.journal.get(delivery_id)
    if delivery is None:
        raise ApiError(
            Err.DELIVERY_NOT_FOUND,
            f"no delivery {delivery_id} (a reset or scenario load empties the delivery "
            "journal; GET /_sandbox/callbacks lists what it holds)",
            field="deliveryId",
        )
    return delivery


async def get_callback(delivery_id: str) -> Reply:
    return _delivery(delivery_id).to_dict(), 200, {}


async def redeliver_callback(delivery_id: str, body: dict[str, Any] | None = None) -> Reply:
    delivery = _delivery(delivery_id)
    url = (body or {}).get("url")
    if url is not None and delivery.status == PENDING:
        raise ApiError(
            Err.INVALID_BODY,
            f"url: {delivery_id} is still being delivered (pending): it can be sent "
            "elsewhere once it is delivered or given up",
            field="body.url",
        )
    return runtime().deliveries.redeliver(delivery_id, url).to_dict(), 200, {}


# ---------------------------------------------------------------------- accounts


async def update_service(service_id: str, body: dict[str, Any]) -> Reply:
    service = runtime().sandbox.set_service_callback(service_id, body["callbackUrl"])
    return {"serviceId": service.service_id, "callbackUrl": service.callback_url}, 200, {}


async def update_partner(partner_id: str, body: dict[str, Any]) -> Reply:
    partner = runtime().sandbox.set_partner_callback(partner_id, body["callbackUrl"])
    return {"partnerId": partner.partner_id, "callbackUrl": partner.callback_url}, 200, {}


# ---------------------------------------------------------------------- devices


async def update_device(device_id: str, body: dict[str, Any]) -> Reply:
    devices = runtime().sandbox.devices
    device = devices.get(device_id)
    if "alias" in body:
        device = devices.rename(device_id, body["alias"])
    if "online" in body:
        device = devices.set_online(device_id, body["online"])
    return {"deviceId": device.device_id, "online": device.online, "alias": device.alias}, 200, {}


async def change_device_state(device_id: str, body: Any) -> Reply:
    device = runtime().sandbox.devices.change_from_device(device_id, body)
    return device.status, 200, {}


async def raise_device_push(device_id: str, body: dict[str, Any]) -> Reply:
    runtime().sandbox.devices.raise_push(device_id, body["code"])
    return {"deviceId": device_id, "code": body["code"]}, 200, {}


# ---------------------------------------------------------------------- files


async def download_file(filename: str, expires: int, signature: str) -> Reply:
    """A presigned download (DR data zips): the URL's signature and expiry are the key."""
    content = runtime().sandbox.dr.open_file(filename, expires, signature)
    headers = {
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    return content, 200, headers


# ---------------------------------------------------------------------- faults


async def list_faults() -> Reply:
    return {"items": runtime().sandbox.faults.export()}, 200, {}


async def add_fault(body: dict[str, Any]) -> Reply:
    rule = runtime().sandbox.faults.add(body)
    return rule.to_dict(), 201, {}


async def clear_faults() -> Reply:
    runtime().sandbox.faults.clear()
    return None, 204, {}


async def remove_fault(fault_id: str) -> Reply:
    runtime().sandbox.faults.remove(fault_id)
    return None, 204, {}


async def list_codes() -> Reply:
    catalogues = {
        api.value: [
            {"code": info.code, "status": info.status, "title": info.title}
            for info in catalogue.codes.values()
        ]
        for api, catalogue in CATALOGUES.items()
    }
    return catalogues, 200, {}


# ---------------------------------------------------------------------- journal


async def list_journal(
    operation_id: str | None = None,
    status: int | None = None,
    caller: str | None = None,
    api: str | None = None,
    since: str | None = None,
    violations: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> Reply:
    found = runtime().journal.find(
        operation_id=operation_id,
        status=status,
        caller=caller,
        api=api,
        since=since,
        violations_only=violations,
    )
    found.reverse()  # newest first
    page = found[offset : offset + limit]
    return {"total": len(found), "items": [e.to_dict() for e in page]}, 200, {}


async def clear_journal() -> Reply:
    runtime().journal.clear()
    return None, 204, {}


# ---------------------------------------------------------------------- devices


async def add_device(body: dict[str, Any]) -> Reply:
    sandbox = runtime().sandbox
    try:
        device = scenario.add_device(sandbox, body)
    except scenario.ScenarioError as exc:
        raise ApiError(
            Err.INVALID_BODY, "device refused, nothing changed", details=exc.problems
        ) from exc
    return scenario.export_device(device), 201, {}


# ---------------------------------------------------------------------- MQTT


def _push_channel() -> PushChannel:
    channel = runtime().mqtt
    if channel is None:  # an app built without `lgmock serve` (a test's own)
        raise ApiError(Err.NOT_IMPLEMENTED, "this server runs no ThinQ Connect push channel")
    return channel


async def get_mqtt() -> Reply:
    channel = _push_channel()
    broker = channel.broker
    return (
        {
            "running": broker is not None,
            "mqttServer": channel.route_url if broker else None,
            "address": broker.address if broker else None,
            "ports": list(broker.claim.ports) if broker else [],
            "caUrl": "/_sandbox/mqtt/ca.pem",
            "offReason": channel.off,
        },
        200,
        {},
    )


async def get_mqtt_ca() -> Reply:
    pem = _push_channel().authority.ca_pem
    return pem, 200, {"Content-Type": "application/x-pem-file"}
