"""The request pipeline built at start: every operation bound to a real handler."""

from __future__ import annotations

import pytest

from lgspecs import documents, mounts
from mockserver import operations
from mockserver.app import HANDLER_MODULES, HandlerResolver
from mockserver.errors import ApiError, Err
from mockserver.pipeline import Pipeline
from mockserver.validation import ABSENT, JSONBodyCheck


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline({api: HandlerResolver(*mods) for api, mods in HANDLER_MODULES.items()})


def _operation_ids(document: documents.Document) -> set[str]:
    return {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def test_every_operation_of_every_spec_has_a_real_handler(pipeline: Pipeline) -> None:
    bound = {b.operation.operation_id: b for b in pipeline.bound()}
    for mount in mounts.MOUNTS:
        declared = _operation_ids(mount.document())
        assert declared, mount.name
        missing = declared - set(bound)
        assert not missing, f"{mount.name}: not bound: {sorted(missing)}"
        stubs = sorted(op for op in declared if bound[op].is_stub)
        assert not stubs, f"{mount.name}: answered by the 501 stub: {stubs}"
    assert len(bound) == len(operations.table())


def test_handlers_take_the_path_parameters_and_body_the_spec_declares(
    pipeline: Pipeline,
) -> None:
    for bound in pipeline.bound():
        names = {name for name, _ in bound.path_args}
        assert names == set(bound.operation.pattern.groupindex), bound.operation.operation_id
        if bound.json_body is not None:
            assert bound.takes_body, bound.operation.operation_id


def test_mount_table_is_the_one_source_of_prefixes() -> None:
    assert [m.prefix for m in mounts.MOUNTS] == ["/bc", "/v2", "/connect", "/_sandbox"]
    assert mounts.api_for_path("/bc/v1/devices") is mounts.Api.BUSINESS_CONNECT
    assert mounts.api_for_path("/v2/devices/status-async") is mounts.Api.THINQ_ASYNC
    assert mounts.api_for_path("/connect/devices") is mounts.Api.THINQ_CONNECT
    assert mounts.api_for_path("/connected") is mounts.Api.SANDBOX
    assert mounts.api_for_path("/_sandbox/health") is mounts.Api.SANDBOX
    assert mounts.api_for_path("/bcx") is mounts.Api.SANDBOX
    for op in operations.table():
        assert mounts.mount_of(op.api).owns(op.template), op.template


def _refusal(check: JSONBodyCheck, raw: bytes) -> Err:
    with pytest.raises(ApiError) as caught:
        check.check(check.parse(raw))
    return caught.value.reason


def test_json_null_is_a_body_and_is_checked_like_one() -> None:
    optional_object = JSONBodyCheck({"type": "object"}, required=False, nullable=False)
    assert optional_object.parse(b"") is ABSENT
    assert optional_object.check(ABSENT) is None
    assert _refusal(optional_object, b"null") is Err.INVALID_BODY
    nullable = JSONBodyCheck({"type": "object", "nullable": True}, required=True, nullable=True)
    assert nullable.check(nullable.parse(b"null")) is None
    required = JSONBodyCheck({"type": "object"}, required=True, nullable=False)
    assert _refusal(required, b"") is Err.MISSING_BODY_FIELD


def test_integers_follow_json_schema_2020_12() -> None:
    check = JSONBodyCheck(
        {"type": "object", "properties": {"n": {"type": "integer"}}}, required=True, nullable=False
    )
    assert check.check(check.parse(b'{"n": 1.0}')) == {"n": 1.0}
    assert _refusal(check, b'{"n": 1.5}') is Err.INVALID_BODY
    assert _refusal(check, b'{"n": true}') is Err.INVALID_BODY
