"""The body limits work on raw bytes: depth, size, strings, YAML indentation."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from mockserver.errors import Api, Err
from mockserver.journal import JournalEntry
from mockserver.limits import (
    BodyLimits,
    alias_expansion,
    check_body,
    check_length,
    limits_for,
    nesting_depth,
    too_deep_yaml,
)


def test_depth_counts_arrays_and_objects_but_not_brackets_in_strings() -> None:
    assert nesting_depth(b'{"a": [1, {"b": [2]}]}') == 4
    assert nesting_depth(b'{"a": "[[[[[[[[", "b": "\\"[[["}') == 1
    assert nesting_depth(b"[]") == 1
    assert nesting_depth(b'"just a string"') == 0


def test_a_hostile_body_stops_the_scan_early() -> None:
    assert nesting_depth(b"[" * 100_000, stop_after=32) == 33


def test_check_body_refuses_deep_and_large_bodies_naming_the_body() -> None:
    limits = BodyLimits(max_bytes=100, max_depth=3)
    assert check_body(b"[[[1]]]", limits) is None
    deep = check_body(b"[[[[1]]]]", limits)
    assert deep is not None and deep.reason is Err.INVALID_BODY and deep.field == "body"
    assert "more than 3 levels" in deep.message
    large = check_body(b"x" * 101, limits)
    assert large is not None and "101 bytes" in large.message


def test_declared_length_is_checked_before_reading() -> None:
    limits = BodyLimits(max_bytes=100, max_depth=3)
    assert check_length("101", limits) is not None
    assert check_length("100", limits) is None
    assert check_length(None, limits) is None
    assert check_length("not a number", limits) is None  # counted while reading instead


def test_yaml_nesting_by_indentation() -> None:
    deep = "".join(" " * n + "a:\n" for n in range(80)).encode()
    assert too_deep_yaml(deep, 64)
    shallow = "".join(" " * n + "a:\n" for n in range(20)).encode()
    assert not too_deep_yaml(shallow, 64)
    # Pretty-printed JSON is flow style: its indentation is not nesting.
    assert not too_deep_yaml(b"{\n" + b" " * 200 + b'"a": 1\n}', 64)
    assert check_body(deep, limits_for(Api.SANDBOX)) is not None
    assert check_body(deep, limits_for(Api.BUSINESS_CONNECT)) is None  # JSON only there


@pytest.mark.parametrize(
    "raw",
    [b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00 not utf-8", b'{"cut": "in the mid'],
)
def test_a_journal_entry_renders_whatever_was_sent(raw: bytes) -> None:
    entry = JournalEntry(1, "2030-01-01T00:00:00", "bc", None, None, "POST", "/bc", "", {}, raw)
    shown = entry.to_dict()["request"]["body"]
    assert isinstance(shown, str) and len(shown) >= len(raw) // 2
    assert JournalEntry.from_dict(entry.to_dict()).to_dict() == entry.to_dict()


def test_an_unexpected_error_logs_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    from mockserver.app import on_unexpected

    try:
        {}["missing"]
    except KeyError as caught:
        error = caught
    request = SimpleNamespace(
        method="POST", url=SimpleNamespace(path="/_sandbox/clock"), headers={}
    )
    # connexion calls the handler after its except block: no exception is "current".
    with caplog.at_level(logging.ERROR, logger="lgmock"):
        answer = on_unexpected(request, error)  # type: ignore[arg-type]
    assert answer.status_code == 500
    assert "Traceback" in caplog.text and "KeyError: 'missing'" in caplog.text
    assert "NoneType: None" not in caplog.text


def laughs(levels: int) -> bytes:
    """A "billion laughs" document: each level ten aliases of the one before."""
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 10) + "]")
    return "\n".join(lines).encode()


def test_yaml_alias_expansion_is_counted_without_building_anything() -> None:
    assert alias_expansion(b"p: &p {a: 1, b: [1, 2]}\nx: *p\ny: *p\n") == 14
    assert alias_expansion(b'{"a": "&x *x"}') == 0  # no anchors: a string is a string
    assert alias_expansion(laughs(9), stop_after=1000) <= 1000 + 10**3  # stopped early
    assert check_body(laughs(9), limits_for(Api.SANDBOX)) is not None
    assert check_body(laughs(3), limits_for(Api.SANDBOX)) is None  # 11,110 nodes: fine
