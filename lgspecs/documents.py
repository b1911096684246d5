"""The spec pipeline: vendor document + overlay -> repaired 3.1 spec -> what connexion reads.

The vendor file is never edited. ``repaired_spec`` applies the OpenAPI Overlay 1.0
actions of ``business-connect.overlay.yaml``; ``for_connexion`` derives, in memory and
at every start, the OpenAPI 3.0 form connexion 3.3 insists on. Nothing hand-edited is
kept in between, so a new overlay action shows in every consumer at once.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonpath_ng import Fields, Index
from jsonpath_ng.ext import parse as parse_jsonpath

from lgspecs.data import openapi_dir

Document = dict[str, Any]

VENDOR_FILE = "business-connect.vendor.yaml"
OVERLAY_FILE = "business-connect.overlay.yaml"
THINQ_FILE = "thinq-async.yaml"
CONNECT_FILE = "thinq-connect.yaml"
SANDBOX_FILE = "sandbox.yaml"


class OverlayError(ValueError):
    """An overlay action that cannot be applied; names the action and its target."""


# libyaml's parser where PyYAML was built with it (the wheels are): the same documents, about
# eight times faster than the pure-Python one, which took most of a start reading the specs.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)


@functools.cache
def _cached(name: str) -> Document:
    return load_yaml(openapi_dir() / name)


def vendor_spec() -> Document:
    """Seed 004's document exactly as published (a fresh copy each call)."""
    return copy.deepcopy(_cached(VENDOR_FILE))


def overlay() -> Document:
    return copy.deepcopy(_cached(OVERLAY_FILE))


def repaired_spec() -> Document:
    """The Business Connect document the sandbox serves: vendor + every overlay action."""
    return apply_overlay(vendor_spec(), overlay())


def thinq_spec() -> Document:
    return copy.deepcopy(_cached(THINQ_FILE))


def connect_spec() -> Document:
    """The ThinQ Connect document (what LG's ``thinqconnect`` SDK calls), hand-written."""
    return copy.deepcopy(_cached(CONNECT_FILE))


def sandbox_spec() -> Document:
    return copy.deepcopy(_cached(SANDBOX_FILE))


# ------------------------------------------------------------------------- overlay


def apply_overlay(document: Document, overlay_doc: Document) -> Document:
    """Apply OpenAPI Overlay 1.0 actions in order.

    ``update`` merges objects recursively (the update's value wins on scalars), appends
    to a targeted array, and ``remove: true`` deletes the target from its parent. A
    target that matches nothing is an error: a silent no-op would hide a repair that
    stopped applying when the vendor document changed.
    """
    for number, action in enumerate(overlay_doc.get("actions", []), start=1):
        target = action.get("target", "")
        label = f"overlay action {number} ({target})"
        try:
            matches = parse_jsonpath(target).find(document)
        except Exception as exc:  # jsonpath-ng raises bare Exceptions on bad syntax
            raise OverlayError(f"{label}: bad JSONPath: {exc}") from exc
        if not matches:
            raise OverlayError(f"{label}: target matches nothing")
        if action.get("remove"):
            # Remove from the deepest/highest index first so list positions stay valid.
            for match in sorted(matches, key=lambda m: str(m.full_path), reverse=True):
                _remove(match, label)
        elif "update" in action:
            for match in matches:
                _update(match.value, copy.deepcopy(action["update"]), label)
        else:
            raise OverlayError(f"{label}: neither update nor remove")
    return document


def _remove(match: Any, label: str) -> None:
    parent = match.context.value if match.context is not None else None
    step = match.path
    if isinstance(step, Fields) and isinstance(parent, dict):
        for name in step.fields:
            parent.pop(name, None)
    elif isinstance(step, Index) and isinstance(parent, list):
        del parent[step.index]
    else:
        raise OverlayError(f"{label}: cannot remove {match.full_path}")


def _update(target: Any, update: Any, label: str) -> None:
    if isinstance(target, list):
        target.append(update)
    elif isinstance(target, dict) and isinstance(update, dict):
        _merge(target, update)
    else:
        raise OverlayError(f"{label}: cannot merge an object into {type(target).__name__}")


def _merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    if "$ref" in update:
        # A reference replaces whatever the target described: its siblings are void.
        target.clear()
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


# ------------------------------------------------------------------------- 3.1 -> 3.0


def to_openapi_30(document: Document) -> Document:
    """Down-convert the 3.1 constructs a 3.0 reader would reject or misread."""
    converted = copy.deepcopy(document)
    converted["openapi"] = "3.0.3"
    converted.pop("webhooks", None)
    converted.pop("jsonSchemaDialect", None)
    info = converted.setdefault("info", {})
    info.pop("summary", None)
    info.get("license", {}).pop("identifier", None)
    if not isinstance(info.get("version"), str):
        info["version"] = str(info.get("version"))
    for node in _walk(converted):
        _schema_31_to_30(node)
    return converted


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _schema_31_to_30(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if isinstance(kind, list):
        others = [t for t in kind if t != "null"]
        if len(others) == 1:
            node["type"] = others[0]
        else:
            node.pop("type")
            node["anyOf"] = [{"type": t} for t in others]
        if "null" in kind:
            node["nullable"] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list) and "type" in node:
        examples = node.pop("examples")
        if examples:
            node.setdefault("example", examples[0])
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), int | float) and not isinstance(node.get(bound), bool):
            node[flag] = node[bound]
            node[bound] = True
    if "$ref" in node and len(node) > 1:
        # 3.0 forbids siblings of $ref; 3.1 allows only summary/description there.
        for key in [k for k in node if k != "$ref"]:
            node.pop(key)


def for_connexion(document: Document, *, mount: str = "") -> Document:
    """The 3.0 form handed to connexion, for an API mounted at ``mount``.

    Authentication is the sandbox's own (tokens, roles and the sandbox clock, with the
    vendor's error codes), so the security requirements are dropped here: connexion
    would otherwise answer a missing key itself, as problem+json. Paths that already
    begin with the mount point (the ThinQ spec's `/v2/...`) lose that prefix, because
    connexion adds it back as the API's base path.
    """
    converted = to_openapi_30(document)
    paths = converted.get("paths", {})
    if mount:
        paths = {
            (path[len(mount) :] if path.startswith(mount + "/") else path): item
            for path, item in paths.items()
        }
    converted["paths"] = _literal_segments_first(paths)
    converted.pop("security", None)
    for path_item in converted.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    converted.get("components", {}).pop("securitySchemes", None)
    return converted


def _literal_segments_first(paths: dict[str, Any]) -> dict[str, Any]:
    """Order paths so `/targets/batch` is tried before `/targets/{targetId}`.

    connexion matches routes in document order, and the seed lists the templated path
    first, so a batch request would be routed to the single-target update.
    """

    def key(path: str) -> list[tuple[int, str]]:
        return [(1 if part.startswith("{") else 0, part) for part in path.split("/")]

    return dict(sorted(paths.items(), key=lambda item: key(item[0])))


# ------------------------------------------------------------------------- writing


def build(out_dir: Path) -> list[Path]:
    """Write the repaired documents (3.1) and their connexion (3.0) forms to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    documents = {"business-connect": repaired_spec(), "sandbox": sandbox_spec()}
    if (openapi_dir() / THINQ_FILE).exists():
        documents["thinq-async"] = thinq_spec()
    if (openapi_dir() / CONNECT_FILE).exists():
        documents["thinq-connect"] = connect_spec()
    for name, document in documents.items():
        for suffix, content in (("", document), (".openapi30", for_connexion(document))):
            path = out_dir / f"{name}{suffix}.yaml"
            path.write_text(
                yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8"
            )
            written.append(path)
    return written
