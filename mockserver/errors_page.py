"""docs/errors.md, rendered from the error catalogue in mockserver/errors.py.

Codes, statuses and titles come from ``BC_CODES``, ``THINQ_CODES``, ``CONNECT_CODES`` and
``Err`` (the control API's codes, with the status the one renderer gives each); only the
"how to meet it" column is written here, once. A code with no natural cause in the sandbox says
so and is met with ``Prefer: error=<code>`` or a fault rule. Regenerate with::

    python -m mockserver.errors_page docs/errors.md

tests/unit/test_errors_page.py fails when docs/errors.md is not what this renders, or
when a catalogue code has no line here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mockserver.error_answers import respond
from mockserver.errors import BC_CODES, CONNECT_CODES, THINQ_CODES, Api, ApiError, Err

PREFER_ONLY = "no natural cause in the sandbox: `Prefer: error={code}` or a fault rule"

# Business Connect Device, Event, User and Token operations, on the default scenario.
BC_TRIGGERS = {
    "2000": "any successful call",
    "4000": "control the offline ventilator `c74dd123…`; an unknown route (404) or method (405)",
    "4101": "omit `X-Use-Account`; `X-Message-Id: short`; `IN-HEADER` without `Authorization` "
    "or `X-Country-Code`, or with another country than the user's",
    "4102": "a control with an unknown attribute, a read-only one, a value outside the "
    "profile's `value.w`, off-step or of the wrong type, an unknown `locationName`; a command "
    "to a powered-off air conditioner",
    "4103": "omit `X-Api-Token`, or send `X-Api-Token: abc`",
    "4201": "a token of another partner; a tampered token; `lgmock clock advance 25h` then any "
    "call; an unknown `X-Api-Key`; a wrong `X-Api-Secret`; an unknown OAuth bearer",
    "4202": "`viewer-co`'s token on `/bc/v1/push`; `IN-HEADER` after `DELETE /bc/v1/user/service`",
    "4304": "a device outside the account's reach; unsubscribe a device not subscribed",
    "4314": "subscribe (`POST /bc/v1/push/{deviceId}`) twice",
    "5000": "never from a sandbox rule (a 500 is a bug): " + PREFER_ONLY.format(code="5000"),
}

# Business Connect DR operations (/bc/v1/dr/...). "Enrolled": group k-apt-1168011000 with
# user KR2024000000001 in it and event peak-01, as in docs/dr.md.
DR_TRIGGERS = {
    "2000": "any successful DR call",
    "4000": "`DELETE /bc/v1/dr/groups` (405); `POST /bc/v1/dr/data-zip/files/{name}` (the "
    "seed's prose method, BC-55); `GET /bc/v1/dr/nothing` (404)",
    "4101": "omit `X-Country-Code` or `X-Api-Key`; `X-Country-Code: KOR`; `X-Message-Id: short`",
    "4102": "no body; `createDrUser` without `partner` or `partner.authCodeExt`; `insertTs` of "
    "13 digits; an event with `startTs` in seconds, `endTs <= startTs`, `endTs` already past "
    "on the sandbox clock, `targetType: HOUSE`, `signalType: STOP`, `controlType: Cooler`, "
    "`controlType: Temperature` without `signalData.temperature`; a target without `opt` or "
    'with `opt: MAYBE`; `areaCode: "11"`; a batch item that is not an object or has no `path`',
    "4103": "omit `X-Api-Token`; `X-Api-Token: abc`",
    "4201": "a token of another key; `X-Api-Key: unknown`; `lgmock clock advance 86401` then "
    "any call",
    "4202": "`viewer-co`'s token (no `getDrUsers` role) on any DR call; the `partnerId` of "
    "another known partner in a body or in `GET /bc/v1/dr/partners/viewer-co/groups`",
    "4301": "`GET /bc/v1/dr/users/KR2024000000001` before enrolling it, after `DELETE`, or by "
    'another partner; an event target `{"targetType": "USER", "targetIds": ["KR0"]}`',
    "4302": "`POST /bc/v1/dr/events/none/targets`, `.../none/targets/{id}`, "
    '`.../none/targets/batch`; `POST /bc/v1/dr/data-zip/files {"eventId": "none"}`; '
    "another partner's event",
    "4303": '`POST /bc/v1/dr/events/peak-01/targets/nobody {"opt": "IN"}`; a batch `update` of '
    '`/KRXXX` (per item); a data zip for `{"targetType": "USER", "targetId": "KR9"}`',
    "4304": "`GET /bc/v1/dr/users/KR2024000000001/devices/<US washer e8de8c28…>`; an event "
    "`DEVICE` target that is not a device of one of the partner's DR users",
    "4305": "`GET /bc/v1/dr/data-zip/files/data-zip-x-1.zip` (never created, or created by "
    "another partner)",
    "4306": "the same `GET` right after `createDrDataZipFile` with the clock frozen (ready 1 s "
    "later), or 24 h after it was ready",
    "4307": '`partnerId: "nobody"` in a group, user (`partner.partnerId`) or event body; '
    "`GET /bc/v1/dr/partners/nobody/groups`",
    "4308": '`GET /bc/v1/dr/groups/none`; `createDrUser` with `groupId: "none"`; a `GROUP` '
    "target `none`",
    "4309": "`createDrUser` twice with the same `userNo` (any partner)",
    "4310": "`rival-energy` (docs/dr.md shows how to add it) posting an event with "
    "`eventId: peak-01`",
    "4311": "`POST /bc/v1/dr/events/peak-01/targets` twice with the same `id`; a batch "
    "`create` of an existing id (per item)",
    "4312": "`createDrUser` for `US2024000000002` with the `authCodeExt` already used "
    "(`oauth-code-1`); the same `partner.partnerUserId` for two users of one partner",
    "4313": 'an event target `{"targetType": "USER", "targetIds": ["US2024000000002"]}`: an LG '
    "user of the scenario who is not enrolled with the calling partner",
    "4314": "a `DEVICE` target for the air conditioner in two events whose windows overlap "
    "(a second event, or `createDrEventTarget` into the first)",
    "4315": "`rival-energy` posting `groupId: k-apt-1168011000`",
    "5000": "never from a sandbox rule (a 500 is a bug): " + PREFER_ONLY.format(code="5000"),
}

# ThinQ asynchronous API: synchronous refusals, or inside one device's callback.
THINQ_TRIGGERS = {
    "1000": "`DELETE /v2/users/event-async` (the seed's typo path; 404)",
    "1101": "omit `x-service-id`; `control-async` without `command`",
    "1102": "an `x-country-code` other than the user's; `expire.timer: 25`",
    "1103": "an unknown `Authorization: Bearer`",
    "1104": "`x-message-id: bad`",
    # A service without a callbackUrl is served: its callbacks go to the sandbox's inbox.
    "1203": PREFER_ONLY.format(code="1203"),
    "1204": "in a callback: `DELETE event-async` twice",
    "1206": "in a callback: `DELETE push-async` twice",
    "1207": "in a callback: `POST push-async` twice",
    "1222": "in a callback: `status-async` or `control-async` with a device offline "
    "(`lgmock device offline <deviceId>`)",
    "1301": "a wrong `x-service-key`, or an unknown `x-service-id`",
    "2207": "in a callback: `control-async` with an attribute the profile does not have",
    "2301": "in a callback: `control-async` to a washer whose remote control is off "
    "(docs/reproducing.md turns it off)",
    "2304": "in a callback: `control-async` to a powered-off air conditioner",
}

# ThinQ Connect (/connect, what LG's SDK calls), as KR2024000000001 with its PAT.
CONNECT_TRIGGERS = {
    "1101": "omit `x-client-id` (or any header the SDK sends); `POST /connect/client` "
    "without `type`",
    "1102": "an energy `endDate` after today or before `startDate`, or `YYYYMM` with "
    "`period=DAILY`; a `csr` that is not a certificate request",
    "1103": "an unknown PAT in `Authorization: Bearer`, or no `Bearer ` before it",
    "1104": "`x-message-id: short`",
    "1204": "`DELETE /connect/event/{deviceId}/unsubscribe` without a subscription",
    "1205": "`GET /connect/devices/no-such-device/state`",
    "1206": "`DELETE /connect/push/{deviceId}/unsubscribe` without a subscription",
    "1207": "`POST /connect/push/{deviceId}/subscribe` twice from one client",
    "1212": "a device of the other user, or one registered only to a partner",
    "1213": "`DELETE /connect/client` or `POST /connect/client/certificate` from a client "
    "never registered",
    "1216": "`x-country: US` with the KR user's PAT; `x-service-phase: DEV`; `Prefer: "
    "error=4304` (a code of another API)",
    "1222": "the state of a device taken offline (`lgmock device offline <deviceId>`)",
    "1225": '`POST /connect/client` twice with `"allowExist": false`',
    "1301": "an `x-api-key` other than the SDK's",
    "2201": "the energy profile of a type that reports none (the robot cleaner)",
    "2207": "a control with a value outside the profile's `value.w` or an unknown attribute",
    "2301": "a control of a washer whose remote control is off",
    "2304": "a control of a powered-off air conditioner",
}


def render() -> str:
    lines = [
        "# Errors, and how to meet each one",
        "",
        "<!-- Generated by `python -m mockserver.errors_page docs/errors.md` from the error",
        "     catalogue in mockserver/errors.py: edit that (or the triggers in",
        "     mockserver/errors_page.py), not this file. -->",
        "",
        "Every refusal comes the way the real service documents it: the status, the vendor",
        "code (also in `X-Response-Code`), the envelope, `X-Request-Id` and the echoed message",
        "id, with a message naming the field at fault. `GET /_sandbox/codes` lists the same",
        "catalogues. Any code can be forced on one call with a `Prefer: error=<code>` header,",
        "or on matching calls with a fault rule (docs/reproducing.md).",
        "",
        "- [Business Connect: Device, Event, User and Token APIs](#business-connect)",
        "- [Business Connect: DR API](#business-connect-dr)",
        "- [ThinQ asynchronous API](#thinq-asynchronous)",
        "- [ThinQ Connect API](#thinq-connect)",
        "- [Sandbox control API](#sandbox-control)",
        "",
        '<a id="business-connect"></a>',
        "## Business Connect: Device, Event, User and Token APIs",
        "",
        'Envelope: `{"messageId", "timestamp", "error": {"code", "message"}}`. The codes',
        "only DR operations answer are in [the DR table](#business-connect-dr).",
        "",
        *_table(BC_CODES, BC_TRIGGERS, "How to meet it on the default scenario"),
        "",
        '<a id="business-connect-dr"></a>',
        "## Business Connect: DR API (`/bc/v1/dr/...`)",
        "",
        'Envelope: `{"code", "message"}` (the code as a number), beside the `{"code": 2000,',
        '"data"}` of a success. "Enrolled" below means the set-up of docs/dr.md steps 1 and 3:',
        "group `k-apt-1168011000`, user `KR2024000000001` in it, event `peak-01`.",
        "",
        *_table(BC_CODES, DR_TRIGGERS, "How to meet it"),
        "",
        '<a id="thinq-asynchronous"></a>',
        "## ThinQ asynchronous API (`/v2/devices/*-async`)",
        "",
        'Envelope: `{"messageId", "response": {"error": {"code", "message"}}, "responseCode",',
        '"statusCode", "timestamp"}`, answered at once, or inside one device\'s callback when',
        "that device refuses (the status column is then the callback's `statusCode`). Codes",
        "are the platform's, as LG's `thinqconnect` SDK names them (`ThinQAPIErrorCodes`).",
        "",
        *_table(THINQ_CODES, THINQ_TRIGGERS, "How to meet it"),
        "",
        '<a id="thinq-connect"></a>',
        "## ThinQ Connect API (`/connect/...`)",
        "",
        'Envelope: `{"messageId", "timestamp", "error": {"code", "message"}}`, what LG\'s',
        "`thinqconnect` SDK raises as `ThinQAPIException(code)`. The same platform codes as",
        "the asynchronous API, each at the status LG's developer portal gives it",
        "(docs/spec-notes.md TC-05).",
        "",
        *_table(CONNECT_CODES, CONNECT_TRIGGERS, "How to meet it"),
        "",
        '<a id="sandbox-control"></a>',
        "## Sandbox control API (`/_sandbox/...`)",
        "",
        'Envelope: `{"error": {"code", "message", "problems"?}}`: the code is a name, the',
        "message names the field at fault, `problems` lists every problem of a refused",
        "scenario (`FILE: $.path: reason`).",
        "",
        "| Code | Status | Meaning |",
        "| --- | --- | --- |",
        *(f"| `{reason.name}` | {_sandbox_status(reason)} | {reason.value} |" for reason in Err),
        "",
    ]
    return "\n".join(lines)


def stale_triggers() -> list[str]:
    """Triggers written here for codes the catalogue no longer has."""
    return [
        f"{table} {code}"
        for table, triggers, codes in (
            ("BC_TRIGGERS", BC_TRIGGERS, BC_CODES),
            ("DR_TRIGGERS", DR_TRIGGERS, BC_CODES),
            ("THINQ_TRIGGERS", THINQ_TRIGGERS, THINQ_CODES),
            ("CONNECT_TRIGGERS", CONNECT_TRIGGERS, CONNECT_CODES),
        )
        for code in sorted(set(triggers) - set(codes))
    ]


def _table(codes: dict, triggers: dict[str, str], heading: str) -> list[str]:
    rows = [f"| Code | Status | Meaning | {heading} |", "| --- | --- | --- | --- |"]
    for code, info in codes.items():
        how = triggers.get(code)
        if how is None and triggers is BC_TRIGGERS and code in DR_TRIGGERS:
            continue  # a DR-only code: the DR table has it
        rows.append(
            f"| {code} | {info.status} | {info.title} | {how or PREFER_ONLY.format(code=code)} |"
        )
    return rows


def _sandbox_status(reason: Err) -> int:
    # The one renderer decides: the page shows what the sandbox answers.
    return respond(Api.SANDBOX, ApiError(reason)).status


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args:
        # Written whole, then renamed: a reader (the test that it is current) never sees
        # half a page.
        target = Path(args[0])
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
