"""Checks a callback or push message against the schema its spec declares for it.

The ThinQ asynchronous spec declares callbacks (answers to a request, with requestId)
and messages (after a subscription); the repaired Business Connect spec declares its
push deliveries as a webhook. Both are OpenAPI 3.1, whose schemas are JSON Schema
2020-12, so jsonschema checks them directly with the spec as the $ref registry.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from lgspecs import documents

THINQ_URI = "urn:lgmock:thinq-async"
BC_URI = "urn:lgmock:business-connect"


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        [
            (
                THINQ_URI,
                Resource.from_contents(documents.thinq_spec(), default_specification=DRAFT202012),
            ),
            (
                BC_URI,
                Resource.from_contents(
                    documents.repaired_spec(), default_specification=DRAFT202012
                ),
            ),
        ]
    )


@cache
def _validator(uri: str, name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{name}"}, registry=_registry())


def thinq_problems(body: Any) -> list[str]:
    """What is wrong with a ThinQ callback (has requestId) or message (has none)."""
    name = "Callback" if isinstance(body, dict) and "requestId" in body else "Message"
    return _problems(_validator(THINQ_URI, name), body, name)


def business_connect_problems(body: Any) -> list[str]:
    return _problems(_validator(BC_URI, "bc-push-message"), body, "bc-push-message")


def _problems(validator: Draft202012Validator, body: Any, name: str) -> list[str]:
    return [
        f"{name} {'/'.join(str(p) for p in error.absolute_path) or '$'}: {error.message}"
        for error in validator.iter_errors(body)
    ]
