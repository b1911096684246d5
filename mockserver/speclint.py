"""``lgmock spec lint``: what is wrong with the vendor's Business Connect document.

Two kinds of finding: what openapi-spec-validator reports against OpenAPI 3.1, and the
semantic defects a validator cannot see (requirements lost beside $ref, operations
without ids, error responses without bodies, prose formats not expressed, examples
that break their own schema, code tables that disagree between operations). Each
finding names where it is; docs/spec-notes.md says what the sandbox does about it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from lgspecs.documents import Document
from lgspecs.tables import code_rows, iter_operations


@dataclass(frozen=True)
class Finding:
    kind: str  # "validator" or a short semantic label
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.message}"


def lint(document: Document) -> list[Finding]:
    # dict.fromkeys drops repeats (one typo seen twice in an example) and keeps order.
    return list(dict.fromkeys([*validator_findings(document), *semantic_findings(document)]))


def validator_findings(document: Document) -> list[Finding]:
    findings = []
    for error in OpenAPIV31SpecValidator(document).iter_errors():
        where = "/".join(str(p) for p in error.path) or "/"
        findings.append(Finding("validator", where, error.message.splitlines()[0]))
    return findings


def semantic_findings(document: Document) -> list[Finding]:
    findings: list[Finding] = []
    if not isinstance((document.get("info") or {}).get("version"), str):
        findings.append(Finding("info", "info/version", "is not a string (null)"))
    tables: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for path, method, operation in iter_operations(document):
        where = f"{method.upper()} {path}"
        if not operation.get("operationId"):
            findings.append(Finding("operationId", where, "has no operationId"))
        for index, parameter in enumerate(operation.get("parameters") or []):
            if "$ref" in parameter and "required" in parameter:
                findings.append(
                    Finding(
                        "ref-sibling",
                        f"{where} parameters[{index}]",
                        f"`required: {parameter['required']}` beside $ref "
                        f"{parameter['$ref']} is ignored",
                    )
                )
            if parameter.get("name") == "X-Message-Id" and "pattern" not in (
                parameter.get("schema") or {}
            ):
                findings.append(
                    Finding(
                        "format", f"{where} X-Message-Id", "22-char base64 format not expressed"
                    )
                )
        for status, response in (operation.get("responses") or {}).items():
            if str(status)[0] in "45" and "content" not in response:
                findings.append(Finding("error-body", f"{where} {status}", "no body schema"))
            for code, title in code_rows(response.get("description")).items():
                tables[code][where] = title
        findings.extend(_example_findings(where, operation))
    findings.extend(_parameter_component_findings(document))
    for code, uses in sorted(tables.items()):
        meanings = defaultdict(list)
        for where, title in uses.items():
            meanings[title].append(where)
        if len(meanings) > 1:
            summary = "; ".join(
                f"{title!r} in {len(wheres)} operation(s)" for title, wheres in meanings.items()
            )
            findings.append(
                Finding("code-table", f"code {code}", f"means different things: {summary}")
            )
    return findings


def _parameter_component_findings(document: Document) -> list[Finding]:
    findings = []
    components = (document.get("components") or {}).get("parameters") or {}
    for name, parameter in components.items():
        if parameter.get("in") == "path" and not parameter.get("required"):
            findings.append(
                Finding(
                    "path-param", f"components/parameters/{name}", "path parameter not required"
                )
            )
        if parameter.get("name") == "X-Message-Id" and "pattern" not in (
            parameter.get("schema") or {}
        ):
            findings.append(
                Finding(
                    "format", f"components/parameters/{name}", "22-char base64 format not expressed"
                )
            )
    return findings


def _example_findings(where: str, operation: dict[str, Any]) -> list[Finding]:
    """Inline examples checked against the schema beside them, and names they use."""
    findings = []
    bodies = [("requestBody", (operation.get("requestBody") or {}).get("content") or {})]
    for status, response in (operation.get("responses") or {}).items():
        bodies.append((f"response {status}", response.get("content") or {}))
    for label, content in bodies:
        for media in content.values():
            schema = media.get("schema") or {}
            for name, example in (media.get("examples") or {}).items():
                if not isinstance(example, dict) or "value" not in example:
                    continue
                value = example["value"]
                if "$ref" not in schema:
                    for error in Draft202012Validator(schema).iter_errors(value):
                        findings.append(
                            Finding("example", f"{where} {label} example {name!r}", error.message)
                        )
                findings.extend(_unknown_names(f"{where} {label} example {name!r}", schema, value))
                text = str(value)
                for typo in re.findall(r"DEVIE_[A-Z_]+", text):
                    findings.append(
                        Finding("example", f"{where} {label} example {name!r}", f"typo {typo}")
                    )
    return findings


def _unknown_names(where: str, schema: dict[str, Any], value: Any) -> list[Finding]:
    """Example keys the schema does not declare (e.g. `controlType` vs `constrolType`)."""
    findings = []
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        declared = schema["properties"]
        for key, item in value.items():
            if key not in declared:
                findings.append(Finding("example", where, f"field {key!r} is not in the schema"))
            else:
                findings.extend(_unknown_names(where, declared[key], item))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            findings.extend(_unknown_names(where, schema["items"], item))
    return findings
