"""The spec pipeline: vendor file fidelity, overlay repairs, the 3.0 form connexion reads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

from lgspecs import documents, tables
from lgspecs.data import openapi_dir
from mockserver import speclint
from mockserver.backends.thinq import SEED_PUSH_TYPES

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEED_004 = SEEDS / "004_9a5f84195067f0b8.txt"


@pytest.mark.skipif(not SEED_004.exists(), reason="../shared/seeds is not beside this checkout")
def test_vendor_file_is_the_seed_byte_for_byte() -> None:
    with SEED_004.open(encoding="utf-8") as stream:
        seed = next(d for d in yaml.safe_load_all(stream) if d)["contents"]["code"]
    vendor = (openapi_dir() / documents.VENDOR_FILE).read_bytes()
    assert vendor == seed.encode("utf-8")


def test_vendor_spec_is_invalid_as_published() -> None:
    errors = list(OpenAPIV31SpecValidator(documents.vendor_spec()).iter_errors())
    # The seed's defects by kind, where each sits: what the overlay must repair.
    kinds = Counter(
        (error.message.splitlines()[0], error.absolute_path[0], error.absolute_path[-2])
        for error in errors
    )
    assert kinds == {
        ('null is not of type "string"', "info", "info"): 1,  # info.version: null
        # `required` beside a parameter's $ref, in 48 operations' parameter lists
        (
            "Unevaluated properties are not allowed ('required' was unexpected)",
            "paths",
            "parameters",
        ): 48,
        # a component parameter (deviceId, a path parameter) without `required`
        ('"required" is a required property', "components", "parameters"): 1,
    }


def test_repaired_spec_validates_as_openapi_31() -> None:
    errors = [e.message for e in OpenAPIV31SpecValidator(documents.repaired_spec()).iter_errors()]
    assert errors == []


def test_repaired_spec_leaves_no_semantic_finding() -> None:
    assert speclint.semantic_findings(documents.repaired_spec()) == []


def test_every_operation_has_an_operation_id_after_repair() -> None:
    repaired = list(tables.iter_operations(documents.repaired_spec()))
    vendor = list(tables.iter_operations(documents.vendor_spec()))
    # Every operation the vendor publishes is still there, each with an id of its own.
    assert [(path, method) for path, method, _ in repaired] == [
        (path, method) for path, method, _ in vendor
    ]
    missing = [f"{method} {path}" for path, method, op in repaired if not op.get("operationId")]
    assert missing == []
    ids = [op["operationId"] for _, _, op in repaired]
    assert sorted(ids) == sorted(set(ids)), "an operationId is used twice"


def test_required_is_folded_into_components() -> None:
    repaired = documents.repaired_spec()
    parameters = repaired["components"]["parameters"]
    for name in ("X-Api-Token", "X-Message-Id", "X-Use-Account", "deviceId"):
        assert parameters[name]["required"] is True
    for name in ("Authorization", "X-Country-Code"):
        assert not parameters[name].get("required")
    for _, _, operation in tables.iter_operations(repaired):
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:
                assert set(parameter) == {"$ref"}


def test_lint_reports_the_known_defects() -> None:
    kinds = {f.kind for f in speclint.lint(documents.vendor_spec())}
    assert {
        "validator",
        "ref-sibling",
        "operationId",
        "error-body",
        "code-table",
        "info",
        "path-param",
        "format",
        "example",
    } <= kinds


def test_overlay_action_that_matches_nothing_is_an_error() -> None:
    broken = {"actions": [{"target": "$.paths['/nowhere'].get", "update": {"x": 1}}]}
    with pytest.raises(documents.OverlayError, match="matches nothing"):
        documents.apply_overlay(documents.vendor_spec(), broken)


def test_overlay_remove_and_update() -> None:
    document = {"a": {"b": 1, "c": [1, 2]}, "d": {"$ref": "#/x", "required": True}}
    overlay = {
        "actions": [
            {"target": "$.a.b", "remove": True},
            {"target": "$.a.c", "update": 3},
            {"target": "$.d", "update": {"$ref": "#/y"}},
        ]
    }
    expected = {"a": {"c": [1, 2, 3]}, "d": {"$ref": "#/y"}}
    assert documents.apply_overlay(document, overlay) == expected


def test_connexion_form_is_valid_openapi_30() -> None:
    for document in (documents.repaired_spec(), documents.sandbox_spec()):
        converted = documents.for_connexion(document)
        assert converted["openapi"] == "3.0.3"
        errors = [e.message for e in OpenAPIV30SpecValidator(converted).iter_errors()]
        assert errors == []


def test_31_constructs_are_down_converted() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "summary": "s"},
        "paths": {},
        "components": {"schemas": {"a": {"type": ["string", "null"], "const": "x"}}},
    }
    converted = documents.to_openapi_30(document)
    assert converted["components"]["schemas"]["a"] == {
        "type": "string",
        "nullable": True,
        "enum": ["x"],
    }
    assert "summary" not in converted["info"]


def test_build_writes_every_document(tmp_path: Path) -> None:
    written = {p.name for p in documents.build(tmp_path)}
    assert {"business-connect.yaml", "business-connect.openapi30.yaml", "sandbox.yaml"} <= written
    rebuilt = yaml.safe_load((tmp_path / "business-connect.yaml").read_text())
    assert rebuilt == documents.repaired_spec()


def test_thinq_spec_validates_and_declares_every_operation_and_callback() -> None:
    document = documents.thinq_spec()
    assert list(OpenAPIV31SpecValidator(document).iter_errors()) == []
    operations = {op["operationId"]: op for _, _, op in tables.iter_operations(document)}
    assert len(operations) == 7
    for operation in operations.values():
        assert operation.get("callbacks"), operation["operationId"]
    push_types = set(document["components"]["schemas"]["PushType"]["enum"])
    assert set(SEED_PUSH_TYPES) <= push_types


def test_thinq_paths_are_mounted_without_their_prefix() -> None:
    converted = documents.for_connexion(documents.thinq_spec(), mount="/v2")
    assert "/devices/status-async" in converted["paths"]
    assert not any(path.startswith("/v2/") for path in converted["paths"])


def test_literal_segments_route_before_templates() -> None:
    paths = list(documents.for_connexion(documents.repaired_spec())["paths"])
    assert paths.index("/v1/dr/events/{eventId}/targets/batch") < paths.index(
        "/v1/dr/events/{eventId}/targets/{targetId}"
    )
