"""docs/errors.md is what mockserver/errors_page.py renders from the error catalogue."""

from __future__ import annotations

from mockserver.errors import BC_CODES, THINQ_CODES, Err
from mockserver.errors_page import render, stale_triggers
from tests.doc_blocks import REPO


def test_docs_errors_md_is_current() -> None:
    page = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    assert page == render(), "run: python -m mockserver.errors_page docs/errors.md"


def test_every_catalogue_code_has_a_row() -> None:
    page = render()
    for code, info in BC_CODES.items():
        assert f"| {code} | {info.status} | {info.title} |" in page
    for code, info in THINQ_CODES.items():
        assert f"| {code} | {info.status} | {info.title} |" in page
    for reason in Err:
        assert f"| `{reason.name}` |" in page


def test_no_trigger_is_written_for_a_code_the_catalogue_lost() -> None:
    assert stale_triggers() == []


def test_a_control_api_missing_object_is_404() -> None:
    # The page's statuses come from the renderer, so a wrong one there shows here.
    assert "| `DELIVERY_NOT_FOUND` | 404 |" in render()
    assert "| `INVALID_BODY` | 400 |" in render()
