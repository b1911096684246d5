"""connexion's check of a document against the OpenAPI schema runs once per distinct
document in a process (mockserver.app._ValidatedOnce): a start reads each API's document
twice, and the second check was half of a start's time."""

from __future__ import annotations

import pytest
from connexion.exceptions import InvalidSpecification
from connexion.spec import Specification

from lgspecs import mounts
from mockserver.app import _check_each_document_once, _ValidatedOnce


def _minimal(title: str) -> dict:
    return {"openapi": "3.0.3", "info": {"title": title, "version": "1"}, "paths": {}}


def test_the_same_document_is_checked_once_and_a_different_one_again() -> None:
    checked: list[str] = []
    once = _ValidatedOnce()
    once.check = lambda cls, document: checked.append(document["info"]["title"])
    once(Specification, _minimal("a"))
    once(Specification, _minimal("a"))
    once(Specification, _minimal("b"))
    assert checked == ["a", "b"]


def test_an_invalid_document_is_still_refused_after_a_valid_one() -> None:
    _check_each_document_once()
    Specification.from_dict(mounts.MOUNTS[0].connexion_document())
    broken = _minimal("broken")
    broken["paths"] = {"/x": {"get": {"responses": "not a mapping"}}}
    with pytest.raises(InvalidSpecification):
        Specification.from_dict(broken)
    with pytest.raises(InvalidSpecification):  # and again: a refusal is never remembered
        Specification.from_dict(broken)
