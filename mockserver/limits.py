"""Hostile-input limits: how big and how deeply nested a request body may be.

The gateway calls ``check_length`` on the declared ``Content-Length`` before reading a
byte, and ``check_body`` on the raw bytes before anything parses them. Both work on bytes
only, never on parsed values: JSON and YAML parsers recurse once per nesting level, so a
4 KB body of 2,000 nested arrays must be refused before any of them sees it.

A refusal is an ``ApiError(Err.INVALID_BODY)`` naming the body, which every API renders
with its own documented body code and envelope (Business Connect 4102, the ThinQ
asynchronous API 1102, the control API INVALID_BODY): see docs/spec-notes.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from mockserver.errors import Api, ApiError, Err

MIB = 1024 * 1024


@dataclass(frozen=True)
class BodyLimits:
    max_bytes: int
    max_depth: int  # arrays and objects inside each other
    # The control API also reads YAML, whose block collections nest by indentation.
    yaml: bool = False


# The vendor APIs take small command and DR bodies (the largest documented one, a DR
# event with its targets, is a few KB): 1 MiB and 32 levels leave room for any of them.
# The control API takes whole scenarios, which for a 100,000-device fleet run to tens of
# megabytes of YAML; profiles inline in a scenario nest about a dozen levels.
LIMITS: dict[Api, BodyLimits] = {
    Api.BUSINESS_CONNECT: BodyLimits(max_bytes=1 * MIB, max_depth=32),
    Api.THINQ_ASYNC: BodyLimits(max_bytes=1 * MIB, max_depth=32),
    Api.THINQ_CONNECT: BodyLimits(max_bytes=1 * MIB, max_depth=32),
    Api.SANDBOX: BodyLimits(max_bytes=512 * MIB, max_depth=64, yaml=True),
}

# A JSON string, escapes included; an unterminated one is left for the parser to refuse.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")


def limits_for(api: Api) -> BodyLimits:
    return LIMITS[api]


def too_large(size: int, limits: BodyLimits) -> ApiError:
    return ApiError(
        Err.INVALID_BODY,
        f"request body of {size} bytes is larger than the {limits.max_bytes} bytes "
        "this API accepts",
        field="body",
    )


def check_length(content_length: str | None, limits: BodyLimits) -> ApiError | None:
    """The refusal for a declared ``Content-Length`` over the limit, else None."""
    if content_length is None or not content_length.strip().isdigit():
        return None  # absent or malformed: the server reads and counts the bytes itself
    size = int(content_length)
    return too_large(size, limits) if size > limits.max_bytes else None


def nesting_depth(body: bytes, stop_after: int | None = None) -> int:
    """How deeply arrays and objects nest in raw JSON (or YAML flow) text.

    Brackets inside strings do not count. With ``stop_after`` the scan ends as soon as
    the depth passes it, so a hostile body costs no more than a legitimate one.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in _OPENERS:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_after is not None and deepest > stop_after:
                    break
        elif depth:
            depth -= 1
    return deepest


def too_deep_yaml(body: bytes, max_depth: int) -> bool:
    """Whether YAML block collections may nest more than ``max_depth`` levels.

    Each block level needs one more column of indentation or one more ``- `` before its
    first entry, so a document whose lines all start with at most ``max_depth`` spaces
    and dashes cannot nest deeper. One regular-expression search, whatever the size.
    A document that opens with a bracket is flow style throughout: the bracket scan
    covers it, and pretty-printed JSON keeps its indentation.
    """
    if body.lstrip()[:1] in (b"[", b"{"):
        return False
    return _deep_indent(max_depth).search(body) is not None


@cache
def _deep_indent(max_depth: int) -> re.Pattern[bytes]:
    return re.compile(rb"^[ \t-]{%d,}" % (max_depth + 1), re.MULTILINE)


# Nodes YAML aliases may add once expanded. A 362-byte "billion laughs" document of 60
# aliases expands to 10 million nodes and held the server for 20 s in the schema check.
MAX_ALIAS_NODES = 1_000_000


def alias_expansion(body: bytes, stop_after: int = MAX_ALIAS_NODES) -> int:
    """How many nodes YAML aliases add to a document once expanded (0 without anchors).

    Read from the parser's events, nothing constructed: each anchored node's expanded
    size is remembered, each alias adds it. Stops as soon as ``stop_after`` is passed.
    """
    if b"&" not in body or b"*" not in body:
        return 0
    import yaml  # only the control API reads YAML; its import is not on the hot path

    sizes: dict[str, int] = {}
    stack: list[list[Any]] = [[None, 0]]  # [anchor, expanded size] of open collections
    added = 0
    try:
        for event in yaml.parse(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent):
                size = sizes.get(event.anchor, 1)
                added += size
                stack[-1][1] += size
                if added > stop_after:
                    return added
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    sizes[event.anchor] = 1
                stack[-1][1] += 1
            elif isinstance(event, yaml.CollectionStartEvent):
                stack.append([event.anchor, 1])
            elif isinstance(event, yaml.CollectionEndEvent) and len(stack) > 1:
                anchor, size = stack.pop()
                if anchor:
                    sizes[anchor] = size
                stack[-1][1] += size
    except yaml.YAMLError:
        return added  # the scenario parser reports what is wrong with it
    return added


def too_deep(body: bytes, max_depth: int) -> bool:
    # Fewer brackets than the limit cannot nest past it: most bodies skip the scan.
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    return nesting_depth(body, stop_after=max_depth) > max_depth


def check_body(body: bytes, limits: BodyLimits) -> ApiError | None:
    """The refusal for a body over the size or nesting limit, else None."""
    if len(body) > limits.max_bytes:
        return too_large(len(body), limits)
    if too_deep(body, limits.max_depth) or (limits.yaml and too_deep_yaml(body, limits.max_depth)):
        return ApiError(
            Err.INVALID_BODY,
            f"request body nests arrays and objects more than {limits.max_depth} levels "
            "deep, the most this API accepts",
            field="body",
        )
    if limits.yaml and alias_expansion(body) > MAX_ALIAS_NODES:
        return ApiError(
            Err.INVALID_BODY,
            f"YAML aliases in the request body expand to more than {MAX_ALIAS_NODES} "
            "nodes, the most this API accepts",
            field="body",
        )
    return None
