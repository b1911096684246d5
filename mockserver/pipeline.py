"""The request pipeline, built once at start: route -> operation -> bound handler -> checks.

For every operation of the three specs (``mounts.MOUNTS``), ``Pipeline`` decides at
start what connexion would otherwise work out again on every request: the handler
function and which arguments it takes, each parameter's compiled validator, the body's
compiled validator and the media types it accepts. connexion reads the specs for it
(``Specification`` resolves the ``$ref``s, ``OpenAPIOperation`` gives the parameters,
body definition and media types, ``OpenAPIURIParser`` coerces query values, and its
``Resolver`` finds the handler); ``benchmarks/README.md`` lists what is relied on.

Per request, ``serve`` runs only the compiled checks, calls the handler and writes its
answer; an ``ApiError`` anywhere becomes ``error_answers.respond``'s answer. What no
operation matches (Swagger UI, unknown routes) is left to connexion's app.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from connexion.decorators.parameter import pythonic
from connexion.operations import OpenAPIOperation
from connexion.resolver import Resolver
from connexion.spec import Specification
from connexion.uri_parsing import OpenAPIURIParser
from connexion.utils import split_content_type
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lgspecs import mounts
from mockserver import json_codec, operations
from mockserver.answers import JSON, send_answer, send_error
from mockserver.errors import ApiError, Err
from mockserver.operations import Operation
from mockserver.request_context import RequestRecord
from mockserver.validation import JSONBodyCheck, ParameterChecks

log = logging.getLogger("lgmock")

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class BoundOperation:
    """One operation with everything a request needs decided: no per-call lookups."""

    operation: Operation
    handler: Handler
    parameters: ParameterChecks
    consumes: tuple[str, ...]  # media types of the request body, lower-cased
    json_body: JSONBodyCheck | None
    body_required: bool
    takes_body: bool
    path_args: tuple[tuple[str, str], ...]  # (spec name, handler argument)
    query_args: tuple[tuple[str, str, Any], ...]  # (spec name, handler argument, default)
    uri_parser: OpenAPIURIParser | None  # only for operations with query parameters

    @property
    def is_stub(self) -> bool:
        return getattr(self.handler, "lgmock_stub", False)


class Pipeline:
    def __init__(self, resolvers: dict[mounts.Api, Resolver]) -> None:
        self._bound: dict[tuple[str, str], BoundOperation] = {}
        for mount in mounts.MOUNTS:
            spec = Specification.from_dict(mount.connexion_document())
            for operation in operations.table():
                if operation.api is mount.api:
                    self._bound[(operation.method, operation.template)] = _bind(
                        spec, mount, operation, resolvers[mount.api]
                    )

    def bound(self) -> list[BoundOperation]:
        return list(self._bound.values())

    def find(self, operation: Operation) -> BoundOperation:
        return self._bound[(operation.method, operation.template)]

    async def serve(
        self,
        bound: BoundOperation,
        record: RequestRecord,
        body: bytes,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Check the request, call the handler, send its answer (or the refusal)."""
        try:
            kwargs = _arguments(bound, record, body)
            reply = await bound.handler(**kwargs)
        except ApiError as error:
            await send_error(send, record.api, error)
            return
        except Exception as exc:  # a 500 from the sandbox is always a bug: say so loudly
            log.error("unhandled error serving %s %s", record.method, record.path, exc_info=exc)
            bug = ApiError(Err.INTERNAL, f"lgmock bug: {type(exc).__name__}: {exc}")
            await send_error(send, record.api, bug)
            return
        if isinstance(reply, Response):  # a stream (GET /_sandbox/state): it sends itself
            await reply(scope, receive, send)
        else:
            await _send_reply(send, reply)


def _bind(
    spec: Specification, mount: mounts.Mount, operation: Operation, resolver: Resolver
) -> BoundOperation:
    spec_path = operation.template[len(mount.prefix) :] or "/"
    connexion_op = OpenAPIOperation.from_spec(
        spec, path=spec_path, method=operation.method.lower(), resolver=resolver
    )
    handler = connexion_op.function
    accepted = set(inspect.signature(handler).parameters)
    parameters = connexion_op.parameters
    request_body = connexion_op.request_body
    consumes = tuple(c.lower() for c in request_body.get("content", {}))
    json_type = next((c for c in consumes if c.endswith("json")), None)
    json_body = None
    if json_type is not None:
        definition = connexion_op.body_definition(json_type)
        json_body = JSONBodyCheck(
            definition.get("schema", {}),
            required=bool(request_body.get("required")),
            nullable=bool(definition.get("schema", {}).get("nullable")),
        )
    path_args = tuple((p["name"], pythonic(p["name"])) for p in parameters if p["in"] == "path")
    query_args = tuple(
        (p["name"], pythonic(p["name"]), p.get("schema", {}).get("default"))
        for p in parameters
        if p["in"] == "query"
    )
    return BoundOperation(
        operation=operation,
        handler=handler,
        parameters=ParameterChecks(parameters),
        consumes=consumes,
        json_body=json_body,
        body_required=bool(request_body.get("required")),
        takes_body="body" in accepted,
        path_args=tuple(arg for arg in path_args if arg[1] in accepted),
        query_args=tuple(arg for arg in query_args if arg[1] in accepted),
        uri_parser=OpenAPIURIParser(parameters, {}) if query_args else None,
    )


def _arguments(bound: BoundOperation, record: RequestRecord, body: bytes) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if bound.uri_parser is not None and record.query:
        query = bound.uri_parser.resolve_query(parse_qs(record.query, keep_blank_values=True))
    bound.parameters.check(
        {"path": record.path_params, "query": query, "header": record.headers, "cookie": {}}
    )
    kwargs: dict[str, Any] = {arg: record.path_params[name] for name, arg in bound.path_args}
    for name, arg, default in bound.query_args:
        value = query.get(name, default)
        if value is not None:
            kwargs[arg] = value
    if bound.consumes:
        value = _body(bound, record, body)
        if bound.takes_body:
            kwargs["body"] = value
    return kwargs


def _body(bound: BoundOperation, record: RequestRecord, body: bytes) -> Any:
    """The body as the handler takes it: JSON parsed and checked, other media types raw."""
    mime_type, encoding = split_content_type(record.header("content-type"))
    # Without a Content-Type the body is taken to be of the first declared media type.
    mime_type = (mime_type or bound.consumes[0]).lower()
    if mime_type not in bound.consumes:
        raise ApiError(
            Err.INVALID_HEADER,
            f"Content-Type must be {' or '.join(bound.consumes)}, not {mime_type}",
            field="Content-Type",
        )
    if bound.json_body is not None and mime_type.endswith("json"):
        return bound.json_body.check(bound.json_body.parse(body, encoding or "utf-8"))
    if not body and bound.body_required:
        raise ApiError(Err.MISSING_BODY_FIELD, "a request body is required", field="body")
    return body


async def _send_reply(send: Send, reply: Any) -> None:
    """A handler's ``(body, status, headers)``: JSON, none (204), or bytes (a file)."""
    payload, status, headers = reply
    if payload is None:  # 204: no body, so no media type either
        await send_answer(send, status, b"", None, headers)
    elif isinstance(payload, bytes):
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/octet-stream")
        await send_answer(send, status, payload, content_type, headers)
    else:
        # A closing newline, as connexion wrote it: a shell prompt after `curl` stays on
        # its own line (and so does the next command's output).
        await send_answer(send, status, json_codec.dumps(payload) + b"\n", JSON, headers)
