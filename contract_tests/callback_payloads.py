"""Hypothesis strategies for what the platform POSTs to a partner: valid, and realistic.

ThinQ asynchronous callbacks (one per device of a request: success with ``result``, or a
per-device failure with ``error`` and its code), ThinQ messages after a subscription
(DEVICE_STATUS ``report``, DEVICE_PUSH ``pushCode``) and Business Connect push messages.
Every payload drawn here must validate against its spec's schema; the tester asserts it
before sending, so a receiver is never blamed for a payload the platform would not send.

Edges are opt-in per strategy, so each one is tested (and shrunk) on its own:
unknown extra fields, unicode in every free-text field, large results.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from hypothesis import strategies as st

from contract_tests import contracts
from lgspecs import data, tables

# Everything below is what the ThinQ spec declares, not what the sandbox sends.
CALLBACK_PUSH_TYPES = contracts.push_types()
MESSAGE_PUSH_TYPES = contracts.message_push_types()
_THINQ = contracts.contract("thinq")
# Per-device refusals a callback may carry: every documented error code, with the
# HTTP status the spec documents it with and its title.
FAILURE_CODES = tuple(sorted(_THINQ.error_codes))
FAILURE_STATUS = {code: min(statuses) for code, statuses in _THINQ.code_statuses().items()}
CODE_TITLES = tables.code_titles(_THINQ.document)
# Names the specs give a meaning (or a schema) to: never used for an "unknown" field.
RESERVED = frozenset(
    {
        "messageId",
        "requestId",
        "response",
        "responseCode",
        "statusCode",
        "timestamp",
        "pushType",
        "deviceId",
        "deviceType",
        "serviceId",
        "userNumber",
        "result",
        "error",
        "report",
        "pushCode",
        "alias",
    }
)


@dataclass(frozen=True)
class Edges:
    unknown_fields: bool = False
    unicode: bool = False
    large: bool = False
    max_body_bytes: int = 256 * 1024


PLAIN = Edges()


# ------------------------------------------------------------------------- building blocks


@cache
def _fixture_profiles() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(deviceType, profile) of every profile fixture the sandbox ships."""
    found = []
    for path in sorted(data.profiles_dir().glob("*/*.json")):
        device_type = "DEVICE_" + path.parent.name.upper()
        found.append((device_type, json.loads(path.read_text(encoding="utf-8"))))
    return tuple(found)


@cache
def _push_codes() -> tuple[str, ...]:
    codes = {
        code
        for _, profile in _fixture_profiles()
        for code in (profile.get("notification") or {}).get("push", [])
    }
    return tuple(sorted(codes)) or ("WASHING_IS_COMPLETE",)


def message_ids() -> st.SearchStrategy[str]:
    # The platform's format: url-safe base64 of 16 random bytes, no padding.
    return st.binary(min_size=16, max_size=16).map(
        lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    )


def request_ids() -> st.SearchStrategy[str]:
    # The spec gives requestId no format: the platform's ids look like message ids.
    return message_ids()


def device_ids() -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def timestamps(base: datetime | None = None) -> st.SearchStrategy[str]:
    start = base or datetime(2026, 1, 1, tzinfo=UTC)
    return st.integers(0, 10**12).map(
        lambda micros: (
            (start + timedelta(microseconds=micros))
            .replace(tzinfo=None)
            .isoformat(timespec="microseconds")
        )
    )


def free_text(edges: Edges, *, ascii_words: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Realistic ASCII, or with the unicode edge any text at all (emoji, RTL, NUL...)."""
    if edges.unicode:
        return st.one_of(ascii_words, st.text(min_size=1, max_size=40))
    return ascii_words


def device_types(edges: Edges) -> st.SearchStrategy[str]:
    known = st.sampled_from(sorted({device_type for device_type, _ in _fixture_profiles()}))
    return free_text(edges, ascii_words=known)


def _scalars(edges: Edges) -> st.SearchStrategy[Any]:
    words = st.from_regex(r"[A-Z][A-Z_]{1,15}", fullmatch=True)
    return st.one_of(
        st.booleans(),
        st.integers(-100, 10_000),
        st.floats(-100, 100, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 1)),
        free_text(edges, ascii_words=words),
    )


def statuses(edges: Edges) -> st.SearchStrategy[dict[str, Any]]:
    """A device status: resource -> attribute -> value, some resources lists of locations."""
    names = st.from_regex(r"[a-z][A-Za-z]{2,20}", fullmatch=True)
    attributes = st.dictionaries(names, _scalars(edges), min_size=1, max_size=4)
    located = st.lists(
        st.builds(
            lambda location, values: {"locationName": location, **values},
            st.sampled_from(["FRIDGE", "FREEZER", "OVEN", "UPPER", "LOWER"]),
            attributes,
        ),
        min_size=1,
        max_size=3,
    )
    return st.dictionaries(names, st.one_of(attributes, located), min_size=1, max_size=5)


def profiles() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from([profile for _, profile in _fixture_profiles()])


def bulk(edges: Edges) -> st.SearchStrategy[dict[str, Any]]:
    """A large result: up to ``max_body_bytes`` of entries, shrinking towards small."""
    entry = 64
    count = st.integers(1, max(1, edges.max_body_bytes // entry))
    return count.map(
        lambda n: {"history": [{"index": i, "value": "x" * (entry - 32)} for i in range(n)]}
    )


def extra_fields(edges: Edges) -> st.SearchStrategy[dict[str, Any]]:
    """Fields no spec names: the platform adds them over time without notice."""
    if not edges.unknown_fields:
        return st.just({})
    names = st.from_regex(r"[a-z][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
        lambda name: name not in RESERVED
    )
    values = st.recursive(
        _scalars(edges) | st.none(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
        max_leaves=8,
    )
    return st.dictionaries(names, values, min_size=1, max_size=4)


def _with_extras(
    body: st.SearchStrategy[dict[str, Any]], edges: Edges
) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(body, extra_fields(edges)).map(lambda parts: {**parts[1], **parts[0]})


# ------------------------------------------------------------------------- ThinQ


def _device_part(push_type: str, edges: Edges) -> st.SearchStrategy[dict[str, Any]]:
    part = st.fixed_dictionaries(
        {
            "pushType": st.just(push_type),
            "deviceId": device_ids(),
            "deviceType": device_types(edges),
            "serviceId": st.from_regex(r"[a-z][a-z0-9-]{2,30}", fullmatch=True),
            "userNumber": st.from_regex(r"[A-Z]{2}20[0-9]{11}", fullmatch=True),
        },
        optional={"alias": free_text(edges, ascii_words=st.just("Kitchen refrigerator"))}
        if edges.unicode
        else {},
    )
    return _with_extras(part, edges)


def _result(push_type: str, edges: Edges) -> st.SearchStrategy[Any]:
    if edges.large:
        return bulk(edges)
    if push_type == "DEVICE_PROFILE":
        return profiles()
    if push_type == "DEVICE_STATUS":
        return statuses(edges)
    return st.just({})


def thinq_callback(
    push_type: str, *, success: bool, edges: Edges = PLAIN
) -> st.SearchStrategy[dict[str, Any]]:
    """One device's callback of a request, as success or as a per-device failure."""
    if success:
        response = st.tuples(_device_part(push_type, edges), _result(push_type, edges)).map(
            lambda parts: {**parts[0], "result": parts[1]}
        )
        code_and_status = st.just(("0000", 200))
    else:
        code_and_status = st.sampled_from(FAILURE_CODES).map(
            lambda code: (code, FAILURE_STATUS[code])
        )
        response = _device_part(push_type, edges)
    return st.builds(
        _callback_envelope,
        message_id=message_ids(),
        request_id=request_ids(),
        timestamp=timestamps(),
        response=response,
        code_and_status=code_and_status,
        message=free_text(edges, ascii_words=st.sampled_from(["Device not connected", "x"])),
        extras=extra_fields(edges),
    )


def _callback_envelope(
    *,
    message_id: str,
    request_id: str,
    timestamp: str,
    response: dict[str, Any],
    code_and_status: tuple[str, int],
    message: str,
    extras: dict[str, Any],
) -> dict[str, Any]:
    code, status = code_and_status
    response = dict(response)
    if code != "0000":
        response["error"] = {"code": code, "message": f"{CODE_TITLES.get(code, code)}: {message}"}
    body = {
        "messageId": message_id,
        "requestId": request_id,
        "response": response,
        "responseCode": code,
        "statusCode": status,
        "timestamp": timestamp,
    }
    return {**extras, **body}


def thinq_message(push_type: str, *, edges: Edges = PLAIN) -> st.SearchStrategy[dict[str, Any]]:
    """A message after a subscription: DEVICE_STATUS with a report, DEVICE_PUSH with a code."""
    if push_type == "DEVICE_STATUS":
        payload = (bulk(edges) if edges.large else statuses(edges)).map(lambda r: {"report": r})
    else:
        payload = st.sampled_from(_push_codes()).map(lambda code: {"pushCode": code})
    response = st.tuples(_device_part(push_type, edges), payload).map(
        lambda parts: {**parts[0], **parts[1]}
    )
    return st.builds(
        lambda message_id, timestamp, response, extras: {
            **extras,
            "messageId": message_id,
            "response": response,
            "responseCode": "0000",
            "statusCode": 200,
            "timestamp": timestamp,
        },
        message_ids(),
        timestamps(),
        response,
        extra_fields(edges),
    )


def status_reports_in_order(edges: Edges = PLAIN) -> st.SearchStrategy[list[dict[str, Any]]]:
    """2-4 DEVICE_STATUS messages of one device, oldest first (to be delivered shuffled)."""

    def same_device(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        first = messages[0]["response"]
        start = datetime(2026, 1, 1)
        result = []
        for index, message in enumerate(messages):
            response = {**message["response"], "deviceId": first["deviceId"]}
            when = (start + timedelta(seconds=index)).isoformat(timespec="microseconds")
            result.append({**message, "response": response, "timestamp": when})
        return result

    return st.lists(thinq_message("DEVICE_STATUS", edges=edges), min_size=2, max_size=4).map(
        same_device
    )


# ------------------------------------------------------------------------- Business Connect


def bc_message(push_type: str, *, edges: Edges = PLAIN) -> st.SearchStrategy[dict[str, Any]]:
    """A push delivery to a partner's callbackUrl (the repaired spec's webhook)."""
    if push_type == "DEVICE_STATUS":
        payload = (bulk(edges) if edges.large else statuses(edges)).map(lambda r: {"report": r})
    else:
        payload = st.sampled_from(_push_codes()).map(lambda code: {"pushCode": code})
    body = st.fixed_dictionaries(
        {
            "messageId": message_ids(),
            "timestamp": timestamps(),
            "pushType": st.just(push_type),
            "deviceId": device_ids(),
            "deviceType": device_types(edges),
        },
        optional={"userNumber": st.from_regex(r"[A-Z]{2}20[0-9]{11}", fullmatch=True)},
    )
    return st.tuples(_with_extras(body, edges), payload).map(lambda parts: {**parts[0], **parts[1]})
