"""Business Connect DR operations, one function per operationId (spec-notes BC-06).

Each handler checks the caller (API key, token, the DR role, X-Country-Code), parses the
body into the DR model's objects (``dr.checks``: the prose rules OpenAPI cannot state),
hands them to ``DrBackend`` and renders its objects in the DR envelope ``{code: 2000,
data}``. Events are the exception: an event body is read against the event it updates
(its targets keep their opt), so ``DrBackend.put_event`` parses it.
Refusals are ``ApiError``s rendered by error_answers.py as ``{code, message}``.
"""

from __future__ import annotations

import re
from typing import Any

from mockserver import request_context
from mockserver.backends.accounts import Partner
from mockserver.backends.dr import checks
from mockserver.backends.dr.backend import BatchResult
from mockserver.errors import Api, ApiError, Err, code_for
from mockserver.handlers.auth import partner as caller
from mockserver.handlers.context import Reply, dr_reply, header, runtime, sandbox

COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def _partner() -> Partner:
    """The calling partner, once its token holds the DR role and its headers are right."""
    partner = caller("dr")
    country = header("x-country-code")
    # BC-16: two ASCII letters in either case (the seed shows both `us` and `KR`).
    if country is not None and not COUNTRY.match(country):
        raise ApiError(
            Err.INVALID_HEADER,
            f"X-Country-Code must be a two-letter country code, got {country!r}",
            field="X-Country-Code",
        )
    return partner


def _base_url() -> str:
    """Where this request came in, so a presigned URL points back at this server."""
    return request_context.current().base_url


# ---------------------------------------------------------------------- groups


async def create_or_update_dr_group(body: Any = None) -> Reply:
    partner = _partner()
    group = sandbox().dr.put_group(partner.partner_id, checks.parse_group(body, "body"))
    return dr_reply({"groupId": group.group_id})


async def get_dr_group(group_id: str) -> Reply:
    partner = _partner()
    return dr_reply(sandbox().dr.group(partner.partner_id, group_id).to_api())


async def list_dr_groups_of_partner(partner_id: str) -> Reply:
    partner = _partner()
    groups = sandbox().dr.groups_of(partner.partner_id, partner_id)
    return dr_reply([group.to_api() for group in groups])


# ---------------------------------------------------------------------- users


async def create_dr_user(body: Any = None) -> Reply:
    partner = _partner()
    user = checks.parse_user(body, "body", int(sandbox().clock.timestamp()))
    user = sandbox().dr.create_user(partner.partner_id, user)
    # BC-35: the userNo as sent, so that it works in the path of the following calls.
    return dr_reply({"userNo": user.user_no})


async def delete_dr_user(user_no: str) -> Reply:
    partner = _partner()
    user = sandbox().dr.delete_user(partner.partner_id, user_no)
    return dr_reply({"userNo": user.user_no})


async def get_dr_user(user_no: str) -> Reply:
    partner = _partner()
    dr = sandbox().dr
    return dr_reply(dr.user_view(dr.user(partner.partner_id, user_no)))


async def list_dr_user_devices(user_no: str) -> Reply:
    partner = _partner()
    devices = sandbox().dr.user_devices(partner.partner_id, user_no)
    return dr_reply([device.to_api() for device in devices])


async def get_dr_user_device(user_no: str, device_id: str) -> Reply:
    partner = _partner()
    return dr_reply(sandbox().dr.user_device(partner.partner_id, user_no, device_id).to_api())


# ---------------------------------------------------------------------- events


async def create_or_update_dr_event(body: Any = None) -> Reply:
    partner = _partner()
    dr = sandbox().dr
    after = runtime().after_answer
    # A window this opens over a fleet reaches its members in parts after the answer, as
    # a ThinQ fan-out does; with a state file all of it is done and committed before the
    # answer (docs/durability.md).
    event = dr.put_event(partner.partner_id, body, later=not after.inline)
    if dr.windows.opening is not None:
        after.start("DR window opening", dr.opening_parts())
    return dr_reply({"eventId": event.event_id})


async def create_dr_event_target(event_id: str, body: Any = None) -> Reply:
    partner = _partner()
    target = checks.parse_target(body, "body")
    return dr_reply(sandbox().dr.add_target(partner.partner_id, event_id, target).to_api())


async def update_dr_event_target(event_id: str, target_id: str, body: Any = None) -> Reply:
    partner = _partner()
    opt = checks.opt(checks.as_object(body, "body"), "body")
    target = sandbox().dr.update_target(partner.partner_id, event_id, target_id, opt)
    return dr_reply(target.to_api())


async def batch_dr_event_targets(event_id: str, body: Any = None) -> Reply:
    partner = _partner()
    items = checks.parse_batch(body, "body")
    results = sandbox().dr.batch_targets(partner.partner_id, event_id, items)
    return dr_reply([_batch_entry(result) for result in results])


def _batch_entry(result: BatchResult) -> dict[str, Any]:
    """BC-44/45: the item echoed, with `success`, or `fail` and the code it met."""
    item = result.item
    entry: dict[str, Any] = {"action": item.action, "path": item.path, "value": item.value}
    if result.error is None:
        entry["status"] = "success"
        return entry
    info = code_for(Api.BUSINESS_CONNECT, result.error)
    entry.update(
        status="fail", code=int(info.code), message=f"{info.title}: {result.error.describe()}"
    )
    return entry


# ---------------------------------------------------------------------- data zip


async def create_dr_data_zip_file(body: Any = None) -> Reply:
    partner = _partner()
    request = checks.parse_zip_request(body, "body")
    dr = sandbox().dr
    after = runtime().after_answer
    # A zip over more than ZIP_INLINE_DEVICES devices is made after the answer: its rows
    # in parts on this loop, the CSVs and deflate in a thread; until then the file answers
    # "not ready". With a state file it is made (and committed) before the answer: a
    # crash right after it must not lose the file (docs/durability.md).
    data = dr.create_file(partner.partner_id, request, later=not after.inline)
    if data.content is None:
        after.start(f"DR data zip {data.file_name}", dr.zip_parts(data))
    return dr_reply({"fileName": data.file_name})


async def get_dr_data_zip_file(filename: str) -> Reply:
    partner = _partner()
    dr = sandbox().dr
    data = dr.file(partner.partner_id, filename)
    return dr_reply({"presignedUrl": dr.presigned_url(data, _base_url())})
